// The Google dialects of the mock: the Gemini Developer API (/v1beta/models/{m}:generateContent,
// x-goog-api-key or ?key=) and Vertex AI (/v1/projects/{p}/locations/{l}/publishers/google/
// models/{m}:generateContent, Authorization: Bearer). Both names route both path shapes;
// credentials are checked by the shape of the path. Streams are always `alt=sse` events (the
// JSON-array stream Gemini sends without alt=sse is not emulated).
#include <boost/json.hpp>
#include <cctype>

#include "mock/dialect.h"

namespace stratus::mock {

namespace json = boost::json;

namespace {

std::string_view rpc_status(int code) {
  switch (code) {
    case 400:
      return "INVALID_ARGUMENT";
    case 401:
      return "UNAUTHENTICATED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "ABORTED";
    case 429:
      return "RESOURCE_EXHAUSTED";
    case 499:
      return "CANCELLED";
    case 501:
      return "UNIMPLEMENTED";
    case 503:
      return "UNAVAILABLE";
    case 504:
      return "DEADLINE_EXCEEDED";
    default:
      return code >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

// google.rpc.Status as Google's JSON APIs send it.
json::object rpc_error(int code, std::string_view message) {
  json::array details;
  if (code == 429) {
    details.push_back(json::object{
        {"@type", "type.googleapis.com/google.rpc.QuotaFailure"},
        {"violations", json::array{json::object{
                           {"quotaMetric",
                            "generativelanguage.googleapis.com/"
                            "generate_content_free_tier_requests"},
                           {"quotaId", "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}}}}});
    details.push_back(
        json::object{{"@type", "type.googleapis.com/google.rpc.RetryInfo"}, {"retryDelay", "1s"}});
  }
  return {{"error",
           {{"code", code},
            {"message", message},
            {"status", rpc_status(code)},
            {"details", std::move(details)}}}};
}

Reply rpc_reply(int code, std::string_view message) {
  return Reply{.status = code, .body = json::serialize(rpc_error(code, message))};
}

bool is_vertex_path(std::string_view path) {
  return path.find("/projects/") != std::string_view::npos;
}

// "…/models/gemini-2.0-flash:generateContent" → {"gemini-2.0-flash", "generateContent"}.
std::pair<std::string_view, std::string_view> model_and_verb(std::string_view path) {
  const auto slash = path.rfind('/');
  std::string_view last = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const auto colon = last.find(':');
  if (colon == std::string_view::npos) return {last, {}};
  return {last.substr(0, colon), last.substr(colon + 1)};
}

std::string_view query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto item = query.substr(0, amp);
    if (item.size() > name.size() && item.starts_with(name) && item[name.size()] == '=') {
      return item.substr(name.size() + 1);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::string_view string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::value* either(const json::object& o, std::string_view camel, std::string_view snake) {
  if (const auto* v = o.if_contains(camel)) return v;
  return o.if_contains(snake);
}

// Request keys generateContent knows (proto JSON accepts camelCase and snake_case).
constexpr std::string_view kRequestKeys[] = {"contents",
                                             "systemInstruction",
                                             "system_instruction",
                                             "tools",
                                             "toolConfig",
                                             "tool_config",
                                             "generationConfig",
                                             "generation_config",
                                             "safetySettings",
                                             "safety_settings",
                                             "cachedContent",
                                             "cached_content",
                                             "labels",
                                             "model"};
// Keys of Gemini's Schema object (function parameters): anything else is "Unknown name".
constexpr std::string_view kSchemaKeys[] = {
    "type",      "format",           "title",         "description",      "nullable",  "enum",
    "items",     "minItems",         "maxItems",      "properties",       "required",  "minLength",
    "maxLength", "minProperties",    "maxProperties", "pattern",          "minimum",   "maximum",
    "example",   "default",          "anyOf",         "propertyOrdering", "min_items", "max_items",
    "any_of",    "property_ordering"};

template <std::size_t N>
bool known(std::string_view key, const std::string_view (&set)[N]) {
  for (auto k : set) {
    if (k == key) return true;
  }
  return false;
}

std::string unknown_name(std::string_view key, std::string_view where) {
  std::string m = "Invalid JSON payload received. Unknown name \"" + std::string(key) + "\"";
  if (!where.empty()) m += " at '" + std::string(where) + "'";
  return m + ": Cannot find field.";
}

// The first key of a function's parameters schema that Gemini would reject, as a message.
std::string check_schema(const json::value& v, const std::string& where) {
  const auto* o = v.if_object();
  if (!o) return {};
  for (const auto& [key, sub] : *o) {
    if (!known(key, kSchemaKeys)) return unknown_name(key, where);
    if (key == "properties" && sub.is_object()) {
      for (const auto& [name, prop] : sub.get_object()) {
        if (auto m = check_schema(prop, where + ".properties[" + std::string(name) + "].value");
            !m.empty()) {
          return m;
        }
      }
    } else if (key == "items") {
      if (auto m = check_schema(sub, where + ".items"); !m.empty()) return m;
    }
  }
  return {};
}

// Text of every part, for the token estimate (function calls and results count as JSON).
void collect_text(const json::value* content, std::string& out) {
  if (!content || !content->is_object()) return;
  const auto* parts = content->get_object().if_contains("parts");
  if (!parts || !parts->is_array()) return;
  for (const auto& p : parts->get_array()) {
    if (!p.is_object()) continue;
    if (auto t = string_at(p.get_object(), "text"); !t.empty()) {
      out += t;
    } else {
      out += json::serialize(p);
    }
    out += ' ';
  }
}

bool has_function_response(const json::value& content) {
  const auto* parts = content.is_object() ? content.get_object().if_contains("parts") : nullptr;
  if (!parts || !parts->is_array()) return false;
  for (const auto& p : parts->get_array()) {
    if (p.is_object() && p.get_object().contains("functionResponse")) return true;
  }
  return false;
}

std::string_view finish_reason(std::string_view openai_finish) {
  return openai_finish == "length" ? "MAX_TOKENS" : "STOP";
}

json::object usage(const Script& s, bool final) {
  json::object u{{"promptTokenCount", s.prompt_tokens}};
  if (final) u["candidatesTokenCount"] = s.completion_tokens;
  u["totalTokenCount"] = s.prompt_tokens + (final ? s.completion_tokens : 0);
  if (s.cached_tokens > 0) u["cachedContentTokenCount"] = s.cached_tokens;
  return u;
}

json::object response(const Script& s, json::array parts, std::string_view finish,
                      bool final_usage) {
  json::object candidate{{"content", {{"parts", std::move(parts)}, {"role", "model"}}}};
  if (!finish.empty()) candidate["finishReason"] = finish;
  candidate["index"] = 0;
  return {{"candidates", json::array{std::move(candidate)}},
          {"usageMetadata", usage(s, final_usage)},
          {"modelVersion", s.model},
          {"responseId", s.id}};
}

json::array call_parts(const Script& s) {
  json::array parts;
  for (const auto& c : s.tool_calls) {
    boost::system::error_code ec;
    auto args = json::parse(c.arguments, ec);
    if (ec || !args.is_object()) args = json::object{};
    parts.push_back(json::object{{"functionCall", {{"name", c.name}, {"args", std::move(args)}}}});
  }
  return parts;
}

json::array text_part(std::string text) {
  return json::array{json::object{{"text", std::move(text)}}};
}

json::array embedding_values(std::string_view text, std::size_t dims) {
  json::array values;
  values.reserve(dims);
  for (float x : fake_embedding(text, dims)) values.emplace_back(x);
  return values;
}

std::size_t dims_of(const json::object& o, std::string_view camel, std::string_view snake) {
  const auto* d = either(o, camel, snake);
  if (d && d->is_int64() && d->get_int64() > 0 && d->get_int64() <= 3072) {
    return static_cast<std::size_t>(d->get_int64());
  }
  return 768;
}

std::string first_text(const json::value* content) {
  std::string out;
  if (!content || !content->is_object()) return out;
  const auto* parts = content->get_object().if_contains("parts");
  if (!parts || !parts->is_array()) return out;
  for (const auto& p : parts->get_array()) {
    if (p.is_object()) out += string_at(p.get_object(), "text");
  }
  return out;
}

class GoogleDialect final : public Dialect {
 public:
  explicit GoogleDialect(std::string_view name) : name_(name) {}

  std::string_view name() const override { return name_; }

  std::optional<Op> route(std::string_view method, std::string_view path) const override {
    if (method == "GET" && path.ends_with("/models")) return Op::models;
    if (method != "POST" || path.find("/models/") == std::string_view::npos) return std::nullopt;
    const auto verb = model_and_verb(path).second;
    if (verb == "generateContent" || verb == "streamGenerateContent") return Op::chat;
    if (verb == "embedContent" || verb == "batchEmbedContents" || verb == "predict") {
      return Op::embeddings;
    }
    return std::nullopt;
  }

  std::optional<Reply> check_auth(const MockRequest& req) const override {
    if (is_vertex_path(req.path)) {
      const auto auth = req.header("authorization");
      if (auth.size() > 7 && auth.starts_with("Bearer ")) return std::nullopt;
      return rpc_reply(401,
                       "Request is missing required authentication credential. Expected OAuth 2 "
                       "access token, login cookie or other valid authentication credential.");
    }
    if (!req.header("x-goog-api-key").empty() || !query_param(req.query, "key").empty()) {
      return std::nullopt;
    }
    return rpc_reply(403,
                     "Method doesn't allow unregistered callers (callers without established "
                     "identity). Please use API Key or other form of API consumer identity to "
                     "call this API.");
  }

  std::optional<ChatCall> parse_chat(const MockRequest& req, Reply& error) const override {
    boost::system::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec || !body.is_object()) {
      error = rpc_reply(400, "Invalid JSON payload received. Unexpected token.");
      return std::nullopt;
    }
    const auto& o = body.get_object();
    if (auto message = validate(o); !message.empty()) {
      error = rpc_reply(400, message);
      return std::nullopt;
    }
    ChatCall call;
    auto [model, verb] = model_and_verb(req.path);
    call.model = percent_decode(model);  // the gateway escapes ':', '@', ...
    call.stream = verb == "streamGenerateContent";
    std::string text;
    collect_text(either(o, "systemInstruction", "system_instruction"), call.system);
    text += call.system;
    const auto& contents = o.at("contents").get_array();
    for (const auto& c : contents) collect_text(&c, text);
    call.prompt_tokens = estimate_tokens(text) + 2 * static_cast<int>(contents.size());
    call.last_is_tool_result = has_function_response(contents.back());
    if (const auto* g = either(o, "generationConfig", "generation_config"); g && g->is_object()) {
      const auto* mt = either(g->get_object(), "maxOutputTokens", "max_output_tokens");
      if (mt && mt->is_int64() && mt->get_int64() > 0) {
        call.max_tokens = static_cast<int>(mt->get_int64());
      }
    }
    read_tools(o, call);
    return call;
  }

  Reply chat_response(const ChatCall&, const Script& s) const override {
    std::string text;
    for (const auto& t : s.tokens) text += t;
    auto parts = s.tool_calls.empty() ? text_part(std::move(text)) : call_parts(s);
    return Reply{.body =
                     json::serialize(response(s, std::move(parts), finish_reason(s.finish), true))};
  }

  std::string stream_content_type() const override { return "text/event-stream"; }

  // Like Gemini: every event carries usageMetadata (prompt only until the last), the last one
  // carries the finishReason, function calls arrive whole in one event.
  std::vector<std::string> stream_events(const ChatCall&, const Script& s) const override {
    std::vector<json::array> contents;
    for (const auto& t : s.tokens) contents.push_back(text_part(t));
    if (!s.tool_calls.empty()) contents.push_back(call_parts(s));
    if (contents.empty()) contents.push_back(text_part(""));
    std::vector<std::string> events;
    events.reserve(contents.size());
    for (std::size_t i = 0; i < contents.size(); ++i) {
      const bool last = i + 1 == contents.size();
      auto r = response(s, std::move(contents[i]), last ? finish_reason(s.finish) : "", last);
      events.push_back("data: " + json::serialize(r) + "\r\n\r\n");
    }
    return events;
  }

  Reply error(int status, std::string_view message) const override {
    return rpc_reply(status, message);
  }

  // As recorded from Vertex: a bare, pretty-printed error object after the events, outside
  // SSE framing.
  std::string stream_error_event(int status, std::string_view message) const override {
    return "{\n  \"error\": {\n    \"code\": " + std::to_string(status) +
           ",\n    \"message\": " + json::serialize(json::string(message)) +
           ",\n    \"status\": \"" + std::string(rpc_status(status)) + "\"\n  }\n}\n";
  }

  Reply embeddings(const MockRequest& req) const override {
    boost::system::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec || !body.is_object()) {
      return rpc_reply(400, "Invalid JSON payload received. Unexpected token.");
    }
    const auto& o = body.get_object();
    const auto verb = model_and_verb(req.path).second;
    if (verb == "predict") return predict(o);
    if (verb == "batchEmbedContents") return batch_embed(o);
    const auto* content = o.if_contains("content");
    if (!content || !content->is_object()) {
      return rpc_reply(400, "* EmbedContentRequest.content: content is not specified\n");
    }
    json::object out{
        {"embedding",
         {{"values", embedding_values(first_text(content), dims_of(o, "outputDimensionality",
                                                                   "output_dimensionality"))}}}};
    return Reply{.body = json::serialize(out)};
  }

  Reply models() const override {
    return Reply{
        .body =
            R"({"models":[{"name":"models/gemini-2.0-flash","version":"2.0","displayName":"Gemini 2.0 Flash","inputTokenLimit":1048576,"outputTokenLimit":8192,"supportedGenerationMethods":["generateContent","countTokens"]},{"name":"models/text-embedding-004","version":"004","displayName":"Text Embedding 004","inputTokenLimit":2048,"outputTokenLimit":1,"supportedGenerationMethods":["embedContent"]}]})"};
  }

 private:
  // Google's own checks, in the order it reports them: unknown fields, contents, roles, parts,
  // function parameter schemas. "" when the request is fine.
  static std::string validate(const json::object& o) {
    for (const auto& [key, value] : o) {
      if (!known(key, kRequestKeys)) return unknown_name(key, "");
    }
    const auto* contents = o.if_contains("contents");
    if (!contents || !contents->is_array() || contents->get_array().empty()) {
      return "* GenerateContentRequest.contents: contents is not specified\n";
    }
    const auto& list = contents->get_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto* c = list[i].if_object();
      if (!c) return "Invalid JSON payload received. contents[" + std::to_string(i) + "]";
      const auto* role = c->if_contains("role");
      if (role &&
          (!role->is_string() || (role->get_string() != "user" && role->get_string() != "model"))) {
        return "Please use a valid role: user, model.";
      }
      const auto* parts = c->if_contains("parts");
      if (!parts || !parts->is_array() || parts->get_array().empty()) {
        return "* GenerateContentRequest.contents[" + std::to_string(i) +
               "].parts: contents.parts must not be empty.\n";
      }
    }
    return check_tools(o);
  }

  static std::string check_tools(const json::object& o) {
    const auto* tools = o.if_contains("tools");
    if (!tools || !tools->is_array()) return {};
    const auto& list = tools->get_array();
    for (std::size_t t = 0; t < list.size(); ++t) {
      const auto* decls = list[t].is_object() ? either(list[t].get_object(), "functionDeclarations",
                                                       "function_declarations")
                                              : nullptr;
      if (!decls || !decls->is_array()) continue;
      const auto& ds = decls->get_array();
      for (std::size_t d = 0; d < ds.size(); ++d) {
        if (!ds[d].is_object()) continue;
        const auto& decl = ds[d].get_object();
        const std::string where =
            "tools[" + std::to_string(t) + "].function_declarations[" + std::to_string(d) + "]";
        if (string_at(decl, "name").empty()) {
          return "* GenerateContentRequest." + where + ".name: Function name cannot be empty.\n";
        }
        if (const auto* p = decl.if_contains("parameters")) {
          if (auto m = check_schema(*p, where + ".parameters"); !m.empty()) return m;
        }
      }
    }
    return {};
  }

  static void read_tools(const json::object& o, ChatCall& call) {
    if (const auto* tools = o.if_contains("tools"); tools && tools->is_array()) {
      for (const auto& t : tools->get_array()) {
        const auto* decls =
            t.is_object() ? either(t.get_object(), "functionDeclarations", "function_declarations")
                          : nullptr;
        if (!decls || !decls->is_array()) continue;
        for (const auto& d : decls->get_array()) {
          if (d.is_object()) call.tool_names.emplace_back(string_at(d.get_object(), "name"));
        }
      }
    }
    const auto* tc = either(o, "toolConfig", "tool_config");
    const auto* fcc = tc && tc->is_object() ? either(tc->get_object(), "functionCallingConfig",
                                                     "function_calling_config")
                                            : nullptr;
    if (fcc && fcc->is_object())
      call.tool_choice_none = string_at(fcc->get_object(), "mode") == "NONE";
  }

  static Reply batch_embed(const json::object& o) {
    const auto* requests = o.if_contains("requests");
    if (!requests || !requests->is_array() || requests->get_array().empty()) {
      return rpc_reply(400, "* BatchEmbedContentsRequest.requests: requests is not specified\n");
    }
    json::array embeddings;
    for (const auto& r : requests->get_array()) {
      if (!r.is_object() || !r.get_object().contains("content")) {
        return rpc_reply(400,
                         "* BatchEmbedContentsRequest.requests.content: content is not "
                         "specified\n");
      }
      const auto& ro = r.get_object();
      embeddings.push_back(json::object{
          {"values",
           embedding_values(first_text(ro.if_contains("content")),
                            dims_of(ro, "outputDimensionality", "output_dimensionality"))}});
    }
    return Reply{.body = json::serialize(json::object{{"embeddings", std::move(embeddings)}})};
  }

  // Vertex text embeddings: {instances:[{content}], parameters:{outputDimensionality}}.
  static Reply predict(const json::object& o) {
    const auto* instances = o.if_contains("instances");
    if (!instances || !instances->is_array() || instances->get_array().empty()) {
      return rpc_reply(400, "instances must not be empty");
    }
    std::size_t dims = 768;
    if (const auto* p = o.if_contains("parameters"); p && p->is_object()) {
      dims = dims_of(p->get_object(), "outputDimensionality", "output_dimensionality");
    }
    json::array predictions;
    std::size_t chars = 0;
    for (const auto& inst : instances->get_array()) {
      const auto text = inst.is_object() ? string_at(inst.get_object(), "content") : "";
      chars += text.size();
      predictions.push_back(json::object{
          {"embeddings",
           {{"statistics", {{"truncated", false}, {"token_count", estimate_tokens(text)}}},
            {"values", embedding_values(text, dims)}}}});
    }
    return Reply{
        .body = json::serialize(json::object{{"predictions", std::move(predictions)},
                                             {"metadata", {{"billableCharacterCount", chars}}}})};
  }

  std::string_view name_;
};

}  // namespace

const Dialect& gemini_dialect() {
  static const GoogleDialect d("gemini");
  return d;
}

const Dialect& vertex_dialect() {
  static const GoogleDialect d("vertex");
  return d;
}

}  // namespace stratus::mock
