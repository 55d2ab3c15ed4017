// Event stream codec against aws-sdk-go's encoder/decoder vectors and aws-sdk-php's Bedrock
// frames, fed whole, one byte at a time and in random splits; encoder round trips.
#include "codec/eventstream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/crc.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/base64.h"

namespace stratus::codec {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const fs::path kData = fs::path(STRATUS_TEST_DATA) / "eventstream";
const fs::path kGo = kData / "aws-sdk-go";
const fs::path kPhp = kData / "aws-sdk-php";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) ADD_FAILURE() << "missing vector file " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> cases(const fs::path& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    names.push_back(it->path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string b64(std::string_view text) {
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);  // as some .b64 files end
  auto bytes = core::base64_decode(text);
  if (!bytes) ADD_FAILURE() << "bad base64 in vector: " << text;
  return bytes.value_or("");
}

struct Decoded {
  std::vector<EventMessage> messages;
  std::optional<core::Error> error;
  bool idle = true;
};

Decoded decode_whole(std::string_view bytes) {
  EventStreamDecoder d;
  Decoded r;
  if (auto ok = d.feed(bytes, r.messages); !ok) r.error = ok.error();
  r.idle = d.idle();
  return r;
}

Decoded decode_bytewise(std::string_view bytes) {
  EventStreamDecoder d;
  Decoded r;
  for (std::size_t i = 0; i < bytes.size() && !r.error; ++i) {
    if (auto ok = d.feed(bytes.substr(i, 1), r.messages); !ok) r.error = ok.error();
  }
  r.idle = d.idle();
  return r;
}

// Pieces of 0..max_piece bytes (empty feeds included on purpose); same pieces for a seed.
Decoded decode_random(std::string_view bytes, unsigned seed, std::size_t max_piece) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> size(0, max_piece);
  EventStreamDecoder d;
  Decoded r;
  std::size_t pos = 0;
  while (pos < bytes.size() && !r.error) {
    const std::size_t n = std::min(size(rng), bytes.size() - pos);
    if (auto ok = d.feed(bytes.substr(pos, n), r.messages); !ok) r.error = ok.error();
    pos += n;
  }
  r.idle = d.idle();
  return r;
}

// Every way of feeding gives the same outcome as feeding whole.
std::vector<Decoded> decode_all_ways(std::string_view bytes) {
  std::vector<Decoded> out{decode_whole(bytes), decode_bytewise(bytes)};
  for (unsigned seed = 1; seed <= 20; ++seed)
    out.push_back(decode_random(bytes, seed, 1 + seed * 3));
  return out;
}

// The headers of aws-sdk-go's decoded JSON, with their base64 values decoded.
std::vector<EventHeader> headers_from_json(const json::array& list) {
  std::vector<EventHeader> out;
  for (const auto& item : list) {
    const auto& h = item.as_object();
    EventHeader header;
    header.name = h.at("name").as_string();
    header.type = static_cast<EventHeaderType>(h.at("type").as_int64());
    const auto& v = h.at("value");
    switch (header.type) {
      case EventHeaderType::bool_true:
      case EventHeaderType::bool_false:
        header.number = v.as_bool() ? 1 : 0;
        break;
      case EventHeaderType::byte_array:
      case EventHeaderType::string:
      case EventHeaderType::uuid:
        header.bytes = b64(v.as_string());
        break;
      default:
        header.number = v.as_int64();
    }
    out.push_back(std::move(header));
  }
  return out;
}

std::uint32_t be32(std::string_view s, std::size_t pos) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
  return v;
}

std::string by_name(const testing::TestParamInfo<std::string>& info) { return info.param; }

TEST(EventStreamVectors, AllCasesPresent) {
  EXPECT_EQ(cases(kGo / "encoded" / "positive").size(), 5u);
  EXPECT_EQ(cases(kGo / "decoded" / "positive"), cases(kGo / "encoded" / "positive"));
  EXPECT_EQ(cases(kGo / "encoded" / "negative").size(), 4u);
  EXPECT_EQ(cases(kGo / "decoded" / "negative"), cases(kGo / "encoded" / "negative"));
}

class EventStreamGoPositive : public testing::TestWithParam<std::string> {};

