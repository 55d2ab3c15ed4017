// The lock-free deployment state: outcome window, circuit breaker, cooldown, latency EWMA.
#include "routing/state.h"

#include <algorithm>
#include <cmath>

namespace stratus::routing {

namespace {
constexpr auto mo = std::memory_order_relaxed;
}

void Window::add(std::int64_t now_ms, bool failed) {
  const std::int64_t second = now_ms / 1000;
  auto& b = buckets_[static_cast<std::size_t>(second % kSeconds)];
  std::int64_t seen = b.second.load(mo);
  if (seen != second && b.second.compare_exchange_strong(seen, second, mo)) {
    b.total.store(0, mo);
    b.failed.store(0, mo);
  }
  b.total.fetch_add(1, mo);
  if (failed) b.failed.fetch_add(1, mo);
}

Window::Sum Window::sum(std::int64_t now_ms, int seconds) const {
  Sum s;
  const std::int64_t now_s = now_ms / 1000;
  const int n = seconds < kSeconds ? seconds : kSeconds;
  for (int i = 0; i < n; ++i) {
    const std::int64_t second = now_s - i;
    if (second < 0) break;
    const auto& b = buckets_[static_cast<std::size_t>(second % kSeconds)];
    if (b.second.load(mo) != second) continue;
    s.total += b.total.load(mo);
    s.failed += b.failed.load(mo);
  }
  return s;
}

std::string_view breaker_name(BreakerState s) {
  switch (s) {
    case BreakerState::closed:
      return "closed";
    case BreakerState::open:
      return "open";
    case BreakerState::half_open:
      return "half_open";
  }
  return "closed";
}

bool DeploymentState::available(std::int64_t now_ms) const {
  if (now_ms < cooldown_until_ms_.load(mo)) return false;
  switch (state()) {
    case BreakerState::closed:
      return true;
    case BreakerState::open:
      return now_ms >= open_until_ms_.load(mo);
    case BreakerState::half_open:
      return now_ms >= probe_until_ms_.load(mo);
  }
  return true;
}

Admission DeploymentState::admit(std::int64_t now_ms, const config::BreakerPolicy& policy) {
  if (now_ms < cooldown_until_ms_.load(mo)) return Admission::cooling;
  int s = state_.load(mo);
  if (s == static_cast<int>(BreakerState::closed)) return Admission::ok;
  if (s == static_cast<int>(BreakerState::open)) {
    if (now_ms < open_until_ms_.load(mo)) return Admission::open;
    // The cooldown is over: the worker that flips the breaker to half-open sends the probe.
    if (state_.compare_exchange_strong(s, static_cast<int>(BreakerState::half_open), mo)) {
      probe_until_ms_.store(now_ms + policy.cooldown_ms, mo);
      return Admission::probe;
    }
    if (s == static_cast<int>(BreakerState::closed)) return Admission::ok;
  }
  // Half-open: one probe is out. If it has not come back within a cooldown, send another.
  std::int64_t until = probe_until_ms_.load(mo);
  if (now_ms >= until &&
      probe_until_ms_.compare_exchange_strong(until, now_ms + policy.cooldown_ms, mo)) {
    return Admission::probe;
  }
  return Admission::open;
}

void DeploymentState::on_success(std::int64_t now_ms, double ttfb_ms) {
  requests_.fetch_add(1, mo);
  window_.add(now_ms, false);
  if (consecutive_.load(mo) != 0) consecutive_.store(0, mo);
  if (state_.load(mo) != static_cast<int>(BreakerState::closed)) {
    state_.store(static_cast<int>(BreakerState::closed), mo);
  }
  if (ttfb_ms < 0) return;
  // Peak EWMA: a slower sample is taken at once, faster ones decay in with time.
  const double old = ewma_ms_.load(mo);
  const std::int64_t last = ewma_at_ms_.exchange(now_ms, mo);
  double next = ttfb_ms;
  if (old > 0 && ttfb_ms < old) {
    const double w = std::exp(-static_cast<double>(now_ms - last) / kDecayMs);
    next = old * w + ttfb_ms * (1 - w);
  }
  ewma_ms_.store(next, mo);
}

void DeploymentState::on_failure(std::int64_t now_ms, const config::BreakerPolicy& policy,
                                 bool counts_for_breaker, std::int64_t retry_after_ms,
                                 const std::string& error) {
  requests_.fetch_add(1, mo);
  failures_.fetch_add(1, mo);
  {
    std::lock_guard lock(error_mu_);
    last_error_ = error;
  }
  if (retry_after_ms > 0) {
    const std::int64_t until = now_ms + retry_after_ms;
    std::int64_t cur = cooldown_until_ms_.load(mo);
    while (cur < until && !cooldown_until_ms_.compare_exchange_weak(cur, until, mo)) {
    }
  }
  if (!counts_for_breaker) {
    window_.add(now_ms, false);
    return;
  }
  window_.add(now_ms, true);
  // For the latency strategy a failure is a slow sample (peak EWMA takes it at once): a
  // deployment that fails fast must not look like the fastest one and draw the traffic.
  const double old = ewma_ms_.load(mo);
  const double penalty = std::max(2 * old, kFailurePenaltyMs);
  if (penalty > old) {
    ewma_ms_.store(penalty, mo);
    ewma_at_ms_.store(now_ms, mo);
  }
  const int consecutive = consecutive_.fetch_add(1, mo) + 1;
  const int s = state_.load(mo);
  if (s == static_cast<int>(BreakerState::half_open)) {
    open(now_ms, policy);  // the probe failed
    return;
  }
  if (s != static_cast<int>(BreakerState::closed)) return;
  bool trip = consecutive >= policy.failures;
  if (!trip && policy.failure_ratio > 0) {
    const auto w = window_.sum(now_ms, policy.window_s);
    trip = w.total >= policy.min_requests &&
           static_cast<double>(w.failed) >= policy.failure_ratio * static_cast<double>(w.total);
  }
  if (trip) open(now_ms, policy);
}

void DeploymentState::open(std::int64_t now_ms, const config::BreakerPolicy& policy) {
  open_until_ms_.store(now_ms + policy.cooldown_ms, mo);
  if (state_.exchange(static_cast<int>(BreakerState::open), mo) !=
      static_cast<int>(BreakerState::open)) {
    opened_.fetch_add(1, mo);
  }
}

std::string DeploymentState::last_error() const {
  std::lock_guard lock(error_mu_);
  return last_error_;
}

}  // namespace stratus::routing
