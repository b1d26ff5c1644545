// `derived init DIR`: a small project, with its own data, that builds end to end and shows
// every file kind.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <utility>
#include <vector>

#include "cli/commands.h"

namespace derived::cli {
namespace {

// A week of product events, shipped with the project so that `derived run --once` builds
// everything on a fresh machine, with no pipeline and no marks.
const char* kEvents = R"(event_id,user_id,event_type,event_ts
1,3,CLICK,2024-01-01 12:41:00
2,5,PAGE_VIEW,2024-01-01 11:37:00
3,5,click,2024-01-01 01:05:00
4,1,click,2024-01-01 02:35:00
5,5,page_view,2024-01-01 07:40:00
6,1,TEST,2024-01-01 01:14:00
7,2,purchase,2024-01-01 13:09:00
8,5,purchase,2024-01-01 17:52:00
9,1,click,2024-01-02 11:06:00
10,1,page_view,2024-01-02 19:13:00
11,5,test,2024-01-02 10:29:00
12,4,purchase,2024-01-02 09:15:00
13,6,click,2024-01-02 02:36:00
14,4,purchase,2024-01-02 23:28:00
15,1,PAGE_VIEW,2024-01-02 16:26:00
16,3,CLICK,2024-01-02 15:26:00
17,6,page_view,2024-01-03 17:36:00
18,3,purchase,2024-01-03 22:22:00
19,5,TEST,2024-01-03 02:53:00
20,3,TEST,2024-01-03 22:42:00
21,6,purchase,2024-01-03 20:36:00
22,4,purchase,2024-01-03 22:24:00
23,3,PAGE_VIEW,2024-01-03 14:22:00
24,1,test,2024-01-03 01:13:00
25,2,click,2024-01-04 12:25:00
26,4,page_view,2024-01-04 05:28:00
27,3,click,2024-01-04 13:55:00
28,6,test,2024-01-04 11:43:00
29,2,CLICK,2024-01-04 02:11:00
30,6,click,2024-01-04 00:31:00
31,2,PURCHASE,2024-01-04 09:00:00
32,5,purchase,2024-01-04 19:36:00
33,2,page_view,2024-01-05 14:57:00
34,6,test,2024-01-05 12:25:00
35,4,TEST,2024-01-05 01:12:00
36,2,test,2024-01-05 05:07:00
37,1,PAGE_VIEW,2024-01-05 00:36:00
38,1,PURCHASE,2024-01-05 19:01:00
39,2,test,2024-01-05 04:40:00
40,3,PURCHASE,2024-01-05 15:07:00
41,4,test,2024-01-06 15:30:00
42,2,page_view,2024-01-06 23:21:00
43,4,click,2024-01-06 16:01:00
44,5,purchase,2024-01-06 04:44:00
45,1,PURCHASE,2024-01-06 20:55:00
46,3,purchase,2024-01-06 05:22:00
47,5,purchase,2024-01-06 20:14:00
48,2,click,2024-01-06 12:47:00
49,2,TEST,2024-01-07 11:46:00
50,1,PURCHASE,2024-01-07 15:16:00
51,5,purchase,2024-01-07 14:51:00
52,3,PURCHASE,2024-01-07 02:14:00
53,4,click,2024-01-07 10:13:00
54,5,page_view,2024-01-07 15:58:00
55,6,page_view,2024-01-07 21:07:00
56,6,CLICK,2024-01-07 15:56:00
)";

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
    {"data/events.csv", kEvents},
    {"sources/raw/events.yaml", R"(description: Product events, exported as a CSV file.
location: data/events.csv
time_column: event_ts
# A file that is complete as it is: Derived builds from it at once, and a change to the
# file is a restatement that rebuilds what read it. A source an ingestion pipeline
# appends to would say `freshness: marker` (set with `derived source mark`) instead.
freshness: static
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
    {"tables/staging/events.yaml", R"(description: "Events with their type normalized. A view: no storage, always current."
strategy: view
tests:
  - not_null: [event_id, event_ts]
sql: |
  SELECT event_id, user_id, lower(event_type) AS event_type, event_ts
  FROM raw.events
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
  FROM staging.events
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
      << "  derived run --once --project " << dir << "\n"
      << "  derived status --project " << dir << "\n"
      << "  derived show core.user_activity --project " << dir << "\n";
  return 0;
}

}  // namespace derived::cli
