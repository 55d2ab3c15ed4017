// The journal's line format and file handling: exact round trips, torn lines, truncation.
#include "store/journal.h"

#include <gtest/gtest.h>

#include <fstream>

#include "unit/store/store_test_util.h"

namespace stratus::store::test {
namespace {

std::vector<LedgerEvent> replay_all(Journal& j, std::size_t batch, std::uint64_t& bad,
                                    int* batches = nullptr) {
  std::vector<LedgerEvent> out;
  auto r = j.replay(
      batch,
      [&](std::span<const LedgerEvent> b) -> core::Result<void> {
        EXPECT_LE(b.size(), batch);
        if (batches) ++*batches;
        out.insert(out.end(), b.begin(), b.end());
        return {};
      },
      bad);
  EXPECT_TRUE(r);
  return out;
}

TEST(Journal, EncodeDecode_EveryFieldExact) {
  LedgerEvent e = event("req \"1\"\n\\", 1'709'251'200'123, "k_ü", 0.1 + 0.2);
  e.stream = true;
  e.status = 429;
  e.attempts = 3;
  e.latency_ms = 1e-9;
  e.ttft_ms = -1;
  e.prompt_tokens = 9'007'199'254'740'993;  // beyond a double's exact integers
  auto line = encode_event(e);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  auto back = decode_event(line);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, e);
}

TEST(Journal, DecodeGarbage_Error) {
  EXPECT_FALSE(decode_event("not json"));
  EXPECT_FALSE(decode_event("[1,2]"));
  EXPECT_FALSE(decode_event(R"({"time_ms":1,"request_id":"x)"));
}

TEST(Journal, AppendReplay_InOrderInBatches) {
  TempDir dir;
  Journal j(dir.file("j"));
  EXPECT_TRUE(j.empty());
  std::vector<LedgerEvent> events;
  for (int i = 0; i < 25; ++i) events.push_back(event("r" + std::to_string(i), i));
  ASSERT_TRUE(j.append(std::span(events).first(10)));
  ASSERT_TRUE(j.append(std::span(events).subspan(10)));
  EXPECT_FALSE(j.empty());
  EXPECT_EQ(j.count_lines().value(), 25u);
  std::uint64_t bad = 0;
  int batches = 0;
  EXPECT_EQ(replay_all(j, 10, bad, &batches), events);
  EXPECT_EQ(batches, 3);
  EXPECT_EQ(bad, 0u);
}

TEST(Journal, TornLastLine_SkippedAndNextAppendIntact) {
  TempDir dir;
  std::vector<LedgerEvent> events = {event("a"), event("b"), event("c")};
  {
    Journal j(dir.file("j"));
    ASSERT_TRUE(j.append(std::span(events).first(2)));
  }
  {
    std::ofstream torn(dir.file("j"), std::ios::app);
    torn << R"({"time_ms":1,"requ)";
  }
  Journal j(dir.file("j"));
  ASSERT_TRUE(j.append(std::span(events).subspan(2)));
  std::uint64_t bad = 0;
  EXPECT_EQ(replay_all(j, 100, bad), events);
  EXPECT_EQ(bad, 1u);
}

TEST(Journal, SinkFails_StopsAndKeepsFile) {
  TempDir dir;
  Journal j(dir.file("j"));
  std::vector<LedgerEvent> events = {event("a"), event("b"), event("c")};
  ASSERT_TRUE(j.append(events));
  std::uint64_t bad = 0;
  int calls = 0;
  auto r = j.replay(
      1,
      [&](std::span<const LedgerEvent>) -> core::Result<void> {
        if (++calls == 2) return core::fail(core::ErrorKind::unavailable, "down");
        return {};
      },
      bad);
  EXPECT_FALSE(r);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(j.count_lines().value(), 3u);
}

TEST(Journal, Truncate_EmptyThenAppendable) {
  TempDir dir;
  Journal j(dir.file("j"));
  std::vector<LedgerEvent> events = {event("a")};
  ASSERT_TRUE(j.append(events));
  ASSERT_TRUE(j.truncate());
  EXPECT_TRUE(j.empty());
  EXPECT_EQ(j.count_lines().value(), 0u);
  ASSERT_TRUE(j.append(events));
  std::uint64_t bad = 0;
  EXPECT_EQ(replay_all(j, 10, bad), events);
}

TEST(Journal, UnwritableDirectory_ErrorNotCrash) {
  Journal j("/nonexistent-dir/stratus.journal");
  std::vector<LedgerEvent> events = {event("a")};
  auto r = j.append(events);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/nonexistent-dir"), std::string::npos);
}

}  // namespace
}  // namespace stratus::store::test
