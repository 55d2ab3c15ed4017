// Checks and rewrites of single config values: the listen address and provider base URLs.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "config/config.h"

namespace stratus::config {
namespace {

std::unexpected<std::string> fail(std::string message) {
  return std::unexpected(std::move(message));
}

bool is_hostname(std::string_view host) {
  return !host.empty() && std::ranges::all_of(host, [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

// Loose on purpose: the resolver is the real judge; this only rejects what cannot be an address.
bool is_ipv6_literal(std::string_view host) {
  return host.find(':') != std::string_view::npos && std::ranges::all_of(host, [](char c) {
           return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
         });
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Splits a URL authority into host and optional port; the error is a message.
std::expected<HostPort, std::string> split_authority(std::string_view authority) {
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("has an unterminated '[' in the host");
    host = authority.substr(1, close - 1);
    const auto rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return fail("has text after the IPv6 host");
    if (!is_ipv6_literal(host)) return fail(fmt::format("has an invalid IPv6 host '{}'", host));
    if (!rest.empty()) port = rest.substr(1);
    if (!rest.empty() && port.empty()) return fail("has an empty port");
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return fail("has an empty port");
    }
    if (host.empty()) return fail("has no host");
    if (!is_hostname(host)) return fail(fmt::format("has an invalid host '{}'", host));
  }
  HostPort out{std::string(host), 0};
  if (!port.empty()) {
    const auto number = parse_port(port);
    if (!number || *number == 0) return fail(fmt::format("has an invalid port '{}'", port));
    out.port = *number;
  }
  return out;
}

}  // namespace

std::expected<HostPort, std::string> parse_listen(std::string_view listen) {
  std::string_view host;
  std::string_view port;
  if (listen.starts_with('[')) {
    const auto close = listen.find("]:");
    if (close == std::string_view::npos) return fail("expected '[address]:port'");
    host = listen.substr(1, close - 1);
    port = listen.substr(close + 2);
    if (!is_ipv6_literal(host)) return fail(fmt::format("invalid IPv6 address '{}'", host));
  } else {
    const auto colon = listen.rfind(':');
    if (colon == std::string_view::npos) return fail("expected 'host:port'");
    host = listen.substr(0, colon);
    port = listen.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("an IPv6 address needs brackets, e.g. '[::1]:8080'");
    }
    if (host.empty()) return fail("the host is empty; use 0.0.0.0 to listen on every interface");
    if (!is_hostname(host)) return fail(fmt::format("invalid host '{}'", host));
  }
  const auto number = parse_port(port);
  if (!number)
    return fail(fmt::format("the port must be a number from 0 to 65535, got '{}'", port));
  return HostPort{std::string(host), *number};
}

std::expected<std::string, std::string> normalize_base_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return fail("is not an absolute URL");
  const auto scheme = lowercase(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    return fail(fmt::format("must use http or https, not '{}'", url.substr(0, scheme_end)));
  }
  if (std::ranges::any_of(url, [](unsigned char c) { return c <= 0x20 || c == 0x7f; })) {
    return fail("contains a space or a control character");
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    return fail("must not have a query or a fragment");
  }
  const auto rest = url.substr(scheme_end + 3);
  const auto authority = rest.substr(0, rest.find('/'));
  // Credentials in a URL end up in logs; they belong in api_key or headers.
  if (authority.find('@') != std::string_view::npos) {
    return fail("must not contain user info; use api_key or headers");
  }
  if (auto checked = split_authority(authority); !checked) return fail(checked.error());
  auto path = rest.substr(authority.size());
  while (path.ends_with('/')) path.remove_suffix(1);
  return std::string(url.substr(0, scheme_end + 3 + authority.size())) + std::string(path);
}

}  // namespace stratus::config
