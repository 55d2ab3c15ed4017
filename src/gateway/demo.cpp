// The built-in demo config.
#include "gateway/demo.h"

#include <fmt/format.h>

namespace stratus::gateway {

std::string demo_config_yaml(const std::string& listen, std::uint16_t cloud_a_port,
                             std::uint16_t cloud_b_port) {
  return fmt::format(R"(# Built-in demo: two simulated clouds started by this process.
server:
  listen: "{0}"
providers:
  - name: cloud-a
    type: openai
    base_url: http://127.0.0.1:{1}/v1
  - name: cloud-b
    type: openai
    base_url: http://127.0.0.1:{2}/v1
models:
  - name: demo
    deployments:
      - {{provider: cloud-a, model: mock-small}}
      - {{provider: cloud-b, model: mock-small}}
  - name: demo-embed
    deployments:
      - {{provider: cloud-a, model: mock-embed}}
      - {{provider: cloud-b, model: mock-embed}}
)",
                     listen, cloud_a_port, cloud_b_port);
}

}  // namespace stratus::gateway
