// Agent-task accounting: one agent run sends `x-stratus-task-id: <id>` on each of its calls.
// Per task (of one key) this keeps calls, tokens, cost and first/last time, and enforces a
// maximum number of calls and a maximum cost: admission counts the call and reserves its
// worst-case cost like a budget (refused when spent + reserved + this > max), settle replaces
// the reservation with the real cost. Refusal code: task_budget_exceeded.
//
// Tasks are keyed by (key id, task id), so one key cannot spend another's task. Memory is
// bounded: tasks idle for longer than `idle_ttl_ms` are dropped by `sweep`, and each of the 64
// shards keeps at most max_tasks/64 tasks, evicting its least recently used idle task (one
// with no call in flight) to make room. Thread-safe (sharded mutexes, one shard per call).
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "governance/budget.h"
#include "governance/shards.h"

namespace stratus::governance {

// 0 = no limit of that kind.
struct TaskLimits {
  long max_calls = 0;
  double max_usd = 0;
};

// The limits of one call: the lower of the key's ceiling and what the client asked for
// (x-stratus-task-max-calls / x-stratus-task-max-usd), each kind on its own; 0 or absent = none.
TaskLimits effective_task_limits(const TaskLimits& key_ceiling, std::optional<long> client_calls,
                                 std::optional<double> client_usd);

enum class TaskRefusal { none, calls, usd };

struct TaskDecision {
  bool allowed = false;
  TaskRefusal refused = TaskRefusal::none;
  long calls = 0;  // calls admitted so far, this one included when allowed
  double spent_usd = 0;
  double reserved_usd = 0;
  TaskLimits limits;
  Nanos reserved = 0;  // pass back to settle
};

struct TaskInfo {
  std::string key_id;
  std::string task_id;
  long calls = 0;
  long refused = 0;  // calls refused for a task limit
  long in_flight = 0;
  long prompt_tokens = 0;
  long completion_tokens = 0;
  double cost_usd = 0;
  double reserved_usd = 0;
  std::int64_t first_ms = 0;
  std::int64_t last_ms = 0;
  std::int64_t wall_ms = 0;  // last - first
  TaskLimits limits;         // of the latest call
};

struct TaskOptions {
  std::int64_t idle_ttl_ms = 24LL * 3600 * 1000;
  std::size_t max_tasks = 100'000;
};

class TaskTracker {
 public:
  explicit TaskTracker(TaskOptions opts = {});

  // Counts one call of the task and reserves `reserve_usd`, unless a limit refuses it.
  TaskDecision admit(std::string_view key_id, std::string_view task_id, const TaskLimits& limits,
                     double reserve_usd, std::int64_t now_ms);

  // After the answer (or its failure): releases the reservation, adds cost and tokens.
  void settle(std::string_view key_id, std::string_view task_id, Nanos reserved, double actual_usd,
              long prompt_tokens, long completion_tokens, std::int64_t now_ms);

  // Whether spending `extra_usd` more would take the task past its max_usd.
  bool would_exceed(std::string_view key_id, std::string_view task_id, double extra_usd);

  std::optional<TaskInfo> get(std::string_view key_id, std::string_view task_id);
  // Every key's task with this id (the admin API looks tasks up by id alone).
  std::vector<TaskInfo> find(std::string_view task_id);
  // The `n` most expensive tasks, most expensive first.
  std::vector<TaskInfo> top(std::size_t n);

  // Drops tasks idle since before now - idle_ttl with nothing in flight; returns how many.
  std::size_t sweep(std::int64_t now_ms);
  std::size_t size();

 private:
  using Lru = std::list<std::string>;  // keys, most recent first
  struct Task {
    std::string key_id;
    std::string task_id;
    long calls = 0;
    long refused = 0;
    long in_flight = 0;
    long prompt_tokens = 0;
    long completion_tokens = 0;
    Nanos spent = 0;
    Nanos reserved = 0;
    std::int64_t first_ms = 0;
    std::int64_t last_ms = 0;
    TaskLimits limits;
    Lru::iterator lru;
  };
  struct ShardState {
    StringMap<Task> tasks;
    Lru lru;
  };
  struct alignas(64) Shard {
    std::mutex mu;
    ShardState s;
  };

  static TaskInfo info_of(const Task& t);
  Shard& shard_of(std::string_view key);
  void make_room(ShardState& s);

  TaskOptions opts_;
  std::size_t per_shard_cap_;
  std::array<Shard, 64> shards_;
};

}  // namespace stratus::governance
