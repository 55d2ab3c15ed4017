// Tests for the SSE reader and writer, on recorded provider streams and hand-made edge cases.
#include "codec/sse.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace stratus::codec {
namespace {

namespace fs = std::filesystem;

using Flat = std::tuple<std::string, std::string, std::string, std::string>;

std::vector<Flat> flat(const std::vector<SseEvent>& events) {
  std::vector<Flat> result;
  for (const SseEvent& e : events) result.emplace_back(e.event, e.data, e.id, e.raw);
  return result;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<fs::path> fixtures(const std::string& provider) {
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(fs::path(STRATUS_TEST_DATA) / provider)) {
    if (entry.path().extension() == ".sse") paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::vector<fs::path> all_fixtures() {
  std::vector<fs::path> paths = fixtures("openai");
  const std::vector<fs::path> anthropic = fixtures("anthropic");
  paths.insert(paths.end(), anthropic.begin(), anthropic.end());
  return paths;
}

std::vector<SseEvent> read_whole(std::string_view bytes) {
  SseReader reader;
  std::vector<SseEvent> out;
  reader.feed(bytes, out);
  return out;
}

std::vector<SseEvent> read_in_pieces(std::string_view bytes, std::size_t piece) {
  SseReader reader;
  std::vector<SseEvent> out;
  for (std::size_t i = 0; i < bytes.size(); i += piece) reader.feed(bytes.substr(i, piece), out);
  return out;
}

// Pieces of 0..max_piece bytes; empty feeds are included on purpose.
std::vector<SseEvent> read_random_splits(std::string_view bytes, unsigned seed,
                                         std::size_t max_piece) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> size(0, max_piece);
  SseReader reader;
  std::vector<SseEvent> out;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t n = std::min(size(rng), bytes.size() - pos);
    reader.feed(bytes.substr(pos, n), out);
    pos += n;
  }
  return out;
}

std::size_t count_lines_starting_with(std::string_view text, std::string_view prefix) {
  std::size_t count = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    if (text.substr(pos, end - pos).starts_with(prefix)) ++count;
    pos = end + 1;
  }
  return count;
}

std::vector<std::string> event_lines(std::string_view text) {
  std::vector<std::string> names;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(pos, end - pos);
    if (line.starts_with("event: ")) names.emplace_back(line.substr(7));
    pos = end + 1;
  }
  return names;
}

std::string concat_raw(const std::vector<SseEvent>& events) {
  std::string all;
  for (const SseEvent& e : events) all += e.raw;
  return all;
}

// A stream mixing every line ending, comments, ids and multi-line data.
constexpr std::string_view kMixedStream =
    ": hello\r\n"
    "event: a\r\nid: 1\r\ndata: one\r\ndata:two\r\n\r\n"
    "data: \xE2\x82\xAC\r"
    ":c\r\r"
    "data\ndata: x\n\n"
    "event: b\r\n: inside\r\ndata: {\"k\":1}\r\n\r\n";

TEST(SseReader, RecordedStreams_OneByteAtATime_SameEventsAsWhole) {
  for (const fs::path& path : all_fixtures()) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = read_file(path);
    const std::vector<SseEvent> whole = read_whole(bytes);
    ASSERT_FALSE(whole.empty());
    EXPECT_EQ(flat(read_in_pieces(bytes, 1)), flat(whole));
  }
}

TEST(SseReader, RecordedStreams_RandomSplits_SameEventsAsWhole) {
  for (const fs::path& path : all_fixtures()) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = read_file(path);
    const std::vector<SseEvent> whole = read_whole(bytes);
    for (unsigned seed = 1; seed <= 20; ++seed) {
      SCOPED_TRACE(seed);
      EXPECT_EQ(flat(read_random_splits(bytes, seed, seed < 10 ? 7 : 300)), flat(whole));
    }
  }
}

TEST(SseReader, OpenAiStreams_EventCountEqualsDataLinesAndLastIsDone) {
  for (const fs::path& path : fixtures("openai")) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = read_file(path);
    SseReader reader;
    std::vector<SseEvent> events;
    reader.feed(bytes, events);
    ASSERT_EQ(events.size(), count_lines_starting_with(bytes, "data:"));
    EXPECT_EQ(events.back().data, "[DONE]");
    EXPECT_TRUE(events.front().data.starts_with("{\"id\":\"chatcmpl-"));
    EXPECT_FALSE(reader.has_partial());
    EXPECT_EQ(reader.buffered(), 0u);
  }
}

