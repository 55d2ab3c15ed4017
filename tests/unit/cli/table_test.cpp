// The command line's parsing and formatting helpers: durations, strict numbers, lists, money,
// times and aligned tables.
#include "cli/table.h"

#include <gtest/gtest.h>

namespace stratus::cli {
namespace {

TEST(CliDuration, EachUnit_Milliseconds) {
  EXPECT_EQ(parse_duration_ms("45s"), 45'000);
  EXPECT_EQ(parse_duration_ms("90m"), 90 * 60'000);
  EXPECT_EQ(parse_duration_ms("12h"), 12 * 3'600'000);
  EXPECT_EQ(parse_duration_ms("30d"), 30LL * 86'400'000);
  EXPECT_EQ(parse_duration_ms("2w"), 14LL * 86'400'000);
}

TEST(CliDuration, Malformed_ErrorShowsTheTextAndTheUnits) {
  for (const char* bad : {"", "d", "7", "7x", "1.5h", "1h30m", "-3d", "+3d", " 3d", "3 d", "3D"}) {
    const auto r = parse_duration_ms(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().find("units: s, m, h, d, w"), std::string::npos) << r.error();
  }
  EXPECT_NE(parse_duration_ms("7x").error().find("'7x'"), std::string::npos);
}

TEST(CliDuration, ZeroAndOverflow_Refused) {
  EXPECT_EQ(parse_duration_ms("0d").error(), "duration '0d' must not be zero");
  EXPECT_EQ(parse_duration_ms("99999999999999999w").error(),
            "duration '99999999999999999w' is too long");
  EXPECT_EQ(parse_duration_ms("999999999999999999999999s").error(),
            "duration '999999999999999999999999s' is too long");
}

TEST(CliSince, DurationBackFromNow_AllIsZero_ClampsAtZero) {
  EXPECT_EQ(parse_since_ms("7d", 1'000'000'000'000), 1'000'000'000'000 - 7 * 86'400'000LL);
  EXPECT_EQ(parse_since_ms("all", 1'000'000'000'000), 0);
  EXPECT_EQ(parse_since_ms("2w", 1000), 0);
  const auto bad = parse_since_ms("yesterday", 1000);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().ends_with(", or all")) << bad.error();
}

TEST(CliNumbers, PositiveInt_StrictDigits) {
  EXPECT_EQ(parse_positive_int("60"), 60);
  EXPECT_EQ(parse_positive_int("007"), 7);
  for (const char* bad : {"", "0", "-1", "+1", "6e1", "1.0", " 1", "1 ", "x"}) {
    EXPECT_FALSE(parse_positive_int(bad)) << bad;
  }
  EXPECT_EQ(parse_positive_int("x").error(), "'x' is not a positive whole number");
  EXPECT_EQ(parse_positive_int("99999999999999999999").error(),
            "'99999999999999999999' is too large");
}

TEST(CliNumbers, PositiveNumber_FiniteAndAboveZero) {
  EXPECT_EQ(parse_positive_number("50"), 50.0);
  EXPECT_EQ(parse_positive_number("0.25"), 0.25);
  EXPECT_EQ(parse_positive_number("1e-3"), 0.001);
  for (const char* bad : {"", "0", "0.0", "-1", "inf", "nan", "1e999", "$5", "5$", "0x10", "1,5"}) {
    EXPECT_FALSE(parse_positive_number(bad)) << bad;
  }
  EXPECT_EQ(parse_positive_number("abc").error(), "'abc' is not a positive number");
}

TEST(CliList, TrimsDropsEmptiesAndDuplicates_KeepsOrder) {
  EXPECT_EQ(split_list(" b, a,,b ,c,"), (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_TRUE(split_list(" , ,").empty());
  EXPECT_EQ(split_list("gpt-4o*"), (std::vector<std::string>{"gpt-4o*"}));
}

TEST(CliFormat, Money_CentsOrUpToSixDecimals) {
  EXPECT_EQ(format_money(50), "$50.00");
  EXPECT_EQ(format_money(0.5), "$0.50");
  EXPECT_EQ(format_money(0.0015), "$0.0015");
  EXPECT_EQ(format_money(1.234567), "$1.234567");
  EXPECT_EQ(format_money(0.1 + 0.2), "$0.30");  // binary noise is not shown
}

TEST(CliFormat, UtcMinuteAndSpan) {
  EXPECT_EQ(format_utc_minute(0), "1970-01-01 00:00");
  EXPECT_EQ(format_utc_minute(1'717'245'296'789), "2024-06-01 12:34");
  EXPECT_EQ(format_span_ms(850), "850ms");
  EXPECT_EQ(format_span_ms(42'000), "42s");
  EXPECT_EQ(format_span_ms(192'000), "3m12s");
  EXPECT_EQ(format_span_ms(7'500'000), "2h5m");
  EXPECT_EQ(format_span_ms(273'600'000), "3d4h");
  EXPECT_EQ(format_span_ms(-5), "0ms");
}

TEST(CliTable, AlignsByCodePoints_NumbersRight_NoTrailingSpaces) {
  Table t({{"NAME"}, {"N", Table::Align::right}, {"NOTE"}});
  t.add({"équipe", "7", ""});
  t.add({"a", "1234", "x"});
  t.add_rule();
  t.add({"total", "1241"});  // a missing cell is blank
  EXPECT_EQ(t.render(),
            "NAME       N  NOTE\n"
            "équipe     7\n"
            "a       1234  x\n"
            "------------------\n"
            "total   1241\n");
}

TEST(CliTable, ControlCharactersInCells_Replaced) {
  Table t({{"NAME"}});
  t.add({"evil\x1b[31mname\n"});
  EXPECT_EQ(t.render(), "NAME\nevil?[31mname?\n");
  EXPECT_EQ(printable("a\tb\x7f"), "a?b?");
}

}  // namespace
}  // namespace stratus::cli
