// Inbound OpenAI dialect: validates chat and embeddings request bodies (keeping every field
// for pass-through), reads usage from responses and stream chunks, renders the models list.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace stratus::api {

struct Usage {
  long prompt_tokens = 0;
  long completion_tokens = 0;
  long total_tokens = 0;
  long cached_tokens = 0;          // prompt tokens read from the provider's cache
  long cache_creation_tokens = 0;  // prompt tokens written to it (Anthropic, Bedrock)
  long reasoning_tokens = 0;       // part of completion_tokens
};

// A validated chat request, unknown fields included, so the OpenAI-compatible path can forward
// it with only `model` rewritten. The usual request is checked in one pass without building a
// JSON tree and forwarded by splicing the new model into `text`; the tree (`body`) is built
// only for those who need it (chat_json: translation, governance) or when the request is
// unusual (escaped model string, duplicate keys) or invalid (its error comes from the tree).
struct ChatRequest {
  std::string text;         // the body as the client sent it
  boost::json::value body;  // the parsed body; null until chat_json() when `spliceable`
  std::string model;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage as the client sent it
  // Set by the one-pass check: where `model`'s string literal sits in `text` (quotes included),
  // and whether the client sent a stream_options object.
  bool spliceable = false;
  std::size_t model_at = 0, model_len = 0;
  bool has_stream_options = false;
};

// The parsed body of a validated request, built on first use.
boost::json::value& chat_json(ChatRequest& req);

struct EmbeddingsRequest {
  boost::json::value body;
  std::string model;
};

core::Result<ChatRequest> parse_chat_request(std::string_view body);
core::Result<EmbeddingsRequest> parse_embeddings_request(std::string_view body);

// The body to send upstream: `model` replaced and, for streams, usage always requested so the
// gateway can account for it (the chunk is hidden again from clients that did not ask).
std::string upstream_chat_body(ChatRequest& req, std::string_view upstream_model);
std::string upstream_embeddings_body(EmbeddingsRequest& req, std::string_view upstream_model);

// `usage` of a response body or stream chunk; nullopt when absent or malformed.
std::optional<Usage> usage_of(const boost::json::value& v);
// The same from raw JSON text, parsing only the `usage` object when it can be found (it is the
// last member in OpenAI's answers), else the whole text.
std::optional<Usage> usage_of_text(std::string_view json_text);
// What a pass-through stream event carries, from one scan of its text (no parse; it runs on
// every event). `content`: a delta with text, tool calls, reasoning or a refusal (the stream
// may start; the event is billed if the stream is cut). `usage`: a "usage" key whose value is
// an object (then the event is parsed; OpenAI's per-chunk "usage":null is not). It may say yes
// for an event that only quotes such text in a string, never no for one that has it.
struct EventTraits {
  bool content = false;
  bool usage = false;
};
EventTraits scan_event(std::string_view data);
// The same without AVX2 (what runs on a CPU that lacks it): for the tests.
EventTraits scan_event_sse2(std::string_view data);

// A usage-only stream chunk (OpenAI sends it last, with `choices: []`).
bool is_usage_only_chunk(const boost::json::value& v);
// The same from the chunk's text, without a tree (a SAX pass; invalid JSON is not one).
bool is_usage_only_text(std::string_view text);
// Its first half: valid JSON, an object whose top-level `choices` is an empty array (for a
// caller that has read the usage already).
bool has_empty_choices_text(std::string_view text);

// GET /v1/models body for these aliases.
std::string models_list(const std::vector<std::string>& aliases, long created);

// An OpenAI-shaped SSE error event: `data: {"error":{...}}`.
std::string sse_error_event(const core::Error& e);

}  // namespace stratus::api
