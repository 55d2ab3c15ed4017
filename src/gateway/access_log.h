// One structured JSON line per request. Never carries an API key or Authorization value:
// only the fields of AccessRecord are written. Each worker appends to its own buffer and a
// background thread writes the buffers out every 100 ms, or as soon as one holds kFlushAt
// bytes, so the request path makes no system call for logging, wakes the flusher at most once
// per 256 KiB of lines, and a buffer stays small at any request rate. (At 64 KiB the wake-ups,
// about a hundred a second at 1 connection on one CPU, added ~20 µs to the p99.)
#pragma once

#include <boost/container/small_vector.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/openai.h"
#include "governance/limiter.h"
#include "governance/prices.h"

namespace stratus::gateway {

// One attempt at one deployment within a request.
struct AttemptRecord {
  std::string deployment;
  int status = 0;     // the provider's HTTP status; 0 = no answer (connection, timeout)
  double ms = 0;      // from the attempt's start to its outcome
  std::string error;  // "" when it answered; "hedge lost" when cancelled
};

struct AccessRecord {
  std::string request_id;
  std::string method;
  std::string path;
  std::string alias;
  std::string provider;
  std::string deployment;
  int status = 0;
  int attempts = 0;
  bool stream = false;
  double latency_ms = 0;
  double ttfb_ms = -1;  // -1: no byte was sent
  std::optional<api::Usage> usage;
  std::string error;  // kind and message of the last failure, if any
  // Every attempt, logged when there was more than one (retries, fail-overs, hedges); inline
  // for the usual one or two.
  boost::container::small_vector<AttemptRecord, 2> tries;

  // Governance (when on): who asked, what it cost.
  std::string ledger_id;  // the gateway's own id (a client's x-request-id may repeat)
  std::string key_id, team, task_id;
  double cost_usd = -1;  // -1: not computed
  // Set while routing: the price of the deployment that answered, and headers every answer
  // carries (x-ratelimit-*).
  const governance::Price* price = nullptr;
  const governance::Headers* extra_headers = nullptr;
  long content_events = 0;  // streamed chunks with content (bills a cut stream)
  // Called once when the request ends, before the log line (settles limits, writes the ledger).
  std::function<void(AccessRecord&)> on_finish;
  // Streams: whether the cost so far takes a budget past its limit (checked now and then).
  std::function<bool(const AccessRecord&)> over_budget;
};

class AccessLog {
 public:
  // One worker's buffer; its mutex is only contended when the flusher swaps it out.
  class Shard {
   public:
    void write(const AccessRecord& r);

   private:
    friend class AccessLog;
    explicit Shard(AccessLog* log) : log_(log) {}
    AccessLog* log_;  // null when the log is off: write() does nothing
    std::mutex mutex_;
    std::string pending_;
    std::string spare_;  // the flusher's; swapped with pending_
    std::size_t dropped_ = 0;
  };

  // `where`: stdout, stderr, off, or a file path (appended to). `tick`: how often the
  // flusher writes out what is buffered when no shard has reached kFlushAt.
  explicit AccessLog(const std::string& where,
                     std::chrono::milliseconds tick = std::chrono::milliseconds(100));
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // A new shard for one worker; the log keeps it alive.
  Shard& make_shard();
  // Writes out everything buffered so far.
  void flush();
  bool enabled() const { return fd_ >= 0; }
  // Bytes formatted and not yet handed to the flusher, over all shards.
  std::size_t buffered();
  static std::string format(const AccessRecord& r);
  static void format_to(std::string& out, const AccessRecord& r);

  // A shard's buffered bytes that wake the flusher before its 100 ms tick.
  static constexpr std::size_t kFlushAt = 256 * 1024;
  // The buffer capacity a shard keeps between flushes; a larger one (a burst, a slow disk) is
  // given back once written.
  static constexpr std::size_t kKeepCapacity = 2 * kFlushAt;

 private:
  void run_flusher();
  void flush_soon();

  int fd_ = -1;
  bool owns_fd_ = false;
  std::chrono::milliseconds tick_;
  std::mutex shards_mutex_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::mutex write_mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  bool wake_ = false;  // a shard reached kFlushAt (under write_mutex_)
  std::thread flusher_;
};

}  // namespace stratus::gateway