TEST_P(EventStreamGoPositive, DecodesToJson_AnySplit) {
  const std::string frame = read_file(kGo / "encoded" / "positive" / GetParam());
  const auto want = json::parse(read_file(kGo / "decoded" / "positive" / GetParam())).as_object();
  EventMessage expected;
  expected.headers = headers_from_json(want.at("headers").as_array());
  expected.payload = b64(want.at("payload").as_string());
  for (const Decoded& d : decode_all_ways(frame)) {
    ASSERT_FALSE(d.error) << d.error->message;
    ASSERT_EQ(d.messages.size(), 1u);
    EXPECT_EQ(d.messages[0], expected);
    EXPECT_TRUE(d.idle);
  }
}

// Encoding the decoded JSON gives the recorded frame byte for byte, so our lengths and both
// CRCs are the JSON's (printed there as signed int32).
TEST_P(EventStreamGoPositive, EncodeDecodedJson_ReproducesFrame) {
  const std::string frame = read_file(kGo / "encoded" / "positive" / GetParam());
  const auto want = json::parse(read_file(kGo / "decoded" / "positive" / GetParam())).as_object();
  const std::string encoded = encode_event(headers_from_json(want.at("headers").as_array()),
                                           b64(want.at("payload").as_string()));
  EXPECT_EQ(encoded, frame);
  ASSERT_GE(encoded.size(), 16u);
  EXPECT_EQ(be32(encoded, 0), want.at("total_length").as_int64());
  EXPECT_EQ(be32(encoded, 4), want.at("headers_length").as_int64());
  EXPECT_EQ(static_cast<std::int32_t>(be32(encoded, 8)), want.at("prelude_crc").as_int64());
  EXPECT_EQ(static_cast<std::int32_t>(be32(encoded, encoded.size() - 4)),
            want.at("message_crc").as_int64());
}

INSTANTIATE_TEST_SUITE_P(AwsSdkGo, EventStreamGoPositive,
                         testing::ValuesIn(cases(kGo / "encoded" / "positive")), by_name);

class EventStreamGoNegative : public testing::TestWithParam<std::string> {};

TEST_P(EventStreamGoNegative, RejectedWithExpectedError_AnySplit) {
  const std::string frame = read_file(kGo / "encoded" / "negative" / GetParam());
  const std::string expected = read_file(kGo / "decoded" / "negative" / GetParam());
  ASSERT_FALSE(expected.empty());
  for (const Decoded& d : decode_all_ways(frame)) {
    ASSERT_TRUE(d.error);
    EXPECT_EQ(d.error->message, expected);
    EXPECT_EQ(d.error->kind, core::ErrorKind::upstream);
    EXPECT_TRUE(d.messages.empty());
  }
  EXPECT_FALSE(decode_event(frame).has_value());
}

INSTANTIATE_TEST_SUITE_P(AwsSdkGo, EventStreamGoNegative,
                         testing::ValuesIn(cases(kGo / "encoded" / "negative")), by_name);

TEST(EventStreamDecoder, AllHeaderTypes_TypedValues) {
  const auto m = decode_event(read_file(kGo / "encoded" / "positive" / "all_headers"));
  ASSERT_TRUE(m.has_value()) << m.error().message;
  ASSERT_EQ(m->headers.size(), 10u);
  EXPECT_EQ(*m->find("event-type"), EventHeader::of_int32("event-type", 40972));
  EXPECT_EQ(*m->find("bool false"), EventHeader::of_bool("bool false", false));
  EXPECT_EQ(*m->find("bool true"), EventHeader::of_bool("bool true", true));
  EXPECT_EQ(*m->find("byte"), EventHeader::of_byte("byte", -49));
  EXPECT_EQ(*m->find("byte buf"), EventHeader::of_bytes("byte buf", "I'm a little teapot!"));
  EXPECT_EQ(*m->find("timestamp"), EventHeader::of_timestamp("timestamp", 8675309));
  EXPECT_EQ(*m->find("int16"), EventHeader::of_int16("int16", 42));
  EXPECT_EQ(*m->find("int64"), EventHeader::of_int64("int64", 42424242));
  EXPECT_EQ(*m->find("uuid"),
            EventHeader::of_uuid(
                "uuid", "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10"));
  EXPECT_EQ(m->string_header("content-type"), "application/json");
  EXPECT_EQ(m->string_header("byte buf"), "");  // a byte array is not a string header
  EXPECT_EQ(m->find("missing"), nullptr);
  EXPECT_EQ(m->payload, "{'foo':'bar'}");
}

