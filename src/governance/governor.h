// One request's governance in two calls: admit() before routing (model allow-list, RPM/TPM
// for key, team and model alias, $ budgets for key and team, agent-task limits) and settle()
// after the answer (TPM reconciled with real tokens, budgets and task charged the real cost).
// Each step is all-or-nothing and a later refusal gives back what earlier steps took, so a
// refused request takes nothing from any limit.
//
// Scopes: "key:<id>", "team:<name>", "model:<alias>" (rates), "key:<id>", "team:<name>"
// (budgets). Thread-safe; the Governor is shared by every worker.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "governance/budget.h"
#include "governance/keys.h"
#include "governance/limiter.h"
#include "governance/prices.h"
#include "governance/tasks.h"

namespace stratus::governance {

struct TeamLimits {
  long rpm = 0;  // 0 = none
  long tpm = 0;
  double budget_usd = 0;  // 0 = none
  Period budget_period = Period::month;
};

struct ModelLimits {
  long rpm = 0;  // 0 = none
  long tpm = 0;
};

struct GovernorOptions {
  // Whether the TPM buckets take the worst-case output at admission too (OpenAI's own limiter
  // counts max_tokens); by default only the prompt estimate is taken and the real completion
  // tokens are charged at settle.
  bool tpm_counts_max_output = false;
  TaskOptions tasks;
};

struct AdmitRequest {
  const KeyInfo* key = nullptr;      // nullptr: open mode (no key; model limits still apply)
  const TeamLimits* team = nullptr;  // limits of the key's team, if it has any
  std::string_view model;            // the alias the client asked for
  ModelLimits model_limits;
  Price price;                         // worst case over the alias's deployments (highest prices)
  long prompt_tokens = 0;              // estimate (tokens.h)
  long max_output_tokens = 0;          // worst case (tokens.h)
  std::string_view task_id;            // x-stratus-task-id; "" = none
  std::optional<long> task_max_calls;  // x-stratus-task-max-calls
  std::optional<double> task_max_usd;  // x-stratus-task-max-usd
  std::int64_t now_ms = 0;
};

// An admitted request: pass it to settle() exactly once (later calls do nothing).
struct Admission {
  std::string key_id;
  std::string key_scope;   // "key:<id>" or ""
  std::string team_scope;  // "team:<name>" or ""
  std::string model_scope;
  ScopeLimits key_rates, team_rates, model_rates;  // .scope is filled in when used
  double key_budget = 0, team_budget = 0;
  Period key_period = Period::month, team_period = Period::month;
  std::string task_id;
  long tokens_taken = 0;      // TPM taken at admission
  double worst_case_usd = 0;  // the reservation
  Nanos budget_reserved = 0;
  Nanos task_reserved = 0;
  bool settled = false;
  // x-ratelimit-* headers for the answer (empty when no rate limit applies).
  Headers headers;
};

struct Refusal {
  core::Error error;  // 403 model_not_allowed, 429 rate_limit_exceeded / insufficient_quota /
                      // task_budget_exceeded
  Headers headers;    // x-ratelimit-*, retry-after
};

class Governor {
 public:
  explicit Governor(GovernorOptions opts = {});

  std::expected<Admission, Refusal> admit(const AdmitRequest& r);

  // Charges what the answer really used, priced at the deployment that served it; returns the
  // cost in $. A failed request settles with zero usage (its reservations are returned).
  double settle(Admission& a, const Price& price_used, const TokenUsage& usage,
                std::int64_t now_ms);

  // Whether a stream that has cost `cost_so_far_usd` must stop: true when what it spent beyond
  // its own reservation would take a budget or its task past the limit.
  bool would_exceed(const Admission& a, double cost_so_far_usd, std::int64_t now_ms);

  RateLimiter& limiter() { return limiter_; }
  Budgets& budgets() { return budgets_; }
  TaskTracker& tasks() { return tasks_; }

 private:
  GovernorOptions opts_;
  RateLimiter limiter_;
  Budgets budgets_;
  TaskTracker tasks_;
};

}  // namespace stratus::governance
