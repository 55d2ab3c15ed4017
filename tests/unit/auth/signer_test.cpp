// auth::sign end to end with a fixed clock (SigV4 for Bedrock, static credentials), the Bedrock
// specifics (double-encoded model ids, session token) and the SigV4 verifier's rejections.
#include "auth/signer.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <string>

#include "auth/sigv4.h"
#include "auth/sigv4_detail.h"

namespace stratus::auth {
namespace {

using std::chrono::system_clock;

// 2015-08-30T12:36:00Z, the date of the published vectors.
const system_clock::time_point kVectorTime =
    std::chrono::sys_days{std::chrono::year{2015} / 8 / 30} + std::chrono::hours{12} +
    std::chrono::minutes{36};

const std::string kConverseUrl =
    "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
    "anthropic.claude-3-haiku-20240307-v1%3A0/converse";
const std::string kConverseBody =
    R"({"messages":[{"role":"user","content":[{"text":"Hello"}]}],"inferenceConfig":{"maxTokens":16}})";

Credentials bedrock_credentials(std::string session_token = {}) {
  Credentials c;
  c.kind = Credentials::Kind::sigv4;
  c.aws = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", std::move(session_token)};
  c.region = "us-east-1";
  c.service = "bedrock";
  return c;
}

core::UpstreamRequest converse_request(std::string url = kConverseUrl) {
  core::UpstreamRequest req;
  req.method = "POST";
  req.url = std::move(url);
  req.headers.emplace_back("content-type", "application/json");
  req.body = kConverseBody;
  return req;
}

std::vector<std::string> values(const core::Headers& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (k == name) out.push_back(v);
  }
  return out;
}

TEST(SigV4CanonicalUri, BedrockModelIdColon_IsEncodedTwice) {
  EXPECT_EQ(sigv4_canonical_uri("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
                                default_sigv4_options("bedrock")),
            "/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse");
}

TEST(SigV4CanonicalUri, S3_KeepsWirePathAsIs) {
  EXPECT_EQ(sigv4_canonical_uri("/bucket//a%3Ab/./c", default_sigv4_options("s3")),
            "/bucket//a%3Ab/./c");
}

TEST(SigV4CanonicalQuery, SortsByNameThenValue_EncodesStrictly) {
  EXPECT_EQ(sigv4_canonical_query("b=2&a=x y&a=1&c&Param-3=v&Param=w"),
            "Param=w&Param-3=v&a=1&a=x%20y&b=2&c=");
  EXPECT_EQ(sigv4_canonical_query("k=%2f%zz"), "k=%2F%25zz");
}

TEST(SigV4Date, FormatsUtcBasicIso8601) {
  EXPECT_EQ(sigv4_amz_date(kVectorTime + std::chrono::milliseconds(999)), "20150830T123600Z");
}

// The derived vector bedrock-converse-colon-model-id, through the generic entry point.
TEST(AuthSign, SigV4Bedrock_FixedClock_ProducesKnownAuthorization) {
  auto req = converse_request();
  sign(req, bedrock_credentials(), kVectorTime);
  EXPECT_EQ(values(req.headers, "host"),
            std::vector<std::string>{"bedrock-runtime.us-east-1.amazonaws.com"});
  EXPECT_EQ(values(req.headers, "x-amz-date"), std::vector<std::string>{"20150830T123600Z"});
  EXPECT_EQ(values(req.headers, "authorization"),
            std::vector<std::string>{
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, "
                "SignedHeaders=content-type;host;x-amz-date, "
                "Signature=d23fd1c263947140b1cae31eb36d9112de73d1648c57d29ded34726353797897"});
  EXPECT_TRUE(values(req.headers, "x-amz-security-token").empty());
  EXPECT_EQ(req.body, kConverseBody);
}

TEST(AuthSign, SigV4SessionToken_AddsAndSignsSecurityToken) {
  auto req = converse_request(
      "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
      "anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream");
  const std::string token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
  sign(req, bedrock_credentials(token), kVectorTime);
  EXPECT_EQ(values(req.headers, "x-amz-security-token"), std::vector<std::string>{token});
  // The derived vector bedrock-converse-stream-colon-model-id-session-token.
  EXPECT_EQ(values(req.headers, "authorization"),
            std::vector<std::string>{
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, "
                "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, "
                "Signature=c37c151f7802215dc40cac1352af4daf73edf7fe8103527762de91ad9e819073"});
}

// The signed Host is what http::Client sends: the URL's authority, port as written.
TEST(AuthSign, SigV4HostHeader_IsUrlAuthorityAsWritten_WithoutUserinfo) {
  auto a = converse_request("http://127.0.0.1:8123/model/m/converse?x=1");
  sign(a, bedrock_credentials(), kVectorTime);
  EXPECT_EQ(values(a.headers, "host"), std::vector<std::string>{"127.0.0.1:8123"});

  auto b =
      converse_request("https://user:pw@bedrock-runtime.us-east-1.amazonaws.com/model/m/converse");
  sign(b, bedrock_credentials(), kVectorTime);
  EXPECT_EQ(values(b.headers, "host"),
            std::vector<std::string>{"bedrock-runtime.us-east-1.amazonaws.com"});

  auto c = converse_request("https://[::1]:443/model/m/converse");
  sign(c, bedrock_credentials(), kVectorTime);
  EXPECT_EQ(values(c.headers, "host"), std::vector<std::string>{"[::1]:443"});

  auto d = converse_request("http://localhost?x=1");
  sign(d, bedrock_credentials(), kVectorTime);
  EXPECT_EQ(values(d.headers, "host"), std::vector<std::string>{"localhost"});
}

// A retry signs the same request again: one of each header, the signature of the new time.
TEST(AuthSign, SigV4SignedTwice_ReplacesHeadersInPlace) {
  auto twice = converse_request();
  sign(twice, bedrock_credentials("tok"), kVectorTime);
  const auto later = kVectorTime + std::chrono::minutes(5);
  sign(twice, bedrock_credentials("tok"), later);
  auto once = converse_request();
  sign(once, bedrock_credentials("tok"), later);
  EXPECT_EQ(twice.headers, once.headers);
  EXPECT_EQ(values(twice.headers, "authorization").size(), 1u);
}

TEST(AuthSign, SigV4BadUrl_LeavesRequestUnsigned) {
  auto req = converse_request("not a url");
  sign(req, bedrock_credentials(), kVectorTime);
  EXPECT_TRUE(values(req.headers, "authorization").empty());
}

TEST(AuthSign, BearerAndHeader_AddTheSecret) {
  core::UpstreamRequest req;
  Credentials bearer;
  bearer.kind = Credentials::Kind::bearer;
  bearer.secret = "sk-1";
  sign(req, bearer, kVectorTime);
  Credentials header;
  header.kind = Credentials::Kind::header;
  header.header_name = "x-api-key";
  header.secret = "k-2";
  sign(req, header, kVectorTime);
  EXPECT_EQ(req.headers, (core::Headers{{"authorization", "Bearer sk-1"}, {"x-api-key", "k-2"}}));
}

// The key derivation against OpenSSL's own HMAC, with a secret longer than a SHA-256 block
// (the HMAC key is then hashed first), which no published vector has.
std::string openssl_hmac(std::string_view key, std::string_view data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

TEST(SigV4Detail, SignatureWithLongSecret_MatchesOpenSslHmac) {
  for (const std::string& secret :
       {std::string(40, 's'), std::string(60, 's'), std::string(61, 's'), std::string(100, 's')}) {
    std::string k = openssl_hmac("AWS4" + secret, "20150830");
    k = openssl_hmac(k, "us-east-1");
    k = openssl_hmac(k, "bedrock");
    k = openssl_hmac(k, "aws4_request");
    std::string want;
    for (const unsigned char c : openssl_hmac(k, "string to sign")) {
      constexpr char kHex[] = "0123456789abcdef";
      want += kHex[c >> 4];
      want += kHex[c & 0xf];
    }
    EXPECT_EQ(sigv4_detail::signature(secret, "20150830", "us-east-1", "bedrock", "string to sign"),
              want)
        << secret.size();
  }
}

// ---- verifier ---------------------------------------------------------------------------------

struct Received {
  std::string method;
  std::string target;
  core::Headers headers;
  std::string body;

  SigV4Incoming incoming() const {
    return {.method = method,
            .target = target,
            .header = [this](std::string_view name) -> std::string_view {
              for (const auto& [k, v] : headers) {
                if (k == name) return v;
              }
              return {};
            },
            .body = body};
  }
  void set(std::string_view name, std::string value) {
    for (auto& [k, v] : headers) {
      if (k == name) v = value;
    }
  }
};

Received signed_converse(std::string session_token = {}) {
  auto req = converse_request();
  sign(req, bedrock_credentials(std::move(session_token)), kVectorTime);
  const std::string prefix = "https://bedrock-runtime.us-east-1.amazonaws.com";
  return {req.method, req.url.substr(prefix.size()), req.headers, req.body};
}

std::optional<std::string> known_secret(std::string_view key) {
  if (key == "AKIDEXAMPLE") return "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  return std::nullopt;
}

SigV4VerifyOptions bedrock_at(system_clock::time_point now) {
  SigV4VerifyOptions o;
  o.region = "us-east-1";
  o.service = "bedrock";
  o.now = now;
  return o;
}

TEST(SigV4Verify, SignedBedrockRequest_IsAccepted) {
  const Received r = signed_converse("tok");
  const auto v = verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime));
  EXPECT_TRUE(v.ok()) << v.message;
  EXPECT_NE(
      v.canonical_request.find("/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse\n"),
      std::string::npos);
}

