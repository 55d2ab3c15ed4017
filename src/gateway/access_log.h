// One structured JSON line per request. Never carries an API key or Authorization value:
// only the fields below are written.
#pragma once

#include <memory>
#include <string>

#include "api/openai.h"

namespace spdlog {
class logger;
}

namespace stratus::gateway {

struct AccessRecord {
  std::string request_id;
  std::string method;
  std::string path;
  std::string alias;
  std::string provider;
  std::string deployment;
  int status = 0;
  int attempts = 0;
  bool stream = false;
  double latency_ms = 0;
  double ttfb_ms = -1;  // -1: no byte was sent
  std::optional<api::Usage> usage;
  std::string error;  // kind and message of the last failure, if any
};

class AccessLog {
 public:
  // `where`: stdout, stderr, off, or a file path.
  explicit AccessLog(const std::string& where);
  ~AccessLog();
  void write(const AccessRecord& r);
  static std::string format(const AccessRecord& r);
  void flush();

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace stratus::gateway
