// Weak spots of the PostgreSQL engine found in review, each pinned against a real
// server (tests/postgres_testing.h): what users attach to a relation survives a
// swap-in, an untrusted metadata schema is refused, duplicate state rows and a missing
// CREATE privilege are named, and a merge batch is combined with one sort.
#include <random>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "postgres_testing.h"
#include "testing.h"
#include "util/strings.h"
#include "warehouse/metadata_tables.h"
#include "warehouse/postgres/warehouse.h"

namespace derived {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::PostgresDatabase;
using testing::RunDerived;
using testing::TempDir;

// A role of the cluster for one test (roles are shared by every database), named after
// the test's database and dropped with what it owns there.
class TestRole {
 public:
  TestRole(const PostgresDatabase& db, const std::string& prefix, const std::string& options = "")
      : db_(db), name_(prefix + "_" + db.name()) {
    created_ = db_.Psql("CREATE ROLE " + name_ + " " + options);
  }
  ~TestRole() { (void)db_.Psql("DROP OWNED BY " + name_ + " CASCADE; DROP ROLE " + name_); }
  const std::string& name() const { return name_; }
  const std::string& created() const { return created_; }  // psql's output: "" when made

 private:
  const PostgresDatabase& db_;
  std::string name_, created_;
};

class PostgresHardening : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    port_env_ = "HARD_PG_PORT=" + std::to_string(testing::PostgresPort());
    ASSERT_EQ(db_.Psql("CREATE SCHEMA raw; CREATE TABLE raw.orders (order_id BIGINT, amount DOUBLE PRECISION, "
                       "country VARCHAR, ts TIMESTAMP); INSERT INTO raw.orders SELECT i, i * 1.5, CASE WHEN i % 2 = 0 "
                       "THEN 'fr' ELSE 'de' END, TIMESTAMP '2024-01-01' + i * INTERVAL '37 minutes' FROM "
                       "generate_series(1, 200) i"),
              "");
    WriteProject("user=postgres");
    dir_.Write("sources/raw/orders.yaml", R"(freshness: marker
time_column: ts
columns:
  - {name: order_id, type: BIGINT}
  - {name: amount, type: double precision}
  - {name: country, type: VARCHAR}
  - {name: ts, type: TIMESTAMP}
)");
    dir_.Write("tables/core/daily.yaml", R"(schedule: daily
strategy: append
time_column: day
sql: |
  SELECT date_trunc('day', ts) AS day, country, count(*) AS orders, sum(amount) AS revenue
  FROM raw.orders WHERE ts >= {{ window_start }} AND ts < {{ window_end }} GROUP BY 1, 2
)");
    dir_.Write("tables/mart/totals.yaml", R"(schedule: daily
strategy: replace
sql: SELECT country, sum(revenue) AS revenue, sum(orders) AS orders FROM core.daily GROUP BY 1
)");
  }

  // derived.yaml with `login` (user=..., and a password=${NAME} if any) in its dsn.
  void WriteProject(const std::string& login) {
    dir_.Write("derived.yaml", "name: hard\nwarehouse: {engine: postgres, dsn: \"host=127.0.0.1 port=${HARD_PG_PORT} "
                               "dbname=" + db_.name() + " " + login + "\"}\ndefaults:\n  start: 2024-01-01\n");
  }

  testing::CommandResult Derived(std::vector<std::string> args, const std::string& now = "",
                                 std::vector<std::string> env = {}) {
    args.insert(args.end(), {"--project", dir_.str()});
    env.push_back(port_env_);
    if (!now.empty()) env.push_back("DERIVED_NOW=" + now);
    return RunDerived(args, env);
  }

  // Marks raw.orders through `day` and runs once as of then.
  testing::CommandResult RunThrough(const std::string& day, std::vector<std::string> env = {}) {
    auto marked = Derived({"source", "mark", "raw.orders", "--through", day}, "", env);
    if (marked.exit_code != 0) return marked;
    return Derived({"run", "--once"}, day + "T00:00:00Z", env);
  }

  std::string Difference(const std::string& a, const std::string& b) const {
    return db_.Psql("SELECT count(*) FROM ((" + a + " EXCEPT ALL " + b + ") UNION ALL (" + b + " EXCEPT ALL " + a +
                    ")) d");
  }

  PostgresDatabase db_;
  TempDir dir_;
  std::string port_env_;
};

