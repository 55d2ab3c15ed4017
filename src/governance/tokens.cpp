// Prompt and output token estimates from OpenAI request bodies (see tokens.h for the formula).
#include "governance/tokens.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <utility>

#include "core/json_sax.h"

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

// ceil(ASCII bytes / 4) + non-ASCII code points, counted over a string's pieces.
struct TextCount {
  long ascii = 0;
  long other = 0;
  // Branch-free, so the compiler vectorizes it: a byte is ASCII below 0x80, and starts a
  // code point unless it is a continuation byte (10xxxxxx).
  void add(std::string_view s) {
    long a = 0, starts = 0;
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      a += c < 0x80;
      starts += (c & 0xC0) != 0x80;
    }
    ascii += a;
    other += starts - a;
  }
  long tokens() const { return (ascii + 3) / 4 + other; }
};

// The SAX pass of estimate_chat_text. `depth` is the number of containers around the next
// event; anything the tree functions would read and this pass does not sets `bail`.
struct EstimateScan : core::SaxBase {
  enum class Top { other, messages, max_completion_tokens, max_tokens, n };
  enum class Field { other, content, name, refusal };

  const EstimateOptions* o = nullptr;
  bool bail = false;
  Top top = Top::other;
  bool seen_messages = false, seen_mct = false, seen_mt = false, seen_n = false;
  long mct = -1, mt = -1, n = -1;  // count_of: -1 when absent or not a number
  long messages = 0;               // per_message and the message fields, summed
  bool in_message = false;         // the element being read is an object
  Field field = Field::other;
  bool seen_content = false, seen_name = false, seen_refusal = false;
  TextCount text;  // the string being read, when it counts

  bool counts_here() const { return depth == 3 && top == Top::messages && in_message; }

  // A value at the current depth; containers report before they open.
  enum class Kind { scalar, object, array };
  void value(Kind kind) {
    const bool container = kind != Kind::scalar;
    if (depth == 0) {
      if (kind != Kind::object) bail = true;
    } else if (depth == 1 && top == Top::messages) {
      if (kind != Kind::array) bail = true;
    } else if (depth == 1 && top != Top::other) {
      if (container) set_count(-1);
    } else if (depth == 2 && top == Top::messages) {
      in_message = false;
      field = Field::other;
    } else if (counts_here() && field != Field::other && container) {
      bail = true;  // content parts, or an object where a string belongs
    }
  }
  void set_count(long v) {
    if (top == Top::max_completion_tokens) mct = v;
    if (top == Top::max_tokens) mt = v;
    if (top == Top::n) n = v;
  }
  bool on_object_begin(error_code&) {
    value(Kind::object);
    if (depth == 2 && top == Top::messages) {
      in_message = true;
      messages += o->per_message;
      seen_content = seen_name = seen_refusal = false;
    }
    ++depth;
    return true;
  }
  bool on_array_begin(error_code&) {
    value(Kind::array);
    ++depth;
    return true;
  }
  // A key with escapes comes in parts (what precedes the first escape, then the rest, decoded).
  // Every key this pass reads is short: a longer one is none of them.
  char key[24] = {};
  std::size_t key_len = 0;
  bool on_key_part(std::string_view part, std::size_t, error_code&) {
    append_key(part);
    return true;
  }
  void append_key(std::string_view part) {
    if (key_len + part.size() <= sizeof key) std::copy(part.begin(), part.end(), key + key_len);
    key_len += part.size();
  }
  // A key this pass reads: a second one is a duplicate, and which one counts is the tree's call.
  template <class T>
  void once(bool& seen, T& slot, T to) {
    if (std::exchange(seen, true)) bail = true;
    slot = to;
  }
  bool on_key(std::string_view k, std::size_t size, error_code&) {
    if (size != k.size()) {
      append_key(k);
      k = key_len <= sizeof key ? std::string_view(key, key_len) : std::string_view{};
      key_len = 0;
    }
    if (depth == 1) {
      top = Top::other;
      if (k == "messages") {
        once(seen_messages, top, Top::messages);
      } else if (k == "max_completion_tokens") {
        once(seen_mct, top, Top::max_completion_tokens);
      } else if (k == "max_tokens") {
        once(seen_mt, top, Top::max_tokens);
      } else if (k == "n") {
        once(seen_n, top, Top::n);
      } else if (k == "tools" || k == "functions" || k == "response_format") {
        bail = true;  // counted from their serialized JSON: the tree's job
      }
    } else if (counts_here()) {
      field = Field::other;
      if (k == "content") {
        once(seen_content, field, Field::content);
      } else if (k == "name") {
        once(seen_name, field, Field::name);
      } else if (k == "refusal") {
        once(seen_refusal, field, Field::refusal);
      } else if (k == "tool_calls" || k == "function_call") {
        bail = true;
      }
    }
    return true;
  }
  bool on_string_part(std::string_view s, std::size_t, error_code&) {
    if (counts_here() && field != Field::other) text.add(s);
    return true;
  }
  bool on_string(std::string_view s, std::size_t, error_code&) {
    value(Kind::scalar);
    if (counts_here() && field != Field::other) {
      text.add(s);
      messages += text.tokens() + (field == Field::name ? o->per_name : 0);
    }
    text = {};
    return true;
  }
  bool on_int64(std::int64_t v, std::string_view, error_code&) {
    return number(static_cast<long>(v));
  }
  bool on_uint64(std::uint64_t v, std::string_view, error_code&) {
    return number(static_cast<long>(std::min<std::uint64_t>(v, 1u << 30)));
  }
  bool on_double(double v, std::string_view, error_code&) { return number(static_cast<long>(v)); }
  bool number(long v) {
    value(Kind::scalar);
    if (depth == 1) set_count(v);
    return true;
  }
  bool on_bool(bool, error_code&) { return scalar(); }
  bool on_null(error_code&) { return scalar(); }
  bool scalar() {
    value(Kind::scalar);
    if (depth == 1) set_count(-1);
    return true;
  }
};

}  // namespace

std::optional<ChatEstimate> estimate_chat_text(std::string_view body, const EstimateOptions& o) {
  json::parse_options opts;
  opts.max_depth = 64;
  json::basic_parser<EstimateScan> p(opts);
  p.handler().o = &o;
  boost::system::error_code ec;
  const auto used = p.write_some(false, body.data(), body.size(), ec);
  const auto& h = p.handler();
  if (ec || used != body.size() || h.bail || !h.seen_messages) return std::nullopt;
  ChatEstimate e;
  e.prompt = o.per_request + h.messages;
  long max = h.mct;
  if (max < 0) max = h.mt;
  if (max < 0) max = o.default_max_output;
  e.max_output = h.n > 1 ? max * h.n : max;
  return e;
}

long estimate_text_tokens(std::string_view s) {
  TextCount c;  // a UTF-8 lead byte is one code point
  c.add(s);
  return c.tokens();
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
