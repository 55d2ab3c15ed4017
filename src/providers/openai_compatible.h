// The OpenAI wire format: OpenAI itself and every OpenAI-compatible service (Groq, Together,
// Mistral, DeepSeek, xAI, Fireworks, OpenRouter, vLLM, Ollama, llama.cpp, OCI Generative AI).
// The gateway normally uses the pass-through fast path for it; the translating half (IR ↔ OpenAI
// JSON) is the reference the other adapters are compared with, and the error mapping is used on
// both paths. Azure OpenAI reuses it (azure.h).
#pragma once

#include "providers/adapter.h"

namespace stratus::providers {

const Adapter& openai_adapter();

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
