// The Gemini Developer API and Vertex AI adapters: URLs and embeddings here, the shared
// generateContent translation in gemini_request.cpp / gemini_response.cpp.
#include "providers/gemini.h"

#include <boost/json.hpp>

#include "providers/common.h"
#include "providers/gemini_wire.h"

namespace stratus::providers {

namespace json = boost::json;
using core::ErrorKind;

namespace {

std::string model_segment(std::string_view model) {
  if (model.starts_with("models/")) model.remove_prefix(7);
  return encode_path_segment(model);
}

json::object text_content(const std::string& text) {
  return {{"parts", json::array{json::object{{"text", text}}}}};
}

std::vector<float> floats(const json::value* values) {
  std::vector<float> out;
  if (!values || !values->is_array()) return out;
  out.reserve(values->get_array().size());
  for (const auto& x : values->get_array()) {
    out.push_back(x.is_double()  ? static_cast<float>(x.get_double())
                  : x.is_int64() ? static_cast<float>(x.get_int64())
                                 : 0.0f);
  }
  return out;
}

class GoogleAdapter : public Adapter {
 public:
  Capabilities capabilities() const override {
    Capabilities c;
    c.embeddings = true;
    return c;
  }

  core::Result<core::UpstreamRequest> encode_chat(const api::Chat& chat, const Deployment& d,
                                                  const CallContext&) const override {
    auto base = model_url(d);
    if (!base) return std::unexpected(base.error());
    auto body = gemini::encode_request(chat, d.model);
    if (!body) return std::unexpected(body.error());
    core::UpstreamRequest req;
    req.url = *base + (chat.stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
    req.headers = {{"content-type", "application/json"}};
    req.body = json::serialize(*body);
    return req;
  }

  core::Result<api::ChatResponse> decode_chat(const core::UpstreamResponse& res,
                                              const Deployment& d,
                                              const CallContext& ctx) const override {
    if (res.status < 200 || res.status > 299) return std::unexpected(decode_error(res, d));
    auto body = parse_json(res.body);
    if (!body) return std::unexpected(unreadable(res, d));
    return gemini::decode_response(*body, res, d.provider, ctx);
  }

  std::unique_ptr<StreamDecoder> stream_decoder(const api::Chat&, const Deployment& d,
                                                const CallContext& ctx) const override {
    return gemini::make_stream_decoder(d.provider, ctx);
  }

  core::Error decode_error(const core::UpstreamResponse& res, const Deployment& d) const override {
    return gemini::decode_error(res, d.provider);
  }

  core::Result<api::EmbeddingsResponse> decode_embeddings(const core::UpstreamResponse& res,
                                                          const Deployment& d) const override {
    if (res.status < 200 || res.status > 299) return std::unexpected(decode_error(res, d));
    auto body = parse_json(res.body);
    if (!body || !body->is_object()) return std::unexpected(unreadable(res, d));
    const auto& o = body->get_object();
    api::EmbeddingsResponse out;
    if (const auto* one = o.if_contains("embedding"); one && one->is_object()) {
      out.vectors.push_back(floats(one->get_object().if_contains("values")));
    } else if (const auto* many = o.if_contains("embeddings"); many && many->is_array()) {
      for (const auto& e : many->get_array()) {
        out.vectors.push_back(
            floats(e.is_object() ? e.get_object().if_contains("values") : nullptr));
      }
    } else if (const auto* preds = o.if_contains("predictions"); preds && preds->is_array()) {
      decode_predictions(preds->get_array(), out);
    } else {
      return std::unexpected(unreadable(res, d));
    }
    if (out.usage.prompt_tokens == 0) {
      out.usage = gemini::usage_of(o.if_contains("usageMetadata"));
    }
    out.usage.total_tokens = out.usage.prompt_tokens;
    return out;
  }

 protected:
  // Everything before ":generateContent", ":embedContent", ...
  virtual core::Result<std::string> model_url(const Deployment& d) const = 0;

  static core::Error unreadable(const core::UpstreamResponse& res, const Deployment& d) {
    auto e =
        core::Error::make(ErrorKind::upstream, "provider '" + d.provider + "': unreadable answer");
    e.upstream_status = res.status;
    return e;
  }

  static core::Result<void> check_inputs(const api::Embeddings& req) {
    if (req.inputs.empty()) {
      return core::fail(ErrorKind::invalid_request, "input must not be empty", "input");
    }
    return {};
  }

 private:
  // Vertex :predict → predictions[].embeddings{values, statistics.token_count}.
  static void decode_predictions(const json::array& preds, api::EmbeddingsResponse& out) {
    for (const auto& p : preds) {
      const json::object* emb = nullptr;
      if (const auto* po = p.if_object()) {
        if (const auto* e = po->if_contains("embeddings")) emb = e->if_object();
      }
      out.vectors.push_back(floats(emb ? emb->if_contains("values") : nullptr));
      if (!emb) continue;
      if (const auto* st = emb->if_contains("statistics"); st && st->is_object()) {
        if (const auto* n = st->get_object().if_contains("token_count"); n && n->is_number()) {
          out.usage.prompt_tokens += static_cast<long>(n->to_number<double>());
        }
      }
    }
  }
};

// Gemini Developer API (generativelanguage.googleapis.com), x-goog-api-key added by auth::sign.
class GeminiAdapter final : public GoogleAdapter {
 public:
  std::string_view name() const override { return "gemini"; }

