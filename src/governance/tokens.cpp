// Prompt and output token estimates from OpenAI request bodies (see tokens.h for the formula).
#include "governance/tokens.h"

#include <boost/json.hpp>

namespace stratus::governance {

namespace json = boost::json;

namespace {

long text_of(const json::value* v) {
  if (v == nullptr || !v->is_string()) return 0;
  return estimate_text_tokens(v->get_string());
}

long json_tokens(const json::value& v) {
  return static_cast<long>((json::serialize(v).size() + 3) / 4);
}

long part_tokens(const json::object& part, const EstimateOptions& o) {
  const auto* type = part.if_contains("type");
  if (type == nullptr || !type->is_string()) return 0;
  const auto t = std::string_view(type->get_string());
  if (t == "text") return text_of(part.if_contains("text"));
  if (t == "image_url") {
    const auto* img = part.if_contains("image_url");
    if (img != nullptr && img->is_object()) {
      const auto* detail = img->as_object().if_contains("detail");
      if (detail != nullptr && detail->is_string() && detail->get_string() == "low") {
        return o.per_image_low;
      }
    }
    return o.per_image;
  }
  if (t == "input_audio") return o.per_audio;
  if (t == "file") return o.per_file;
  return text_of(part.if_contains("text"));
}

long content_tokens(const json::value* content, const EstimateOptions& o) {
  if (content == nullptr) return 0;
  if (content->is_string()) return estimate_text_tokens(content->get_string());
  if (!content->is_array()) return 0;
  long n = 0;
  for (const auto& part : content->get_array()) {
    if (part.is_object()) n += part_tokens(part.get_object(), o);
  }
  return n;
}

long tool_calls_tokens(const json::value* calls, const EstimateOptions& o) {
  if (calls == nullptr || !calls->is_array()) return 0;
  long n = 0;
  for (const auto& c : calls->get_array()) {
    if (!c.is_object()) continue;
    const auto* fn = c.get_object().if_contains("function");
    if (fn == nullptr || !fn->is_object()) continue;
    n += o.per_tool_call + text_of(fn->get_object().if_contains("name")) +
         text_of(fn->get_object().if_contains("arguments"));
  }
  return n;
}

long message_tokens(const json::object& m, const EstimateOptions& o) {
  long n = o.per_message + content_tokens(m.if_contains("content"), o);
  if (const auto* name = m.if_contains("name"); name != nullptr && name->is_string()) {
    n += o.per_name + estimate_text_tokens(name->get_string());
  }
  n += tool_calls_tokens(m.if_contains("tool_calls"), o);
  if (const auto* fc = m.if_contains("function_call"); fc != nullptr && fc->is_object()) {
    n += o.per_tool_call + text_of(fc->get_object().if_contains("name")) +
         text_of(fc->get_object().if_contains("arguments"));
  }
  n += text_of(m.if_contains("refusal"));
  return n;
}

long schema_tokens(const json::value* list, const EstimateOptions& o) {
  if (list == nullptr || !list->is_array()) return 0;
  long n = 0;
  for (const auto& t : list->get_array()) n += o.per_tool + json_tokens(t);
  return n;
}

long count_of(const json::value* v) {
  if (v == nullptr) return -1;
  if (v->is_int64()) return static_cast<long>(v->get_int64());
  if (v->is_uint64()) return static_cast<long>(std::min<std::uint64_t>(v->get_uint64(), 1u << 30));
  if (v->is_double()) return static_cast<long>(v->get_double());
  return -1;
}

}  // namespace

long estimate_text_tokens(std::string_view s) {
  long ascii = 0;
  long other = 0;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      ++ascii;
    } else if ((c & 0xC0) != 0x80) {
      ++other;  // a UTF-8 lead byte: one code point
    }
  }
  return (ascii + 3) / 4 + other;
}

long estimate_chat_prompt_tokens(const json::value& body, const EstimateOptions& o) {
  const auto* obj = body.if_object();
  if (obj == nullptr) return 0;
  const auto* messages = obj->if_contains("messages");
  if (messages == nullptr || !messages->is_array()) return 0;
  long n = o.per_request;
  for (const auto& m : messages->get_array()) {
    if (m.is_object()) n += message_tokens(m.get_object(), o);
  }
  n += schema_tokens(obj->if_contains("tools"), o);
  n += schema_tokens(obj->if_contains("functions"), o);
  if (const auto* rf = obj->if_contains("response_format"); rf != nullptr && rf->is_object()) {
    if (const auto* schema = rf->get_object().if_contains("json_schema")) {
      n += json_tokens(*schema);
    }
  }
  return n;
}

long estimate_embeddings_tokens(const json::value& body) {
  const auto* obj = body.if_object();
  if (obj == nullptr) return 0;
  const auto* input = obj->if_contains("input");
  if (input == nullptr) return 0;
  if (input->is_string()) return estimate_text_tokens(input->get_string());
  if (!input->is_array()) return 0;
  long n = 0;
  for (const auto& item : input->get_array()) {
    if (item.is_string()) {
      n += estimate_text_tokens(item.get_string());
    } else if (item.is_array()) {
      n += static_cast<long>(item.get_array().size());  // token ids
    } else if (item.is_number()) {
      ++n;  // a single token id
    }
  }
  return n;
}

long worst_case_output_tokens(const json::value& body, const EstimateOptions& o) {
  const auto* obj = body.if_object();
  if (obj == nullptr) return o.default_max_output;
  long max = count_of(obj->if_contains("max_completion_tokens"));
  if (max < 0) max = count_of(obj->if_contains("max_tokens"));
  if (max < 0) max = o.default_max_output;
  const long n = count_of(obj->if_contains("n"));
  return n > 1 ? max * n : max;
}

}  // namespace stratus::governance
