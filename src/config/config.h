// Typed, validated gateway configuration loaded from YAML (see config/example.yaml).
#pragma once

#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stratus::config {

struct Timeouts {
  int connect_ms = 5000;
  int first_byte_ms = 60000;  // until the response headers arrive
  int idle_ms = 30000;        // between two reads of a streamed body
  int total_ms = 600000;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // "host:port"; port 0 = any free port
  std::string host = "127.0.0.1";         // parsed from listen
  std::uint16_t port = 8080;              // parsed from listen
  int workers = 0;                        // 0 = one per core
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  int header_timeout_ms = 10000;  // slow clients: headers must be complete by then
  int idle_timeout_ms = 75000;    // keep-alive connection with no request
  int max_connections = 10000;
  int drain_timeout_ms = 30000;       // SIGTERM: how long in-flight requests may finish
  std::string access_log = "stdout";  // stdout | stderr | off | a file path
};

// How a provider type authenticates.
enum class AuthStyle {
  none,       // local servers
  bearer,     // Authorization: Bearer <api_key>
  api_key,    // Azure: api-key: <api_key>
  x_api_key,  // Anthropic: x-api-key: <api_key>
  goog_key,   // Gemini: x-goog-api-key: <api_key>
  sigv4,      // AWS Signature Version 4 (Bedrock)
};

// A provider type: its wire format (the adapter) and defaults. OpenAI-compatible services are
// rows of data here, not code.
struct ProviderType {
  std::string_view name;  // config `type:`
  std::string_view wire;  // adapter: openai | azure | bedrock | anthropic | gemini | vertex
  std::string_view default_base_url;  // may contain {region}; "" = base_url required
  AuthStyle auth;
  bool needs_region = false;
  bool needs_project = false;
};
const ProviderType* find_provider_type(std::string_view name);

struct AwsKeys {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
};

// Active health checks: a one-token chat request to the provider every interval, feeding the
// circuit breaker and /readyz. Off when interval_ms is 0.
struct HealthCheck {
  int interval_ms = 0;
  int timeout_ms = 5000;
  std::string model;  // the provider's model to ask; "" = the first deployment's model
};

struct Provider {
  std::string name;
  std::string type;  // a ProviderType name: openai, azure, bedrock, anthropic, gemini, ...
  std::string wire;  // the type's adapter (filled by parse)
  AuthStyle auth = AuthStyle::bearer;  // (filled by parse)
  std::string base_url;                // e.g. https://api.openai.com/v1 (default from the type)
  std::string api_key;                 // may be empty (local servers)
  std::string region;                  // bedrock, vertex, oci (bedrock: default AWS_REGION)
  std::string project;                 // vertex
  std::string api_version;  // azure (default 2024-10-21; "v1" = the /openai/v1 API), anthropic
  AwsKeys aws;              // bedrock (default AWS_ACCESS_KEY_ID, ...)
  std::map<std::string, std::string> headers;  // extra headers sent upstream
  std::string ca_file;  // extra CA bundle for TLS verification (PEM); empty = system store
  Timeouts timeouts;
  int max_connections = 512;  // per origin, per worker
  HealthCheck health_check;
};

struct Limits {
  std::int64_t rpm = 0;  // 0 = unlimited
  std::int64_t tpm = 0;
};

// $ per million tokens; each one given overrides the built-in price table's (data/prices.yaml).
struct Price {
  std::optional<double> input;
  std::optional<double> cached_input;
  std::optional<double> output;
};

struct Deployment {
  std::string provider;  // a Provider name
  std::string model;     // the provider's model name
  int priority = 0;      // tier: lower first; a tier is used only when no lower one is available
  int weight = 1;        // share within its tier (strategy: weighted)
  std::optional<Price> price = {};  // strategy: cost (unpriced deployments come last)
};

enum class Strategy { priority, weighted, least_busy, latency, cost };
std::string_view strategy_name(Strategy s);

