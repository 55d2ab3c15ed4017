// The PostgreSQL backend over libpq (loaded at the first open: store/libpq.h): text
// parameters, one transaction per write, multi-row inserts for ledger batches.
#include <mutex>

#include "store/backends.h"
#include "store/libpq.h"
#include "store/sql.h"

namespace stratus::store::detail {

namespace {

struct ConnClose {
  void operator()(PGconn* c) const { pq().finish(c); }
};
struct ResultClear {
  void operator()(PGresult* r) const { pq().clear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnClose>;
using Res = std::unique_ptr<PGresult, ResultClear>;

// Rows per INSERT statement: bounds the size of one message.
constexpr std::size_t kRowsPerInsert = 5000;
constexpr std::int64_t kMigrationLock = 0x5374726174757331;  // pg_advisory_xact_lock key

// Parameters as text. Strings are cleaned (PostgreSQL refuses invalid UTF-8 and NUL);
// raw() takes text built here, already clean.
class Params {
 public:
  void raw(std::string v) { values_.push_back(std::move(v)); }
  void add(std::string_view v) { raw(is_clean_text(v) ? std::string(v) : clean_text(v)); }
  void add(std::int64_t v) { raw(to_text(v)); }
  void add(int v) { raw(to_text(static_cast<std::int64_t>(v))); }
  void add(double v) { raw(to_text(v)); }
  std::vector<const char*> pointers() const {
    std::vector<const char*> p;
    p.reserve(values_.size());
    for (const auto& v : values_) p.push_back(v.c_str());
    return p;
  }
  template <class... Args>
  static Params of(const Args&... args) {
    Params p;
    (p.add(args), ...);
    return p;
  }

 private:
  std::vector<std::string> values_;
};

std::string value(const Res& r, int row, int col) {
  return pq().getisnull(r.get(), row, col)
             ? std::string()
             : std::string(pq().getvalue(r.get(), row, col),
                           static_cast<std::size_t>(pq().getlength(r.get(), row, col)));
}
std::int64_t int_value(const Res& r, int row, int col) { return int_from_text(value(r, row, col)); }
double double_value(const Res& r, int row, int col) { return double_from_text(value(r, row, col)); }

UsageRow usage_row(const Res& r, int row, int first) {
  UsageRow u;
  u.requests = int_value(r, row, first);
  u.prompt_tokens = int_value(r, row, first + 1);
  u.cached_tokens = int_value(r, row, first + 2);
  u.completion_tokens = int_value(r, row, first + 3);
  u.cost_usd = double_value(r, row, first + 4);
  u.first_ms = int_value(r, row, first + 5);
  u.last_ms = int_value(r, row, first + 6);
  return u;
}

// One PostgreSQL array literal in text form: {1,2} or {"a","b\"c",NULL}.
class ArrayText {
 public:
  void number(const std::string& v) {
    separate();
    text_ += v;
  }
  void boolean(bool v) {
    separate();
    text_ += v ? 't' : 'f';
  }
  void null() {
    separate();
    text_ += "NULL";
  }
  void string(std::string_view v) {
    separate();
    text_ += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') text_ += '\\';
      text_ += c;
    }
    text_ += '"';
  }
  std::string done() && { return std::move(text_) + '}'; }

 private:
  void separate() {
    if (text_.size() > 1) text_ += ',';
  }
  std::string text_ = "{";
};

// A batch as 17 column arrays unnested into rows: one small, prepared statement whatever the
// batch size, where a VALUES list would be parsed and planned again for every batch.
constexpr const char* kInsertStatement = "stratus_ledger_insert";
constexpr const char* kInsertSql =
    "INSERT INTO ledger (time_ms, request_id, key_id, team, task_id, alias, provider, "
    "deployment, status, attempts, stream, prompt_tokens, cached_tokens, completion_tokens, "
    "cost_usd, latency_ms, ttft_ms) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], "
    "$4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::integer[], "
    "$10::integer[], $11::boolean[], $12::bigint[], $13::bigint[], $14::bigint[], "
    "$15::float8[], $16::float8[], $17::float8[]) ON CONFLICT (request_id) DO NOTHING";

Params ledger_arrays(std::span<const LedgerEvent> events) {
  ArrayText col[kLedgerParams];
  auto text = [](ArrayText& a, const std::string& v) {
    if (is_clean_text(v)) {
      a.string(v);
    } else {
      a.string(clean_text(v));
    }
  };
  for (const auto& e : events) {
    col[0].number(to_text(e.time_ms));
    if (e.request_id.empty()) {
      col[1].null();
    } else {
      text(col[1], e.request_id);
    }
    text(col[2], e.key_id);
    text(col[3], e.team);
    text(col[4], e.task_id);
    text(col[5], e.alias);
    text(col[6], e.provider);
    text(col[7], e.deployment);
    col[8].number(to_text(static_cast<std::int64_t>(e.status)));
    col[9].number(to_text(static_cast<std::int64_t>(e.attempts)));
    col[10].boolean(e.stream);
    col[11].number(to_text(e.prompt_tokens));
    col[12].number(to_text(e.cached_tokens));
    col[13].number(to_text(e.completion_tokens));
    col[14].number(to_text(finite_or(e.cost_usd, 0)));
    col[15].number(to_text(finite_or(e.latency_ms, 0)));
    col[16].number(to_text(finite_or(e.ttft_ms, -1)));
  }
  Params p;
  for (auto& c : col) p.raw(std::move(c).done());
  return p;
}

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(Conn conn) : conn_(std::move(conn)) {}

