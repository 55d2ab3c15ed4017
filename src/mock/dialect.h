// A mock provider dialect: PURE rendering of one provider's native protocol (routes, request
// parsing, answers, stream framing, errors). mock.cpp does the I/O, fault injection and pacing
// for every dialect. Adding a dialect = one file (dialect_<name>.cpp) + one line in dialects.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/upstream.h"

namespace stratus::mock {

struct MockRequest {
  std::string_view method;                                   // "POST"
  std::string_view target;                                   // path and query as sent
  std::string_view path;                                     // without the query
  std::string_view query;                                    // without the '?'
  std::function<std::string_view(std::string_view)> header;  // lower-case name → value or ""
  std::string_view body;
  std::string_view host;  // Host header
};

enum class Op { chat, embeddings, models };

// What a dialect understood of a chat request.
struct ChatCall {
  std::string model;
  bool stream = false;
  bool include_usage = false;  // OpenAI stream_options.include_usage
  int prompt_tokens = 0;       // an estimate from the text sent
  std::optional<int> max_tokens;
  std::vector<std::string> tool_names;  // tools offered, in order
  bool tool_choice_none = false;
  bool last_is_tool_result = false;  // the last message carries tool results
  std::string system;                // system text as received (echoed in tests via last-request)
};

struct MockToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON object text
};

// What the mock answers, decided by mock.cpp from the call and the x-mock-* options: either
// text tokens or tool calls.
struct Script {
  std::string id;  // response id
  std::string model;
  std::vector<std::string> tokens;  // text pieces, one per streamed delta
  std::vector<MockToolCall> tool_calls;
  std::string finish;  // "stop" | "length" | "tool_calls" (OpenAI words; dialects map them)
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
  std::int64_t created = 0;
};

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  core::Headers headers = {};
  std::string body = {};
};

class Dialect {
 public:
  virtual ~Dialect() = default;
  virtual std::string_view name() const = 0;
  // The operation for this method and path, or nullopt (→ not_found()).
  virtual std::optional<Op> route(std::string_view method, std::string_view path) const = 0;
  // Credentials check (e.g. SigV4 verification); an error reply when they are missing or wrong.
  virtual std::optional<Reply> check_auth(const MockRequest& req) const {
    (void)req;
    return std::nullopt;
  }
  // Parses a chat request; a 400 in the dialect's error shape when it is malformed.
  virtual std::optional<ChatCall> parse_chat(const MockRequest& req, Reply& error) const = 0;
  virtual Reply chat_response(const ChatCall& call, const Script& s) const = 0;
  // Stream: content type and the wire events in order (SSE text or binary frames). The mock
  // sends the first event at once and paces the rest at the configured token rate.
  virtual std::string stream_content_type() const = 0;
  virtual std::vector<std::string> stream_events(const ChatCall& call, const Script& s) const = 0;
  // An error answer with this status in the dialect's own shape (and headers, e.g. Retry-After
  // is added by mock.cpp; x-amzn-errortype by Bedrock).
  virtual Reply error(int status, std::string_view message) const = 0;
  // A stream event that reports an error in the middle of a stream (x-mock-error-after-chunks).
  virtual std::string stream_error_event(int status, std::string_view message) const = 0;
  virtual Reply not_found(std::string_view path) const {
    return error(404, "Unknown path " + std::string(path));
  }
  virtual Reply embeddings(const MockRequest& req) const {
    (void)req;
    return not_found("embeddings");
  }
  virtual Reply models() const { return not_found("models"); }
};

// The dialect registered under this name, or nullptr.
const Dialect* find_dialect(std::string_view name);
std::vector<std::string_view> dialect_names();

// Helpers shared by dialects.
int estimate_tokens(std::string_view text);
// "%3A" → ":" (invalid escapes are kept as they are); model ids arrive encoded in URL paths.
std::string percent_decode(std::string_view s);
// Deterministic unit-length embedding of `text` with `dims` dimensions.
std::vector<float> fake_embedding(std::string_view text, std::size_t dims);

}  // namespace stratus::mock
