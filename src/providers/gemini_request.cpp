// Chat IR → Gemini generateContent request body (shared by the Gemini and Vertex adapters).
#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <unordered_map>

#include "providers/common.h"
#include "providers/gemini_wire.h"

namespace stratus::providers::gemini {

namespace json = boost::json;
using core::ErrorKind;

namespace {

// Gemini 3 rejects a replayed functionCall part without a thought signature. The IR cannot
// carry the real one back, so the placeholder Google documents for foreign history is sent.
constexpr std::string_view kPlaceholderSignature = "skip_thought_signature_validator";

std::unexpected<core::Error> invalid(std::string message, std::string param) {
  return core::fail(ErrorKind::invalid_request, std::move(message), std::move(param));
}

std::string joined_text(const api::Message& m) {
  std::string out;
  for (const auto& p : m.content) {
    if (p.kind == api::ContentPart::Kind::text) out += p.text;
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// fileData needs a MIME type: guessed from the URL path's extension, JPEG when unknown.
std::string guess_mime_type(std::string_view url) {
  url = url.substr(0, url.find_first_of("?#"));
  const auto slash = url.rfind('/');
  const auto dot = url.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "image/jpeg";
  }
  const std::string ext = lower(url.substr(dot + 1));
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 8> kTypes = {{
      {"png", "image/png"},
      {"jpg", "image/jpeg"},
      {"jpeg", "image/jpeg"},
      {"gif", "image/gif"},
      {"webp", "image/webp"},
      {"heic", "image/heic"},
      {"heif", "image/heif"},
      {"pdf", "application/pdf"},
  }};
  for (auto& [e, type] : kTypes) {
    if (ext == e) return std::string(type);
  }
  return "image/jpeg";
}

json::object image_part(const api::ContentPart& p) {
  if (!p.data.empty() || p.url.empty()) {
    return {{"inlineData", {{"mimeType", p.media_type}, {"data", p.data}}}};
  }
  return {{"fileData", {{"mimeType", guess_mime_type(p.url)}, {"fileUri", p.url}}}};
}

json::array content_parts(const api::Message& m, bool images) {
  json::array parts;
  for (const auto& p : m.content) {
    if (p.kind == api::ContentPart::Kind::text) {
      if (!p.text.empty()) parts.push_back(json::object{{"text", p.text}});
    } else if (images) {
      parts.push_back(image_part(p));
    }
  }
  return parts;
}

// A tool result as Gemini's functionResponse.response, which must be an object.
json::object tool_response(const std::string& text) {
  if (auto v = parse_json(text); v && v->is_object()) return std::move(v->as_object());
  return {{"content", text}};
}

core::Result<json::object> function_call_part(const api::ToolCall& call, std::string param) {
  json::value args = json::object{};
  if (!call.arguments.empty()) {
    auto parsed = parse_json(call.arguments);
    if (!parsed || !parsed->is_object()) {
      return invalid("tool call arguments must be a JSON object for Gemini, got: " +
                         call.arguments.substr(0, 200),
                     std::move(param));
    }
    args = std::move(*parsed);
  }
  return json::object{{"functionCall", {{"name", call.name}, {"args", std::move(args)}}}};
}

class ContentsBuilder {
 public:
  explicit ContentsBuilder(bool placeholder_signatures)
      : placeholder_signatures_(placeholder_signatures) {}

  core::Result<void> add(const api::Message& m, std::size_t i) {
    switch (m.role) {
      case api::Role::system:
      case api::Role::developer:
        for (auto& part : content_parts(m, false)) system_parts_.push_back(std::move(part));
        return {};
      case api::Role::user:
        push("user", content_parts(m, true));
        return {};
      case api::Role::assistant:
        return add_assistant(m, i);
      case api::Role::tool:
        return add_tool_result(m, i);
    }
    return {};
  }

  json::array& contents() { return contents_; }
  json::array& system_parts() { return system_parts_; }

 private:
  void push(std::string_view role, json::array parts) {
    in_tool_turn_ = false;
    // Gemini rejects a turn without parts (an empty message carries nothing anyway).
    if (parts.empty()) return;
    contents_.push_back(json::object{{"role", role}, {"parts", std::move(parts)}});
  }

  core::Result<void> add_assistant(const api::Message& m, std::size_t i) {
    json::array parts = content_parts(m, false);
    for (std::size_t j = 0; j < m.tool_calls.size(); ++j) {
      const auto& call = m.tool_calls[j];
      auto part = function_call_part(call, "messages[" + std::to_string(i) + "].tool_calls[" +
                                               std::to_string(j) + "].function.arguments");
      if (!part) return std::unexpected(part.error());
      if (placeholder_signatures_ && j == 0)
        part->emplace("thoughtSignature", kPlaceholderSignature);
      parts.push_back(std::move(*part));
      call_names_[call.id] = call.name;
    }
    push("model", std::move(parts));
    return {};
  }

  core::Result<void> add_tool_result(const api::Message& m, std::size_t i) {
    auto name = call_names_.find(m.tool_call_id);
    if (name == call_names_.end()) {
      return invalid("tool message answers tool_call_id '" + m.tool_call_id +
                         "', which no earlier assistant message called (Gemini needs the "
                         "function name)",
                     "messages[" + std::to_string(i) + "].tool_call_id");
    }
    json::object part{{"functionResponse",
                       {{"name", name->second}, {"response", tool_response(joined_text(m))}}}};
    if (in_tool_turn_) {
      contents_.back().as_object()["parts"].as_array().push_back(std::move(part));
      return {};
    }
    contents_.push_back(json::object{{"role", "user"}, {"parts", json::array{std::move(part)}}});
    in_tool_turn_ = true;
    return {};
  }

  bool placeholder_signatures_;
  json::array contents_;
  json::array system_parts_;
  std::unordered_map<std::string, std::string> call_names_;  // tool call id → function name
  bool in_tool_turn_ = false;  // the last turn holds tool results (the next ones join it)
};

core::Result<json::array> function_declarations(const std::vector<api::Tool>& tools) {
  json::array out;
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const auto& t = tools[i];
    json::object decl{{"name", t.name}};
    if (!t.description.empty()) decl["description"] = t.description;
    if (!t.parameters.is_null()) {
      auto schema = function_schema(t.parameters);
      if (!schema) {
        auto e = schema.error();
        e.param = "tools[" + std::to_string(i) + "].function.parameters";
        return std::unexpected(std::move(e));
      }
      decl["parameters"] = std::move(*schema);
    }
    out.push_back(std::move(decl));
  }
  return out;
}

json::object tool_config(const api::ToolChoice& choice) {
  json::object fcc;
  switch (choice.mode) {
    case api::ToolChoice::Mode::auto_:
      fcc["mode"] = "AUTO";
      break;
    case api::ToolChoice::Mode::none:
      fcc["mode"] = "NONE";
      break;
    case api::ToolChoice::Mode::required:
      fcc["mode"] = "ANY";
      break;
    case api::ToolChoice::Mode::function:
      fcc["mode"] = "ANY";
      fcc["allowedFunctionNames"] = json::array{json::string(choice.name)};
      break;
  }
  return {{"functionCallingConfig", std::move(fcc)}};
}

// OpenAI's reasoning_effort as a thinking budget (the levels Google's own OpenAI-compatible
// endpoint uses); thought summaries come back as reasoning.
std::optional<std::int64_t> thinking_budget(std::string_view effort) {
  if (effort == "low") return 1024;
  if (effort == "medium") return 8192;
  if (effort == "high") return 24576;
  return std::nullopt;
}

core::Result<json::object> generation_config(const api::Chat& chat) {
  json::object g;
  if (chat.n > 1) {
    return invalid("n > 1 is not supported for Gemini deployments (one candidate per request)",
                   "n");
  }
  if (chat.temperature) g["temperature"] = *chat.temperature;
  if (chat.top_p) g["topP"] = *chat.top_p;
  if (chat.max_tokens) g["maxOutputTokens"] = *chat.max_tokens;
  if (!chat.stop.empty()) {
    json::array stops;
    for (auto& s : chat.stop) stops.emplace_back(s);
    g["stopSequences"] = std::move(stops);
  }
  if (chat.seed) g["seed"] = *chat.seed;
  if (chat.presence_penalty) g["presencePenalty"] = *chat.presence_penalty;
  if (chat.frequency_penalty) g["frequencyPenalty"] = *chat.frequency_penalty;
  switch (chat.response_format.type) {
    case api::ResponseFormat::Type::text:
      break;
    case api::ResponseFormat::Type::json_object:
      g["responseMimeType"] = "application/json";
      break;
    case api::ResponseFormat::Type::json_schema:
      // responseJsonSchema takes JSON Schema as is (responseSchema wants the OpenAPI subset).
      g["responseMimeType"] = "application/json";
      g["responseJsonSchema"] = chat.response_format.schema;
      break;
  }
  if (auto budget = thinking_budget(chat.reasoning_effort)) {
    g["thinkingConfig"] = {{"thinkingBudget", *budget}, {"includeThoughts", true}};
  }
  return g;
}

}  // namespace

core::Result<json::object> encode_request(const api::Chat& chat, std::string_view model) {
  if (model.starts_with("models/")) model.remove_prefix(7);
  ContentsBuilder builder(model.starts_with("gemini-3"));
  for (std::size_t i = 0; i < chat.messages.size(); ++i) {
    if (auto r = builder.add(chat.messages[i], i); !r) return std::unexpected(r.error());
  }
  if (builder.contents().empty()) {
    return invalid("Gemini needs at least one user or assistant message with content", "messages");
  }
  json::object body;
  body["contents"] = std::move(builder.contents());
  if (!builder.system_parts().empty()) {
    body["systemInstruction"] = {{"parts", std::move(builder.system_parts())}};
  }
  if (!chat.tools.empty()) {
    auto decls = function_declarations(chat.tools);
    if (!decls) return std::unexpected(decls.error());
    body["tools"] = json::array{json::object{{"functionDeclarations", std::move(*decls)}}};
    if (chat.tool_choice) body["toolConfig"] = tool_config(*chat.tool_choice);
  }
  auto config = generation_config(chat);
  if (!config) return std::unexpected(config.error());
  if (!config->empty()) body["generationConfig"] = std::move(*config);
  return body;
}

}  // namespace stratus::providers::gemini
