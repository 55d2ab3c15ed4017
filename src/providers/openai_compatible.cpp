// OpenAI wire format adapter (and the OpenAI ↔ IR pieces Azure reuses).
#include "providers/openai_compatible.h"

#include <boost/json.hpp>
#include <cstring>

#include "codec/sse.h"
#include "core/base64.h"
#include "providers/common.h"

namespace stratus::providers {

namespace json = boost::json;
using core::ErrorKind;

namespace {

std::string_view role_name(api::Role r) {
  switch (r) {
    case api::Role::system:
      return "system";
    case api::Role::developer:
      return "developer";
    case api::Role::user:
      return "user";
    case api::Role::assistant:
      return "assistant";
    case api::Role::tool:
      return "tool";
  }
  return "user";
}

json::value content_json(const api::Message& m) {
  bool only_text = std::all_of(m.content.begin(), m.content.end(), [](const api::ContentPart& p) {
    return p.kind == api::ContentPart::Kind::text;
  });
  if (only_text) {
    if (m.content.empty()) return nullptr;
    return json::string(m.text());
  }
  json::array parts;
  for (auto& p : m.content) {
    if (p.kind == api::ContentPart::Kind::text) {
      parts.push_back(json::object{{"type", "text"}, {"text", p.text}});
    } else {
      std::string url = p.url.empty() ? "data:" + p.media_type + ";base64," + p.data : p.url;
      json::object iu{{"url", std::move(url)}};
      if (!p.detail.empty()) iu["detail"] = p.detail;
      parts.push_back(json::object{{"type", "image_url"}, {"image_url", std::move(iu)}});
    }
  }
  return parts;
}

std::optional<api::FinishReason> finish_of(std::string_view s) {
  if (s == "stop") return api::FinishReason::stop;
  if (s == "length") return api::FinishReason::length;
  if (s == "tool_calls" || s == "function_call") return api::FinishReason::tool_calls;
  if (s == "content_filter") return api::FinishReason::content_filter;
  return std::nullopt;
}

std::string str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

class OpenAIStreamDecoder final : public StreamDecoder {
  JsonScratch scratch_;  // per-event JSON parsing without heap allocations

 public:
  explicit OpenAIStreamDecoder(std::string provider) : provider_(std::move(provider)) {}

  core::Result<void> feed(std::string_view bytes, std::vector<api::ChatChunk>& out) override {
    events_.clear();
    reader_.feed(bytes, events_);
    return handle(out);
  }

  bool done() const override { return done_; }

  core::Result<void> finish(std::vector<api::ChatChunk>& out) override {
    events_.clear();
    reader_.finish(events_);
    if (auto r = handle(out); !r) return r;
    if (!done_) {
      return core::fail(ErrorKind::upstream,
                        "provider '" + provider_ + "' ended the stream before [DONE]");
    }
    return {};
  }

