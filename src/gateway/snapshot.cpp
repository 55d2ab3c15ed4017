// Builds the routing snapshot from a validated config.
#include "gateway/snapshot.h"

#include <chrono>
#include <ctime>

#include "api/openai.h"

namespace stratus::gateway {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool Health::known_bad(std::int64_t now_ms) const {
  return consecutive_failures.load(std::memory_order_relaxed) >= 3 &&
         now_ms - last_failure_ms.load(std::memory_order_relaxed) < 30000;
}

void Health::record(bool ok, std::int64_t now_ms) {
  if (ok) {
    if (consecutive_failures.load(std::memory_order_relaxed) != 0) {
      consecutive_failures.store(0, std::memory_order_relaxed);
    }
    return;
  }
  consecutive_failures.fetch_add(1, std::memory_order_relaxed);
  last_failure_ms.store(now_ms, std::memory_order_relaxed);
}

std::shared_ptr<const Snapshot> build_snapshot(config::Config cfg, const Snapshot* previous) {
  auto snap = std::make_shared<Snapshot>();
  std::unordered_map<std::string, std::shared_ptr<Health>> old_health;
  if (previous) {
    for (auto& [name, alias] : previous->aliases) {
      for (auto& t : alias.targets) old_health.emplace(t.id, t.health);
    }
  }
  for (auto& m : cfg.models) {
    Alias alias;
    alias.name = m.name;
    for (auto& d : m.deployments) {
      const auto* p = cfg.find_provider(d.provider);
      if (!p) continue;  // validated already
      Target t;
      t.id = p->name + "/" + d.model;
      t.provider = p->name;
      t.model = d.model;
      t.chat_url = p->base_url + "/chat/completions";
      t.embeddings_url = p->base_url + "/embeddings";
      t.headers.emplace_back("content-type", "application/json");
      if (!p->api_key.empty()) t.headers.emplace_back("authorization", "Bearer " + p->api_key);
      for (auto& [k, v] : p->headers) t.headers.emplace_back(k, v);
      t.timeouts = p->timeouts;
      t.ca_file = p->ca_file;
      t.max_connections = p->max_connections;
      auto it = old_health.find(t.id);
      t.health = it != old_health.end() ? it->second : std::make_shared<Health>();
      old_health.emplace(t.id, t.health);  // two aliases on one deployment share its health
      alias.targets.push_back(std::move(t));
    }
    snap->alias_names.push_back(m.name);
    snap->aliases.emplace(m.name, std::move(alias));
  }
  for (auto& n : snap->alias_names) {
    if (!snap->known_list.empty()) snap->known_list += ", ";
    snap->known_list += n;
  }
  snap->models_json = api::models_list(snap->alias_names, static_cast<long>(std::time(nullptr)));
  snap->config = std::move(cfg);
  return snap;
}

}  // namespace stratus::gateway
