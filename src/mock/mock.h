// `stratus mock`: a provider emulator (one dialect per server) with fault injection, used by the
// demo config, the tests and the benchmark. Faults are set for the whole server (MockOptions) or
// per request with x-mock-* headers (see the README).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace stratus::mock {

struct MockOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  int workers = 1;
  std::string name = "mock";    // appears in answers, so tests can tell clouds apart
  int ttft_ms = 0;              // delay before the first streamed token
  int first_byte_ms = 0;        // delay before any answer to a chat request, stream or not
  double tokens_per_sec = 0;    // 0: stream every token at once
  int tokens = 12;              // completion length in tokens
  int fail_status = 0;          // answer every request with this status (0: off)
  double fail_rate = 1.0;       // fraction of requests that get fail_status
  int retry_after_s = 0;        // Retry-After sent with failures (0: none)
  bool hang = false;            // accept requests, never answer
  int close_after_chunks = -1;  // cut the connection after N stream chunks (-1: off); a whole
                                // (non-stream) answer is one chunk: 0 drops it unanswered
  int flap_ms = 0;  // alternate flap_ms up / flap_ms down, starting up (0: off); while down,
                    // every request but /mock/* is dropped at once, unanswered
  int hang_after_chunks = -1;   // streams: stop sending after N chunks (-1: off)
  int error_after_chunks = -1;  // streams: send the dialect's error event after N chunks (-1: off)
  int tool_calls = 1;           // tool calls per answer when tools are offered
  int cached_tokens = 0;        // prompt tokens reported as read from cache
  std::string error_message;    // message of injected errors ("" = a default per status)
  std::string dialect = "openai";  // openai | anthropic | bedrock | gemini (see dialects.cpp)
};

struct MockStats {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> chat{0};
  std::atomic<std::uint64_t> streams{0};
  std::atomic<std::uint64_t> embeddings{0};
  std::atomic<std::uint64_t> failures{0};   // injected error statuses
  std::atomic<std::uint64_t> cancelled{0};  // the client left before the answer was complete
  std::atomic<std::uint64_t> completed_streams{0};
  std::atomic<std::uint64_t> dropped{0};  // connections closed without an answer (faults)
};

class MockServer {
 public:
  explicit MockServer(MockOptions options);
  ~MockServer();
  MockServer(const MockServer&) = delete;
  MockServer& operator=(const MockServer&) = delete;

  // Binds and starts serving on background threads; throws when the port is taken.
  void start();
  std::uint16_t port() const;
  bool drain(int timeout_ms);
  const MockStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stratus::mock
