// The provider adapter interface: PURE translation between the IR (api/chat.h) and one
// provider's wire format. No sockets, no clocks, no globals — everything an adapter needs is
// passed in, so every adapter is unit-tested with golden files. Signing is done afterwards by
// auth::sign on the finished request. Adding a wire format = one adapter file pair + one line in
// registry.cpp + its fixtures.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/chat.h"
#include "core/error.h"
#include "core/upstream.h"

namespace stratus::providers {

// What an adapter needs to know about one deployment (built from config once per snapshot).
struct Deployment {
  std::string provider;  // config name, for messages ("cloud-a")
  std::string type;      // adapter name ("bedrock")
  std::string base_url;  // no trailing slash, e.g. https://bedrock-runtime.us-east-1.amazonaws.com
  std::string model;     // the provider's model id (Azure: the deployment name)
  std::string region;    // bedrock, vertex
  std::string project;   // vertex
  std::string
      api_version;  // azure ("2024-10-21"; "v1" selects the /openai/v1 path), anthropic-version
};

// Per-call values an adapter may need but must not make up itself.
struct CallContext {
  std::string request_id;  // unique per client request; seeds generated ids (Gemini tool calls)
};

struct Capabilities {
  bool chat = true;
  bool stream = true;
  bool tools = true;
  bool vision = true;
  bool embeddings = false;
  bool json_schema = true;
};

// Incremental stream decoder: feed any split of the bytes, whole IR chunks come out. Owns its
// per-request state. finish() is called at the end of the body: a stream that ended without
// its terminal event is an error there.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  virtual core::Result<void> feed(std::string_view bytes, std::vector<api::ChatChunk>& out) = 0;
  virtual core::Result<void> finish(std::vector<api::ChatChunk>& out) = 0;
  // True once the provider's terminal event has been fed (OpenAI [DONE], Anthropic
  // message_stop, Bedrock metadata after messageStop): the gateway then calls finish() and ends
  // the client's stream at once, without waiting for the upstream's end of body. Formats without
  // a terminal event (Gemini) stay false and finish at the end of the body.
  virtual bool done() const { return false; }
};

enum class Endpoint { chat, embeddings };

class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual std::string_view name() const = 0;
  virtual Capabilities capabilities() const = 0;

  // OpenAI-dialect providers only: where the gateway's fast path forwards the client's own
  // OpenAI body (with `model` rewritten) and relays the SSE stream without re-encoding.
  // nullopt: the request is translated with encode_chat / decode_chat / stream_decoder.
  virtual std::optional<std::string> passthrough_url(const Deployment& d, Endpoint ep) const {
    (void)d;
    (void)ep;
    return std::nullopt;
  }

  // Chat: IR → request (URL, headers except credentials, body); response bytes → IR.
  virtual core::Result<core::UpstreamRequest> encode_chat(const api::Chat& chat,
                                                          const Deployment& d,
                                                          const CallContext& ctx) const = 0;
  virtual core::Result<api::ChatResponse> decode_chat(const core::UpstreamResponse& res,
                                                      const Deployment& d,
                                                      const CallContext& ctx) const = 0;
  virtual std::unique_ptr<StreamDecoder> stream_decoder(const api::Chat& chat, const Deployment& d,
                                                        const CallContext& ctx) const = 0;

  // Any non-2xx answer (and unreadable 2xx bodies) → an error in the gateway's vocabulary:
  // kind (→ OpenAI status and type), retryable, retry_after_s (from Retry-After and the like),
  // upstream_status, and the provider's own message.
  virtual core::Error decode_error(const core::UpstreamResponse& res,
                                   const Deployment& d) const = 0;

  // Embeddings, where the provider has them (capabilities().embeddings).
  virtual core::Result<core::UpstreamRequest> encode_embeddings(const api::Embeddings& req,
                                                                const Deployment& d) const;
  virtual core::Result<api::EmbeddingsResponse> decode_embeddings(const core::UpstreamResponse& res,
                                                                  const Deployment& d) const;
};

// The adapter registered under a config `type`, or nullptr.
const Adapter* find_adapter(std::string_view type);
// The registered adapter names, for messages.
std::vector<std::string_view> adapter_names();

}  // namespace stratus::providers
