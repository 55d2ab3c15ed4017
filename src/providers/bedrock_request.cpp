// IR → Bedrock Converse request body (see bedrock.h for the mapping choices).
#include <algorithm>
#include <boost/json.hpp>

#include "providers/bedrock_detail.h"
#include "providers/common.h"

namespace stratus::providers::bedrock {

namespace json = boost::json;
using api::ContentPart;
using api::Message;
using api::Role;
using core::ErrorKind;

namespace {

std::string at(std::size_t i) { return "messages[" + std::to_string(i) + "]"; }

struct Turn {
  std::string_view role;  // user | assistant
  json::array blocks;
};

// What the conversation needs from toolConfig.
struct ToolHistory {
  bool any = false;                // toolUse or toolResult blocks were sent
  std::vector<std::string> names;  // tool names used by the assistant, in order
};

core::Result<std::string_view> image_format(std::string_view media_type, const std::string& param) {
  if (media_type == "image/png") return "png";
  if (media_type == "image/jpeg" || media_type == "image/jpg") return "jpeg";
  if (media_type == "image/gif") return "gif";
  if (media_type == "image/webp") return "webp";
  return core::fail(
      ErrorKind::invalid_request,
      "Bedrock Converse takes png, jpeg, gif or webp images, not '" + std::string(media_type) + "'",
      param);
}

core::Result<json::object> image_block(const ContentPart& p, const std::string& param) {
  if (!p.url.empty()) {
    return core::fail(ErrorKind::invalid_request,
                      "Bedrock Converse cannot fetch image URLs: send the image as a base64 data "
                      "URL (data:image/png;base64,...)",
                      param);
  }
  auto format = image_format(p.media_type, param);
  if (!format) return std::unexpected(format.error());
  // A blob in Bedrock's JSON is base64 text: the data URL's payload goes as it is.
  return json::object{{"image", {{"format", *format}, {"source", {{"bytes", p.data}}}}}};
}

// Text and image parts; Converse rejects blank text blocks, so empty parts are left out.
core::Result<void> add_parts(const Message& m, std::size_t i, json::array& blocks) {
  for (std::size_t k = 0; k < m.content.size(); ++k) {
    const ContentPart& p = m.content[k];
    if (p.kind == ContentPart::Kind::image) {
      auto block = image_block(p, at(i) + ".content[" + std::to_string(k) + "].image_url");
      if (!block) return std::unexpected(block.error());
      blocks.push_back(std::move(*block));
    } else if (!p.text.empty()) {
      blocks.push_back(json::object{{"text", p.text}});
    }
  }
  return {};
}

core::Result<void> add_tool_uses(const Message& m, std::size_t i, json::array& blocks,
                                 ToolHistory& history) {
  for (std::size_t k = 0; k < m.tool_calls.size(); ++k) {
    const api::ToolCall& call = m.tool_calls[k];
    json::value input = json::object();
    if (call.arguments.find_first_not_of(" \t\r\n") != std::string::npos) {
      auto parsed = parse_json(call.arguments);
      if (!parsed || !parsed->is_object()) {
        return core::fail(
            ErrorKind::invalid_request,
            "tool call arguments must be a JSON object (Bedrock toolUse input): " + call.arguments,
            at(i) + ".tool_calls[" + std::to_string(k) + "].function.arguments");
      }
      input = std::move(*parsed);
    }
    blocks.push_back(json::object{
        {"toolUse", {{"toolUseId", call.id}, {"name", call.name}, {"input", std::move(input)}}}});
    history.any = true;
    if (std::find(history.names.begin(), history.names.end(), call.name) == history.names.end()) {
      history.names.push_back(call.name);
    }
  }
  return {};
}

core::Result<json::object> tool_result_block(const Message& m, std::size_t i) {
  if (m.tool_call_id.empty()) {
    return core::fail(ErrorKind::invalid_request, "a tool message needs tool_call_id",
                      at(i) + ".tool_call_id");
  }
  // Converse rejects blank text blocks; an empty result is an empty content list.
  json::array content;
  if (std::string text = m.text(); !text.empty()) content.push_back(json::object{{"text", text}});
  return json::object{
      {"toolResult", {{"toolUseId", m.tool_call_id}, {"content", std::move(content)}}}};
}

// One message → its role and blocks (system text is collected instead).
core::Result<void> add_message(const Message& m, std::size_t i, std::vector<Turn>& turns,
                               json::array& system, ToolHistory& history) {
  json::array blocks;
  std::string_view role = "user";
  switch (m.role) {
    case Role::system:
    case Role::developer: {
      std::string text = m.text();
      if (!text.empty()) system.push_back(json::object{{"text", std::move(text)}});
      return {};
    }
    case Role::user:
      if (auto r = add_parts(m, i, blocks); !r) return r;
      break;
    case Role::assistant:
      role = "assistant";
      if (auto r = add_parts(m, i, blocks); !r) return r;
      if (auto r = add_tool_uses(m, i, blocks, history); !r) return r;
      break;
    case Role::tool: {
      auto block = tool_result_block(m, i);
      if (!block) return std::unexpected(block.error());
      blocks.push_back(std::move(*block));
      history.any = true;
      break;
    }
  }
  if (blocks.empty()) return {};
  if (!turns.empty() && turns.back().role == role) {
    for (auto& b : blocks) turns.back().blocks.push_back(std::move(b));
  } else {
    turns.push_back({role, std::move(blocks)});
  }
  return {};
}

json::object tool_spec(std::string_view name, std::string_view description,
                       const json::value& parameters, bool strict) {
  json::object spec{{"name", name}};
  if (!description.empty()) spec["description"] = description;
  spec["inputSchema"] = json::object{{"json", parameters.is_object()
                                                  ? parameters
                                                  : json::value(json::object{{"type", "object"}})}};
  if (strict) spec["strict"] = true;
  return json::object{{"toolSpec", std::move(spec)}};
}

core::Result<std::optional<json::object>> tool_config(const api::Chat& chat,
                                                      const ToolHistory& history) {
  using Mode = api::ToolChoice::Mode;
  std::optional<Mode> mode;
  if (chat.tool_choice) mode = chat.tool_choice->mode;
  if (chat.tools.empty()) {
    if (mode && *mode != Mode::none && *mode != Mode::auto_) {
      return core::fail(ErrorKind::invalid_request, "tool_choice requires tools", "tool_choice");
    }
    if (!history.any) return std::nullopt;
    json::array tools;
    for (auto& name : history.names) tools.push_back(tool_spec(name, {}, nullptr, false));
    if (tools.empty()) return std::nullopt;  // only results: nothing to declare
    return json::object{{"tools", std::move(tools)}};
  }
  if (mode == Mode::none && !history.any) return std::nullopt;
  json::array tools;
  for (auto& t : chat.tools)
    tools.push_back(tool_spec(t.name, t.description, t.parameters, t.strict));
  json::object config{{"tools", std::move(tools)}};
  if (mode == Mode::auto_) config["toolChoice"] = json::object{{"auto", json::object()}};
  if (mode == Mode::required) config["toolChoice"] = json::object{{"any", json::object()}};
  if (mode == Mode::function) {
    config["toolChoice"] = json::object{{"tool", {{"name", chat.tool_choice->name}}}};
  }
  return config;
}

std::optional<json::object> inference_config(const api::Chat& chat) {
  json::object c;
  if (chat.max_tokens) c["maxTokens"] = *chat.max_tokens;
  if (chat.temperature) c["temperature"] = *chat.temperature;
  if (chat.top_p) c["topP"] = *chat.top_p;
  if (!chat.stop.empty()) {
    json::array stop;
    for (auto& s : chat.stop) stop.emplace_back(s);
    c["stopSequences"] = std::move(stop);
  }
  if (c.empty()) return std::nullopt;
  return c;
}

core::Result<std::optional<json::object>> output_config(const api::Chat& chat) {
  json::object c;
  switch (chat.response_format.type) {
    case api::ResponseFormat::Type::text:
      break;
    case api::ResponseFormat::Type::json_object:
      return core::fail(ErrorKind::invalid_request,
                        "Bedrock Converse has no schema-less JSON mode: use response_format "
                        "json_schema with a schema",
                        "response_format");
    case api::ResponseFormat::Type::json_schema: {
      json::object schema{{"schema", json::serialize(chat.response_format.schema)}};
      if (!chat.response_format.name.empty()) schema["name"] = chat.response_format.name;
      c["textFormat"] =
          json::object{{"type", "json_schema"}, {"structure", {{"jsonSchema", std::move(schema)}}}};
      break;
    }
  }
  if (!chat.reasoning_effort.empty()) c["effort"] = chat.reasoning_effort;
  if (c.empty()) return std::nullopt;
  return c;
}

}  // namespace

std::string model_url(const Deployment& d, std::string_view op) {
  return d.base_url + "/model/" + encode_path_segment(d.model) + "/" + std::string(op);
}

core::Result<std::string> converse_body(const api::Chat& chat) {
  if (chat.n != 1) {
    return core::fail(ErrorKind::invalid_request, "Bedrock returns one choice: n must be 1", "n");
  }
  std::vector<Turn> turns;
  json::array system;
  ToolHistory history;
  for (std::size_t i = 0; i < chat.messages.size(); ++i) {
    if (auto r = add_message(chat.messages[i], i, turns, system, history); !r) {
      return std::unexpected(r.error());
    }
  }
  if (turns.empty()) {
    return core::fail(ErrorKind::invalid_request,
                      "Bedrock needs at least one user or assistant message with content",
                      "messages");
  }
  json::array messages;
  for (auto& t : turns) {
    messages.push_back(json::object{{"role", t.role}, {"content", std::move(t.blocks)}});
  }
  json::object body{{"messages", std::move(messages)}};
  if (!system.empty()) body["system"] = std::move(system);
  if (auto c = inference_config(chat)) body["inferenceConfig"] = std::move(*c);
  auto tools = tool_config(chat, history);
  if (!tools) return std::unexpected(tools.error());
  if (*tools) body["toolConfig"] = std::move(**tools);
  auto output = output_config(chat);
  if (!output) return std::unexpected(output.error());
  if (*output) body["outputConfig"] = std::move(**output);
  return json::serialize(body);
}

}  // namespace stratus::providers::bedrock
