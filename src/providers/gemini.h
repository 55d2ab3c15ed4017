// Google Gemini: the Gemini Developer API (AI Studio, `type: gemini`) and Vertex AI
// (`type: vertex`). Both speak generateContent; they differ only in URLs (and credentials,
// which auth::sign adds: x-goog-api-key for gemini, a bearer token for vertex).
#pragma once

#include "providers/adapter.h"

namespace stratus::providers {

// {base_url}/{api_version or v1beta}/models/{model}:generateContent
const Adapter& gemini_adapter();
// {base_url}/{api_version or
// v1}/projects/{project}/locations/{region}/publishers/google/models/{model}:...
const Adapter& vertex_adapter();

}  // namespace stratus::providers
