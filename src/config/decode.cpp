// Turns YAML into a validated Config, collecting every problem with the place it was found.
#include <fmt/format.h>
#include <fmt/ranges.h>  // fmt::join lives here from fmt 11 on
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <set>
#include <span>
#include <tuple>

#include "config/config.h"

namespace stratus::config {
namespace {

using Keys = std::span<const std::string_view>;

constexpr std::string_view kTopKeys[] = {"server", "providers", "models", "auth", "store", "teams"};
constexpr std::string_view kAuthKeys[] = {"master_key"};
constexpr std::string_view kStoreKeys[] = {"url", "journal"};
constexpr std::string_view kTeamKeys[] = {"name", "rpm", "tpm", "budget_usd", "budget_period"};
constexpr std::string_view kLimitKeys[] = {"rpm", "tpm"};
constexpr std::string_view kServerKeys[] = {
    "listen",           "workers",           "max_body_bytes",
    "max_header_bytes", "header_timeout_ms", "idle_timeout_ms",
    "max_connections",  "drain_timeout_ms",  "access_log"};
constexpr std::string_view kProviderKeys[] = {"name",
                                              "type",
                                              "base_url",
                                              "api_key",
                                              "headers",
                                              "ca_file",
                                              "max_connections",
                                              "timeouts",
                                              "region",
                                              "project",
                                              "api_version",
                                              "resource",
                                              "aws_access_key_id",
                                              "aws_secret_access_key",
                                              "aws_session_token",
                                              "health_check"};
constexpr std::string_view kTimeoutKeys[] = {"connect_ms", "first_byte_ms", "idle_ms", "total_ms"};
constexpr std::string_view kModelKeys[] = {
    "name",  "strategy", "deployments", "fallbacks", "context_window_fallbacks",
    "retry", "breaker",  "timeouts",    "hedge",     "limits"};
constexpr std::string_view kDeploymentKeys[] = {"provider", "model", "priority", "weight", "price"};
constexpr std::string_view kPriceKeys[] = {"input", "cached_input", "output"};
constexpr std::string_view kRetryKeys[] = {"attempts",     "backoff_ms", "max_backoff_ms",
                                           "budget_ratio", "budget_min", "budget_window_s"};
constexpr std::string_view kBreakerKeys[] = {"failures", "failure_ratio", "min_requests",
                                             "window_s", "cooldown_ms"};
constexpr std::string_view kModelTimeoutKeys[] = {"connect_ms", "first_token_ms", "idle_ms",
                                                  "total_ms"};
constexpr std::string_view kHedgeKeys[] = {"after_ms"};
constexpr std::string_view kHealthKeys[] = {"interval_ms", "timeout_ms", "model"};
constexpr std::string_view kStrategies[] = {"priority", "weighted", "least-busy", "latency",
                                            "cost"};

constexpr int kMaxInt = std::numeric_limits<int>::max();

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "; did you mean 'x'?" when a known word is within two edits, else nothing.
std::string suggestion(std::string_view word, Keys known) {
  std::string_view best;
  std::size_t best_distance = 3;
  for (const auto candidate : known) {
    if (const auto d = edit_distance(word, candidate); d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best.empty() ? std::string() : fmt::format("; did you mean '{}'?", best);
}

std::string path(std::string_view where, std::string_view key) {
  return fmt::format("{}.{}", where, key);
}

bool present(const YAML::Node& n) { return n.IsDefined() && !n.IsNull(); }

Problem problem_at(const YAML::Mark& mark, std::string message) {
  if (mark.is_null()) return Problem{0, 0, std::move(message)};
  return Problem{mark.line + 1, mark.column + 1, std::move(message)};
}

bool is_header_token(std::string_view name) {
  constexpr std::string_view kSpecials = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::ranges::all_of(name, [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kSpecials.find(c) != kSpecials.npos;
  });
}

// A CR or LF in a header value would let a config value (or an env var) inject headers.
bool is_header_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Walks the YAML tree once, filling a Config and recording every problem on the way.
class Decoder {
 public:
  explicit Decoder(const EnvLookup& env) : env_(env) {}

  Config config(const YAML::Node& root) {
    Config out;
    if (!root.IsNull() && !check_map(root, "the top level", kTopKeys)) return out;
    if (present(root["server"])) out.server = server(root["server"]);
    out.providers = list(root["providers"], "providers", &Decoder::provider);
    out.models = list(root["models"], "models", &Decoder::model);
    if (const auto a = root["auth"]; present(a) && check_map(a, "auth", kAuthKeys)) {
      string(a, "master_key", "auth", out.auth.master_key, Need::nonempty);
      if (!out.auth.master_key.empty() && out.auth.master_key.size() < 16) {
        report(a["master_key"], "auth.master_key must be at least 16 characters");
      }
    }
    if (const auto st = root["store"]; present(st) && check_map(st, "store", kStoreKeys)) {
      string(st, "url", "store", out.store.url, Need::nonempty);
      string(st, "journal", "store", out.store.journal, Need::nonempty);
      const auto& u = out.store.url;
      if (!u.empty() && !u.starts_with("sqlite://") && !u.starts_with("postgres://") &&
          !u.starts_with("postgresql://")) {
        report(st["url"], fmt::format("store.url '{}' must start with sqlite://, postgres:// or "
                                      "postgresql://",
                                      u));
      }
    }
    if (const auto t = root["teams"]; present(t)) {
      out.teams = list(t, "teams", &Decoder::team);
      std::set<std::string> names;
      for (std::size_t i = 0; i < out.teams.size(); ++i) {
        if (!out.teams[i].name.empty() && !names.insert(out.teams[i].name).second) {
          report(t[i], fmt::format("duplicate team '{}'", out.teams[i].name));
        }
      }
    }
    return out;
  }

  std::vector<Problem> take_problems() { return std::move(problems_); }

 private:
  void report(const YAML::Node& at, std::string message) {
    problems_.push_back(
        problem_at(at.IsDefined() ? at.Mark() : YAML::Mark::null_mark(), std::move(message)));
  }

  // Checks that n is a mapping whose keys are all known and unique.
  bool check_map(const YAML::Node& n, std::string_view where, Keys known) {
    if (!n.IsMap()) {
      report(n, fmt::format("{} must be a mapping", where));
      return false;
    }
    std::map<std::string, int, std::less<>> seen;
    for (const auto& entry : n) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar()) {
        report(key, fmt::format("keys in {} must be strings", where));
        continue;
      }
      const std::string& name = key.Scalar();
      if (std::ranges::find(known, name) == known.end()) {
        report(key, fmt::format("unknown key '{}' in {}{}", name, where, suggestion(name, known)));
      } else if (const auto [it, fresh] = seen.emplace(name, key.Mark().line + 1); !fresh) {
        report(key,
               fmt::format("duplicate key '{}' in {} (first at line {})", name, where, it->second));
      }
    }
    return true;
  }

  template <class T>
  std::vector<T> list(const YAML::Node& n, std::string_view where,
                      T (Decoder::*item)(const YAML::Node&, const std::string&)) {
    std::vector<T> out;
    if (!present(n)) {
      problems_.push_back({0, 0, fmt::format("no {} defined; at least one is required", where)});
      return out;
    }
    if (!n.IsSequence()) {
      report(n, fmt::format("{} must be a list", where));
      return out;
    }
    if (n.size() == 0) report(n, fmt::format("{} is empty; at least one is required", where));
    for (std::size_t i = 0; i < n.size(); ++i) {
      out.push_back((this->*item)(n[i], fmt::format("{}[{}]", where, i)));
    }
    return out;
  }

  // The scalar's text after ${VAR} interpolation; nullopt (and a problem) otherwise.
  std::optional<std::string> text(const YAML::Node& n, std::string_view what) {
    if (!n.IsScalar()) {
      report(n, fmt::format("{} must be a string", what));
      return std::nullopt;
    }
    auto value = interpolate(n.Scalar(), env_);
    if (!value) {
      report(n, fmt::format("{}: {}", what, value.error()));
      return std::nullopt;
    }
    return std::move(*value);
  }

  enum class Need { any, nonempty, required };  // required implies nonempty

  void string(const YAML::Node& map, std::string_view key, std::string_view where, std::string& out,
              Need need) {
    const YAML::Node n = map[std::string(key)];
    if (!present(n)) {
      if (need == Need::required) {
        report(map, fmt::format("{} is missing required key '{}'", where, key));
      }
      return;
    }
    auto value = text(n, path(where, key));
    if (!value) return;
    if (value->empty() && need != Need::any) {
      report(n, fmt::format("{} must not be empty", path(where, key)));
      return;
    }
    out = std::move(*value);
  }

  template <class T>
  void integer(const YAML::Node& map, std::string_view key, std::string_view where, T& out, T min,
               T max) {
    const YAML::Node n = map[std::string(key)];
    if (!present(n)) return;
    const auto what = path(where, key);
    const auto value = text(n, what);
    if (!value) return;
    T parsed{};
    const char* end = value->data() + value->size();
    const auto [stop, ec] = std::from_chars(value->data(), end, parsed);
    if (ec == std::errc{} && stop == end && parsed >= min && parsed <= max) {
      out = parsed;
    } else if (max == std::numeric_limits<T>::max()) {
      report(n, fmt::format("{} must be an integer >= {}, got '{}'", what, min, *value));
    } else {
      report(n,
             fmt::format("{} must be an integer from {} to {}, got '{}'", what, min, max, *value));
    }
  }

  void number(const YAML::Node& map, std::string_view key, std::string_view where, double& out,
              double min, double max) {
    const YAML::Node n = map[std::string(key)];
    if (!present(n)) return;
    const auto what = path(where, key);
    const auto value = text(n, what);
    if (!value) return;
    double parsed = 0;
    const char* end = value->data() + value->size();
    const auto [stop, ec] = std::from_chars(value->data(), end, parsed);
    if (ec == std::errc{} && stop == end && parsed >= min && parsed <= max) {
      out = parsed;
    } else {
      report(n, fmt::format("{} must be a number from {} to {}, got '{}'", what, min, max, *value));
    }
  }

  // A list of model aliases (fallbacks); checked against the models once all are read.
  std::vector<std::string> aliases(const YAML::Node& map, std::string_view key,
                                   std::string_view where) {
    std::vector<std::string> out;
    const YAML::Node n = map[std::string(key)];
    if (!present(n)) return out;
    const auto what = path(where, key);
    if (!n.IsSequence()) {
      report(n, fmt::format("{} must be a list of model names", what));
      return out;
    }
    for (std::size_t i = 0; i < n.size(); ++i) {
      auto name = text(n[i], fmt::format("{}[{}]", what, i));
      if (!name) continue;
      alias_refs_.push_back({*name, n[i].Mark()});
      out.push_back(std::move(*name));
    }
    return out;
  }

  void limits(const YAML::Node& n, std::string_view where, Limits& out) {
    integer<std::int64_t>(n, "rpm", where, out.rpm, 0, std::numeric_limits<std::int64_t>::max());
    integer<std::int64_t>(n, "tpm", where, out.tpm, 0, std::numeric_limits<std::int64_t>::max());
  }

  void budget_period(const YAML::Node& n, std::string_view where, std::string& out) {
    string(n, "budget_period", where, out, Need::nonempty);
    if (!out.empty() && out != "day" && out != "month") {
      report(n["budget_period"],
             fmt::format("{}.budget_period must be day or month, got '{}'", where, out));
    }
  }

  Team team(const YAML::Node& n, const std::string& where) {
    Team t;
    if (!check_map(n, where, kTeamKeys)) return t;
    string(n, "name", where, t.name, Need::required);
    limits(n, where, t.limits);
    number(n, "budget_usd", where, t.budget_usd, 0, 1e12);
    budget_period(n, where, t.budget_period);
    if (t.budget_usd > 0 && t.budget_period.empty()) t.budget_period = "month";
    return t;
  }

  ServerConfig server(const YAML::Node& n) {
    ServerConfig s;
    constexpr std::string_view w = "server";
    if (!check_map(n, w, kServerKeys)) return s;
    string(n, "listen", w, s.listen, Need::nonempty);
    integer(n, "workers", w, s.workers, 0, 1024);
    integer<std::size_t>(n, "max_body_bytes", w, s.max_body_bytes, 1, SIZE_MAX);
    integer<std::size_t>(n, "max_header_bytes", w, s.max_header_bytes, 1, SIZE_MAX);
    integer(n, "header_timeout_ms", w, s.header_timeout_ms, 1, kMaxInt);
    integer(n, "idle_timeout_ms", w, s.idle_timeout_ms, 1, kMaxInt);
    integer(n, "max_connections", w, s.max_connections, 1, kMaxInt);
    integer(n, "drain_timeout_ms", w, s.drain_timeout_ms, 0, kMaxInt);
    string(n, "access_log", w, s.access_log, Need::nonempty);
    if (const auto hp = parse_listen(s.listen)) {
      s.host = hp->host;
      s.port = hp->port;
    } else {
      report(n["listen"], fmt::format("server.listen: {}", hp.error()));
    }
    return s;
  }

  Timeouts timeouts(const YAML::Node& n, std::string_view where) {
    Timeouts t;
    if (!check_map(n, where, kTimeoutKeys)) return t;
    integer(n, "connect_ms", where, t.connect_ms, 1, kMaxInt);
    integer(n, "first_byte_ms", where, t.first_byte_ms, 1, kMaxInt);
    integer(n, "idle_ms", where, t.idle_ms, 1, kMaxInt);
    integer(n, "total_ms", where, t.total_ms, 1, kMaxInt);
    return t;
  }

  std::map<std::string, std::string> headers(const YAML::Node& n, std::string_view where) {
    std::map<std::string, std::string> out;
    if (!n.IsMap()) {
      report(n, fmt::format("{} must be a mapping of header names to values", where));
      return out;
    }
    for (const auto& entry : n) {
      const YAML::Node& key = entry.first;
      if (!key.IsScalar() || !is_header_token(key.Scalar())) {
        report(key, fmt::format("{} has an invalid header name '{}'", where,
                                key.IsScalar() ? key.Scalar() : ""));
        continue;
      }
      const auto what = path(where, key.Scalar());
      auto value = text(entry.second, what);
      if (!value) continue;
      if (!is_header_value(*value)) {
        report(entry.second, fmt::format("{} must not contain CR, LF or NUL", what));
        continue;
      }
      out[key.Scalar()] = std::move(*value);
    }
    return out;
  }

  Provider provider(const YAML::Node& n, const std::string& where) {
    Provider p;
    if (!check_map(n, where, kProviderKeys)) return p;
    string(n, "name", where, p.name, Need::required);
    if (!p.name.empty()) {
      const auto [it, fresh] = provider_lines_.emplace(p.name, n["name"].Mark().line + 1);
      if (!fresh) {
        report(n["name"], fmt::format("duplicate provider '{}' (first defined at line {})", p.name,
                                      it->second));
      }
    }
    string(n, "type", where, p.type, Need::required);
    if (!p.type.empty() && !is_known_provider_type(p.type)) {
      const auto known = known_provider_types();
      report(n["type"],
             fmt::format("{}: unknown provider type '{}' (known: {}){}", path(where, "type"),
                         p.type, fmt::join(known, ", "), suggestion(p.type, known)));
    }
    const ProviderType* type = find_provider_type(p.type);
    if (type) {
      p.wire = std::string(type->wire);
      p.auth = type->auth;
    }
    string(n, "region", where, p.region, Need::nonempty);
    string(n, "project", where, p.project, Need::nonempty);
    string(n, "api_version", where, p.api_version, Need::nonempty);
    string(n, "aws_access_key_id", where, p.aws.access_key_id, Need::nonempty);
    string(n, "aws_secret_access_key", where, p.aws.secret_access_key, Need::nonempty);
    string(n, "aws_session_token", where, p.aws.session_token, Need::any);
    std::string resource;
    string(n, "resource", where, resource, Need::nonempty);
    if (type && type->wire == "bedrock") aws_defaults(p, n, where);
    if (type && type->needs_region && p.region.empty()) {
      report(n, fmt::format("{}: type '{}' needs 'region'", where, p.type));
    }
    if (type && type->needs_project && p.project.empty()) {
      report(n, fmt::format("{}: type '{}' needs 'project'", where, p.type));
    }
    if (type && type->wire == "azure") {
      if (p.api_version.empty()) p.api_version = "2024-10-21";
      // The v1 API takes a bearer token (Entra ID or key); the dated API an api-key header.
      if (p.api_version == "v1") p.auth = AuthStyle::bearer;
      if (!resource.empty() && !present(n["base_url"])) {
        p.base_url = fmt::format("https://{}.openai.azure.com", resource);
      }
    }
    if (type && type->wire == "anthropic" && p.api_version.empty()) p.api_version = "2023-06-01";
    const bool has_default = type && !type->default_base_url.empty();
    string(n, "base_url", where, p.base_url,
           has_default || !p.base_url.empty() || !type ? Need::nonempty : Need::required);
    if (p.base_url.empty() && has_default) {
      p.base_url = std::string(type->default_base_url);
      if (p.type == "vertex" && p.region == "global") {
        p.base_url =
            "https://aiplatform.googleapis.com";  // the global endpoint has no region prefix
      } else if (auto at = p.base_url.find("{region}"); at != std::string::npos) {
        p.base_url.replace(at, 8, p.region.empty() ? "REGION" : p.region);
      }
    }
    if (!p.base_url.empty()) {
      if (auto url = normalize_base_url(p.base_url)) {
        p.base_url = std::move(*url);
      } else {
        report(present(n["base_url"]) ? n["base_url"] : n,
               fmt::format("{} '{}' {}", path(where, "base_url"), p.base_url, url.error()));
      }
    }
    string(n, "api_key", where, p.api_key, Need::any);
    if (!is_header_value(p.api_key)) {
      report(n["api_key"],
             fmt::format("{} must not contain CR, LF or NUL", path(where, "api_key")));
    }
    if (present(n["headers"])) p.headers = headers(n["headers"], path(where, "headers"));
    string(n, "ca_file", where, p.ca_file, Need::nonempty);
    integer(n, "max_connections", where, p.max_connections, 1, kMaxInt);
    if (present(n["timeouts"])) p.timeouts = timeouts(n["timeouts"], path(where, "timeouts"));
    if (const auto h = n["health_check"]; present(h)) {
      const auto w = path(where, "health_check");
      if (check_map(h, w, kHealthKeys)) {
        integer(h, "interval_ms", w, p.health_check.interval_ms, 0, kMaxInt);
        integer(h, "timeout_ms", w, p.health_check.timeout_ms, 1, kMaxInt);
        string(h, "model", w, p.health_check.model, Need::nonempty);
      }
    }
    return p;
  }

  // Bedrock credentials and region default to the standard AWS environment variables.
  void aws_defaults(Provider& p, const YAML::Node& n, const std::string& where) {
    auto env = [&](std::string_view name) { return env_(name).value_or(""); };
    if (p.region.empty()) p.region = env("AWS_REGION");
    if (p.region.empty()) p.region = env("AWS_DEFAULT_REGION");
    if (p.aws.access_key_id.empty() && p.aws.secret_access_key.empty()) {
      p.aws.access_key_id = env("AWS_ACCESS_KEY_ID");
      p.aws.secret_access_key = env("AWS_SECRET_ACCESS_KEY");
      if (p.aws.session_token.empty()) p.aws.session_token = env("AWS_SESSION_TOKEN");
    }
    if (p.aws.access_key_id.empty() || p.aws.secret_access_key.empty()) {
      report(n, fmt::format("{}: type 'bedrock' needs AWS credentials: set aws_access_key_id and "
                            "aws_secret_access_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                            where));
    }
    for (const auto* v : {&p.aws.access_key_id, &p.aws.secret_access_key, &p.aws.session_token}) {
      if (!is_header_value(*v))
        report(n, fmt::format("{}: AWS credentials must not contain CR, LF or NUL", where));
    }
  }

  Deployment deployment(const YAML::Node& n, const std::string& where) {
    Deployment d;
    if (!check_map(n, where, kDeploymentKeys)) return d;
    string(n, "provider", where, d.provider, Need::required);
    string(n, "model", where, d.model, Need::required);
    if (!d.provider.empty() && !provider_lines_.contains(d.provider)) {
      std::vector<std::string_view> known;
      for (const auto& [name, line] : provider_lines_) known.push_back(name);
      report(n["provider"],
             fmt::format("unknown provider '{}' (known: {})", d.provider,
                         known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", "))));
    }
    integer(n, "priority", where, d.priority, 0, 1000);
    integer(n, "weight", where, d.weight, 0, 1000000);
    if (const auto p = n["price"]; present(p)) {
      const auto w = path(where, "price");
      if (check_map(p, w, kPriceKeys)) {
        Price price;
        for (auto [key, field] :
             {std::pair{"input", &price.input}, std::pair{"cached_input", &price.cached_input},
              std::pair{"output", &price.output}}) {
          if (!present(p[key])) continue;
          double v = 0;
          const auto before = problems_.size();
          number(p, key, w, v, 0, 1e6);
          if (problems_.size() == before) *field = v;
        }
        d.price = price;
      }
    }
    return d;
  }

  Model model(const YAML::Node& n, const std::string& where) {
    Model m;
    if (!check_map(n, where, kModelKeys)) return m;
    string(n, "name", where, m.name, Need::required);
    if (!m.name.empty()) {
      const auto [it, fresh] = model_lines_.emplace(m.name, n["name"].Mark().line + 1);
      if (!fresh) {
        report(n["name"],
               fmt::format("duplicate model '{}' (first defined at line {})", m.name, it->second));
      }
    }
    const auto deployments = n["deployments"];
    if (!present(deployments)) {
      report(n, fmt::format("{} is missing required key 'deployments'", where));
      return m;
    }
    if (const auto st = n["strategy"]; present(st)) {
      const auto w = path(where, "strategy");
      if (auto name = text(st, w)) {
        if (auto parsed = parse_strategy(*name)) {
          m.strategy = *parsed;
        } else {
          report(st, fmt::format("{}: unknown strategy '{}' (known: {}){}", w, *name,
                                 fmt::join(kStrategies, ", "), suggestion(*name, kStrategies)));
        }
      }
    }
    m.fallbacks = aliases(n, "fallbacks", where);
    m.context_window_fallbacks = aliases(n, "context_window_fallbacks", where);
    model_places_.push_back({m.name, n.Mark(), m.fallbacks, m.context_window_fallbacks});
    if (const auto r = n["retry"]; present(r)) {
      const auto w = path(where, "retry");
      if (check_map(r, w, kRetryKeys)) {
        integer(r, "attempts", w, m.retry.attempts, 0, 100);
        integer(r, "backoff_ms", w, m.retry.backoff_ms, 0, kMaxInt);
        integer(r, "max_backoff_ms", w, m.retry.max_backoff_ms, 0, kMaxInt);
        number(r, "budget_ratio", w, m.retry.budget_ratio, 0, 100);
        integer(r, "budget_min", w, m.retry.budget_min, 0, kMaxInt);
        integer(r, "budget_window_s", w, m.retry.budget_window_s, 1, 3600);
      }
    }
    if (const auto b = n["breaker"]; present(b)) {
      const auto w = path(where, "breaker");
      if (check_map(b, w, kBreakerKeys)) {
        integer(b, "failures", w, m.breaker.failures, 1, kMaxInt);
        number(b, "failure_ratio", w, m.breaker.failure_ratio, 0, 1);
        integer(b, "min_requests", w, m.breaker.min_requests, 1, kMaxInt);
        integer(b, "window_s", w, m.breaker.window_s, 1, 3600);
        integer(b, "cooldown_ms", w, m.breaker.cooldown_ms, 1, kMaxInt);
      }
    }
    if (const auto t = n["timeouts"]; present(t)) {
      const auto w = path(where, "timeouts");
      if (check_map(t, w, kModelTimeoutKeys)) {
        optional_ms(t, "connect_ms", w, m.timeouts.connect_ms);
        optional_ms(t, "first_token_ms", w, m.timeouts.first_token_ms);
        optional_ms(t, "idle_ms", w, m.timeouts.idle_ms);
        optional_ms(t, "total_ms", w, m.timeouts.total_ms);
      }
    }
    if (const auto l = n["limits"]; present(l)) {
      const auto w = path(where, "limits");
      if (check_map(l, w, kLimitKeys)) limits(l, w, m.limits);
    }
    if (const auto h = n["hedge"]; present(h)) {
      const auto w = path(where, "hedge");
      if (check_map(h, w, kHedgeKeys)) integer(h, "after_ms", w, m.hedge_after_ms, 0, kMaxInt);
    }
    m.deployments = list(deployments, path(where, "deployments"), &Decoder::deployment);
    std::set<std::pair<std::string, std::string>> seen;
    for (std::size_t i = 0; i < m.deployments.size(); ++i) {
      const auto& d = m.deployments[i];
      if (!d.provider.empty() && !seen.emplace(d.provider, d.model).second) {
        report(deployments[i],
               fmt::format("{}: duplicate deployment {}/{}", where, d.provider, d.model));
      }
    }
    return m;
  }

  void optional_ms(const YAML::Node& map, std::string_view key, std::string_view where,
                   std::optional<int>& out) {
    if (!present(map[std::string(key)])) return;
    int v = 0;
    const auto before = problems_.size();
    integer(map, key, where, v, 1, kMaxInt);
    if (problems_.size() == before) out = v;
  }

  static std::optional<Strategy> parse_strategy(std::string_view name) {
    for (std::size_t i = 0; i < std::size(kStrategies); ++i) {
      if (kStrategies[i] == name) return static_cast<Strategy>(i);
    }
    return std::nullopt;
  }

 public:
  // Fallback references name existing models and form no cycle (a model that falls back to
  // itself, directly or through others, would loop).
  void check_fallbacks() {
    for (const auto& ref : alias_refs_) {
      if (model_lines_.contains(ref.name)) continue;
      std::vector<std::string_view> known;
      for (const auto& [name, line] : model_lines_) known.push_back(name);
      problems_.push_back(problem_at(
          ref.mark,
          fmt::format("unknown fallback model '{}' (known: {})", ref.name,
                      known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", ")))));
    }
    std::map<std::string, const ModelPlace*, std::less<>> by_name;
    for (const auto& m : model_places_) by_name.emplace(m.name, &m);
    // Depth-first search over fallback edges; a back edge is a cycle.
    std::map<std::string, int, std::less<>> state;  // 1 = on the path, 2 = done
    std::vector<std::string> trail;
    std::function<void(const ModelPlace&)> visit = [&](const ModelPlace& m) {
      state[m.name] = 1;
      trail.push_back(m.name);
      for (const auto* edges : {&m.fallbacks, &m.context_fallbacks}) {
        for (const auto& next : *edges) {
          auto it = by_name.find(next);
          if (it == by_name.end()) continue;
          if (state[next] == 1) {
            auto from = std::ranges::find(trail, next);
            std::vector<std::string> loop(from, trail.end());
            loop.push_back(next);
            problems_.push_back(problem_at(m.mark, fmt::format("model '{}': fallback cycle {}",
                                                               m.name, fmt::join(loop, " -> "))));
          } else if (state[next] == 0) {
            visit(*it->second);
          }
        }
      }
      trail.pop_back();
      state[m.name] = 2;
    };
    for (const auto& m : model_places_) {
      if (state[m.name] == 0) visit(m);
    }
  }

