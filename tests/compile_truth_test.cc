// End-to-end: `derived validate` names the exact template file, line and column of every
// SQL error, through comments, whitespace control, macros and sql_files, and turns dbt's
// ref()/source() into the name to write. Every expected location is found by scanning the
// project's files for the offending token (compile_truth_testing.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compile_truth_testing.h"

namespace derived::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

CommandResult Validate(const TempDir& dir) { return RunDerived({"validate", "--project", dir.str()}); }

// Regression: a {#- ... #} comment over several lines stripped the newline before it, and
// every later error was reported lines too early (":17" for line 22).
TEST(CompileTruth, ErrorsAfterAWhitespaceControlledCommentKeepTheirLine) {
  TempDir dir;
  WriteBase(dir);
  dir.Write("tables/core/binder.yaml", R"(description: A binder error below a comment.
schedule: daily
sql: |
  SELECT order_id,
         user_id
  {#- The comment strips the newline before it,
      and spans
      several lines. -#}
  ,
         amount
  FROM raw.orders
  WHERE ts >= {{ window_start }}
    {#- one more #}
    AND amout > 0
)");
  dir.Write("tables/core/syntax.yaml", R"(schedule: daily
sql: |
  SELECT order_id
  {#- a comment
      over lines #}
  , user_id,, amount
  FROM raw.orders
)");
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err,
              HasSubstr(Where(dir, "tables/core/binder.yaml", "amout") +
                        ": error: type-check failed: Binder Error: Referenced column \"amout\" not found"));
  EXPECT_THAT(r.err, HasSubstr(Where(dir, "tables/core/syntax.yaml", ", amount") +
                               ": error: invalid SQL: syntax error"));
}

// Regression: an error on line 39 of a sql_file was reported at line 3.
TEST(CompileTruth, ErrorsInASqlFileAreAtTheirLineOfThatFile) {
  TempDir dir;
  WriteBase(dir);
  std::string sql = "SELECT order_id,\n  amount\n{#- a comment -#}\n";
  for (int i = 4; i <= 38; ++i) sql += "-- line " + std::to_string(i) + " mentions amount_usd\n";
  sql += "FROM raw.orders WHERE amount_usd > 0\n";
  dir.Write("tables/core/orders.sql", sql);
  dir.Write("tables/core/orders.yaml", "schedule: daily\nsql_file: orders.sql\n");
  dir.Write("tables/core/ref.sql", "SELECT *\n\n\n  FROM raw.ordrs\n");
  dir.Write("tables/core/ref.yaml", "schedule: daily\nsql_file: ref.sql\n");
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 1);
  std::string at = Where(dir, "tables/core/orders.sql", "amount_usd > 0");
  ASSERT_THAT(at, HasSubstr("orders.sql:39:"));
  EXPECT_THAT(r.err,
              HasSubstr(at + ": error: type-check failed: Binder Error: Referenced column \"amount_usd\""));
  EXPECT_THAT(r.err,
              HasSubstr(Where(dir, "tables/core/ref.sql", "raw.ordrs") +
                        ": error: unknown table 'raw.ordrs': it is neither a source nor a derived table "
                        "(did you mean 'raw.orders'?)"));
}

TEST(CompileTruth, SqlAMacroWritesIsReportedInTheMacroWithItsCall) {
  TempDir dir;
  WriteBase(dir);
  dir.Write("macros/filters.sql", R"({% macro positive(col) -%}
  {{ col }} > 0
  AND {{ col }} <<< 1
{%- endmacro %}
{% macro source_table() -%}
  raw.order_lines
{%- endmacro %}
)");
  dir.Write("tables/core/calls.yaml", R"(schedule: daily
sql: |
  SELECT order_id
  FROM raw.orders
  WHERE {{ positive('amount') }}
)");
  dir.Write("tables/core/reads.yaml", R"(schedule: daily
sql: |
  SELECT *
  FROM {{ source_table() }}
)");
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(Where(dir, "macros/filters.sql", "<<<") + ": error: "));
  EXPECT_THAT(r.err, HasSubstr("(in macro 'positive' called from " +
                               LineOf(dir, "tables/core/calls.yaml", "{{") + ")"));
  EXPECT_THAT(r.err, HasSubstr(Where(dir, "macros/filters.sql", "raw.order_lines") +
                               ": error: unknown table 'raw.order_lines'"));
  EXPECT_THAT(r.err, HasSubstr("(in macro 'source_table' called from " +
                               LineOf(dir, "tables/core/reads.yaml", "{{") + ")"));
}

TEST(CompileTruth, InitialBuildSqlAndLoopsMapToTheirLines) {
  TempDir dir;
  WriteBase(dir);
  dir.Write("tables/core/initial.yaml", R"(schedule: daily
strategy: append
time_column: ts
sql: |
  SELECT
  {%- for c in ['order_id', 'user_id'] %}
    {{ c }},
  {%- endfor %}
    ts
  FROM raw.orders
  {% if is_initial_build %}
  WHERE tss IS NOT NULL
  {% else %}
  WHERE ts >= {{ window_start }}
  {% endif %}
)");
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(Where(dir, "tables/core/initial.yaml", "tss") +
                               ": error: type-check failed: (in the initial-build SQL) Binder Error"));
}

