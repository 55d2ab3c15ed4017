// Azure OpenAI: the OpenAI wire format behind Azure's URLs — the dated API
// (/openai/deployments/{deployment}/chat/completions?api-version=...) with an `api-key` header,
// or the v1 API (/openai/v1/chat/completions, model in the body) with a bearer token — plus
// Azure's error shapes (content filter results, string error codes).
#pragma once

#include "providers/adapter.h"

namespace stratus::providers {

const Adapter& azure_adapter();

}  // namespace stratus::providers
