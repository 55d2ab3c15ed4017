// The parts of the Bedrock adapter (bedrock.h), one file each: Converse request encoding,
// response and error decoding, the event-stream decoder, InvokeModel embeddings.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/upstream.h"
#include "providers/adapter.h"

namespace stratus::providers::bedrock {

// {base_url}/model/{model id percent-encoded once}/{op}.
std::string model_url(const Deployment& d, std::string_view op);

// The Converse (and ConverseStream: same body) request body, or a 400 for what Converse cannot
// express.
core::Result<std::string> converse_body(const api::Chat& chat);

// stopReason → finish_reason: end_turn, stop_sequence (and malformed_*, unknown) → stop;
// max_tokens, model_context_window_exceeded → length; tool_use → tool_calls;
// guardrail_intervened, content_filtered → content_filter.
api::FinishReason finish_of(std::string_view stop_reason);
// TokenUsage → Usage. inputTokens excludes cache reads and writes, so prompt_tokens (OpenAI's,
// which includes them) is their sum; total = prompt + completion.
api::Usage usage_of(const boost::json::object& usage);

core::Result<api::ChatResponse> decode_converse(const core::UpstreamResponse& res,
                                                std::string_view provider);
core::Error decode_error(const core::UpstreamResponse& res, std::string_view provider);
// An exception event inside a 200 event stream (`:exception-type`, JSON payload {"message"}).
core::Error stream_exception(std::string_view type, std::string_view payload,
                             std::string_view provider);

std::unique_ptr<StreamDecoder> make_stream_decoder(std::string provider);

core::Result<core::UpstreamRequest> encode_embeddings(const api::Embeddings& req,
                                                      const Deployment& d);
core::Result<api::EmbeddingsResponse> decode_embeddings(const core::UpstreamResponse& res,
                                                        const Deployment& d);

}  // namespace stratus::providers::bedrock
