// Anthropic Messages SSE stream → IR chunks. Content blocks are indexed across text, thinking
// and tool_use; OpenAI numbers only tool calls, so tool_use block indexes are remapped.
#include <boost/json.hpp>
#include <map>

#include "codec/sse.h"
#include "providers/anthropic.h"
#include "providers/common.h"

namespace stratus::providers::anthropic {

namespace json = boost::json;
using core::ErrorKind;

namespace {

std::string_view str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

const json::object& obj(const json::object& o, std::string_view key) {
  static const json::object kEmpty;
  auto* v = o.if_contains(key);
  return v && v->is_object() ? v->as_object() : kEmpty;
}

class Decoder final : public StreamDecoder {
  JsonScratch scratch_;  // per-event JSON parsing without heap allocations

 public:
  explicit Decoder(std::string provider) : provider_(std::move(provider)) {}

  core::Result<void> feed(std::string_view bytes, std::vector<api::ChatChunk>& out) override {
    events_.clear();
    reader_.feed(bytes, events_);
    return handle_events(out);
  }

  bool done() const override { return stopped_; }

  core::Result<void> finish(std::vector<api::ChatChunk>& out) override {
    // A recorded stream may end without the blank line after its last event; an event cut
    // short is not JSON and just means the stream was truncated.
    events_.clear();
    reader_.finish(events_);
    if (auto r = handle_events(out, /*at_end=*/true); !r) return r;
    if (!stopped_) return std::unexpected(stream_error("ended the stream before message_stop"));
    return {};
  }

 private:
  core::Result<void> handle_events(std::vector<api::ChatChunk>& out, bool at_end = false) {
    for (const codec::SseEvent& e : events_) {
      if (stopped_) break;
      auto v = scratch_.parse(e.data);
      if (!v || !v->is_object()) {
        if (at_end) break;
        return std::unexpected(
            stream_error("sent a stream event that is not a JSON object: " + e.data));
      }
      auto r = handle(e, v->as_object(), out);
      if (!r) return r;
    }
    return {};
  }

  core::Result<void> handle(const codec::SseEvent& e, const json::object& o,
                            std::vector<api::ChatChunk>& out) {
    std::string_view type = str(o, "type");
    if (type.empty()) type = e.event;
    if (type == "message_start") return message_start(o, out);
    if (type == "content_block_start") return block_start(o, out);
    if (type == "content_block_delta") return block_delta(o, out);
    if (type == "message_delta") return message_delta(o, out);
    if (type == "message_stop") return message_stop(out);
    if (type == "error") {
      const json::object& err = obj(o, "error");
      core::UpstreamResponse in_stream;
      in_stream.status = 200;
      return std::unexpected(
          error_for_type(str(err, "type"), std::string(str(err, "message")), in_stream, provider_));
    }
    if (type == "content_block_stop") return block_stop(o, out);
    return {};  // ping and event types added later
  }

  core::Result<void> message_start(const json::object& o, std::vector<api::ChatChunk>& out) {
    read_usage(obj(obj(o, "message"), "usage"), usage_);
    api::ChatChunk c;
    c.role = true;
    out.push_back(std::move(c));
    return {};
  }

  core::Result<void> block_start(const json::object& o, std::vector<api::ChatChunk>& out) {
    const json::object& block = obj(o, "content_block");
    const std::string_view type = str(block, "type");
    api::ChatChunk c;
    if (type == "tool_use") {
      const int index = static_cast<int>(tool_index_.size());
      tool_index_[block_index(o)] = {index, false};
      c.tool_calls.push_back(
          {index, std::string(str(block, "id")), std::string(str(block, "name")), std::string()});
    } else if (type == "text") {
      c.content = str(block, "text");
    } else if (type == "thinking") {
      c.reasoning = str(block, "thinking");
    }
    if (c.tool_calls.empty() && c.content.empty() && c.reasoning.empty()) return {};
    out.push_back(std::move(c));
    return {};
  }

  core::Result<void> block_delta(const json::object& o, std::vector<api::ChatChunk>& out) {
    const json::object& delta = obj(o, "delta");
    const std::string_view type = str(delta, "type");
    api::ChatChunk c;
    if (type == "text_delta") {
      c.content = str(delta, "text");
    } else if (type == "thinking_delta") {
      c.reasoning = str(delta, "thinking");
    } else if (type == "input_json_delta") {
      auto it = tool_index_.find(block_index(o));
      if (it == tool_index_.end()) {
        return std::unexpected(
            stream_error("sent input_json_delta for a block that is not tool_use"));
      }
      const std::string_view piece = str(delta, "partial_json");
      if (!piece.empty()) {
        c.tool_calls.push_back({it->second.index, {}, {}, std::string(piece)});
        it->second.has_arguments = true;
      }
    }
    if (c.tool_calls.empty() && c.content.empty() && c.reasoning.empty()) return {};
    out.push_back(std::move(c));
    return {};
  }

  // A tool that takes no arguments streams no JSON text; OpenAI clients expect "{}".
  core::Result<void> block_stop(const json::object& o, std::vector<api::ChatChunk>& out) {
    auto it = tool_index_.find(block_index(o));
    if (it == tool_index_.end() || it->second.has_arguments) return {};
    it->second.has_arguments = true;
    api::ChatChunk c;
    c.tool_calls.push_back({it->second.index, {}, {}, "{}"});
    out.push_back(std::move(c));
    return {};
  }

  core::Result<void> message_delta(const json::object& o, std::vector<api::ChatChunk>& out) {
    read_usage(obj(o, "usage"), usage_);
    const std::string_view stop_reason = str(obj(o, "delta"), "stop_reason");
    if (!stop_reason.empty() && !finished_) {
      api::ChatChunk c;
      c.finish_reason = finish_reason_of(stop_reason);
      out.push_back(std::move(c));
      finished_ = true;
    }
    return {};
  }

  core::Result<void> message_stop(std::vector<api::ChatChunk>& out) {
    if (!finished_) {
      api::ChatChunk c;
      c.finish_reason = api::FinishReason::stop;
      out.push_back(std::move(c));
      finished_ = true;
    }
    api::ChatChunk c;
    c.usage = usage_;
    out.push_back(std::move(c));
    stopped_ = true;
    return {};
  }

  static std::int64_t block_index(const json::object& o) {
    auto* v = o.if_contains("index");
    return v && v->is_int64() ? v->as_int64() : -1;
  }

  core::Error stream_error(std::string what) const {
    auto e = core::Error::make(ErrorKind::upstream, "provider '" + provider_ + "' " + what);
    e.retryable = false;
    return e;
  }

  std::string provider_;
  codec::SseReader reader_;
  std::vector<codec::SseEvent> events_;
  struct ToolBlock {
    int index = 0;  // OpenAI's tool_calls index
    bool has_arguments = false;
  };
  std::map<std::int64_t, ToolBlock> tool_index_;  // by content-block index
  api::Usage usage_;
  bool finished_ = false;
  bool stopped_ = false;
};

}  // namespace

std::unique_ptr<StreamDecoder> make_stream_decoder(std::string provider) {
  return std::make_unique<Decoder>(std::move(provider));
}

}  // namespace stratus::providers::anthropic
