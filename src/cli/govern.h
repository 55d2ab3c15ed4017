// The pure part of `stratus keys` and `stratus usage`: flag validation into a key record, and
// the tables and JSON they print. No I/O here (the commands are in govern_commands.cpp).
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "store/store.h"

namespace stratus::cli {

// The store the gateway uses for this config: store.url, else sqlite://stratus.db.
std::string store_url(const config::Config& cfg);
// The URL without a password, for messages ("postgres://app:***@db/x").
std::string redact_url(std::string_view url);

// Loads the config like the gateway does. When the only problems are unset environment
// variables (provider secrets the keys and usage commands never use), loads it again with those
// left as placeholders and names them in `unset`; a store.url that needs one is still an error.
struct CliConfig {
  config::Config config;
  std::vector<std::string> unset;  // environment variables that were not set
};
std::expected<CliConfig, std::string> load_cli_config(
    const std::string& file, const config::EnvLookup& env = config::process_env());

// `stratus keys create` flags as typed; nullopt when not given.
struct KeyFlags {
  std::string name;
  std::optional<std::string> team, models, rpm, tpm, budget_usd, budget_period, max_task_calls,
      max_task_usd, expires;
};

struct KeyPlan {
  store::KeyRecord record;            // everything but id, salt and hash
  std::vector<std::string> warnings;  // e.g. a team the config does not list
};

// Validates the flags against the config and the existing keys (a name may not be reused while
// a key with it is not revoked). Errors name the flag.
std::expected<KeyPlan, std::string> plan_key(const KeyFlags& flags, const config::Config& cfg,
                                             std::span<const store::KeyRecord> existing,
                                             std::int64_t now_ms);

// "active", "revoked" or "expired" at now_ms.
std::string_view key_status(const store::KeyRecord& k, std::int64_t now_ms);

// The public fields of a key (never the salt or hash), as the admin API shows them, plus its
// status.
std::string key_json(const store::KeyRecord& k, std::int64_t now_ms);
// `keys create --json`: {"key": secret, ...key_json}.
std::string created_key_json(std::string_view secret, const store::KeyRecord& k,
                             std::int64_t now_ms);
// `keys list --json`: {"keys": [...]}.
std::string keys_json(std::span<const store::KeyRecord> keys, std::int64_t now_ms);
std::string keys_table(std::span<const store::KeyRecord> keys, std::int64_t now_ms);
// The human lines after a created key: id, name, team, limits, expiry.
std::string key_summary(const store::KeyRecord& k);

// What `stratus usage` shows: `rows` are every group of the window (Store::usage with no
// limit); top > 0 keeps the first `top` groups (days: the latest `top`), and the groups left
// out are summed into an "others" line so the columns still add up to the total. Task grouping
// leaves out the calls made without a task id.
struct UsageReport {
  store::GroupBy by = store::GroupBy::key;
  std::int64_t since_ms = 0;
  std::size_t top = 0;                           // 0: all
  std::map<std::string, std::string> key_names;  // key id → name (by key only)
};
std::string usage_table(const UsageReport& r, std::span<const store::UsageRow> rows);
std::string usage_json(const UsageReport& r, std::span<const store::UsageRow> rows);

}  // namespace stratus::cli
