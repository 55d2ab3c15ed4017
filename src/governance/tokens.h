// Token estimates made before admission, when no tokenizer result exists yet: the prompt of an
// OpenAI chat or embeddings request body, and the most output the request may produce. Rate
// limits take the estimate at admission and are reconciled with the provider's usage after.
//
// The estimate (no BPE vocabulary ships with Stratus, so there is no exact count):
//   text     = ceil(ASCII bytes / 4) + 1 per non-ASCII code point (CJK runs about one token per
//              character; accented Latin and Cyrillic are overestimated, which only makes the
//              admission stricter)
//   message  = per_message (4: <|start|>role ... <|end|>) + text of content, name (+per_name),
//              tool_calls / function_call (per_tool_call + name + arguments), refusal
//   request  = per_request (3: the reply is primed with <|start|>assistant) + messages
//              + tools / functions / response_format JSON schema: serialized JSON bytes / 4 +
//              per_tool each
//   parts    = image_url: per_image (765: a 1024x1024 image at detail high or auto) or
//              per_image_low (85) at detail low; input_audio: per_audio; file: per_file
// Against the prompt_tokens OpenAI's API returned for the cookbook's "How to count tokens with
// tiktoken" examples (tests/data/governance/openai_token_counts.json): the six-message
// conversation is estimated at 160 tokens, +24% over cl100k_base's 129 and +29% over
// o200k_base's 124; the get_current_weather tool request at 146, +39% over 105 and +45% over 101
// (JSON schemas are wordier than the form the model sees). The estimate errs high on purpose:
// admission gets stricter, never looser, and TPM is reconciled with the real usage after.
// It never reads the network or a file.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string_view>

namespace stratus::governance {

struct EstimateOptions {
  long default_max_output = 4096;  // worst-case output when the request sets no max
  long per_request = 3;
  long per_message = 4;
  long per_name = 1;
  long per_tool = 8;
  long per_tool_call = 8;
  long per_image = 765;
  long per_image_low = 85;
  long per_audio = 1000;
  long per_file = 1000;
};

// Estimated tokens of one UTF-8 text.
long estimate_text_tokens(std::string_view utf8);

// Estimated prompt tokens of an OpenAI chat completions request body. A body that is not an
// object, or messages that are not an array, count as 0 (the codec rejects those first).
long estimate_chat_prompt_tokens(const boost::json::value& body, const EstimateOptions& opts = {});

// Estimated input tokens of an OpenAI embeddings request body: `input` as a string, an array of
// strings, an array of token ids (counted exactly) or an array of such arrays.
long estimate_embeddings_tokens(const boost::json::value& body);

// The most completion tokens the request may be billed for: max_completion_tokens, else
// max_tokens, else opts.default_max_output; times `n` (choices) when n > 1.
long worst_case_output_tokens(const boost::json::value& body, const EstimateOptions& opts = {});

struct ChatEstimate {
  long prompt = 0;      // estimate_chat_prompt_tokens
  long max_output = 0;  // worst_case_output_tokens
};

// Both chat estimates in one pass over the body's text, with no JSON tree: the same numbers as
// the functions above for the usual request (messages whose content, name and refusal are
// strings, numeric max_completion_tokens / max_tokens / n). nullopt for a body with anything
// else that counts (content parts, tool calls, tools, functions, response_format, a duplicate
// key) or that is not valid JSON: the tree functions decide those.
std::optional<ChatEstimate> estimate_chat_text(std::string_view body,
                                               const EstimateOptions& opts = {});

}  // namespace stratus::governance
