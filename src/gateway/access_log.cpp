// JSON access log written by spdlog's asynchronous logger, off the request path.
#include "gateway/access_log.h"

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <fmt/format.h>

namespace stratus::gateway {

namespace {
std::atomic<int> g_logger_seq{0};  // unique logger names for spdlog's registry
}

AccessLog::AccessLog(const std::string& where) {
  if (where == "off" || where.empty()) return;
  // 8192 queued lines (~2 MiB): a burst beyond that drops lines rather than blocking a worker.
  spdlog::init_thread_pool(8192, 1);
  auto name = "access" + std::to_string(g_logger_seq.fetch_add(1));
  if (where == "stdout") {
    logger_ = spdlog::create_async_nb<spdlog::sinks::stdout_sink_mt>(name);
  } else if (where == "stderr") {
    logger_ = spdlog::create_async_nb<spdlog::sinks::stderr_sink_mt>(name);
  } else {
    logger_ = spdlog::create_async_nb<spdlog::sinks::basic_file_sink_mt>(name, where);
  }
  logger_->set_pattern("%v");
  logger_->flush_on(spdlog::level::info);
}

AccessLog::~AccessLog() {
  if (logger_) {
    logger_->flush();
    spdlog::drop(logger_->name());
  }
}

void AccessLog::flush() {
  if (logger_) logger_->flush();
}

std::string AccessLog::format(const AccessRecord& r) {
  // Formatted by hand: Boost.JSON prints doubles in exponent form, which log tools read
  // poorly; strings still go through its escaping.
  auto str = [](std::string_view s) { return boost::json::serialize(boost::json::string(s)); };
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
    if (r.usage->cached_tokens) out += fmt::format(R"(,"cached_tokens":{})", r.usage->cached_tokens);
  }
  if (!r.error.empty()) out += R"(,"error":)" + str(r.error);
  out += "}";
  return out;
}

void AccessLog::write(const AccessRecord& r) {
  if (!logger_) return;
  logger_->info(format(r));
}

}  // namespace stratus::gateway
