#include "model.h"

#include <fmt/args.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace discord {
namespace {

constexpr int64_t kDay = 86400;

// Sizes at scale 1, over the default 28 days.
constexpr double kLaunchUsers = 400;      // beta accounts imported in the first hour
constexpr double kSignupsPerHour = 1.9;   // organic, before the daily cycle and growth
constexpr double kMessagesPerDay = 12.0;  // per active user of weight 1 (weights reach 200)
constexpr double kServersPerScale = 300;

// Floor division, so spans starting before `start` map to negative days.
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0) ? 1 : 0); }

// Named placeholders shared by every statement: {seed}, {start}, {days}, {end_s}, sizes,
// and, for selects, the span {from_s} {to_s} and the days it touches [{d_lo}, {d_hi}).
std::string Render(std::string_view sql, const ModelParams& p, const Span& span = {}) {
  int64_t d_lo = std::clamp<int64_t>(FloorDiv(span.from, kDay), 0, p.days);
  int64_t d_hi = std::clamp<int64_t>(FloorDiv(span.to + kDay - 1, kDay), 0, p.days);
  fmt::dynamic_format_arg_store<fmt::format_context> args;
  args.push_back(fmt::arg("seed", p.seed));
  args.push_back(fmt::arg("start", derived::FormatSqlLiteral(p.start)));
  args.push_back(fmt::arg("end", derived::FormatSqlLiteral({p.start.seconds + p.days * kDay})));
  args.push_back(fmt::arg("days", p.days));
  args.push_back(fmt::arg("end_s", p.days * kDay));
  args.push_back(fmt::arg("launch_users", kLaunchUsers * p.scale));
  args.push_back(fmt::arg("signups_per_hour", kSignupsPerHour * p.scale));
  args.push_back(fmt::arg("messages_per_day", kMessagesPerDay));
  args.push_back(fmt::arg("servers", std::max<int64_t>(20, std::llround(kServersPerScale * p.scale))));
  args.push_back(fmt::arg("from_s", span.from));
  args.push_back(fmt::arg("to_s", span.to));
  args.push_back(fmt::arg("d_lo", d_lo));
  args.push_back(fmt::arg("d_hi", std::max(d_lo, d_hi)));
  return fmt::vformat(sql, args);
}

// Macros first: a uniform draw is keyed by (a, b, c, salt), e.g. (user, day, k, 'msg.t').
constexpr std::string_view kMacros = R"sql(
-- Uniform in [0, 1) from 53 hashed bits of (seed, key): no state, so no dependence on
-- which rows are generated, in which order or on how many threads. The outer hash() is
-- needed: DuckDB combines a multi-argument hash weakly, and keys differing only in the
-- salt ('x.r' and 'x.a') gave draws correlated at 0.97.
CREATE OR REPLACE TEMP MACRO rnd(a, b, c, salt) AS
  CAST(hash(hash(CAST({seed} AS BIGINT), CAST(a AS BIGINT), CAST(b AS BIGINT), CAST(c AS BIGINT),
                 salt)) >> 11 AS DOUBLE) / 9007199254740992.0;
-- Standard normal (Box-Muller).
CREATE OR REPLACE TEMP MACRO gauss(a, b, c, salt) AS
  sqrt(-2 * ln(1 - rnd(a, b, c, salt || '.r'))) * cos(2 * pi() * rnd(a, b, c, salt || '.a'));
CREATE OR REPLACE TEMP MACRO wrap24(x) AS x - 24 * floor(x / 24);
-- An element of list xs, uniformly for r in [0, 1).
CREATE OR REPLACE TEMP MACRO pick(xs, r) AS xs[1 + CAST(floor(len(xs) * r) AS BIGINT)];
-- The server in a user's slot-th membership: P(server = k) ~ 1/k, a few huge communities
-- and a long tail.
CREATE OR REPLACE TEMP MACRO server_of(u, slot) AS
  CAST(floor(exp(rnd(u, slot, 0, 'server') * ln({servers} + 1))) AS BIGINT);
