// Admission and settlement of one request across limits, budgets and tasks (see governor.h).
#include "governance/governor.h"

#include <fmt/format.h>

#include <array>
#include <cmath>

namespace stratus::governance {

namespace {

using Scopes = std::array<ScopeLimits, 3>;
using BScopes = std::array<BudgetScope, 2>;

std::size_t rate_scopes(const Admission& a, Scopes& out) {
  std::size_t n = 0;
  const auto add = [&](const std::string& scope, const ScopeLimits& l) {
    if (!scope.empty() && (l.rpm > 0 || l.tpm > 0)) out[n++] = {scope, l.rpm, l.tpm};
  };
  add(a.key_scope, a.key_rates);
  add(a.team_scope, a.team_rates);
  add(a.model_scope, a.model_rates);
  return n;
}

std::size_t budget_scopes(const Admission& a, BScopes& out) {
  std::size_t n = 0;
  if (!a.key_scope.empty() && a.key_budget > 0)
    out[n++] = {a.key_scope, a.key_budget, a.key_period};
  if (!a.team_scope.empty() && a.team_budget > 0) {
    out[n++] = {a.team_scope, a.team_budget, a.team_period};
  }
  return n;
}

core::Error too_many(std::string message) {
  return core::Error::make(core::ErrorKind::rate_limit, std::move(message), {},
                           "rate_limit_exceeded");
}

Refusal rate_refusal(const RateDecision& d, long tokens) {
  core::Error e;
  if (d.too_large) {
    e = too_many(fmt::format("Request too large for {}: Limit {} tokens per min, Requested {}.",
                             d.scope, d.tokens.limit, tokens));
  } else if (d.refused == LimitKind::tokens) {
    e = too_many(fmt::format(
        "Rate limit reached for tokens per min (TPM) on {}: Limit {}, Remaining {}, Requested "
        "{}. Please try again in {}s.",
        d.scope, d.tokens.limit, d.tokens.remaining, tokens, d.retry_after_s));
  } else {
    e = too_many(fmt::format(
        "Rate limit reached for requests per min (RPM) on {}: Limit {}, Remaining {}, Requested "
        "1. Please try again in {}s.",
        d.scope, d.requests.limit, d.requests.remaining, d.retry_after_s));
  }
  e.retry_after_s = d.retry_after_s > 0 ? std::optional<int>(d.retry_after_s) : std::nullopt;
  return Refusal{std::move(e), rate_limit_headers(d)};
}

Refusal budget_refusal(const BudgetDecision& d, std::int64_t now_ms) {
  const auto wait_s = std::max<std::int64_t>(1, (d.resets_at_ms - now_ms + 999) / 1000);
  auto e = core::Error::make(
      core::ErrorKind::rate_limit,
      fmt::format("Budget exceeded for {}: ${:.6f} spent and ${:.6f} reserved of ${:.6f} this "
                  "period; this request may cost more than what is left.",
                  d.scope, d.spent_usd, d.reserved_usd, d.budget_usd),
      {}, "insufficient_quota");
  e.retry_after_s = static_cast<int>(std::min<std::int64_t>(wait_s, 31LL * 86400));
  return Refusal{e, {{"retry-after", std::to_string(*e.retry_after_s)}}};
}

Refusal task_refusal(const TaskDecision& d, std::string_view task_id) {
  const auto msg =
      d.refused == TaskRefusal::calls
          ? fmt::format("Task {} reached its limit of {} calls.", task_id, d.limits.max_calls)
          : fmt::format(
                "Task {} would exceed its limit of ${:.6f}: ${:.6f} spent, ${:.6f} "
                "reserved by calls in flight.",
                task_id, d.limits.max_usd, d.spent_usd, d.reserved_usd);
  return Refusal{core::Error::make(core::ErrorKind::rate_limit, msg, {}, "task_budget_exceeded"),
                 {}};
}

}  // namespace

Governor::Governor(GovernorOptions opts) : opts_(opts), tasks_(opts.tasks) {}

std::expected<Admission, Refusal> Governor::admit(const AdmitRequest& r) {
  if (r.key != nullptr && !r.key->allows_model(r.model)) {
    return std::unexpected(Refusal{model_not_allowed_error(r.key->id, r.model), {}});
  }
  Admission a;
  if (r.key != nullptr) {
    a.key_id = r.key->id;
    a.key_scope = "key:" + r.key->id;
    a.key_rates = {{}, r.key->rpm, r.key->tpm};
    a.key_budget = r.key->budget_usd;
    a.key_period = r.key->budget_period;
    if (!r.key->team.empty()) a.team_scope = "team:" + r.key->team;
  }
  if (r.team != nullptr && !a.team_scope.empty()) {
    a.team_rates = {{}, r.team->rpm, r.team->tpm};
    a.team_budget = r.team->budget_usd;
    a.team_period = r.team->budget_period;
  }
  a.model_scope = "model:";
  a.model_scope += r.model;
  a.model_rates = {{}, r.model_limits.rpm, r.model_limits.tpm};
  a.tokens_taken = r.prompt_tokens + (opts_.tpm_counts_max_output ? r.max_output_tokens : 0);
  a.worst_case_usd = cost_usd(r.price, r.prompt_tokens, 0, r.max_output_tokens);

  Scopes rs;
  const auto nr = rate_scopes(a, rs);
  const std::span rates(rs.data(), nr);
  if (nr > 0) {
    const auto d = limiter_.admit(rates, a.tokens_taken, r.now_ms);
    if (!d.allowed) return std::unexpected(rate_refusal(d, a.tokens_taken));
    a.headers = rate_limit_headers(d);
  }

  BScopes bs;
  const auto nb = budget_scopes(a, bs);
  const std::span budgets(bs.data(), nb);
  if (nb > 0) {
    const auto d = budgets_.reserve(budgets, a.worst_case_usd, r.now_ms);
    if (!d.allowed) {
      limiter_.release(rates, a.tokens_taken, r.now_ms);
      return std::unexpected(budget_refusal(d, r.now_ms));
    }
    a.budget_reserved = d.reserved;
  }

  if (!r.task_id.empty()) {
    const TaskLimits ceiling =
        r.key != nullptr ? TaskLimits{r.key->max_task_calls, r.key->max_task_usd} : TaskLimits{};
    const auto limits = effective_task_limits(ceiling, r.task_max_calls, r.task_max_usd);
    const auto d = tasks_.admit(a.key_id, r.task_id, limits, a.worst_case_usd, r.now_ms);
    if (!d.allowed) {
      limiter_.release(rates, a.tokens_taken, r.now_ms);
      if (nb > 0) budgets_.settle(budgets, a.budget_reserved, 0, r.now_ms);
      return std::unexpected(task_refusal(d, r.task_id));
    }
    a.task_id = r.task_id;
    a.task_reserved = d.reserved;
  }
  return a;
}

double Governor::settle(Admission& a, const Price& price_used, const TokenUsage& usage,
                        std::int64_t now_ms) {
  const double cost = cost_usd(price_used, usage);
  if (a.settled) return cost;
  a.settled = true;
  Scopes rs;
  if (const auto nr = rate_scopes(a, rs); nr > 0) {
    const long actual = std::max(0L, usage.prompt) + std::max(0L, usage.completion);
    limiter_.reconcile(std::span(rs.data(), nr), actual - a.tokens_taken, now_ms);
  }
  BScopes bs;
  if (const auto nb = budget_scopes(a, bs); nb > 0) {
    budgets_.settle(std::span(bs.data(), nb), a.budget_reserved, cost, now_ms);
  }
  if (!a.task_id.empty()) {
    tasks_.settle(a.key_id, a.task_id, a.task_reserved, cost, usage.prompt, usage.completion,
                  now_ms);
  }
  return cost;
}

bool Governor::would_exceed(const Admission& a, double cost_so_far_usd, std::int64_t now_ms) {
  const double extra = cost_so_far_usd - a.worst_case_usd;
  if (a.settled || extra <= 0) return false;
  BScopes bs;
  if (const auto nb = budget_scopes(a, bs);
      nb > 0 && budgets_.would_exceed(std::span(bs.data(), nb), extra, now_ms)) {
    return true;
  }
  return !a.task_id.empty() && tasks_.would_exceed(a.key_id, a.task_id, extra);
}

}  // namespace stratus::governance
