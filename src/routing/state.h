// What the router knows about one deployment, shared by every worker and kept across reloads:
// in-flight count, a sliding window of outcomes, the circuit breaker, Retry-After cooldown and
// a peak-EWMA of time to first byte. Everything on the request path is a relaxed atomic: no
// lock is shared by the workers (the last error's text, written only on failures, has its own).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

#include "config/config.h"

namespace stratus::routing {

// Counts per second over the last kSeconds seconds. Writers race benignly: a bucket that rolls
// over may lose a count or two, which a breaker's ratio does not notice.
class Window {
 public:
  static constexpr int kSeconds = 64;
  void add(std::int64_t now_ms, bool failed);
  struct Sum {
    std::int64_t total = 0;
    std::int64_t failed = 0;
  };
  Sum sum(std::int64_t now_ms, int seconds) const;

 private:
  struct Bucket {
    std::atomic<std::int64_t> second{-1};
    std::atomic<std::int64_t> total{0};
    std::atomic<std::int64_t> failed{0};
  };
  std::array<Bucket, kSeconds> buckets_;
};

enum class BreakerState { closed = 0, open = 1, half_open = 2 };
std::string_view breaker_name(BreakerState s);

// Whether a request may go to a deployment now.
enum class Admission {
  ok,       // closed: go
  probe,    // half-open: this request is the one probe
  open,     // breaker open (or a probe is already out)
  cooling,  // inside a Retry-After the deployment asked for
};

class DeploymentState {
 public:
  // A cheap look for the balancer: could this deployment be admitted now?
  bool available(std::int64_t now_ms) const;
  // Takes the admission (a half-open breaker lets exactly one probe through).
  Admission admit(std::int64_t now_ms, const config::BreakerPolicy& policy);

  void on_success(std::int64_t now_ms, double ttfb_ms);
  // A failed attempt. Rate limits (counts_for_breaker = false) cool the deployment down for
  // retry_after_ms without counting toward the breaker.
  void on_failure(std::int64_t now_ms, const config::BreakerPolicy& policy, bool counts_for_breaker,
                  std::int64_t retry_after_ms, const std::string& error);

  std::atomic<std::int64_t> in_flight{0};

  // Read-only views for the balancer and /admin/deployments.
  BreakerState state() const { return static_cast<BreakerState>(state_.load(mo)); }
  double ewma_ms() const { return ewma_ms_.load(mo); }
  std::int64_t requests() const { return requests_.load(mo); }
  std::int64_t failures() const { return failures_.load(mo); }
  int consecutive_failures() const { return consecutive_.load(mo); }
  std::int64_t open_until_ms() const { return open_until_ms_.load(mo); }
  std::int64_t cooldown_until_ms() const { return cooldown_until_ms_.load(mo); }
  std::int64_t opened() const { return opened_.load(mo); }
  std::string last_error() const;
  const Window& window() const { return window_; }

  // Time constant of the latency EWMA.
  static constexpr double kDecayMs = 10000;
  static constexpr double kFailurePenaltyMs = 1000;  // a failure, as a time-to-first-byte sample

 private:
  static constexpr auto mo = std::memory_order_relaxed;
  void open(std::int64_t now_ms, const config::BreakerPolicy& policy);

  std::atomic<int> state_{0};
  std::atomic<std::int64_t> open_until_ms_{0};
  std::atomic<std::int64_t> probe_until_ms_{0};  // a probe out until then; later, another may go
  std::atomic<std::int64_t> cooldown_until_ms_{0};
  std::atomic<int> consecutive_{0};
  std::atomic<std::int64_t> requests_{0};
  std::atomic<std::int64_t> failures_{0};
  std::atomic<std::int64_t> opened_{0};  // times the breaker opened
  std::atomic<double> ewma_ms_{0};
  std::atomic<std::int64_t> ewma_at_ms_{0};
  Window window_;
  mutable std::mutex error_mu_;
  std::string last_error_;
};

}  // namespace stratus::routing