TEST(SseReader, OpenAiStreams_RawConcatenationEqualsInput) {
  for (const fs::path& path : fixtures("openai")) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = read_file(path);
    EXPECT_EQ(concat_raw(read_in_pieces(bytes, 64)), bytes);
    EXPECT_EQ(concat_raw(read_in_pieces(bytes, 1)), bytes);
  }
}

TEST(SseReader, AnthropicBasicStream_GivesEventNamesInOrder) {
  const std::string bytes = read_file(fs::path(STRATUS_TEST_DATA) / "anthropic/basic_response.sse");
  std::vector<std::string> names;
  for (const SseEvent& e : read_whole(bytes)) names.push_back(e.event);
  // The recorded message_stop has no terminating blank line, so it is not dispatched.
  EXPECT_EQ(names, (std::vector<std::string>{"message_start", "content_block_start", "ping",
                                             "content_block_delta", "content_block_delta",
                                             "content_block_delta", "content_block_stop",
                                             "message_delta"}));
}

TEST(SseReader, AnthropicStreams_EventNamesMatchTheirEventLinesAndDataType) {
  for (const fs::path& path : fixtures("anthropic")) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = read_file(path);
    SseReader reader;
    std::vector<SseEvent> events;
    reader.feed(bytes, events);
    reader.feed("\n\n", events);  // terminate the final event
    std::vector<std::string> names;
    for (const SseEvent& e : events) {
      names.push_back(e.event);
      EXPECT_TRUE(e.data.starts_with("{\"type\":\"" + e.event + "\"") ||
                  e.data.starts_with("{\"type\": \"" + e.event + "\""))
          << e.data;
    }
    EXPECT_EQ(names, event_lines(bytes));
    EXPECT_EQ(names.back(), "message_stop");
  }
}

TEST(SseReader, AnthropicStreams_UnterminatedFinalEvent_StaysPartialUntilBlankLine) {
  for (const fs::path& path : fixtures("anthropic")) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = read_file(path);
    SseReader reader;
    std::vector<SseEvent> events;
    reader.feed(bytes, events);
    EXPECT_EQ(events.size(), count_lines_starting_with(bytes, "data:") - 1);
    EXPECT_TRUE(reader.has_partial());
    EXPECT_EQ(concat_raw(events).size() + reader.buffered(), bytes.size());
    reader.feed("\n\n", events);
    EXPECT_FALSE(reader.has_partial());
    EXPECT_EQ(events.back().event, "message_stop");
    EXPECT_EQ(events.back().data, "{\"type\":\"message_stop\"}");
  }
}

TEST(SseReader, CrlfLineEndings_SameFieldsAsLf) {
  const auto events = read_whole("event: e\r\ndata: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "e");
  EXPECT_EQ(events[0].data, "a\nb");
  EXPECT_EQ(events[0].raw, "event: e\r\ndata: a\r\ndata: b\r\n\r\n");
  EXPECT_EQ(events[1].data, "c");
  EXPECT_EQ(events[1].raw, "data: c\r\n\r\n");
}

TEST(SseReader, CrOnlyLineEndings_SameFieldsAsLf) {
  const auto events = read_whole("event: e\rdata: a\rdata: b\r\rdata: c\r\r\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "e");
  EXPECT_EQ(events[0].data, "a\nb");
  EXPECT_EQ(events[0].raw, "event: e\rdata: a\rdata: b\r\r");
  EXPECT_EQ(events[1].data, "c");
  EXPECT_EQ(events[1].raw, "data: c\r\r\n");
}

TEST(SseReader, CrlfSplitAcrossFeeds_IsOneLineEnding) {
  SseReader reader;
  std::vector<SseEvent> events;
  reader.feed("data: a\r", events);
  reader.feed("\ndata: b\r", events);
  reader.feed("\n\r", events);
  EXPECT_TRUE(events.empty());  // the last \r may still be half of \r\n
  reader.feed("\n", events);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a\nb");  // no empty line between a and b
  EXPECT_EQ(events[0].raw, "data: a\r\ndata: b\r\n\r\n");
  EXPECT_FALSE(reader.has_partial());
}

TEST(SseReader, CrAtEndOfFeedFollowedByOtherByte_EndsLineAtCr) {
  SseReader reader;
  std::vector<SseEvent> events;
  reader.feed("data: a\r\r", events);
  EXPECT_TRUE(events.empty());
  reader.feed("data: b\r\r\n", events);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].raw, "data: a\r\r");
  EXPECT_EQ(events[1].raw, "data: b\r\r\n");
}