 private:
  struct AliasRef {
    std::string name;
    YAML::Mark mark;
  };
  struct ModelPlace {
    std::string name;
    YAML::Mark mark;
    std::vector<std::string> fallbacks;
    std::vector<std::string> context_fallbacks;
  };
  std::vector<AliasRef> alias_refs_;
  std::vector<ModelPlace> model_places_;
  const EnvLookup& env_;
  std::vector<Problem> problems_;
  std::map<std::string, int, std::less<>> provider_lines_;  // name -> line of its definition
  std::map<std::string, int, std::less<>> model_lines_;
};

}  // namespace

std::expected<Config, std::vector<Problem>> parse(std::string_view yaml_text,
                                                  const EnvLookup& env) {
  std::vector<Problem> problems;
  Config config;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    Decoder decoder(env);
    config = decoder.config(root);
    decoder.check_fallbacks();
    problems = decoder.take_problems();
  } catch (const YAML::Exception& e) {
    // Syntax errors, and anything the decoder did not foresee, still name a place.
    problems.push_back(problem_at(e.mark, "invalid YAML: " + e.msg));
  }
  if (problems.empty()) return config;
  std::ranges::stable_sort(problems, {},
                           [](const Problem& p) { return std::tuple(p.line, p.column); });
  return std::unexpected(std::move(problems));
}

}  // namespace stratus::config
