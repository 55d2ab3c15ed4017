// Anthropic Messages API (`POST /v1/messages`): the adapter and the pieces of it that tests and
// the mock dialect reuse.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string_view>

#include "providers/adapter.h"

namespace stratus::providers {

const Adapter& anthropic_adapter();

namespace anthropic {

constexpr std::string_view kDefaultVersion = "2023-06-01";
constexpr std::int64_t kDefaultMaxTokens = 4096;
// The first API version that refuses temperature, top_p and top_k.
constexpr std::string_view kNoSamplingVersion = "2026-10-21";

// The anthropic-version header for this deployment.
inline std::string_view version(const Deployment& d) {
  return d.api_version.empty() ? kDefaultVersion : std::string_view(d.api_version);
}

// The request body for this chat (what encode_chat sends), or a 400 naming the field.
core::Result<boost::json::object> request_body(const api::Chat& chat, const Deployment& d);

// A Messages API `message` object → the IR. `provider` (the config name) names the provider
// in error messages, here and below.
core::Result<api::ChatResponse> decode_message(const boost::json::value& message,
                                               std::string_view provider);

// Shared by the message and stream decoders.
api::FinishReason finish_reason_of(std::string_view stop_reason);
// Adds what this usage object reports (a stream reports input at message_start and output at
// message_delta); cache reads and writes count as prompt tokens.
void read_usage(const boost::json::object& u, api::Usage& usage);

// An Anthropic error `type` ("overloaded_error") with its message → the gateway's error.
// `res` gives the HTTP status (200 for an error event inside a stream) and Retry-After.
core::Error error_for_type(std::string_view type, std::string message,
                           const core::UpstreamResponse& res, std::string_view provider);

std::unique_ptr<StreamDecoder> make_stream_decoder(std::string provider);

}  // namespace anthropic
}  // namespace stratus::providers
