// The common part of Boost.JSON SAX handlers (json::basic_parser): no size limits, no-op
// events for what a one-pass scan does not read, and the depth of the containers open around
// the next event. A handler derives from it and defines the events it reads (a member of the
// same name hides the one here).
#pragma once

#include <boost/system/error_code.hpp>
#include <cstddef>
#include <string_view>

namespace stratus::core {

struct SaxBase {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using error_code = boost::system::error_code;
  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_number_part(std::string_view, error_code&) { return true; }
  bool on_comment_part(std::string_view, error_code&) { return true; }
  bool on_comment(std::string_view, error_code&) { return true; }
  bool on_key_part(std::string_view, std::size_t, error_code&) { return true; }
  bool on_object_end(std::size_t, error_code&) {
    --depth;
    return true;
  }
  bool on_array_end(std::size_t, error_code&) {
    --depth;
    return true;
  }
  int depth = 0;  // containers open around the next event
};

}  // namespace stratus::core
