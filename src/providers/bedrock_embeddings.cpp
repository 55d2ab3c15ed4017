// Embeddings through InvokeModel: Amazon Titan Text Embeddings ({inputText, dimensions?} →
// {embedding, inputTextTokenCount}) and Cohere Embed ({texts, input_type} → {embeddings}).
#include <boost/json.hpp>

#include "providers/bedrock_detail.h"
#include "providers/common.h"

namespace stratus::providers::bedrock {

namespace json = boost::json;
using core::ErrorKind;

namespace {

enum class Family { titan, cohere, other };

// Model ids may carry a region prefix ("us.cohere.embed-v4:0") or be ARNs.
Family family_of(std::string_view model) {
  if (model.find("amazon.titan-embed") != std::string_view::npos) return Family::titan;
  if (model.find("cohere.embed") != std::string_view::npos) return Family::cohere;
  return Family::other;
}

constexpr std::size_t kCohereMaxTexts = 96;

core::Result<std::string> titan_body(const api::Embeddings& req) {
  if (req.inputs.size() != 1) {
    return core::fail(ErrorKind::invalid_request,
                      "Bedrock Titan embedding models take one input per request; got " +
                          std::to_string(req.inputs.size()),
                      "input");
  }
  json::object body{{"inputText", req.inputs[0]}};
  if (req.dimensions) body["dimensions"] = *req.dimensions;
  return json::serialize(body);
}

core::Result<std::string> cohere_body(const api::Embeddings& req, std::string_view model) {
  if (req.inputs.empty() || req.inputs.size() > kCohereMaxTexts) {
    return core::fail(ErrorKind::invalid_request,
                      "Bedrock Cohere embedding models take 1 to 96 inputs per request; got " +
                          std::to_string(req.inputs.size()),
                      "input");
  }
  json::array texts;
  for (auto& s : req.inputs) texts.emplace_back(s);
  json::object body{{"texts", std::move(texts)}, {"input_type", "search_document"}};
  if (req.dimensions) {
    if (model.find("embed-v4") == std::string_view::npos) {
      return core::fail(ErrorKind::invalid_request,
                        "this Cohere embedding model has a fixed size: dimensions is only "
                        "supported by cohere.embed-v4",
                        "dimensions");
    }
    body["output_dimension"] = *req.dimensions;
  }
  return json::serialize(body);
}

bool read_vector(const json::value& v, std::vector<float>& out) {
  if (!v.is_array()) return false;
  out.reserve(v.get_array().size());
  for (auto& x : v.get_array()) {
    if (!x.is_number()) return false;
    out.push_back(static_cast<float>(x.to_number<double>()));
  }
  return true;
}

std::optional<long> header_count(const core::UpstreamResponse& res) {
  auto h = res.header("x-amzn-bedrock-input-token-count");
  if (h.empty()) return std::nullopt;
  long n = 0;
  for (char c : h) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

core::Result<core::UpstreamRequest> encode_embeddings(const api::Embeddings& req,
                                                      const Deployment& d) {
  core::Result<std::string> body;
  switch (family_of(d.model)) {
    case Family::titan:
      body = titan_body(req);
      break;
    case Family::cohere:
      body = cohere_body(req, d.model);
      break;
    case Family::other:
      return core::fail(ErrorKind::invalid_request,
                        "provider '" + d.provider +
                            "' (bedrock): embeddings are supported for "
                            "amazon.titan-embed-* and cohere.embed-* models, not '" +
                            d.model + "'",
                        "model", "embeddings_not_supported");
  }
  if (!body) return std::unexpected(body.error());
  core::UpstreamRequest r;
  r.url = model_url(d, "invoke");
  r.headers.emplace_back("content-type", "application/json");
  r.headers.emplace_back("accept", "application/json");
  r.body = std::move(*body);
  return r;
}

core::Result<api::EmbeddingsResponse> decode_embeddings(const core::UpstreamResponse& res,
                                                        const Deployment& d) {
  auto bad = [&] {
    return core::fail(ErrorKind::upstream,
                      "provider '" + d.provider + "' sent unreadable embeddings");
  };
  auto v = parse_json(res.body);
  if (!v || !v->is_object()) return bad();
  auto& o = v->get_object();
  api::EmbeddingsResponse r;
  long tokens = 0;
  if (auto* e = o.if_contains("embedding")) {  // Titan
    r.vectors.emplace_back();
    if (!read_vector(*e, r.vectors.back())) return bad();
    if (auto* n = o.if_contains("inputTextTokenCount"); n && n->is_int64()) {
      tokens = static_cast<long>(n->get_int64());
    }
  } else if (auto* es = o.if_contains("embeddings")) {  // Cohere: a list, or {"float": list}
    const json::value* list = es;
    if (es->is_object()) list = es->get_object().if_contains("float");
    if (!list || !list->is_array()) return bad();
    for (auto& e : list->get_array()) {
      r.vectors.emplace_back();
      if (!read_vector(e, r.vectors.back())) return bad();
    }
    if (auto* texts = o.if_contains("texts"); texts && texts->is_array()) {
      for (auto& t : texts->get_array()) {
        if (t.is_string()) tokens += static_cast<long>((t.get_string().size() + 3) / 4);
      }
    }
  } else {
    return bad();
  }
  r.usage.prompt_tokens = header_count(res).value_or(tokens);
  r.usage.total_tokens = r.usage.prompt_tokens;
  return r;
}

}  // namespace stratus::providers::bedrock
