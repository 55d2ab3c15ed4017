// SseReader throughput on a recorded OpenAI stream, fed whole and in 64-byte pieces (owned
// events, and the relay's views), against a memchr line count over the same bytes (the floor
// any line-based reader pays); and the relay's per-event scan (api::scan_event).
#include <benchmark/benchmark.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "api/openai.h"
#include "codec/sse.h"

namespace {

const std::string& recorded_stream() {
  static const std::string bytes = [] {
    std::ifstream in(STRATUS_TEST_DATA "/openai/chat-stream_text_usage-chunk.sse",
                     std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }();
  return bytes;
}

void feed_in_pieces(benchmark::State& state, std::size_t piece) {
  const std::string_view bytes = recorded_stream();
  if (bytes.empty()) state.SkipWithError("recorded stream not found");
  std::vector<stratus::codec::SseEvent> events;
  for (auto _ : state) {
    stratus::codec::SseReader reader;
    events.clear();
    for (std::size_t i = 0; i < bytes.size(); i += piece) {
      reader.feed(bytes.substr(i, piece), events);
    }
    benchmark::DoNotOptimize(events.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
  state.counters["events"] = static_cast<double>(events.size());
}

void BM_Baseline_MemchrLines(benchmark::State& state) {
  const std::string_view bytes = recorded_stream();
  for (auto _ : state) {
    std::size_t lines = 0;
    const char* p = bytes.data();
    const char* const end = p + bytes.size();
    while (const void* nl = std::memchr(p, '\n', static_cast<std::size_t>(end - p))) {
      ++lines;
      p = static_cast<const char*>(nl) + 1;
    }
    benchmark::DoNotOptimize(lines);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}

void BM_SseReader_Whole(benchmark::State& state) {
  feed_in_pieces(state, recorded_stream().size());
}

void BM_SseReader_64BytePieces(benchmark::State& state) { feed_in_pieces(state, 64); }

void pull_in_pieces(benchmark::State& state, std::size_t piece) {
  const std::string_view bytes = recorded_stream();
  if (bytes.empty()) state.SkipWithError("recorded stream not found");
  std::size_t events = 0;
  for (auto _ : state) {
    stratus::codec::SseReader reader;
    stratus::codec::SseView v;
    events = 0;
    for (std::size_t i = 0; i < bytes.size(); i += piece) {
      reader.push(bytes.substr(i, piece));
      while (reader.next(v)) {
        benchmark::DoNotOptimize(v.data.data());
        ++events;
      }
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
  state.counters["events"] = static_cast<double>(events);
}

void BM_SseReaderViews_Whole(benchmark::State& state) {
  pull_in_pieces(state, recorded_stream().size());
}

void BM_SseReaderViews_64BytePieces(benchmark::State& state) { pull_in_pieces(state, 64); }

void BM_ScanEvent(benchmark::State& state) {
  std::vector<stratus::codec::SseEvent> events;
  stratus::codec::SseReader reader;
  reader.feed(recorded_stream(), events);
  std::size_t bytes = 0;
  for (const auto& e : events) bytes += e.data.size();
  for (auto _ : state) {
    for (const auto& e : events) benchmark::DoNotOptimize(stratus::api::scan_event(e.data));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
  state.counters["events"] = static_cast<double>(events.size());
}

}  // namespace

BENCHMARK(BM_Baseline_MemchrLines);
BENCHMARK(BM_SseReader_Whole);
BENCHMARK(BM_SseReader_64BytePieces);
BENCHMARK(BM_SseReaderViews_Whole);
BENCHMARK(BM_SseReaderViews_64BytePieces);
BENCHMARK(BM_ScanEvent);