-- When (seconds since start) a user joined its slot-th server: the first minutes after
-- sign-up, the others days later.
CREATE OR REPLACE TEMP MACRO joined_s(u, slot, created_s) AS
  created_s + CASE WHEN slot = 0 THEN 30 + CAST(floor(570 * rnd(u, 0, 0, 'join')) AS BIGINT)
                   ELSE CAST(floor(-ln(1 - rnd(u, slot, 0, 'join')) * 4 * 86400) AS BIGINT) END;
-- When a user's k-th event of a kind happens on day d. On the first day: soon after joining
-- its first server. Later: local time around the user's evening peak, a quarter of events
-- spread over waking hours, shifted to UTC by the user's time zone.
CREATE OR REPLACE TEMP MACRO event_s(u, d, k, kind, first_d, join_s, peak_h, tz_h) AS
  CASE WHEN d = first_d
    THEN join_s
         + CAST(floor(pow(rnd(u, d, k, kind || '.first'), 2) * (86400 * (d + 1) - join_s)) AS BIGINT)
    ELSE 86400 * d + least(86399, CAST(floor(3600 * wrap24(
      CASE WHEN rnd(u, d, k, kind || '.mix') < 0.25 THEN 8 + 16 * rnd(u, d, k, kind || '.day')
           ELSE peak_h + 3 * gauss(u, d, k, kind) END - tz_h)) AS BIGINT))
  END;
-- Where a user's k-th event of a kind happens: one of its servers, favouring the first
-- ones, and only among those it had joined by then.
CREATE OR REPLACE TEMP MACRO event_slot(u, d, k, kind, n_slots) AS
  CAST(floor(n_slots * pow(rnd(u, d, k, kind || '.slot'), 2)) AS BIGINT);
CREATE OR REPLACE TEMP MACRO event_server(u, slot, created_s, t) AS
  server_of(u, CASE WHEN joined_s(u, slot, created_s) <= t THEN slot ELSE 0 END);
)sql";

