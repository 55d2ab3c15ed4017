// The Anthropic Messages dialect of the mock: POST /v1/messages (plain and SSE), validated the
// way the real API validates, with Anthropic's error bodies and stream events.
#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "mock/dialect.h"

namespace stratus::mock {

namespace json = boost::json;

namespace {

std::string_view error_type(int status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 503:
    case 529:
      return "overloaded_error";
    case 504:
      return "timeout_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

std::string error_json(int status, std::string_view message) {
  return json::serialize(
      json::object{{"type", "error"},
                   {"error", json::object{{"type", error_type(status)}, {"message", message}}},
                   {"request_id", "req_mock"}});
}

Reply error_reply(int status, std::string_view message) {
  Reply r{.status = status, .body = error_json(status, message)};
  r.headers.emplace_back("request-id", "req_mock");
  const bool retry = status == 408 || status == 409 || status == 429 || status >= 500;
  r.headers.emplace_back("x-should-retry", retry ? "true" : "false");
  return r;
}

std::string sse(std::string_view event, const json::object& data) {
  return "event: " + std::string(event) + "\ndata: " + json::serialize(data) + "\n\n";
}

std::string_view stop_reason(std::string_view finish) {
  if (finish == "length") return "max_tokens";
  if (finish == "tool_calls") return "tool_use";
  return "end_turn";
}

json::value tool_input(const MockToolCall& c) {
  boost::system::error_code ec;
  auto v = json::parse(c.arguments, ec);
  return ec || !v.is_object() ? json::value(json::object()) : v;
}

// Anthropic's input_tokens excludes cache reads; the script's prompt_tokens includes them.
json::object usage_json(const Script& s, int output_tokens) {
  return {{"input_tokens", s.prompt_tokens - s.cached_tokens},
          {"cache_creation_input_tokens", 0},
          {"cache_read_input_tokens", s.cached_tokens},
          {"output_tokens", output_tokens}};
}

// ---- request validation (messages as the real API words them) ----

struct Invalid {
  std::string message;
};

const std::set<std::string_view>& known_fields() {
  static const std::set<std::string_view> kFields = {
      "model",          "messages",    "max_tokens",        "system",       "metadata",
      "stop_sequences", "stream",      "temperature",       "top_k",        "top_p",
      "tools",          "tool_choice", "thinking",          "service_tier", "output_config",
      "container",      "mcp_servers", "context_management"};
  return kFields;
}

std::string at(std::string_view where, std::size_t i) {
  return std::string(where) + "." + std::to_string(i);
}

// Text of a block list or string (for the token estimate and the system echo).
std::string text_of(const json::value& content) {
  if (content.is_string()) return std::string(content.get_string());
  std::string out;
  if (!content.is_array()) return out;
  for (auto& b : content.get_array()) {
    if (!b.is_object()) continue;
    if (auto* t = b.as_object().if_contains("text"); t && t->is_string()) out += t->get_string();
    if (auto* c = b.as_object().if_contains("content")) out += text_of(*c);
  }
  return out;
}

// Ids of the blocks of this type in a message's content ("tool_use" → id, "tool_result" →
// tool_use_id).
std::vector<std::string> block_ids(const json::value& content, std::string_view type,
                                   std::string_view id_key) {
  std::vector<std::string> ids;
  if (!content.is_array()) return ids;
  for (auto& b : content.get_array()) {
    auto* o = b.if_object();
    if (!o) continue;
    auto* t = o->if_contains("type");
    auto* id = o->if_contains(id_key);
    if (t && t->is_string() && t->get_string() == type && id && id->is_string()) {
      ids.emplace_back(id->get_string());
    }
  }
  return ids;
}

std::optional<Invalid> check_content(const json::value& content, const std::string& where,
                                     bool last_assistant) {
  if (content.is_string()) {
    if (content.get_string().empty() && !last_assistant) {
      return Invalid{where +
                     ": all messages must have non-empty content except for the "
                     "optional final assistant message"};
    }
    return std::nullopt;
  }
  if (!content.is_array()) return Invalid{where + ".content: Input should be a valid list"};
  if (content.get_array().empty() && !last_assistant) {
    return Invalid{where +
                   ": all messages must have non-empty content except for the optional "
                   "final assistant message"};
  }
  for (std::size_t j = 0; j < content.get_array().size(); ++j) {
    auto* b = content.get_array()[j].if_object();
    auto* type = b ? b->if_contains("type") : nullptr;
    if (!type || !type->is_string())
      return Invalid{at(where + ".content", j) + ".type: Field required"};
    if (type->get_string() == "text") {
      auto* t = b->if_contains("text");
      if (!t || !t->is_string() || t->get_string().empty()) {
        return Invalid{"messages: text content blocks must be non-empty"};
      }
    }
  }
  return std::nullopt;
}

// Every tool_result answers a tool_use of the previous message, and every tool_use is answered
// in the next one.
std::optional<Invalid> check_tool_pairs(const json::array& msgs) {
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const auto& content = msgs[i].at("content");
    auto results = block_ids(content, "tool_result", "tool_use_id");
    auto prev_uses =
        i > 0 ? block_ids(msgs[i - 1].at("content"), "tool_use", "id") : std::vector<std::string>{};
    for (auto& id : results) {
      if (std::find(prev_uses.begin(), prev_uses.end(), id) == prev_uses.end()) {
        return Invalid{at("messages", i) +
                       ": unexpected `tool_use_id` found in `tool_result` "
                       "blocks: " +
                       id +
                       ". Each `tool_result` block must have a corresponding "
                       "`tool_use` block in the previous message."};
      }
    }
    if (i + 1 == msgs.size()) break;
    auto next_results = block_ids(msgs[i + 1].at("content"), "tool_result", "tool_use_id");
    for (auto& id : block_ids(content, "tool_use", "id")) {
      if (std::find(next_results.begin(), next_results.end(), id) == next_results.end()) {
        return Invalid{at("messages", i) +
                       ": `tool_use` ids were found without `tool_result` "
                       "blocks immediately after: " +
                       id +
                       ". Each `tool_use` block must have a "
                       "corresponding `tool_result` block in the next message."};
      }
    }
  }
  return std::nullopt;
}

std::optional<Invalid> check_messages(const json::object& body) {
  auto* m = body.if_contains("messages");
  if (!m) return Invalid{"messages: Field required"};
  if (!m->is_array()) return Invalid{"messages: Input should be a valid list"};
  const auto& msgs = m->get_array();
  if (msgs.empty()) return Invalid{"messages: at least one message is required"};
  std::string_view previous;
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    const std::string where = at("messages", i);
    auto* o = msgs[i].if_object();
    auto* role = o ? o->if_contains("role") : nullptr;
    if (!role || !role->is_string()) return Invalid{where + ".role: Field required"};
    const std::string_view r = role->get_string();
    if (r == "system") {
      return Invalid{
          "messages: Unexpected role \"system\". The Messages API accepts a top-level "
          "`system` parameter, not \"system\" as an input message role."};
    }
    if (r != "user" && r != "assistant") {
      return Invalid{where + ".role: Input should be 'user' or 'assistant'"};
    }
    if (i == 0 && r != "user") return Invalid{"messages: first message must use the \"user\" role"};
    if (r == previous) {
      return Invalid{
          "messages: roles must alternate between \"user\" and \"assistant\", but "
          "found multiple \"" +
          std::string(r) + "\" roles in a row"};
    }
    previous = r;
    auto* content = o->if_contains("content");
    if (!content) return Invalid{where + ".content: Field required"};
    const bool last_assistant = i + 1 == msgs.size() && r == "assistant";
    if (auto bad = check_content(*content, where, last_assistant)) return bad;
  }
  return check_tool_pairs(msgs);
}

std::optional<Invalid> check_tools(const json::object& body) {
  if (auto* tools = body.if_contains("tools")) {
    if (!tools->is_array()) return Invalid{"tools: Input should be a valid list"};
    for (std::size_t i = 0; i < tools->get_array().size(); ++i) {
      auto* t = tools->get_array()[i].if_object();
      auto* name = t ? t->if_contains("name") : nullptr;
      if (!name || !name->is_string()) return Invalid{at("tools", i) + ".name: Field required"};
      auto* schema = t->if_contains("input_schema");
      if (!schema || !schema->is_object()) {
        return Invalid{at("tools", i) + ".input_schema: Field required"};
      }
    }
  }
  if (auto* tc = body.if_contains("tool_choice")) {
    auto* o = tc->if_object();
    auto* type = o ? o->if_contains("type") : nullptr;
    if (!type || !type->is_string()) return Invalid{"tool_choice.type: Field required"};
    const std::string_view t = type->get_string();
    if (t != "auto" && t != "any" && t != "tool" && t != "none") {
      return Invalid{"tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'"};
    }
    if (t == "tool" && !o->contains("name")) return Invalid{"tool_choice.name: Field required"};
  }
  return std::nullopt;
}

// API version 2026-10-21 removed the sampling parameters (a 400 even at their defaults).
bool removed_in(std::string_view version, std::string_view key) {
  return version >= "2026-10-21" && (key == "temperature" || key == "top_p" || key == "top_k");
}

std::optional<Invalid> check_body(const json::object& body, std::string_view version) {
  for (auto& [key, value] : body) {
    if (!known_fields().contains(key) || removed_in(version, key)) {
      return Invalid{std::string(key) + ": Extra inputs are not permitted"};
    }
  }
  auto* model = body.if_contains("model");
  if (!model || !model->is_string()) return Invalid{"model: Field required"};
  auto* mt = body.if_contains("max_tokens");
  if (!mt) return Invalid{"max_tokens: Field required"};
  if (!mt->is_int64() || mt->get_int64() < 1) {
    return Invalid{"max_tokens: Input should be an integer greater than or equal to 1"};
  }
  if (auto* t = body.if_contains("temperature")) {
    if (!t->is_number() || t->to_number<double>() < 0 || t->to_number<double>() > 1) {
      return Invalid{"temperature: range: 0..1"};
    }
  }
  if (auto* s = body.if_contains("system"); s && !s->is_string() && !s->is_array()) {
    return Invalid{"system: Input should be a valid string or list"};
  }
  if (auto bad = check_messages(body)) return bad;
  return check_tools(body);
}

ChatCall call_of(const json::object& body) {
  ChatCall call;
  call.model = std::string(body.at("model").get_string());
  call.max_tokens = static_cast<int>(body.at("max_tokens").get_int64());
  if (auto* s = body.if_contains("stream"); s && s->is_bool()) call.stream = s->get_bool();
  call.include_usage = true;  // Anthropic streams always report usage
  if (auto* s = body.if_contains("system")) call.system = text_of(*s);
  int tokens = 3 + estimate_tokens(call.system);
  const auto& msgs = body.at("messages").get_array();
  for (auto& m : msgs) tokens += 4 + estimate_tokens(text_of(m.at("content")));
  call.prompt_tokens = tokens;
  call.last_is_tool_result =
      !block_ids(msgs.back().at("content"), "tool_result", "tool_use_id").empty();
  if (auto* tools = body.if_contains("tools")) {
    for (auto& t : tools->get_array()) call.tool_names.emplace_back(t.at("name").get_string());
  }
  if (auto* tc = body.if_contains("tool_choice")) {
    call.tool_choice_none = tc->at("type").get_string() == "none";
  }
  return call;
}

class AnthropicDialect final : public Dialect {
 public:
  std::string_view name() const override { return "anthropic"; }