 private:
  core::Result<void> handle(std::vector<api::ChatChunk>& out) {
    for (auto& e : events_) {
      if (done_) break;
      if (e.data == "[DONE]") {
        done_ = true;
        break;
      }
      if (e.data.empty()) continue;
      auto v = scratch_.parse(e.data);
      if (!v || !v->is_object()) {
        return core::fail(ErrorKind::upstream,
                          "provider '" + provider_ + "' sent an unreadable stream event");
      }
      auto& o = v->get_object();
      if (auto* err = o.if_contains("error"); err && err->is_object()) {
        core::UpstreamResponse res{.status = 500, .headers = {}, .body = e.data};
        return std::unexpected(openai_decode_error(res, provider_));
      }
      api::ChatChunk c;
      if (auto* choices = o.if_contains("choices");
          choices && choices->is_array() && !choices->get_array().empty()) {
        auto& ch = choices->get_array()[0];
        if (ch.is_object()) {
          if (auto* d = ch.get_object().if_contains("delta"); d && d->is_object()) {
            auto& delta = d->get_object();
            c.role = delta.contains("role");
            c.content = str(delta, "content");
            c.refusal = str(delta, "refusal");
            c.reasoning = str(delta, "reasoning_content");
            if (auto* tcs = delta.if_contains("tool_calls"); tcs && tcs->is_array()) {
              for (auto& tc : tcs->get_array()) {
                if (!tc.is_object()) continue;
                api::ToolCallDelta t;
                if (auto* i = tc.get_object().if_contains("index"); i && i->is_int64()) {
                  t.index = static_cast<int>(i->get_int64());
                }
                t.id = str(tc.get_object(), "id");
                if (auto* fn = tc.get_object().if_contains("function"); fn && fn->is_object()) {
                  t.name = str(fn->get_object(), "name");
                  t.arguments = str(fn->get_object(), "arguments");
                }
                c.tool_calls.push_back(std::move(t));
              }
            }
          }
          if (auto* f = ch.get_object().if_contains("finish_reason"); f && f->is_string()) {
            c.finish_reason = finish_of(f->get_string());
          }
        }
      }
      if (auto u = api::usage_of(*v)) c.usage = u;
      bool empty = !c.role && c.content.empty() && c.refusal.empty() && c.reasoning.empty() &&
                   c.tool_calls.empty() && !c.finish_reason && !c.usage;
      if (empty) continue;  // e.g. Azure's first chunk: prompt_filter_results, choices: []
      if (c.usage && (c.role || !c.content.empty() || !c.tool_calls.empty() || c.finish_reason)) {
        // Some servers put usage on the last content chunk: split it into its own chunk.
        api::ChatChunk u;
        u.usage = c.usage;
        c.usage.reset();
        out.push_back(std::move(c));
        out.push_back(std::move(u));
        continue;
      }
      out.push_back(std::move(c));
    }
    return {};
  }

