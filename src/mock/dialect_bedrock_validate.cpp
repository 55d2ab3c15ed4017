// Converse request validation for the Bedrock mock: the checks Bedrock makes that a translating
// gateway can get wrong (alternation, blank text, tool results answering the previous turn's
// tool uses, toolConfig present with tool blocks, image formats, inference limits, unknown
// fields), worded like Bedrock's ValidationException messages.
#include <algorithm>
#include <boost/json.hpp>

#include "core/base64.h"
#include "mock/dialect_bedrock.h"

namespace stratus::mock::bedrock_detail {

namespace json = boost::json;

namespace {

constexpr std::string_view kTopLevel[] = {"messages",        "system",
                                          "inferenceConfig", "toolConfig",
                                          "guardrailConfig", "additionalModelRequestFields",
                                          "promptVariables", "additionalModelResponseFieldPaths",
                                          "requestMetadata", "performanceConfig",
                                          "serviceTier",     "outputConfig"};
constexpr std::string_view kImageFormats[] = {"png", "jpeg", "gif", "webp"};

bool blank(std::string_view s) { return s.find_first_not_of(" \t\r\n") == std::string_view::npos; }

std::string constraint(std::string_view value, std::string_view where, std::string_view what) {
  return "1 validation error detected: Value '" + std::string(value) + "' at '" +
         std::string(where) + "' failed to satisfy constraint: " + std::string(what);
}

// Walks one request; the first problem found is kept in `error`.
class Checker {
 public:
  Checker(std::string model, bool stream) {
    call_.model = std::move(model);
    call_.stream = stream;
    call_.include_usage = true;  // Bedrock always ends a stream with its metadata event
    call_.prompt_tokens = 3;
  }

  Validated run(std::string_view body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object())
      return fail("Malformed input request, please reformat your input and try again.");
    auto& o = v.get_object();
    for (auto& [k, _] : o) {
      if (std::find(std::begin(kTopLevel), std::end(kTopLevel), k) == std::end(kTopLevel)) {
        return fail("extraneous key [" + std::string(k) + "] is not permitted");
      }
    }
    if (!check_system(o) || !check_inference(o) || !check_tools(o) || !check_messages(o)) {
      return {std::nullopt, error_};
    }
    return {std::move(call_), {}};
  }

 private:
  Validated fail(std::string message) { return {std::nullopt, std::move(message)}; }
  bool bad(std::string message) {
    error_ = std::move(message);
    return false;
  }

  bool check_system(const json::object& o) {
    auto* sys = o.if_contains("system");
    if (!sys) return true;
    if (!sys->is_array()) return bad("system must be a list of SystemContentBlock objects");
    for (std::size_t i = 0; i < sys->get_array().size(); ++i) {
      auto& b = sys->get_array()[i];
      if (b.is_object() &&
          (b.get_object().contains("cachePoint") || b.get_object().contains("guardContent"))) {
        continue;
      }
      auto* text = b.is_object() ? b.get_object().if_contains("text") : nullptr;
      if (!text || !text->is_string() || blank(text->get_string())) {
        return bad("The text field in the SystemContentBlock object at system." +
                   std::to_string(i) + " is blank. Add text to the text field, and try again.");
      }
      if (!call_.system.empty()) call_.system += "\n";
      call_.system += text->get_string();
      call_.prompt_tokens += estimate_tokens(text->get_string());
    }
    return true;
  }

  bool check_inference(const json::object& o) {
    auto* ic = o.if_contains("inferenceConfig");
    if (!ic) return true;
    if (!ic->is_object()) return bad("inferenceConfig must be an object");
    auto& c = ic->get_object();
    if (auto* mt = c.if_contains("maxTokens")) {
      if (!mt->is_int64() || mt->get_int64() < 1) {
        return bad(constraint(json::serialize(*mt), "inferenceConfig.maxTokens",
                              "Member must have value greater than or equal to 1"));
      }
      call_.max_tokens = static_cast<int>(std::min<std::int64_t>(mt->get_int64(), 1 << 30));
    }
    for (std::string_view key : {std::string_view("temperature"), std::string_view("topP")}) {
      auto* x = c.if_contains(key);
      if (!x) continue;
      if (!x->is_number() || x->to_number<double>() < 0 || x->to_number<double>() > 1) {
        return bad(constraint(json::serialize(*x), "inferenceConfig." + std::string(key),
                              "Member must have value less than or equal to 1"));
      }
    }
    if (auto* stop = c.if_contains("stopSequences"); stop && !stop->is_array()) {
      return bad("inferenceConfig.stopSequences must be a list of strings");
    }
    return true;
  }

