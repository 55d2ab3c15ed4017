// The Amazon Bedrock Runtime dialect of the mock: POST /model/{modelId}/converse, /converse-stream
// (binary AWS event-stream frames) and /invoke (Titan and Cohere embeddings), every request
// SigV4-verified (service "bedrock", any region) against one access key pair, Converse validation
// and errors in Bedrock's words (x-amzn-errortype + {"message"}).
#pragma once

#include <memory>
#include <string>

#include "mock/dialect.h"

namespace stratus::mock {

struct AwsKeyPair {
  std::string access_key_id;
  std::string secret_access_key;
};

// The documentation's example pair, used when AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are unset.
AwsKeyPair default_aws_test_keys();

std::unique_ptr<Dialect> make_bedrock_dialect(AwsKeyPair keys);

// The registered dialect: keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (read once), else
// default_aws_test_keys().
const Dialect& bedrock_dialect();

namespace bedrock_detail {
// Converse request validation (dialect_bedrock_validate.cpp): a ChatCall, or the message of a
// ValidationException.
struct Validated {
  std::optional<ChatCall> call;
  std::string error;
};
Validated validate_converse(std::string_view body, std::string model, bool stream);
}  // namespace bedrock_detail

}  // namespace stratus::mock