  std::optional<Op> route(std::string_view method, std::string_view path) const override {
    if (method == "POST" && path == "/v1/messages") return Op::chat;
    return std::nullopt;
  }

  std::optional<Reply> check_auth(const MockRequest& req) const override {
    // API keys come as x-api-key, or (SDKs for API version 2026-10-21) as a bearer token.
    if (req.header("x-api-key").empty() && !req.header("authorization").starts_with("Bearer ")) {
      return error_reply(401, "x-api-key header is required");
    }
    if (req.header("anthropic-version").empty()) {
      return error_reply(400, "anthropic-version: header is required");
    }
    return std::nullopt;
  }

  std::optional<ChatCall> parse_chat(const MockRequest& req, Reply& error) const override {
    boost::system::error_code ec;
    auto body = json::parse(req.body, ec);
    if (ec || !body.is_object()) {
      error = error_reply(400, "There was an error parsing the body of your request as JSON");
      return std::nullopt;
    }
    if (auto bad = check_body(body.as_object(), req.header("anthropic-version"))) {
      error = error_reply(400, bad->message);
      return std::nullopt;
    }
    return call_of(body.as_object());
  }

  Reply chat_response(const ChatCall&, const Script& s) const override {
    json::array content;
    std::string text;
    for (auto& t : s.tokens) text += t;
    if (!text.empty()) content.push_back(json::object{{"type", "text"}, {"text", text}});
    for (auto& c : s.tool_calls) {
      content.push_back(json::object{
          {"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", tool_input(c)}});
    }
    json::object message{
        {"id", message_id(s)},           {"type", "message"},
        {"role", "assistant"},           {"model", s.model},
        {"content", std::move(content)}, {"stop_reason", stop_reason(s.finish)},
        {"stop_sequence", nullptr},      {"usage", usage_json(s, s.completion_tokens)}};
    Reply r{.body = json::serialize(message)};
    r.headers.emplace_back("request-id", "req_" + s.id);
    return r;
  }

