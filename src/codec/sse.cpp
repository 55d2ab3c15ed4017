// Server-sent events reader and writer (see sse.h).
#include "codec/sse.h"

#include <algorithm>

namespace stratus::codec {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::size_t kNpos = std::string_view::npos;
constexpr std::size_t kMaxRawHint = 64 * 1024;

// Position of the first \r or \n at or after `from`. Two memchr scans beat find_first_of,
// which tests the set once per byte.
std::size_t find_line_end(std::string_view s, std::size_t from) {
  return std::min(s.find('\n', from), s.find('\r', from));
}

// A line's content never holds \r or \n, so stripping both from the back leaves exactly it.
std::string_view strip_line_end(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  return line;
}

}  // namespace

void SseReader::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (!bom_checked_ && !skip_bom(bytes)) return;
  if (!buf_.empty()) {
    const std::size_t used = finish_buffered_line(bytes, out);
    if (used == kNpos) return;
    bytes.remove_prefix(used);
  }
  // Lines wholly inside `bytes` are parsed in place; bytes of the current event are copied
  // once, into raw_, when the event ends or the feed does.
  std::size_t event_start = 0;
  std::size_t pos = 0;
  std::size_t lf = bytes.find('\n');
  std::size_t cr = bytes.find('\r');
  while (true) {
    if (lf < pos) lf = bytes.find('\n', pos);
    if (cr < pos) cr = bytes.find('\r', pos);
    const std::size_t end = std::min(lf, cr);
    if (end == kNpos) break;
    std::size_t next = end + 1;
    if (end == cr) {
      // A final \r may be half of a \r\n: wait for the next byte so that raw is the same
      // however the stream is split.
      if (next == bytes.size()) break;
      if (bytes[next] == '\n') ++next;
    }
    const std::string_view line = bytes.substr(pos, end - pos);
    if (line.empty()) {  // the event's bytes end here
      raw_.append(bytes.substr(event_start, next - event_start));
      event_start = next;
    }
    process_line(line, out);
    pos = next;
  }
  append_raw(bytes.substr(event_start, pos - event_start));
  buf_.assign(bytes.substr(pos));
  last_was_cr_ = !buf_.empty() && buf_.back() == '\r';
}

void SseReader::finish(std::vector<SseEvent>& out) {
  if (has_partial() || has_data_) feed("\n\n", out);
}

bool SseReader::has_partial() const { return !buf_.empty() || !raw_.empty(); }

std::size_t SseReader::buffered() const { return buf_.size() + raw_.size(); }

// Holds back the first bytes in buf_ until they are known to be, or not to be, a BOM.
// Returns false while undecided.
bool SseReader::skip_bom(std::string_view& bytes) {
  const std::size_t have = buf_.size();
  const std::size_t take = std::min(kBom.size() - have, bytes.size());
  if (kBom.substr(have, take) != bytes.substr(0, take)) {
    bom_checked_ = true;  // the held-back bytes are the start of an ordinary first line
    return true;
  }
  if (have + take < kBom.size()) {
    buf_.append(bytes);
    return false;
  }
  bom_checked_ = true;
  buf_.clear();
  bytes.remove_prefix(take);
  return true;
}

// Completes the line started by an earlier feed. Returns how many bytes of `bytes` it took,
// or npos when the line is still not complete.
std::size_t SseReader::finish_buffered_line(std::string_view bytes, std::vector<SseEvent>& out) {
  std::size_t used = 0;
  if (last_was_cr_) {
    if (bytes.empty()) return kNpos;
    used = bytes.front() == '\n' ? 1 : 0;
  } else {
    const std::size_t end = find_line_end(bytes, 0);
    if (end == kNpos || (bytes[end] == '\r' && end + 1 == bytes.size())) {
      buf_.append(bytes);
      last_was_cr_ = end != kNpos;
      return kNpos;
    }
    used = end + 1;
    if (bytes[end] == '\r' && bytes[used] == '\n') ++used;
  }
  last_was_cr_ = false;
  const std::size_t line_size = buf_.size() + used;
  append_raw(buf_);
  append_raw(bytes.substr(0, used));
  buf_.clear();
  process_line(strip_line_end(std::string_view(raw_).substr(raw_.size() - line_size)), out);
  return used;
}

// `line` has no terminator. For a blank line, raw_ already holds the whole event.
void SseReader::process_line(std::string_view line, std::vector<SseEvent>& out) {
  if (line.empty()) {
    end_event(out);
    return;
  }
  if (line.front() == ':') return;  // comment
  const std::size_t colon = line.find(':');
  const std::string_view name = line.substr(0, colon);
  std::string_view value;
  if (colon != kNpos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (name == "data") {
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (name == "event") {
    current_.event.assign(value);
  } else if (name == "id") {
    if (value.find('\0') == kNpos) current_.id.assign(value);  // WHATWG ignores such ids
  }
  // `retry` and unknown fields are ignored.
}

// For an event split across feeds, one allocation of about the last event's size replaces a
// chain of regrowths: events of a stream tend to be alike.
void SseReader::append_raw(std::string_view bytes) {
  if (bytes.empty()) return;
  if (raw_.empty()) raw_.reserve(std::max(raw_hint_, bytes.size()));
  raw_.append(bytes);
}

void SseReader::end_event(std::vector<SseEvent>& out) {
  if (has_data_) {
    raw_hint_ = std::min(raw_.size(), kMaxRawHint);
    current_.raw = std::move(raw_);
    out.push_back(std::move(current_));
  }
  current_ = SseEvent{};
  raw_.clear();
  has_data_ = false;
}

std::string encode_sse(std::string_view data, std::string_view event) {
  // A line break in the name would end the field early and could inject fields: cut it there.
  event = event.substr(0, find_line_end(event, 0));
  std::string out;
  out.reserve(data.size() + event.size() + 16);
  if (!event.empty()) {
    out.append("event: ").append(event).push_back('\n');
  }
  // SSE cannot carry \r in data: \r\n, \r and \n all become a new `data:` line and read back
  // as \n.
  std::size_t pos = 0;
  while (true) {
    const std::size_t end = find_line_end(data, pos);
    out.append("data: ").append(data.substr(pos, end - pos)).push_back('\n');
    if (end == kNpos) break;
    pos = end + 1;
    if (data[end] == '\r' && pos < data.size() && data[pos] == '\n') ++pos;
  }
  out.push_back('\n');
  return out;
}

}  // namespace stratus::codec
