// Token-bucket RPM/TPM limiter over sharded scopes (see limiter.h).
#include "governance/limiter.h"

#include <fmt/format.h>

#include <algorithm>

namespace stratus::governance {

namespace {

// Bucket levels are kept in 1/60000ths of a token: a limit of L per minute refills exactly L
// units per millisecond.
constexpr std::int64_t kScale = 60000;

std::int64_t capacity(long limit) { return static_cast<std::int64_t>(limit) * kScale; }

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

}  // namespace

namespace {

template <class Bucket>
void refill(Bucket& b, long limit, std::int64_t now) {
  if (limit <= 0) {
    b.limit = 0;
    return;
  }
  if (b.limit != limit) {
    if (b.limit == 0) {
      b.level = capacity(limit);  // first use (or newly limited): a full bucket
      b.last_ms = now;
    } else {
      b.level = std::min(b.level, capacity(limit));
    }
    b.limit = limit;
  }
  if (now <= b.last_ms) return;
  const std::int64_t cap = capacity(limit);
  const std::int64_t elapsed = now - b.last_ms;
  // Saturate before multiplying: a long idle time would overflow elapsed * limit.
  if (elapsed >= ceil_div(cap - b.level, limit)) {
    b.level = cap;
  } else {
    b.level += elapsed * limit;
  }
  b.last_ms = now;
}

template <class Bucket>
bool is_full(const Bucket& b) {
  return b.limit == 0 || b.level >= capacity(b.limit);
}

template <class Bucket>
LimitState state_of(const Bucket& b) {
  return LimitState{.present = true,
                    .limit = b.limit,
                    .remaining = static_cast<long>(std::max<std::int64_t>(0, b.level / kScale)),
                    .reset_ms = ceil_div(capacity(b.limit) - b.level, b.limit)};
}

// Keeps the most constraining state: the least remaining, then the longest reset.
void keep_tightest(LimitState& into, const LimitState& s) {
  if (!into.present || s.remaining < into.remaining ||
      (s.remaining == into.remaining && s.reset_ms > into.reset_ms)) {
    into = s;
  }
}

}  // namespace

RateDecision RateLimiter::admit(std::span<const ScopeLimits> scopes, long tokens,
                                std::int64_t now_ms) {
  RateDecision d;
  if (scopes.size() > kMaxScopes) {
    d.refused = LimitKind::requests;
    d.scope = "too many scopes";
    return d;
  }
  std::array<std::string_view, kMaxScopes> names;
  for (std::size_t i = 0; i < scopes.size(); ++i) names[i] = scopes[i].scope;
  const Shards<State>::MultiLock lock(shards_, std::span(names.data(), scopes.size()));

  std::array<State*, kMaxScopes> st{};
  const std::int64_t need = static_cast<std::int64_t>(std::max(0L, tokens)) * kScale;
  std::int64_t wait_ms = -1;
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    const auto& l = scopes[i];
    auto& s = lock.get(i, [] { return State{}; });
    st[i] = &s;
    refill(s.requests, l.rpm, now_ms);
    refill(s.tokens, l.tpm, now_ms);
    const auto refuse = [&](LimitKind kind, std::int64_t wait) {
      if (d.too_large || wait <= wait_ms) return;
      wait_ms = wait;
      d.refused = kind;
      d.scope = l.scope;
    };
    if (l.rpm > 0 && s.requests.level < kScale) {
      refuse(LimitKind::requests, ceil_div(kScale - s.requests.level, l.rpm));
    }
    if (l.tpm > 0 && tokens > l.tpm) {
      if (!d.too_large) {
        d.too_large = true;
        d.refused = LimitKind::tokens;
        d.scope = l.scope;
      }
    } else if (l.tpm > 0 && s.tokens.level < need) {
      refuse(LimitKind::tokens, ceil_div(need - s.tokens.level, l.tpm));
    }
  }
  d.allowed = d.refused == LimitKind::none;
  if (d.allowed) {
    for (std::size_t i = 0; i < scopes.size(); ++i) {
      if (scopes[i].rpm > 0) st[i]->requests.level -= kScale;
      if (scopes[i].tpm > 0) st[i]->tokens.level -= need;
    }
  } else if (!d.too_large) {
    d.retry_after_s = static_cast<int>(std::max<std::int64_t>(1, ceil_div(wait_ms, 1000)));
  }
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    if (scopes[i].rpm > 0) keep_tightest(d.requests, state_of(st[i]->requests));
    if (scopes[i].tpm > 0) keep_tightest(d.tokens, state_of(st[i]->tokens));
  }
  return d;
}

