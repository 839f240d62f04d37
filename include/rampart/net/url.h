// The one URL parser of outbound HTTP: the same parsed value is checked by the SSRF guard
// and handed (re-serialized) to the HTTP library, so the two can never disagree about
// where a request goes.
//
// Only absolute http/https URLs are accepted. Refused (never "fixed"):
//   - other schemes (file:, gopher:, ftp:, dict:, ...): kSsrfBlocked;
//   - userinfo ("user:pass@"), any '@' in the authority: kInvalidArgument;
//   - characters outside printable ASCII (IDNs must be given in punycode, xn--...),
//     percent-encoded or otherwise unusual host characters, IPv6 zone ids, empty labels,
//     numeric-looking hosts that are not a valid IPv4 number, ports outside 1..65535:
//     kInvalidArgument.
// Normalized: scheme and host lowercased; one trailing dot of the host removed; any
// IPv4 number form ("0x7f.1", "2130706433", "0177.0.0.1") or IPv6 literal replaced by
// its canonical text; '\' read as '/' before the query (as browsers do for http(s));
// the fragment dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rampart/core/result.h"
#include "rampart/net/ip.h"

namespace rampart::net {

struct Url {
  std::string scheme;           // "https" or "http"
  std::string host;             // lowercase name, or canonical IP text (IPv6 unbracketed)
  std::optional<IpAddress> ip;  // set when the host is an IP literal
  uint16_t port = 443;          // explicit, or the scheme's default
  std::string path = "/";       // starts with '/', percent-encoding kept as given
  std::string query;            // without '?'
  bool has_query = false;

  // scheme://host[:port]/path[?query], the default port omitted, IPv6 in brackets.
  std::string ToString() const;
  // scheme://host[:port]
  std::string Origin() const;
};

// Error messages name the problem, never echo the URL (it may carry a secret in its query).
Result<Url> ParseUrl(std::string_view text);

// The target of a redirect: `location` (absolute, scheme-relative, absolute-path,
// query-only or relative-path reference) resolved against `base`, then parsed by ParseUrl.
Result<Url> ResolveReference(const Url& base, std::string_view location);

}  // namespace rampart::net