  core::Result<void> migrate() override {
    std::lock_guard lock(mutex_);
    for (const auto& m : migrations()) {
      auto r = transaction([&]() -> core::Result<void> {
        // Serializes concurrent migrators, including the CREATE TABLE IF NOT EXISTS below.
        if (auto l = query("SELECT pg_advisory_xact_lock($1)", Params::of(kMigrationLock)); !l)
          return std::unexpected(l.error());
        if (auto c = exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                          "applied_ms BIGINT NOT NULL)");
            !c)
          return c;
        auto v = current_version();
        if (!v) return std::unexpected(v.error());
        if (*v >= m.version) return {};
        if (auto e = exec(std::string(m.postgres)); !e) return e;
        auto ins = query("INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)",
                         Params::of(m.version, unix_ms_now()));
        if (!ins) return std::unexpected(ins.error());
        return {};
      });
      if (!r) return r;
    }
    return {};
  }

  core::Result<int> schema_version() override {
    std::lock_guard lock(mutex_);
    return current_version();
  }

  core::Result<void> append(std::span<const LedgerEvent> events) override {
    std::lock_guard lock(mutex_);
    if (events.empty()) return {};
    return transaction([&]() -> core::Result<void> {
      for (std::size_t at = 0; at < events.size(); at += kRowsPerInsert) {
        auto chunk = events.subspan(at, std::min(kRowsPerInsert, events.size() - at));
        if (auto r = insert(chunk); !r) return r;
      }
      return {};
    });
  }

  core::Result<void> put_key(const KeyRecord& k) override {
    std::lock_guard lock(mutex_);
    return transaction([&]() -> core::Result<void> {
      auto r = query(
          "INSERT INTO keys (id, name, team, salt, hash, models, rpm, tpm, budget_usd, "
          "budget_period, max_task_calls, max_task_usd, created_ms, expires_ms, revoked_ms) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
          "ON CONFLICT (id) DO UPDATE SET name = excluded.name, team = excluded.team, "
          "salt = excluded.salt, hash = excluded.hash, models = excluded.models, "
          "rpm = excluded.rpm, tpm = excluded.tpm, budget_usd = excluded.budget_usd, "
          "budget_period = excluded.budget_period, max_task_calls = excluded.max_task_calls, "
          "max_task_usd = excluded.max_task_usd, created_ms = excluded.created_ms, "
          "expires_ms = excluded.expires_ms, revoked_ms = excluded.revoked_ms",
          Params::of(k.id, k.name, k.team, k.salt, k.hash, models_to_json(k.models), k.rpm, k.tpm,
                     finite_or(k.budget_usd, 0), k.budget_period, k.max_task_calls,
                     finite_or(k.max_task_usd, 0), k.created_ms, k.expires_ms, k.revoked_ms));
      if (!r) return std::unexpected(r.error());
      return bump_keys_version();
    });
  }

