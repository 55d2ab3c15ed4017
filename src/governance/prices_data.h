// The text of data/prices.yaml, compiled in by CMake (cmake/embed_text.cmake) so the built-in
// price table needs no file at run time.
#pragma once

#include <string_view>

namespace stratus::governance::detail {

extern const std::string_view kPricesYaml;

}  // namespace stratus::governance::detail
