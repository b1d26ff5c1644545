// The type-check on a real server (tests/postgres_testing.h), beside builds in other
// sessions.
#include "warehouse/postgres/typecheck.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "postgres_testing.h"
#include "warehouse/postgres/pq.h"
#include "warehouse/postgres/warehouse.h"

namespace derived {
namespace {

using testing::PostgresDatabase;

// Found by the differential test of readiness (seed 3001, the service on PostgreSQL): a
// reload's type-check declared a table that did not exist yet (created empty in its
// transaction) while a worker's first build of it committed. The CREATE TABLE failed
// ("duplicate key value violates unique constraint pg_type_typname_nsp_index"), the
// check's transaction was aborted, every later bind failed, and the reload was rejected.
// The table is now bound as the build made it.
TEST(PostgresTypeCheck, ATableABuildCreatesMeanwhileIsBoundAsItIs) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  auto options = PostgresConnectOptions(db.dsn());
  ASSERT_TRUE(options.ok()) << options.error().message;
  auto build = pg::Connection::Open(*options);
  ASSERT_TRUE(build.ok()) << build.error().message;
  // The build: the table is created in its transaction, committed a little later.
  ASSERT_TRUE((*build)->Execute("CREATE SCHEMA agg; BEGIN; CREATE TABLE agg.t (k bigint, n bigint)").ok());
  auto tc = CreatePostgresTypeChecker(*options);
  ASSERT_TRUE(tc.ok()) << tc.error().message;
  std::thread commit([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE((*build)->Execute("COMMIT").ok());
  });
  // Not there yet for the check: its CREATE waits for the build's, which commits.
  Status declared = (*tc)->Declare("agg", "t", {{"k", "bigint"}, {"n", "bigint"}});
  commit.join();
  EXPECT_TRUE(declared.ok()) << declared.error().message;
  // The transaction is still usable, and the table is bound as it is.
  EXPECT_TRUE((*tc)->Declare("agg", "u", {{"k", "bigint"}}).ok());
  BindResult bound = (*tc)->Bind("SELECT t.k, t.n FROM agg.t t JOIN agg.u u ON u.k = t.k", "agg");
  ASSERT_TRUE(bound.ok) << bound.error;
  ASSERT_EQ(bound.columns.size(), 2u);
  EXPECT_EQ(bound.columns[1].name, "n");
  tc->reset();
  // Nothing of the check is left behind; the build's table is.
  EXPECT_EQ(db.Psql("SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE "
                    "table_schema = 'agg'"),
            "t");
}

}  // namespace
}  // namespace derived