// Accounts: user ids are given in sign-up order, hour by hour, so they only depend on the
// hours before them.
constexpr std::string_view kUsers = R"sql(
CREATE OR REPLACE TEMP TABLE gen_users AS
WITH hours AS (
  -- The beta's accounts are imported in the first hour; organic sign-ups follow a daily
  -- cycle (peak 14:00 UTC) and grow 2% a day.
  SELECT h, CAST(floor(
      CASE WHEN h = 0 THEN {launch_users} ELSE 0 END
      + {signups_per_hour} * (1 + 0.6 * sin(2 * pi() * (h % 24 - 8) / 24)) * (1 + 0.02 * (h // 24))
        * (0.6 + 0.8 * rnd(h, 0, 0, 'signups'))
      + rnd(h, 0, 0, 'signups.round')) AS BIGINT) AS n
  FROM range({days} * 24) t(h)
), numbered AS (
  SELECT h, n, CAST(sum(n) OVER (ORDER BY h) - n + 1 AS BIGINT) AS first_id FROM hours
), accounts AS (
  SELECT user_id, created_s,
         rnd(user_id, 0, 0, 'country') AS r_country, rnd(user_id, 0, 0, 'platform') AS r_platform
  FROM (
    SELECT first_id + j AS user_id,
           3600 * h + CAST(floor(3600 * (j + rnd(first_id + j, 0, 0, 'created')) / n) AS BIGINT) AS created_s
    FROM (SELECT h, n, first_id, unnest(range(n)) AS j FROM numbered)
  )
), countries(code, tz_h, weight) AS (
  VALUES ('US', -6, 26), ('BR', -3, 10), ('GB', 0, 7), ('DE', 1, 7), ('IN', 5.5, 7), ('FR', 1, 5),
         ('CA', -5, 4), ('MX', -6, 4), ('PL', 1, 4), ('JP', 9, 4), ('PH', 8, 3), ('AU', 10, 3),
         ('ES', 1, 3), ('TR', 3, 3), ('KR', 9, 2), ('SE', 1, 2), ('NL', 1, 2), ('ID', 7, 2), ('NG', 1, 2)
), platforms(reported, weight) AS (
  -- What clients report, messy on purpose; raw.platform_aliases normalizes all but PlayStation.
  VALUES ('iPhone', 120), ('iOS', 80), ('ios', 60), ('iPad', 30), ('IOS', 10),
         ('Android', 140), ('android', 120), ('ANDROID', 20),
         ('Windows', 140), ('windows', 30), ('macOS', 60), ('Mac', 30), ('Linux', 20),
         ('web', 40), ('Web', 30), ('Web Browser', 30), ('browser', 10), ('PlayStation', 5)
), picks AS (
  -- Weighted choice: a draw r picks the value whose [lo, hi) holds floor(r * total). Integer
  -- weights keep the bounds exact.
  SELECT 'country' AS kind, code AS value, tz_h, sum(weight) OVER (ORDER BY code) - weight AS lo,
         sum(weight) OVER (ORDER BY code) AS hi, sum(weight) OVER () AS total
  FROM countries
  UNION ALL
  SELECT 'platform', reported, 0, sum(weight) OVER (ORDER BY reported) - weight,
         sum(weight) OVER (ORDER BY reported), sum(weight) OVER ()
  FROM platforms
), profiles AS (
  SELECT a.user_id, a.created_s, p.value AS platform, c.value AS country_code, c.tz_h,
    -- Activity is heavy-tailed: Pareto weights, most users light, a few very chatty.
    least(200, pow(1 - rnd(a.user_id, 0, 0, 'weight'), -1 / 1.3)) AS weight
  FROM accounts a
  JOIN picks c ON c.kind = 'country'
    AND floor(a.r_country * c.total) >= c.lo AND floor(a.r_country * c.total) < c.hi
  JOIN picks p ON p.kind = 'platform'
    AND floor(a.r_platform * p.total) >= p.lo AND floor(a.r_platform * p.total) < p.hi
)
SELECT user_id, created_s, platform,
  CASE WHEN rnd(user_id, 0, 0, 'country.messy') < 0.005 THEN NULL
       WHEN rnd(user_id, 0, 0, 'country.messy') < 0.035 THEN lower(country_code)
       ELSE country_code END AS country,
  CASE WHEN rnd(user_id, 0, 0, 'email') < 0.015 THEN NULL  -- signed up with a phone number
       ELSE pick(['alex', 'sam', 'maria', 'wei', 'yuki', 'lucas', 'emma', 'omar', 'priya', 'noah', 'lena',
                  'kenji', 'sofia', 'ivan', 'chloe', 'mateo'], rnd(user_id, 0, 0, 'email.first'))
            || pick(['.', '_', ''], rnd(user_id, 0, 0, 'email.sep'))
            || pick(['smith', 'silva', 'kim', 'nguyen', 'muller', 'garcia', 'tanaka', 'kowalski', 'patel',
                     'brown'], rnd(user_id, 0, 0, 'email.last'))
            || user_id || '@'
            || pick(['example.com', 'example.net', 'example.org', 'mail.example.com'],
                    rnd(user_id, 0, 0, 'email.domain'))
  END AS email,
  -- A second device some messages come from.
  pick(['Windows', 'Windows', 'macOS', 'Web Browser', 'web', 'Linux'], rnd(user_id, 0, 0, 'alt'))
    AS alt_platform,
  tz_h,
  20 + 1.5 * gauss(user_id, 0, 0, 'peak') AS peak_h,
  joined_s(user_id, 0, created_s) AS join_s,
  joined_s(user_id, 0, created_s) // 86400 AS first_d,
  least(0.92, 0.18 + 0.2 * ln(weight)) AS p_active,
  weight,
  -- A third never come back after their first days; the others churn slowly, the heavy
  -- users slowest.
  CAST(CASE WHEN rnd(user_id, 0, 0, 'churn') < 0.3 THEN floor(3 * rnd(user_id, 0, 0, 'churn.early'))
            ELSE least(100000, floor(-ln(1 - rnd(user_id, 0, 0, 'churn.late')) * 40 * (1 + ln(weight)))) END
       AS BIGINT) AS lifetime_d,
  -- Four in ten never use voice.
  CASE WHEN rnd(user_id, 0, 0, 'voice') < 0.4 THEN 0 ELSE 0.1 + 0.5 * rnd(user_id, 0, 0, 'voice.p') END
    AS p_voice,
  least(12, 1 + CAST(floor(-ln(1 - rnd(user_id, 0, 0, 'slots')) * 1.5) AS BIGINT)) AS n_slots
FROM profiles
ORDER BY user_id;
)sql";

// Each account's active days (those it sends messages on) and how much it does on each.
constexpr std::string_view kUserDays = R"sql(
CREATE OR REPLACE TEMP TABLE gen_user_days AS
WITH days AS (
  SELECT user_id, first_d, weight, p_active, p_voice,
         unnest(range(first_d, least({days}, first_d + lifetime_d + 1))) AS d
  FROM gen_users
), scored AS (
  SELECT user_id, d, first_d, weight, p_voice,
    rnd(user_id, d, 0, 'active') < CASE WHEN d = first_d THEN 0.85
      -- Novelty wears off over the first weeks; weekends are busier.
      ELSE p_active * (0.5 + 0.5 * exp(-(d - first_d) / 7.0))
           * CASE WHEN isodow(CAST({start} AS DATE) + CAST(d AS INTEGER)) >= 6 THEN 1.2 ELSE 1.0 END
    END AS active
  FROM days
)
SELECT user_id, d,
  greatest(1, CAST(floor({messages_per_day} * pow(weight, 0.8) * exp(0.6 * gauss(user_id, d, 0, 'messages'))
                          * CASE WHEN d = first_d THEN 0.5 ELSE 1 END + rnd(user_id, d, 0, 'messages.round'))
                   AS BIGINT)) AS n_messages,
  CASE WHEN rnd(user_id, d, 0, 'voice') < p_voice
       THEN 1 + CAST(floor(-ln(1 - rnd(user_id, d, 0, 'voice.n')) * 0.6) AS BIGINT) ELSE 0 END AS n_voice
FROM scored
WHERE active
ORDER BY d, user_id;

-- Ids are numbered day by day, so a day's ids only depend on the days before it. The
-- internal test account sends 24 messages a day.
CREATE OR REPLACE TEMP TABLE gen_days AS
SELECT d,
  CAST(sum(messages) OVER (ORDER BY d) - messages + 1 AS BIGINT) AS first_message_id,
  CAST(sum(sessions) OVER (ORDER BY d) - sessions + 1 AS BIGINT) AS first_session_id
FROM (
  SELECT r.d, 24 + coalesce(sum(u.n_messages), 0) AS messages, coalesce(sum(u.n_voice), 0) AS sessions
  FROM range({days}) r(d) LEFT JOIN gen_user_days u ON u.d = r.d
  GROUP BY r.d
);
)sql";