  core::Result<std::vector<KeyRecord>> keys() override {
    std::lock_guard lock(mutex_);
    auto r = query(
        "SELECT id, name, team, salt, hash, models, rpm, tpm, budget_usd, budget_period, "
        "max_task_calls, max_task_usd, created_ms, expires_ms, revoked_ms FROM keys ORDER BY id "
        "COLLATE \"C\"",
        {});
    if (!r) return std::unexpected(r.error());
    std::vector<KeyRecord> out;
    for (int i = 0, n = pq().ntuples(r->get()); i < n; ++i) {
      KeyRecord k;
      k.id = value(*r, i, 0);
      k.name = value(*r, i, 1);
      k.team = value(*r, i, 2);
      k.salt = value(*r, i, 3);
      k.hash = value(*r, i, 4);
      k.models = models_from_json(value(*r, i, 5));
      k.rpm = int_value(*r, i, 6);
      k.tpm = int_value(*r, i, 7);
      k.budget_usd = double_value(*r, i, 8);
      k.budget_period = value(*r, i, 9);
      k.max_task_calls = int_value(*r, i, 10);
      k.max_task_usd = double_value(*r, i, 11);
      k.created_ms = int_value(*r, i, 12);
      k.expires_ms = int_value(*r, i, 13);
      k.revoked_ms = int_value(*r, i, 14);
      out.push_back(std::move(k));
    }
    return out;
  }

  core::Result<bool> revoke_key(std::string_view id_or_name, std::int64_t now_ms) override {
    std::lock_guard lock(mutex_);
    bool found = false;
    auto r = transaction([&]() -> core::Result<void> {
      auto by_id = query("SELECT count(*) FROM keys WHERE id = $1", Params::of(id_or_name));
      if (!by_id) return std::unexpected(by_id.error());
      std::string match = int_value(*by_id, 0, 0) ? "id = $1" : "name = $1";
      auto any = query("SELECT count(*) FROM keys WHERE " + match, Params::of(id_or_name));
      if (!any) return std::unexpected(any.error());
      found = int_value(*any, 0, 0) > 0;
      if (!found) return {};
      auto changed = query("UPDATE keys SET revoked_ms = $2 WHERE revoked_ms = 0 AND " + match,
                           Params::of(id_or_name, now_ms));
      if (!changed) return std::unexpected(changed.error());
      return int_from_text(pq().cmdTuples(changed->get())) ? bump_keys_version()
                                                           : core::Result<void>{};
    });
    if (!r) return std::unexpected(r.error());
    return found;
  }

  core::Result<std::int64_t> keys_version() override {
    std::lock_guard lock(mutex_);
    auto r = query("SELECT value FROM meta WHERE name = 'keys_version'", {});
    if (!r) return std::unexpected(r.error());
    return pq().ntuples(r->get()) ? int_value(*r, 0, 0) : 0;
  }

  core::Result<std::vector<UsageRow>> usage(GroupBy by, std::int64_t since_ms,
                                            std::size_t limit) override {
    std::lock_guard lock(mutex_);
    auto r = query(usage_sql(Dialect::postgres, by, limit), Params::of(since_ms));
    if (!r) return std::unexpected(r.error());
    std::vector<UsageRow> out;
    for (int i = 0, n = pq().ntuples(r->get()); i < n; ++i) {
      UsageRow u = usage_row(*r, i, 1);
      u.group = value(*r, i, 0);
      out.push_back(std::move(u));
    }
    return out;
  }

  core::Result<UsageRow> total(std::string_view column, std::string_view v,
                               std::int64_t since_ms) override {
    auto sql = total_sql(column);
    if (!sql) return std::unexpected(sql.error());
    std::lock_guard lock(mutex_);
    auto r = query(*sql, Params::of(v, since_ms));
    if (!r) return std::unexpected(r.error());
    UsageRow u = usage_row(*r, 0, 0);
    u.group = clean_text(v);
    return u;
  }

