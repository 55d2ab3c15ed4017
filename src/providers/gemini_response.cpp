// Gemini GenerateContentResponse → IR: unary answers, `alt=sse` streams and google.rpc errors.
#include <boost/json.hpp>
#include <charconv>

#include "codec/sse.h"
#include "providers/common.h"
#include "providers/gemini_wire.h"

namespace stratus::providers::gemini {

namespace json = boost::json;
using core::ErrorKind;

namespace {

long number(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return 0;
  if (v->is_int64()) return static_cast<long>(v->get_int64());
  if (v->is_uint64()) return static_cast<long>(v->get_uint64());
  if (v->is_double()) return static_cast<long>(v->get_double());
  return 0;
}

std::string_view string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

std::optional<api::FinishReason> finish_reason(std::string_view r) {
  if (r.empty() || r == "FINISH_REASON_UNSPECIFIED") return std::nullopt;
  if (r == "MAX_TOKENS") return api::FinishReason::length;
  if (r == "SAFETY" || r == "RECITATION" || r == "BLOCKLIST" || r == "PROHIBITED_CONTENT" ||
      r == "SPII" || r == "IMAGE_SAFETY" || r == "IMAGE_PROHIBITED_CONTENT") {
    return api::FinishReason::content_filter;
  }
  // STOP, and the rest (OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, ...): the turn ended.
  return api::FinishReason::stop;
}

// A turn that called functions ends with tool_calls when Gemini says STOP.
api::FinishReason with_calls(api::FinishReason r, bool calls) {
  return calls && r == api::FinishReason::stop ? api::FinishReason::tool_calls : r;
}

std::string call_id(const json::object& call, const CallContext& ctx, int n) {
  if (auto id = string_at(call, "id"); !id.empty()) return std::string(id);
  return "call_" + ctx.request_id + "_" + std::to_string(n);
}

api::ToolCall tool_call(const json::object& call, const CallContext& ctx, int n) {
  const auto* args = call.if_contains("args");
  return {call_id(call, ctx, n), std::string(string_at(call, "name")),
          args && !args->is_null() ? json::serialize(*args) : std::string("{}")};
}

const json::object* first_candidate(const json::object& body) {
  const auto* c = body.if_contains("candidates");
  if (!c || !c->is_array() || c->get_array().empty()) return nullptr;
  return c->get_array()[0].if_object();
}

// Calls `on_text(text, thought)` and `on_call(functionCall)` for the parts in order.
template <class OnText, class OnCall>
void for_each_part(const json::object& candidate, OnText&& on_text, OnCall&& on_call) {
  const auto* content = candidate.if_contains("content");
  if (!content || !content->is_object()) return;
  const auto* parts = content->get_object().if_contains("parts");
  if (!parts || !parts->is_array()) return;
  for (const auto& p : parts->get_array()) {
    const auto* part = p.if_object();
    if (!part) continue;
    if (const auto* call = part->if_contains("functionCall"); call && call->is_object()) {
      on_call(call->get_object());
    } else if (const auto* text = part->if_contains("text"); text && text->is_string()) {
      const auto* thought = part->if_contains("thought");
      on_text(std::string_view(text->get_string()),
              thought && thought->is_bool() && thought->get_bool());
    }
  }
}

bool prompt_blocked(const json::object& body) {
  const auto* fb = body.if_contains("promptFeedback");
  return fb && fb->is_object() && !string_at(fb->get_object(), "blockReason").empty();
}

core::Error upstream(std::string_view provider, std::string message, int status) {
  auto e = core::Error::make(ErrorKind::upstream,
                             "provider '" + std::string(provider) + "': " + std::move(message));
  e.upstream_status = status;
  return e;
}

// google.rpc.Duration in JSON: "13s", "0.5s".
std::optional<int> duration_seconds(std::string_view d) {
  if (!d.ends_with('s')) return std::nullopt;
  d.remove_suffix(1);
  double secs = 0;
  auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), secs);
  if (ec != std::errc() || p != d.data() + d.size() || secs < 0) return std::nullopt;
  return static_cast<int>(secs + 0.999);
}