  // One input → :embedContent; several → :batchEmbedContents (one request per input).
  core::Result<core::UpstreamRequest> encode_embeddings(const api::Embeddings& req,
                                                        const Deployment& d) const override {
    if (auto r = check_inputs(req); !r) return std::unexpected(r.error());
    const auto base = model_url(d);
    auto request_for = [&](const std::string& input, bool with_model) {
      json::object r;
      if (with_model) r["model"] = "models/" + model_segment(d.model);
      r["content"] = text_content(input);
      if (req.dimensions) r["outputDimensionality"] = *req.dimensions;
      return r;
    };
    core::UpstreamRequest out;
    out.headers = {{"content-type", "application/json"}};
    if (req.inputs.size() == 1) {
      out.url = *base + ":embedContent";
      out.body = json::serialize(request_for(req.inputs[0], false));
      return out;
    }
    json::array requests;
    for (const auto& input : req.inputs) requests.push_back(request_for(input, true));
    out.url = *base + ":batchEmbedContents";
    out.body = json::serialize(json::object{{"requests", std::move(requests)}});
    return out;
  }

 protected:
  core::Result<std::string> model_url(const Deployment& d) const override {
    const std::string version = d.api_version.empty() ? "v1beta" : d.api_version;
    return d.base_url + "/" + version + "/models/" + model_segment(d.model);
  }
};

// Vertex AI ({region}-aiplatform.googleapis.com), bearer token added by auth::sign.
class VertexAdapter final : public GoogleAdapter {
 public:
  std::string_view name() const override { return "vertex"; }

  // :predict with one instance per input (text-embedding-00x and gemini-embedding-001 share it;
  // Vertex's embedContent serves only the newest models).
  core::Result<core::UpstreamRequest> encode_embeddings(const api::Embeddings& req,
                                                        const Deployment& d) const override {
    if (auto r = check_inputs(req); !r) return std::unexpected(r.error());
    auto base = model_url(d);
    if (!base) return std::unexpected(base.error());
    json::array instances;
    for (const auto& input : req.inputs) instances.push_back(json::object{{"content", input}});
    json::object body{{"instances", std::move(instances)}};
    if (req.dimensions) body["parameters"] = {{"outputDimensionality", *req.dimensions}};
    core::UpstreamRequest out;
    out.url = *base + ":predict";
    out.headers = {{"content-type", "application/json"}};
    out.body = json::serialize(body);
    return out;
  }

 protected:
  core::Result<std::string> model_url(const Deployment& d) const override {
    if (d.project.empty() || d.region.empty()) {
      return core::fail(ErrorKind::internal, "deployment of provider '" + d.provider +
                                                 "' (vertex) needs both project and region");
    }
    const std::string version = d.api_version.empty() ? "v1" : d.api_version;
    return d.base_url + "/" + version + "/projects/" + encode_path_segment(d.project) +
           "/locations/" + encode_path_segment(d.region) + "/publishers/google/models/" +
           model_segment(d.model);
  }
};

}  // namespace

const Adapter& gemini_adapter() {
  static const GeminiAdapter adapter;
  return adapter;
}

const Adapter& vertex_adapter() {
  static const VertexAdapter adapter;
  return adapter;
}

}  // namespace stratus::providers
