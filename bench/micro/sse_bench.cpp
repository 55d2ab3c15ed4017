// SseReader throughput on a recorded OpenAI stream, fed whole and in 64-byte pieces, against a
// memchr line count over the same bytes (the floor any line-based reader pays).
#include <benchmark/benchmark.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "codec/sse.h"

namespace {

const std::string& recorded_stream() {
  static const std::string bytes = [] {
    std::ifstream in(STRATUS_TEST_DATA "/openai/chat-stream_n3-choices.sse", std::ios::binary);
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

}  // namespace

BENCHMARK(BM_Baseline_MemchrLines);
BENCHMARK(BM_SseReader_Whole);
BENCHMARK(BM_SseReader_64BytePieces);
