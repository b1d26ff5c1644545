// The libpq wrapper against a real server (tests/postgres_testing.h).
#include "warehouse/postgres/pq.h"

#include <thread>

#include <gtest/gtest.h>

#include "postgres_testing.h"

namespace derived::pg {
namespace {

using derived::testing::PostgresDatabase;

TEST(PostgresConnection, ReadsResultsAsTextWithTheServersTypeNames) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  auto conn = Connection::Open(db.dsn());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  ASSERT_TRUE((*conn)->Execute("CREATE TABLE t (id BIGINT, name VARCHAR(10), at TIMESTAMP)").ok());
  int64_t changed = -1;
  auto ins = (*conn)->Query("INSERT INTO t VALUES (1, 'a', '2024-01-03 04:05:06'), (2, NULL, NULL)", {}, &changed);
  ASSERT_TRUE(ins.ok()) << ins.error().message;
  EXPECT_EQ(changed, 2);
  auto rows = (*conn)->Query("SELECT id, name, at FROM t WHERE id >= $1 ORDER BY id", {std::string("1")});
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ(rows->columns, (std::vector<std::string>{"id", "name", "at"}));
  EXPECT_EQ(rows->types, (std::vector<std::string>{"bigint", "character varying(10)", "timestamp without time zone"}));
  EXPECT_EQ(rows->at(0, 2).value_or("?"), "2024-01-03 04:05:06");
  EXPECT_FALSE(rows->at(1, 1).has_value());
  // What psql, an independent client, sees.
  EXPECT_EQ(db.Psql("SELECT count(*), max(name) FROM t"), "2|a");
}

// Database and role defaults that would change what Derived's SQL means are overridden
// for every session: a backslash in a literal stays a backslash, times stay UTC, and a
// step's statements each see what others committed before them.
TEST(PostgresConnection, EverySessionIsPinnedWhateverTheDatabaseDefaultsSay) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  for (const char* setting : {"standard_conforming_strings = off", "TimeZone = 'America/New_York'",
                              "default_transaction_isolation = 'serializable'", "DateStyle = 'SQL, DMY'",
                              "statement_timeout = '1ms'", "default_transaction_read_only = on"}) {
    ASSERT_EQ(db.Psql("ALTER DATABASE " + db.name() + " SET " + setting), "") << setting;
  }
  // psql, which the defaults do reach, sees the database as configured.
  EXPECT_EQ(db.Psql("SHOW standard_conforming_strings"), "off");
  auto conn = Connection::Open(db.dsn());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  auto rows = (*conn)->Query(
      "SELECT current_setting('standard_conforming_strings'), current_setting('TimeZone'), "
      "current_setting('transaction_isolation'), current_setting('transaction_read_only'), "
      "current_setting('statement_timeout'), 'a\\b', TIMESTAMPTZ '2024-01-03 04:05:06+00'::text");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(rows->at(0, 0).value_or("?"), "on");
  EXPECT_EQ(rows->at(0, 1).value_or("?"), "UTC");
  EXPECT_EQ(rows->at(0, 2).value_or("?"), "read committed");
  EXPECT_EQ(rows->at(0, 3).value_or("?"), "off");
  EXPECT_EQ(rows->at(0, 4).value_or("?"), "0");
  EXPECT_EQ(rows->at(0, 5).value_or("?"), "a\\b");  // two characters' worth of backslash: as written
  EXPECT_EQ(rows->at(0, 6).value_or("?"), "2024-01-03 04:05:06+00");
}