TEST(EventStreamDecoder, BedrockInvokeModelFrames_DecodeToChunks_AnySplit) {
  const std::string stream = read_file(kPhp / "bedrock_invoke_model_event.bin");
  EXPECT_EQ(stream, b64(read_file(kPhp / "bedrock_invoke_model_event.b64")));
  const auto expected =
      json::parse(read_file(kPhp / "bedrock_invoke_model_event.expected.json")).as_array();
  ASSERT_EQ(expected.size(), 2u);
  for (const Decoded& d : decode_all_ways(stream)) {
    ASSERT_FALSE(d.error) << d.error->message;
    ASSERT_EQ(d.messages.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
      const EventMessage& m = d.messages[i];
      EXPECT_EQ(m.message_type(), "event");
      EXPECT_EQ(m.event_type(), "chunk");
      EXPECT_EQ(m.content_type(), "application/json");
      const auto payload = json::parse(m.payload).as_object();
      EXPECT_EQ(b64(payload.at("bytes").as_string()),
                expected[i].at("chunk").at("bytes").as_string());
    }
    EXPECT_TRUE(d.idle);
  }
}

TEST(EventStreamDecoder, ErrorEvent_DecodesWithErrorHeaders) {
  const std::string frame = read_file(kPhp / "error_event.bin");
  EXPECT_EQ(frame, b64(read_file(kPhp / "error_event.b64")));
  for (const Decoded& d : decode_all_ways(frame)) {
    ASSERT_FALSE(d.error) << d.error->message;
    ASSERT_EQ(d.messages.size(), 1u);
    EXPECT_EQ(d.messages[0].message_type(), "error");
    EXPECT_EQ(d.messages[0].error_code(), "FooError");
    EXPECT_EQ(d.messages[0].error_message(), "Event Error");
    EXPECT_EQ(d.messages[0].payload, "");
  }
}

// The codec frames; deciding what an unknown message type means is the adapter's job.
TEST(EventStreamDecoder, UnknownMessageType_DecodesAsMessage) {
  const std::string frame = read_file(kPhp / "unknown_message_type.bin");
  EXPECT_EQ(frame, b64(read_file(kPhp / "unknown_message_type.b64")));
  const Decoded d = decode_whole(frame);
  ASSERT_FALSE(d.error) << d.error->message;
  ASSERT_EQ(d.messages.size(), 1u);
  EXPECT_EQ(d.messages[0].message_type(), "Test");
  EXPECT_EQ(d.messages[0].event_type(), "");
}

// A stream of many frames with payloads of every size from 0 to 299 bytes.
std::string many_frames(std::vector<EventMessage>& messages) {
  std::string stream;
  for (int i = 0; i < 300; ++i) {
    EventMessage m;
    m.headers = {EventHeader::of_string(":message-type", "event"),
                 EventHeader::of_string(":event-type", i % 2 ? "contentBlockDelta" : "metadata"),
                 EventHeader::of_string(":content-type", "application/json"),
                 EventHeader::of_int64("seq", i)};
    m.payload = std::string(static_cast<std::size_t>(i), static_cast<char>('a' + i % 26));
    stream += encode_event(m.headers, m.payload);
    messages.push_back(std::move(m));
  }
  return stream;
}

TEST(EventStreamEncoder, RoundTrip_ManyFrames_AnySplit) {
  std::vector<EventMessage> messages;
  const std::string stream = many_frames(messages);
  for (const Decoded& d : decode_all_ways(stream)) {
    ASSERT_FALSE(d.error) << d.error->message;
    EXPECT_EQ(d.messages, messages);
    EXPECT_TRUE(d.idle);
  }
}

TEST(EventStreamEncoder, RoundTrip_AllTypesAndExtremes) {
  const std::vector<EventHeader> headers = {
      EventHeader::of_bool("t", true),
      EventHeader::of_bool("f", false),
      EventHeader::of_byte("b", -128),
      EventHeader::of_int16("s", -32768),
      EventHeader::of_int32("i", -2147483647 - 1),
      EventHeader::of_int64("l", std::numeric_limits<std::int64_t>::min()),
      EventHeader::of_bytes("bytes", std::string("\0\xff\x01", 3)),
      EventHeader::of_string("str", std::string(65535, 'x')),
      EventHeader::of_timestamp("ts", 1700000000123),
      EventHeader::of_uuid("id", "0123456789abcdef"),
      EventHeader::of_string(std::string(255, 'n'), "long name"),
  };
  const std::string payload(100000, '\x7f');
  const auto m = decode_event(encode_event(headers, payload));
  ASSERT_TRUE(m.has_value()) << m.error().message;
  EXPECT_EQ(m->headers, headers);
  EXPECT_EQ(m->payload, payload);
}

