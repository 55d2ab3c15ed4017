// Agent-task accounting with call and cost limits, idle expiry and an LRU cap (see tasks.h).
#include "governance/tasks.h"

#include <algorithm>

namespace stratus::governance {

namespace {

std::string task_key(std::string_view key_id, std::string_view task_id) {
  std::string k;
  k.reserve(key_id.size() + task_id.size() + 1);
  k += key_id;
  k += '\n';
  k += task_id;
  return k;
}

template <class T>
T lower_positive(T a, T b) {
  if (a <= 0) return b > 0 ? b : 0;
  if (b <= 0) return a;
  return std::min(a, b);
}

}  // namespace

TaskLimits effective_task_limits(const TaskLimits& ceiling, std::optional<long> client_calls,
                                 std::optional<double> client_usd) {
  return TaskLimits{.max_calls = lower_positive(ceiling.max_calls, client_calls.value_or(0)),
                    .max_usd = lower_positive(ceiling.max_usd, client_usd.value_or(0.0))};
}

TaskTracker::TaskTracker(TaskOptions opts)
    : opts_(opts), per_shard_cap_(std::max<std::size_t>(1, opts.max_tasks / 64)) {}

TaskTracker::Shard& TaskTracker::shard_of(std::string_view key) {
  return shards_[StringHash{}(key) % shards_.size()];
}

TaskInfo TaskTracker::info_of(const Task& t) {
  return TaskInfo{.key_id = t.key_id,
                  .task_id = t.task_id,
                  .calls = t.calls,
                  .refused = t.refused,
                  .in_flight = t.in_flight,
                  .prompt_tokens = t.prompt_tokens,
                  .completion_tokens = t.completion_tokens,
                  .cost_usd = nanos_to_usd(t.spent),
                  .reserved_usd = nanos_to_usd(t.reserved),
                  .first_ms = t.first_ms,
                  .last_ms = t.last_ms,
                  .wall_ms = t.last_ms - t.first_ms,
                  .limits = t.limits};
}

void TaskTracker::make_room(ShardState& s) {
  // Oldest first; tasks with calls in flight stay (their settle must find them).
  for (auto it = s.lru.end(); s.tasks.size() >= per_shard_cap_ && it != s.lru.begin();) {
    --it;
    const auto t = s.tasks.find(*it);
    if (t->second.in_flight > 0) continue;
    s.tasks.erase(t);
    it = s.lru.erase(it);
  }
}

TaskDecision TaskTracker::admit(std::string_view key_id, std::string_view task_id,
                                const TaskLimits& limits, double reserve_usd, std::int64_t now_ms) {
  const auto key = task_key(key_id, task_id);
  auto& sh = shard_of(key);
  const std::scoped_lock lock(sh.mu);
  auto& s = sh.s;
  auto it = s.tasks.find(key);
  const Nanos reserve = usd_to_nanos(reserve_usd);
  const Nanos max_usd = usd_to_nanos(limits.max_usd);

  TaskDecision d;
  d.limits = limits;
  const long calls = it == s.tasks.end() ? 0 : it->second.calls;
  const Nanos spent = it == s.tasks.end() ? 0 : it->second.spent;
  const Nanos reserved = it == s.tasks.end() ? 0 : it->second.reserved;
  if (limits.max_calls > 0 && calls + 1 > limits.max_calls) {
    d.refused = TaskRefusal::calls;
  } else if (limits.max_usd > 0 && spent + reserved + reserve > max_usd) {
    d.refused = TaskRefusal::usd;
  }
  d.calls = calls;
  d.spent_usd = nanos_to_usd(spent);
  d.reserved_usd = nanos_to_usd(reserved);
  if (d.refused != TaskRefusal::none) {
    if (it != s.tasks.end()) ++it->second.refused;
    return d;
  }

  if (it == s.tasks.end()) {
    make_room(s);
    s.lru.push_front(key);
    Task t;
    t.key_id = key_id;
    t.task_id = task_id;
    t.first_ms = now_ms;
    t.lru = s.lru.begin();
    it = s.tasks.emplace(key, std::move(t)).first;
  } else {
    s.lru.splice(s.lru.begin(), s.lru, it->second.lru);
  }
  auto& t = it->second;
  ++t.calls;
  ++t.in_flight;
  t.reserved += reserve;
  t.last_ms = std::max(t.last_ms, now_ms);
  t.limits = limits;
  d.allowed = true;
  d.calls = t.calls;
  d.reserved_usd = nanos_to_usd(t.reserved);
  d.reserved = reserve;
  return d;
}

void TaskTracker::settle(std::string_view key_id, std::string_view task_id, Nanos reserved,
                         double actual_usd, long prompt_tokens, long completion_tokens,
                         std::int64_t now_ms) {
  const auto key = task_key(key_id, task_id);
  auto& sh = shard_of(key);
  const std::scoped_lock lock(sh.mu);
  const auto it = sh.s.tasks.find(key);
  if (it == sh.s.tasks.end()) return;
  auto& t = it->second;
  t.reserved = std::max<Nanos>(0, t.reserved - reserved);
  t.spent += usd_to_nanos(actual_usd);
  t.prompt_tokens += std::max(0L, prompt_tokens);
  t.completion_tokens += std::max(0L, completion_tokens);
  t.in_flight = std::max(0L, t.in_flight - 1);
  t.last_ms = std::max(t.last_ms, now_ms);
}

bool TaskTracker::would_exceed(std::string_view key_id, std::string_view task_id,
                               double extra_usd) {
  const auto key = task_key(key_id, task_id);
  auto& sh = shard_of(key);
  const std::scoped_lock lock(sh.mu);
  const auto it = sh.s.tasks.find(key);
  if (it == sh.s.tasks.end() || it->second.limits.max_usd <= 0) return false;
  const auto& t = it->second;
  return t.spent + t.reserved + usd_to_nanos(extra_usd) > usd_to_nanos(t.limits.max_usd);
}

std::optional<TaskInfo> TaskTracker::get(std::string_view key_id, std::string_view task_id) {
  const auto key = task_key(key_id, task_id);
  auto& sh = shard_of(key);
  const std::scoped_lock lock(sh.mu);
  const auto it = sh.s.tasks.find(key);
  if (it == sh.s.tasks.end()) return std::nullopt;
  return info_of(it->second);
}

std::vector<TaskInfo> TaskTracker::find(std::string_view task_id) {
  std::vector<TaskInfo> out;
  for (auto& sh : shards_) {
    const std::scoped_lock lock(sh.mu);
    for (const auto& [k, t] : sh.s.tasks) {
      if (t.task_id == task_id) out.push_back(info_of(t));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const TaskInfo& a, const TaskInfo& b) { return a.key_id < b.key_id; });
  return out;
}

std::vector<TaskInfo> TaskTracker::top(std::size_t n) {
  std::vector<TaskInfo> out;
  for (auto& sh : shards_) {
    const std::scoped_lock lock(sh.mu);
    for (const auto& [k, t] : sh.s.tasks) out.push_back(info_of(t));
  }
  const auto by_cost = [](const TaskInfo& a, const TaskInfo& b) {
    if (a.cost_usd != b.cost_usd) return a.cost_usd > b.cost_usd;
    return a.calls > b.calls;
  };
  const auto k = std::min(n, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(k), out.end(), by_cost);
  out.resize(k);
  return out;
}

std::size_t TaskTracker::sweep(std::int64_t now_ms) {
  std::size_t removed = 0;
  for (auto& sh : shards_) {
    const std::scoped_lock lock(sh.mu);
    for (auto it = sh.s.lru.end(); it != sh.s.lru.begin();) {
      --it;
      const auto t = sh.s.tasks.find(*it);
      if (t->second.in_flight > 0 || now_ms - t->second.last_ms <= opts_.idle_ttl_ms) continue;
      sh.s.tasks.erase(t);
      it = sh.s.lru.erase(it);
      ++removed;
    }
  }
  return removed;
}

std::size_t TaskTracker::size() {
  std::size_t n = 0;
  for (auto& sh : shards_) {
    const std::scoped_lock lock(sh.mu);
    n += sh.s.tasks.size();
  }
  return n;
}

}  // namespace stratus::governance