struct RpcDetails {
  std::string reason;  // google.rpc.ErrorInfo.reason
  std::optional<int> retry_delay_s;
};

RpcDetails details_of(const json::object& error) {
  RpcDetails out;
  const auto* details = error.if_contains("details");
  if (!details || !details->is_array()) return out;
  for (const auto& d : details->get_array()) {
    const auto* o = d.if_object();
    if (!o) continue;
    const auto type = string_at(*o, "@type");
    if (type.ends_with("google.rpc.ErrorInfo") && out.reason.empty()) {
      out.reason = string_at(*o, "reason");
    } else if (type.ends_with("google.rpc.RetryInfo")) {
      out.retry_delay_s = duration_seconds(string_at(*o, "retryDelay"));
    }
  }
  return out;
}

std::optional<ErrorKind> kind_for_rpc_status(std::string_view status, std::string_view reason) {
  if (reason == "API_KEY_INVALID") return ErrorKind::authentication;
  if (status == "INVALID_ARGUMENT" || status == "FAILED_PRECONDITION" || status == "OUT_OF_RANGE") {
    return ErrorKind::invalid_request;
  }
  if (status == "UNAUTHENTICATED") return ErrorKind::authentication;
  if (status == "PERMISSION_DENIED") return ErrorKind::permission;
  if (status == "NOT_FOUND") return ErrorKind::not_found;
  if (status == "RESOURCE_EXHAUSTED") return ErrorKind::rate_limit;
  if (status == "UNAVAILABLE") return ErrorKind::overloaded;
  if (status == "DEADLINE_EXCEEDED") return ErrorKind::timeout;
  if (status == "INTERNAL" || status == "UNKNOWN" || status == "DATA_LOSS" ||
      status == "CANCELLED" || status == "ABORTED") {
    return ErrorKind::upstream;
  }
  return std::nullopt;
}

// ---- stream ----

class GeminiStreamDecoder final : public StreamDecoder {
  JsonScratch scratch_;  // per-event JSON parsing without heap allocations

 public:
  GeminiStreamDecoder(std::string provider, CallContext ctx)
      : provider_(std::move(provider)), ctx_(std::move(ctx)) {}

  core::Result<void> feed(std::string_view bytes, std::vector<api::ChatChunk>& out) override {
    if (error_) return std::unexpected(*error_);
    if (!in_error_object_) {
      const auto json_start = find_bare_json(bytes);
      if (auto r = read_events(bytes.substr(0, json_start), out); !r) return r;
      if (json_start == std::string_view::npos) return {};
      bytes.remove_prefix(json_start);
      in_error_object_ = true;
    }
    return read_error_object(bytes);
  }

  core::Result<void> finish(std::vector<api::ChatChunk>& out) override {
    if (error_) return std::unexpected(*error_);
    if (in_error_object_) {
      return remember(upstream(provider_, "stream ended inside an error object", 200));
    }
    // The last event may lack its blank line; a cut event then fails to parse.
    events_.clear();
    reader_.finish(events_);
    if (auto r = on_events(out); !r) return r;
    if (!finish_) {
      return remember(upstream(provider_, "stream ended before a finishReason (truncated)", 200));
    }
    api::ChatChunk last;
    last.finish_reason = with_calls(*finish_, calls_ > 0);
    emit(std::move(last), out);
    api::ChatChunk usage;
    usage.usage = usage_;
    out.push_back(std::move(usage));
    return {};
  }

 private:
  core::Result<void> remember(core::Error e) {
    error_ = std::move(e);
    return std::unexpected(*error_);
  }

