// Checks JSON against a shape of a botocore service model (structures and their required and
// known members, unions, documents, lists, maps, enums, lengths, ranges, base64 blobs), so that
// golden request bodies, hand-written fixtures and mock answers are shaped as the service says.
#pragma once

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "core/base64.h"

namespace stratus::providers::testing {

class ShapeChecker {
 public:
  explicit ShapeChecker(const boost::json::value& model)
      : shapes_(model.at("shapes").as_object()) {}

  // "" when `v` conforms to `shape`, else the first problem with its JSON path.
  std::string check(const boost::json::value& v, std::string_view shape,
                    const std::string& path = "$") const {
    const auto* s = shapes_.if_contains(shape);
    if (!s) return path + ": unknown shape " + std::string(shape);
    const auto& o = s->as_object();
    const std::string_view type = o.at("type").as_string();
    if (type == "structure") return structure(v, o, path);
    if (type == "list") {
      if (!v.is_array()) return path + ": not a list";
      if (auto e = range(o, static_cast<double>(v.as_array().size()), path); !e.empty()) return e;
      const std::string_view member = o.at("member").at("shape").as_string();
      for (std::size_t i = 0; i < v.as_array().size(); ++i) {
        auto e = check(v.as_array()[i], member, path + "[" + std::to_string(i) + "]");
        if (!e.empty()) return e;
      }
      return {};
    }
    if (type == "map") {
      if (!v.is_object()) return path + ": not a map";
      const std::string_view value = o.at("value").at("shape").as_string();
      for (auto& [k, x] : v.as_object()) {
        auto e = check(x, value, path + "." + std::string(k));
        if (!e.empty()) return e;
      }
      return {};
    }
    if (type == "string") {
      if (!v.is_string()) return path + ": not a string";
      if (auto* en = o.if_contains("enum")) {
        for (auto& x : en->as_array()) {
          if (x.as_string() == v.as_string()) return {};
        }
        return path + ": '" + std::string(v.as_string()) + "' is not in the enum of " +
               std::string(shape);
      }
      return range(o, static_cast<double>(v.as_string().size()), path);
    }
    if (type == "integer" || type == "long") {
      if (!v.is_int64() && !v.is_uint64()) return path + ": not an integer";
      return range(o, v.to_number<double>(), path);
    }
    if (type == "float" || type == "double") {
      if (!v.is_number()) return path + ": not a number";
      return range(o, v.to_number<double>(), path);
    }
    if (type == "boolean") return v.is_bool() ? "" : path + ": not a boolean";
    if (type == "blob") {
      if (!v.is_string() || !core::base64_decode(v.as_string())) return path + ": not base64";
      return range(o, static_cast<double>(v.as_string().size()), path);
    }
    if (type == "timestamp") return v.is_number() || v.is_string() ? "" : path + ": not a time";
    return path + ": unhandled shape type " + std::string(type);
  }

 private:
  static std::string range(const boost::json::object& o, double x, const std::string& path) {
    if (auto* mn = o.if_contains("min"); mn && x < mn->to_number<double>()) {
      return path + ": below the minimum " + boost::json::serialize(*mn);
    }
    if (auto* mx = o.if_contains("max"); mx && x > mx->to_number<double>()) {
      return path + ": above the maximum " + boost::json::serialize(*mx);
    }
    return {};
  }

  std::string structure(const boost::json::value& v, const boost::json::object& o,
                        const std::string& path) const {
    if (o.contains("document")) return {};
    if (!v.is_object()) return path + ": not an object";
    const auto& members = o.at("members").as_object();
    for (auto& [k, x] : v.as_object()) {
      const auto* m = members.if_contains(k);
      if (!m || m->as_object().contains("location")) {
        return path + ": unknown member '" + std::string(k) + "'";
      }
      auto e = check(x, m->at("shape").as_string(), path + "." + std::string(k));
      if (!e.empty()) return e;
    }
    if (auto* req = o.if_contains("required")) {
      for (auto& r : req->as_array()) {
        const auto& m = members.at(r.as_string()).as_object();
        if (!m.contains("location") && !v.as_object().contains(r.as_string())) {
          return path + ": required member '" + std::string(r.as_string()) + "' is missing";
        }
      }
    }
    if (o.contains("union") && v.as_object().size() != 1) {
      return path + ": a union needs exactly one member";
    }
    return {};
  }

  const boost::json::object& shapes_;
};

}  // namespace stratus::providers::testing
