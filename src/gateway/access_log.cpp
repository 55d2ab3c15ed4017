// Per-worker access-log buffers written out by one background thread.
#include "gateway/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "core/json_text.h"

namespace stratus::gateway {

namespace {
constexpr std::size_t kMaxPending = 8 * 1024 * 1024;  // per shard; beyond it lines are dropped

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // a closed stdout must not take the gateway down
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}
}  // namespace

AccessLog::AccessLog(const std::string& where) {
  if (where == "off" || where.empty()) return;
  if (where == "stdout") {
    fd_ = 1;
  } else if (where == "stderr") {
    fd_ = 2;
  } else {
    fd_ = ::open(where.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd_ < 0) throw std::runtime_error("cannot open access log " + where);
    owns_fd_ = true;
  }
  flusher_ = std::thread([this] { run_flusher(); });
}

AccessLog::~AccessLog() {
  {
    std::lock_guard lock(write_mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
  flush();
  if (owns_fd_) ::close(fd_);
}

AccessLog::Shard& AccessLog::make_shard() {
  std::lock_guard lock(shards_mutex_);
  shards_.push_back(std::make_unique<Shard>());
  return *shards_.back();
}

void AccessLog::run_flusher() {
  std::unique_lock lock(write_mutex_);
  while (!stop_) {
    stop_cv_.wait_for(lock, std::chrono::milliseconds(100));
    lock.unlock();
    flush();
    lock.lock();
  }
}

// Each shard's lines are written from the buffer they were formatted into: the worker gets
// back last round's emptied buffer (its capacity kept), so nothing is copied or regrown.
void AccessLog::flush() {
  if (fd_ < 0) return;
  std::lock_guard lock(shards_mutex_);
  for (auto& s : shards_) {
    {
      std::lock_guard sl(s->mutex_);
      s->pending_.swap(s->spare_);
    }
    if (!s->spare_.empty()) write_all(fd_, s->spare_);
    s->spare_.clear();
  }
}

void AccessLog::Shard::write(const AccessRecord& r) {
  // Formatted straight into this worker's buffer: the flusher holds the lock only to swap it.
  std::lock_guard lock(mutex_);
  if (pending_.size() > kMaxPending) {
    ++dropped_;
    return;
  }
  format_to(pending_, r);
  pending_ += '\n';
}

std::string AccessLog::format(const AccessRecord& r) {
  std::string out;
  format_to(out, r);
  return out;
}

// By hand, not through fmt or a json::object (this runs on every request): fixed-point numbers
// (log tools read exponent forms poorly) and strings checked for UTF-8 (core/json_text.h).
void AccessLog::format_to(std::string& out, const AccessRecord& r) {
  using core::append_fixed;
  using core::append_int;
  using core::append_json_text;
  using namespace std::string_view_literals;
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  // "YYYY-MM-DDTHH:MM:SS" changes once a second: kept per thread.
  thread_local std::int64_t cached_sec = -1;
  thread_local char cached[64];
  std::int64_t sec = ms / 1000;
  if (sec != cached_sec) {
    std::time_t t = static_cast<std::time_t>(sec);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::snprintf(cached, sizeof cached, "%04d-%02d-%02dT%02d:%02d:%02d",
                  (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    cached_sec = sec;
  }
  out += R"({"time":")"sv;
  out.append(cached, 19);
  auto milli = static_cast<int>(ms % 1000);
  out += '.';
  out += static_cast<char>('0' + milli / 100);
  out += static_cast<char>('0' + milli / 10 % 10);
  out += static_cast<char>('0' + milli % 10);
  out += R"(Z","request_id":)"sv;
  append_json_text(out, r.request_id);
  out += R"(,"method":)"sv;
  append_json_text(out, r.method);
  out += R"(,"path":)"sv;
  append_json_text(out, r.path);
  out += R"(,"status":)"sv;
  append_int(out, r.status);
  auto field = [&out](std::string_view key, std::string_view value) {
    if (value.empty()) return;
    out += key;
    append_json_text(out, value);
  };
  field(R"(,"alias":)", r.alias);
  field(R"(,"provider":)", r.provider);
  field(R"(,"deployment":)", r.deployment);
  if (r.attempts > 0) {
    out += R"(,"attempts":)"sv;
    append_int(out, r.attempts);
  }
  out += r.stream ? R"(,"stream":true,"latency_ms":)"sv : R"(,"stream":false,"latency_ms":)"sv;
  append_fixed(out, r.latency_ms, 3);
  if (r.ttfb_ms >= 0) {
    out += R"(,"ttfb_ms":)"sv;
    append_fixed(out, r.ttfb_ms, 3);
  }
  if (r.usage) {
    out += R"(,"prompt_tokens":)"sv;
    append_int(out, r.usage->prompt_tokens);
    out += R"(,"completion_tokens":)"sv;
    append_int(out, r.usage->completion_tokens);
    out += R"(,"total_tokens":)"sv;
    append_int(out, r.usage->total_tokens);
    if (r.usage->cached_tokens) {
      out += R"(,"cached_tokens":)"sv;
      append_int(out, r.usage->cached_tokens);
    }
  }
  field(R"(,"key_id":)", r.key_id);
  field(R"(,"team":)", r.team);
  field(R"(,"task_id":)", r.task_id);
  if (r.cost_usd >= 0) {
    out += R"(,"cost_usd":)"sv;
    append_fixed(out, r.cost_usd, 8);
  }
  field(R"(,"error":)", r.error);
  if (r.tries.size() > 1) {
    out += R"(,"tries":[)"sv;
    for (std::size_t i = 0; i < r.tries.size(); ++i) {
      const auto& t = r.tries[i];
      if (i) out += ',';
      out += R"({"deployment":)"sv;
      append_json_text(out, t.deployment);
      out += R"(,"status":)"sv;
      append_int(out, t.status);
      out += R"(,"ms":)"sv;
      append_fixed(out, t.ms, 3);
      field(R"(,"error":)", t.error);
      out += '}';
    }
    out += ']';
  }
  out += '}';
}

}  // namespace stratus::gateway
