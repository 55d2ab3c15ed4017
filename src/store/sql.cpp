// Migrations, queries and conversions shared by the SQLite and PostgreSQL backends.
#include "store/sql.h"

#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cmath>

#include "core/utf8.h"

namespace stratus::store::detail {

namespace {

// Version 1: the ledger (one row per client request), virtual keys and the meta counters.
constexpr std::string_view kV1Sqlite = R"sql(
CREATE TABLE ledger (
  id INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  request_id TEXT UNIQUE,
  key_id TEXT NOT NULL,
  team TEXT NOT NULL,
  task_id TEXT NOT NULL,
  alias TEXT NOT NULL,
  provider TEXT NOT NULL,
  deployment TEXT NOT NULL,
  status INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  stream INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  cached_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cost_usd REAL NOT NULL,
  latency_ms REAL NOT NULL,
  ttft_ms REAL NOT NULL
);
CREATE INDEX ledger_time ON ledger (time_ms);
CREATE INDEX ledger_key ON ledger (key_id, time_ms);
CREATE INDEX ledger_team ON ledger (team, time_ms);
CREATE INDEX ledger_task ON ledger (task_id, time_ms);
CREATE TABLE keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  team TEXT NOT NULL,
  salt TEXT NOT NULL,
  hash TEXT NOT NULL,
  models TEXT NOT NULL,
  rpm INTEGER NOT NULL,
  tpm INTEGER NOT NULL,
  budget_usd REAL NOT NULL,
  budget_period TEXT NOT NULL,
  max_task_calls INTEGER NOT NULL,
  max_task_usd REAL NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  revoked_ms INTEGER NOT NULL
);
CREATE INDEX keys_name ON keys (name);
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO meta (name, value) VALUES ('keys_version', 0);
)sql";

constexpr std::string_view kV1Postgres = R"sql(
CREATE TABLE ledger (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time_ms BIGINT NOT NULL,
  request_id TEXT UNIQUE,
  key_id TEXT NOT NULL,
  team TEXT NOT NULL,
  task_id TEXT NOT NULL,
  alias TEXT NOT NULL,
  provider TEXT NOT NULL,
  deployment TEXT NOT NULL,
  status INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  stream BOOLEAN NOT NULL,
  prompt_tokens BIGINT NOT NULL,
  cached_tokens BIGINT NOT NULL,
  completion_tokens BIGINT NOT NULL,
  cost_usd DOUBLE PRECISION NOT NULL,
  latency_ms DOUBLE PRECISION NOT NULL,
  ttft_ms DOUBLE PRECISION NOT NULL
);
CREATE INDEX ledger_time ON ledger (time_ms);
CREATE INDEX ledger_key ON ledger (key_id, time_ms);
CREATE INDEX ledger_team ON ledger (team, time_ms);
CREATE INDEX ledger_task ON ledger (task_id, time_ms);
CREATE TABLE keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  team TEXT NOT NULL,
  salt TEXT NOT NULL,
  hash TEXT NOT NULL,
  models TEXT NOT NULL,
  rpm BIGINT NOT NULL,
  tpm BIGINT NOT NULL,
  budget_usd DOUBLE PRECISION NOT NULL,
  budget_period TEXT NOT NULL,
  max_task_calls BIGINT NOT NULL,
  max_task_usd DOUBLE PRECISION NOT NULL,
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL,
  revoked_ms BIGINT NOT NULL
);
CREATE INDEX keys_name ON keys (name);
CREATE TABLE meta (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO meta (name, value) VALUES ('keys_version', 0);
)sql";

// Version 2: the team and task indexes hold tagged rows only. Most requests carry neither, and
// every index costs each insert a B-tree descent; totals by team or task name one (the query
// states the predicate so both planners use the partial index).
constexpr std::string_view kV2 = R"sql(
DROP INDEX ledger_team;
CREATE INDEX ledger_team ON ledger (team, time_ms) WHERE team <> '';
DROP INDEX ledger_task;
CREATE INDEX ledger_task ON ledger (task_id, time_ms) WHERE task_id <> '';
)sql";