TEST(SseReader, MixedStream_AnySplit_SameEventsAndRawEqualsInput) {
  const std::vector<SseEvent> whole = read_whole(kMixedStream);
  ASSERT_EQ(whole.size(), 4u);
  EXPECT_EQ(concat_raw(whole), kMixedStream);
  EXPECT_EQ(flat(read_in_pieces(kMixedStream, 1)), flat(whole));
  for (unsigned seed = 100; seed < 150; ++seed) {
    SCOPED_TRACE(seed);
    EXPECT_EQ(flat(read_random_splits(kMixedStream, seed, 5)), flat(whole));
  }
}

TEST(SseReader, MultiLineData_JoinedWithNewline) {
  const auto events = read_whole("data: {\ndata:   \"a\": 1\ndata: }\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "{\n  \"a\": 1\n}");
}

TEST(SseReader, ColonWithoutSpace_ValueTakenWhole) {
  const auto events = read_whole("data:x\n\ndata:  y\n\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "x");
  EXPECT_EQ(events[1].data, " y");  // only one leading space is stripped
}

TEST(SseReader, DataFieldWithoutColon_IsEmptyData) {
  const auto events = read_whole("data\n\ndata\ndata\n\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].data, "");
  EXPECT_EQ(events[0].raw, "data\n\n");
  EXPECT_EQ(events[1].data, "\n");
}

TEST(SseReader, CommentLines_IgnoredButKeptInRaw) {
  const auto events = read_whole(": keep-alive\ndata: a\n:data: b\ndata: c\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "a\nc");
  EXPECT_EQ(events[0].raw, ": keep-alive\ndata: a\n:data: b\ndata: c\n\n");
}

TEST(SseReader, BlocksWithoutData_NotDispatchedAndResetState) {
  const auto events =
      read_whole(": ping\n\nevent: lonely\nid: 9\n\nretry: 10\nfoo: bar\n\ndata: x\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event, "");  // the event name of the dropped block does not leak
  EXPECT_EQ(events[0].id, "");
  EXPECT_EQ(events[0].data, "x");
  EXPECT_EQ(events[0].raw, "data: x\n\n");
}

TEST(SseReader, LeadingBom_SkippedEvenWhenSplit) {
  const std::string stream =
      "\xEF\xBB\xBF"
      "data: x\n\n";
  EXPECT_EQ(flat(read_whole(stream)), flat(read_whole("data: x\n\n")));
  EXPECT_EQ(flat(read_in_pieces(stream, 1)), flat(read_whole("data: x\n\n")));
  EXPECT_EQ(flat(read_in_pieces(stream, 2)), flat(read_whole("data: x\n\n")));
}

TEST(SseReader, BomAfterStart_IsNotSkipped) {
  // Mid-stream the BOM is part of a field name ("\xEF\xBB\xBF" "data"), an unknown field.
  const auto events = read_whole(
      "data: 1\n\n\xEF\xBB\xBF"
      "data: 2\n\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, "1");
}

TEST(SseReader, BomPrefixThatIsNotBom_BytesKept) {
  const std::string stream = "\xEF\xBB:\ndata: x\n\n";  // first line: unknown field "\xEF\xBB"
  for (std::size_t piece : {1u, 2u, 3u, 100u}) {
    SCOPED_TRACE(piece);
    const auto events = read_in_pieces(stream, piece);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].raw, stream);
  }
}

TEST(SseReader, IdField_SetOnItsEventOnly) {
  const auto events = read_whole("id: 42\ndata: a\n\ndata: b\n\nid\ndata: c\n\n");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].id, "42");
  EXPECT_EQ(events[1].id, "");
  EXPECT_EQ(events[2].id, "");
}

TEST(SseReader, IdWithNul_Ignored) {
  const auto events = read_whole(std::string_view("id: a\0b\ndata: x\n\n", 17));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].id, "");
}

