// Server-sent events reader and writer (see sse.h).
#include "codec/sse.h"

#include <algorithm>

namespace stratus::codec {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::size_t kNpos = std::string_view::npos;

// Position of the first \r or \n at or after `from`. Two memchr scans beat find_first_of,
// which tests the set once per byte.
std::size_t find_line_end(std::string_view s, std::size_t from) {
  return std::min(s.find('\n', from), s.find('\r', from));
}

SseEvent owned(const SseView& v) {
  return SseEvent{std::string(v.event), std::string(v.data), std::string(v.id), std::string(v.raw)};
}

}  // namespace

void SseReader::push(std::string_view bytes) {
  if (pending_done_) {
    pending_.clear();
    pending_done_ = false;
  }
  if (!bom_checked_) {
    // Holds back the first bytes until they are known to be, or not to be, a BOM.
    const std::size_t have = bom_.size();
    const std::size_t take = std::min(kBom.size() - have, bytes.size());
    if (kBom.substr(have, take) != bytes.substr(0, take)) {
      bom_checked_ = true;
      if (have > 0) {  // the held-back bytes start an ordinary first line (no line end in them)
        pending_.assign(bom_);
        line_start_ = false;
      }
      bom_.clear();
    } else if (have + take < kBom.size()) {
      bom_.append(bytes);
      bytes = {};
    } else {
      bom_checked_ = true;
      bom_.clear();
      bytes.remove_prefix(take);
    }
  }
  in_ = bytes;
  pos_ = 0;
  lf_ = in_.find('\n');
  cr_ = in_.find('\r');
}

bool SseReader::next(SseView& out) {
  if (pending_done_) {
    pending_.clear();
    pending_done_ = false;
  }
  for (;;) {
    const std::size_t start = pos_;
    if (!pending_.empty()) {  // an event begun in an earlier push: complete it by a copy
      const std::size_t end = scan(start);
      if (end == kNpos) {
        pending_.append(in_.substr(start));
        pos_ = in_.size();
        return false;
      }
      pending_.append(in_.substr(start, end - start));
      pos_ = end;
      if (dispatch(pending_, out)) {
        pending_done_ = true;
        return true;
      }
      pending_.clear();
      continue;
    }
    if (start == in_.size()) return false;
    lines_ = 0;  // a new event
    saw_cr_ = false;
    const std::size_t end = scan(start);
    if (end == kNpos) {  // the rest is the start of an event: keep it for the next push
      pending_.assign(in_.substr(start));
      pos_ = in_.size();
      return false;
    }
    pos_ = end;
    if (dispatch(in_.substr(start, end - start), out)) return true;
  }
}

void SseReader::push_end() {
  if (has_partial()) push("\n\n");
}

void SseReader::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  push(bytes);
  SseView v;
  while (next(v)) out.push_back(owned(v));
}

void SseReader::finish(std::vector<SseEvent>& out) {
  push_end();
  SseView v;
  while (next(v)) out.push_back(owned(v));
}

bool SseReader::has_partial() const {
  return (!pending_done_ && !pending_.empty()) || !bom_.empty();
}

std::size_t SseReader::buffered() const {
  return (pending_done_ ? 0 : pending_.size()) + bom_.size();
}

// Next \r or \n in in_ at or after `from`, from positions found once per push.
std::size_t SseReader::line_end(std::size_t from) {
  if (lf_ < from) lf_ = in_.find('\n', from);  // (npos is never below `from`)
  if (cr_ < from) cr_ = in_.find('\r', from);
  return std::min(lf_, cr_);
}

// Scans in_ from `i`, where the scan state says where the last scan stopped, to the end of
// the event's blank line. Returns that position, or npos when in_ ends first (the state then
// describes in_'s end).
std::size_t SseReader::scan(std::size_t i) {
  const std::size_t n = in_.size();
  if (blank_cr_) {
    if (i == n) return kNpos;
    blank_cr_ = false;
    return in_[i] == '\n' ? i + 1 : i;
  }
  while (i < n) {
    if (after_cr_) {
      after_cr_ = false;
      if (in_[i] == '\n') {
        ++i;
        continue;
      }
    }
    if (line_start_) {
      const char c = in_[i];
      if (c == '\n') return i + 1;
      if (c == '\r') {
        saw_cr_ = true;
        // A final \r may be half of a \r\n: wait for the next byte so that raw is the same
        // however the stream is split.
        if (i + 1 == n) {
          blank_cr_ = true;
          return kNpos;
        }
        return in_[i + 1] == '\n' ? i + 2 : i + 1;
      }
      line_start_ = false;
    }
    const std::size_t e = line_end(i);
    if (e == kNpos) return kNpos;
    line_start_ = true;
    after_cr_ = in_[e] == '\r';
    saw_cr_ |= after_cr_;
    ++lines_;
    i = e + 1;
  }
  return kNpos;
}

// One `data:` line ended by \n, then the blank line: the data is the line's rest. Anything
// else is parsed line by line.
bool SseReader::dispatch(std::string_view raw, SseView& out) {
  constexpr std::string_view kData = "data:";
  if (lines_ != 1 || saw_cr_ || !raw.starts_with(kData)) return parse(raw, out);
  out = SseView{};
  out.raw = raw;
  std::string_view value = raw.substr(kData.size(), raw.size() - kData.size() - 2);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  out.data = value;
  return true;
}

// The fields of one whole event (`raw` ends with its blank line). False when it has no data.
bool SseReader::parse(std::string_view raw, SseView& out) {
  out = SseView{};
  out.raw = raw;
  bool has_data = false;
  bool joined = false;
  std::size_t pos = 0;
  std::size_t lf = raw.find('\n');
  std::size_t cr = raw.find('\r');
  while (pos < raw.size()) {
    if (lf < pos) lf = raw.find('\n', pos);
    if (cr < pos) cr = raw.find('\r', pos);
    const std::size_t end = std::min({lf, cr, raw.size()});
    if (end == pos) break;  // the blank line
    const std::string_view line = raw.substr(pos, end - pos);
    pos = end + 1;
    if (end < raw.size() && raw[end] == '\r' && pos < raw.size() && raw[pos] == '\n') ++pos;
    if (line.front() == ':') continue;  // comment
    const std::size_t colon = line.find(':');
    const std::string_view name = line.substr(0, colon);
    std::string_view value;
    if (colon != kNpos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (name == "data") {
      if (!has_data) {
        out.data = value;
        has_data = true;
      } else {
        if (!joined) data_.assign(out.data);
        joined = true;
        data_.push_back('\n');
        data_.append(value);
      }
    } else if (name == "event") {
      out.event = value;
    } else if (name == "id") {
      if (value.find('\0') == kNpos) out.id = value;  // WHATWG ignores such ids
    }
    // `retry` and unknown fields are ignored.
  }
  if (joined) out.data = data_;
  return has_data;
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
