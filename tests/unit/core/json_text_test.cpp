#include "core/json_text.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace stratus::core {
namespace {

std::string fixed(double v, int decimals) {
  std::string out;
  append_fixed(out, v, decimals);
  return out;
}

TEST(JsonText, FixedPointRoundsAndNeverUsesExponents) {
  EXPECT_EQ(fixed(12.5, 3), "12.500");
  EXPECT_EQ(fixed(3.25, 3), "3.250");
  EXPECT_EQ(fixed(0.0004, 3), "0.000");
  EXPECT_EQ(fixed(0.0005, 3), "0.001");
  EXPECT_EQ(fixed(1e-9, 3), "0.000");
  EXPECT_EQ(fixed(123456789.125, 3), "123456789.125");
  EXPECT_EQ(fixed(1e15, 3), "1000000000000000.000");
  EXPECT_EQ(fixed(0.00012345, 8), "0.00012345");
  EXPECT_EQ(fixed(7, 0), "7");
  EXPECT_EQ(fixed(-2.5, 1), "-2.5");
  EXPECT_EQ(fixed(-0.0001, 2), "0.00");  // no "-0.00"
  EXPECT_EQ(fixed(std::nan(""), 3), "0.000");
  // Clamped, still a plain JSON number.
  auto big = fixed(1e300, 3);
  EXPECT_EQ(big.find_first_not_of("0123456789."), std::string::npos) << big;
  EXPECT_NO_THROW(boost::json::parse(big));
}

TEST(JsonText, IntegersIncludingExtremes) {
  std::string out;
  append_int(out, 0);
  out += ' ';
  append_int(out, -42);
  out += ' ';
  append_int(out, INT64_MIN);
  EXPECT_EQ(out, "0 -42 -9223372036854775808");
}

TEST(JsonText, StringsEscapeEveryByteJsonForbids) {
  std::string raw = "a\"b\\c\nd\re\tf";
  raw += '\0';
  raw += "\x01\x1f g";
  std::string out;
  append_json_string(out, raw);
  EXPECT_EQ(out, R"("a\"b\\c\nd\re\tf\u0000\u0001\u001f g")");
  EXPECT_EQ(boost::json::parse(out).as_string(), raw);
}

TEST(JsonText, TextThatIsNotUtf8_BecomesAscii) {
  std::string out;
  append_json_text(out, "caf\xc3\xa9");  // valid: kept
  EXPECT_EQ(boost::json::parse(out).as_string(), "caf\xc3\xa9");
  out.clear();
  append_json_text(out, "x\xff\xc3\"");  // invalid: high bytes replaced, quote escaped
  EXPECT_EQ(out, R"("x??\"")");
}

// Plain text is checked eight bytes at a time: a byte that needs care at every offset of a
// long value must still be escaped (or, in text that is not UTF-8, replaced).
TEST(JsonText, SpecialByteAtEveryOffset_EscapedAsOneByOne) {
  for (char special : {'"', '\\', '\x01', '\x1f', '\x7f', '\n'}) {
    for (std::size_t at = 0; at < 40; ++at) {
      std::string raw(40, 'a');
      raw[at] = special;
      std::string out = "x";
      append_json_text(out, raw);
      ASSERT_EQ(out.front(), 'x');
      EXPECT_EQ(boost::json::parse(out.substr(1)).as_string(), raw) << int(special) << " " << at;
    }
  }
  for (std::size_t at = 0; at < 40; ++at) {
    std::string raw(40, 'a');
    raw[at] = '\xff';
    std::string out;
    append_json_text(out, raw);
    std::string expected = raw;
    expected[at] = '?';
    EXPECT_EQ(boost::json::parse(out).as_string(), expected) << at;
  }
}

// The writers behind the append functions stay within the room they announce.
TEST(JsonText, WritersStayWithinTheirRoom) {
  const std::string worst(50, '\x01');
  std::string buf(json_text_room(worst) + 1, '#');
  char* end = write_json_string(buf.data(), worst);
  EXPECT_EQ(static_cast<std::size_t>(end - buf.data()), json_text_room(worst));
  EXPECT_EQ(buf.back(), '#');
  char num[kFixedRoom + 1];
  num[kFixedRoom] = '#';
  end = write_fixed(num, -1e300, 9);
  EXPECT_LE(static_cast<std::size_t>(end - num), kFixedRoom);
  EXPECT_EQ(num[kFixedRoom], '#');
  char i[kIntRoom + 1];
  i[kIntRoom] = '#';
  end = write_int(i, INT64_MIN);
  EXPECT_EQ(std::string(i, end), "-9223372036854775808");
  EXPECT_EQ(i[kIntRoom], '#');
}

}  // namespace
}  // namespace stratus::core