TEST(SseReader, CutMidEvent_HasPartialUntilBlankLine) {
  SseReader reader;
  std::vector<SseEvent> events;
  EXPECT_FALSE(reader.has_partial());
  reader.feed("data: done\n\ndata: x", events);
  EXPECT_EQ(events.size(), 1u);
  EXPECT_TRUE(reader.has_partial());  // cut mid-line
  EXPECT_EQ(reader.buffered(), 7u);
  reader.feed("\n", events);
  EXPECT_TRUE(reader.has_partial());  // cut after a line, before the blank line
  EXPECT_EQ(reader.buffered(), 8u);
  reader.feed("\n", events);
  EXPECT_FALSE(reader.has_partial());
  EXPECT_EQ(reader.buffered(), 0u);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].raw, "data: x\n\n");
}

TEST(SseReader, LargeEventInSmallPieces_ReassembledExactly) {
  std::string payload(100'000, 'a');
  for (std::size_t i = 0; i < payload.size(); i += 97) payload[i] = 'z';
  const std::string stream = "event: big\ndata: " + payload + "\n\n";
  const auto events = read_in_pieces(stream, 64);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].data, payload);
  EXPECT_EQ(events[0].raw, stream);
}

TEST(EncodeSse, SingleLine_WithAndWithoutEventName) {
  EXPECT_EQ(encode_sse("{\"a\":1}"), "data: {\"a\":1}\n\n");
  EXPECT_EQ(encode_sse("x", "message_stop"), "event: message_stop\ndata: x\n\n");
}

TEST(EncodeSse, MultiLineData_OneDataLinePerLine) {
  EXPECT_EQ(encode_sse("a\nb\r\nc\rd"), "data: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(encode_sse(""), "data: \n\n");
  EXPECT_EQ(encode_sse("a\n"), "data: a\ndata: \n\n");
}

TEST(EncodeSse, EventNameWithLineBreak_CannotInjectFields) {
  EXPECT_EQ(encode_sse("x", "ev\ndata: injected"), "event: ev\ndata: x\n\n");
}

TEST(EncodeSse, RoundTrip_ReaderGivesBackDataAndEvent) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[DONE]", ""},
      {"{\"k\":\"v\"}", "content_block_delta"},
      {"line1\nline2\n\nline4", "e"},
      {" leading space", ""},
      {"", "empty"},
      {"trailing\n", ""},
      {":not a comment", ""}};
  for (const auto& [data, event] : cases) {
    SCOPED_TRACE(data);
    const std::string encoded = encode_sse(data, event);
    const auto events = read_in_pieces(encoded, 3);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].data, data);
    EXPECT_EQ(events[0].event, event);
    EXPECT_EQ(events[0].raw, encoded);
  }
}

}  // namespace
}  // namespace stratus::codec

