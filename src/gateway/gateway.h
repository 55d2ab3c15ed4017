// The gateway: owns the current routing snapshot (swapped atomically on reload), the access
// log, and makes the per-worker request handlers for the HTTP server.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "config/config.h"
#include "gateway/access_log.h"
#include "gateway/governance.h"
#include "gateway/snapshot.h"

namespace stratus::http {
class Exchange;
}

namespace stratus::gateway {

// Produces a fresh config (from a file, or the built-in demo); on failure, the problems as
// text, one per line.
using ConfigLoader = std::function<std::expected<config::Config, std::string>()>;

class Gateway {
 public:
  Gateway(config::Config initial, ConfigLoader loader);

  // The current snapshot and its version; workers cache it and re-read on a version change.
  std::shared_ptr<const Snapshot> snapshot() const;
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

  // Loads the config again and swaps it in; requests in flight keep their snapshot.
  std::expected<void, std::string> reload();

  AccessLog& access_log() { return log_; }
  // Keys, limits, budgets and the ledger; nullptr when the config asks for none (set at start:
  // a reload does not turn governance on or off, nor move the store).
  Governance* governance() { return governance_.get(); }

 private:
  std::atomic<std::shared_ptr<const Snapshot>> snapshot_;
  std::atomic<std::uint64_t> version_{1};
  ConfigLoader loader_;
  std::mutex reload_mutex_;
  AccessLog log_;
  std::unique_ptr<Governance> governance_;
};

}  // namespace stratus::gateway