constexpr Migration kMigrations[] = {
    {1, kV1Sqlite, kV1Postgres},
    {2, kV2, kV2},
};

std::string_view group_expr(Dialect d, GroupBy by) {
  switch (by) {
    case GroupBy::key:
      return "key_id";
    case GroupBy::team:
      return "team";
    case GroupBy::model:
      return "alias";
    case GroupBy::provider:
      return "provider";
    case GroupBy::task:
      return "task_id";
    case GroupBy::day:
      break;
  }
  return d == Dialect::sqlite
             ? "strftime('%Y-%m-%d', time_ms / 1000, 'unixepoch')"
             : "to_char(to_timestamp(time_ms / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')";
}

constexpr std::string_view kSums =
    "count(*), coalesce(sum(prompt_tokens), 0), coalesce(sum(cached_tokens), 0), "
    "coalesce(sum(completion_tokens), 0), coalesce(sum(cost_usd), 0), "
    "coalesce(min(time_ms), 0), coalesce(max(time_ms), 0)";

// A valid UTF-8 sequence at s[i] that is not NUL (PostgreSQL text takes no NUL), or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  return s[i] == '\0' ? 0 : core::utf8_sequence(s, i);
}

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }
int latest_version() { return kMigrations[std::size(kMigrations) - 1].version; }

std::string to_sqlite_placeholders(std::string_view sql) {
  std::string out(sql);
  for (auto& c : out) {
    if (c == '$') c = '?';
  }
  return out;
}

const std::string_view kInsertLedgerRow =
    "INSERT INTO ledger (time_ms, request_id, key_id, team, task_id, alias, provider, "
    "deployment, status, attempts, stream, prompt_tokens, cached_tokens, completion_tokens, "
    "cost_usd, latency_ms, ttft_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
    "$13, $14, $15, $16, $17) ON CONFLICT (request_id) DO NOTHING";

std::string usage_sql(Dialect d, GroupBy by, std::size_t limit) {
  std::string sql = "SELECT ";
  sql += group_expr(d, by);
  sql += ", ";
  sql += kSums;
  sql += " FROM ledger WHERE time_ms >= $1 GROUP BY 1 ORDER BY ";
  sql += by == GroupBy::day ? "1 ASC" : "6 DESC, 1 ASC";
  if (limit) sql += " LIMIT " + std::to_string(limit);
  return sql;
}

core::Result<std::string> total_sql(std::string_view column) {
  if (column != "key_id" && column != "team" && column != "task_id") {
    return core::fail(
        core::ErrorKind::invalid_request,
        "total: column must be key_id, team or task_id, not '" + clean_text(column) + "'");
  }
  std::string sql = "SELECT ";
  sql += kSums;
  sql += " FROM ledger WHERE ";
  sql += column;
  sql += " = $1 AND time_ms >= $2";
  if (column != "key_id") {
    sql += " AND ";
    sql += column;
    sql += " <> ''";  // the partial index's predicate (migration 2)
  }
  return sql;
}

bool is_clean_text(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_sequence(s, i);
    if (!n) return false;
    i += n;
  }
  return true;
}

std::string clean_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    std::size_t n = utf8_sequence(s, i);
    if (n) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

double finite_or(double v, double otherwise) { return std::isfinite(v) ? v : otherwise; }

std::string models_to_json(const std::vector<std::string>& models) {
  boost::json::array a;
  for (const auto& m : models) a.emplace_back(clean_text(m));
  return boost::json::serialize(a);
}

std::vector<std::string> models_from_json(std::string_view json) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(json, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& m : v.as_array()) {
    if (m.is_string()) out.emplace_back(m.as_string());
  }
  return out;
}

std::string to_text(std::int64_t v) { return std::to_string(v); }

std::string to_text(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::int64_t int_from_text(std::string_view s) {
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

double double_from_text(std::string_view s) {
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace stratus::store::detail
