// The intermediate representation (IR) of a chat or embeddings call: what every provider
// adapter reads (requests) and produces (responses, stream chunks). Parsed from the OpenAI
// dialect only when a request is translated; the OpenAI-compatible fast path never builds it.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/openai.h"
#include "core/error.h"

namespace stratus::api {

// ---- request ----

enum class Role { system, developer, user, assistant, tool };

struct ContentPart {
  enum class Kind { text, image };
  Kind kind = Kind::text;
  std::string text;        // text parts
  std::string url;         // image given by http(s) URL (empty for data URLs)
  std::string media_type;  // image given as a data: URL, e.g. "image/png"
  std::string data;        // ... and its base64 payload, as sent (not decoded)
  std::string detail;      // "auto" | "low" | "high" | ""
};

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text, as OpenAI carries it
};

struct Message {
  Role role = Role::user;
  std::vector<ContentPart> content;  // a string content is one text part
  std::vector<ToolCall> tool_calls;  // assistant
  std::string tool_call_id;          // tool
  std::string name;                  // optional participant name

  // The text parts joined (what providers without parts need), images ignored.
  std::string text() const;
};

struct Tool {
  std::string name;
  std::string description;
  boost::json::value parameters;  // JSON Schema object; null when the tool takes none
  bool strict = false;
};

struct ToolChoice {
  enum class Mode { auto_, none, required, function };
  Mode mode = Mode::auto_;
  std::string name;  // Mode::function
};

struct ResponseFormat {
  enum class Type { text, json_object, json_schema };
  Type type = Type::text;
  std::string name;           // json_schema
  boost::json::value schema;  // json_schema
  bool strict = false;
};

struct Chat {
  std::string model;  // as the client sent it (the alias)
  std::vector<Message> messages;
  std::vector<Tool> tools;
  std::optional<ToolChoice> tool_choice;
  std::optional<bool> parallel_tool_calls;
  ResponseFormat response_format;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<double> frequency_penalty;
  std::optional<double> presence_penalty;
  std::optional<std::int64_t> max_tokens;  // max_completion_tokens, else max_tokens
  std::vector<std::string> stop;
  std::optional<std::int64_t> seed;
  std::int64_t n = 1;
  std::string user;
  std::string reasoning_effort;  // "" | low | medium | high
  bool stream = false;
  bool include_usage = false;
};

// Validates and converts an OpenAI chat body. Errors name the offending field in `param`
// ("messages[2].content[0].image_url").
core::Result<Chat> parse_chat(const boost::json::value& body);

struct Embeddings {
  std::string model;
  std::vector<std::string> inputs;  // strings only (token arrays are rejected by translators)
  std::optional<std::int64_t> dimensions;
  bool base64 = false;  // encoding_format: "base64"
  std::string user;
};
core::Result<Embeddings> parse_embeddings(const boost::json::value& body);

// ---- response ----

enum class FinishReason { stop, length, tool_calls, content_filter };
std::string_view finish_reason_name(FinishReason r);

struct ChatResponse {
  std::string id;  // the provider's id when it has one
  std::string model;
  std::string content;
  std::string refusal;
  std::string reasoning;  // thinking text, when the provider returns it
  std::vector<ToolCall> tool_calls;
  FinishReason finish_reason = FinishReason::stop;
  Usage usage;  // required: cost and token limits depend on it
};

struct ToolCallDelta {
  int index = 0;          // OpenAI's tool_calls[].index: 0, 1, ... in order of appearance
  std::string id;         // first fragment only
  std::string name;       // first fragment only
  std::string arguments;  // a piece of the JSON text
};

// One OpenAI stream chunk's worth of change. A chunk with `usage` and nothing else is the
// usage-only chunk (`choices: []`) OpenAI sends last when include_usage is set.
struct ChatChunk {
  bool role = false;  // delta.role = "assistant" (the first chunk)
  std::string content;
  std::string refusal;
  std::string reasoning;
  std::vector<ToolCallDelta> tool_calls;
  std::optional<FinishReason> finish_reason;
  std::optional<Usage> usage;
};

struct EmbeddingsResponse {
  std::vector<std::vector<float>> vectors;  // in input order
  Usage usage;
};

// ---- OpenAI rendering of the IR (what clients receive from translated providers) ----

struct ResponseMeta {
  std::string id;     // "chatcmpl-..."
  std::string model;  // the model name reported to the client
  std::int64_t created = 0;
};
std::string openai_response_json(const ChatResponse& r, const ResponseMeta& meta);
// One SSE event "data: {...}\n\n" for a chunk (usage-only chunks have choices: []).
std::string openai_chunk_event(const ChatChunk& c, const ResponseMeta& meta);
void append_openai_chunk_event(std::string& out, const ChatChunk& c, const ResponseMeta& meta);
std::string openai_embeddings_json(const EmbeddingsResponse& r, const Embeddings& req,
                                   std::string_view model);

}  // namespace stratus::api
