// Flag validation and output of `stratus keys` and `stratus usage`.
#include "cli/govern.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>

#include "cli/table.h"

namespace stratus::cli {

namespace json = boost::json;

namespace {

constexpr std::string_view kDefaultStoreUrl = "sqlite://stratus.db";
// What an unset variable becomes on the lenient second load: a value most fields accept (an
// http URL of 16+ characters), and one no real store.url contains.
constexpr std::string_view kUnsetPlaceholder = "http://stratus-unset-variable.invalid";
constexpr double kMaxUsd = 1e9;  // budgets are kept in nano-dollars: stay far from overflow
constexpr std::size_t kMaxName = 128;

std::expected<double, std::string> usd_flag(std::string_view flag, std::string_view text) {
  auto v = parse_positive_number(text);
  if (!v)
    return std::unexpected(fmt::format("{} needs a positive amount in US$: {}", flag, v.error()));
  if (*v > kMaxUsd) return std::unexpected(fmt::format("{} must be at most {}", flag, kMaxUsd));
  return *v;
}

std::expected<long, std::string> count_flag(std::string_view flag, std::string_view text) {
  auto v = parse_positive_int(text);
  if (!v)
    return std::unexpected(fmt::format("{} needs a positive whole number: {}", flag, v.error()));
  return *v;
}

bool has_control(std::string_view s) {
  return std::ranges::any_of(
      s, [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; });
}

std::expected<std::string, std::string> label_flag(std::string_view flag, std::string_view text) {
  if (text.empty() || text.find_first_not_of(' ') == std::string_view::npos) {
    return std::unexpected(fmt::format("{} must not be empty", flag));
  }
  if (text.size() > kMaxName) {
    return std::unexpected(fmt::format("{} is longer than {} characters", flag, kMaxName));
  }
  if (has_control(text)) {
    return std::unexpected(fmt::format("{} must not contain control characters", flag));
  }
  return std::string(text);
}

// Whether an allow-list entry ("*", "gpt-4o", "gpt-4o*") names some alias of the config.
bool matches_some_alias(std::string_view entry, const config::Config& cfg) {
  if (entry == "*") return true;
  const bool prefix = entry.size() > 1 && entry.back() == '*';
  const auto stem = prefix ? entry.substr(0, entry.size() - 1) : entry;
  return std::ranges::any_of(cfg.models, [&](const config::Model& m) {
    return prefix ? std::string_view(m.name).starts_with(stem) : m.name == entry;
  });
}

std::string limit_text(std::int64_t v) { return v > 0 ? std::to_string(v) : "-"; }

std::string budget_text(const store::KeyRecord& k) {
  if (k.budget_usd <= 0) return "-";
  return format_money(k.budget_usd) + "/" + (k.budget_period.empty() ? "month" : k.budget_period);
}

std::string task_limits_text(const store::KeyRecord& k) {
  std::vector<std::string> parts;
  if (k.max_task_calls > 0) parts.push_back(fmt::format("{} calls", k.max_task_calls));
  if (k.max_task_usd > 0) parts.push_back(format_money(k.max_task_usd));
  return parts.empty() ? "-" : fmt::format("{}", fmt::join(parts, ", "));
}

std::string models_text(const store::KeyRecord& k) {
  return k.models.empty() ? "all" : fmt::format("{}", fmt::join(k.models, ","));
}

// JSON text with plain decimals (Boost.JSON writes 5.0 as "5E0"; people read --json too):
// doubles in fmt's shortest round-trip form, the rest through Boost.JSON.
void write_json(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::double_:
      out += std::isfinite(v.get_double()) ? fmt::format("{}", v.get_double()) : "null";
      return;
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [name, item] : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += json::serialize(json::string(name));
        out += ':';
        write_json(item, out);
      }
      out += '}';
      return;
    }
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        write_json(item, out);
      }
      out += ']';
      return;
    }
    default:
      out += json::serialize(v);
  }
}

std::string json_text(const json::value& v) {
  std::string out;
  write_json(v, out);
  return out;
}

json::object key_object(const store::KeyRecord& k, std::int64_t now_ms) {
  json::array models;
  for (const auto& m : k.models) models.emplace_back(m);
  return json::object{
      {"id", k.id},
      {"name", k.name},
      {"team", k.team},
      {"models", std::move(models)},
      {"rpm", k.rpm},
      {"tpm", k.tpm},
      {"budget_usd", k.budget_usd},
      {"budget_period", k.budget_period},
      {"max_task_calls", k.max_task_calls},
      {"max_task_usd", k.max_task_usd},
      {"created_ms", k.created_ms},
      {"expires_ms", k.expires_ms},
      {"revoked_ms", k.revoked_ms},
      {"status", key_status(k, now_ms)},
  };
}

}  // namespace