  std::string provider_;
  codec::SseReader reader_;
  std::vector<codec::SseEvent> events_;
  bool done_ = false;
};

class OpenAIAdapter final : public OpenAIWireAdapter {
 public:
  std::string_view name() const override { return "openai"; }
  std::optional<std::string> passthrough_url(const Deployment& d, Endpoint ep) const override {
    return d.base_url + (ep == Endpoint::chat ? "/chat/completions" : "/embeddings");
  }
};

}  // namespace

core::Result<core::UpstreamRequest> OpenAIWireAdapter::encode_chat(const api::Chat& chat,
                                                                   const Deployment& d,
                                                                   const CallContext&) const {
  core::UpstreamRequest r;
  r.url = passthrough_url(d, Endpoint::chat).value_or("");
  r.headers.emplace_back("content-type", "application/json");
  r.body = openai_chat_body(chat, d.model);
  return r;
}

core::Result<api::ChatResponse> OpenAIWireAdapter::decode_chat(const core::UpstreamResponse& res,
                                                               const Deployment& d,
                                                               const CallContext&) const {
  return openai_decode_chat(res.body, d.provider);
}

std::unique_ptr<StreamDecoder> OpenAIWireAdapter::stream_decoder(const api::Chat&,
                                                                 const Deployment& d,
                                                                 const CallContext&) const {
  return openai_stream_decoder(d.provider);
}

core::Error OpenAIWireAdapter::decode_error(const core::UpstreamResponse& res,
                                            const Deployment& d) const {
  return openai_decode_error(res, d.provider);
}

core::Result<core::UpstreamRequest> OpenAIWireAdapter::encode_embeddings(
    const api::Embeddings& req, const Deployment& d) const {
  core::UpstreamRequest r;
  r.url = passthrough_url(d, Endpoint::embeddings).value_or("");
  r.headers.emplace_back("content-type", "application/json");
  r.body = openai_embeddings_body(req, d.model);
  return r;
}

core::Result<api::EmbeddingsResponse> OpenAIWireAdapter::decode_embeddings(
    const core::UpstreamResponse& res, const Deployment& d) const {
  return openai_decode_embeddings(res.body, d.provider);
}

std::string openai_chat_body(const api::Chat& chat, std::string_view model) {
  json::array messages;
  for (auto& m : chat.messages) {
    json::object o{{"role", role_name(m.role)}};
    o["content"] = content_json(m);
    if (!m.name.empty()) o["name"] = m.name;
    if (!m.tool_call_id.empty()) o["tool_call_id"] = m.tool_call_id;
    if (!m.tool_calls.empty()) {
      json::array calls;
      for (auto& c : m.tool_calls) {
        calls.push_back(json::object{{"id", c.id},
                                     {"type", "function"},
                                     {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
      }
      o["tool_calls"] = std::move(calls);
    }
    messages.push_back(std::move(o));
  }
  json::object body{{"model", model}, {"messages", std::move(messages)}};
  if (!chat.tools.empty()) {
    json::array tools;
    for (auto& t : chat.tools) {
      json::object fn{{"name", t.name}};
      if (!t.description.empty()) fn["description"] = t.description;
      if (!t.parameters.is_null()) fn["parameters"] = t.parameters;
      if (t.strict) fn["strict"] = true;
      tools.push_back(json::object{{"type", "function"}, {"function", std::move(fn)}});
    }
    body["tools"] = std::move(tools);
  }
  if (chat.tool_choice) {
    switch (chat.tool_choice->mode) {
      case api::ToolChoice::Mode::auto_:
        body["tool_choice"] = "auto";
        break;
      case api::ToolChoice::Mode::none:
        body["tool_choice"] = "none";
        break;
      case api::ToolChoice::Mode::required:
        body["tool_choice"] = "required";
        break;
      case api::ToolChoice::Mode::function:
        body["tool_choice"] =
            json::object{{"type", "function"}, {"function", {{"name", chat.tool_choice->name}}}};
        break;
    }
  }
  if (chat.parallel_tool_calls) body["parallel_tool_calls"] = *chat.parallel_tool_calls;
  switch (chat.response_format.type) {
    case api::ResponseFormat::Type::text:
      break;
    case api::ResponseFormat::Type::json_object:
      body["response_format"] = json::object{{"type", "json_object"}};
      break;
    case api::ResponseFormat::Type::json_schema: {
      json::object js{{"name", chat.response_format.name}, {"schema", chat.response_format.schema}};
      if (chat.response_format.strict) js["strict"] = true;
      body["response_format"] =
          json::object{{"type", "json_schema"}, {"json_schema", std::move(js)}};
      break;
    }
  }
  if (chat.temperature) body["temperature"] = *chat.temperature;
  if (chat.top_p) body["top_p"] = *chat.top_p;
  if (chat.frequency_penalty) body["frequency_penalty"] = *chat.frequency_penalty;
  if (chat.presence_penalty) body["presence_penalty"] = *chat.presence_penalty;
  if (chat.max_tokens) body["max_completion_tokens"] = *chat.max_tokens;
  if (!chat.stop.empty()) {
    json::array stop;
    for (auto& s : chat.stop) stop.emplace_back(s);
    body["stop"] = std::move(stop);
  }
  if (chat.seed) body["seed"] = *chat.seed;
  if (chat.n != 1) body["n"] = chat.n;
  if (!chat.user.empty()) body["user"] = chat.user;
  if (!chat.reasoning_effort.empty()) body["reasoning_effort"] = chat.reasoning_effort;
  if (chat.stream) {
    body["stream"] = true;
    body["stream_options"] = json::object{{"include_usage", true}};
  }
  return json::serialize(body);
}

core::Result<api::ChatResponse> openai_decode_chat(std::string_view body,
                                                   std::string_view provider) {
  auto v = parse_json(body);
  auto bad = [&] {
    return core::fail(ErrorKind::upstream, "provider '" + std::string(provider) +
                                               "' sent an unreadable chat completion");
  };
  if (!v || !v->is_object()) return bad();
  auto& o = v->get_object();
  auto* choices = o.if_contains("choices");
  if (!choices || !choices->is_array() || choices->get_array().empty() ||
      !choices->get_array()[0].is_object()) {
    return bad();
  }
  auto& ch = choices->get_array()[0].get_object();
  api::ChatResponse r;
  r.id = str(o, "id");
  r.model = str(o, "model");
  if (auto* m = ch.if_contains("message"); m && m->is_object()) {
    auto& msg = m->get_object();
    r.content = str(msg, "content");
    r.refusal = str(msg, "refusal");
    r.reasoning = str(msg, "reasoning_content");
    if (auto* tcs = msg.if_contains("tool_calls"); tcs && tcs->is_array()) {
      for (auto& tc : tcs->get_array()) {
        if (!tc.is_object()) continue;
        api::ToolCall call{.id = str(tc.get_object(), "id"), .name = {}, .arguments = {}};
        if (auto* fn = tc.get_object().if_contains("function"); fn && fn->is_object()) {
          call.name = str(fn->get_object(), "name");
          call.arguments = str(fn->get_object(), "arguments");
        }
        r.tool_calls.push_back(std::move(call));
      }
    }
  }
  if (auto* f = ch.if_contains("finish_reason"); f && f->is_string()) {
    r.finish_reason = finish_of(f->get_string()).value_or(api::FinishReason::stop);
  }
  if (auto u = api::usage_of(*v)) r.usage = *u;
  return r;
}

std::unique_ptr<StreamDecoder> openai_stream_decoder(std::string provider) {
  return std::make_unique<OpenAIStreamDecoder>(std::move(provider));
}

core::Error openai_decode_error(const core::UpstreamResponse& res, std::string_view provider) {
  std::string message;
  std::string code;
  std::string type;
  if (auto v = parse_json(res.body); v && v->is_object()) {
    if (auto* e = v->get_object().if_contains("error"); e && e->is_object()) {
      auto& eo = e->get_object();
      message = str(eo, "message");
      type = str(eo, "type");
      if (auto* c = eo.if_contains("code")) {
        code = c->is_string()   ? std::string(c->get_string())
               : c->is_number() ? json::serialize(*c)
                                : "";
      }
    }
  }
  if (message.empty()) {
    message = "answered " + std::to_string(res.status);
    if (!res.body.empty()) message += ": " + res.body.substr(0, 200);
  }
  std::optional<ErrorKind> kind;
  if (code == "context_length_exceeded") kind = ErrorKind::context_length;
  if (res.status == 200) kind = ErrorKind::upstream;  // an error event inside a 200 stream
  auto e = provider_error(res, provider, message, kind);
  if (e.kind == ErrorKind::context_length) {
    e.code = "context_length_exceeded";
  } else if (!code.empty() && e.code.empty() && res.status < 500) {
    e.code = code;
  }
  return e;
}

std::string openai_embeddings_body(const api::Embeddings& req, std::string_view model) {
  json::array input;
  for (auto& s : req.inputs) input.emplace_back(s);
  json::object body{{"model", model}, {"input", std::move(input)}, {"encoding_format", "float"}};
  if (req.dimensions) body["dimensions"] = *req.dimensions;
  if (!req.user.empty()) body["user"] = req.user;
  return json::serialize(body);
}

core::Result<api::EmbeddingsResponse> openai_decode_embeddings(std::string_view body,
                                                               std::string_view provider) {
  auto v = parse_json(body);
  auto bad = [&] {
    return core::fail(ErrorKind::upstream,
                      "provider '" + std::string(provider) + "' sent unreadable embeddings");
  };
  if (!v || !v->is_object()) return bad();
  auto* data = v->get_object().if_contains("data");
  if (!data || !data->is_array()) return bad();
  api::EmbeddingsResponse r;
  for (auto& item : data->get_array()) {
    auto* emb = item.is_object() ? item.get_object().if_contains("embedding") : nullptr;
    if (!emb) return bad();
    std::vector<float> vec;
    if (emb->is_array()) {
      for (auto& x : emb->get_array()) {
        if (!x.is_number()) return bad();
        vec.push_back(static_cast<float>(x.to_number<double>()));
      }
    } else if (emb->is_string()) {
      auto raw = core::base64_decode(emb->get_string());
      if (!raw || raw->size() % sizeof(float)) return bad();
      vec.resize(raw->size() / sizeof(float));
      std::memcpy(vec.data(), raw->data(), raw->size());
    } else {
      return bad();
    }
    r.vectors.push_back(std::move(vec));
  }
  if (auto u = api::usage_of(*v)) r.usage = *u;
  return r;
}

const Adapter& openai_adapter() {
  static const OpenAIAdapter a;
  return a;
}

}  // namespace stratus::providers