// A swap-in drops the old table and every view reading it: what users gave them (grants
// on the table, on its columns, on the views and their columns, owners, a view's
// trigger and rule, a materialized view's index) is on the new objects after it, and a
// project's own view made again with fewer columns keeps its grants and owner too.
TEST_F(PostgresHardening, ASwapInKeepsGrantsColumnGrantsOwnersAndWhatViewsHad) {
  dir_.Write("tables/mart/by_country.yaml", "strategy: view\nsql: SELECT country, revenue, orders FROM mart.totals\n");
  auto r = RunThrough("2024-01-03");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  TestRole reader(db_, "reader"), cols(db_, "cols"), owner(db_, "owner");
  ASSERT_EQ(reader.created() + cols.created() + owner.created(), "");
  const std::string R = reader.name(), C = cols.name(), O = owner.name();
  ASSERT_EQ(db_.Psql("GRANT USAGE ON SCHEMA mart TO " + O + "; "
                     "GRANT SELECT (country), UPDATE (orders) ON mart.totals TO " + C + "; "
                     "GRANT INSERT ON mart.totals TO " + R + " WITH GRANT OPTION; "
                     "ALTER TABLE mart.totals OWNER TO " + O + "; "
                     "GRANT SELECT ON mart.by_country TO " + R + "; "
                     "GRANT SELECT (revenue, orders) ON mart.by_country TO " + C + "; "
                     "ALTER VIEW mart.by_country OWNER TO " + O + "; "
                     "CREATE SCHEMA team; "
                     "CREATE VIEW team.fr AS SELECT country, revenue FROM mart.totals WHERE country = 'fr'; "
                     "GRANT SELECT (revenue) ON team.fr TO " + C + "; "
                     "CREATE FUNCTION team.no_insert() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$BEGIN RETURN NULL; END$$; "
                     "CREATE TRIGGER fr_insert INSTEAD OF INSERT ON team.fr FOR EACH ROW EXECUTE FUNCTION "
                     "team.no_insert(); "
                     "CREATE RULE fr_delete AS ON DELETE TO team.fr DO INSTEAD NOTHING; "
                     "CREATE MATERIALIZED VIEW team.de AS SELECT revenue FROM mart.totals WHERE country = 'de'; "
                     "CREATE INDEX de_revenue ON team.de (revenue)"),
            "");
  auto privileges = [&] {
    return db_.Psql(fmt::format(
        "SELECT has_column_privilege('{0}', 'mart.totals', 'country', 'SELECT'), "
        "has_column_privilege('{0}', 'mart.totals', 'orders', 'UPDATE'), "
        "has_column_privilege('{0}', 'mart.totals', 'revenue', 'SELECT'), "
        "has_table_privilege('{1}', 'mart.totals', 'INSERT WITH GRANT OPTION'), "
        "(SELECT tableowner FROM pg_tables WHERE schemaname = 'mart' AND tablename = 'totals') = '{2}', "
        "has_table_privilege('{1}', 'mart.by_country', 'SELECT'), "
        "has_column_privilege('{0}', 'mart.by_country', 'revenue', 'SELECT'), "
        "has_table_privilege('{0}', 'mart.by_country', 'SELECT'), "
        "(SELECT viewowner FROM pg_views WHERE schemaname = 'mart' AND viewname = 'by_country') = '{2}', "
        "has_column_privilege('{0}', 'team.fr', 'revenue', 'SELECT'), "
        "has_column_privilege('{0}', 'team.fr', 'country', 'SELECT')",
        C, R, O));
  };
  const std::string granted = "t|t|f|t|t|t|t|f|t|t|f";
  ASSERT_EQ(privileges(), granted);

  // New data: mart.totals is replaced (swapped in under its views).
  r = RunThrough("2024-01-04");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Difference("SELECT country, revenue FROM team.fr",
                       "SELECT country, sum(amount) FROM raw.orders WHERE ts < '2024-01-04' AND country = 'fr' "
                       "GROUP BY 1"),
            "0");
  EXPECT_EQ(privileges(), granted);
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'team.fr'::regclass AND tgname = 'fr_insert'"),
            "1");
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM pg_rules WHERE schemaname = 'team' AND rulename = 'fr_delete'"), "1");
  EXPECT_EQ(db_.Psql("SELECT indexdef FROM pg_indexes WHERE schemaname = 'team' AND tablename = 'de'"),
            "CREATE INDEX de_revenue ON team.de USING btree (revenue)");
  EXPECT_EQ(Difference("SELECT revenue FROM team.de",
                       "SELECT sum(amount) FROM raw.orders WHERE ts < '2024-01-04' AND country = 'de'"),
            "0");

  // The project's view loses a column: made again (dropped and created), it keeps the
  // grants on what it still has, and its owner.
  dir_.Write("tables/mart/by_country.yaml", "strategy: view\nsql: SELECT country, revenue FROM mart.totals\n");
  r = Derived({"run", "--once"}, "2024-01-04T00:00:00Z");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'mart' AND table_name = "
                     "'by_country'"),
            "2");
  EXPECT_EQ(db_.Psql(fmt::format("SELECT has_table_privilege('{}', 'mart.by_country', 'SELECT'), "
                                 "has_column_privilege('{}', 'mart.by_country', 'revenue', 'SELECT'), "
                                 "(SELECT viewowner FROM pg_views WHERE schemaname = 'mart' AND viewname = "
                                 "'by_country') = '{}'",
                                 R, C, O)),
            "t|t|t");
  (void)db_.Psql("DROP SCHEMA team CASCADE");
}

