// IR chat → Anthropic Messages request body: system text lifted out of the conversation,
// strictly alternating user/assistant turns, tool calls and results as content blocks.
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "providers/anthropic.h"
#include "providers/common.h"

namespace stratus::providers::anthropic {

namespace json = boost::json;
using api::ContentPart;
using api::Message;
using api::Role;
using core::ErrorKind;

namespace {

struct Turn {
  std::string_view role;  // "user" | "assistant"
  json::array blocks;
};

std::string joined_text(const Message& m) {
  std::string out;
  for (const ContentPart& p : m.content) {
    if (p.kind == ContentPart::Kind::text) out += p.text;
  }
  return out;
}

json::object text_block(std::string_view text) { return {{"type", "text"}, {"text", text}}; }

json::object image_block(const ContentPart& p) {
  json::object source;
  if (!p.url.empty()) {
    source = {{"type", "url"}, {"url", p.url}};
  } else {
    source = {{"type", "base64"}, {"media_type", p.media_type}, {"data", p.data}};
  }
  return {{"type", "image"}, {"source", std::move(source)}};
}

// Anthropic rejects empty text blocks, so empty parts are left out.
void add_parts(const Message& m, json::array& blocks) {
  for (const ContentPart& p : m.content) {
    if (p.kind == ContentPart::Kind::image) {
      blocks.push_back(image_block(p));
    } else if (!p.text.empty()) {
      blocks.push_back(text_block(p.text));
    }
  }
}

core::Result<json::object> tool_use_block(const api::ToolCall& call, const std::string& param) {
  json::value input = json::object();
  if (call.arguments.find_first_not_of(" \t\r\n") != std::string::npos) {
    auto parsed = parse_json(call.arguments);
    if (!parsed || !parsed->is_object()) {
      return core::fail(
          ErrorKind::invalid_request,
          "tool call arguments must be a JSON object (Anthropic tool_use input): " + call.arguments,
          param);
    }
    input = std::move(*parsed);
  }
  return json::object{
      {"type", "tool_use"}, {"id", call.id}, {"name", call.name}, {"input", std::move(input)}};
}

core::Result<void> add_tool_calls(const Message& m, std::size_t i, json::array& blocks) {
  for (std::size_t k = 0; k < m.tool_calls.size(); ++k) {
    const std::string param = "messages[" + std::to_string(i) + "].tool_calls[" +
                              std::to_string(k) + "].function.arguments";
    auto block = tool_use_block(m.tool_calls[k], param);
    if (!block) return std::unexpected(block.error());
    blocks.push_back(std::move(*block));
  }
  return {};
}

json::object tool_result_block(const Message& m) {
  json::object block{{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}};
  std::string text = joined_text(m);
  if (!text.empty()) block["content"] = std::move(text);
  return block;
}

// Consecutive messages that map to the same role become one turn (tool results are user
// turns); messages with nothing to send are dropped.
core::Result<void> add_turns(const api::Chat& chat, std::vector<Turn>& turns, std::string& system) {
  for (std::size_t i = 0; i < chat.messages.size(); ++i) {
    const Message& m = chat.messages[i];
    json::array blocks;
    std::string_view role = "user";
    switch (m.role) {
      case Role::system:
      case Role::developer: {
        const std::string text = joined_text(m);
        if (text.empty()) continue;
        if (!system.empty()) system += "\n\n";
        system += text;
        continue;
      }
      case Role::user:
        add_parts(m, blocks);
        break;
      case Role::assistant: {
        role = "assistant";
        add_parts(m, blocks);
        if (auto r = add_tool_calls(m, i, blocks); !r) return r;
        break;
      }
      case Role::tool:
        if (m.tool_call_id.empty()) {
          return core::fail(ErrorKind::invalid_request, "a tool message needs tool_call_id",
                            "messages[" + std::to_string(i) + "].tool_call_id");
        }
        blocks.push_back(tool_result_block(m));
        break;
    }
    if (blocks.empty()) continue;
    if (!turns.empty() && turns.back().role == role) {
      for (auto& b : blocks) turns.back().blocks.push_back(std::move(b));
    } else {
      turns.push_back({role, std::move(blocks)});
    }
  }
  if (turns.empty()) {
    return core::fail(ErrorKind::invalid_request,
                      "Anthropic needs at least one user or assistant message with content",
                      "messages");
  }
  return {};
}

json::object input_schema(const json::value& parameters) {
  if (!parameters.is_object() || parameters.as_object().empty()) {
    return {{"type", "object"}, {"properties", json::object()}};
  }
  json::object schema = parameters.as_object();
  if (!schema.contains("type")) schema["type"] = "object";
  return schema;
}

json::array encode_tools(const std::vector<api::Tool>& tools) {
  json::array out;
  for (const api::Tool& t : tools) {
    json::object o{{"name", t.name}};
    if (!t.description.empty()) o["description"] = t.description;
    o["input_schema"] = input_schema(t.parameters);
    if (t.strict) o["strict"] = true;
    out.push_back(std::move(o));
  }
  return out;
}

bool offers_tool(const api::Chat& chat, std::string_view name) {
  for (const api::Tool& t : chat.tools) {
    if (t.name == name) return true;
  }
  return false;
}

// tool_choice, with parallel_tool_calls=false folded in as disable_parallel_tool_use.
// Returns a null value when the field should be left out.
core::Result<json::value> encode_tool_choice(const api::Chat& chat) {
  using Mode = api::ToolChoice::Mode;
  const Mode mode = chat.tool_choice ? chat.tool_choice->mode : Mode::auto_;
  if (chat.tools.empty()) {
    if (mode == Mode::required || mode == Mode::function) {
      return core::fail(ErrorKind::invalid_request, "tool_choice requires tools", "tool_choice");
    }
    return json::value(nullptr);
  }
  json::object o;
  switch (mode) {
    case Mode::auto_:
      o["type"] = "auto";
      break;
    case Mode::none:
      return json::value(json::object{{"type", "none"}});
    case Mode::required:
      o["type"] = "any";
      break;
    case Mode::function:
      if (!offers_tool(chat, chat.tool_choice->name)) {
        return core::fail(
            ErrorKind::invalid_request,
            "tool_choice names a tool that is not in tools: " + chat.tool_choice->name,
            "tool_choice");
      }
      o["type"] = "tool";
      o["name"] = chat.tool_choice->name;
      break;
  }
  const bool serial = chat.parallel_tool_calls == false;
  if (serial) o["disable_parallel_tool_use"] = true;
  if (!chat.tool_choice && !serial) return json::value(nullptr);
  return json::value(std::move(o));
}

// Structured outputs: `output_config.format` (json_schema only; GA since the 4.5 models, no beta
// header). Anthropic has no schema-less JSON mode, so json_object is refused.
core::Result<json::value> encode_output_format(const api::ResponseFormat& f) {
  using Type = api::ResponseFormat::Type;
  switch (f.type) {
    case Type::text:
      return json::value(nullptr);
    case Type::json_object:
      return core::fail(ErrorKind::invalid_request,
                        "response_format json_object is not supported by Anthropic; use "
                        "json_schema with a schema",
                        "response_format");
    case Type::json_schema:
      if (!f.schema.is_object()) {
        return core::fail(ErrorKind::invalid_request,
                          "response_format json_schema needs a schema object", "response_format");
      }
      return json::value(
          json::object{{"format", json::object{{"type", "json_schema"}, {"schema", f.schema}}}});
  }
  return json::value(nullptr);
}

core::Result<void> add_tooling(const api::Chat& chat, json::object& body) {
  if (!chat.tools.empty()) body["tools"] = encode_tools(chat.tools);
  auto choice = encode_tool_choice(chat);
  if (!choice) return std::unexpected(choice.error());
  if (!choice->is_null()) body["tool_choice"] = std::move(*choice);
  auto format = encode_output_format(chat.response_format);
  if (!format) return std::unexpected(format.error());
  if (!format->is_null()) body["output_config"] = std::move(*format);
  return {};
}

// Sampling and bookkeeping parameters. frequency/presence penalties, seed and reasoning_effort
// have no Messages API counterpart and are not sent; neither are temperature and top_p from
// API version 2026-10-21 on, which refuses them (the model samples with its defaults).
void add_params(const api::Chat& chat, std::string_view version, json::object& body) {
  body["max_tokens"] = chat.max_tokens.value_or(kDefaultMaxTokens);
  const bool sampling = version < kNoSamplingVersion;
  if (chat.temperature && sampling) body["temperature"] = *chat.temperature;
  if (chat.top_p && sampling) body["top_p"] = *chat.top_p;
  if (!chat.stop.empty()) {
    json::array stops;
    for (const auto& s : chat.stop) stops.push_back(json::string(s));
    body["stop_sequences"] = std::move(stops);
  }
  if (!chat.user.empty()) body["metadata"] = json::object{{"user_id", chat.user}};
  if (chat.stream) body["stream"] = true;
}

}  // namespace

core::Result<json::object> request_body(const api::Chat& chat, const Deployment& d) {
  if (chat.n != 1) {
    return core::fail(ErrorKind::invalid_request, "Anthropic returns one choice: n must be 1", "n");
  }
  std::vector<Turn> turns;
  std::string system;
  if (auto r = add_turns(chat, turns, system); !r) return std::unexpected(r.error());

  json::object body;
  body["model"] = d.model.empty() ? chat.model : d.model;
  if (!system.empty()) body["system"] = system;
  json::array messages;
  for (Turn& t : turns) {
    messages.push_back(json::object{{"role", t.role}, {"content", std::move(t.blocks)}});
  }
  body["messages"] = std::move(messages);
  if (auto r = add_tooling(chat, body); !r) return std::unexpected(r.error());
  add_params(chat, version(d), body);
  return body;
}

}  // namespace stratus::providers::anthropic
