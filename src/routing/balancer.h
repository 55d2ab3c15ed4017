// Load balancing within one alias: tiers by priority, then a strategy among the deployments of
// the best tier that can take a request. Pure apart from the shared DeploymentState it reads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "config/config.h"
#include "routing/state.h"

namespace stratus::routing {

// One deployment as the balancer sees it.
struct Member {
  DeploymentState* state = nullptr;
  int priority = 0;   // tier: lower first
  int weight = 1;     // weighted
  double price = -1;  // cost: $ per 1M tokens (input + output); < 0 = unpriced, tried last
};

// A small fast generator, one per worker (splitmix64).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }

 private:
  std::uint64_t s_;
};

// What one worker remembers about one alias between requests (smooth weighted round robin).
struct LocalState {
  std::vector<std::int64_t> current;
};

// Bit i set = member i is out of the question for this pick. Aliases have at most 64 members.
using Mask = std::uint64_t;
inline constexpr std::size_t kMaxMembers = 64;

// The member to try next, or -1 when every member is masked or unavailable.
int pick(std::span<const Member> members, config::Strategy strategy, Mask skip, std::int64_t now_ms,
         LocalState& local, Rng& rng);

}  // namespace stratus::routing
