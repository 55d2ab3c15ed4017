// The ledger's fallback while the store is down: a file of JSON lines, one event each,
// fsync'ed per batch, replayed into the store later (idempotent on request_id).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "store/store.h"

namespace stratus::store {

// One JSON object without a newline. Doubles are written as JSON strings holding their
// shortest exact text, so a replayed event has bit-identical costs (Boost.JSON 1.81 may round
// parsed doubles by one ulp).
std::string encode_event(const LedgerEvent& e);
core::Result<LedgerEvent> decode_event(std::string_view line);

class Journal {
 public:
  explicit Journal(std::string path);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  const std::string& path() const { return path_; }
  // Appends the events as one write and fsyncs. A partial line left by a crash is closed first
  // so it stays one unreadable line instead of corrupting the next event.
  core::Result<void> append(std::span<const LedgerEvent> events);
  // Reads the whole lines in order and hands them to `sink` in batches of at most `batch`;
  // stops at the first failing batch. Unreadable lines are skipped and counted in `bad`.
  using Sink = std::function<core::Result<void>(std::span<const LedgerEvent>)>;
  core::Result<void> replay(std::size_t batch, const Sink& sink, std::uint64_t& bad);
  // Lines in the file (whole or not): what a replay would hand over, bad lines included.
  core::Result<std::uint64_t> count_lines();
  core::Result<void> truncate();
  bool empty();

 private:
  core::Result<void> open();

  std::string path_;
  int fd_ = -1;
};

}  // namespace stratus::store
