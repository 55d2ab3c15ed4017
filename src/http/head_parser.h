// A Beast parser that keeps a head's fields in HeadFields instead of Beast's field container:
// the part the client's request parser and the upstream response parser share. A derived
// parser says what the start line and the body become.
#pragma once

#include "http/asio.h"
#include "http/fields.h"

namespace stratus::http {

template <bool isRequest>
class FieldsParser : public bhttp::basic_parser<isRequest> {
 public:
  explicit FieldsParser(HeadFields& fields) : fields_(fields) { fields_.clear(); }

 protected:
  // Chunked or not, body bytes go the same way.
  std::size_t on_body_impl(beast::string_view body, boost::system::error_code& ec) override = 0;

  HeadFields& fields_;

 private:
  void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int,
                       boost::system::error_code&) override {}
  void on_response_impl(int, beast::string_view, int, boost::system::error_code&) override {}
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                     boost::system::error_code&) override {
    fields_.add({name.data(), name.size()}, {value.data(), value.size()});
  }
  void on_header_impl(boost::system::error_code&) override {}
  void on_body_init_impl(boost::optional<std::uint64_t> const&,
                         boost::system::error_code&) override {}
  void on_chunk_header_impl(std::uint64_t, beast::string_view,
                            boost::system::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                 boost::system::error_code& ec) override {
    return on_body_impl(body, ec);
  }
  void on_finish_impl(boost::system::error_code&) override {}
};

}  // namespace stratus::http
