// Internal to the Gemini adapters (gemini*.cpp): the generateContent translation shared by the
// Gemini Developer API and Vertex AI. Not for use outside src/providers.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "api/chat.h"
#include "core/error.h"
#include "core/upstream.h"
#include "providers/adapter.h"

namespace stratus::providers::gemini {

// The generateContent request body for a chat (contents, systemInstruction, tools, toolConfig,
// generationConfig). `model` is the provider's model id (Gemini 3 models get a placeholder
// thought signature on replayed function calls).
core::Result<boost::json::object> encode_request(const api::Chat& chat, std::string_view model);

// An OpenAI tool's JSON Schema reduced to the OpenAPI subset Gemini's `Schema` accepts: only
// its keys are kept, local $refs are inlined, type arrays become type + nullable, oneOf becomes
// anyOf, const becomes a one-value enum. An error names what could not be translated.
core::Result<boost::json::value> function_schema(const boost::json::value& json_schema);

// A GenerateContentResponse → IR. Tool call ids Gemini leaves out are "call_<request_id>_<n>".
core::Result<api::ChatResponse> decode_response(const boost::json::value& body,
                                                const core::UpstreamResponse& res,
                                                std::string_view provider, const CallContext& ctx);

// Decoder of `streamGenerateContent?alt=sse` bodies.
std::unique_ptr<StreamDecoder> make_stream_decoder(std::string provider, CallContext ctx);

// A google.rpc error ({"error":{code,message,status,details}}, also inside a JSON array) or
// any other non-2xx answer → gateway error.
core::Error decode_error(const core::UpstreamResponse& res, std::string_view provider);

// The same for an error object already parsed (a bare error JSON object inside a stream).
core::Error rpc_error(const boost::json::object& error, const core::UpstreamResponse& res,
                      std::string_view provider);

// Token counts of a usageMetadata object: thoughts count as completion (and reasoning) tokens,
// tool-use prompt tokens as prompt tokens.
api::Usage usage_of(const boost::json::value* usage_metadata);

}  // namespace stratus::providers::gemini
