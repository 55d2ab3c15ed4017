// Bedrock adapter: URLs, Converse response decoding and Bedrock's errors; the request body,
// the stream decoder and embeddings are in bedrock_request.cpp, bedrock_stream.cpp and
// bedrock_embeddings.cpp.
#include "providers/bedrock.h"

#include <boost/json.hpp>
#include <cctype>

#include "providers/bedrock_detail.h"
#include "providers/common.h"

namespace stratus::providers {

namespace json = boost::json;
using core::ErrorKind;

namespace {

// Modeled errors of Converse/ConverseStream/InvokeModel (statuses from the service model) and
// the errors AWS's front end answers for bad credentials. Credential problems are
// `authentication` (the gateway's 401), although AWS sends them as 403: the fix is a new key or
// secret, not a permission. ServiceQuotaExceededException (modeled as 400) means "resubmit
// later": a rate limit. ModelNotReadyException (429) means the model has no capacity yet:
// overloaded, retryable elsewhere.
constexpr BedrockErrorType kErrorTypes[] = {
    {"ValidationException", 400, ErrorKind::invalid_request},
    {"AccessDeniedException", 403, ErrorKind::permission},
    {"UnrecognizedClientException", 403, ErrorKind::authentication},
    {"InvalidSignatureException", 403, ErrorKind::authentication},
    {"IncompleteSignatureException", 403, ErrorKind::authentication},
    {"MissingAuthenticationTokenException", 403, ErrorKind::authentication},
    {"ExpiredTokenException", 403, ErrorKind::authentication},
    {"InvalidClientTokenId", 403, ErrorKind::authentication},
    {"ResourceNotFoundException", 404, ErrorKind::not_found},
    {"ModelTimeoutException", 408, ErrorKind::timeout},
    {"ModelErrorException", 424, ErrorKind::upstream},
    {"ModelStreamErrorException", 424, ErrorKind::upstream},
    {"ThrottlingException", 429, ErrorKind::rate_limit},
    {"ServiceQuotaExceededException", 400, ErrorKind::rate_limit},
    {"ModelNotReadyException", 429, ErrorKind::overloaded},
    {"InternalServerException", 500, ErrorKind::upstream},
    {"ServiceUnavailableException", 503, ErrorKind::overloaded},
};

bool same_type(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  if (std::tolower(static_cast<unsigned char>(a[0])) !=
      std::tolower(static_cast<unsigned char>(b[0]))) {
    return false;
  }
  return a.substr(1) == b.substr(1);
}

std::string str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

long num(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return static_cast<long>(v->get_int64());
  if (v->is_uint64()) return static_cast<long>(v->get_uint64());
  return 0;
}

// "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" → the name;
// "com.amazon.coral.service#UnrecognizedClientException" → the name.
std::string_view bare_type(std::string_view t) {
  if (auto colon = t.find(':'); colon != std::string_view::npos) t = t.substr(0, colon);
  if (auto hash = t.rfind('#'); hash != std::string_view::npos) t = t.substr(hash + 1);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return t;
}

class BedrockAdapter final : public Adapter {
 public:
  std::string_view name() const override { return "bedrock"; }
  Capabilities capabilities() const override { return {.embeddings = true}; }

