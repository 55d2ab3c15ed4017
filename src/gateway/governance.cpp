// Governance state shared by the workers: the key ring, budgets preloaded from the ledger, the
// ledger writer and the admin API's store calls.
#include "gateway/governance.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>

namespace stratus::gateway {

namespace json = boost::json;
using core::Error;
using core::ErrorKind;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::int64_t> parse_since(std::string_view text) {
  if (text == "all") return std::int64_t{0};
  if (text.size() < 2) return std::nullopt;
  long n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc{} || end != text.data() + text.size() - 1 || n < 0) return std::nullopt;
  switch (text.back()) {
    case 's':
      return n * 1000L;
    case 'm':
      return n * 60'000L;
    case 'h':
      return n * 3'600'000L;
    case 'd':
      return n * 86'400'000L;
    default:
      return std::nullopt;
  }
}

namespace {

std::string default_journal(const config::StoreConfig& s, const std::string& url) {
  if (!s.journal.empty()) return s.journal;
  constexpr std::string_view sqlite = "sqlite://";
  if (url.starts_with(sqlite)) return url.substr(sqlite.size()) + ".journal";
  return "stratus-ledger.journal";
}

governance::KeyInfo key_info(const store::KeyRecord& r) {
  governance::KeyInfo k;
  k.id = r.id;
  k.name = r.name;
  k.team = r.team;
  k.salt = r.salt;
  k.hash = r.hash;
  k.models = r.models;
  k.rpm = static_cast<long>(r.rpm);
  k.tpm = static_cast<long>(r.tpm);
  k.budget_usd = r.budget_usd;
  k.budget_period = governance::parse_period(r.budget_period).value_or(governance::Period::month);
  k.max_task_calls = static_cast<long>(r.max_task_calls);
  k.max_task_usd = r.max_task_usd;
  k.expires_ms = r.expires_ms;
  k.revoked_ms = r.revoked_ms;
  return k;
}

json::object key_json(const store::KeyRecord& r) {
  json::array models;
  for (auto& m : r.models) models.emplace_back(m);
  return json::object{{"id", r.id},
                      {"name", r.name},
                      {"team", r.team},
                      {"models", std::move(models)},
                      {"rpm", r.rpm},
                      {"tpm", r.tpm},
                      {"budget_usd", r.budget_usd},
                      {"budget_period", r.budget_period},
                      {"max_task_calls", r.max_task_calls},
                      {"max_task_usd", r.max_task_usd},
                      {"created_ms", r.created_ms},
                      {"expires_ms", r.expires_ms},
                      {"revoked_ms", r.revoked_ms}};
}

Error bad(std::string message, std::string param = {}) {
  return Error::make(ErrorKind::invalid_request, std::move(message), std::move(param));
}

}  // namespace

std::unique_ptr<Governance> Governance::start(const config::Config& cfg) {
  const bool limits = std::any_of(cfg.models.begin(), cfg.models.end(), [](const auto& m) {
    return m.limits.rpm > 0 || m.limits.tpm > 0;
  });
  if (cfg.auth.master_key.empty() && cfg.store.url.empty() && !limits) return nullptr;
  return std::make_unique<Governance>(cfg);
}

Governance::Governance(const config::Config& cfg)
    : url_(cfg.store.url.empty() ? "sqlite://stratus.db" : cfg.store.url), teams_(cfg.teams) {
  if (cfg.auth.master_key.empty() && cfg.store.url.empty()) {
    url_.clear();  // alias limits only: no keys, no ledger, no store
    return;
  }
  store::LedgerWriter::Options o;
  o.journal_path = default_journal(cfg.store, url_);
  ledger_ =
      std::make_unique<store::LedgerWriter>([url = url_] { return store::open_store(url); }, o);
  {
    std::lock_guard lock(store_mutex_);
    if (auto r = refresh_keys_locked(); !r) {
      spdlog::warn("governance: the store is not available yet ({}); keys load when it is",
                   r.error().message);
    }
  }
  poller_ = std::thread([this] { poll_loop(); });
}

Governance::~Governance() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (poller_.joinable()) poller_.join();
  admin_pool_.join();
  if (ledger_) ledger_->stop();
}

void Governance::poll_loop() {
  std::unique_lock lock(stop_mutex_);
  while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_; })) {
    lock.unlock();
    {
      std::lock_guard store_lock(store_mutex_);
      (void)refresh_keys_locked();  // a store that is down is retried at the next tick
    }
    lock.lock();
  }
}

core::Result<void> Governance::refresh_keys() {
  std::lock_guard lock(store_mutex_);
  keys_version_ = -1;  // read even if the version did not move (same-process writes)
  return refresh_keys_locked();
}

