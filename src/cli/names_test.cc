#include "cli/names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing.h"

namespace derived::cli {
namespace {

using ::testing::HasSubstr;

NameCatalog Catalog() {
  NameCatalog c;
  c.tables = {"core.customers", "core.orders", "mart.orders", "mart.revenue"};
  c.sources = {"raw.events", "raw.customers_raw"};
  c.broken = {"core.broken"};
  c.built = {"core.customers", "old.retired"};
  c.logged = {"core.customers", "old.retired", "older.gone", "_project", "_query"};
  return c;
}

std::string Resolved(std::string_view input, NameScope scope) {
  auto r = ResolveName(input, scope, Catalog());
  return r.ok() ? *r : "error: " + r.error().message;
}

TEST(Names, QualifiedAndUniqueBareNamesInAnyCase) {
  EXPECT_EQ(Resolved("core.customers", NameScope::kTable), "core.customers");
  EXPECT_EQ(Resolved("customers", NameScope::kTable), "core.customers");
  EXPECT_EQ(Resolved("Core.CUSTOMERS", NameScope::kTable), "core.customers");
  EXPECT_EQ(Resolved(" revenue ", NameScope::kTable), "mart.revenue");
  EXPECT_EQ(Resolved("EVENTS", NameScope::kSource), "raw.events");
  // A table whose file failed to load still has its name: the command says what is wrong.
  EXPECT_EQ(Resolved("broken", NameScope::kTable), "core.broken");
}

TEST(Names, AnAmbiguousBareNameListsTheCandidates) {
  EXPECT_EQ(Resolved("orders", NameScope::kTable),
            "error: 'orders' is ambiguous: it names core.orders, mart.orders; write the dataset too");
  EXPECT_EQ(Resolved("mart.orders", NameScope::kTable), "mart.orders");
}

TEST(Names, AnUnknownNameGetsTheClosestOne) {
  EXPECT_EQ(Resolved("custmers", NameScope::kTable),
            "error: unknown table 'custmers' (did you mean 'core.customers'?)");
  EXPECT_EQ(Resolved("core.custmers", NameScope::kTable),
            "error: unknown table 'core.custmers' (did you mean 'core.customers'?)");
  EXPECT_EQ(Resolved("ordrs", NameScope::kTable),
            "error: unknown table 'ordrs' (did you mean 'core.orders' or 'mart.orders'?)");
  EXPECT_EQ(Resolved("zzz", NameScope::kTable), "error: unknown table 'zzz'");
  EXPECT_THAT(Resolved("", NameScope::kTable), HasSubstr("give a table name"));
}

TEST(Names, ASourceIsNotATableAndATableIsNotASource) {
  EXPECT_EQ(Resolved("events", NameScope::kTable),
            "error: unknown table 'events' ('raw.events' is a source, not a derived table)");
  EXPECT_EQ(Resolved("core.orders", NameScope::kSource),
            "error: unknown source 'core.orders' ('core.orders' is a derived table, not a source)");
}

TEST(Names, DropAndLogKnowWhatTheWarehouseKnows) {
  // Removed from the project, still in the warehouse.
  EXPECT_EQ(Resolved("retired", NameScope::kBuiltTable), "old.retired");
  EXPECT_EQ(Resolved("retired", NameScope::kTable), "error: unknown table 'retired'");
  // Only in the log: dropped long ago.
  EXPECT_EQ(Resolved("gone", NameScope::kLogged), "older.gone");
  EXPECT_EQ(Resolved("_project", NameScope::kLogged), "_project");
  EXPECT_EQ(Resolved("events", NameScope::kLogged), "raw.events");
  EXPECT_EQ(Resolved("gone", NameScope::kBuiltTable), "error: unknown table 'gone'");
}

}  // namespace
}  // namespace derived::cli

namespace derived::cli {
namespace {

TEST(Names, AQualifiedNameAtItsPlaceInTheLayoutResolvesWithoutLoadingTheProject) {
  testing::TempDir dir;
  dir.Write("tables/core/plain.yaml", "schedule: daily\nsql: SELECT 1 AS x\n");
  dir.Write("tables/core/renamed.yaml", "name: other\nsql: SELECT 1 AS x\n");
  dir.Write("sources/raw/events.yml", "freshness: marker\n");
  CommonOptions opts;
  opts.project = dir.str();
  EXPECT_EQ(ResolveByLayout(opts, "Core.Plain", NameScope::kTable), "core.plain");
  EXPECT_EQ(ResolveByLayout(opts, "raw.events", NameScope::kSource), "raw.events");
  // Everything else takes the long way, which knows the whole project.
  EXPECT_EQ(ResolveByLayout(opts, "core.renamed", NameScope::kTable), std::nullopt);
  EXPECT_EQ(ResolveByLayout(opts, "plain", NameScope::kTable), std::nullopt);
  EXPECT_EQ(ResolveByLayout(opts, "raw.events", NameScope::kTable), std::nullopt);
  EXPECT_EQ(ResolveByLayout(opts, "core.plain", NameScope::kBuiltTable), std::nullopt);
  EXPECT_EQ(ResolveByLayout(opts, "core.missing", NameScope::kTable), std::nullopt);
}

}  // namespace
}  // namespace derived::cli
