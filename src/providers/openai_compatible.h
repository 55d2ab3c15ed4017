// The OpenAI wire format: OpenAI itself and every OpenAI-compatible service (Groq, Together,
// Mistral, DeepSeek, xAI, Fireworks, OpenRouter, vLLM, Ollama, llama.cpp, OCI Generative AI).
// The gateway normally uses the pass-through fast path for it; the translating half (IR ↔ OpenAI
// JSON) is the reference the other adapters are compared with, and the error mapping is used on
// both paths. Azure OpenAI reuses it (azure.h).
#pragma once

#include "providers/adapter.h"

namespace stratus::providers {

const Adapter& openai_adapter();

// The OpenAI wire format behind some URLs: every method but name() and passthrough_url() (and
// decode_error, for services with their own error shapes) is shared by OpenAI and Azure.
class OpenAIWireAdapter : public Adapter {
 public:
  Capabilities capabilities() const override { return {.embeddings = true}; }
  core::Result<core::UpstreamRequest> encode_chat(const api::Chat& chat, const Deployment& d,
                                                  const CallContext& ctx) const override;
  core::Result<api::ChatResponse> decode_chat(const core::UpstreamResponse& res,
                                              const Deployment& d,
                                              const CallContext& ctx) const override;
  std::unique_ptr<StreamDecoder> stream_decoder(const api::Chat& chat, const Deployment& d,
                                                const CallContext& ctx) const override;
  core::Error decode_error(const core::UpstreamResponse& res, const Deployment& d) const override;
  core::Result<core::UpstreamRequest> encode_embeddings(const api::Embeddings& req,
                                                        const Deployment& d) const override;
  core::Result<api::EmbeddingsResponse> decode_embeddings(const core::UpstreamResponse& res,
                                                          const Deployment& d) const override;
};

// Shared with Azure: OpenAI JSON ↔ IR.
std::string openai_chat_body(const api::Chat& chat, std::string_view model);
core::Result<api::ChatResponse> openai_decode_chat(std::string_view body,
                                                   std::string_view provider);
std::unique_ptr<StreamDecoder> openai_stream_decoder(std::string provider);
// An OpenAI-shaped error body → Error (kind from the status, code context_length_exceeded →
// context_length, Retry-After kept).
core::Error openai_decode_error(const core::UpstreamResponse& res, std::string_view provider);
std::string openai_embeddings_body(const api::Embeddings& req, std::string_view model);
core::Result<api::EmbeddingsResponse> openai_decode_embeddings(std::string_view body,
                                                               std::string_view provider);

}  // namespace stratus::providers
