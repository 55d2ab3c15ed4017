// OpenAI request validation, usage extraction and response helpers.
#include "api/openai.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cstring>
#include <functional>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/json_sax.h"
#include "core/json_text.h"

namespace stratus::api {

namespace json = boost::json;
using core::ErrorKind;
using core::fail;

namespace {

constexpr int kMaxDepth = 64;  // nesting accepted in request bodies

core::Result<json::value> parse_object(std::string_view body) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = kMaxDepth;
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

namespace {

// The reference check, on the whole tree: the error messages come from here.
core::Result<ChatRequest> parse_chat_tree(std::string_view body) {
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
  req.text = std::string(body);
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

}  // namespace

namespace {

using core::SaxBase;

// One pass over a chat request: checks what parse_chat_request checks and finds what the
// splice needs. Anything it does not expect clears `ok` and the tree takes over.
struct ChatScan : SaxBase {
  enum class Top { other, model, messages, stream, stream_options };
  const char* base = nullptr;  // the text being parsed, to locate the model's literal
  std::size_t size = 0;
  bool ok = true;
  Top top = Top::other;
  bool seen_model = false, seen_messages = false, seen_stream = false, seen_options = false;
  std::string_view model;
  std::size_t model_at = 0, model_len = 0;
  bool stream = false;
  bool include_usage = false, seen_include_usage = false, at_include_usage = false;
  std::size_t messages = 0;
  bool at_role = false, has_role = false;

