// AWS event stream (application/vnd.amazon.eventstream) framing with no I/O: an incremental,
// CRC-checked decoder that accepts any split of the bytes, and an encoder for single messages.
//
// Frame: total length (u32 BE) | headers length (u32 BE) | prelude CRC32 | headers | payload |
// message CRC32 (of everything before it). A header: name length (u8) | name | type (u8) | value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace stratus::codec {

enum class EventHeaderType : std::uint8_t {
  bool_true = 0,
  bool_false = 1,
  byte = 2,
  int16 = 3,
  int32 = 4,
  int64 = 5,
  byte_array = 6,
  string = 7,
  timestamp = 8,  // milliseconds since the epoch
  uuid = 9,       // 16 bytes
};

struct EventHeader {
  std::string name;
  EventHeaderType type = EventHeaderType::string;
  std::int64_t number = 0;  // bool (1/0), byte, int16, int32, int64, timestamp
  std::string bytes;        // byte_array, string, uuid

  static EventHeader of_string(std::string name, std::string value);
  static EventHeader of_bool(std::string name, bool value);
  static EventHeader of_byte(std::string name, std::int8_t value);
  static EventHeader of_int16(std::string name, std::int16_t value);
  static EventHeader of_int32(std::string name, std::int32_t value);
  static EventHeader of_int64(std::string name, std::int64_t value);
  static EventHeader of_bytes(std::string name, std::string value);
  static EventHeader of_timestamp(std::string name, std::int64_t millis);
  static EventHeader of_uuid(std::string name, std::string sixteen_bytes);

  bool operator==(const EventHeader&) const = default;
};

struct EventMessage {
  std::vector<EventHeader> headers;  // in wire order
  std::string payload;

  // The first header with this name, or nullptr.
  const EventHeader* find(std::string_view name) const;
  // The value of a string header, or "" when absent or of another type.
  std::string_view string_header(std::string_view name) const;
  std::string_view message_type() const { return string_header(":message-type"); }
  std::string_view event_type() const { return string_header(":event-type"); }
  std::string_view exception_type() const { return string_header(":exception-type"); }
  std::string_view error_code() const { return string_header(":error-code"); }
  std::string_view error_message() const { return string_header(":error-message"); }
  std::string_view content_type() const { return string_header(":content-type"); }

  bool operator==(const EventMessage&) const = default;
};

// Incremental decoder. Whole frames inside one feed are decoded in place; only a frame that
// spans feeds is buffered. After an error the stream cannot be resynchronized: every later
// feed returns the same error.
class EventStreamDecoder {
 public:
  static constexpr std::uint32_t kMinMessage = 16;  // prelude + message CRC
  static constexpr std::uint32_t kDefaultMaxMessage = 16 * 1024 * 1024 + 128 * 1024;

  explicit EventStreamDecoder(std::uint32_t max_message = kDefaultMaxMessage)
      : max_message_(max_message) {}

  // Appends the messages completed by `bytes` to `out`. Errors (kind upstream):
  // "Prelude checksum mismatch", "Message checksum mismatch", a length out of bounds, a
  // truncated or unknown header.
  core::Result<void> feed(std::string_view bytes, std::vector<EventMessage>& out);
  // True when no partial frame is buffered (a stream that ends otherwise was cut mid-frame).
  bool idle() const { return buf_.empty(); }
  std::size_t buffered() const { return buf_.size(); }

 private:
  // Checks the prelude at the start of `frame` (at least 12 bytes); the total length.
  core::Result<std::uint32_t> check_prelude(std::string_view frame) const;
  core::Result<void> fail(core::Error e);

  std::string buf_;  // the start of a frame that spans feeds
  std::uint32_t max_message_;
  std::uint32_t pending_total_ = 0;  // total length of the buffered frame, once its prelude is in
  bool failed_ = false;
  core::Error error_;
};

// Decodes exactly one whole frame (lengths, both CRCs, headers).
core::Result<EventMessage> decode_event(std::string_view frame);

// Encodes one message. Names longer than 255 bytes and string/byte-array values longer than
// 65535 bytes cannot be framed and are cut to those lengths; a uuid is padded or cut to 16 bytes.
std::string encode_event(const std::vector<EventHeader>& headers, std::string_view payload);

}  // namespace stratus::codec
