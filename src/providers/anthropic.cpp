// Anthropic Messages API adapter: request URL and headers, message decoding, error mapping.
// The body encoder is in anthropic_request.cpp, the stream decoder in anthropic_stream.cpp.
#include "providers/anthropic.h"

#include <boost/json.hpp>

#include "providers/common.h"

namespace stratus::providers {

namespace json = boost::json;
using core::ErrorKind;

namespace anthropic {

namespace {

std::string string_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

long int_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return static_cast<long>(v->as_int64());
  if (v->is_uint64()) return static_cast<long>(v->as_uint64());
  return 0;
}

}  // namespace

api::FinishReason finish_reason_of(std::string_view stop_reason) {
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") {
    return api::FinishReason::length;
  }
  if (stop_reason == "tool_use") return api::FinishReason::tool_calls;
  if (stop_reason == "refusal") return api::FinishReason::content_filter;
  return api::FinishReason::stop;  // end_turn, stop_sequence, pause_turn, null
}

namespace {

core::Error malformed(std::string_view provider, std::string what) {
  auto e =
      core::Error::make(ErrorKind::upstream, "provider '" + std::string(provider) + "' " + what);
  e.retryable = false;
  return e;
}

}  // namespace

// Cache reads and writes are prompt tokens in OpenAI's terms (input_tokens excludes them).
void read_usage(const json::object& u, api::Usage& usage) {
  if (u.contains("input_tokens") || u.contains("cache_read_input_tokens") ||
      u.contains("cache_creation_input_tokens")) {
    usage.cached_tokens = int_at(u, "cache_read_input_tokens");
    usage.cache_creation_tokens = int_at(u, "cache_creation_input_tokens");
    usage.prompt_tokens =
        int_at(u, "input_tokens") + usage.cached_tokens + usage.cache_creation_tokens;
  }
  if (u.contains("output_tokens")) usage.completion_tokens = int_at(u, "output_tokens");
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
}

core::Result<api::ChatResponse> decode_message(const json::value& message,
                                               std::string_view provider) {
  const json::object* m = message.if_object();
  if (!m || !m->contains("content") || !m->at("content").is_array()) {
    return std::unexpected(
        malformed(provider, "answered with something that is not a Messages API message"));
  }
  api::ChatResponse r;
  r.id = string_at(*m, "id");
  r.model = string_at(*m, "model");
  for (const json::value& b : m->at("content").as_array()) {
    const json::object* block = b.if_object();
    if (!block) continue;
    const std::string type = string_at(*block, "type");
    if (type == "text") {
      r.content += string_at(*block, "text");
    } else if (type == "thinking") {
      r.reasoning += string_at(*block, "thinking");
    } else if (type == "tool_use") {
      const json::value* input = block->if_contains("input");
      r.tool_calls.push_back({string_at(*block, "id"), string_at(*block, "name"),
                              input ? json::serialize(*input) : std::string("{}")});
    }
  }
  r.finish_reason = finish_reason_of(string_at(*m, "stop_reason"));
  if (auto* u = m->if_contains("usage"); u && u->is_object()) read_usage(u->as_object(), r.usage);
  return r;
}

core::Error error_for_type(std::string_view type, std::string message,
                           const core::UpstreamResponse& res, std::string_view provider) {
  std::optional<ErrorKind> kind;
  if (type == "invalid_request_error" || type == "request_too_large") {
    kind = ErrorKind::invalid_request;
  } else if (type == "authentication_error") {
    kind = ErrorKind::authentication;
  } else if (type == "permission_error") {
    kind = ErrorKind::permission;
  } else if (type == "not_found_error") {
    kind = ErrorKind::not_found;
  } else if (type == "rate_limit_error") {
    kind = ErrorKind::rate_limit;
  } else if (type == "api_error") {
    kind = ErrorKind::upstream;
  } else if (type == "overloaded_error") {
    kind = ErrorKind::overloaded;
  } else if (type == "timeout_error") {
    kind = ErrorKind::timeout;
  } else if (res.status / 100 == 2) {
    kind = ErrorKind::upstream;  // an unknown error type inside a stream or a 200 body
  }
  return provider_error(res, provider, std::move(message), kind);
}

}  // namespace anthropic

namespace {

class AnthropicAdapter final : public Adapter {
 public:
  std::string_view name() const override { return "anthropic"; }

  Capabilities capabilities() const override { return Capabilities{}; }

  core::Result<core::UpstreamRequest> encode_chat(const api::Chat& chat, const Deployment& d,
                                                  const CallContext&) const override {
    auto body = anthropic::request_body(chat, d);
    if (!body) return std::unexpected(body.error());
    core::UpstreamRequest req;
    req.method = "POST";
    req.url = d.base_url + "/v1/messages";
    req.headers = {{"content-type", "application/json"},
                   {"anthropic-version", std::string(anthropic::version(d))}};
    req.body = json::serialize(*body);
    return req;
  }

  core::Result<api::ChatResponse> decode_chat(const core::UpstreamResponse& res,
                                              const Deployment& d,
                                              const CallContext&) const override {
    auto v = parse_json(res.body);
    if (!v)
      return std::unexpected(
          anthropic::malformed(d.provider, "answered with a body that is not JSON"));
    if (const json::object* o = v->if_object(); o && o->contains("error")) {
      return std::unexpected(decode_error(res, d));
    }
    return anthropic::decode_message(*v, d.provider);
  }

  std::unique_ptr<StreamDecoder> stream_decoder(const api::Chat&, const Deployment& d,
                                                const CallContext&) const override {
    return anthropic::make_stream_decoder(d.provider);
  }

  core::Error decode_error(const core::UpstreamResponse& res, const Deployment& d) const override {
    std::string type;
    std::string message;
    if (auto v = parse_json(res.body); v && v->is_object()) {
      if (auto* e = v->as_object().if_contains("error"); e && e->is_object()) {
        type = anthropic::string_at(e->as_object(), "type");
        message = anthropic::string_at(e->as_object(), "message");
      }
    }
    if (message.empty()) {
      message = res.body.empty() ? "HTTP " + std::to_string(res.status) : res.body.substr(0, 512);
    }
    return anthropic::error_for_type(type, std::move(message), res, d.provider);
  }
};

}  // namespace

const Adapter& anthropic_adapter() {
  static const AnthropicAdapter adapter;
  return adapter;
}

}  // namespace stratus::providers
