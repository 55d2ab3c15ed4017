// Amazon Bedrock Runtime: the Converse API (/model/{id}/converse, /converse-stream with AWS
// event-stream frames) for chat, InvokeModel (/model/{id}/invoke) for Titan and Cohere
// embeddings, and Bedrock's error shapes (x-amzn-errortype + {"message"}). Credentials are not
// the adapter's business: auth::sign applies SigV4 (service "bedrock") to the finished request.
//
// Translation choices (what OpenAI asks for that Converse cannot say):
// - system and developer messages, wherever they are, become the top-level `system` blocks;
//   tool results become user turns of toolResult blocks (text content, as the client sent it);
//   consecutive turns of the same role are merged, since Converse requires alternation.
// - images: data URLs only (png, jpeg, gif, webp); an http(s) image URL is a 400, because
//   Converse takes bytes or S3 locations and never fetches URLs.
// - tool_choice auto → {auto:{}}, required → {any:{}}, a function → {tool:{name}}; none → no
//   toolConfig, unless the history holds toolUse/toolResult blocks (Converse then requires
//   toolConfig): the tools are sent without toolChoice and the model may still call one.
//   Tool blocks in the history with no tools declared: tool specs are synthesized from the names
//   used (input schema {"type":"object"}) so that the conversation stays valid.
// - response_format json_schema → outputConfig.textFormat (Bedrock structured output);
//   json_object → 400 (Converse has no schema-less JSON mode). reasoning_effort →
//   outputConfig.effort. n > 1 → 400. seed, frequency/presence penalties, parallel_tool_calls and
//   user are ignored (Converse has no such fields).
// - embeddings: amazon.titan-embed-* takes one input per call (several inputs → 400: the
//   gateway would have to fan out); cohere.embed-* takes up to 96 texts. Usage comes from the
//   x-amzn-bedrock-input-token-count header when present, else Titan's inputTextTokenCount,
//   else (Cohere) an estimate of one token per 4 characters of the echoed texts.
#pragma once

#include <optional>
#include <string_view>

#include "core/error.h"
#include "providers/adapter.h"

namespace stratus::providers {

const Adapter& bedrock_adapter();

// One Bedrock error type (x-amzn-errortype, __type, or a stream's :exception-type; case of the
// first letter ignored): its modeled HTTP status and the gateway's kind.
struct BedrockErrorType {
  std::string_view name;  // "ThrottlingException"
  int status;
  core::ErrorKind kind;
};
const BedrockErrorType* find_bedrock_error_type(std::string_view type);

}  // namespace stratus::providers