namespace stratus::codec {
namespace {

std::vector<SseEvent> read_finished(std::string_view bytes) {
  SseReader r;
  std::vector<SseEvent> out;
  r.feed(bytes, out);
  r.finish(out);
  return out;
}

TEST(SseReader, Finish_DispatchesAnEventWithoutItsFinalBlankLine) {
  for (std::string_view tail : {"data: b", "data: b\n", "data: b\r", "data: b\r\n"}) {
    auto events = read_finished(std::string("data: a\n\n") + std::string(tail));
    ASSERT_EQ(events.size(), 2u) << tail;
    EXPECT_EQ(events[1].data, "b") << tail;
  }
  EXPECT_EQ(read_finished("data: a\n\n").size(), 1u);  // nothing pending: nothing added
  EXPECT_EQ(read_finished(": comment only").size(), 0u);
}

// The pull interface, each piece pushed from a buffer of its own that is overwritten as soon
// as next() has said false: what spans pieces must have been copied by the reader.
std::vector<SseEvent> pull_random_splits(std::string_view bytes, unsigned seed,
                                         std::size_t max_piece) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> size(0, max_piece);
  SseReader reader;
  std::vector<SseEvent> out;
  std::string piece;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t n = std::min(size(rng), bytes.size() - pos);
    piece.assign(bytes.substr(pos, n));
    reader.push(piece);
    SseView v;
    while (reader.next(v)) {
      out.push_back(
          {std::string(v.event), std::string(v.data), std::string(v.id), std::string(v.raw)});
    }
    std::fill(piece.begin(), piece.end(), 'X');
    pos += n;
  }
  return out;
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

TEST(SseReader, Pull_RecordedStreams_RandomSplits_SameEventsAsWhole) {
  for (const fs::path& path : all_fixtures()) {
    SCOPED_TRACE(path.filename().string());
    const std::string bytes = read_file(path);
    const std::vector<SseEvent> whole = read_whole(bytes);
    ASSERT_FALSE(whole.empty());
    for (unsigned seed = 1; seed <= 20; ++seed) {
      SCOPED_TRACE(seed);
      EXPECT_EQ(flat(pull_random_splits(bytes, seed, seed < 10 ? 7 : 300)), flat(whole));
    }
  }
}

TEST(SseReader, Pull_MixedStream_AnySplit_SameEventsAsWhole) {
  const auto whole = flat(read_whole(kMixedStream));
  ASSERT_EQ(whole.size(), 4u);
  for (unsigned seed = 1; seed <= 200; ++seed) {
    EXPECT_EQ(flat(pull_random_splits(kMixedStream, seed, 1 + seed % 12)), whole) << seed;
  }
}

TEST(SseReader, Pull_WholeEvents_AreViewsIntoThePushedBytes) {
  const std::string bytes = read_file(fixtures("openai").front());
  SseReader reader;
  reader.push(bytes);
  SseView v;
  std::size_t n = 0;
  while (reader.next(v)) {
    ++n;
    EXPECT_TRUE(inside(v.raw, bytes));
    EXPECT_TRUE(inside(v.data, v.raw));
  }
  EXPECT_EQ(n, count_lines_starting_with(bytes, "data:"));
  EXPECT_FALSE(reader.has_partial());
}

TEST(SseReader, Pull_EventSpanningPushes_IsCopiedAndKeptAfterTheBytesAreGone) {
  SseReader reader;
  SseView v;
  std::string first = "data: a\n\ndata: b";
  reader.push(first);
  ASSERT_TRUE(reader.next(v));
  EXPECT_EQ(v.data, "a");
  EXPECT_TRUE(inside(v.raw, first));
  EXPECT_FALSE(reader.next(v));
  EXPECT_TRUE(reader.has_partial());
  EXPECT_EQ(reader.buffered(), 7u);
  first.assign(first.size(), 'X');
  std::string second = "c\ndata: d\n\ndata: e\n\n";
  reader.push(second);
  ASSERT_TRUE(reader.next(v));
  EXPECT_EQ(v.data, "bc\nd");
  EXPECT_EQ(v.raw, "data: bc\ndata: d\n\n");
  EXPECT_FALSE(inside(v.raw, second));
  ASSERT_TRUE(reader.next(v));
  EXPECT_EQ(v.data, "e");
  EXPECT_TRUE(inside(v.raw, second));
  EXPECT_FALSE(reader.next(v));
  EXPECT_FALSE(reader.has_partial());
}

TEST(SseReader, PushEnd_DispatchesAnUnterminatedEvent_AndNothingWhenNoneIsPending) {
  SseReader reader;
  SseView v;
  reader.push("data: a\n\ndata: b");
  ASSERT_TRUE(reader.next(v));
  ASSERT_FALSE(reader.next(v));
  reader.push_end();
  ASSERT_TRUE(reader.next(v));
  EXPECT_EQ(v.data, "b");
  EXPECT_EQ(v.raw, "data: b\n\n");
  EXPECT_FALSE(reader.next(v));
  reader.push_end();
  EXPECT_FALSE(reader.next(v));
}

}  // namespace
}  // namespace stratus::codec