  // Every value, before a container opens: `depth` is that of its parent.
  void value(bool is_string, bool is_object, bool is_array) {
    if (depth == 0) {
      if (!is_object) ok = false;
    } else if (depth == 1) {
      if (top == Top::model && !is_string) ok = false;
      if (top == Top::messages && !is_array) ok = false;
      if (top == Top::stream_options && !is_object) ok = false;
      if (top == Top::stream) ok = false;  // bool and null are handled in their events
    } else if (depth == 2 && top == Top::messages) {
      if (!is_object) ok = false;
      ++messages;
      has_role = false;
      at_role = false;
    } else if (depth == 2 && top == Top::stream_options && at_include_usage) {
      ok = false;  // not a bool (handled in on_bool)
    } else if (depth == 3 && top == Top::messages && at_role) {
      if (!is_string) ok = false;
      has_role = true;
      at_role = false;
    }
  }
  bool on_object_begin(error_code&) {
    value(false, true, false);
    ++depth;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) {
    --depth;
    if (depth == 2 && top == Top::messages && !has_role) ok = false;
    return true;
  }
  bool on_array_begin(error_code&) {
    value(false, false, true);
    ++depth;
    return true;
  }
  bool on_key(std::string_view k, std::size_t n, error_code&) {
    if (n != k.size()) {  // a key with escapes: let the tree read it
      if (depth <= 3) ok = false;
      k = {};
    }
    if (depth == 1) {
      auto once = [this](bool& seen, Top t) {
        if (seen) ok = false;  // a duplicate: the tree decides which one counts
        seen = true;
        top = t;
      };
      if (k == "model") {
        once(seen_model, Top::model);
      } else if (k == "messages") {
        once(seen_messages, Top::messages);
      } else if (k == "stream") {
        once(seen_stream, Top::stream);
      } else if (k == "stream_options") {
        once(seen_options, Top::stream_options);
      } else {
        top = Top::other;
      }
    } else if (depth == 2 && top == Top::stream_options) {
      at_include_usage = k == "include_usage";
      if (at_include_usage && std::exchange(seen_include_usage, true)) ok = false;
    } else if (depth == 3 && top == Top::messages) {
      at_role = k == "role";
      if (at_role && has_role) ok = false;
    }
    return true;
  }
  bool on_string_part(std::string_view, std::size_t, error_code&) {
    if (depth == 1 && top == Top::model) ok = false;  // escaped: no literal to splice
    return true;
  }
  bool on_string(std::string_view s, std::size_t n, error_code&) {
    if (depth == 1 && top == Top::model) {
      // Unescaped strings are handed over in place: the literal is s with its quotes.
      auto p = reinterpret_cast<std::uintptr_t>(s.data());
      auto b = reinterpret_cast<std::uintptr_t>(base);
      std::size_t at = p - b;  // meaningful only when s lies inside the text
      if (n != s.size() || p <= b || at + s.size() >= size || base[at - 1] != '"' ||
          base[at + s.size()] != '"') {
        ok = false;
      } else {
        model = s;
        model_at = at - 1;
        model_len = s.size() + 2;
      }
      return true;
    }
    value(true, false, false);
    return true;
  }
  bool on_int64(std::int64_t, std::string_view, error_code&) { return scalar(); }
  bool on_uint64(std::uint64_t, std::string_view, error_code&) { return scalar(); }
  bool on_double(double, std::string_view, error_code&) { return scalar(); }
  bool on_null(error_code&) {
    if (depth == 1 && top == Top::stream) return true;  // null: the default
    return scalar();
  }
  bool on_bool(bool b, error_code&) {
    if (depth == 1 && top == Top::stream) {
      stream = b;
      return true;
    }
    if (depth == 2 && top == Top::stream_options && at_include_usage) {
      include_usage = b;
      at_include_usage = false;
      return true;
    }
    return scalar();
  }
  bool scalar() {
    value(false, false, false);
    return true;
  }
};

// The fast path of parse_chat_request: nullopt when the tree must decide.
std::optional<ChatRequest> scan_chat(std::string_view body) {
  json::parse_options opts;
  opts.max_depth = kMaxDepth;
  json::basic_parser<ChatScan> p(opts);
  auto& h = p.handler();
  h.base = body.data();
  h.size = body.size();
  boost::system::error_code ec;
  // (write_some stops after one value: what follows it, unless blanks, is for the tree to refuse.)
  auto used = p.write_some(false, body.data(), body.size(), ec);
  if (ec || used != body.size() || !h.ok || h.model.empty() || h.messages == 0) return std::nullopt;
  ChatRequest req;
  req.text = std::string(body);
  req.model = std::string(h.model);
  req.stream = h.stream;
  req.include_usage = h.include_usage;
  req.spliceable = true;
  req.model_at = h.model_at;
  req.model_len = h.model_len;
  req.has_stream_options = h.seen_options;
  return req;
}

}  // namespace

core::Result<ChatRequest> parse_chat_request(std::string_view body) {
  if (auto fast = scan_chat(body)) return std::move(*fast);
  return parse_chat_tree(body);
}

json::value& chat_json(ChatRequest& req) {
  if (req.body.is_null() && req.spliceable) {
    json::parse_options opts;
    opts.max_depth = kMaxDepth;
    req.body = json::parse(req.text, {}, opts);  // checked by the scan: cannot fail
  }
  return req.body;
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
  bool add_usage = req.stream && !req.include_usage;
  if (req.body.is_null() && req.spliceable && !(add_usage && req.has_stream_options)) {
    // The client's text with the model's literal replaced (and usage asked for in streams).
    static constexpr std::string_view kUsage = R"("stream_options":{"include_usage":true},)";
    std::string_view text = req.text;
    std::string out;
    out.reserve(text.size() + upstream_model.size() + kUsage.size() + 8);
    std::size_t from = 0;
    if (add_usage) {
      from = text.find('{') + 1;  // the scan saw an object with members
      out.append(text.substr(0, from));
      out.append(kUsage);
    }
    out.append(text.substr(from, req.model_at - from));
    core::append_json_string(out, upstream_model);
    out.append(text.substr(req.model_at + req.model_len));
    return out;
  }
  auto& o = chat_json(req).as_object();
  o["model"] = upstream_model;
  if (add_usage) {
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

namespace {

// Reads OpenAI's usage object without building a tree (it is parsed on every answer).
struct UsageScan : SaxBase {
  enum class Field { none, prompt, completion, total, details, cached };
  Field field = Field::none;
  bool in_details = false;
  bool is_object = false;
  Usage u;

  bool on_object_begin(error_code&) {
    if (depth == 0) is_object = true;
    if (depth == 1 && field == Field::details) in_details = true;
    field = Field::none;
    ++depth;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) {
    if (--depth == 1) in_details = false;
    return true;
  }
  bool on_array_begin(error_code&) {
    field = Field::none;
    ++depth;
    return true;
  }
  bool on_key(std::string_view k, std::size_t n, error_code&) {
    field = Field::none;
    if (n != k.size()) return true;
    if (depth == 1) {
      if (k == "prompt_tokens") field = Field::prompt;
      if (k == "completion_tokens") field = Field::completion;
      if (k == "total_tokens") field = Field::total;
      if (k == "prompt_tokens_details") field = Field::details;
    } else if (depth == 2 && in_details && k == "cached_tokens") {
      field = Field::cached;
    }
    return true;
  }
  void number(long v) {
    switch (field) {
      case Field::prompt:
        u.prompt_tokens = v;
        break;
      case Field::completion:
        u.completion_tokens = v;
        break;
      case Field::total:
        u.total_tokens = v;
        break;
      case Field::cached:
        u.cached_tokens = v;
        break;
      default:
        break;
    }
    field = Field::none;
  }
  bool on_int64(std::int64_t v, std::string_view, error_code&) {
    number(static_cast<long>(v));
    return true;
  }
  bool on_uint64(std::uint64_t v, std::string_view, error_code&) {
    number(static_cast<long>(v));
    return true;
  }
  bool on_double(double, std::string_view, error_code&) { return other(); }
  bool on_string_part(std::string_view, std::size_t, error_code&) { return true; }
  bool on_string(std::string_view, std::size_t, error_code&) { return other(); }
  bool on_bool(bool, error_code&) { return other(); }
  bool on_null(error_code&) { return other(); }
  bool other() {
    field = Field::none;
    return true;
  }
};

// Whether a chunk's top-level `choices` is an empty array, without a tree (see
// is_usage_only_text).
struct ChoicesScan : SaxBase {
  bool top_object = false;
  bool at_choices = false;  // the next value is that of a top-level "choices"
  bool seen = false, is_array = false, in_choices = false;
  std::size_t items = 0;

  void value(bool array) {
    if (depth == 1 && at_choices) {
      at_choices = false;
      seen = true;
      is_array = array;
      in_choices = array;
    } else if (depth == 2 && in_choices) {
      ++items;
    }
  }
  bool on_object_begin(error_code&) {
    value(false);
    if (depth == 0) top_object = true;
    ++depth;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) {
    --depth;
    return true;
  }
  bool on_array_begin(error_code&) {
    value(true);
    ++depth;
    return true;
  }
  bool on_array_end(std::size_t, error_code&) {
    if (--depth == 1) in_choices = false;
    return true;
  }
  bool on_key(std::string_view k, std::size_t n, error_code&) {
    if (depth == 1) at_choices = n == k.size() && k == "choices";
    return true;
  }
  bool on_string_part(std::string_view, std::size_t, error_code&) { return true; }
  bool on_string(std::string_view, std::size_t, error_code&) { return scalar(); }
  bool on_int64(std::int64_t, std::string_view, error_code&) { return scalar(); }
  bool on_uint64(std::uint64_t, std::string_view, error_code&) { return scalar(); }
  bool on_double(double, std::string_view, error_code&) { return scalar(); }
  bool on_bool(bool, error_code&) { return scalar(); }
  bool on_null(error_code&) { return scalar(); }
  bool scalar() {
    value(false);
    return true;
  }
};
}  // namespace

namespace {
void skip_blanks(std::string_view& r) {
  while (!r.empty() && (r.front() == ' ' || r.front() == '\t')) r.remove_prefix(1);
}
// `key` (a literal) at `at` <= data.size(). Its length is a constant, so the compare is a
// few inline loads, not a call.
template <std::size_t N>
bool key_at(std::string_view data, std::size_t at, const char (&key)[N]) {
  constexpr std::size_t n = N - 1;
  return data.size() - at >= n && std::memcmp(data.data() + at, key, n) == 0;
}
// What follows `key` at `at` (blanks skipped); empty when `key` is not there.
template <std::size_t N>
std::string_view after_key(std::string_view data, std::size_t at, const char (&key)[N]) {
  if (!key_at(data, at, key)) return {};
  auto r = data.substr(at + N - 1);
  skip_blanks(r);
  return r;
}
// `key` at `at`, then a colon and a value that is a non-empty string.
template <std::size_t N>
bool text_value(std::string_view data, std::size_t at, const char (&key)[N]) {
  auto r = after_key(data, at, key);
  if (r.empty() || r.front() != ':') return false;
  r.remove_prefix(1);
  skip_blanks(r);
  return r.size() >= 2 && r[0] == '"' && r[1] != '"';
}
// The value of the last "usage" key (blanks skipped), found from the end by its 'u' (OpenAI
// puts usage last); nullopt when there is none.
std::optional<std::string_view> last_usage_value(std::string_view data) {
  for (std::size_t end = data.size(); end > 0;) {
    const void* u = ::memrchr(data.data(), 'u', end);
    if (!u) break;
    auto at = static_cast<std::size_t>(static_cast<const char*>(u) - data.data());
    end = at;
    if (at == 0 || data[at - 1] != '"') continue;
    if (at >= 2 && data[at - 2] == '\\') continue;  // an escaped quote: inside a string
    auto r = after_key(data, at, "usage\"");
    if (r.empty() || r.front() != ':') continue;
    r.remove_prefix(1);
    skip_blanks(r);
    return r;
  }
  return std::nullopt;
}
}  // namespace

std::optional<Usage> usage_of_text(std::string_view text) {
  if (auto value = last_usage_value(text)) {
    json::parse_options opts;
    opts.max_depth = kMaxDepth;
    json::basic_parser<UsageScan> p(opts);
    boost::system::error_code ec;
    p.write_some(true, value->data(), value->size(), ec);  // stops after one complete value
    if (!ec && p.done() && p.handler().is_object) {
      Usage u = p.handler().u;
      if (u.total_tokens == 0) u.total_tokens = u.prompt_tokens + u.completion_tokens;
      return u;
    }
  }
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return usage_of(v);
}

bool has_empty_choices_text(std::string_view text) {
  json::parse_options opts;
  opts.max_depth = kMaxDepth;
  json::basic_parser<ChoicesScan> p(opts);
  boost::system::error_code ec;
  auto used = p.write_some(false, text.data(), text.size(), ec);
  const auto& h = p.handler();
  return !ec && used == text.size() && h.top_object && h.seen && h.is_array && h.items == 0;
}

bool is_usage_only_text(std::string_view text) {
  return has_empty_choices_text(text) && usage_of_text(text).has_value();
}

namespace {
// Calls f(i) for each i from `i` on, in order, where data[i] is a quote and data[i + 1] is
// 'd' or 'u' (a "delta" or "usage" key may start there). Sixteen bytes at a time where SSE2
// is there: an event has about 30 quotes, and one or two of these.
template <class F>
void for_each_d_or_u_quote(std::string_view data, F&& f, std::size_t i = 0) {
  const char* p = data.data();
  const std::size_t n = data.size();
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i d = _mm_set1_epi8('d');
  const __m128i u = _mm_set1_epi8('u');
  for (; i + 17 <= n; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + 1));
    const __m128i letter = _mm_or_si128(_mm_cmpeq_epi8(b, d), _mm_cmpeq_epi8(b, u));
    auto m =
        static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, quote), letter)));
    while (m != 0) {
      f(i + static_cast<std::size_t>(__builtin_ctz(m)));
      m &= m - 1;
    }
  }
#endif
  for (; i + 1 < n; ++i) {
    if (p[i] == '"' && (p[i + 1] == 'd' || p[i + 1] == 'u')) f(i);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define STRATUS_SCAN_AVX2 1
// The same, thirty-two bytes at a time, for CPUs with AVX2 (checked at run time).
template <class F>
__attribute__((target("avx2"))) void for_each_d_or_u_quote_avx2(std::string_view data, F&& f) {
  const char* p = data.data();
  const std::size_t n = data.size();
  std::size_t i = 0;
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i d = _mm256_set1_epi8('d');
  const __m256i u = _mm256_set1_epi8('u');
  for (; i + 33 <= n; i += 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 1));
    const __m256i letter = _mm256_or_si256(_mm256_cmpeq_epi8(b, d), _mm256_cmpeq_epi8(b, u));
    auto m = static_cast<unsigned>(
        _mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(a, quote), letter)));
    while (m != 0) {
      f(i + static_cast<std::size_t>(__builtin_ctz(m)));
      m &= m - 1;
    }
  }
  for_each_d_or_u_quote(data, f, i);
}
#endif

