// One HTTP request to a provider and the answer, as plain data: adapters build and read these,
// signers sign them, the gateway sends them with http::Client. No I/O here.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stratus::core {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct UpstreamRequest {
  std::string method = "POST";
  std::string url;  // absolute, query included
  Headers headers;  // names lower-case
  std::string body;
};

struct UpstreamResponse {
  int status = 0;
  Headers headers;  // names lower-case
  std::string body;

  // The first header with this lower-case name, or "".
  std::string_view header(std::string_view name) const {
    for (auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

}  // namespace stratus::core