// A trigger on a table Derived replaces is never dropped silently: the swap is refused,
// naming it, and the old version stays with its trigger.
TEST_F(PostgresHardening, ATriggerOnADerivedTableStopsTheSwapNamingIt) {
  auto r = RunThrough("2024-01-03");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_EQ(db_.Psql("CREATE FUNCTION public.audit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$; "
                     "CREATE TRIGGER totals_audit AFTER INSERT ON mart.totals FOR EACH ROW EXECUTE FUNCTION "
                     "public.audit()"),
            "");
  const std::string before = db_.Psql("SELECT sum(orders) FROM mart.totals");
  r = RunThrough("2024-01-04");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr("\"mart\".\"totals\" has the trigger totals_audit, which a swap would drop"));
  EXPECT_EQ(db_.Psql("SELECT sum(orders) FROM mart.totals"), before);
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM pg_trigger WHERE tgname = 'totals_audit'"), "1");
  // Without it, the swap goes on.
  ASSERT_EQ(db_.Psql("DROP TRIGGER totals_audit ON mart.totals"), "");
  r = Derived({"run", "--once"}, "2024-01-04T00:00:00Z");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(db_.Psql("SELECT sum(orders) FROM mart.totals"), db_.Psql("SELECT count(*) FROM raw.orders WHERE ts < "
                                                                      "'2024-01-04'"));
}

// A `_derived` schema someone else owns could hold tables, triggers or functions of
// theirs (here the guard function, exactly as Derived makes it): refused before anything
// is written into it, also for a superuser. A schema owned by a role Derived's role is a
// member of is trusted; one where others may create objects is not.
TEST_F(PostgresHardening, AMetadataSchemaOwnedByAnotherRoleIsRefused) {
  TestRole planter(db_, "planter");
  ASSERT_EQ(planter.created(), "");
  const std::string P = planter.name();
  ASSERT_EQ(db_.Psql("CREATE SCHEMA _derived AUTHORIZATION " + P + "; SET ROLE " + P +
                     "; CREATE FUNCTION _derived.raise_error(message text) RETURNS boolean LANGUAGE plpgsql "
                     "VOLATILE SET search_path = pg_catalog AS $fn$ BEGIN RAISE EXCEPTION '%', message; END $fn$; "
                     "RESET ROLE"),
            "");
  auto r = RunThrough("2024-01-02");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("the metadata schema _derived is owned by the role " + P +
                               ", which is not postgres nor a role postgres is a member of"));
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM pg_tables WHERE schemaname IN ('_derived', 'core', 'mart')"), "0");

  // Derived's role a member of the owner: its schema.
  ASSERT_EQ(db_.Psql("GRANT " + P + " TO postgres"), "");
  r = RunThrough("2024-01-02");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM _derived.log WHERE status = 'success'"), "2");

  // Anyone may create objects in it: not trusted either.
  ASSERT_EQ(db_.Psql("GRANT CREATE ON SCHEMA _derived TO PUBLIC"), "");
  r = RunThrough("2024-01-03");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("other roles may create objects in the metadata schema _derived (CREATE is granted "
                               "to PUBLIC)"));
  (void)db_.Psql("DROP SCHEMA _derived CASCADE");
}

