// The request handler of one worker: routes /v1 endpoints, tries an alias's deployments in
// order, relays plain and streamed answers, and writes the access log.
#pragma once

#include "gateway/gateway.h"
#include "http/server.h"

namespace stratus::gateway {

// Makes one handler per worker (each with its own upstream client and snapshot cache).
http::HandlerFactory make_handler_factory(Gateway& gateway);

}  // namespace stratus::gateway