TEST(SigV4Verify, TamperedBody_SignatureMismatch) {
  Received r = signed_converse();
  r.body += " ";
  const auto v = verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime));
  EXPECT_EQ(v.failure, SigV4Failure::signature_mismatch);
  EXPECT_NE(v.message.find("does not match the signature you provided"), std::string::npos);
}

TEST(SigV4Verify, TamperedSignedHeader_SignatureMismatch) {
  Received r = signed_converse();
  r.set("content-type", "text/plain");
  EXPECT_EQ(verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime)).failure,
            SigV4Failure::signature_mismatch);
}

TEST(SigV4Verify, TamperedPath_SignatureMismatch) {
  Received r = signed_converse();
  r.target = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream";
  EXPECT_EQ(verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime)).failure,
            SigV4Failure::signature_mismatch);
}

TEST(SigV4Verify, WrongSecret_SignatureMismatch) {
  const Received r = signed_converse();
  const auto other = [](std::string_view) { return std::optional<std::string>("not-the-secret"); };
  EXPECT_EQ(verify_sigv4(r.incoming(), other, bedrock_at(kVectorTime)).failure,
            SigV4Failure::signature_mismatch);
}

TEST(SigV4Verify, UnknownAccessKey_Rejected) {
  const Received r = signed_converse();
  const auto none = [](std::string_view) { return std::optional<std::string>(); };
  const auto v = verify_sigv4(r.incoming(), none, bedrock_at(kVectorTime));
  EXPECT_EQ(v.failure, SigV4Failure::unknown_access_key);
  EXPECT_EQ(v.message, "The security token included in the request is invalid.");
}