  // Gemini reports some mid-stream errors as a bare JSON object after the events, outside
  // SSE framing: the offset of a line starting with '{' (never an SSE line), or npos.
  std::size_t find_bare_json(std::string_view bytes) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      const char c = bytes[i];
      if (at_line_start_ && c == '{') return i;
      at_line_start_ = c == '\n' || c == '\r';
    }
    return std::string_view::npos;
  }

  core::Result<void> read_error_object(std::string_view bytes) {
    if (bytes.empty()) return {};
    boost::system::error_code ec;
    const auto used = error_parser_.write_some(bytes.data(), bytes.size(), ec);
    (void)used;
    if (ec) return remember(upstream(provider_, "unreadable error object in stream", 200));
    if (!error_parser_.done()) return {};
    const json::value v = error_parser_.release();
    const auto* err = v.is_object() ? v.get_object().if_contains("error") : nullptr;
    if (!err || !err->is_object()) {
      return remember(upstream(provider_, "unexpected JSON in stream", 200));
    }
    return remember(mid_stream_error(err->get_object()));
  }

  core::Error mid_stream_error(const json::object& err) {
    core::UpstreamResponse res;
    res.status = 200;  // the stream's own status; the error object carries Google's code
    return rpc_error(err, res, provider_);
  }

  core::Result<void> read_events(std::string_view bytes, std::vector<api::ChatChunk>& out) {
    if (bytes.empty()) return {};
    events_.clear();
    reader_.feed(bytes, events_);
    return on_events(out);
  }

  core::Result<void> on_events(std::vector<api::ChatChunk>& out) {
    for (const auto& ev : events_) {
      if (auto r = on_event(ev.data, out); !r) return r;
    }
    return {};
  }

  core::Result<void> on_event(std::string_view data, std::vector<api::ChatChunk>& out) {
    auto v = scratch_.parse(data);
    if (!v || !v->is_object()) {
      return remember(upstream(provider_, "unreadable stream event (truncated?)", 200));
    }
    const auto& body = v->get_object();
    if (const auto* err = body.if_contains("error"); err && err->is_object()) {
      return remember(mid_stream_error(err->get_object()));
    }
    if (const auto* u = body.if_contains("usageMetadata")) usage_ = usage_of(u);
    if (prompt_blocked(body)) finish_ = api::FinishReason::content_filter;
    const auto* candidate = first_candidate(body);
    if (!candidate) return {};
    api::ChatChunk chunk;
    for_each_part(
        *candidate,
        [&](std::string_view text, bool thought) {
          (thought ? chunk.reasoning : chunk.content) += text;
        },
        [&](const json::object& call) {
          auto tc = tool_call(call, ctx_, calls_);
          chunk.tool_calls.push_back(
              {calls_, std::move(tc.id), std::move(tc.name), std::move(tc.arguments)});
          ++calls_;
        });
    if (auto r = finish_reason(string_at(*candidate, "finishReason"))) finish_ = r;
    if (!chunk.content.empty() || !chunk.reasoning.empty() || !chunk.tool_calls.empty()) {
      emit(std::move(chunk), out);
    }
    return {};
  }

  void emit(api::ChatChunk chunk, std::vector<api::ChatChunk>& out) {
    chunk.role = !role_sent_;
    role_sent_ = true;
    out.push_back(std::move(chunk));
  }

  std::string provider_;
  CallContext ctx_;
  codec::SseReader reader_;
  std::vector<codec::SseEvent> events_;
  json::stream_parser error_parser_;
  bool at_line_start_ = true;
  bool in_error_object_ = false;
  bool role_sent_ = false;
  int calls_ = 0;
  // Vertex repeats finishReason on every chunk: the finish chunk goes out when the body ends.
  std::optional<api::FinishReason> finish_;
  api::Usage usage_;
  std::optional<core::Error> error_;
};

}  // namespace

