// OpenAI chat/embeddings JSON → IR, and IR → OpenAI responses and stream chunks.
#include "api/chat.h"

#include <boost/json.hpp>

#include "core/base64.h"
#include "core/json_text.h"

namespace stratus::api {

namespace json = boost::json;
using core::ErrorKind;
using core::fail;

namespace {

core::Error bad(std::string message, std::string param) {
  return core::Error::make(ErrorKind::invalid_request, std::move(message), std::move(param));
}

core::Result<Role> role_of(std::string_view r, const std::string& where) {
  if (r == "system") return Role::system;
  if (r == "developer") return Role::developer;
  if (r == "user") return Role::user;
  if (r == "assistant") return Role::assistant;
  if (r == "tool") return Role::tool;
  if (r == "function") {
    return std::unexpected(
        bad("role 'function' is deprecated; send tool results with role 'tool'", where + ".role"));
  }
  return std::unexpected(bad("Invalid value '" + std::string(r) +
                                 "' for role: expected system, developer, user, assistant or tool",
                             where + ".role"));
}

ContentPart text_part(std::string text) {
  ContentPart p;
  p.text = std::move(text);
  return p;
}

// "data:image/png;base64,AAAA" → media type and payload.
bool split_data_url(std::string_view url, std::string& media_type, std::string& data) {
  if (!url.starts_with("data:")) return false;
  auto comma = url.find(',');
  if (comma == std::string_view::npos) return false;
  auto meta = url.substr(5, comma - 5);
  auto semi = meta.find(';');
  if (semi == std::string_view::npos || meta.substr(semi + 1) != "base64") return false;
  media_type = std::string(meta.substr(0, semi));
  data = std::string(url.substr(comma + 1));
  return !media_type.empty() && !data.empty();
}

core::Result<void> parse_content(const json::value& c, Message& m, const std::string& where) {
  if (c.is_null()) return {};
  if (c.is_string()) {
    m.content.push_back(text_part(std::string(c.get_string())));
    return {};
  }
  if (!c.is_array()) {
    return std::unexpected(
        bad(where + ".content must be a string or an array of content parts", where + ".content"));
  }
  std::size_t i = 0;
  for (auto& p : c.get_array()) {
    auto at = where + ".content[" + std::to_string(i++) + "]";
    if (!p.is_object()) return std::unexpected(bad(at + " must be an object", at));
    auto& po = p.get_object();
    auto* type = po.if_contains("type");
    if (!type || !type->is_string())
      return std::unexpected(bad(at + ".type must be a string", at + ".type"));
    auto t = type->get_string();
    if (t == "text") {
      auto* text = po.if_contains("text");
      if (!text || !text->is_string())
        return std::unexpected(bad(at + ".text must be a string", at + ".text"));
      m.content.push_back(text_part(std::string(text->get_string())));
    } else if (t == "image_url") {
      auto* iu = po.if_contains("image_url");
      const json::value* url = nullptr;
      std::string detail;
      if (iu && iu->is_object()) {
        url = iu->get_object().if_contains("url");
        if (auto* d = iu->get_object().if_contains("detail"); d && d->is_string()) {
          detail = std::string(d->get_string());
        }
      } else if (iu && iu->is_string()) {
        url = iu;
      }
      if (!url || !url->is_string() || url->get_string().empty()) {
        return std::unexpected(bad(at + ".image_url.url must be a string", at + ".image_url"));
      }
      ContentPart part;
      part.kind = ContentPart::Kind::image;
      part.detail = detail;
      auto u = std::string_view(url->get_string());
      if (u.starts_with("data:")) {
        if (!split_data_url(u, part.media_type, part.data)) {
          return std::unexpected(bad(at + ".image_url.url is not a valid base64 data URL "
                                          "(expected data:<media type>;base64,<data>)",
                                     at + ".image_url"));
        }
      } else if (u.starts_with("http://") || u.starts_with("https://")) {
        part.url = std::string(u);
      } else {
        return std::unexpected(
            bad(at + ".image_url.url must be an http(s) URL or a data URL", at + ".image_url"));
      }
      m.content.push_back(std::move(part));
    } else if (t == "refusal") {
      if (auto* r = po.if_contains("refusal"); r && r->is_string()) {
        m.content.push_back(text_part(std::string(r->get_string())));
      }
    } else {
      return std::unexpected(
          bad("Unsupported content part type '" + std::string(t) + "' in " + at, at + ".type"));
    }
  }
  return {};
}

core::Result<void> parse_tool_calls(const json::value& v, Message& m, const std::string& where) {
  if (v.is_null()) return {};
  if (!v.is_array())
    return std::unexpected(bad(where + ".tool_calls must be an array", where + ".tool_calls"));
  std::size_t i = 0;
  for (auto& tc : v.get_array()) {
    auto at = where + ".tool_calls[" + std::to_string(i++) + "]";
    if (!tc.is_object()) return std::unexpected(bad(at + " must be an object", at));
    auto& o = tc.get_object();
    ToolCall call;
    if (auto* id = o.if_contains("id"); id && id->is_string())
      call.id = std::string(id->get_string());
    auto* fn = o.if_contains("function");
    if (!fn || !fn->is_object())
      return std::unexpected(bad(at + ".function must be an object", at + ".function"));
    auto* name = fn->get_object().if_contains("name");
    if (!name || !name->is_string()) {
      return std::unexpected(bad(at + ".function.name must be a string", at + ".function.name"));
    }
    call.name = std::string(name->get_string());
    if (auto* args = fn->get_object().if_contains("arguments"); args && !args->is_null()) {
      call.arguments = args->is_string() ? std::string(args->get_string()) : json::serialize(*args);
    }
    if (call.id.empty()) return std::unexpected(bad(at + ".id is required", at + ".id"));
    m.tool_calls.push_back(std::move(call));
  }
  return {};
}

core::Result<void> parse_tools(const json::value& v, Chat& chat) {
  if (v.is_null()) return {};
  if (!v.is_array()) return std::unexpected(bad("'tools' must be an array", "tools"));
  std::size_t i = 0;
  for (auto& t : v.get_array()) {
    auto at = "tools[" + std::to_string(i++) + "]";
    if (!t.is_object()) return std::unexpected(bad(at + " must be an object", at));
    auto& o = t.get_object();
    auto* type = o.if_contains("type");
    if (!type || !type->is_string() || type->get_string() != "function") {
      return std::unexpected(bad(at + ".type must be 'function'", at + ".type"));
    }
    auto* fn = o.if_contains("function");
    if (!fn || !fn->is_object())
      return std::unexpected(bad(at + ".function must be an object", at + ".function"));
    auto& f = fn->get_object();
    auto* name = f.if_contains("name");
    if (!name || !name->is_string() || name->get_string().empty()) {
      return std::unexpected(
          bad(at + ".function.name must be a non-empty string", at + ".function.name"));
    }
    Tool tool;
    tool.name = std::string(name->get_string());
    if (auto* d = f.if_contains("description"); d && d->is_string())
      tool.description = std::string(d->get_string());
    if (auto* p = f.if_contains("parameters"); p && !p->is_null()) {
      if (!p->is_object()) {
        return std::unexpected(bad(at + ".function.parameters must be a JSON Schema object",
                                   at + ".function.parameters"));
      }
      tool.parameters = *p;
    }
    if (auto* s = f.if_contains("strict"); s && s->is_bool()) tool.strict = s->get_bool();
    chat.tools.push_back(std::move(tool));
  }
  return {};
}

core::Result<void> parse_tool_choice(const json::value& v, Chat& chat) {
  if (v.is_null()) return {};
  ToolChoice tc;
  if (v.is_string()) {
    auto s = v.get_string();
    if (s == "auto") {
      tc.mode = ToolChoice::Mode::auto_;
    } else if (s == "none") {
      tc.mode = ToolChoice::Mode::none;
    } else if (s == "required") {
      tc.mode = ToolChoice::Mode::required;
    } else {
      return std::unexpected(
          bad("Invalid value for 'tool_choice': expected 'none', 'auto', "
              "'required' or a function",
              "tool_choice"));
    }
  } else if (v.is_object()) {
    auto* fn = v.get_object().if_contains("function");
    const json::value* name =
        fn && fn->is_object() ? fn->get_object().if_contains("name") : nullptr;
    if (!name || !name->is_string()) {
      return std::unexpected(bad("'tool_choice.function.name' must be a string", "tool_choice"));
    }
    tc.mode = ToolChoice::Mode::function;
    tc.name = std::string(name->get_string());
  } else {
    return std::unexpected(bad("'tool_choice' must be a string or an object", "tool_choice"));
  }
  if (tc.mode == ToolChoice::Mode::function) {
    bool known = std::any_of(chat.tools.begin(), chat.tools.end(),
                             [&](const Tool& t) { return t.name == tc.name; });
    if (!known) {
      return std::unexpected(bad(
          "tool_choice names function '" + tc.name + "', which is not in 'tools'", "tool_choice"));
    }
  }
  chat.tool_choice = tc;
  return {};
}

core::Result<void> parse_response_format(const json::value& v, Chat& chat) {
  if (v.is_null()) return {};
  auto* type = v.is_object() ? v.get_object().if_contains("type") : nullptr;
  if (!type || !type->is_string()) {
    return std::unexpected(bad("'response_format.type' must be a string", "response_format"));
  }
  auto t = type->get_string();
  auto& rf = chat.response_format;
  if (t == "text") {
    rf.type = ResponseFormat::Type::text;
  } else if (t == "json_object") {
    rf.type = ResponseFormat::Type::json_object;
  } else if (t == "json_schema") {
    rf.type = ResponseFormat::Type::json_schema;
    auto* js = v.get_object().if_contains("json_schema");
    if (!js || !js->is_object()) {
      return std::unexpected(
          bad("'response_format.json_schema' must be an object", "response_format"));
    }
    auto& o = js->get_object();
    if (auto* n = o.if_contains("name"); n && n->is_string())
      rf.name = std::string(n->get_string());
    if (auto* s = o.if_contains("schema"); s && s->is_object()) rf.schema = *s;
    if (auto* s = o.if_contains("strict"); s && s->is_bool()) rf.strict = s->get_bool();
    if (rf.schema.is_null()) {
      return std::unexpected(bad(
          "'response_format.json_schema.schema' must be a JSON Schema object", "response_format"));
    }
  } else {
    return std::unexpected(bad("Invalid value for 'response_format.type': '" + std::string(t) +
                                   "' (expected text, json_object or json_schema)",
                               "response_format"));
  }
  return {};
}

// (Built with += : GCC 12 warns falsely on "'" + std::string(...) here.)
core::Error not_a(std::string_view key, std::string_view what) {
  std::string m(1, '\'');
  m += key;
  m += "' must be ";
  m += what;
  return bad(std::move(m), std::string(key));
}

template <class T>
core::Result<std::optional<T>> number(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<T>{};
  if constexpr (std::is_integral_v<T>) {
    if (v->is_int64()) return std::optional<T>{v->get_int64()};
    if (v->is_uint64()) return std::optional<T>{static_cast<T>(v->get_uint64())};
    if (v->is_double() && v->get_double() == static_cast<double>(static_cast<T>(v->get_double()))) {
      return std::optional<T>{static_cast<T>(v->get_double())};
    }
    return std::unexpected(not_a(key, "an integer"));
  } else {
    if (v->is_number()) return std::optional<T>{v->to_number<double>()};
    return std::unexpected(not_a(key, "a number"));
  }
}

}  // namespace

std::string Message::text() const {
  std::string out;
  for (auto& p : content) {
    if (p.kind == ContentPart::Kind::text) out += p.text;
  }
  return out;
}

core::Result<Chat> parse_chat(const json::value& body) {
  if (!body.is_object())
    return fail(ErrorKind::invalid_request, "The request body must be a JSON object.");
  auto& o = body.get_object();
  Chat chat;
  if (auto* m = o.if_contains("model"); m && m->is_string())
    chat.model = std::string(m->get_string());
  auto* msgs = o.if_contains("messages");
  if (!msgs || !msgs->is_array() || msgs->get_array().empty()) {
    return fail(ErrorKind::invalid_request, "'messages' must be a non-empty array", "messages");
  }
  std::size_t i = 0;
  for (auto& mv : msgs->get_array()) {
    auto where = "messages[" + std::to_string(i++) + "]";
    if (!mv.is_object())
      return fail(ErrorKind::invalid_request, where + " must be an object", where);
    auto& mo = mv.get_object();
    auto* role = mo.if_contains("role");
    if (!role || !role->is_string()) {
      return fail(ErrorKind::invalid_request, where + ".role must be a string", where + ".role");
    }
    Message m;
    auto r = role_of(role->get_string(), where);
    if (!r) return std::unexpected(r.error());
    m.role = *r;
    if (auto* c = mo.if_contains("content")) {
      if (auto ok = parse_content(*c, m, where); !ok) return std::unexpected(ok.error());
    }
    if (auto* tc = mo.if_contains("tool_calls")) {
      if (m.role != Role::assistant) {
        return fail(ErrorKind::invalid_request,
                    where + ".tool_calls is only allowed on assistant messages",
                    where + ".tool_calls");
      }
      if (auto ok = parse_tool_calls(*tc, m, where); !ok) return std::unexpected(ok.error());
    }
    if (auto* n = mo.if_contains("name"); n && n->is_string())
      m.name = std::string(n->get_string());
    if (m.role == Role::tool) {
      auto* id = mo.if_contains("tool_call_id");
      if (!id || !id->is_string() || id->get_string().empty()) {
        return fail(ErrorKind::invalid_request, where + ".tool_call_id is required for role 'tool'",
                    where + ".tool_call_id");
      }
      m.tool_call_id = std::string(id->get_string());
    }
    if (m.role != Role::assistant && m.content.empty()) {
      return fail(ErrorKind::invalid_request, where + ".content is required", where + ".content");
    }
    chat.messages.push_back(std::move(m));
  }
  if (auto* t = o.if_contains("tools")) {
    if (auto ok = parse_tools(*t, chat); !ok) return std::unexpected(ok.error());
  }
  if (auto* t = o.if_contains("tool_choice")) {
    if (auto ok = parse_tool_choice(*t, chat); !ok) return std::unexpected(ok.error());
  }
  if (auto* p = o.if_contains("parallel_tool_calls"); p && p->is_bool())
    chat.parallel_tool_calls = p->get_bool();
  if (auto* rf = o.if_contains("response_format")) {
    if (auto ok = parse_response_format(*rf, chat); !ok) return std::unexpected(ok.error());
  }
#define STRATUS_NUMBER(field, T, key)          \
  {                                            \
    auto v = number<T>(o, key);                \
    if (!v) return std::unexpected(v.error()); \
    if (*v) chat.field = **v;                  \
  }
  STRATUS_NUMBER(temperature, double, "temperature")
  STRATUS_NUMBER(top_p, double, "top_p")
  STRATUS_NUMBER(frequency_penalty, double, "frequency_penalty")
  STRATUS_NUMBER(presence_penalty, double, "presence_penalty")
  STRATUS_NUMBER(max_tokens, std::int64_t, "max_tokens")
  STRATUS_NUMBER(max_tokens, std::int64_t, "max_completion_tokens")
  STRATUS_NUMBER(seed, std::int64_t, "seed")
  STRATUS_NUMBER(n, std::int64_t, "n")
#undef STRATUS_NUMBER
  if (chat.max_tokens && *chat.max_tokens < 1) {
    return fail(ErrorKind::invalid_request, "'max_tokens' must be at least 1", "max_tokens");
  }
  if (chat.n < 1) return fail(ErrorKind::invalid_request, "'n' must be at least 1", "n");
  if (auto* s = o.if_contains("stop"); s && !s->is_null()) {
    if (s->is_string()) {
      chat.stop.emplace_back(s->get_string());
    } else if (s->is_array()) {
      for (auto& x : s->get_array()) {
        if (!x.is_string())
          return fail(ErrorKind::invalid_request, "'stop' must hold strings", "stop");
        chat.stop.emplace_back(x.get_string());
      }
    } else {
      return fail(ErrorKind::invalid_request, "'stop' must be a string or an array of strings",
                  "stop");
    }
  }
  if (auto* u = o.if_contains("user"); u && u->is_string())
    chat.user = std::string(u->get_string());
  if (auto* r = o.if_contains("reasoning_effort"); r && r->is_string()) {
    chat.reasoning_effort = std::string(r->get_string());
  }
  if (auto* s = o.if_contains("stream"); s && s->is_bool()) chat.stream = s->get_bool();
  if (auto* so = o.if_contains("stream_options"); so && so->is_object()) {
    if (auto* iu = so->get_object().if_contains("include_usage"); iu && iu->is_bool()) {
      chat.include_usage = iu->get_bool();
    }
  }
  return chat;
}

core::Result<Embeddings> parse_embeddings(const json::value& body) {
  if (!body.is_object())
    return fail(ErrorKind::invalid_request, "The request body must be a JSON object.");
  auto& o = body.get_object();
  Embeddings e;
  if (auto* m = o.if_contains("model"); m && m->is_string()) e.model = std::string(m->get_string());
  auto* input = o.if_contains("input");
  if (!input)
    return fail(ErrorKind::invalid_request, "Missing required parameter: 'input'.", "input");
  if (input->is_string()) {
    e.inputs.emplace_back(input->get_string());
  } else if (input->is_array() && !input->get_array().empty()) {
    for (auto& x : input->get_array()) {
      if (!x.is_string()) {
        return fail(ErrorKind::invalid_request,
                    "'input' must be a string or an array of strings for this provider "
                    "(token arrays are not supported)",
                    "input");
      }
      e.inputs.emplace_back(x.get_string());
    }
  } else {
    return fail(ErrorKind::invalid_request,
                "'input' must be a string or a non-empty array of strings", "input");
  }
  for (auto& s : e.inputs) {
    if (s.empty())
      return fail(ErrorKind::invalid_request, "'input' must not contain empty strings", "input");
  }
  if (auto* d = o.if_contains("dimensions"); d && d->is_int64()) e.dimensions = d->get_int64();
  if (auto* f = o.if_contains("encoding_format"); f && f->is_string()) {
    auto s = f->get_string();
    if (s != "float" && s != "base64") {
      return fail(ErrorKind::invalid_request, "'encoding_format' must be 'float' or 'base64'",
                  "encoding_format");
    }
    e.base64 = s == "base64";
  }
  if (auto* u = o.if_contains("user"); u && u->is_string()) e.user = std::string(u->get_string());
  return e;
}

std::string_view finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::stop:
      return "stop";
    case FinishReason::length:
      return "length";
    case FinishReason::tool_calls:
      return "tool_calls";
    case FinishReason::content_filter:
      return "content_filter";
  }
  return "stop";
}