constexpr std::string_view kSelectUsers = R"sql(
SELECT user_id, {start} + to_seconds(created_s) AS created_at, platform, country, email
FROM (
  SELECT 0 AS user_id, 0 AS created_s, 'web' AS platform, 'US' AS country, 'qa-bot@example.com' AS email
  UNION ALL
  SELECT user_id, created_s, platform, country, email FROM gen_users
)
WHERE created_s >= {from_s} AND created_s < {to_s}
ORDER BY user_id
)sql";

// Events are expanded only for the days the span touches; ids are numbered over whole days
// before the span cuts them.
constexpr std::string_view kSelectMessages = R"sql(
WITH expanded AS (
  SELECT u.*, ud.d, unnest(range(ud.n_messages)) AS k
  FROM gen_user_days ud JOIN gen_users u USING (user_id)
  WHERE ud.d >= {d_lo} AND ud.d < {d_hi}
), timed AS (
  SELECT *, event_s(user_id, d, k, 'msg', first_d, join_s, peak_h, tz_h) AS t FROM expanded
), events AS (
  SELECT d, user_id, k, t,
         event_server(user_id, event_slot(user_id, d, k, 'msg', n_slots), created_s, t) AS server_id,
         CASE WHEN rnd(user_id, d, k, 'msg.device') < 0.8 THEN platform ELSE alt_platform END AS platform
  FROM timed
  UNION ALL
  -- The internal test account's health check, on the hour.
  SELECT h // 24, 0, h, 3600 * h, 1, 'web' FROM range({d_lo} * 24, {d_hi} * 24) r(h)
), numbered AS (
  SELECT first_message_id - 1 + row_number() OVER (PARTITION BY d ORDER BY t, user_id, k) AS message_id, *
  FROM events JOIN gen_days USING (d)
)
SELECT message_id, user_id, server_id, platform, {start} + to_seconds(t) AS sent_at
FROM numbered
WHERE t >= {from_s} AND t < {to_s}
ORDER BY message_id
)sql";

