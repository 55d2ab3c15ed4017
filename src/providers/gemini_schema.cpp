// OpenAI tool parameters (JSON Schema) → Gemini's `Schema` (a select subset of OpenAPI 3.0):
// Gemini answers 400 "Unknown name" for keys outside it ($schema, additionalProperties,
// strict, $defs, examples, ...), so only its keys are kept.
#include <boost/json.hpp>

#include "providers/gemini_wire.h"

namespace stratus::providers::gemini {

namespace json = boost::json;
using core::ErrorKind;

namespace {

// Schema keys copied as they are.
constexpr std::string_view kKeptKeys[] = {
    "title",    "description", "nullable",  "enum",          "required",         "minItems",
    "maxItems", "minLength",   "maxLength", "minProperties", "maxProperties",    "pattern",
    "minimum",  "maximum",     "example",   "default",       "propertyOrdering",
};
// The formats Gemini accepts; others ("email", "uri", ...) make it answer 400.
constexpr std::string_view kFormats[] = {"float", "double", "int32", "int64", "enum", "date-time"};
constexpr int kMaxDepth = 32;

template <std::size_t N>
bool one_of(std::string_view s, const std::string_view (&set)[N]) {
  for (auto x : set) {
    if (x == s) return true;
  }
  return false;
}

bool is_null_type(const json::value& v) {
  const auto* o = v.if_object();
  if (!o || o->size() != 1) return false;
  const auto* t = o->if_contains("type");
  return t && t->is_string() && t->get_string() == "null";
}

class SchemaTranslator {
 public:
  explicit SchemaTranslator(const json::value& root) : root_(root) {}

  core::Result<json::value> translate(const json::value& v, int depth) {
    if (depth > kMaxDepth) return fail("the schema nests too deeply (a recursive $ref?)");
    if (v.is_bool()) return json::object{};  // `true`: anything
    if (!v.is_object()) return fail("a schema must be a JSON object");
    const auto& in = v.get_object();
    if (const auto* ref = in.if_contains("$ref")) return translate_ref(*ref, in, depth);
    json::object out;
    for (const auto& [key, value] : in) {
      if (auto r = translate_key(key, value, out, depth); !r) return std::unexpected(r.error());
    }
    if (const auto* c = in.if_contains("const"); c && !out.contains("enum")) {
      out["enum"] = json::array{*c};
    }
    return out;
  }

 private:
  static std::unexpected<core::Error> fail(std::string message) {
    return core::fail(ErrorKind::invalid_request,
                      "tool parameters cannot be translated for Gemini: " + message);
  }

  // Local references only ("#/$defs/Name", "#/definitions/Name", any JSON pointer into the
  // root); sibling keys such as description override the target's.
  core::Result<json::value> translate_ref(const json::value& ref, const json::object& in,
                                          int depth) {
    if (!ref.is_string() || !ref.get_string().starts_with("#")) {
      return fail("only local $ref values are supported");
    }
    boost::system::error_code ec;
    const auto* target = root_.find_pointer(std::string_view(ref.get_string()).substr(1), ec);
    if (!target) return fail("unresolvable $ref '" + std::string(ref.get_string()) + "'");
    auto out = translate(*target, depth + 1);
    if (!out) return out;
    for (std::string_view key : {"description", "title", "default"}) {
      if (const auto* v = in.if_contains(key)) out->as_object()[key] = *v;
    }
    return out;
  }

  core::Result<void> translate_key(std::string_view key, const json::value& value,
                                   json::object& out, int depth) {
    if (key == "type") {
      type_of(value, out);
    } else if (key == "format") {
      if (value.is_string() && one_of(value.get_string(), kFormats)) out[key] = value;
    } else if (key == "properties" && value.is_object()) {
      json::object props;
      for (const auto& [name, sub] : value.get_object()) {
        auto s = translate(sub, depth + 1);
        if (!s) return std::unexpected(s.error());
        props[name] = std::move(*s);
      }
      out[key] = std::move(props);
    } else if (key == "items" && value.is_object()) {
      auto s = translate(value, depth + 1);
      if (!s) return std::unexpected(s.error());
      out[key] = std::move(*s);
    } else if ((key == "anyOf" || key == "oneOf") && value.is_array()) {
      return any_of(value.get_array(), out, depth);
    } else if (one_of(key, kKeptKeys)) {
      out[key] = value;
    }
    return {};
  }

  // ["string", "null"] → type STRING + nullable; several types → anyOf.
  static void type_of(const json::value& value, json::object& out) {
    if (!value.is_array()) {
      out["type"] = value;
      return;
    }
    json::array types;
    for (const auto& t : value.get_array()) {
      if (t.is_string() && t.get_string() == "null") {
        out["nullable"] = true;
      } else {
        types.push_back(t);
      }
    }
    if (types.size() == 1) {
      out["type"] = types[0];
    } else if (types.size() > 1) {
      json::array alternatives;
      for (auto& t : types) alternatives.push_back(json::object{{"type", t}});
      out["anyOf"] = std::move(alternatives);
    }
  }

  // anyOf/oneOf (Gemini reads them alike); a {"type":"null"} member becomes nullable, and a
  // single remaining member is merged in (the usual Optional[X]).
  core::Result<void> any_of(const json::array& members, json::object& out, int depth) {
    json::array kept;
    for (const auto& m : members) {
      if (is_null_type(m)) {
        out["nullable"] = true;
        continue;
      }
      auto s = translate(m, depth + 1);
      if (!s) return std::unexpected(s.error());
      kept.push_back(std::move(*s));
    }
    if (kept.size() == 1) {
      for (auto& [k, v] : kept[0].as_object()) {
        if (!out.contains(k)) out[k] = v;
      }
    } else if (!kept.empty()) {
      out["anyOf"] = std::move(kept);
    }
    return {};
  }

  const json::value& root_;
};

}  // namespace

core::Result<json::value> function_schema(const json::value& json_schema) {
  return SchemaTranslator(json_schema).translate(json_schema, 0);
}

}  // namespace stratus::providers::gemini