// A metadata schema from an older version (or written by hand) with two state rows for
// one table cannot get its unique index: the error names the table and the count, and
// every row stays.
TEST_F(PostgresHardening, DuplicateStateRowsAreNamedAndNeverDeleted) {
  ASSERT_EQ(db_.Psql(std::string(MetadataTablesSql()) +
                     "INSERT INTO _derived.state (table_name, version) VALUES ('core.daily', 1), ('core.daily', 2), "
                     "('mart.totals', 1)"),
            "");
  auto r = RunThrough("2024-01-02");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("_derived.state holds more than one row for the table_name 'core.daily' (2 rows), so "
                               "its unique index (one state row per table) cannot be made"));
  EXPECT_THAT(r.err, Not(HasSubstr("mart.totals")));
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM _derived.state"), "3");
  EXPECT_EQ(db_.Psql("SELECT to_regclass('_derived.state_by_table') IS NULL"), "t");
  // Once one row per table is left, the index is made and the run goes on.
  ASSERT_EQ(db_.Psql("DELETE FROM _derived.state"), "");
  r = RunThrough("2024-01-02");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(db_.Psql("SELECT to_regclass('_derived.state_by_table') IS NOT NULL"), "t");
}

// A role without CREATE on the database cannot make a dataset's schema: the error says
// which dataset, which database, which role and which privilege. Schemas made for it by
// someone else need no such privilege.
TEST_F(PostgresHardening, ADatasetSchemaWithoutCreateOnTheDatabaseSaysSo) {
  std::random_device rd;
  const std::string password = fmt::format("pw{:08x}{:08x}", rd(), rd());
  TestRole maker(db_, "maker", "LOGIN PASSWORD '" + password + "'");
  ASSERT_EQ(maker.created(), "");
  const std::string M = maker.name();
  ASSERT_EQ(db_.Psql("GRANT USAGE ON SCHEMA raw TO " + M + "; GRANT SELECT ON raw.orders TO " + M +
                     "; CREATE SCHEMA _derived AUTHORIZATION " + M),
            "");
  WriteProject("user=" + M + " password=${HARD_PG_PASSWORD}");
  const std::vector<std::string> env = {"HARD_PG_PASSWORD=" + password};
  auto r = RunThrough("2024-01-02", env);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr(fmt::format("cannot create the schema \"core\" for the dataset core: the role "
                                                   "\"{}\" lacks the CREATE privilege on the database \"{}\"",
                                                   M, db_.name())));
  EXPECT_EQ(db_.Psql("SELECT count(*) FROM pg_namespace WHERE nspname IN ('core', 'mart')"), "0");

  ASSERT_EQ(db_.Psql("CREATE SCHEMA core AUTHORIZATION " + M + "; CREATE SCHEMA mart AUTHORIZATION " + M), "");
  r = RunThrough("2024-01-02", env);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(db_.Psql("SELECT sum(orders) FROM mart.totals"),
            db_.Psql("SELECT count(*) FROM raw.orders WHERE ts < '2024-01-02'"));
}

