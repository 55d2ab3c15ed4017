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

namespace {

auth::Credentials credentials_of(const config::Provider& p) {
  using Kind = auth::Credentials::Kind;
  auth::Credentials c;
  c.secret = p.api_key;
  switch (p.auth) {
    case config::AuthStyle::none:
      c.kind = Kind::none;
      break;
    case config::AuthStyle::bearer:
      c.kind = Kind::bearer;
      break;
    case config::AuthStyle::api_key:
      c.kind = Kind::header;
      c.header_name = "api-key";
      break;
    case config::AuthStyle::x_api_key:
      c.kind = Kind::header;
      c.header_name = "x-api-key";
      break;
    case config::AuthStyle::goog_key:
      c.kind = Kind::header;
      c.header_name = "x-goog-api-key";
      break;
    case config::AuthStyle::sigv4:
      c.kind = Kind::sigv4;
      c.aws = {p.aws.access_key_id, p.aws.secret_access_key, p.aws.session_token};
      c.region = p.region;
      c.service = "bedrock";
      break;
  }
  return c;
}

}  // namespace

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
      std::string wire = p->wire;
      if (wire.empty()) {  // a Config built in code rather than parsed
        const auto* type = config::find_provider_type(p->type);
        wire = type ? std::string(type->wire) : p->type;
      }
      t.adapter = providers::find_adapter(wire);
      t.deployment = providers::Deployment{.provider = p->name,
                                           .type = wire,
                                           .base_url = p->base_url,
                                           .model = d.model,
                                           .region = p->region,
                                           .project = p->project,
                                           .api_version = p->api_version};
      t.credentials = credentials_of(*p);
      for (auto& [k, v] : p->headers) t.extra_headers.emplace_back(k, v);
      if (t.adapter) {
        auto chat = t.adapter->passthrough_url(t.deployment, providers::Endpoint::chat);
        auto emb = t.adapter->passthrough_url(t.deployment, providers::Endpoint::embeddings);
        t.passthrough = chat.has_value();
        t.chat_url = chat.value_or("");
        t.embeddings_url = emb.value_or("");
      }
      if (t.passthrough) {
        core::UpstreamRequest auth_only;
        auth_only.headers.emplace_back("content-type", "application/json");
        auth::sign(auth_only, t.credentials, std::chrono::system_clock::now());
        t.headers = std::move(auth_only.headers);
        for (auto& h : t.extra_headers) t.headers.push_back(h);
      }
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