core::Result<void> Governance::refresh_keys_locked() {
  if (url_.empty()) {
    return std::unexpected(
        Error::make(ErrorKind::not_found, "no store: set auth.master_key or store.url"));
  }
  if (!store_) {
    auto s = store::open_store(url_);
    if (!s) return std::unexpected(s.error());
    if (auto m = (*s)->migrate(); !m) return std::unexpected(m.error());
    store_ = std::move(*s);
  }
  auto version = store_->keys_version();
  if (!version) {
    store_.reset();  // reconnect next time
    return std::unexpected(version.error());
  }
  if (*version == keys_version_) return {};
  auto records = store_->keys();
  if (!records) {
    store_.reset();
    return std::unexpected(records.error());
  }
  std::vector<governance::KeyInfo> infos;
  infos.reserve(records->size());
  const auto now = unix_ms();
  for (const auto& r : *records) {
    infos.push_back(key_info(r));
    // Budgets carry on from what the ledger already holds for this period.
    const auto& k = infos.back();
    std::string scope = "key:" + k.id;
    if (k.budget_usd > 0 && !preloaded_.contains(scope)) {
      auto since = governance::period_bounds(k.budget_period, now).start_ms;
      if (auto t = store_->total("key_id", k.id, since)) {
        governor_.budgets().preload(scope, k.budget_period, t->cost_usd, now);
        preloaded_.insert(scope);
      }
    }
  }
  for (const auto& team : teams_) {
    std::string scope = "team:" + team.name;
    if (team.budget_usd <= 0 || preloaded_.contains(scope)) continue;
    auto period = governance::parse_period(team.budget_period).value_or(governance::Period::month);
    if (auto t =
            store_->total("team", team.name, governance::period_bounds(period, now).start_ms)) {
      governor_.budgets().preload(scope, period, t->cost_usd, now);
      preloaded_.insert(scope);
    }
  }
  ring_.store(std::make_shared<const governance::KeyRing>(std::move(infos)));
  keys_version_ = *version;
  return {};
}

core::Result<json::object> Governance::create_key(const json::object& req) {
  store::KeyRecord r;
  auto text = [&](std::string_view field, std::string& out) -> core::Result<void> {
    if (auto* v = req.if_contains(field); v && !v->is_null()) {
      if (!v->is_string()) return std::unexpected(bad(std::string(field) + " must be a string"));
      out = std::string(v->as_string());
    }
    return {};
  };
  auto number = [&](std::string_view field, double& out) -> core::Result<void> {
    if (auto* v = req.if_contains(field); v && !v->is_null()) {
      if (!v->is_number() || v->to_number<double>() < 0) {
        return std::unexpected(bad(std::string(field) + " must be a number >= 0"));
      }
      out = v->to_number<double>();
    }
    return {};
  };
  if (auto e = text("name", r.name); !e) return std::unexpected(e.error());
  if (r.name.empty()) return std::unexpected(bad("name is required", "name"));
  if (auto e = text("team", r.team); !e) return std::unexpected(e.error());
  if (auto e = text("budget_period", r.budget_period); !e) return std::unexpected(e.error());
  double rpm = 0, tpm = 0, calls = 0;
  for (auto [field, out] :
       {std::pair{"rpm", &rpm}, std::pair{"tpm", &tpm}, std::pair{"budget_usd", &r.budget_usd},
        std::pair{"max_task_calls", &calls}, std::pair{"max_task_usd", &r.max_task_usd}}) {
    if (auto e = number(field, *out); !e) return std::unexpected(e.error());
  }
  r.rpm = static_cast<std::int64_t>(rpm);
  r.tpm = static_cast<std::int64_t>(tpm);
  r.max_task_calls = static_cast<std::int64_t>(calls);
  if (!r.budget_period.empty() && !governance::parse_period(r.budget_period)) {
    return std::unexpected(bad("budget_period must be day or month", "budget_period"));
  }
  if (r.budget_usd > 0 && r.budget_period.empty()) r.budget_period = "month";
  if (auto* m = req.if_contains("models"); m && !m->is_null()) {
    if (!m->is_array()) return std::unexpected(bad("models must be a list of model names"));
    for (auto& v : m->as_array()) {
      if (!v.is_string()) return std::unexpected(bad("models must be a list of model names"));
      r.models.emplace_back(v.as_string());
    }
  }
  r.created_ms = unix_ms();
  std::string expires;
  if (auto e = text("expires", expires); !e) return std::unexpected(e.error());
  if (!expires.empty()) {
    auto ms = parse_since(expires);
    if (!ms || *ms == 0) return std::unexpected(bad("expires must look like 30d, 12h or 90m"));
    r.expires_ms = r.created_ms + *ms;
  }
  std::lock_guard lock(store_mutex_);
  if (!store_) {
    if (auto e = refresh_keys_locked(); !e) return std::unexpected(e.error());
  }
  auto existing = store_->keys();
  if (!existing) return std::unexpected(existing.error());
  for (auto& k : *existing) {
    if (k.name == r.name && k.revoked_ms == 0) {
      return std::unexpected(bad("a key named '" + r.name + "' exists already", "name"));
    }
  }
  std::optional<governance::NewKey> fresh;
  for (int i = 0; i < 8 && !fresh; ++i) {
    fresh = governance::generate_key();
    for (auto& k : *existing) {
      if (fresh && k.id == fresh->id) fresh.reset();  // an id clash: draw again
    }
  }
  if (!fresh) return std::unexpected(Error::make(ErrorKind::internal, "cannot generate a key"));
  r.id = fresh->id;
  r.salt = fresh->salt;
  r.hash = fresh->hash;
  if (auto e = store_->put_key(r); !e) return std::unexpected(e.error());
  keys_version_ = -1;
  (void)refresh_keys_locked();
  auto out = key_json(r);
  out["key"] = fresh->key;
  return out;
}

