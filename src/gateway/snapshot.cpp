// Builds the routing snapshot from a validated config.
#include "gateway/snapshot.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <ctime>

#include "api/openai.h"

namespace stratus::gateway {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool Alias::ready(std::int64_t now_ms) const {
  return std::any_of(targets.begin(), targets.end(), [&](const Target& t) {
    return t.state->state() == routing::BreakerState::closed || t.state->available(now_ms);
  });
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
  std::unordered_map<std::string, std::shared_ptr<routing::DeploymentState>> states;
  std::unordered_map<std::string, std::shared_ptr<routing::RetryBudget>> budgets;
  if (previous) {
    for (auto& [name, alias] : previous->aliases) {
      for (auto& t : alias.targets) states.emplace(t.id, t.state);
      budgets.emplace(name, alias.budget);
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
      t.route_lines =
          "x-stratus-provider: " + t.provider + "\r\nx-stratus-deployment: " + t.id + "\r\n";
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
      const auto& mt = m.timeouts;
      if (mt.connect_ms) t.timeouts.connect_ms = *mt.connect_ms;
      if (mt.idle_ms) t.timeouts.idle_ms = *mt.idle_ms;
      if (mt.total_ms) t.timeouts.total_ms = *mt.total_ms;
      if (mt.first_token_ms) {
        t.first_token_ms = *mt.first_token_ms;
        t.timeouts.first_byte_ms = std::min(t.timeouts.first_byte_ms, *mt.first_token_ms);
      }
      t.breaker = m.breaker;
      t.ca_file = p->ca_file;
      t.max_connections = p->max_connections;
      std::optional<governance::PriceOverride> over;
      if (d.price)
        over =
            governance::PriceOverride{d.price->input, d.price->cached_input, {}, d.price->output};
      if (auto price = governance::PriceTable::builtin().resolve(p->type, d.model, over)) {
        t.price = *price;
        t.priced = true;
      }
      auto& w = alias.worst_price;
      w.input = std::max(w.input, t.price.input);
      w.cached_input = std::max(w.cached_input, t.price.cached_input);
      w.cache_write = std::max(w.cache_write, t.price.cache_write);
      w.output = std::max(w.output, t.price.output);
      auto& state = states[t.id];  // two aliases on one deployment share its state
      if (!state) state = std::make_shared<routing::DeploymentState>();
      t.state = state;
      alias.pool.members.push_back(
          routing::Member{.state = state.get(),
                          .priority = d.priority,
                          .weight = d.weight,
                          .price = t.priced ? t.price.input + t.price.output : -1});
      alias.targets.push_back(std::move(t));
    }
    alias.pool.strategy = m.strategy;
    alias.pool.retry = m.retry;
    alias.pool.breaker = m.breaker;
    alias.hedge_after_ms = m.hedge_after_ms;
    alias.limits = {m.limits.rpm, m.limits.tpm};
    auto& budget = budgets[m.name];
    if (!budget) budget = std::make_shared<routing::RetryBudget>();
    alias.budget = budget;
    alias.pool.budget = budget.get();
    snap->alias_names.push_back(m.name);
    snap->aliases.emplace(m.name, std::move(alias));
  }
  for (auto& m : cfg.models) {
    auto& alias = snap->aliases.at(m.name);
    for (auto& f : m.fallbacks) alias.fallbacks.push_back(snap->find(f));
    for (auto& f : m.context_window_fallbacks) alias.context_fallbacks.push_back(snap->find(f));
    std::erase(alias.fallbacks, nullptr);  // validated already; a Config built in code may not be
    std::erase(alias.context_fallbacks, nullptr);
  }
  for (auto& n : snap->alias_names) {
    if (!snap->known_list.empty()) snap->known_list += ", ";
    snap->known_list += n;
  }
  for (const auto& team : cfg.teams) {
    snap->teams[team.name] = governance::TeamLimits{
        team.limits.rpm, team.limits.tpm, team.budget_usd,
        governance::parse_period(team.budget_period).value_or(governance::Period::month)};
  }
  snap->models_json = api::models_list(snap->alias_names, static_cast<long>(std::time(nullptr)));
  snap->config = std::move(cfg);
  return snap;
}

std::string deployments_json(const Snapshot& snap, std::int64_t now_ms) {
  namespace json = boost::json;
  json::array out;
  std::unordered_map<const routing::DeploymentState*, std::size_t> seen;
  for (const auto& name : snap.alias_names) {
    const Alias& alias = snap.aliases.at(name);
    for (const auto& t : alias.targets) {
      const auto& s = *t.state;
      if (auto it = seen.find(&s); it != seen.end()) {
        out[it->second].as_object()["models"].as_array().emplace_back(name);
        continue;
      }
      seen.emplace(&s, out.size());
      json::object o;
      o["id"] = t.id;
      o["provider"] = t.provider;
      o["model"] = t.model;
      o["models"] = json::array{json::value(name)};
      auto state = s.state();
      if (state == routing::BreakerState::open && now_ms >= s.open_until_ms()) {
        state = routing::BreakerState::half_open;  // the next request will probe it
      }
      o["state"] = routing::breaker_name(state);
      o["available"] = s.available(now_ms);
      o["in_flight"] = s.in_flight.load(std::memory_order_relaxed);
      o["requests"] = s.requests();
      o["failures"] = s.failures();
      o["consecutive_failures"] = s.consecutive_failures();
      o["opened"] = s.opened();
      o["ewma_ttfb_ms"] = std::round(s.ewma_ms() * 1000) / 1000;
      o["cooldown_ms"] = std::max<std::int64_t>(0, s.cooldown_until_ms() - now_ms);
      o["open_ms"] = state == routing::BreakerState::open ? s.open_until_ms() - now_ms : 0;
      const auto w = s.window().sum(now_ms, alias.pool.breaker.window_s);
      o["window"] = json::object{
          {"seconds", alias.pool.breaker.window_s}, {"requests", w.total}, {"failures", w.failed}};
      o["last_error"] = s.last_error();
      out.emplace_back(std::move(o));
    }
  }
  return json::serialize(json::object{{"deployments", std::move(out)}});
}

}  // namespace stratus::gateway