constexpr std::string_view kSelectVoiceSessions = R"sql(
WITH expanded AS (
  SELECT u.*, ud.d, unnest(range(ud.n_voice)) AS k
  FROM gen_user_days ud JOIN gen_users u USING (user_id)
  WHERE ud.d >= {d_lo} AND ud.d < {d_hi} AND ud.n_voice > 0
), timed AS (
  SELECT *, event_s(user_id, d, k, 'voice', first_d, join_s, peak_h, tz_h) AS t FROM expanded
), numbered AS (
  SELECT first_session_id - 1 + row_number() OVER (PARTITION BY d ORDER BY t, user_id, k) AS session_id,
         user_id, t,
         event_server(user_id, event_slot(user_id, d, k, 'voice', n_slots), created_s, t) AS server_id,
         -- Log-normal around 15 minutes, from 15 seconds to 6 hours.
         CAST(least(21600, greatest(15, round(900 * exp(1.1 * gauss(user_id, d, k, 'voice.duration')))))
              AS INTEGER) AS duration_s
  FROM timed JOIN gen_days USING (d)
)
SELECT session_id, user_id, server_id, {start} + to_seconds(t) AS started_at, duration_s
FROM numbered
WHERE t >= {from_s} AND t < {to_s}
ORDER BY session_id
)sql";

constexpr std::string_view kSelectServerJoins = R"sql(
SELECT user_id, server_id, {start} + to_seconds(t) AS joined_at
FROM (
  SELECT user_id, slot, server_of(user_id, slot) AS server_id, joined_s(user_id, slot, created_s) AS t
  FROM (SELECT user_id, created_s, unnest(range(n_slots)) AS slot FROM gen_users)
  UNION ALL
  SELECT 0, 0, 1, 0
)
WHERE t < {end_s} AND t >= {from_s} AND t < {to_s}
ORDER BY t, user_id, slot
)sql";

// Not an event table: the whole lookup, complete through the end of the period.
constexpr std::string_view kSelectPlatformAliases = R"sql(
SELECT alias, platform, {end} AS updated_at
FROM (VALUES ('iPhone', 'ios'), ('iOS', 'ios'), ('iPad', 'ios'),
             ('Android', 'android'),
             ('Windows', 'desktop'), ('macOS', 'desktop'), ('Mac', 'desktop'), ('Linux', 'desktop'),
             ('Desktop', 'desktop'),
             ('Web', 'web'), ('Web Browser', 'web'), ('Browser', 'web')) t(alias, platform)
ORDER BY alias
)sql";

}  // namespace

const std::vector<RawTable>& RawTables() {
  static const std::vector<RawTable> tables = {
      {"users", "user_id BIGINT, created_at TIMESTAMP, platform VARCHAR, country VARCHAR, email VARCHAR",
       "created_at", kSelectUsers},
      {"messages", "message_id BIGINT, user_id BIGINT, server_id BIGINT, platform VARCHAR, sent_at TIMESTAMP",
       "sent_at", kSelectMessages},
      {"voice_sessions",
       "session_id BIGINT, user_id BIGINT, server_id BIGINT, started_at TIMESTAMP, duration_s INTEGER",
       "started_at", kSelectVoiceSessions},
      {"server_joins", "user_id BIGINT, server_id BIGINT, joined_at TIMESTAMP", "joined_at",
       kSelectServerJoins},
      {"platform_aliases", "alias VARCHAR, platform VARCHAR, updated_at TIMESTAMP", "",
       kSelectPlatformAliases},
  };
  return tables;
}

std::string Select(const RawTable& table, const ModelParams& params, const Span& span) {
  return Render(table.select, params, span);
}

std::string SetupSql(const ModelParams& params) {
  return Render(kMacros, params) + Render(kUsers, params) + Render(kUserDays, params);
}

}  // namespace discord
