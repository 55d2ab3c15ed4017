// Snapshot ownership and reload.
#include "gateway/gateway.h"

#include <spdlog/spdlog.h>

namespace stratus::gateway {

Gateway::Gateway(config::Config initial, ConfigLoader loader)
    : loader_(std::move(loader)),
      log_(initial.server.access_log),
      governance_(Governance::start(initial)) {
  if (initial.auth.master_key.empty()) {
    spdlog::warn("no auth.master_key: the gateway is open to every client (dev mode)");
  }
  snapshot_.store(build_snapshot(std::move(initial), nullptr));
}

std::shared_ptr<const Snapshot> Gateway::snapshot() const { return snapshot_.load(); }

std::expected<void, std::string> Gateway::reload() {
  std::lock_guard lock(reload_mutex_);
  auto cfg = loader_();
  if (!cfg) return std::unexpected(cfg.error());
  auto old = snapshot_.load();
  snapshot_.store(build_snapshot(std::move(*cfg), old.get()));
  version_.fetch_add(1, std::memory_order_acq_rel);
  return {};
}

}  // namespace stratus::gateway