  core::Result<std::int64_t> count_events() override {
    std::lock_guard lock(mutex_);
    auto r = query("SELECT count(*) FROM ledger", {});
    if (!r) return std::unexpected(r.error());
    return int_value(*r, 0, 0);
  }

 private:
  std::unexpected<core::Error> error(std::string_view what, const PGresult* r) {
    std::string msg = r ? pq().resultErrorMessage(r) : pq().errorMessage(conn_.get());
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return core::fail(core::ErrorKind::unavailable,
                      "postgres " + std::string(what) + ": " + clean_text(msg));
  }

  core::Result<void> insert(std::span<const LedgerEvent> events) {
    if (!insert_prepared_) {
      Res r(pq().prepare(conn_.get(), kInsertStatement, kInsertSql, 0, nullptr));
      if (!r || pq().resultStatus(r.get()) != PGRES_COMMAND_OK) return error("prepare", r.get());
      insert_prepared_ = true;
    }
    auto p = ledger_arrays(events);
    auto ptrs = p.pointers();
    Res r(pq().execPrepared(conn_.get(), kInsertStatement, static_cast<int>(ptrs.size()),
                            ptrs.data(), nullptr, nullptr, 0));
    if (!r || pq().resultStatus(r.get()) != PGRES_COMMAND_OK) return error("append", r.get());
    return {};
  }

  core::Result<Res> query(const std::string& sql, const Params& p) {
    auto ptrs = p.pointers();
    Res r(pq().execParams(conn_.get(), sql.c_str(), static_cast<int>(ptrs.size()), nullptr,
                          ptrs.data(), nullptr, nullptr, 0));
    auto st = r ? pq().resultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return error("query", r.get());
    return r;
  }

  // A script of one or more statements without parameters.
  core::Result<void> exec(const std::string& sql) {
    Res r(pq().exec(conn_.get(), sql.c_str()));
    auto st = r ? pq().resultStatus(r.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) return error("exec", r.get());
    return {};
  }

  core::Result<int> current_version() {
    auto r = query("SELECT to_regclass('schema_version') IS NOT NULL", {});
    if (!r) return std::unexpected(r.error());
    if (value(*r, 0, 0) != "t") return 0;
    auto v = query("SELECT coalesce(max(version), 0) FROM schema_version", {});
    if (!v) return std::unexpected(v.error());
    return static_cast<int>(int_value(*v, 0, 0));
  }

  core::Result<void> bump_keys_version() {
    return exec("UPDATE meta SET value = value + 1 WHERE name = 'keys_version'");
  }

  template <class Fn>
  core::Result<void> transaction(Fn&& fn) {
    if (auto b = exec("BEGIN"); !b) return b;
    auto r = fn();
    if (r) r = exec("COMMIT");
    if (!r) exec("ROLLBACK");
    return r;
  }

  Conn conn_;
  std::mutex mutex_;
  bool insert_prepared_ = false;
};

void ignore_notice(void*, const char*) {}

}  // namespace

core::Result<std::unique_ptr<Store>> open_postgres(const std::string& conninfo) {
  if (auto lib = load_libpq(); !lib) return std::unexpected(lib.error());
  // The URI's own connect_timeout, if any, overrides this default (later keywords win).
  const char* keys[] = {"connect_timeout", "dbname", nullptr};
  const char* values[] = {"5", conninfo.c_str(), nullptr};
  Conn conn(pq().connectdbParams(keys, values, 1));
  if (!conn || pq().status(conn.get()) != CONNECTION_OK) {
    std::string msg = conn ? pq().errorMessage(conn.get()) : "out of memory";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return core::fail(core::ErrorKind::unavailable, "postgres connect: " + clean_text(msg));
  }
  // "relation already exists, skipping" and the like must not reach stderr.
  pq().setNoticeProcessor(conn.get(), ignore_notice, nullptr);
  return std::make_unique<PostgresStore>(std::move(conn));
}

}  // namespace stratus::store::detail
