// Server-sent events (text/event-stream) framing with no I/O: an incremental reader that
// accepts any split of the bytes and a writer for single events.
#pragma once

#include <cstddef>
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

// An event as views: into the bytes given to push() when the event lies wholly inside them,
// else into the reader's own buffers. Same fields and meaning as SseEvent.
struct SseView {
  std::string_view event;
  std::string_view data;
  std::string_view id;
  std::string_view raw;
};

// Incremental SSE parser following the WHATWG event-stream rules: lines end in \n, \r\n or
// \r; comment lines (":...") are ignored; a blank line dispatches the event; an event with no
// data field is not dispatched; one leading space after the colon is stripped; a leading
// UTF-8 BOM is skipped.
//
// Two ways to read. push() then next() until it says false hands out views and copies only
// the bytes of an event that spans pushes (a relay's path). feed() gives owned events.
class SseReader {
 public:
  // Hands over the next bytes. They must stay valid until next() has returned false; only
  // the tail of an unfinished event is copied (at that point).
  void push(std::string_view bytes);
  // The next whole event, or false when the pushed bytes hold no more. `out`'s views are
  // valid until the next call to push() or next().
  bool next(SseView& out);
  // At the end of the stream: makes an event whose final blank line (or line end) never came
  // available to next(). Lenient on purpose: some servers and recordings omit the last blank
  // line.
  void push_end();

  // Appends whole events found so far to `out` (push and next, with copies).
  void feed(std::string_view bytes, std::vector<SseEvent>& out);
  // push_end() for feed().
  void finish(std::vector<SseEvent>& out);
  // True when bytes of an unfinished event are buffered (a stream cut mid-event).
  bool has_partial() const;
  // Bytes buffered and not yet part of a dispatched event.
  std::size_t buffered() const;

 private:
  std::size_t scan(std::size_t from);
  std::size_t line_end(std::size_t from);
  bool dispatch(std::string_view raw, SseView& out);
  bool parse(std::string_view raw, SseView& out);

  std::string_view in_;        // the bytes of the last push
  std::size_t pos_ = 0;        // how far in_ is consumed
  std::size_t lf_ = 0;         // next \n in in_ at or after the scan (npos: none)
  std::size_t cr_ = 0;         // next \r likewise
  std::string pending_;        // the start of an event that spans pushes
  bool pending_done_ = false;  // pending_ was handed out whole by next(): clear it
  std::string data_;           // data lines joined, for an event with more than one
  std::string bom_;            // first bytes held back while they may be a BOM
  bool bom_checked_ = false;
  // Where the scan stands, between pushes: at the start of a line; just after a \r that
  // ended a line (a \n next belongs to it); after a \r that ended a blank line (the event
  // ends before or after a \n next).
  bool line_start_ = true;
  bool after_cr_ = false;
  bool blank_cr_ = false;
  // Of the event being scanned: its lines before the blank one, and whether any ended in \r
  // (one `data:` line ended by \n is the usual event, read without a line-by-line parse).
  int lines_ = 0;
  bool saw_cr_ = false;
};

// Encodes one event: optional `event:` line, one `data:` line per line of data, blank line.
std::string encode_sse(std::string_view data, std::string_view event = {});

}  // namespace stratus::codec
