// ConverseStream decoding: AWS event-stream frames (codec/eventstream.h) → IR chunks.
// Events: messageStart → the role chunk; contentBlockStart (toolUse) → a tool call's id and name;
// contentBlockDelta → text, tool input pieces or reasoning; messageStop → the finish chunk;
// metadata (after messageStop) → the usage-only chunk. Exception frames are errors.
#include <boost/json.hpp>

#include "codec/eventstream.h"
#include "providers/bedrock_detail.h"
#include "providers/common.h"

namespace stratus::providers::bedrock {

namespace json = boost::json;
using core::ErrorKind;

namespace {

const json::object* object_at(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_object() ? &v->get_object() : nullptr;
}

std::string str(const json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t block_index(const json::object& o) {
  auto* v = o.if_contains("contentBlockIndex");
  return v && v->is_int64() ? v->get_int64() : -1;
}

class BedrockStreamDecoder final : public StreamDecoder {
  JsonScratch scratch_;  // per-event JSON parsing without heap allocations

 public:
  explicit BedrockStreamDecoder(std::string provider) : provider_(std::move(provider)) {}

  core::Result<void> feed(std::string_view bytes, std::vector<api::ChatChunk>& out) override {
    if (error_) return std::unexpected(*error_);
    messages_.clear();
    auto framed = frames_.feed(bytes, messages_);
    for (auto& m : messages_) {
      if (auto r = handle(m, out); !r) return fail(r.error());
    }
    if (!framed) {
      return fail(core::Error::make(
          ErrorKind::upstream,
          "provider '" + provider_ + "' sent a broken event stream: " + framed.error().message));
    }
    return {};
  }

  bool done() const override { return stopped_ && metadata_ && !error_ && frames_.idle(); }

  core::Result<void> finish(std::vector<api::ChatChunk>&) override {
    if (error_) return std::unexpected(*error_);
    if (!frames_.idle()) {
      return fail(upstream("ended the stream in the middle of an event frame (" +
                           std::to_string(frames_.buffered()) + " bytes buffered)"));
    }
    if (!stopped_) return fail(upstream("ended the stream before messageStop"));
    if (!metadata_) return fail(upstream("ended the stream before its metadata (usage) event"));
    return {};
  }

 private:
  struct ToolBlock {
    std::int64_t block = 0;  // contentBlockIndex
    bool has_arguments = false;
  };

  core::Error upstream(std::string what) const {
    return core::Error::make(ErrorKind::upstream, "provider '" + provider_ + "' " + what);
  }
  std::unexpected<core::Error> fail(core::Error e) {
    error_ = e;
    return std::unexpected(std::move(e));
  }

  // The OpenAI index of the tool call in this content block, or -1.
  int tool_index(std::int64_t block) const {
    for (std::size_t i = 0; i < tools_.size(); ++i) {
      if (tools_[i].block == block) return static_cast<int>(i);
    }
    return -1;
  }

  void emit(api::ChatChunk c, std::vector<api::ChatChunk>& out) {
    if (!role_sent_) c.role = true;  // the first chunk carries the role, whatever comes first
    role_sent_ = true;
    out.push_back(std::move(c));
  }

  core::Result<void> handle(const codec::EventMessage& m, std::vector<api::ChatChunk>& out) {
    auto type = m.message_type();
    if (type == "exception")
      return std::unexpected(stream_exception(m.exception_type(), m.payload, provider_));
    if (type == "error") {
      return std::unexpected(upstream("reported a stream error: " + std::string(m.error_code()) +
                                      ": " + std::string(m.error_message())));
    }
    if (type != "event") return {};  // unknown message types carry nothing for us
    auto v = scratch_.parse(m.payload);
    if (!v || !v->is_object()) {
      return std::unexpected(
          upstream("sent an unreadable " + std::string(m.event_type()) + " event"));
    }
    return on_event(m.event_type(), v->get_object(), out);
  }

  core::Result<void> on_event(std::string_view event, const json::object& o,
                              std::vector<api::ChatChunk>& out) {
    api::ChatChunk c;
    if (event == "messageStart") {
      c.role = true;
      emit(std::move(c), out);
    } else if (event == "contentBlockStart") {
      auto* start = object_at(o, "start");
      auto* tool = start ? object_at(*start, "toolUse") : nullptr;
      if (!tool) return {};
      tools_.push_back({.block = block_index(o), .has_arguments = false});
      c.tool_calls.push_back({.index = static_cast<int>(tools_.size() - 1),
                              .id = str(*tool, "toolUseId"),
                              .name = str(*tool, "name"),
                              .arguments = {}});
      emit(std::move(c), out);
    } else if (event == "contentBlockDelta") {
      return on_delta(o, out);
    } else if (event == "contentBlockStop") {
      // A tool call that streamed no input still needs valid JSON arguments.
      int i = tool_index(block_index(o));
      if (i < 0 || tools_[static_cast<std::size_t>(i)].has_arguments) return {};
      tools_[static_cast<std::size_t>(i)].has_arguments = true;
      c.tool_calls.push_back({.index = i, .id = {}, .name = {}, .arguments = "{}"});
      emit(std::move(c), out);
    } else if (event == "messageStop") {
      stopped_ = true;
      c.finish_reason = finish_of(str(o, "stopReason"));
      emit(std::move(c), out);
    } else if (event == "metadata") {
      auto* usage = object_at(o, "usage");
      if (!usage) return std::unexpected(upstream("sent a metadata event without usage"));
      metadata_ = true;
      c.usage = usage_of(*usage);
      emit(std::move(c), out);
    }
    return {};  // unknown events are skipped
  }

  core::Result<void> on_delta(const json::object& o, std::vector<api::ChatChunk>& out) {
    auto* delta = object_at(o, "delta");
    if (!delta) return std::unexpected(upstream("sent a contentBlockDelta without delta"));
    api::ChatChunk c;
    if (auto* text = delta->if_contains("text"); text && text->is_string()) {
      c.content = std::string(text->get_string());
    } else if (auto* tool = object_at(*delta, "toolUse")) {
      int i = tool_index(block_index(o));
      if (i < 0) {
        return std::unexpected(upstream("sent toolUse input for content block " +
                                        std::to_string(block_index(o)) +
                                        " without its contentBlockStart"));
      }
      auto input = str(*tool, "input");
      if (input.empty()) return {};
      tools_[static_cast<std::size_t>(i)].has_arguments = true;
      c.tool_calls.push_back({.index = i, .id = {}, .name = {}, .arguments = std::move(input)});
    } else if (auto* reasoning = object_at(*delta, "reasoningContent")) {
      c.reasoning = str(*reasoning, "text");  // signatures and redacted content are not relayed
    }
    if (c.content.empty() && c.tool_calls.empty() && c.reasoning.empty()) return {};
    emit(std::move(c), out);
    return {};
  }

  std::string provider_;
  codec::EventStreamDecoder frames_;
  std::vector<codec::EventMessage> messages_;
  std::vector<ToolBlock> tools_;
  bool role_sent_ = false;
  bool stopped_ = false;
  bool metadata_ = false;
  std::optional<core::Error> error_;
};

}  // namespace

std::unique_ptr<StreamDecoder> make_stream_decoder(std::string provider) {
  return std::make_unique<BedrockStreamDecoder>(std::move(provider));
}

}  // namespace stratus::providers::bedrock