  std::string stream_content_type() const override { return "text/event-stream; charset=utf-8"; }

  std::vector<std::string> stream_events(const ChatCall&, const Script& s) const override {
    std::vector<std::string> events;
    events.reserve(s.tokens.size() + 4 * s.tool_calls.size() + 6);
    events.push_back(sse("message_start",
                         json::object{{"type", "message_start"}, {"message", start_message(s)}}));
    int block = 0;
    if (!s.tokens.empty()) {
      events.push_back(block_start(block, json::object{{"type", "text"}, {"text", ""}}));
      events.push_back(sse("ping", json::object{{"type", "ping"}}));
      for (auto& t : s.tokens) {
        events.push_back(block_delta(block, json::object{{"type", "text_delta"}, {"text", t}}));
      }
      events.push_back(block_stop(block++));
    }
    for (auto& c : s.tool_calls) {
      events.push_back(block_start(
          block,
          json::object{
              {"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", json::object()}}));
      if (block == 0) events.push_back(sse("ping", json::object{{"type", "ping"}}));
      // Like Anthropic: an empty first piece, then the JSON text in fragments.
      const std::size_t half = c.arguments.size() / 2;
      for (auto piece : {std::string(), c.arguments.substr(0, half), c.arguments.substr(half)}) {
        events.push_back(block_delta(
            block, json::object{{"type", "input_json_delta"}, {"partial_json", piece}}));
      }
      events.push_back(block_stop(block++));
    }
    events.push_back(
        sse("message_delta",
            json::object{{"type", "message_delta"},
                         {"delta", json::object{{"stop_reason", stop_reason(s.finish)},
                                                {"stop_sequence", nullptr}}},
                         {"usage", json::object{{"output_tokens", s.completion_tokens}}}}));
    events.push_back(sse("message_stop", json::object{{"type", "message_stop"}}));
    return events;
  }