std::string store_url(const config::Config& cfg) {
  return cfg.store.url.empty() ? std::string(kDefaultStoreUrl) : cfg.store.url;
}

std::string redact_url(std::string_view url) {
  std::string out(url);
  const auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    const auto start = scheme + 3;
    const auto end = std::min(out.find_first_of("/?#", start), out.size());
    const auto at = out.rfind('@', end);
    if (at != std::string::npos && at >= start) {
      const auto colon = out.find(':', start);
      if (colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  for (auto pos = out.find("password="); pos != std::string::npos;
       pos = out.find("password=", pos + 1)) {
    const auto value = pos + 9;
    const auto stop = std::min(out.find('&', value), out.size());
    out.replace(value, stop - value, "***");
  }
  return out;
}

std::expected<CliConfig, std::string> load_cli_config(const std::string& file,
                                                      const config::EnvLookup& env) {
  auto strict = config::load_file(file, env);
  if (strict) return CliConfig{std::move(*strict), {}};
  std::set<std::string> unset;
  const config::EnvLookup lenient = [&](std::string_view name) -> std::optional<std::string> {
    if (auto v = env(name)) return v;
    unset.emplace(name);
    return std::string(kUnsetPlaceholder);
  };
  auto relaxed = config::load_file(file, lenient);
  if (relaxed && !unset.empty() &&
      relaxed->store.url.find(kUnsetPlaceholder) == std::string::npos) {
    return CliConfig{std::move(*relaxed), {unset.begin(), unset.end()}};
  }
  std::string text;
  for (const auto& p : strict.error()) text += config::format_problem(file, p) + "\n";
  return std::unexpected(text);
}

std::expected<KeyPlan, std::string> plan_key(const KeyFlags& f, const config::Config& cfg,
                                             std::span<const store::KeyRecord> existing,
                                             std::int64_t now_ms) {
  KeyPlan plan;
  auto& k = plan.record;
  auto name = label_flag("--name", f.name);
  if (!name) return std::unexpected(name.error());
  k.name = *name;
  for (const auto& other : existing) {
    if (other.id == k.name) {
      return std::unexpected(fmt::format("--name '{}' is the id of another key", k.name));
    }
    if (other.name == k.name && other.revoked_ms == 0) {
      return std::unexpected(fmt::format(
          "a key named '{}' already exists (id {}, {}); revoke it first or choose another name",
          k.name, other.id, key_status(other, now_ms)));
    }
  }
  if (f.team) {
    auto team = label_flag("--team", *f.team);
    if (!team) return std::unexpected(team.error());
    k.team = *team;
    if (cfg.find_team(k.team) == nullptr) {
      plan.warnings.push_back(fmt::format(
          "team '{}' is not listed under teams: in the config, so no team limits or budget "
          "apply to it",
          k.team));
    }
  }
  if (f.models) {
    k.models = split_list(*f.models);
    if (k.models.empty()) {
      return std::unexpected("--models needs at least one model alias (a,b; '*' for all)");
    }
    for (const auto& m : k.models) {
      if (has_control(m)) return std::unexpected("--models must not contain control characters");
      if (!matches_some_alias(m, cfg)) {
        plan.warnings.push_back(fmt::format("model '{}' matches no alias of the config", m));
      }
    }
  }
  if (f.rpm) {
    auto v = count_flag("--rpm", *f.rpm);
    if (!v) return std::unexpected(v.error());
    k.rpm = *v;
  }
  if (f.tpm) {
    auto v = count_flag("--tpm", *f.tpm);
    if (!v) return std::unexpected(v.error());
    k.tpm = *v;
  }
  if (f.budget_period && !f.budget_usd) {
    return std::unexpected("--budget-period needs --budget-usd");
  }
  if (f.budget_usd) {
    auto v = usd_flag("--budget-usd", *f.budget_usd);
    if (!v) return std::unexpected(v.error());
    k.budget_usd = *v;
    k.budget_period = f.budget_period.value_or("month");
    if (k.budget_period != "day" && k.budget_period != "month") {
      return std::unexpected(fmt::format("--budget-period must be day or month, not '{}'",
                                         printable(k.budget_period)));
    }
  }
  if (f.max_task_calls) {
    auto v = count_flag("--max-task-calls", *f.max_task_calls);
    if (!v) return std::unexpected(v.error());
    k.max_task_calls = *v;
  }
  if (f.max_task_usd) {
    auto v = usd_flag("--max-task-usd", *f.max_task_usd);
    if (!v) return std::unexpected(v.error());
    k.max_task_usd = *v;
  }
  k.created_ms = now_ms;
  if (f.expires) {
    auto d = parse_duration_ms(*f.expires);
    if (!d) return std::unexpected("--expires: " + d.error());
    if (*d > std::numeric_limits<std::int64_t>::max() - now_ms) {
      return std::unexpected("--expires is too far in the future");
    }
    k.expires_ms = now_ms + *d;
  }
  return plan;
}

std::string_view key_status(const store::KeyRecord& k, std::int64_t now_ms) {
  if (k.revoked_ms != 0) return "revoked";
  if (k.expires_ms != 0 && k.expires_ms <= now_ms) return "expired";
  return "active";
}

std::string key_json(const store::KeyRecord& k, std::int64_t now_ms) {
  return json_text(key_object(k, now_ms));
}

std::string created_key_json(std::string_view secret, const store::KeyRecord& k,
                             std::int64_t now_ms) {
  json::object o{{"key", secret}};
  for (auto& [name, value] : key_object(k, now_ms)) o.emplace(name, value);
  return json_text(o);
}

std::string keys_json(std::span<const store::KeyRecord> keys, std::int64_t now_ms) {
  json::array out;
  for (const auto& k : keys) out.emplace_back(key_object(k, now_ms));
  return json_text(json::object{{"keys", std::move(out)}});
}

std::string keys_table(std::span<const store::KeyRecord> keys, std::int64_t now_ms) {
  using A = Table::Align;
  Table t({{"ID"},
           {"NAME"},
           {"TEAM"},
           {"MODELS"},
           {"RPM", A::right},
           {"TPM", A::right},
           {"BUDGET", A::right},
           {"TASK LIMITS"},
           {"CREATED (UTC)"},
           {"EXPIRES (UTC)"},
           {"STATUS"}});
  std::vector<const store::KeyRecord*> sorted;
  for (const auto& k : keys) sorted.push_back(&k);
  std::ranges::stable_sort(sorted, {}, [](const store::KeyRecord* k) { return k->created_ms; });
  for (const auto* k : sorted) {
    t.add({k->id, k->name, k->team.empty() ? "-" : k->team, models_text(*k), limit_text(k->rpm),
           limit_text(k->tpm), budget_text(*k), task_limits_text(*k),
           format_utc_minute(k->created_ms),
           k->expires_ms == 0 ? "never" : format_utc_minute(k->expires_ms),
           std::string(key_status(*k, now_ms))});
  }
  return t.render();
}

std::string key_summary(const store::KeyRecord& k) {
  std::string out = fmt::format("id {}  name {}  team {}\n", k.id, printable(k.name),
                                k.team.empty() ? "-" : printable(k.team));
  out += fmt::format("models {}  rpm {}  tpm {}  budget {}  task limits {}\n",
                     printable(models_text(k)), limit_text(k.rpm), limit_text(k.tpm),
                     budget_text(k), task_limits_text(k));
  out += fmt::format("expires {}\n", k.expires_ms == 0 ? std::string("never")
                                                       : format_utc_minute(k.expires_ms) + " UTC");
  return out;
}

namespace {

struct UsageSlice {
  std::vector<store::UsageRow> shown;
  std::optional<store::UsageRow> others;  // the groups --top left out, summed
  store::UsageRow total;
  std::size_t groups = 0;
};

void add_to(store::UsageRow& sum, const store::UsageRow& r) {
  sum.requests += r.requests;
  sum.prompt_tokens += r.prompt_tokens;
  sum.cached_tokens += r.cached_tokens;
  sum.completion_tokens += r.completion_tokens;
  sum.cost_usd += r.cost_usd;
  if (r.first_ms != 0 && (sum.first_ms == 0 || r.first_ms < sum.first_ms))
    sum.first_ms = r.first_ms;
  sum.last_ms = std::max(sum.last_ms, r.last_ms);
}

UsageSlice slice(const UsageReport& r, std::span<const store::UsageRow> rows) {
  UsageSlice s;
  std::vector<store::UsageRow> kept;
  for (const auto& row : rows) {
    if (r.by == store::GroupBy::task && row.group.empty()) continue;
    kept.push_back(row);
    add_to(s.total, row);
  }
  s.groups = kept.size();
  if (r.top == 0 || kept.size() <= r.top) {
    s.shown = std::move(kept);
    return s;
  }
  // Days come oldest first: the latest `top` are the last ones.
  const bool latest = r.by == store::GroupBy::day;
  const auto cut = latest ? kept.end() - static_cast<std::ptrdiff_t>(r.top)
                          : kept.begin() + static_cast<std::ptrdiff_t>(r.top);
  s.others = store::UsageRow{};
  s.others->group = fmt::format("others ({})", kept.size() - r.top);
  const auto [left_from, left_to] =
      latest ? std::pair{kept.begin(), cut} : std::pair{cut, kept.end()};
  for (auto it = left_from; it != left_to; ++it) add_to(*s.others, *it);
  s.shown = latest ? std::vector(cut, kept.end()) : std::vector(kept.begin(), cut);
  return s;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Sums of many costs carry binary noise (0.0008399999999999998); budgets count nano-dollars.
double nano_rounded(double usd) { return std::round(usd * 1e9) / 1e9; }

json::object usage_object(const store::UsageRow& row) {
  json::object o{{"group", row.group}};
  const json::object counts{{"requests", row.requests},
                            {"prompt_tokens", row.prompt_tokens},
                            {"cached_tokens", row.cached_tokens},
                            {"completion_tokens", row.completion_tokens},
                            {"cost_usd", nano_rounded(row.cost_usd)},
                            {"first_ms", row.first_ms},
                            {"last_ms", row.last_ms}};
  for (const auto& [name, value] : counts) o.emplace(name, value);
  return o;
}

json::object total_object(const store::UsageRow& row) {
  auto o = usage_object(row);
  json::object out;
  for (const auto& [name, value] : o) {
    if (name != "group") out.emplace(name, value);
  }
  return out;
}

}  // namespace

std::string usage_table(const UsageReport& r, std::span<const store::UsageRow> rows) {
  using A = Table::Align;
  const bool by_key = r.by == store::GroupBy::key;
  const bool by_task = r.by == store::GroupBy::task;
  std::vector<Table::Column> cols{{upper(store::group_by_name(r.by))}};
  if (by_key) cols.push_back({"NAME"});
  for (const auto* title : {"REQUESTS", "PROMPT", "CACHED", "COMPLETION"}) {
    cols.push_back({title, A::right});
  }
  if (by_task) cols.push_back({"WALL", A::right});
  cols.push_back({"COST USD", A::right});
  Table t(std::move(cols));
  const auto line = [&](const store::UsageRow& row, std::string label, bool named) {
    std::vector<std::string> cells{std::move(label)};
    if (by_key) {
      const auto it = r.key_names.find(row.group);
      cells.push_back(named && it != r.key_names.end() ? it->second : "");
    }
    for (const auto v :
         {row.requests, row.prompt_tokens, row.cached_tokens, row.completion_tokens}) {
      cells.push_back(std::to_string(v));
    }
    if (by_task) cells.push_back(named ? format_span_ms(row.last_ms - row.first_ms) : "");
    cells.push_back(fmt::format("{:.6f}", row.cost_usd));
    t.add(std::move(cells));
  };
  const auto s = slice(r, rows);
  for (const auto& row : s.shown) line(row, row.group.empty() ? "(none)" : row.group, true);
  if (s.others) line(*s.others, s.others->group, false);
  t.add_rule();
  line(s.total, fmt::format("total ({} {})", s.groups, s.groups == 1 ? "group" : "groups"), false);
  return t.render();
}

std::string usage_json(const UsageReport& r, std::span<const store::UsageRow> rows) {
  const auto s = slice(r, rows);
  json::array out;
  for (const auto& row : s.shown) {
    auto o = usage_object(row);
    if (r.by == store::GroupBy::key) {
      const auto it = r.key_names.find(row.group);
      o["name"] = it != r.key_names.end() ? it->second : "";
    }
    out.emplace_back(std::move(o));
  }
  auto total = total_object(s.total);
  json::object doc{{"group_by", store::group_by_name(r.by)},
                   {"since_ms", r.since_ms},
                   {"groups", s.groups},
                   {"rows", std::move(out)},
                   {"total", std::move(total)}};
  if (s.others) {
    auto others = usage_object(*s.others);
    others["group"] = "others";
    doc["others"] = std::move(others);
  }
  return json_text(doc);
}

}  // namespace stratus::cli
