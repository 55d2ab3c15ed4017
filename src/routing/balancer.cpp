// Tiers, then smooth weighted round robin, power of two choices (in-flight or peak-EWMA
// latency), cheapest first, or config order.
#include "routing/balancer.h"

#include <limits>

namespace stratus::routing {

namespace {

constexpr auto mo = std::memory_order_relaxed;

// Nginx's smooth weighted round robin: every candidate gains its weight, the largest wins and
// pays the total back. Spreads picks evenly (a,a,b,a,a,b... not a,a,a,a,b,b).
int smooth_weighted(std::span<const Member> members, std::span<const int> eligible,
                    LocalState& local) {
  if (local.current.size() != members.size()) local.current.assign(members.size(), 0);
  std::int64_t total = 0;
  int best = -1;
  for (int i : eligible) {
    const std::int64_t w = members[static_cast<std::size_t>(i)].weight;
    total += w;
    auto& cur = local.current[static_cast<std::size_t>(i)];
    cur += w;
    if (best < 0 || cur > local.current[static_cast<std::size_t>(best)]) best = i;
  }
  if (total == 0) return eligible.front();  // all weights 0: config order
  local.current[static_cast<std::size_t>(best)] -= total;
  return best;
}

// Power of two choices: two distinct random candidates, the one with the lower load wins.
template <class Load>
int two_choices(std::span<const int> eligible, Rng& rng, Load load) {
  if (eligible.size() == 1) return eligible.front();
  const auto n = eligible.size();
  const auto a = rng.below(n);
  auto b = rng.below(n - 1);
  if (b >= a) ++b;
  const int x = eligible[a];
  const int y = eligible[b];
  return load(y) < load(x) ? y : x;
}

}  // namespace

int pick(std::span<const Member> members, config::Strategy strategy, Mask skip, std::int64_t now_ms,
         LocalState& local, Rng& rng) {
  // The best tier with any member that can take a request.
  int tier = std::numeric_limits<int>::max();
  int eligible[kMaxMembers];
  std::size_t count = 0;
  for (std::size_t i = 0; i < members.size() && i < kMaxMembers; ++i) {
    if ((skip >> i) & 1U) continue;
    const auto& m = members[i];
    if (m.priority > tier || !m.state->available(now_ms)) continue;
    if (m.priority < tier) {
      tier = m.priority;
      count = 0;
    }
    eligible[count++] = static_cast<int>(i);
  }
  if (count == 0) return -1;
  std::span<const int> candidates(eligible, count);
  auto in_flight = [&](int i) {
    return members[static_cast<std::size_t>(i)].state->in_flight.load(mo);
  };
  switch (strategy) {
    case config::Strategy::priority:
      return candidates.front();
    case config::Strategy::weighted:
      return smooth_weighted(members, candidates, local);
    case config::Strategy::least_busy:
      return two_choices(candidates, rng, in_flight);
    case config::Strategy::latency:
      // Peak-EWMA time to first byte, scaled by the queue a request would join.
      return two_choices(candidates, rng, [&](int i) {
        return members[static_cast<std::size_t>(i)].state->ewma_ms() *
               static_cast<double>(in_flight(i) + 1);
      });
    case config::Strategy::cost: {
      int best = candidates.front();
      auto key = [&](int i) {
        const double p = members[static_cast<std::size_t>(i)].price;
        return p < 0 ? std::numeric_limits<double>::infinity() : p;
      };
      for (int i : candidates) {
        if (key(i) < key(best) || (key(i) == key(best) && in_flight(i) < in_flight(best))) {
          best = i;
        }
      }
      return best;
    }
  }
  return candidates.front();
}

}  // namespace stratus::routing