// transaction_timeout (PostgreSQL 17) would end a long rebuild's one transaction: it is
// pinned to 0 on a server that has it, and never sent to one that does not (where a SET
// of an unknown name would fail every connection).
TEST(PostgresConnection, TransactionTimeoutIsPinnedOnlyWhereTheServerHasIt) {
  EXPECT_EQ(SessionSettings(160004).find("transaction_timeout"), std::string::npos);
  EXPECT_NE(SessionSettings(170000).find("SET transaction_timeout = 0"), std::string::npos);
  EXPECT_NE(SessionSettings(180001).find("SET transaction_timeout = 0"), std::string::npos);

  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  const int version = std::stoi(db.Psql("SHOW server_version_num"));
  const bool has_it = db.Psql("SELECT count(*) FROM pg_settings WHERE name = 'transaction_timeout'") == "1";
  EXPECT_EQ(has_it, version >= 170000);
  if (has_it) {
    ASSERT_EQ(db.Psql("ALTER DATABASE " + db.name() + " SET transaction_timeout = '1ms'"), "");
  }
  auto conn = Connection::Open(db.dsn());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  // Every setting of the session, checked on this server: none unknown, each in force.
  ASSERT_TRUE((*conn)->Execute(SessionSettings(version)).ok());
  if (has_it) {
    auto rows = (*conn)->Query("SELECT current_setting('transaction_timeout'), pg_sleep(0.05)::text");
    ASSERT_TRUE(rows.ok()) << rows.error().message;
    EXPECT_EQ(rows->at(0, 0).value_or("?"), "0");
  }
}

TEST(PostgresConnection, DescribesAStatementWithoutRunningIt) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  auto conn = Connection::Open(db.dsn());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  ASSERT_TRUE((*conn)->Execute("CREATE TABLE t (id INTEGER)").ok());
  auto cols = (*conn)->Describe("INSERT INTO t VALUES (1) RETURNING id, id * 2.5 AS x");
  ASSERT_TRUE(cols.ok()) << cols.error().message;
  ASSERT_EQ(cols->size(), 2u);
  EXPECT_EQ((*cols)[0].name, "id");
  EXPECT_EQ((*cols)[0].type, "integer");
  EXPECT_EQ((*cols)[1].type, "numeric");
  EXPECT_EQ(db.Psql("SELECT count(*) FROM t"), "0");  // described, never run
}

TEST(PostgresConnection, ErrorsSayWhatAndWhereWithoutTheConnectionString) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  auto conn = Connection::Open(db.dsn());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  auto bad = (*conn)->Query("SELECT 1\nFROM missing_table");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("relation \"missing_table\" does not exist"), std::string::npos)
      << bad.error().message;
  EXPECT_NE(bad.error().message.find("LINE 2"), std::string::npos) << bad.error().message;

  auto refused = Connection::Open(db.dsn() + " password=hunter2-secret user=nobody_here");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("cannot connect to PostgreSQL"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("hunter2-secret"), std::string::npos) << refused.error().message;
}

TEST(PostgresConnection, CancelStopsTheRunningStatementFromAnotherThread) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  auto conn = Connection::Open(db.dsn());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  std::atomic<bool> done{false};
  Status slept = Status::Ok();
  std::thread t([&] {
    slept = (*conn)->Execute("SELECT pg_sleep(60)");
    done = true;
  });
  // Cancel until the statement is gone: a cancel sent before it started is a no-op.
  auto started = std::chrono::steady_clock::now();
  while (!done && std::chrono::steady_clock::now() - started < std::chrono::seconds(30)) {
    (*conn)->Cancel();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  t.join();
  ASSERT_FALSE(slept.ok());
  EXPECT_NE(slept.error().message.find("canceling statement due to user request"), std::string::npos)
      << slept.error().message;
  EXPECT_TRUE((*conn)->Execute("SELECT 1").ok());  // the connection stays usable
}

TEST(PostgresConnection, ALostConnectionIsReportedAsLost) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  auto conn = Connection::Open(db.dsn());
  ASSERT_TRUE(conn.ok()) << conn.error().message;
  EXPECT_FALSE((*conn)->Lost());
  EXPECT_EQ(db.Psql("SELECT pg_terminate_backend(" + std::to_string((*conn)->BackendPid()) + ")"), "t");
  EXPECT_FALSE((*conn)->Execute("SELECT 1").ok());
  EXPECT_TRUE((*conn)->Lost());
}

}  // namespace
}  // namespace derived::pg