api::Usage usage_of(const json::value* usage_metadata) {
  api::Usage u;
  if (!usage_metadata || !usage_metadata->is_object()) return u;
  const auto& m = usage_metadata->get_object();
  u.reasoning_tokens = number(m, "thoughtsTokenCount");
  u.prompt_tokens = number(m, "promptTokenCount") + number(m, "toolUsePromptTokenCount");
  u.completion_tokens = number(m, "candidatesTokenCount") + u.reasoning_tokens;
  u.total_tokens = u.prompt_tokens + u.completion_tokens;
  u.cached_tokens = number(m, "cachedContentTokenCount");
  return u;
}

core::Result<api::ChatResponse> decode_response(const json::value& body,
                                                const core::UpstreamResponse& res,
                                                std::string_view provider, const CallContext& ctx) {
  if (!body.is_object())
    return std::unexpected(upstream(provider, "answer is not a JSON object", res.status));
  const auto& o = body.get_object();
  if (const auto* err = o.if_contains("error"); err && err->is_object()) {
    return std::unexpected(rpc_error(err->get_object(), res, provider));
  }
  api::ChatResponse out;
  out.id = string_at(o, "responseId");
  out.model = string_at(o, "modelVersion");
  out.usage = usage_of(o.if_contains("usageMetadata"));
  const auto* candidate = first_candidate(o);
  if (!candidate) {
    // The prompt itself was blocked: no candidates, only promptFeedback.blockReason.
    if (prompt_blocked(o)) {
      out.finish_reason = api::FinishReason::content_filter;
      return out;
    }
    return std::unexpected(upstream(provider, "answer has no candidates", res.status));
  }
  for_each_part(
      *candidate,
      [&](std::string_view text, bool thought) { (thought ? out.reasoning : out.content) += text; },
      [&](const json::object& call) {
        out.tool_calls.push_back(tool_call(call, ctx, static_cast<int>(out.tool_calls.size())));
      });
  auto reason = finish_reason(string_at(*candidate, "finishReason"));
  out.finish_reason = with_calls(reason.value_or(api::FinishReason::stop), !out.tool_calls.empty());
  return out;
}

std::unique_ptr<StreamDecoder> make_stream_decoder(std::string provider, CallContext ctx) {
  return std::make_unique<GeminiStreamDecoder>(std::move(provider), std::move(ctx));
}

core::Error rpc_error(const json::object& error, const core::UpstreamResponse& res,
                      std::string_view provider) {
  const auto details = details_of(error);
  const auto status = string_at(error, "status");
  std::string message(string_at(error, "message"));
  if (message.empty()) message = status.empty() ? "no error message" : std::string(status);
  auto kind = kind_for_rpc_status(status, details.reason);
  const int code = static_cast<int>(number(error, "code"));
  const bool in_stream = res.status / 100 == 2;
  if (!kind && in_stream) kind = code >= 400 ? kind_for_status(code) : ErrorKind::upstream;
  auto e = provider_error(res, provider, std::move(message), kind);
  if (in_stream && code > 0) e.upstream_status = code;
  // Google sends RetryInfo, not Retry-After; when both come (a proxy, the mock), wait for
  // the longer.
  if (details.retry_delay_s && (!e.retry_after_s || *e.retry_after_s < *details.retry_delay_s)) {
    e.retry_after_s = details.retry_delay_s;
  }
  if (!details.reason.empty() && e.code.empty()) e.code = details.reason;
  return e;
}

core::Error decode_error(const core::UpstreamResponse& res, std::string_view provider) {
  auto v = parse_json(res.body);
  // Streams without alt=sse answer a JSON array; errors then come as its first element.
  if (v && v->is_array() && !v->get_array().empty()) v = v->get_array()[0];
  if (v && v->is_object()) {
    if (const auto* err = v->get_object().if_contains("error"); err && err->is_object()) {
      return rpc_error(err->get_object(), res, provider);
    }
  }
  std::string message = res.body.substr(0, 300);
  if (message.empty()) message = "no error message";
  return provider_error(res, provider, std::move(message));
}

}  // namespace stratus::providers::gemini