// Inline SQL is indented by the YAML, and a folded scalar (>) does not keep its lines:
// columns are the file's or left out, and lines are never wrong.
TEST(CompileTruth, ColumnsOfInlineSqlAreTheFilesOrLeftOut) {
  TempDir dir;
  WriteBase(dir);
  dir.Write("tables/core/plain.yaml", "schedule: daily\nsql: SELECT order_id FROM raw.ordrs  # plain\n");
  dir.Write("tables/core/folded.yaml", "schedule: daily\nsql: >\n  SELECT order_id\n  FROM raw.ordrs\n");
  dir.Write("tables/core/quoted.yaml", "schedule: daily\nsql: \"SELECT order_id\\n  FROM raw.ordrs\"\n");
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(Where(dir, "tables/core/plain.yaml", "raw.ordrs") + ": error: unknown table"));
  // Neither keeps the file's lines: only the line the value starts on can be claimed.
  EXPECT_THAT(r.err, HasSubstr("tables/core/folded.yaml:3: error: unknown table 'raw.ordrs'"));
  EXPECT_THAT(r.err, HasSubstr("tables/core/quoted.yaml:2: error: unknown table 'raw.ordrs'"));
}

TEST(CompileTruth, RefAndSourceSayWhatToWriteInstead) {
  TempDir dir;
  WriteBase(dir);
  dir.Write("sources/staging/orders.yaml", "freshness: marker\n");
  dir.Write("tables/staging/stg_orders.yaml", "schedule: daily\nsql: SELECT * FROM raw.orders\n");
  dir.Write("tables/core/stg_orders.yaml", "schedule: daily\nsql: SELECT * FROM raw.orders\n");
  dir.Write("tables/mart/ref_other.yaml",
            "schedule: daily\nsql: |\n  SELECT 1 AS x\n  FROM {{ ref('buyers') }}\n");
  dir.Write("tables/core/ref_same.yaml",
            "schedule: daily\nsql: |\n  SELECT *\n  FROM {{ ref('stg_orders') }}\n");
  dir.Write("tables/mart/ref_ambiguous.yaml",
            "schedule: daily\nsql: SELECT * FROM {{ ref('stg_orders') }}\n");
  dir.Write("tables/mart/ref_typo.yaml", "schedule: daily\nsql: SELECT * FROM {{ ref('stg_ordrs') }}\n");
  dir.Write("tables/mart/ref_package.yaml",
            "schedule: daily\nsql: SELECT * FROM {{ ref('shop', 'buyers') }}\n");
  dir.Write("tables/core/buyers.yaml", "schedule: daily\nsql: SELECT user_id FROM raw.orders\n");
  dir.Write("tables/mart/source.yaml",
            "schedule: daily\nsql: |\n\n  SELECT * FROM {{ source('raw', 'orders') }}\n");
  dir.Write("tables/mart/source_typo.yaml",
            "schedule: daily\nsql: SELECT * FROM {{ source('raw', 'ordres') }}\n");
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 1);
  auto at = [&](const std::string& file) { return LineOf(dir, file, "{{") + ": error: "; };
  EXPECT_THAT(r.err, HasSubstr(at("tables/mart/ref_other.yaml") +
                               "Derived has no ref(): write the table name instead: core.buyers"));
  // The same dataset first, as an unqualified name in the SQL resolves.
  EXPECT_THAT(r.err, HasSubstr(at("tables/core/ref_same.yaml") +
                               "Derived has no ref(): write the table name instead: core.stg_orders"));
  EXPECT_THAT(r.err,
              HasSubstr(at("tables/mart/ref_ambiguous.yaml") +
                        "Derived has no ref(): write the table name instead, qualified by its dataset: one "
                        "of core.stg_orders, staging.stg_orders"));
  EXPECT_THAT(r.err,
              HasSubstr(at("tables/mart/ref_typo.yaml") +
                        "Derived has no ref(): write the table name "
                        "(dataset.table) instead; no table or source is named 'stg_ordrs' (did you mean"));
  EXPECT_THAT(r.err, HasSubstr(at("tables/mart/ref_package.yaml") +
                               "Derived has no ref(): write the table name instead: core.buyers"));
  EXPECT_THAT(r.err, HasSubstr(at("tables/mart/source.yaml") +
                               "Derived has no source(): write the source's name instead: raw.orders"));
  EXPECT_THAT(r.err,
              HasSubstr(at("tables/mart/source_typo.yaml") +
                        "Derived has no source(): write the source's name (dataset.table) instead; there is "
                        "no source 'raw.ordres' (did you mean 'raw.orders'?)"));
  EXPECT_THAT(r.err, Not(HasSubstr("undefined variable")));
}

TEST(CompileTruth, AProjectMacroNamedRefIsTheUsers) {
  TempDir dir;
  WriteBase(dir);
  dir.Write("macros/compat.sql", "{% macro ref(name) %}core.{{ name }}{% endmacro %}\n");
  dir.Write("tables/core/base.yaml", "schedule: daily\nsql: SELECT order_id FROM raw.orders\n");
  dir.Write("tables/core/top.yaml", "schedule: daily\nsql: SELECT order_id FROM {{ ref('base') }}\n");
  auto r = Validate(dir);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace derived::testing
