// Per-worker access-log buffers written out by one background thread.
#include "gateway/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>
#include <utility>

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

AccessLog::AccessLog(const std::string& where, std::chrono::milliseconds tick) : tick_(tick) {
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
  shards_.push_back(std::unique_ptr<Shard>(new Shard(enabled() ? this : nullptr)));
  return *shards_.back();
}

void AccessLog::run_flusher() {
  std::unique_lock lock(write_mutex_);
  while (!stop_) {
    stop_cv_.wait_for(lock, tick_, [this] { return stop_ || wake_; });
    wake_ = false;
    lock.unlock();
    flush();
    lock.lock();
  }
}

// Under the flusher's mutex, so the wake-up cannot fall between its check and its wait; the
// flusher holds that mutex only around them, never while it writes.
void AccessLog::flush_soon() {
  {
    std::lock_guard lock(write_mutex_);
    if (std::exchange(wake_, true)) return;
  }
  stop_cv_.notify_one();
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
    if (s->spare_.capacity() > kKeepCapacity) s->spare_.shrink_to_fit();
  }
}

std::size_t AccessLog::buffered() {
  std::lock_guard lock(shards_mutex_);
  std::size_t n = 0;
  for (auto& s : shards_) {
    std::lock_guard sl(s->mutex_);
    n += s->pending_.size();
  }
  return n;
}

void AccessLog::Shard::write(const AccessRecord& r) {
  if (!log_) return;
  bool full;
  {
    // Formatted straight into this worker's buffer: the flusher holds the lock only to swap it.
    std::lock_guard lock(mutex_);
    if (pending_.size() > kMaxPending) {
      ++dropped_;
      return;
    }
    const auto before = pending_.size();
    format_to(pending_, r);
    pending_ += '\n';
    full = before < kFlushAt && pending_.size() >= kFlushAt;
  }
  if (full) log_->flush_soon();
}

std::string AccessLog::format(const AccessRecord& r) {
  std::string out;
  format_to(out, r);
  return out;
}

namespace {
// Room for the line: its fixed text, numbers at their longest, every text field escaped at
// its longest (core::json_text_room).
std::size_t line_room(const AccessRecord& r) {
  std::size_t room = 640;
  for (const std::string* s : {&r.request_id, &r.method, &r.path, &r.alias, &r.provider,
                               &r.deployment, &r.key_id, &r.team, &r.task_id, &r.error}) {
    room += core::json_text_room(*s);
  }
  if (r.tries.size() > 1) {
    for (const auto& t : r.tries) {
      room += 96 + core::json_text_room(t.deployment) + core::json_text_room(t.error);
    }
  }
  return room;
}

// Writes into room made beforehand (line_room): no capacity check per piece.
struct Cursor {
  char* p;
  void put(std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
  void put(char c) { *p++ = c; }
  void text(std::string_view s) { p = core::write_json_text(p, s); }
  void integer(std::int64_t v) { p = core::write_int(p, v); }
  void fixed(double v, int decimals) { p = core::write_fixed(p, v, decimals); }
  // `,"key":"value"`, left out when the value is empty.
  void field(std::string_view key, std::string_view value) {
    if (value.empty()) return;
    put(key);
    text(value);
  }
};
}  // namespace

// By hand, not through fmt or a json::object (this runs on every request): fixed-point numbers
// (log tools read exponent forms poorly) and strings checked for UTF-8 (core/json_text.h).
void AccessLog::format_to(std::string& out, const AccessRecord& r) {
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
  const std::size_t old = out.size();
  out.resize_and_overwrite(old + line_room(r), [&](char* buf, std::size_t) {
    Cursor c{buf + old};
    c.put(R"({"time":")"sv);
    c.put(std::string_view(cached, 19));
    auto milli = static_cast<int>(ms % 1000);
    c.put('.');
    c.put(static_cast<char>('0' + milli / 100));
    c.put(static_cast<char>('0' + milli / 10 % 10));
    c.put(static_cast<char>('0' + milli % 10));
    c.put(R"(Z","request_id":)"sv);
    c.text(r.request_id);
    c.put(R"(,"method":)"sv);
    c.text(r.method);
    c.put(R"(,"path":)"sv);
    c.text(r.path);
    c.put(R"(,"status":)"sv);
    c.integer(r.status);
    c.field(R"(,"alias":)", r.alias);
    c.field(R"(,"provider":)", r.provider);
    c.field(R"(,"deployment":)", r.deployment);
    if (r.attempts > 0) {
      c.put(R"(,"attempts":)"sv);
      c.integer(r.attempts);
    }
    c.put(r.stream ? R"(,"stream":true,"latency_ms":)"sv : R"(,"stream":false,"latency_ms":)"sv);
    c.fixed(r.latency_ms, 3);
    if (r.ttfb_ms >= 0) {
      c.put(R"(,"ttfb_ms":)"sv);
      c.fixed(r.ttfb_ms, 3);
    }
    if (r.usage) {
      c.put(R"(,"prompt_tokens":)"sv);
      c.integer(r.usage->prompt_tokens);
      c.put(R"(,"completion_tokens":)"sv);
      c.integer(r.usage->completion_tokens);
      c.put(R"(,"total_tokens":)"sv);
      c.integer(r.usage->total_tokens);
      if (r.usage->cached_tokens) {
        c.put(R"(,"cached_tokens":)"sv);
        c.integer(r.usage->cached_tokens);
      }
    }
    c.field(R"(,"key_id":)", r.key_id);
    c.field(R"(,"team":)", r.team);
    c.field(R"(,"task_id":)", r.task_id);
    if (r.cost_usd >= 0) {
      c.put(R"(,"cost_usd":)"sv);
      c.fixed(r.cost_usd, 8);
    }
    c.field(R"(,"error":)", r.error);
    if (r.tries.size() > 1) {
      c.put(R"(,"tries":[)"sv);
      for (std::size_t i = 0; i < r.tries.size(); ++i) {
        const auto& t = r.tries[i];
        if (i) c.put(',');
        c.put(R"({"deployment":)"sv);
        c.text(t.deployment);
        c.put(R"(,"status":)"sv);
        c.integer(t.status);
        c.put(R"(,"ms":)"sv);
        c.fixed(t.ms, 3);
        c.field(R"(,"error":)", t.error);
        c.put('}');
      }
      c.put(']');
    }
    c.put('}');
    return static_cast<std::size_t>(c.p - buf);
  });
}

}  // namespace stratus::gateway
