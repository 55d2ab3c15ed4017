// AWS event stream decoder and encoder (see eventstream.h).
#include "codec/eventstream.h"

#include <algorithm>
#include <boost/crc.hpp>

namespace stratus::codec {
namespace {

constexpr std::size_t kPrelude = 12;  // total length, headers length, prelude CRC
constexpr std::size_t kCrc = 4;
// A buffer that grew for a large frame is released rather than kept for the whole stream.
constexpr std::size_t kKeepCapacity = 64 * 1024;

std::uint64_t read_be(const char* p, std::size_t n) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

std::uint32_t read_u32(std::string_view s, std::size_t pos) {
  return static_cast<std::uint32_t>(read_be(s.data() + pos, 4));
}

void append_be(std::string& out, std::uint64_t v, std::size_t n) {
  for (std::size_t i = n; i-- > 0;) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

void write_u32(std::string& out, std::size_t pos, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) out[pos + i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
}

std::unexpected<core::Error> upstream_error(std::string message) {
  return core::fail(core::ErrorKind::upstream, std::move(message));
}

struct Prelude {
  std::uint32_t total = 0;
  std::uint32_t headers = 0;
};

// Checks the first 12 bytes of a frame; `crc` has then consumed its first 8.
core::Result<Prelude> check_prelude(std::string_view frame, std::uint32_t max_message,
                                    boost::crc_32_type& crc) {
  crc.process_bytes(frame.data(), 8);
  if (crc.checksum() != read_u32(frame, 8)) return upstream_error("Prelude checksum mismatch");
  const Prelude p{read_u32(frame, 0), read_u32(frame, 4)};
  if (p.total < EventStreamDecoder::kMinMessage || p.total > max_message) {
    return upstream_error("event stream message length " + std::to_string(p.total) +
                          " out of range [16, " + std::to_string(max_message) + "]");
  }
  if (p.headers > p.total - EventStreamDecoder::kMinMessage) {
    return upstream_error("event stream headers length " + std::to_string(p.headers) +
                          " exceeds message length " + std::to_string(p.total));
  }
  return p;
}

// Size of a header value of this type that has no length prefix; -1: length-prefixed; -2: unknown.
int fixed_size(std::uint8_t type) {
  switch (static_cast<EventHeaderType>(type)) {
    case EventHeaderType::bool_true:
    case EventHeaderType::bool_false:
      return 0;
    case EventHeaderType::byte:
      return 1;
    case EventHeaderType::int16:
      return 2;
    case EventHeaderType::int32:
      return 4;
    case EventHeaderType::int64:
    case EventHeaderType::timestamp:
      return 8;
    case EventHeaderType::uuid:
      return 16;
    case EventHeaderType::byte_array:
    case EventHeaderType::string:
      return -1;
  }
  return -2;
}

std::int64_t signed_value(std::uint64_t raw, int size) {
  switch (size) {
    case 1:
      return static_cast<std::int8_t>(raw);
    case 2:
      return static_cast<std::int16_t>(raw);
    case 4:
      return static_cast<std::int32_t>(raw);
    default:
      return static_cast<std::int64_t>(raw);
  }
}

core::Result<std::vector<EventHeader>> parse_headers(std::string_view h) {
  std::vector<EventHeader> headers;
  std::size_t pos = 0;
  auto truncated = [](std::string_view name) {
    return upstream_error("truncated event stream header '" + std::string(name) + "'");
  };
  while (pos < h.size()) {
    const std::size_t name_len = static_cast<unsigned char>(h[pos++]);
    if (name_len == 0) return upstream_error("event stream header with an empty name");
    if (pos + name_len + 1 > h.size()) return truncated(h.substr(pos, name_len));
    EventHeader header;
    header.name.assign(h.substr(pos, name_len));
    pos += name_len;
    const auto type = static_cast<std::uint8_t>(h[pos++]);
    header.type = static_cast<EventHeaderType>(type);
    const int size = fixed_size(type);
    if (size == -2) {
      return upstream_error("unknown event stream header type " + std::to_string(type) + " for '" +
                            header.name + "'");
    }
    if (size == -1) {
      if (pos + 2 > h.size()) return truncated(header.name);
      const std::size_t len = read_be(h.data() + pos, 2);
      pos += 2;
      if (pos + len > h.size()) return truncated(header.name);
      header.bytes.assign(h.substr(pos, len));
      pos += len;
    } else if (header.type == EventHeaderType::uuid) {
      if (pos + 16 > h.size()) return truncated(header.name);
      header.bytes.assign(h.substr(pos, 16));
      pos += 16;
    } else {
      const auto n = static_cast<std::size_t>(size);
      if (pos + n > h.size()) return truncated(header.name);
      header.number = size == 0 ? (header.type == EventHeaderType::bool_true ? 1 : 0)
                                : signed_value(read_be(h.data() + pos, n), size);
      pos += n;
    }
    headers.push_back(std::move(header));
  }
  return headers;
}

core::Result<EventMessage> decode_frame(std::string_view frame, std::uint32_t max_message) {
  if (frame.size() < kPrelude) return upstream_error("truncated event stream prelude");
  boost::crc_32_type crc;
  const auto prelude = check_prelude(frame, max_message, crc);
  if (!prelude) return std::unexpected(prelude.error());
  if (prelude->total != frame.size()) {
    return upstream_error("truncated event stream message: " + std::to_string(frame.size()) +
                          " of " + std::to_string(prelude->total) + " bytes");
  }
  crc.process_bytes(frame.data() + 8, frame.size() - 8 - kCrc);
  if (crc.checksum() != read_u32(frame, frame.size() - kCrc)) {
    return upstream_error("Message checksum mismatch");
  }
  auto headers = parse_headers(frame.substr(kPrelude, prelude->headers));
  if (!headers) return std::unexpected(headers.error());
  EventMessage m;
  m.headers = std::move(*headers);
  const std::size_t payload_at = kPrelude + prelude->headers;
  m.payload.assign(frame.substr(payload_at, frame.size() - kCrc - payload_at));
  return m;
}

EventHeader make(std::string name, EventHeaderType type, std::int64_t number, std::string bytes) {
  return {std::move(name), type, number, std::move(bytes)};
}

}  // namespace

EventHeader EventHeader::of_string(std::string name, std::string value) {
  return make(std::move(name), EventHeaderType::string, 0, std::move(value));
}
EventHeader EventHeader::of_bool(std::string name, bool value) {
  return make(std::move(name), value ? EventHeaderType::bool_true : EventHeaderType::bool_false,
              value ? 1 : 0, {});
}
EventHeader EventHeader::of_byte(std::string name, std::int8_t value) {
  return make(std::move(name), EventHeaderType::byte, value, {});
}
EventHeader EventHeader::of_int16(std::string name, std::int16_t value) {
  return make(std::move(name), EventHeaderType::int16, value, {});
}
EventHeader EventHeader::of_int32(std::string name, std::int32_t value) {
  return make(std::move(name), EventHeaderType::int32, value, {});
}
EventHeader EventHeader::of_int64(std::string name, std::int64_t value) {
  return make(std::move(name), EventHeaderType::int64, value, {});
}
EventHeader EventHeader::of_bytes(std::string name, std::string value) {
  return make(std::move(name), EventHeaderType::byte_array, 0, std::move(value));
}
EventHeader EventHeader::of_timestamp(std::string name, std::int64_t millis) {
  return make(std::move(name), EventHeaderType::timestamp, millis, {});
}
EventHeader EventHeader::of_uuid(std::string name, std::string sixteen_bytes) {
  return make(std::move(name), EventHeaderType::uuid, 0, std::move(sixteen_bytes));
}

const EventHeader* EventMessage::find(std::string_view name) const {
  auto it = std::find_if(headers.begin(), headers.end(),
                         [&](const EventHeader& h) { return h.name == name; });
  return it == headers.end() ? nullptr : &*it;
}

std::string_view EventMessage::string_header(std::string_view name) const {
  const EventHeader* h = find(name);
  return h && h->type == EventHeaderType::string ? std::string_view(h->bytes) : std::string_view{};
}

core::Result<EventMessage> decode_event(std::string_view frame) {
  return decode_frame(frame, EventStreamDecoder::kDefaultMaxMessage);
}

core::Result<void> EventStreamDecoder::fail(core::Error e) {
  failed_ = true;
  error_ = std::move(e);
  std::string().swap(buf_);
  return std::unexpected(error_);
}

core::Result<std::uint32_t> EventStreamDecoder::check_prelude(std::string_view frame) const {
  boost::crc_32_type crc;
  auto p = codec::check_prelude(frame, max_message_, crc);
  if (!p) return std::unexpected(p.error());
  return p->total;
}

core::Result<void> EventStreamDecoder::feed(std::string_view bytes,
                                            std::vector<EventMessage>& out) {
  if (failed_) return std::unexpected(error_);
  if (!buf_.empty()) {
    if (buf_.size() < kPrelude) {
      const std::size_t take = std::min(kPrelude - buf_.size(), bytes.size());
      buf_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (buf_.size() < kPrelude) return {};
      auto total = check_prelude(buf_);
      if (!total) return fail(total.error());
      pending_total_ = *total;
      buf_.reserve(pending_total_);
    }
    const std::size_t take = std::min<std::size_t>(pending_total_ - buf_.size(), bytes.size());
    buf_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    if (buf_.size() < pending_total_) return {};
    auto m = decode_frame(buf_, max_message_);
    if (!m) return fail(m.error());
    out.push_back(std::move(*m));
    if (buf_.capacity() > kKeepCapacity) {
      std::string().swap(buf_);
    } else {
      buf_.clear();
    }
  }
  // Whole frames are decoded straight from the caller's bytes.
  while (bytes.size() >= kPrelude) {
    auto total = check_prelude(bytes);
    if (!total) return fail(total.error());
    if (bytes.size() < *total) {
      pending_total_ = *total;
      buf_.reserve(pending_total_);
      break;
    }
    auto m = decode_frame(bytes.substr(0, *total), max_message_);
    if (!m) return fail(m.error());
    out.push_back(std::move(*m));
    bytes.remove_prefix(*total);
  }
  buf_.append(bytes);
  return {};
}

std::string encode_event(const std::vector<EventHeader>& headers, std::string_view payload) {
  std::string out(kPrelude, '\0');
  for (const EventHeader& h : headers) {
    const std::string_view name = std::string_view(h.name).substr(0, 255);
    out += static_cast<char>(name.size());
    out += name;
    out += static_cast<char>(h.type);
    switch (h.type) {
      case EventHeaderType::bool_true:
      case EventHeaderType::bool_false:
        break;
      case EventHeaderType::byte:
        append_be(out, static_cast<std::uint64_t>(h.number), 1);
        break;
      case EventHeaderType::int16:
        append_be(out, static_cast<std::uint64_t>(h.number), 2);
        break;
      case EventHeaderType::int32:
        append_be(out, static_cast<std::uint64_t>(h.number), 4);
        break;
      case EventHeaderType::int64:
      case EventHeaderType::timestamp:
        append_be(out, static_cast<std::uint64_t>(h.number), 8);
        break;
      case EventHeaderType::byte_array:
      case EventHeaderType::string: {
        const std::string_view value = std::string_view(h.bytes).substr(0, 65535);
        append_be(out, value.size(), 2);
        out += value;
        break;
      }
      case EventHeaderType::uuid: {
        std::string uuid = h.bytes.substr(0, 16);
        uuid.resize(16, '\0');
        out += uuid;
        break;
      }
    }
  }
  const std::size_t headers_length = out.size() - kPrelude;
  out += payload;
  write_u32(out, 0, static_cast<std::uint32_t>(out.size() + kCrc));
  write_u32(out, 4, static_cast<std::uint32_t>(headers_length));
  boost::crc_32_type crc;
  crc.process_bytes(out.data(), 8);
  write_u32(out, 8, crc.checksum());
  crc.process_bytes(out.data() + 8, out.size() - 8);
  append_be(out, crc.checksum(), 4);
  return out;
}

}  // namespace stratus::codec