  Reply error(int status, std::string_view message) const override {
    return error_reply(status, message);
  }

  std::string stream_error_event(int status, std::string_view message) const override {
    return "event: error\ndata: " + error_json(status, message) + "\n\n";
  }

 private:
  static std::string message_id(const Script& s) { return "msg_" + s.id; }

  static json::object start_message(const Script& s) {
    return {{"id", message_id(s)},      {"type", "message"},        {"role", "assistant"},
            {"model", s.model},         {"content", json::array()}, {"stop_reason", nullptr},
            {"stop_sequence", nullptr}, {"usage", usage_json(s, 1)}};
  }

  static std::string block_start(int index, json::object block) {
    return sse("content_block_start", json::object{{"type", "content_block_start"},
                                                   {"index", index},
                                                   {"content_block", std::move(block)}});
  }

  static std::string block_delta(int index, json::object delta) {
    return sse("content_block_delta",
               json::object{
                   {"type", "content_block_delta"}, {"index", index}, {"delta", std::move(delta)}});
  }

  static std::string block_stop(int index) {
    return sse("content_block_stop",
               json::object{{"type", "content_block_stop"}, {"index", index}});
  }
};

}  // namespace

const Dialect& anthropic_dialect() {
  static const AnthropicDialect d;
  return d;
}

}  // namespace stratus::mock
