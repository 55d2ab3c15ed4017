// Tests for the shared error vocabulary: status codes, OpenAI types and the OpenAI error body.
#include "core/error.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <set>
#include <string>

namespace stratus::core {
namespace {

namespace json = boost::json;

json::object error_object(const Error& e) {
  auto v = json::parse(to_openai_json(e));
  EXPECT_TRUE(v.is_object());
  EXPECT_EQ(v.as_object().size(), 1u);
  return v.at("error").as_object();
}

std::set<std::string> keys_of(const json::object& o) {
  std::set<std::string> keys;
  for (auto& kv : o) keys.emplace(kv.key());
  return keys;
}

struct KindCase {
  ErrorKind kind;
  int status;
  std::string_view type;
};

class ErrorKindTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(ErrorKindTest, HttpStatusAndOpenAiType_MatchTheTable) {
  const auto& c = GetParam();
  EXPECT_EQ(http_status(c.kind), c.status) << kind_name(c.kind);
  EXPECT_EQ(openai_type(c.kind), c.type) << kind_name(c.kind);
}

INSTANTIATE_TEST_SUITE_P(
    AllKinds, ErrorKindTest,
    ::testing::Values(KindCase{ErrorKind::invalid_request, 400, "invalid_request_error"},
                      KindCase{ErrorKind::authentication, 401, "authentication_error"},
                      KindCase{ErrorKind::permission, 403, "permission_error"},
                      KindCase{ErrorKind::not_found, 404, "invalid_request_error"},
                      KindCase{ErrorKind::method_not_allowed, 405, "invalid_request_error"},
                      KindCase{ErrorKind::payload_too_large, 413, "invalid_request_error"},
                      KindCase{ErrorKind::context_length, 400, "invalid_request_error"},
                      KindCase{ErrorKind::rate_limit, 429, "rate_limit_error"},
                      KindCase{ErrorKind::overloaded, 503, "server_error"},
                      KindCase{ErrorKind::upstream, 502, "server_error"},
                      KindCase{ErrorKind::timeout, 504, "timeout_error"},
                      KindCase{ErrorKind::unavailable, 503, "server_error"},
                      KindCase{ErrorKind::internal, 500, "server_error"}),
    [](const auto& info) { return std::string(kind_name(info.param.kind)); });

TEST(ErrorMake, RetryableFollowsKindDefault) {
  EXPECT_TRUE(Error::make(ErrorKind::rate_limit, "x").retryable);
  EXPECT_TRUE(Error::make(ErrorKind::upstream, "x").retryable);
  EXPECT_TRUE(Error::make(ErrorKind::timeout, "x").retryable);
  EXPECT_FALSE(Error::make(ErrorKind::invalid_request, "x").retryable);
  EXPECT_FALSE(Error::make(ErrorKind::authentication, "x").retryable);
}

TEST(ErrorFail, ReturnsUnexpectedWithAllFields) {
  Result<int> r = fail(ErrorKind::invalid_request, "bad", "model", "c1");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, ErrorKind::invalid_request);
  EXPECT_EQ(r.error().message, "bad");
  EXPECT_EQ(r.error().param, "model");
  EXPECT_EQ(r.error().code, "c1");
}

TEST(ToOpenAiJson, HasExactlyMessageTypeParamCode) {
  auto err = error_object(Error::make(ErrorKind::invalid_request, "boom", "model", "c"));
  EXPECT_EQ(keys_of(err), (std::set<std::string>{"message", "type", "param", "code"}));
  EXPECT_EQ(err.at("message").as_string(), "boom");
  EXPECT_EQ(err.at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(err.at("param").as_string(), "model");
  EXPECT_EQ(err.at("code").as_string(), "c");
}

TEST(ToOpenAiJson, EmptyParamAndCode_AreNull) {
  auto err = error_object(Error::make(ErrorKind::internal, "oops"));
  EXPECT_EQ(keys_of(err), (std::set<std::string>{"message", "type", "param", "code"}));
  EXPECT_TRUE(err.at("param").is_null());
  EXPECT_TRUE(err.at("code").is_null());
  EXPECT_EQ(err.at("type").as_string(), "server_error");
}

TEST(ToOpenAiJson, ContextLength_CodeIsContextLengthExceeded) {
  auto err = error_object(Error::make(ErrorKind::context_length, "too long", "messages"));
  EXPECT_EQ(err.at("code").as_string(), "context_length_exceeded");
  EXPECT_EQ(err.at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(err.at("param").as_string(), "messages");
}

TEST(ToOpenAiJson, ContextLength_ExplicitCodeWins) {
  auto err = error_object(Error::make(ErrorKind::context_length, "too long", {}, "custom"));
  EXPECT_EQ(err.at("code").as_string(), "custom");
}

TEST(ToOpenAiJson, MessageWithQuotesNewlinesAndControlChars_StaysValidJson) {
  std::string msg = "a \"quoted\" \\ back\nslash\t\x01 \xc3\xa9";
  auto err = error_object(Error::make(ErrorKind::upstream, msg));
  EXPECT_EQ(err.at("message").as_string(), msg);
}

}  // namespace
}  // namespace stratus::core
