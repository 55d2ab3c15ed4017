// Azure OpenAI adapter: OpenAI JSON (openai_compatible.h) with Azure's URLs and errors.
#include "providers/azure.h"

#include <boost/json.hpp>

#include "providers/common.h"
#include "providers/openai_compatible.h"

namespace stratus::providers {

namespace json = boost::json;
using core::ErrorKind;

namespace {

const json::object* object_at(const json::object& o, std::string_view a, std::string_view b = {}) {
  auto* v = o.if_contains(a);
  if (!v && !b.empty()) v = o.if_contains(b);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

std::string string_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return {};
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_number()) return json::serialize(*v);
  return {};
}

// The categories a content filter flagged: {"hate":{"filtered":true,...},...} → "hate, violence".
std::string filtered_categories(const json::object& results) {
  std::string out;
  for (auto& [name, v] : results) {
    if (!v.is_object()) continue;
    auto* f = v.get_object().if_contains("filtered");
    if (f && f->is_bool() && f->get_bool()) out += (out.empty() ? "" : ", ") + std::string(name);
  }
  return out;
}

class AzureAdapter final : public OpenAIWireAdapter {
 public:
  std::string_view name() const override { return "azure"; }

  std::optional<std::string> passthrough_url(const Deployment& d, Endpoint ep) const override {
    std::string_view op = ep == Endpoint::chat ? "/chat/completions" : "/embeddings";
    if (d.api_version == "v1") return d.base_url + "/openai/v1" + std::string(op);
    return d.base_url + "/openai/deployments/" + encode_path_segment(d.model) + std::string(op) +
           "?api-version=" + encode_path_segment(d.api_version);
  }

  core::Error decode_error(const core::UpstreamResponse& res, const Deployment& d) const override {
    auto v = parse_json(res.body);
    const json::object* err = nullptr;
    if (v && v->is_object()) err = object_at(v->get_object(), "error");
    if (!err) return openai_decode_error(res, d.provider);
    std::string code = string_at(*err, "code");
    std::string message = string_at(*err, "message");
    if (message.empty()) message = "answered " + std::to_string(res.status);
    // Content filter: code "content_filter" with innererror.content_filter_result (the service)
    // or inner_error.content_filter_results (the REST spec's spelling).
    const json::object* inner = object_at(*err, "innererror", "inner_error");
    const json::object* results =
        inner ? object_at(*inner, "content_filter_result", "content_filter_results") : nullptr;
    std::string inner_code = inner ? string_at(*inner, "code") : "";
    if (code == "content_filter" || inner_code == "ResponsibleAIPolicyViolation" || results) {
      auto categories = results ? filtered_categories(*results) : "";
      auto e = provider_error(
          res, d.provider, message + (categories.empty() ? "" : " (filtered: " + categories + ")"),
          ErrorKind::invalid_request);
      e.code = "content_filter";
      e.param = "prompt";
      e.retryable = false;
      return e;
    }
    // Azure sends string codes: "429", "DeploymentNotFound", "context_length_exceeded", ...
    std::optional<ErrorKind> kind;
    if (code == "429") kind = ErrorKind::rate_limit;
    if (code == "DeploymentNotFound") kind = ErrorKind::not_found;
    if (code == "context_length_exceeded") kind = ErrorKind::context_length;
    if (code == "401" || code == "Unauthorized") kind = ErrorKind::authentication;
    auto e = provider_error(res, d.provider, message, kind);
    if (e.kind == ErrorKind::context_length) e.code = "context_length_exceeded";
    if (e.kind == ErrorKind::rate_limit) e.retryable = true;
    if (e.code.empty() && !code.empty() && res.status < 500) e.code = code;
    return e;
  }
};

}  // namespace

const Adapter& azure_adapter() {
  static const AzureAdapter a;
  return a;
}

}  // namespace stratus::providers
