// The routing table built from one Config: aliases → ordered upstream targets with their
// URLs and headers precomputed. Immutable once built; shared across workers and swapped
// atomically on reload.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/signer.h"
#include "config/config.h"
#include "providers/adapter.h"

namespace stratus::gateway {

// Health of one deployment, shared by every worker; it outlives reloads.
struct Health {
  std::atomic<int> consecutive_failures{0};
  std::atomic<std::int64_t> last_failure_ms{0};  // steady clock, ms
  std::atomic<std::int64_t> in_flight{0};
  // Known-bad: the last 3 attempts failed, the latest within the last 30 s.
  bool known_bad(std::int64_t now_ms) const;
  void record(bool ok, std::int64_t now_ms);
};

struct Target {
  std::string id;  // "provider/model", shown in x-stratus-deployment and the access log
  std::string provider;
  std::string model;
  // The provider's wire format; nullptr when this build has no adapter for it.
  const providers::Adapter* adapter = nullptr;
  providers::Deployment deployment;  // what the adapter needs
  // OpenAI-dialect providers (openai, azure): the client's body is forwarded as is, with only
  // `model` rewritten, to these URLs with these headers (auth included).
  bool passthrough = false;
  std::string chat_url;
  std::string embeddings_url;
  std::vector<std::pair<std::string, std::string>> headers;
  // Translated providers: credentials applied to each encoded request, and the config's extra
  // headers.
  auth::Credentials credentials;
  std::vector<std::pair<std::string, std::string>> extra_headers;
  config::Timeouts timeouts;
  std::string ca_file;
  int max_connections = 512;
  std::shared_ptr<Health> health;
};

struct Alias {
  std::string name;
  std::vector<Target> targets;  // tried in order
};

struct Snapshot {
  config::Config config;
  std::unordered_map<std::string, Alias> aliases;
  std::vector<std::string> alias_names;  // config order
  std::string models_json;               // GET /v1/models
  std::string known_list;                // "a, b, c" for error messages

  const Alias* find(const std::string& name) const {
    auto it = aliases.find(name);
    return it == aliases.end() ? nullptr : &it->second;
  }
};

// Builds a snapshot, reusing the Health of deployments that `previous` already had.
std::shared_ptr<const Snapshot> build_snapshot(config::Config cfg, const Snapshot* previous);

std::int64_t steady_ms();

}  // namespace stratus::gateway