// From `from` on, a key that makes an event content: a non-empty text in content,
// reasoning_content, reasoning or refusal, or a tool_calls key.
bool has_content_key(std::string_view data, std::size_t from) {
  const char* p = data.data() + from;
  const char* end = data.data() + data.size();
  while (p < end) {
    const void* q = std::memchr(p, '"', static_cast<std::size_t>(end - p));
    if (!q) return false;
    auto at = static_cast<std::size_t>(static_cast<const char*>(q) - data.data()) + 1;
    p = static_cast<const char*>(q) + 1;
    if (at >= data.size()) return false;
    switch (data[at]) {
      case 'c':
        if (text_value(data, at, "content\"")) return true;
        break;
      case 't': {
        auto r = after_key(data, at, "tool_calls\"");  // a key (a finish_reason value is not)
        if (!r.empty() && r.front() == ':') return true;
        break;
      }
      case 'r':
        if (text_value(data, at, "reasoning_content\"") || text_value(data, at, "reasoning\"") ||
            text_value(data, at, "refusal\"")) {
          return true;
        }
        break;
      default:
        break;
    }
  }
  return false;
}
}  // namespace

namespace {
// Where the first "delta" key ends and whether the last "usage" key's value is an object,
// from the candidates `each` finds (one pass; OpenAI puts usage last; an escaped quote is
// inside a string and does not count).
struct KeyScan {
  std::string_view data;
  std::size_t delta = std::string_view::npos;
  bool usage = false;
  void operator()(std::size_t quote) {
    const std::size_t at = quote + 1;
    if (data[at] == 'd') {
      if (delta == std::string_view::npos && key_at(data, at, "delta\"")) delta = at + 6;
      return;
    }
    if (quote > 0 && data[quote - 1] == '\\') return;
    auto r = after_key(data, at, "usage\"");
    if (r.empty() || r.front() != ':') return;
    r.remove_prefix(1);
    skip_blanks(r);
    usage = !r.empty() && r.front() == '{';
  }
  EventTraits traits() const {
    EventTraits t;
    t.usage = usage;
    t.content = has_content_key(data, delta == std::string_view::npos ? 0 : delta);
    return t;
  }
};

#if defined(STRATUS_SCAN_AVX2)
__attribute__((target("avx2"))) EventTraits scan_event_avx2(std::string_view data) {
  KeyScan scan{data};
  for_each_d_or_u_quote_avx2(data, scan);
  return scan.traits();
}
#endif
}  // namespace

// Content is looked for from the first "delta" key on, or in the whole event when there is
// none; usage is the value of the last "usage" key.
EventTraits scan_event_sse2(std::string_view data) {
  KeyScan scan{data};
  for_each_d_or_u_quote(data, scan);
  return scan.traits();
}

EventTraits scan_event(std::string_view data) {
#if defined(STRATUS_SCAN_AVX2)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return scan_event_avx2(data);
#endif
  return scan_event_sse2(data);
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
