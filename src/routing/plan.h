// One request's route: which deployment to try next, across an alias and its fallbacks, with
// the attempt cap, the retry budget and backoff. The router reads only what the provider layer
// mapped (error kind, retryable, Retry-After); it knows no provider format.
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "config/config.h"
#include "routing/balancer.h"
#include "routing/state.h"

namespace stratus::routing {

// Extra attempts (retries and fail-overs) may not exceed ratio × requests over a sliding
// window, plus a floor so a quiet alias can still retry. Shared by the workers (atomics).
class RetryBudget {
 public:
  void on_request(std::int64_t now_ms) { window_.add(now_ms, false); }
  // Whether one more retry fits; spend() takes it.
  bool allows(std::int64_t now_ms, const config::RetryPolicy& policy) const;
  void spend(std::int64_t now_ms) { window_.add(now_ms, true); }
  Window::Sum recent(std::int64_t now_ms, int seconds) const {
    return window_.sum(now_ms, seconds);
  }

 private:
  Window window_;  // total = requests + retries; failed = retries
};

// Full-jitter exponential backoff before the n-th round over already-tried deployments
// (n >= 1): uniform in [0, min(max, base × 2^(n-1))].
int backoff_ms(int round, const config::RetryPolicy& policy, Rng& rng);

// An alias and its fallbacks: a handful, kept inline so a request's route allocates nothing.
template <class T>
using Few = boost::container::small_vector<T, 4>;

// One alias as the router sees it; built with the snapshot, immutable.
struct Pool {
  std::vector<Member> members;
  config::Strategy strategy = config::Strategy::priority;
  config::RetryPolicy retry;
  config::BreakerPolicy breaker;
  RetryBudget* budget = nullptr;  // shared, outlives reloads
};

class Plan {
 public:
  // `pools`: the alias then its fallbacks, in order; `local`: the worker's state for each pool
  // (same order). max_attempts 0 = every member once, at least 2.
  Plan(Few<const Pool*> pools, Few<LocalState*> local, Rng& rng);

  struct Pick {
    std::size_t pool = 0;
    std::size_t member = 0;
    int backoff_ms = 0;  // wait this long first (a deployment tried before is tried again)
    bool probe = false;  // a half-open breaker's probe
  };
  // The next deployment to try, admitted (its breaker let it through), or nullopt.
  std::optional<Pick> next(std::int64_t now_ms);
  // The last attempt never reached its provider (no connection, or our pool to it was full):
  // the next one is a requeue, not a retry. It adds no load anywhere, so it does not draw from
  // the retry budget (it still counts toward `attempts`).
  void requeue() { requeue_ = true; }

  // Context window exceeded: continue with these pools instead (the attempt count carries on).
  void switch_to(Few<const Pool*> pools, Few<LocalState*> local);

  // Why next() gave up, for the error the client gets.
  enum class Stop { none, exhausted, attempts, budget, unavailable };
  Stop stop() const { return stop_; }
  int attempts() const { return attempts_; }
  // When no attempt could be made: the earliest time a deployment comes back (ms, steady
  // clock), and whether that is a Retry-After cooldown (429) rather than open breakers (503).
  std::int64_t back_at_ms() const { return back_at_ms_; }
  bool cooling() const { return cooling_; }

 private:
  std::optional<Pick> search(std::int64_t now_ms, Mask last_excluded);
  void note_unavailable(std::int64_t now_ms);

  Few<const Pool*> pools_;
  Few<LocalState*> local_;
  Rng& rng_;
  Few<Mask> tried_;    // per pool, this round
  Few<Mask> refused_;  // per pool: breaker open or cooling down
  std::size_t cur_ = 0;
  int max_attempts_ = 2;
  int attempts_ = 0;
  int round_ = 0;
  std::optional<std::pair<std::size_t, std::size_t>> last_;
  Stop stop_ = Stop::none;
  std::int64_t back_at_ms_ = 0;
  bool cooling_ = false;
  bool requeue_ = false;
};

}  // namespace stratus::routing