  bool check_tools(const json::object& o) {
    auto* tc = o.if_contains("toolConfig");
    if (!tc) return true;
    has_tool_config_ = true;
    auto* tools = tc->is_object() ? tc->get_object().if_contains("tools") : nullptr;
    if (!tools || !tools->is_array() || tools->get_array().empty()) {
      return bad(constraint("[]", "toolConfig.tools",
                            "Member must have length greater than or equal to 1"));
    }
    for (std::size_t i = 0; i < tools->get_array().size(); ++i) {
      auto& t = tools->get_array()[i];
      auto* spec = t.is_object() ? t.get_object().if_contains("toolSpec") : nullptr;
      auto* name = spec && spec->is_object() ? spec->get_object().if_contains("name") : nullptr;
      auto* schema =
          spec && spec->is_object() ? spec->get_object().if_contains("inputSchema") : nullptr;
      auto* js = schema && schema->is_object() ? schema->get_object().if_contains("json") : nullptr;
      if (!name || !name->is_string() || name->get_string().empty() || !js || !js->is_object()) {
        return bad("The toolSpec at toolConfig.tools." + std::to_string(i) +
                   " needs a name and an inputSchema with a json schema object.");
      }
      call_.tool_names.emplace_back(name->get_string());
    }
    auto* choice = tc->get_object().if_contains("toolChoice");
    if (choice && choice->is_object()) {
      if (auto* tool = choice->get_object().if_contains("tool"); tool && tool->is_object()) {
        auto* n = tool->get_object().if_contains("name");
        if (!n || !n->is_string() ||
            std::find(call_.tool_names.begin(), call_.tool_names.end(), n->get_string()) ==
                call_.tool_names.end()) {
          return bad("toolConfig.toolChoice.tool.name does not name a tool in toolConfig.tools");
        }
      }
    }
    return true;
  }

  bool check_image(const json::value& image, const std::string& where) {
    auto* o = image.is_object() ? &image.get_object() : nullptr;
    auto* format = o ? o->if_contains("format") : nullptr;
    if (!format || !format->is_string() ||
        std::find(std::begin(kImageFormats), std::end(kImageFormats), format->get_string()) ==
            std::end(kImageFormats)) {
      return bad(constraint(format && format->is_string() ? std::string_view(format->get_string())
                                                          : std::string_view("null"),
                            where + ".image.format",
                            "Member must satisfy enum value set: [png, jpeg, gif, webp]"));
    }
    auto* source = o->if_contains("source");
    auto* bytes =
        source && source->is_object() ? source->get_object().if_contains("bytes") : nullptr;
    if (!bytes || !bytes->is_string() || bytes->get_string().empty() ||
        !core::base64_decode(bytes->get_string())) {
      return bad("The image at " + where + " has no valid base64 source.bytes.");
    }
    return true;
  }

  bool check_tool_use(const json::value& tu, const std::string& where) {
    auto* o = tu.is_object() ? &tu.get_object() : nullptr;
    auto* id = o ? o->if_contains("toolUseId") : nullptr;
    auto* name = o ? o->if_contains("name") : nullptr;
    if (!id || !id->is_string() || id->get_string().empty() || !name || !name->is_string() ||
        !o->contains("input")) {
      return bad("The toolUse block at " + where + " needs toolUseId, name and input.");
    }
    uses_.emplace_back(id->get_string());
    return true;
  }

  bool check_tool_result(const json::value& tr, const std::string& where) {
    auto* o = tr.is_object() ? &tr.get_object() : nullptr;
    auto* id = o ? o->if_contains("toolUseId") : nullptr;
    auto* content = o ? o->if_contains("content") : nullptr;
    if (!id || !id->is_string() || !content || !content->is_array()) {
      return bad("The toolResult block at " + where + " needs toolUseId and content.");
    }
    auto it = std::find(pending_.begin(), pending_.end(), id->get_string());
    if (it == pending_.end()) {
      return bad("The toolResult block at " + where + " answers toolUseId '" +
                 std::string(id->get_string()) +
                 "', which is not a toolUse block of the previous assistant turn.");
    }
    pending_.erase(it);
    for (auto& c : content->get_array()) {
      if (auto* t = c.is_object() ? c.get_object().if_contains("text") : nullptr;
          t && t->is_string()) {
        call_.prompt_tokens += estimate_tokens(t->get_string());
      } else if (auto* j = c.is_object() ? c.get_object().if_contains("json") : nullptr) {
        call_.prompt_tokens += estimate_tokens(json::serialize(*j));
      }
    }
    return true;
  }