TEST(EventStreamDecoder, StreamCutMidFrame_NotIdle) {
  std::vector<EventMessage> messages;
  const std::string stream = many_frames(messages);
  const std::string cut = stream.substr(0, stream.size() - 3);
  for (const Decoded& d : decode_all_ways(cut)) {
    ASSERT_FALSE(d.error) << d.error->message;
    EXPECT_EQ(d.messages.size(), messages.size() - 1);
    EXPECT_FALSE(d.idle);
  }
  // Cut inside the prelude too.
  const std::string in_prelude = stream.substr(0, encode_event(messages[0].headers, "").size() + 5);
  EXPECT_FALSE(decode_whole(in_prelude).idle);
  EXPECT_FALSE(decode_event(stream.substr(0, 30)).has_value());
}

TEST(EventStreamDecoder, ErrorIsSticky) {
  EventStreamDecoder d;
  std::vector<EventMessage> out;
  const std::string bad = read_file(kGo / "encoded" / "negative" / "corrupted_payload");
  ASSERT_FALSE(d.feed(bad, out).has_value());
  const std::string good = read_file(kGo / "encoded" / "positive" / "empty_message");
  const auto again = d.feed(good, out);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().message, "Message checksum mismatch");
  EXPECT_TRUE(out.empty());
}

// A frame with valid CRCs but impossible lengths is refused before any allocation.
std::string frame_with_prelude(std::uint32_t total, std::uint32_t headers_length) {
  std::string f = encode_event({}, "");
  for (int i = 0; i < 4; ++i) f[i] = static_cast<char>(total >> (24 - 8 * i));
  for (int i = 0; i < 4; ++i) f[4 + i] = static_cast<char>(headers_length >> (24 - 8 * i));
  boost::crc_32_type crc;
  crc.process_bytes(f.data(), 8);
  const std::uint32_t c = crc.checksum();
  for (int i = 0; i < 4; ++i) f[8 + i] = static_cast<char>(c >> (24 - 8 * i));
  return f;
}

TEST(EventStreamDecoder, LengthsOutOfBounds_Rejected) {
  EventStreamDecoder small(1024);
  std::vector<EventMessage> out;
  const auto too_big = small.feed(frame_with_prelude(1025, 0), out);
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().message, "event stream message length 1025 out of range [16, 1024]");
  EXPECT_EQ(decode_whole(frame_with_prelude(15, 0)).error->message,
            "event stream message length 15 out of range [16, 16908288]");
  EXPECT_EQ(decode_whole(frame_with_prelude(16, 1)).error->message,
            "event stream headers length 1 exceeds message length 16");
}

// Headers whose bytes end too early, with both CRCs right: a clear error, never a read past.
TEST(EventStreamDecoder, TruncatedOrUnknownHeader_Rejected) {
  auto frame_with_headers = [](std::string headers) {
    std::string f = encode_event({}, headers);  // the bytes as payload, then relabel them
    const auto n = static_cast<std::uint32_t>(headers.size());
    for (int i = 0; i < 4; ++i) f[4 + i] = static_cast<char>(n >> (24 - 8 * i));
    boost::crc_32_type crc;
    crc.process_bytes(f.data(), 8);
    const std::uint32_t c = crc.checksum();
    for (int i = 0; i < 4; ++i) f[8 + i] = static_cast<char>(c >> (24 - 8 * i));
    boost::crc_32_type all;
    all.process_bytes(f.data(), f.size() - 4);
    const std::uint32_t m = all.checksum();
    for (int i = 0; i < 4; ++i) f[f.size() - 4 + i] = static_cast<char>(m >> (24 - 8 * i));
    return f;
  };
  EXPECT_EQ(
      decode_whole(frame_with_headers(std::string("\x03:ab\x07\x00\x09short", 12))).error->message,
      "truncated event stream header ':ab'");
  EXPECT_EQ(decode_whole(frame_with_headers(std::string("\x01x\x05\x00\x00", 5))).error->message,
            "truncated event stream header 'x'");
  EXPECT_EQ(decode_whole(frame_with_headers(std::string("\x01x\x0a", 3))).error->message,
            "unknown event stream header type 10 for 'x'");
  EXPECT_EQ(decode_whole(frame_with_headers(std::string("\x00", 1))).error->message,
            "event stream header with an empty name");
  EXPECT_EQ(decode_whole(frame_with_headers(std::string("\x09x", 2))).error->message,
            "truncated event stream header 'x'");
}

}  // namespace
}  // namespace stratus::codec
