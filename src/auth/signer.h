// Credentials of one provider and how they are applied to a finished upstream request. Signing
// comes after encoding because SigV4 signs the final body; the clock is passed in.
#pragma once

#include <chrono>
#include <string>

#include "core/upstream.h"

namespace stratus::auth {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty: none (long-term keys)
};

struct Credentials {
  enum class Kind {
    none,    // local servers
    bearer,  // Authorization: Bearer <secret>
    header,  // <header_name>: <secret> (Azure api-key, Anthropic x-api-key, Gemini x-goog-api-key)
    sigv4,   // AWS Signature Version 4
  };
  Kind kind = Kind::none;
  std::string secret;
  std::string header_name;
  AwsCredentials aws;
  std::string region;   // sigv4
  std::string service;  // sigv4, e.g. "bedrock"
};

// Adds the credentials to `req` (its URL, method, headers and body are final).
void sign(core::UpstreamRequest& req, const Credentials& creds,
          std::chrono::system_clock::time_point now);

}  // namespace stratus::auth
