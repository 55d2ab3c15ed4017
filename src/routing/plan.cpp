// The per-request route: tiers and strategy per alias, then its fallbacks; a second round over
// tried deployments with backoff while attempts and the retry budget allow.
#include "routing/plan.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace stratus::routing {

bool RetryBudget::allows(std::int64_t now_ms, const config::RetryPolicy& policy) const {
  const auto w = window_.sum(now_ms, policy.budget_window_s);
  const double requests = static_cast<double>(w.total - w.failed);
  const double allowed = policy.budget_ratio * requests + policy.budget_min;
  return static_cast<double>(w.failed) + 1 <= allowed;
}

int backoff_ms(int round, const config::RetryPolicy& policy, Rng& rng) {
  if (round <= 0 || policy.backoff_ms <= 0) return 0;
  std::int64_t cap = policy.backoff_ms;
  for (int i = 1; i < round && cap < policy.max_backoff_ms; ++i) cap *= 2;
  cap = std::min<std::int64_t>(cap, policy.max_backoff_ms);
  return static_cast<int>(rng.below(static_cast<std::uint64_t>(cap) + 1));
}

Plan::Plan(Few<const Pool*> pools, Few<LocalState*> local, Rng& rng) : rng_(rng) {
  const auto& first = *pools.front();
  if (first.retry.attempts > 0) {
    max_attempts_ = first.retry.attempts;
  } else {
    std::size_t members = 0;
    for (const auto* p : pools) members += p->members.size();
    max_attempts_ = static_cast<int>(std::max<std::size_t>(members, 2));
  }
  switch_to(std::move(pools), std::move(local));
}

void Plan::switch_to(Few<const Pool*> pools, Few<LocalState*> local) {
  pools_ = std::move(pools);
  local_ = std::move(local);
  tried_.assign(pools_.size(), 0);
  refused_.assign(pools_.size(), 0);
  cur_ = 0;
  round_ = 0;
  last_.reset();
}

void Plan::note_unavailable(std::int64_t now_ms) {
  back_at_ms_ = 0;
  for (const auto* pool : pools_) {
    for (const auto& m : pool->members) {
      const auto& s = *m.state;
      const bool cooling = now_ms < s.cooldown_until_ms();
      const std::int64_t at = cooling ? s.cooldown_until_ms() : s.open_until_ms();
      const std::int64_t back = std::max(at, now_ms + 1);
      if (back_at_ms_ == 0 || back < back_at_ms_) {
        back_at_ms_ = back;
        cooling_ = cooling;
      }
    }
  }
}

std::optional<Plan::Pick> Plan::search(std::int64_t now_ms, Mask last_excluded) {
  for (std::size_t p = cur_; p < pools_.size(); ++p) {
    const Pool& pool = *pools_[p];
    for (;;) {
      Mask skip = tried_[p] | refused_[p];
      if (last_ && last_->first == p) skip |= last_excluded;
      const int i = pick(pool.members, pool.strategy, skip, now_ms, *local_[p], rng_);
      if (i < 0) break;
      const auto idx = static_cast<std::size_t>(i);
      auto& state = *pool.members[idx].state;
      const Admission a = state.admit(now_ms, pool.breaker);
      if (a == Admission::ok || a == Admission::probe) {
        tried_[p] |= Mask{1} << idx;
        cur_ = p;
        return Pick{p, idx, 0, a == Admission::probe};
      }
      refused_[p] |= Mask{1} << idx;
    }
  }
  return std::nullopt;
}

std::optional<Plan::Pick> Plan::next(std::int64_t now_ms) {
  if (attempts_ >= max_attempts_) {
    stop_ = Stop::attempts;
    return std::nullopt;
  }
  RetryBudget* budget = pools_.front()->budget;
  const config::RetryPolicy& retry = pools_.front()->retry;
  const bool requeue = std::exchange(requeue_, false);
  if (requeue) budget = nullptr;  // neither checked nor spent
  if (attempts_ > 0 && budget && !budget->allows(now_ms, retry)) {
    stop_ = Stop::budget;
    return std::nullopt;
  }
  std::optional<Pick> found = search(now_ms, 0);
  if (!found && attempts_ > 0) {
    // Every deployment was tried once this round: go round again, not straight back to the one
    // that just failed unless it is the only one left, after a backoff.
    std::ranges::fill(tried_, 0);
    cur_ = 0;
    const Mask last = last_ ? Mask{1} << last_->second : 0;
    found = search(now_ms, last);
    if (!found && last) found = search(now_ms, 0);
    if (found) found->backoff_ms = backoff_ms(++round_, retry, rng_);
  }
  if (!found) {
    stop_ = attempts_ == 0 ? Stop::unavailable : Stop::exhausted;
    if (attempts_ == 0) note_unavailable(now_ms);
    return std::nullopt;
  }
  if (budget) {
    if (attempts_ > 0) {
      budget->spend(now_ms);
    } else {
      budget->on_request(now_ms);
    }
  }
  ++attempts_;
  last_ = std::make_pair(found->pool, found->member);
  return found;
}

}  // namespace stratus::routing