core::Result<json::array> Governance::list_keys() {
  std::lock_guard lock(store_mutex_);
  if (!store_) {
    if (auto e = refresh_keys_locked(); !e) return std::unexpected(e.error());
  }
  auto keys = store_->keys();
  if (!keys) return std::unexpected(keys.error());
  json::array out;
  for (auto& k : *keys) out.emplace_back(key_json(k));
  return out;
}

core::Result<std::string> Governance::revoke_key(std::string_view id_or_name) {
  std::lock_guard lock(store_mutex_);
  if (!store_) {
    if (auto e = refresh_keys_locked(); !e) return std::unexpected(e.error());
  }
  auto keys = store_->keys();
  if (!keys) return std::unexpected(keys.error());
  std::string id;
  for (auto& k : *keys) {
    if ((k.id == id_or_name || k.name == id_or_name) && (id.empty() || k.revoked_ms == 0))
      id = k.id;
  }
  auto done = store_->revoke_key(id_or_name, unix_ms());
  if (!done) return std::unexpected(done.error());
  if (!*done || id.empty()) {
    return std::unexpected(Error::make(ErrorKind::not_found,
                                       "no key with id or name '" + std::string(id_or_name) + "'"));
  }
  keys_version_ = -1;
  (void)refresh_keys_locked();  // every worker refuses it from now on
  return id;
}

core::Result<json::object> Governance::usage(std::string_view group_by, std::string_view since,
                                             std::size_t limit) {
  auto by = store::parse_group_by(group_by.empty() ? "key" : group_by);
  if (!by) return std::unexpected(bad("group_by must be key, team, model, provider, day or task"));
  auto window = parse_since(since.empty() ? "7d" : since);
  if (!window) return std::unexpected(bad("since must look like 7d, 24h, 30m or all", "since"));
  const std::int64_t since_ms = *window == 0 ? 0 : unix_ms() - *window;
  if (ledger_) ledger_->flush();  // what was answered so far is counted
  std::lock_guard lock(store_mutex_);
  if (!store_) {
    if (auto e = refresh_keys_locked(); !e) return std::unexpected(e.error());
  }
  auto rows = store_->usage(*by, since_ms, limit);
  if (!rows) return std::unexpected(rows.error());
  json::array out;
  for (auto& r : *rows) {
    out.emplace_back(json::object{{"group", r.group},
                                  {"requests", r.requests},
                                  {"prompt_tokens", r.prompt_tokens},
                                  {"cached_tokens", r.cached_tokens},
                                  {"completion_tokens", r.completion_tokens},
                                  {"cost_usd", r.cost_usd}});
  }
  return json::object{
      {"group_by", store::group_by_name(*by)}, {"since_ms", since_ms}, {"rows", std::move(out)}};
}

json::object Governance::flush() {
  if (!ledger_) return json::object{{"ledger", "off"}};
  ledger_->flush();
  auto s = ledger_->stats();
  return json::object{{"submitted", s.submitted}, {"written", s.written},
                      {"journaled", s.journaled}, {"replayed", s.replayed},
                      {"pending", s.pending},     {"in_journal", s.in_journal},
                      {"dropped", s.dropped},     {"store_up", s.store_up}};
}

}  // namespace stratus::gateway