  bool check_block(const json::value& b, const std::string& where, bool assistant) {
    if (!b.is_object() || b.get_object().size() != 1) {
      return bad("The ContentBlock at " + where + " must have exactly one member.");
    }
    auto& [key, value] = *b.get_object().begin();
    if (key == "text") {
      if (!value.is_string() || blank(value.get_string())) {
        return bad("The text field in the ContentBlock object at " + where +
                   " is blank. Add text to the text field, and try again.");
      }
      call_.prompt_tokens += estimate_tokens(value.get_string());
      return true;
    }
    if (key == "image" && !assistant) return check_image(value, where);
    if (key == "toolUse" && assistant) return check_tool_use(value, where);
    if (key == "toolResult" && !assistant) {
      saw_result_ = true;
      return check_tool_result(value, where);
    }
    if ((key == "reasoningContent" && assistant) || key == "cachePoint" || key == "document" ||
        key == "guardContent") {
      return true;  // accepted as they are
    }
    return bad("The ContentBlock at " + where + " has an unsupported member '" + std::string(key) +
               "' for this role.");
  }

  bool check_messages(const json::object& o) {
    auto* msgs = o.if_contains("messages");
    if (!msgs || !msgs->is_array() || msgs->get_array().empty()) {
      return bad(
          "A conversation must start with a user message. Try again with a conversation "
          "that starts with a user message.");
    }
    std::string_view previous;
    bool tool_blocks = false;
    for (std::size_t i = 0; i < msgs->get_array().size(); ++i) {
      auto& m = msgs->get_array()[i];
      std::string where = "messages." + std::to_string(i);
      auto* role = m.is_object() ? m.get_object().if_contains("role") : nullptr;
      auto* content = m.is_object() ? m.get_object().if_contains("content") : nullptr;
      if (!role || !role->is_string() ||
          (role->get_string() != "user" && role->get_string() != "assistant")) {
        return bad(constraint(
            role && role->is_string() ? std::string_view(role->get_string()) : "null",
            where + ".member.role", "Member must satisfy enum value set: [user, assistant]"));
      }
      std::string_view r = role->get_string();
      if (i == 0 && r != "user") {
        return bad(
            "A conversation must start with a user message. Try again with a "
            "conversation that starts with a user message.");
      }
      if (r == previous) {
        return bad(
            "A conversation must alternate between user and assistant roles. Make sure "
            "the conversation alternates between user and assistant roles and try again.");
      }
      if (!content || !content->is_array() || content->get_array().empty()) {
        return bad(constraint("[]", where + ".member.content",
                              "Member must have length greater than or equal to 1"));
      }
      bool assistant = r == "assistant";
      if (assistant) pending_.clear();
      uses_.clear();
      saw_result_ = false;
      call_.prompt_tokens += 4;
      for (std::size_t k = 0; k < content->get_array().size(); ++k) {
        if (!check_block(content->get_array()[k], where + ".content." + std::to_string(k),
                         assistant)) {
          return false;
        }
      }
      if (!pending_.empty() && !assistant) {
        std::string ids;
        for (auto& p : pending_) ids += (ids.empty() ? "" : ", ") + p;
        return bad("Expected toolResult blocks at " + where +
                   ".content for the following Ids: " + ids);
      }
      if (assistant) pending_ = uses_;
      tool_blocks = tool_blocks || !uses_.empty() || saw_result_;
      call_.last_is_tool_result = !assistant && saw_result_;
      previous = r;
    }
    if (tool_blocks && !has_tool_config_) {
      return bad(
          "The toolConfig field must be defined when using toolUse and toolResult content "
          "blocks.");
    }
    return true;
  }

  ChatCall call_;
  std::string error_;
  bool has_tool_config_ = false;
  bool saw_result_ = false;
  std::vector<std::string> uses_;     // toolUse ids of the turn being checked
  std::vector<std::string> pending_;  // toolUse ids of the previous assistant turn, unanswered
};

}  // namespace

Validated validate_converse(std::string_view body, std::string model, bool stream) {
  return Checker(std::move(model), stream).run(body);
}

}  // namespace stratus::mock::bedrock_detail
