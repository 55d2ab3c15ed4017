// Requests-per-minute and tokens-per-minute limits per scope ("key:k_1", "team:t",
// "model:gpt-4o"), as token buckets: capacity = the per-minute limit, refilled continuously at
// limit/60 per second (integer arithmetic in 1/60000ths of a token, so refill is exact per
// millisecond and never drifts). A scope's bucket is made full on first use; a changed limit
// takes effect at once (the level is clamped to the new capacity).
//
// Admission is all-or-nothing over several scopes: a request is admitted only if every scope
// has a request and the token estimate left; otherwise nothing is taken. The token estimate is
// taken at admission and `reconcile` applies actual - estimated afterwards, which may leave a
// bucket negative (debt) until refill pays it back.
//
// Thread-safe: scopes hash to one of 64 shards, each with its own mutex; an operation locks the
// shards of its scopes in ascending order, so it is atomic and deadlock-free and two keys
// rarely contend. The clock is passed in (milliseconds; any epoch, must not go backwards by
// much: a `now` older than a bucket's last refill simply adds nothing).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "governance/shards.h"

namespace stratus::governance {

// One scope's limits for this request; 0 = no limit of that kind.
struct ScopeLimits {
  std::string_view scope;
  long rpm = 0;
  long tpm = 0;
};

// What OpenAI's x-ratelimit-* headers say for one kind (requests or tokens).
struct LimitState {
  bool present = false;  // some scope of the request has this kind of limit
  long limit = 0;
  long remaining = 0;
  std::int64_t reset_ms = 0;  // until the bucket is full again
};

enum class LimitKind { none, requests, tokens };

struct RateDecision {
  bool allowed = false;
  LimitKind refused = LimitKind::none;  // which limit refused
  std::string scope;                    // the refusing scope
  bool too_large = false;  // the estimate alone exceeds the scope's TPM: never admissible
  int retry_after_s = 0;   // on refusal: seconds until the refusing buckets allow it (>= 1)
  // The most constraining scope of each kind (the least remaining; after the take when
  // admitted).
  LimitState requests;
  LimitState tokens;
};

class RateLimiter {
 public:
  // Admits one request of `tokens` estimated tokens against every scope, or nothing. More than
  // kMaxScopes scopes is a caller bug and is refused.
  RateDecision admit(std::span<const ScopeLimits> scopes, long tokens, std::int64_t now_ms);

  // After the answer: applies `delta_tokens` (actual - estimated; negative gives tokens back)
  // to every scope's token bucket.
  void reconcile(std::span<const ScopeLimits> scopes, long delta_tokens, std::int64_t now_ms);

  // Gives back an admission that was not used (a later governance step refused it): one
  // request and `tokens` to every scope, capped at capacity.
  void release(std::span<const ScopeLimits> scopes, long tokens, std::int64_t now_ms);

  // Forgets buckets that are full at `now_ms` (indistinguishable from new ones); returns how
  // many. Bounds memory when scopes come and go.
  std::size_t sweep(std::int64_t now_ms);

  std::size_t size();

 private:
  struct Bucket {
    std::int64_t level = 0;  // in 1/kScale tokens
    std::int64_t last_ms = 0;
    long limit = 0;  // 0 = none
  };
  struct State {
    Bucket requests;
    Bucket tokens;
  };
  Shards<State> shards_;
};

// Response headers: lower-case names (static strings) and values.
using Headers = std::vector<std::pair<std::string_view, std::string>>;

// OpenAI-style duration: "20ms", "1s", "8.64s", "6m0s", "1h2m3s".
std::string openai_duration(std::int64_t ms);

// The response headers for a decision, lower-case names: x-ratelimit-{limit,remaining,reset}-
// {requests,tokens} for each kind some scope limits, and retry-after on refusal.
Headers rate_limit_headers(const RateDecision& d);

}  // namespace stratus::governance