namespace {

json::object usage_json(const Usage& u) {
  json::object o{
      {"prompt_tokens", u.prompt_tokens},
      {"completion_tokens", u.completion_tokens},
      {"total_tokens", u.total_tokens ? u.total_tokens : u.prompt_tokens + u.completion_tokens}};
  o["prompt_tokens_details"] = json::object{{"cached_tokens", u.cached_tokens}};
  o["completion_tokens_details"] = json::object{{"reasoning_tokens", u.reasoning_tokens}};
  return o;
}

}  // namespace

std::string openai_response_json(const ChatResponse& r, const ResponseMeta& meta) {
  json::object message{{"role", "assistant"}};
  message["content"] =
      r.content.empty() && !r.tool_calls.empty() ? json::value(nullptr) : json::value(r.content);
  message["refusal"] = r.refusal.empty() ? json::value(nullptr) : json::value(r.refusal);
  if (!r.reasoning.empty()) message["reasoning_content"] = r.reasoning;
  if (!r.tool_calls.empty()) {
    json::array calls;
    for (auto& c : r.tool_calls) {
      calls.push_back(json::object{{"id", c.id},
                                   {"type", "function"},
                                   {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    }
    message["tool_calls"] = std::move(calls);
  }
  json::object choice{{"index", 0},
                      {"message", std::move(message)},
                      {"logprobs", nullptr},
                      {"finish_reason", finish_reason_name(r.finish_reason)}};
  json::object out{{"id", meta.id},
                   {"object", "chat.completion"},
                   {"created", meta.created},
                   {"model", meta.model},
                   {"choices", json::array{std::move(choice)}},
                   {"usage", usage_json(r.usage)}};
  return json::serialize(out);
}

namespace {

using core::append_json_string;  // stream chunks are written by hand (core/json_text.h)

void append_usage(std::string& out, const Usage& u) {
  out += "{\"prompt_tokens\":";
  out += std::to_string(u.prompt_tokens);
  out += ",\"completion_tokens\":";
  out += std::to_string(u.completion_tokens);
  out += ",\"total_tokens\":";
  out += std::to_string(u.total_tokens ? u.total_tokens : u.prompt_tokens + u.completion_tokens);
  out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
  out += std::to_string(u.cached_tokens);
  out += "},\"completion_tokens_details\":{\"reasoning_tokens\":";
  out += std::to_string(u.reasoning_tokens);
  out += "}}";
}

}  // namespace

void append_openai_chunk_event(std::string& ev, const ChatChunk& c, const ResponseMeta& meta) {
  ev += "data: {\"id\":";
  append_json_string(ev, meta.id);
  ev += ",\"object\":\"chat.completion.chunk\",\"created\":";
  ev += std::to_string(meta.created);
  ev += ",\"model\":";
  append_json_string(ev, meta.model);
  bool usage_only = c.usage && !c.role && c.content.empty() && c.refusal.empty() &&
                    c.reasoning.empty() && c.tool_calls.empty() && !c.finish_reason;
  if (usage_only) {
    ev += ",\"choices\":[],\"usage\":";
    append_usage(ev, *c.usage);
    ev += "}\n\n";
    return;
  }
  ev += ",\"choices\":[{\"index\":0,\"delta\":{";
  bool first = true;
  auto field = [&](std::string_view name) {
    if (!first) ev += ',';
    first = false;
    ev += '"';
    ev += name;
    ev += "\":";
  };
  if (c.role) {
    field("role");
    ev += "\"assistant\"";
  }
  if (!c.content.empty() || c.role) {
    field("content");
    append_json_string(ev, c.content);
  }
  if (!c.refusal.empty()) {
    field("refusal");
    append_json_string(ev, c.refusal);
  }
  if (!c.reasoning.empty()) {
    field("reasoning_content");
    append_json_string(ev, c.reasoning);
  }
  if (!c.tool_calls.empty()) {
    field("tool_calls");
    ev += '[';
    for (std::size_t i = 0; i < c.tool_calls.size(); ++i) {
      auto& t = c.tool_calls[i];
      if (i) ev += ',';
      ev += "{\"index\":";
      ev += std::to_string(t.index);
      if (!t.id.empty()) {
        ev += ",\"id\":";
        append_json_string(ev, t.id);
      }
      if (!t.id.empty() || !t.name.empty()) ev += ",\"type\":\"function\"";
      ev += ",\"function\":{";
      if (!t.name.empty()) {
        ev += "\"name\":";
        append_json_string(ev, t.name);
        ev += ',';
      }
      ev += "\"arguments\":";
      append_json_string(ev, t.arguments);
      ev += "}}";
    }
    ev += ']';
  }
  ev += "},\"logprobs\":null,\"finish_reason\":";
  if (c.finish_reason) {
    ev += '"';
    ev += finish_reason_name(*c.finish_reason);
    ev += '"';
  } else {
    ev += "null";
  }
  ev += "}]}\n\n";
}

std::string openai_chunk_event(const ChatChunk& c, const ResponseMeta& meta) {
  std::string ev;
  ev.reserve(160 + meta.id.size() + meta.model.size() + c.content.size());
  append_openai_chunk_event(ev, c, meta);
  return ev;
}

std::string openai_embeddings_json(const EmbeddingsResponse& r, const Embeddings& req,
                                   std::string_view model) {
  json::array data;
  data.reserve(r.vectors.size());
  for (std::size_t i = 0; i < r.vectors.size(); ++i) {
    auto& v = r.vectors[i];
    json::object item{{"object", "embedding"}, {"index", i}};
    if (req.base64) {
      item["embedding"] = core::base64_encode(
          std::string_view(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float)));
    } else {
      json::array arr;
      arr.reserve(v.size());
      for (float x : v) arr.emplace_back(x);
      item["embedding"] = std::move(arr);
    }
    data.push_back(std::move(item));
  }
  json::object out{
      {"object", "list"},
      {"data", std::move(data)},
      {"model", model},
      {"usage",
       {{"prompt_tokens", r.usage.prompt_tokens},
        {"total_tokens", r.usage.total_tokens ? r.usage.total_tokens : r.usage.prompt_tokens}}}};
  return json::serialize(out);
}

}  // namespace stratus::api
