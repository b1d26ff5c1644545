#!/usr/bin/env bash
# The demo's main job: generate a month of Discord-like raw data, let the ingestion
# pipeline mark it complete, build every derived table with `derived run --once`, and
# show what happened. Usage: run_demo.sh BUILD_DIR [SCALE]
set -euo pipefail
build="${1:?usage: run_demo.sh BUILD_DIR [SCALE]}"
scale="${2:-1}"
derived="$build/derived"
generate="$build/examples/discord/generator/discord_data"
project="$(cd "$(dirname "$0")" && pwd)"
# A fixed clock makes the demo reproducible: early on the 1st of February.
export DERIVED_NOW=2024-02-01T06:00:00Z
run() { echo "\$ derived $*"; "$derived" "$@" --project "$project"; echo; }

echo "== generating raw data (scale $scale) into $project/warehouse.duckdb"
rm -f "$project/warehouse.duckdb" "$project/warehouse.duckdb.wal"
"$generate" --warehouse "$project/warehouse.duckdb" --scale "$scale" --days 31
echo

run validate
# The ingestion pipeline says which raw tables are complete, and through when.
for source in raw.users raw.messages raw.voice_sessions raw.server_joins; do
  run source mark "$source" --through 2024-02-01
done
run run --once
echo "== a second run has nothing to do"
run run --once
run status
run log --limit 5
run query "SELECT table_name, count(*) AS mutations, sum(rows_inserted) AS rows_inserted,
  round(sum(epoch(finished_at - started_at)), 3) AS seconds FROM _derived.log GROUP BY 1 ORDER BY 1"
run query "SELECT signup_week, weeks_since_signup, sum(active_users) AS active, sum(cohort_users) AS cohort, round(sum(active_users) / sum(cohort_users), 3) AS retention FROM analytics.weekly_retention GROUP BY ALL ORDER BY ALL LIMIT 10"
