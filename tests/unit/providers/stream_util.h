// Test helpers for stream decoders: feed recorded bytes whole, one byte at a time or in random
// splits, and compare the chunk sequences in a canonical text form.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "mock/dialect.h"
#include "providers/adapter.h"

namespace stratus::providers::testing {

inline std::string read_data(const std::string& relative) {
  std::ifstream in(std::filesystem::path(STRATUS_TEST_DATA) / relative, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  if (!in) throw std::runtime_error("cannot read test data " + relative);
  return s.str();
}

// A deployment of this adapter type on an unreachable address, with every key set.
inline Deployment test_deployment(std::string_view type) {
  Deployment d;
  d.provider = "p";
  d.type = std::string(type);
  d.base_url = "http://127.0.0.1:1";
  d.model = "m";
  d.region = "us-east-1";
  d.project = "proj";
  d.api_version = type == "azure" ? "2024-10-21" : "";
  return d;
}

// A streamed answer (usage included) as the provider's mock dialect frames it, event by event.
inline std::vector<std::string> rendered_events(std::string_view dialect, const mock::Script& s) {
  const auto* d = mock::find_dialect(dialect);
  if (!d) return {};
  mock::ChatCall call;
  call.model = s.model;
  call.stream = true;
  call.include_usage = true;
  return d->stream_events(call, s);
}

// One line per chunk, every field that matters.
inline std::string describe(const api::ChatChunk& c) {
  std::string s;
  if (c.role) s += "role ";
  if (!c.content.empty()) s += "content=" + c.content + " ";
  if (!c.refusal.empty()) s += "refusal=" + c.refusal + " ";
  if (!c.reasoning.empty()) s += "reasoning=" + c.reasoning + " ";
  for (auto& t : c.tool_calls) {
    s += "tool[" + std::to_string(t.index) + "] id=" + t.id + " name=" + t.name +
         " args=" + t.arguments + " ";
  }
  if (c.finish_reason)
    s += "finish=" + std::string(api::finish_reason_name(*c.finish_reason)) + " ";
  if (c.usage) {
    s += "usage=" + std::to_string(c.usage->prompt_tokens) + "/" +
         std::to_string(c.usage->completion_tokens) + "/" + std::to_string(c.usage->total_tokens) +
         " cached=" + std::to_string(c.usage->cached_tokens);
  }
  return s;
}

struct Decoded {
  std::vector<std::string> chunks;  // describe() of each
  std::optional<core::Error> error;
  std::string text() const {
    std::string s;
    for (auto& c : chunks) s += c + "\n";
    if (error) s += "error: " + error->message + "\n";
    return s;
  }
};

using DecoderFactory = std::function<std::unique_ptr<StreamDecoder>()>;

// Feeds `bytes` in pieces of the sizes `next_size` returns, then finish().
inline Decoded decode_in_pieces(const DecoderFactory& make, std::string_view bytes,
                                const std::function<std::size_t()>& next_size) {
  auto d = make();
  std::vector<api::ChatChunk> out;
  Decoded r;
  while (!bytes.empty()) {
    auto n = std::min(bytes.size(), std::max<std::size_t>(1, next_size()));
    auto ok = d->feed(bytes.substr(0, n), out);
    bytes.remove_prefix(n);
    if (!ok) {
      r.error = ok.error();
      break;
    }
  }
  if (!r.error) {
    if (auto ok = d->finish(out); !ok) r.error = ok.error();
  }
  for (auto& c : out) r.chunks.push_back(describe(c));
  return r;
}

inline Decoded decode_whole(const DecoderFactory& make, std::string_view bytes) {
  return decode_in_pieces(make, bytes, [&] { return bytes.size(); });
}

// Whole, one byte at a time and 20 random splits must give the same result; returns it.
inline Decoded decode_every_way(const DecoderFactory& make, std::string_view bytes,
                                std::string* mismatch) {
  auto whole = decode_whole(make, bytes);
  auto bytewise = decode_in_pieces(make, bytes, [] { return std::size_t{1}; });
  if (bytewise.text() != whole.text()) *mismatch = "byte-at-a-time differs:\n" + bytewise.text();
  std::mt19937 rng(42);
  for (int i = 0; i < 20 && mismatch->empty(); ++i) {
    std::uniform_int_distribution<std::size_t> size(1, 64);
    auto random = decode_in_pieces(make, bytes, [&] { return size(rng); });
    if (random.text() != whole.text()) *mismatch = "random split differs:\n" + random.text();
  }
  return whole;
}

}  // namespace stratus::providers::testing
