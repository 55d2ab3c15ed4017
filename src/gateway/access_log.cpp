// Per-worker access-log buffers written out by one background thread.
#include "gateway/access_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <stdexcept>

#include "core/utf8.h"

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
// Client-controlled fields (path, x-request-id) may hold any bytes; a log line must stay JSON
// (core::valid_utf8), else those fields are written as ASCII only.
std::string ascii_only(std::string_view s) {
  std::string out(s);
  for (auto& c : out) {
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  }
  return out;
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

void AccessLog::flush() {
  if (fd_ < 0) return;
  std::string out;
  {
    std::lock_guard lock(shards_mutex_);
    for (auto& s : shards_) {
      std::string taken;
      {
        std::lock_guard sl(s->mutex_);
        taken.swap(s->pending_);
      }
      out += taken;
    }
  }
  if (!out.empty()) write_all(fd_, out);
}

void AccessLog::Shard::write(const AccessRecord& r) {
  std::string line = format(r);
  line += '\n';
  std::lock_guard lock(mutex_);
  if (pending_.size() + line.size() > kMaxPending) {
    ++dropped_;
    return;
  }
  pending_ += line;
}

std::string AccessLog::format(const AccessRecord& r) {
  // Formatted by hand: Boost.JSON prints doubles in exponent form, which log tools read
  // poorly; strings still go through its escaping.
  auto str = [](std::string_view s) {
    return boost::json::serialize(
        boost::json::string(core::valid_utf8(s) ? std::string(s) : ascii_only(s)));
  };
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::string out = fmt::format(
      R"({{"time":"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z","request_id":{},"method":{},"path":{},"status":{})",
      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000,
      str(r.request_id), str(r.method), str(r.path), r.status);
  if (!r.alias.empty()) out += R"(,"alias":)" + str(r.alias);
  if (!r.provider.empty()) out += R"(,"provider":)" + str(r.provider);
  if (!r.deployment.empty()) out += R"(,"deployment":)" + str(r.deployment);
  if (r.attempts > 0) out += fmt::format(R"(,"attempts":{})", r.attempts);
  out += fmt::format(R"(,"stream":{},"latency_ms":{:.3f})", r.stream, r.latency_ms);
  if (r.ttfb_ms >= 0) out += fmt::format(R"(,"ttfb_ms":{:.3f})", r.ttfb_ms);
  if (r.usage) {
    out += fmt::format(R"(,"prompt_tokens":{},"completion_tokens":{},"total_tokens":{})",
                       r.usage->prompt_tokens, r.usage->completion_tokens, r.usage->total_tokens);
    if (r.usage->cached_tokens)
      out += fmt::format(R"(,"cached_tokens":{})", r.usage->cached_tokens);
  }
  if (!r.key_id.empty()) out += R"(,"key_id":)" + str(r.key_id);
  if (!r.team.empty()) out += R"(,"team":)" + str(r.team);
  if (!r.task_id.empty()) out += R"(,"task_id":)" + str(r.task_id);
  if (r.cost_usd >= 0) out += fmt::format(R"(,"cost_usd":{:.8f})", r.cost_usd);
  if (!r.error.empty()) out += R"(,"error":)" + str(r.error);
  if (r.tries.size() > 1) {
    out += R"(,"tries":[)";
    for (std::size_t i = 0; i < r.tries.size(); ++i) {
      const auto& t = r.tries[i];
      if (i) out += ',';
      out += fmt::format(R"({{"deployment":{},"status":{},"ms":{:.3f})", str(t.deployment),
                         t.status, t.ms);
      if (!t.error.empty()) out += R"(,"error":)" + str(t.error);
      out += '}';
    }
    out += ']';
  }
  out += "}";
  return out;
}

}  // namespace stratus::gateway
