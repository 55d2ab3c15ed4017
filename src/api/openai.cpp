// OpenAI request validation, usage extraction and response helpers.
#include "api/openai.h"

#include <boost/json.hpp>

namespace stratus::api {

namespace json = boost::json;
using core::ErrorKind;
using core::fail;

namespace {

core::Result<json::value> parse_object(std::string_view body) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  auto v = json::parse(body, ec, {}, opts);
  if (ec) {
    return fail(ErrorKind::invalid_request, "We could not parse the JSON body of your request (" +
                                                ec.message() +
                                                "). The OpenAI API expects a JSON payload.");
  }
  if (!v.is_object()) {
    return fail(ErrorKind::invalid_request, "The request body must be a JSON object.");
  }
  return v;
}

core::Result<std::string> model_of(const json::object& o) {
  auto* m = o.if_contains("model");
  if (!m) return fail(ErrorKind::invalid_request, "you must provide a model parameter", "model");
  if (!m->is_string() || m->get_string().empty()) {
    return fail(ErrorKind::invalid_request, "'model' must be a non-empty string", "model");
  }
  return std::string(m->get_string());
}

}  // namespace

core::Result<ChatRequest> parse_chat_request(std::string_view body) {
  auto v = parse_object(body);
  if (!v) return std::unexpected(v.error());
  auto& o = v->as_object();
  auto model = model_of(o);
  if (!model) return std::unexpected(model.error());
  auto* msgs = o.if_contains("messages");
  if (!msgs)
    return fail(ErrorKind::invalid_request, "Missing required parameter: 'messages'.", "messages");
  if (!msgs->is_array()) {
    return fail(ErrorKind::invalid_request, "'messages' must be an array of message objects",
                "messages");
  }
  if (msgs->get_array().empty()) {
    return fail(ErrorKind::invalid_request, "'messages' must contain at least one message",
                "messages");
  }
  std::size_t i = 0;
  for (auto& m : msgs->get_array()) {
    auto where = "messages[" + std::to_string(i++) + "]";
    if (!m.is_object())
      return fail(ErrorKind::invalid_request, where + " must be an object", where);
    auto* role = m.as_object().if_contains("role");
    if (!role || !role->is_string()) {
      return fail(ErrorKind::invalid_request, where + ".role must be a string", where + ".role");
    }
  }
  ChatRequest req;
  req.model = std::move(*model);
  if (auto* s = o.if_contains("stream"); s && !s->is_null()) {
    if (!s->is_bool())
      return fail(ErrorKind::invalid_request, "'stream' must be a boolean", "stream");
    req.stream = s->get_bool();
  }
  if (auto* so = o.if_contains("stream_options"); so && so->is_object()) {
    if (auto* iu = so->as_object().if_contains("include_usage"); iu && iu->is_bool()) {
      req.include_usage = iu->get_bool();
    }
  }
  req.body = std::move(*v);
  return req;
}

core::Result<EmbeddingsRequest> parse_embeddings_request(std::string_view body) {
  auto v = parse_object(body);
  if (!v) return std::unexpected(v.error());
  auto& o = v->as_object();
  auto model = model_of(o);
  if (!model) return std::unexpected(model.error());
  auto* input = o.if_contains("input");
  if (!input)
    return fail(ErrorKind::invalid_request, "Missing required parameter: 'input'.", "input");
  if (!input->is_string() && !input->is_array()) {
    return fail(ErrorKind::invalid_request, "'input' must be a string or an array", "input");
  }
  if (input->is_array() && input->get_array().empty()) {
    return fail(ErrorKind::invalid_request, "'input' must not be empty", "input");
  }
  EmbeddingsRequest req;
  req.model = std::move(*model);
  req.body = std::move(*v);
  return req;
}

std::string upstream_chat_body(ChatRequest& req, std::string_view upstream_model) {
  auto& o = req.body.as_object();
  o["model"] = upstream_model;
  if (req.stream && !req.include_usage) {
    auto& so = o["stream_options"];
    if (!so.is_object()) so = json::object{};
    so.as_object()["include_usage"] = true;
  }
  return json::serialize(req.body);
}

std::string upstream_embeddings_body(EmbeddingsRequest& req, std::string_view upstream_model) {
  req.body.as_object()["model"] = upstream_model;
  return json::serialize(req.body);
}

std::optional<Usage> usage_of(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  auto* u = v.as_object().if_contains("usage");
  if (!u || !u->is_object()) return std::nullopt;
  auto& uo = u->as_object();
  auto num = [&](const json::object& obj, std::string_view k) -> long {
    auto* x = obj.if_contains(k);
    if (!x) return 0;
    if (x->is_int64()) return static_cast<long>(x->get_int64());
    if (x->is_uint64()) return static_cast<long>(x->get_uint64());
    return 0;
  };
  Usage out;
  out.prompt_tokens = num(uo, "prompt_tokens");
  out.completion_tokens = num(uo, "completion_tokens");
  out.total_tokens = num(uo, "total_tokens");
  if (out.total_tokens == 0) out.total_tokens = out.prompt_tokens + out.completion_tokens;
  if (auto* d = uo.if_contains("prompt_tokens_details"); d && d->is_object()) {
    out.cached_tokens = num(d->as_object(), "cached_tokens");
  }
  return out;
}

std::optional<Usage> usage_of_text(std::string_view text) {
  static constexpr std::string_view kKey = "\"usage\"";
  auto pos = text.rfind(kKey);
  if (pos == std::string_view::npos) return std::nullopt;
  // Inside a JSON string the quotes would be escaped, so an unescaped "usage" is a key.
  if (pos == 0 || text[pos - 1] != '\\') {
    auto rest = text.substr(pos + kKey.size());
    auto colon = rest.find_first_not_of(" \t\r\n");
    if (colon != std::string_view::npos && rest[colon] == ':') {
      json::stream_parser p;
      boost::system::error_code ec;
      p.write_some(rest.substr(colon + 1), ec);  // stops after one complete value
      if (!ec && p.done()) {
        json::object wrapper;
        wrapper["usage"] = p.release();
        if (auto u = usage_of(wrapper)) return u;
      }
    }
  }
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return usage_of(v);
}

bool is_usage_only_chunk(const json::value& v) {
  if (!v.is_object()) return false;
  auto* c = v.as_object().if_contains("choices");
  return c && c->is_array() && c->get_array().empty() && usage_of(v).has_value();
}

std::string models_list(const std::vector<std::string>& aliases, long created) {
  json::array data;
  for (auto& a : aliases) {
    data.push_back(json::object{
        {"id", a}, {"object", "model"}, {"created", created}, {"owned_by", "stratus"}});
  }
  return json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}});
}

std::string sse_error_event(const core::Error& e) {
  return "data: " + core::to_openai_json(e) + "\n\n";
}

}  // namespace stratus::api
