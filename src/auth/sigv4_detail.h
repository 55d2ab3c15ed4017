// SigV4 pieces shared by the signer (sigv4.cpp) and the verifier (sigv4_verify.cpp).
#pragma once

#include <string>
#include <string_view>

namespace stratus::auth::sigv4_detail {

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

// Header value as signed: leading and trailing whitespace trimmed, inner runs of whitespace
// (line folds included) collapsed to one space. Appended to `out`.
void append_canonical_value(std::string& out, std::string_view value);

// method \n uri \n query \n headers (each "name:value\n") \n signed names \n payload hash
std::string canonical_request(std::string_view method, std::string_view uri, std::string_view query,
                              std::string_view canonical_headers, std::string_view signed_headers,
                              std::string_view payload_hash);

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request);

// Lower-case hex HMAC of the string to sign with the key derived from the secret and scope.
std::string signature(std::string_view secret, std::string_view date, std::string_view region,
                      std::string_view service, std::string_view string_to_sign);

std::string scope(std::string_view date, std::string_view region, std::string_view service);

}  // namespace stratus::auth::sigv4_detail
