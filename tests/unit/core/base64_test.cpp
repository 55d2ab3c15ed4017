// Tests for base64 against the RFC 4648 vectors, a binary round trip and malformed input.
#include "core/base64.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace stratus::core {
namespace {

const std::vector<std::pair<std::string, std::string>> kRfc4648 = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

TEST(Base64Encode, Rfc4648Vectors) {
  for (auto& [plain, encoded] : kRfc4648) EXPECT_EQ(base64_encode(plain), encoded) << plain;
}

TEST(Base64Decode, Rfc4648Vectors) {
  for (auto& [plain, encoded] : kRfc4648) {
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << encoded;
    EXPECT_EQ(*decoded, plain) << encoded;
  }
}

TEST(Base64, AllByteValues_RoundTrip) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  // Every length modulo 3, so each padding case carries high bytes too.
  for (std::size_t cut = 0; cut < 3; ++cut) {
    auto input = bytes.substr(cut);
    auto encoded = base64_encode(input);
    EXPECT_EQ(encoded.size() % 4, 0u);
    auto decoded = base64_decode(encoded);
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, input);
  }
}

TEST(Base64Encode, HighBytes_UseFullAlphabet) {
  EXPECT_EQ(base64_encode("\xff\xff\xff"), "////");
  EXPECT_EQ(base64_encode("\xfb\xef\xbe"), "++++");
  EXPECT_EQ(base64_encode(std::string("\0\0\0", 3)), "AAAA");
}

TEST(Base64Decode, CharacterOutsideAlphabet_IsRejected) {
  EXPECT_FALSE(base64_decode("Zm9v!A==").has_value());
  EXPECT_FALSE(base64_decode("Zm 9").has_value());
  EXPECT_FALSE(base64_decode("Zm9-").has_value());  // base64url, not this alphabet
  EXPECT_FALSE(base64_decode("Zm9_").has_value());
  EXPECT_FALSE(base64_decode("Zm9v\nZm9v").has_value());
  EXPECT_FALSE(base64_decode(std::string("Zm\0v", 4)).has_value());
  EXPECT_FALSE(base64_decode("Zm\xc3\xa9").has_value());
}

TEST(Base64Decode, LengthNotMultipleOfFour_IsRejected) {
  EXPECT_FALSE(base64_decode("Z").has_value());
  EXPECT_FALSE(base64_decode("Zg").has_value());
  EXPECT_FALSE(base64_decode("Zg=").has_value());
  EXPECT_FALSE(base64_decode("Zm9vY").has_value());
}

TEST(Base64Decode, MisplacedPadding_IsRejected) {
  EXPECT_FALSE(base64_decode("=Zm9").has_value());
  EXPECT_FALSE(base64_decode("Z===").has_value());
  EXPECT_FALSE(base64_decode("====").has_value());
  EXPECT_FALSE(base64_decode("Zg=A").has_value());      // data after padding
  EXPECT_FALSE(base64_decode("Zg==Zm9v").has_value());  // padding before the last quantum
  EXPECT_FALSE(base64_decode("Zm9vZg=a").has_value());
}

}  // namespace
}  // namespace stratus::core
