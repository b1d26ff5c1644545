// `derived init DIR`: a small project that validates and shows every file kind.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <utility>
#include <vector>

#include "cli/commands.h"

namespace derived::cli {
namespace {

const std::vector<std::pair<const char*, const char*>> kFiles = {
    {".gitignore", R"(# Derived's local state (compile cache) and the local warehouse.
.derived/
*.duckdb
*.duckdb.wal
)"},
    {"derived.yaml", R"(name: my_project
warehouse:
  engine: duckdb
  path: warehouse.duckdb
vars:
  excluded_event_types: [test, internal]
defaults:
  start: 2024-01-01
  owner: data-team
)"},
    {"sources/raw/events.yaml", R"(description: Product events, as the ingestion pipeline lands them.
time_column: event_ts
# The pipeline marks how far data is complete: derived source mark raw.events --through TS
freshness: marker
columns:
  - {name: event_id, type: BIGINT, description: Unique id of the event}
  - {name: user_id, type: BIGINT, description: Who did it, tags: [pii]}
  - {name: event_type, type: VARCHAR, description: What happened}
  - {name: event_ts, type: TIMESTAMP, description: When it happened (UTC)}
)"},
    {"macros/lists.sql", R"({# Renders a list as SQL string literals: 'a', 'b' #}
{% macro quote_list(items) -%}
  {%- for item in items %}'{{ item }}'{% if not loop.last %}, {% endif %}{% endfor -%}
{%- endmacro %}
)"},
    {"tables/core/daily_events.yaml", R"(description: Events per user, type and day.
schedule: daily
strategy: append
time_column: day
columns:
  - {name: day, type: TIMESTAMP, description: The day (UTC midnight)}
  - {name: user_id, type: BIGINT, tags: [pii]}
  - {name: event_type, type: VARCHAR}
  - {name: events, type: BIGINT, description: Number of events}
tests:
  - not_null: [day, user_id]
sql: |
  SELECT
    date_trunc('day', event_ts) AS day,
    user_id,
    event_type,
    count(*) AS events
  FROM raw.events
  WHERE event_ts >= {{ window_start }} AND event_ts < {{ window_end }}
    AND event_type NOT IN ({{ quote_list(var('excluded_event_types')) }})
  GROUP BY ALL
)"},
    {"tables/core/user_activity.yaml", R"(description: When each user was first and last active.
schedule: daily
strategy: merge
time_column: last_seen
merge:
  keys: [user_id]
  rules:
    first_seen: min
    last_seen: max
    events: sum
columns:
  - {name: user_id, type: BIGINT, tags: [pii]}
  - {name: first_seen, type: TIMESTAMP}
  - {name: last_seen, type: TIMESTAMP}
  - {name: events, type: HUGEINT}
sql: |
  -- An unqualified name reads from this table's own dataset (core).
  SELECT user_id, min(day) AS first_seen, max(day) AS last_seen, sum(events) AS events
  FROM daily_events
  WHERE day >= {{ window_start }} AND day < {{ window_end }}
  GROUP BY user_id
)"},
};

}  // namespace

int Init(const std::string& dir, std::ostream& out, std::ostream& err) {
  namespace fs = std::filesystem;
  fs::path root(dir);
  // Never overwrite: check every file before writing any.
  for (const auto& [rel, text] : kFiles) {
    if (fs::exists(root / rel)) {
      err << "error: " << (root / rel).string() << " already exists; init only creates new projects\n";
      return 1;
    }
  }
  for (const auto& [rel, text] : kFiles) {
    fs::path path = root / rel;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    std::ofstream f(path, std::ios::binary);
    f << text;
    if (!f) {
      err << "error: cannot write " << path.string() << "\n";
      return 1;
    }
  }
  out << "Created a Derived project in " << dir << ". Next:\n"
      << "  derived validate --project " << dir << "\n"
      << "  derived dag --project " << dir << "\n"
      << "  derived show core.user_activity --project " << dir << "\n";
  return 0;
}

}  // namespace derived::cli