  core::Result<core::UpstreamRequest> encode_chat(const api::Chat& chat, const Deployment& d,
                                                  const CallContext&) const override {
    auto body = bedrock::converse_body(chat);
    if (!body) return std::unexpected(body.error());
    core::UpstreamRequest r;
    r.url = bedrock::model_url(d, chat.stream ? "converse-stream" : "converse");
    r.headers.emplace_back("content-type", "application/json");
    r.body = std::move(*body);
    return r;
  }
  core::Result<api::ChatResponse> decode_chat(const core::UpstreamResponse& res,
                                              const Deployment& d,
                                              const CallContext&) const override {
    auto r = bedrock::decode_converse(res, d.provider);
    if (r) r->model = d.model;
    return r;
  }
  std::unique_ptr<StreamDecoder> stream_decoder(const api::Chat&, const Deployment& d,
                                                const CallContext&) const override {
    return bedrock::make_stream_decoder(d.provider);
  }
  core::Error decode_error(const core::UpstreamResponse& res, const Deployment& d) const override {
    return bedrock::decode_error(res, d.provider);
  }
  core::Result<core::UpstreamRequest> encode_embeddings(const api::Embeddings& req,
                                                        const Deployment& d) const override {
    return bedrock::encode_embeddings(req, d);
  }
  core::Result<api::EmbeddingsResponse> decode_embeddings(const core::UpstreamResponse& res,
                                                          const Deployment& d) const override {
    return bedrock::decode_embeddings(res, d);
  }
};

}  // namespace

const BedrockErrorType* find_bedrock_error_type(std::string_view type) {
  type = bare_type(type);
  for (auto& t : kErrorTypes) {
    if (same_type(t.name, type)) return &t;
  }
  return nullptr;
}

namespace bedrock {

api::FinishReason finish_of(std::string_view stop_reason) {
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") {
    return api::FinishReason::length;
  }
  if (stop_reason == "tool_use") return api::FinishReason::tool_calls;
  if (stop_reason == "guardrail_intervened" || stop_reason == "content_filtered") {
    return api::FinishReason::content_filter;
  }
  return api::FinishReason::stop;
}

api::Usage usage_of(const json::object& u) {
  api::Usage usage;
  usage.cached_tokens = num(u, "cacheReadInputTokens");
  usage.cache_creation_tokens = num(u, "cacheWriteInputTokens");
  usage.prompt_tokens = num(u, "inputTokens") + usage.cached_tokens + usage.cache_creation_tokens;
  usage.completion_tokens = num(u, "outputTokens");
  usage.total_tokens = usage.prompt_tokens + usage.completion_tokens;
  return usage;
}

core::Error decode_error(const core::UpstreamResponse& res, std::string_view provider) {
  std::string type(bare_type(res.header("x-amzn-errortype")));
  std::string message;
  if (auto v = parse_json(res.body); v && v->is_object()) {
    auto& o = v->get_object();
    message = str(o, "message");
    if (message.empty()) message = str(o, "Message");
    if (type.empty()) type = std::string(bare_type(str(o, "__type")));
    if (type.empty()) type = std::string(bare_type(str(o, "code")));
  }
  if (message.empty()) message = type.empty() ? std::string("no error message") : type;
  std::optional<ErrorKind> kind;
  if (auto* t = find_bedrock_error_type(type)) kind = t->kind;
  if (!kind && res.status / 100 == 2) kind = ErrorKind::upstream;  // an unreadable 2xx body
  auto e = provider_error(res, provider, std::move(message), kind);
  if (!type.empty() && e.code.empty() && !core::retryable_by_default(e.kind)) e.code = type;
  return e;
}

core::Error stream_exception(std::string_view type, std::string_view payload,
                             std::string_view provider) {
  std::string message;
  if (auto v = parse_json(payload); v && v->is_object()) {
    message = str(v->get_object(), "message");
    if (message.empty()) message = str(v->get_object(), "Message");
  }
  if (message.empty()) message = type.empty() ? std::string("stream exception") : std::string(type);
  const auto* t = find_bedrock_error_type(type);
  core::UpstreamResponse res{.status = 200, .headers = {}, .body = {}};
  auto e = provider_error(res, provider, std::string(type) + ": " + message,
                          t ? t->kind : ErrorKind::upstream);
  if (t) e.upstream_status = t->status;
  return e;
}

core::Result<api::ChatResponse> decode_converse(const core::UpstreamResponse& res,
                                                std::string_view provider) {
  auto bad = [&](std::string_view why) {
    return core::fail(ErrorKind::upstream,
                      "provider '" + std::string(provider) +
                          "' sent an unreadable Converse response: " + std::string(why));
  };
  auto v = parse_json(res.body);
  if (!v || !v->is_object()) return bad("not a JSON object");
  auto& o = v->get_object();
  auto* output = o.if_contains("output");
  auto* message =
      output && output->is_object() ? output->get_object().if_contains("message") : nullptr;
  auto* content =
      message && message->is_object() ? message->get_object().if_contains("content") : nullptr;
  if (!content || !content->is_array()) return bad("no output.message.content");
  api::ChatResponse r;
  r.id = std::string(res.header("x-amzn-requestid"));
  for (auto& block : content->get_array()) {
    if (!block.is_object()) continue;
    auto& b = block.get_object();
    if (auto* text = b.if_contains("text"); text && text->is_string()) {
      r.content += text->get_string();
    } else if (auto* tu = b.if_contains("toolUse"); tu && tu->is_object()) {
      auto& t = tu->get_object();
      auto* input = t.if_contains("input");
      r.tool_calls.push_back({.id = str(t, "toolUseId"),
                              .name = str(t, "name"),
                              .arguments = input ? json::serialize(*input) : "{}"});
    } else if (auto* rc = b.if_contains("reasoningContent"); rc && rc->is_object()) {
      if (auto* rt = rc->get_object().if_contains("reasoningText"); rt && rt->is_object()) {
        r.reasoning += str(rt->get_object(), "text");
      }
    }
  }
  r.finish_reason = finish_of(str(o, "stopReason"));
  if (auto* u = o.if_contains("usage"); u && u->is_object()) {
    r.usage = usage_of(u->get_object());
  }
  return r;
}

}  // namespace bedrock

const Adapter& bedrock_adapter() {
  static const BedrockAdapter a;
  return a;
}

}  // namespace stratus::providers
