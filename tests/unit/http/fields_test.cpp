// HeadFields: the indexed field store behind client requests and upstream response heads.
#include "http/fields.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace stratus::http {
namespace {

TEST(HeadFields, LookupIsCaseInsensitiveAndTheFirstFieldWins) {
  HeadFields f;
  f.add("Content-Type", "application/json");
  f.add("X-Request-Id", "abc");
  f.add("x-request-id", "second");
  EXPECT_EQ(f.get("content-type"), "application/json");
  EXPECT_EQ(f.get("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(f.get("x-request-id"), "abc");
  EXPECT_EQ(f.size(), 3u);
}

TEST(HeadFields, AbsentAndEmptyAreToldApart) {
  HeadFields f;
  f.add("x-empty", "");
  EXPECT_TRUE(f.contains("X-Empty"));
  EXPECT_EQ(f.get("x-empty"), "");
  EXPECT_FALSE(f.contains("x-missing"));
  EXPECT_EQ(f.get("x-missing"), "");
  // Same length, one letter apart; and characters 0x20 apart that are not letters.
  EXPECT_FALSE(f.contains("x-emptz"));
  f.add("a@b", "1");
  EXPECT_FALSE(f.contains("a`b"));
  EXPECT_TRUE(f.contains("A@B"));
}

TEST(HeadFields, ForEachKeepsArrivalOrderAndClearEmpties) {
  HeadFields f;
  f.add("B", "2");
  f.add("a", "1");
  std::vector<std::string> seen;
  f.for_each([&](std::string_view n, std::string_view v) {
    seen.push_back(std::string(n) + "=" + std::string(v));
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"B=2", "a=1"}));
  f.clear();
  EXPECT_EQ(f.size(), 0u);
  EXPECT_FALSE(f.contains("a"));
}

}  // namespace
}  // namespace stratus::http