// A merge batch is combined per key by one sort of its rows (not one per column), with
// the documented answer: for ties on the time column the greatest value (latest) or the
// least (earliest, coalesce), NULL times last, as plain ordered aggregates give it.
TEST(PostgresCombineByKey, OneSortGivesWhatOrderedAggregatesGiveWithTiesAndNulls) {
  PostgresDatabase db;
  ASSERT_TRUE(db.ok());
  // Three times a key (many ties), NULL times (key 2 has only those), NULL values.
  ASSERT_EQ(db.Psql(
                "CREATE TABLE batch AS SELECT i % 6 AS k, CASE WHEN i % 6 = 2 OR i % 7 = 0 THEN NULL ELSE "
                "TIMESTAMP '2024-01-01' + (i % 3) * INTERVAL '1 hour' END AS ts, "
                "CASE WHEN i % 5 = 0 THEN NULL ELSE (i * 7) % 11 END AS a, "
                "CAST(CASE WHEN i % 4 = 0 THEN NULL ELSE 'v' || (i * 3) % 7 END AS VARCHAR(5)) AS s, "
                "CAST(CASE WHEN i % 6 IN (3, 4) OR i % 2 = 0 THEN NULL ELSE i / 4.0 END AS NUMERIC(6, 2)) AS n, "
                "ARRAY[(i * 5) % 4, i % 2] AS tags, (i * 3) % 5 > 2 AS b, i AS c FROM generate_series(1, 90) i; "
                // Key 4's only values have no time; key 3 has none at all.
                "UPDATE batch SET n = k + 0.5, ts = NULL WHERE k = 4 AND c % 5 = 0"),
            "");
  auto options = PostgresConnectOptions(db.dsn());
  ASSERT_TRUE(options.ok()) << options.error().message;
  auto wh = OpenPostgresWarehouse(*options);
  ASSERT_TRUE(wh.ok()) << wh.error().message;
  const SqlDialect& d = (*wh)->dialect();
  const std::vector<SqlDialect::BatchColumn> columns = {
      {"\"ts\"", "timestamp without time zone", MergeRule::kMax},
      {"\"a\"", "integer", MergeRule::kLatest},
      {"\"s\"", "character varying(5)", MergeRule::kEarliest},
      {"\"n\"", "numeric(6,2)", MergeRule::kCoalesce},
      {"\"tags\"", "integer[]", MergeRule::kLatest},
      {"\"b\"", "boolean", MergeRule::kEarliest},
      {"\"c\"", "integer", MergeRule::kCount}};
  const auto by_key = d.CombineByKey({"\"k\""}, columns, "\"ts\"");
  const std::string select =
      "SELECT " + by_key.select + " FROM (SELECT k, ts, a, s, n, tags, b, c FROM batch) AS src" + by_key.after;
  ASSERT_TRUE((*wh)->Execute("CREATE TABLE combined AS " + select).ok());

  const std::string expected =
      "SELECT k, max(ts), (array_agg(a ORDER BY ts DESC NULLS LAST, a DESC NULLS LAST))[1], "
      "(array_agg(s ORDER BY ts ASC NULLS LAST, s ASC NULLS LAST))[1], "
      "(array_agg(n ORDER BY ts ASC NULLS LAST, n ASC) FILTER (WHERE n IS NOT NULL))[1], "
      "(array_agg(tags::text ORDER BY ts DESC NULLS LAST, tags DESC NULLS LAST))[1], "
      "(array_agg(b ORDER BY ts ASC NULLS LAST, b ASC NULLS LAST))[1], count(c) FROM batch GROUP BY k";
  const std::string built = "SELECT k, ts, a, s, n, tags::text, b, c FROM combined";
  EXPECT_EQ(db.Psql("SELECT count(*) FROM combined"), "6");
  EXPECT_EQ(db.Psql("SELECT count(*) FROM ((" + built + " EXCEPT ALL " + expected + ") UNION ALL (" + expected +
                    " EXCEPT ALL " + built + ")) x"),
            "0")
      << db.Psql(built + " ORDER BY 1") << "\n--- expected:\n" << db.Psql(expected + " ORDER BY 1");
  // The columns keep their types, modifiers included.
  EXPECT_EQ(db.Psql("SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute "
                    "WHERE attrelid = 'combined'::regclass AND attnum > 0"),
            "integer, timestamp without time zone, integer, character varying(5), numeric(6,2), integer[], "
            "boolean, bigint");
  // One sort of the batch for all of it.
  auto plan = (*wh)->Query("EXPLAIN " + select);
  ASSERT_TRUE(plan.ok()) << plan.error().message;
  int sorts = 0;
  std::string text;
  for (const auto& row : plan->rows) {
    text += row[0].value_or("") + "\n";
    if (row[0].value_or("").find("Sort  ") != std::string::npos) ++sorts;
  }
  EXPECT_EQ(sorts, 1) << text;
}

}  // namespace
}  // namespace derived
