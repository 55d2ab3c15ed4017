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
#include "governance/governor.h"
#include "providers/adapter.h"
#include "routing/plan.h"
#include "routing/state.h"

namespace stratus::gateway {

struct Target {
  std::string id;  // "provider/model", shown in x-stratus-deployment and the access log
  std::string provider;
  std::string model;
  // "x-stratus-provider: …\r\nx-stratus-deployment: …\r\n", written once for every answer.
  std::string route_lines;
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
  config::Timeouts timeouts;      // the provider's, with the model's overrides
  int first_token_ms = 0;         // streams: until the first content chunk (0 = no such limit)
  config::BreakerPolicy breaker;  // the alias's
  governance::Price price;        // $ per 1M tokens (built-in table, config override); 0 = unpriced
  bool priced = false;
  std::string ca_file;
  int max_connections = 512;
  // Breaker, in-flight count, latency: shared by every alias and worker that uses this
  // deployment, and kept across reloads.
  std::shared_ptr<routing::DeploymentState> state;
};

struct Alias {
  std::string name;
  std::vector<Target> targets;  // config order
  routing::Pool pool;           // the router's view: member i is targets[i]
  std::vector<const Alias*> fallbacks;
  std::vector<const Alias*> context_fallbacks;
  int hedge_after_ms = 0;
  std::shared_ptr<routing::RetryBudget> budget;  // kept across reloads
  governance::ModelLimits limits;                // RPM/TPM over every key
  governance::Price worst_price;  // the dearest of each price over the deployments (admission)
  // Ready: some deployment's breaker lets requests through.
  bool ready(std::int64_t now_ms) const;
};

struct Snapshot {
  config::Config config;
  std::unordered_map<std::string, Alias> aliases;
  std::vector<std::string> alias_names;  // config order
  std::string models_json;               // GET /v1/models
  std::string known_list;                // "a, b, c" for error messages
  std::unordered_map<std::string, governance::TeamLimits> teams;

  const Alias* find(const std::string& name) const {
    auto it = aliases.find(name);
    return it == aliases.end() ? nullptr : &it->second;
  }
};

// Builds a snapshot, reusing the router state of deployments and aliases that `previous`
// already had.
std::shared_ptr<const Snapshot> build_snapshot(config::Config cfg, const Snapshot* previous);

std::int64_t steady_ms();

// GET /admin/deployments: every deployment's router state.
std::string deployments_json(const Snapshot& snap, std::int64_t now_ms);

}  // namespace stratus::gateway
