// Strict UTF-8: what the access log and the ledger accept as text.
#include "core/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace stratus::core {
namespace {

TEST(Utf8, SequenceLengths) {
  EXPECT_EQ(utf8_sequence("a", 0), 1U);
  EXPECT_EQ(utf8_sequence(std::string("\0", 1), 0), 1U);
  EXPECT_EQ(utf8_sequence("\xc3\xa9", 0), 2U);          // é
  EXPECT_EQ(utf8_sequence("\xe2\x82\xac", 0), 3U);      // €
  EXPECT_EQ(utf8_sequence("\xf0\x9f\x98\x80", 0), 4U);  // 😀
}

TEST(Utf8, RejectsWhatJsonParsersReject) {
  EXPECT_EQ(utf8_sequence("\xc0\xaf", 0), 0U);          // overlong
  EXPECT_EQ(utf8_sequence("\xe0\x80\xaf", 0), 0U);      // overlong
  EXPECT_EQ(utf8_sequence("\xed\xa0\x80", 0), 0U);      // surrogate
  EXPECT_EQ(utf8_sequence("\xf4\x90\x80\x80", 0), 0U);  // above U+10FFFF
  EXPECT_EQ(utf8_sequence("\xe2\x82", 0), 0U);          // cut short
  EXPECT_EQ(utf8_sequence("\x80", 0), 0U);              // a lone continuation byte
  EXPECT_TRUE(valid_utf8("plain, é, € and 😀"));
  EXPECT_FALSE(valid_utf8("ok then \xff"));
  EXPECT_TRUE(valid_utf8(""));
}

}  // namespace
}  // namespace stratus::core
