// Server-sent events (text/event-stream) framing with no I/O: an incremental reader that
// accepts any split of the bytes and a writer for single events.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace stratus::codec {

struct SseEvent {
  std::string event;  // the `event:` field; empty when absent
  std::string data;   // `data:` lines joined with '\n'
  std::string id;     // the `id:` field; empty when absent
  // The exact bytes of the event as received, including its terminating blank line, so a
  // relay can forward it untouched.
  std::string raw;
};

// Incremental SSE parser following the WHATWG event-stream rules: lines end in \n, \r\n or
// \r; comment lines (":...") are ignored; a blank line dispatches the event; an event with no
// data field is not dispatched; one leading space after the colon is stripped; a leading
// UTF-8 BOM is skipped.
class SseReader {
 public:
  // Appends whole events found so far to `out`.
  void feed(std::string_view bytes, std::vector<SseEvent>& out);
  // At the end of the stream: dispatches an event whose final blank line (or line end) never
  // came. Lenient on purpose: some servers and recordings omit the last blank line.
  void finish(std::vector<SseEvent>& out);
  // True when bytes of an unfinished event are buffered (a stream cut mid-event).
  bool has_partial() const;
  // Bytes buffered and not yet part of a dispatched event.
  std::size_t buffered() const;

 private:
  void process_line(std::string_view line, std::vector<SseEvent>& out);
  bool skip_bom(std::string_view& bytes);
  std::size_t finish_buffered_line(std::string_view bytes, std::vector<SseEvent>& out);
  void end_event(std::vector<SseEvent>& out);
  void append_raw(std::string_view bytes);

  std::string buf_;  // bytes not yet consumed as whole lines
  std::string raw_;  // raw bytes of the event being built
  SseEvent current_;
  std::size_t raw_hint_ = 0;  // capacity to reserve for an event that spans feeds
  bool has_data_ = false;
  bool bom_checked_ = false;
  bool last_was_cr_ = false;  // buf_ ends in a \r that may be the first half of \r\n
};

// Encodes one event: optional `event:` line, one `data:` line per line of data, blank line.
std::string encode_sse(std::string_view data, std::string_view event = {});

}  // namespace stratus::codec