struct RetryPolicy {
  int attempts = 0;  // most attempts per request; 0 = every candidate once (at least 2)
  int backoff_ms = 50;
  int max_backoff_ms = 2000;
  double budget_ratio = 0.2;  // retries ≤ ratio × requests over the window (+ budget_min)
  int budget_min = 10;        // retries always allowed per window, so a quiet alias can retry
  int budget_window_s = 10;
};

struct BreakerPolicy {
  int failures = 5;            // consecutive failures that open the breaker
  double failure_ratio = 0.5;  // ... or this failure ratio over the window
  int min_requests = 20;       // ... once the window holds at least this many attempts
  int window_s = 10;
  int cooldown_ms = 5000;  // open this long, then one probe (half-open)
};

// Per-model timeouts; each one unset keeps the provider's.
struct ModelTimeouts {
  std::optional<int> connect_ms;
  std::optional<int> first_token_ms;  // until the first content chunk (streams) or the answer
  std::optional<int> idle_ms;
  std::optional<int> total_ms;
};

struct Model {
  std::string name;  // the alias clients send as "model"
  std::vector<Deployment> deployments;
  Strategy strategy = Strategy::priority;
  std::vector<std::string> fallbacks = {};                 // aliases tried after every deployment
  std::vector<std::string> context_window_fallbacks = {};  // on context_length_exceeded
  RetryPolicy retry = {};
  BreakerPolicy breaker = {};
  ModelTimeouts timeouts = {};
  int hedge_after_ms = 0;  // 0 = off
  Limits limits = {};      // RPM/TPM for the alias, over every key
};

// Governance (virtual keys, limits, budgets, ledger). All optional: without a master key the
// gateway runs open (dev mode).
struct AuthConfig {
  std::string master_key;  // "" = open
};

struct StoreConfig {
  std::string url;      // sqlite://path or postgres://…; "" = sqlite://stratus.db when governed
  std::string journal;  // where events wait while the store is down; "" = <url path>.journal
};

struct Team {
  std::string name;
  Limits limits;
  double budget_usd = 0;      // 0 = none
  std::string budget_period;  // day | month
};

struct Config {
  ServerConfig server;
  AuthConfig auth;
  StoreConfig store;
  std::vector<Team> teams;
  std::vector<Provider> providers;
  std::vector<Model> models;

  const Provider* find_provider(std::string_view name) const;
  const Team* find_team(std::string_view name) const;
  const Model* find_model(std::string_view name) const;
};

struct Problem {
  int line = 0;    // 1-based; 0 when not tied to a place in the file
  int column = 0;  // 1-based
  std::string message;
};

// Formats a problem as "file:line:col: message".
std::string format_problem(std::string_view file, const Problem& p);

// Looks up an environment variable; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup process_env();

// Parses and validates YAML text. All problems are reported, not only the first.
std::expected<Config, std::vector<Problem>> parse(std::string_view yaml_text,
                                                  const EnvLookup& env = process_env());
// Reads a file then parses it; a file that cannot be read is one problem at line 0.
std::expected<Config, std::vector<Problem>> load_file(const std::string& path,
                                                      const EnvLookup& env = process_env());

// The one list of provider types the gateway can talk to; every check consults it.
bool is_known_provider_type(std::string_view type);
// The known provider types, for messages ("known: openai").
std::vector<std::string_view> known_provider_types();

// Building blocks of parse(), exposed for the CLI (flag overrides) and for tests. Each error is
// a message without a location; parse() adds the line and column.

// Replaces ${VAR} with the variable's value and $${ with a literal ${.
std::expected<std::string, std::string> interpolate(std::string_view text, const EnvLookup& env);

struct HostPort {
  std::string host;  // without the brackets of an IPv6 literal
  std::uint16_t port = 0;
};
// Splits "host:port" or "[v6]:port".
std::expected<HostPort, std::string> parse_listen(std::string_view listen);

// Checks an absolute http(s) URL without query or fragment; returns it without trailing slashes.
std::expected<std::string, std::string> normalize_base_url(std::string_view url);

}  // namespace stratus::config