void RateLimiter::reconcile(std::span<const ScopeLimits> scopes, long delta_tokens,
                            std::int64_t now_ms) {
  if (scopes.size() > kMaxScopes) return;
  std::array<std::string_view, kMaxScopes> names;
  for (std::size_t i = 0; i < scopes.size(); ++i) names[i] = scopes[i].scope;
  const Shards<State>::MultiLock lock(shards_, std::span(names.data(), scopes.size()));
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    const auto& l = scopes[i];
    if (l.tpm <= 0) continue;
    auto& s = lock.get(i, [] { return State{}; });
    refill(s.tokens, l.tpm, now_ms);
    s.tokens.level = std::min(capacity(l.tpm),
                              s.tokens.level - static_cast<std::int64_t>(delta_tokens) * kScale);
  }
}

void RateLimiter::release(std::span<const ScopeLimits> scopes, long tokens, std::int64_t now_ms) {
  if (scopes.size() > kMaxScopes) return;
  std::array<std::string_view, kMaxScopes> names;
  for (std::size_t i = 0; i < scopes.size(); ++i) names[i] = scopes[i].scope;
  const Shards<State>::MultiLock lock(shards_, std::span(names.data(), scopes.size()));
  for (std::size_t i = 0; i < scopes.size(); ++i) {
    const auto& l = scopes[i];
    auto& s = lock.get(i, [] { return State{}; });
    refill(s.requests, l.rpm, now_ms);
    refill(s.tokens, l.tpm, now_ms);
    if (l.rpm > 0) s.requests.level = std::min(capacity(l.rpm), s.requests.level + kScale);
    if (l.tpm > 0) {
      s.tokens.level =
          std::min(capacity(l.tpm), s.tokens.level + static_cast<std::int64_t>(tokens) * kScale);
    }
  }
}

std::size_t RateLimiter::sweep(std::int64_t now_ms) {
  std::size_t removed = 0;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    auto& sh = shards_.shard(i);
    const std::scoped_lock lock(sh.mu);
    for (auto it = sh.map.begin(); it != sh.map.end();) {
      auto& st = it->second;
      refill(st.requests, st.requests.limit, now_ms);
      refill(st.tokens, st.tokens.limit, now_ms);
      if (is_full(st.requests) && is_full(st.tokens)) {
        it = sh.map.erase(it);
        ++removed;
      } else {
        ++it;
      }
    }
  }
  return removed;
}

std::size_t RateLimiter::size() {
  std::size_t n = 0;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    auto& sh = shards_.shard(i);
    const std::scoped_lock lock(sh.mu);
    n += sh.map.size();
  }
  return n;
}

std::string openai_duration(std::int64_t ms) {
  if (ms < 0) ms = 0;
  if (ms < 1000) return std::to_string(ms) + "ms";
  const auto h = ms / 3'600'000;
  const auto m = ms / 60'000 % 60;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(ms / 1000 % 60);
  if (const auto frac = ms % 1000; frac != 0) {
    char digits[4] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                      static_cast<char>('0' + frac % 10), 0};
    std::string_view f(digits, 3);
    while (f.back() == '0') f.remove_suffix(1);
    out += '.';
    out += f;
  }
  out += 's';
  return out;
}

Headers rate_limit_headers(const RateDecision& d) {
  Headers h;
  h.reserve(7);
  if (d.requests.present) {
    h.emplace_back("x-ratelimit-limit-requests", std::to_string(d.requests.limit));
    h.emplace_back("x-ratelimit-remaining-requests", std::to_string(d.requests.remaining));
    h.emplace_back("x-ratelimit-reset-requests", openai_duration(d.requests.reset_ms));
  }
  if (d.tokens.present) {
    h.emplace_back("x-ratelimit-limit-tokens", std::to_string(d.tokens.limit));
    h.emplace_back("x-ratelimit-remaining-tokens", std::to_string(d.tokens.remaining));
    h.emplace_back("x-ratelimit-reset-tokens", openai_duration(d.tokens.reset_ms));
  }
  if (!d.allowed && d.retry_after_s > 0) {
    h.emplace_back("retry-after", std::to_string(d.retry_after_s));
  }
  return h;
}

}  // namespace stratus::governance
