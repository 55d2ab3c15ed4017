// The built-in demo: a config for two simulated clouds (in-process mock servers) behind the
// alias `demo`, so `stratus serve` works with no API key and no outside server.
#pragma once

#include <cstdint>
#include <string>

namespace stratus::gateway {

std::string demo_config_yaml(const std::string& listen, std::uint16_t cloud_a_port,
                             std::uint16_t cloud_b_port);

}  // namespace stratus::gateway
