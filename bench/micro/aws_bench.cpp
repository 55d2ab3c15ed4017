// The two AWS building blocks on the Bedrock path: event stream decoding throughput on a
// ConverseStream-like stream (whole, in 64-byte and in 1460-byte pieces) against a bare CRC32
// pass over the same bytes, and SigV4 signatures per second for a Converse request with a
// ~2 KB body against one SHA-256 of that body.
#include <benchmark/benchmark.h>

#include <boost/crc.hpp>
#include <string>
#include <vector>

#include "auth/signer.h"
#include "auth/sigv4.h"
#include "codec/eventstream.h"

namespace {

using stratus::codec::EventHeader;

std::string frame(std::string_view event_type, std::string_view payload) {
  return stratus::codec::encode_event(
      {EventHeader::of_string(":event-type", std::string(event_type)),
       EventHeader::of_string(":content-type", "application/json"),
       EventHeader::of_string(":message-type", "event")},
      payload);
}

// messageStart, 500 text deltas of a few words each, contentBlockStop, messageStop, metadata:
// the shape of a Bedrock ConverseStream answer (deltas carry a padding field "p" like AWS's).
const std::string& converse_stream() {
  static const std::string bytes = [] {
    std::string s = frame("messageStart", R"({"p":"abcdefghijklmnopqrstu","role":"assistant"})");
    for (int i = 0; i < 500; ++i) {
      s += frame("contentBlockDelta",
                 R"({"contentBlockIndex":0,"delta":{"text":" token )" + std::to_string(i) +
                     R"( of the answer"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGH"})");
    }
    s += frame("contentBlockStop", R"({"contentBlockIndex":0,"p":"abcdefghijklmnopqr"})");
    s += frame("messageStop",
               R"({"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ","stopReason":"end_turn"})");
    s += frame("metadata", R"({"metrics":{"latencyMs":1204},"p":"abcdefghijklmnopqrst",)"
                           R"("usage":{"inputTokens":312,"outputTokens":500,"totalTokens":812}})");
    return s;
  }();
  return bytes;
}

void decode_in_pieces(benchmark::State& state, std::size_t piece) {
  const std::string_view bytes = converse_stream();
  std::vector<stratus::codec::EventMessage> messages;
  for (auto _ : state) {
    stratus::codec::EventStreamDecoder decoder;
    messages.clear();
    for (std::size_t i = 0; i < bytes.size(); i += piece) {
      if (!decoder.feed(bytes.substr(i, piece), messages)) state.SkipWithError("decode failed");
    }
    benchmark::DoNotOptimize(messages.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
  state.counters["frames"] = static_cast<double>(messages.size());
}

void BM_Baseline_Crc32(benchmark::State& state) {
  const std::string_view bytes = converse_stream();
  for (auto _ : state) {
    boost::crc_32_type crc;
    crc.process_bytes(bytes.data(), bytes.size());
    benchmark::DoNotOptimize(crc.checksum());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes.size()));
}

void BM_EventStream_Whole(benchmark::State& state) {
  decode_in_pieces(state, converse_stream().size());
}
void BM_EventStream_64BytePieces(benchmark::State& state) { decode_in_pieces(state, 64); }
void BM_EventStream_1460BytePieces(benchmark::State& state) { decode_in_pieces(state, 1460); }

// A Converse request body of about 2 KB.
std::string converse_body() {
  std::string text;
  while (text.size() < 1800) text += "Summarise the benefits of multi-cloud LLM gateways. ";
  return R"({"messages":[{"role":"user","content":[{"text":")" + text +
         R"("}]}],"inferenceConfig":{"maxTokens":512,"temperature":0.2}})";
}

void BM_Baseline_Sha256Body(benchmark::State& state) {
  const std::string body = converse_body();
  for (auto _ : state) {
    // One SHA-256 of the body: the part of a signature that grows with the request.
    benchmark::DoNotOptimize(stratus::auth::sha256_hex(body));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_SigV4_SignConverse(benchmark::State& state) {
  stratus::auth::Credentials creds;
  creds.kind = stratus::auth::Credentials::Kind::sigv4;
  creds.aws = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  creds.region = "us-east-1";
  creds.service = "bedrock";
  stratus::core::UpstreamRequest req;
  req.url =
      "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
      "anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse";
  req.headers = {{"content-type", "application/json"}, {"accept", "application/json"}};
  req.body = converse_body();
  const auto now = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 20000);
  // Signing again replaces the previous signature in place (as a retry does): no copies timed.
  for (auto _ : state) {
    stratus::auth::sign(req, creds, now);
    benchmark::DoNotOptimize(req.headers.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["body_bytes"] = static_cast<double>(req.body.size());
}

}  // namespace

BENCHMARK(BM_Baseline_Crc32);
BENCHMARK(BM_EventStream_Whole);
BENCHMARK(BM_EventStream_64BytePieces);
BENCHMARK(BM_EventStream_1460BytePieces);
BENCHMARK(BM_Baseline_Sha256Body);
BENCHMARK(BM_SigV4_SignConverse);