TEST(SigV4Verify, MissingOrMalformedAuthorization_Rejected) {
  Received r = signed_converse();
  std::erase_if(r.headers, [](auto& h) { return h.first == "authorization"; });
  EXPECT_EQ(verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime)).failure,
            SigV4Failure::missing_authorization);
  r.headers.emplace_back("authorization", "Bearer abc");
  EXPECT_EQ(verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime)).failure,
            SigV4Failure::malformed_authorization);
}

TEST(SigV4Verify, MissingDate_Rejected) {
  Received r = signed_converse();
  std::erase_if(r.headers, [](auto& h) { return h.first == "x-amz-date"; });
  EXPECT_EQ(verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime)).failure,
            SigV4Failure::missing_date);
}

TEST(SigV4Verify, StaleOrFutureDate_Rejected) {
  const Received r = signed_converse();
  const auto late =
      verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime + std::chrono::minutes(16)));
  EXPECT_EQ(late.failure, SigV4Failure::stale_date);
  EXPECT_EQ(late.message,
            "Signature expired: 20150830T123600Z is now earlier than 20150830T123700Z "
            "(20150830T125200Z - 15 min.)");
  EXPECT_EQ(
      verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime - std::chrono::minutes(16)))
          .failure,
      SigV4Failure::stale_date);
  EXPECT_TRUE(
      verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime + std::chrono::minutes(14)))
          .ok());
}

TEST(SigV4Verify, WrongRegionOrService_Rejected) {
  const Received r = signed_converse();
  auto options = bedrock_at(kVectorTime);
  options.region = "eu-west-1";
  EXPECT_EQ(verify_sigv4(r.incoming(), known_secret, options).failure, SigV4Failure::wrong_scope);
  options = bedrock_at(kVectorTime);
  options.service = "s3";
  EXPECT_EQ(verify_sigv4(r.incoming(), known_secret, options).failure, SigV4Failure::wrong_scope);
}

TEST(SigV4Verify, ContentShaNotHashOfBody_Rejected) {
  auto req = converse_request();
  SigV4Options options;
  options.content_sha256_header = true;
  const AwsCredentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  ASSERT_TRUE(sign_sigv4_request(req, {.credentials = creds,
                                       .region = "us-east-1",
                                       .service = "bedrock",
                                       .now = kVectorTime,
                                       .options = options}));
  Received r{req.method, "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse", req.headers,
             req.body};
  EXPECT_TRUE(verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime)).ok());
  r.body = "{}";
  EXPECT_EQ(verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime)).failure,
            SigV4Failure::payload_hash_mismatch);
}

TEST(SigV4Verify, HostNotSigned_Rejected) {
  Received r = signed_converse();
  for (auto& [k, v] : r.headers) {
    if (k == "authorization") {
      v.replace(v.find("content-type;host;x-amz-date"), 28, "content-type;x-amz-date");
    }
  }
  EXPECT_EQ(verify_sigv4(r.incoming(), known_secret, bedrock_at(kVectorTime)).failure,
            SigV4Failure::unsigned_required_header);
}

}  // namespace
}  // namespace stratus::auth
