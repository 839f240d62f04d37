#include "rampart/net/url.h"

#include "rampart/core/ascii.h"

namespace rampart::net {
namespace {

constexpr size_t kMaxUrl = 8192;

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, "invalid URL: " + std::move(message));
}

// Length of a leading RFC 3986 scheme followed by ':' (0 when there is none).
size_t SchemeLength(std::string_view s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return 0;
  for (size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == ':') return i;
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.';
    if (!ok) return 0;
  }
  return 0;
}

Result<std::string> ParseHostName(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return Invalid("empty host");
  if (host.size() > 253) return Invalid("host name too long");
  std::string out;
  out.reserve(host.size());
  size_t label = 0;
  for (char c : host) {
    c = AsciiLower(c);
    if (c == '.') {
      if (label == 0) return Invalid("empty label in host name");
      label = 0;
    } else {
      bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
      if (!ok) {
        if (c == '%') return Invalid("percent-encoded host names are refused");
        return Invalid("host name has a character outside [a-z0-9-_.] (use punycode for IDNs)");
      }
      if (++label > 63) return Invalid("host label too long");
    }
    out += c;
  }
  if (label == 0) return Invalid("empty label in host name");
  return out;
}

}  // namespace

std::string Url::Origin() const {
  std::string out = scheme + "://";
  if (ip && !ip->is_v4()) {
    out += '[' + host + ']';
  } else {
    out += host;
  }
  uint16_t default_port = scheme == "https" ? 443 : 80;
  if (port != default_port) out += ':' + std::to_string(port);
  return out;
}

std::string Url::ToString() const {
  std::string out = Origin() + path;
  if (has_query) out += '?' + query;
  return out;
}

Result<Url> ParseUrl(std::string_view text) {
  if (text.size() > kMaxUrl) return Invalid("longer than 8192 characters");
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return Invalid(
          "characters outside printable ASCII (spaces, controls, non-ASCII) are refused");
    }
  }
  size_t scheme_len = SchemeLength(text);
  if (scheme_len == 0) return Invalid("not an absolute URL (scheme://host/...)");
  Url url;
  for (char c : text.substr(0, scheme_len)) url.scheme += AsciiLower(c);
  if (url.scheme != "https" && url.scheme != "http") {
    return MakeError(
        ErrorCode::kSsrfBlocked,
        "scheme '" + url.scheme.substr(0, 32) + "' is not allowed: only https (http when allowed)");
  }
  std::string rest(text.substr(scheme_len + 1));
  if (size_t hash = rest.find('#'); hash != std::string::npos) rest.resize(hash);
  size_t qmark = rest.find('?');
  for (size_t i = 0; i < rest.size() && i < qmark; ++i) {
    if (rest[i] == '\\') rest[i] = '/';
  }
  if (rest.size() < 2 || rest[0] != '/' || rest[1] != '/') {
    return Invalid("not an absolute URL (scheme://host/...)");
  }
  size_t auth_end = rest.find_first_of("/?", 2);
  std::string_view authority = std::string_view(rest).substr(
      2, auth_end == std::string::npos ? std::string::npos : auth_end - 2);
  if (authority.find('@') != std::string_view::npos) {
    return Invalid("URLs with userinfo (user:password@) are refused");
  }
  std::string_view host = authority;
  std::string_view port;
  bool has_port = false;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return Invalid("unterminated IPv6 literal");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Invalid("unexpected text after IPv6 literal");
      port = after.substr(1);
      has_port = true;
    }
    if (host.find('%') != std::string_view::npos) return Invalid("IPv6 zone ids are refused");
    auto ip = ParseIpv6(host);
    if (!ip) return Invalid("malformed IPv6 literal");
    url.ip = *ip;
    url.host = ip->ToString();
  } else {
    if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      has_port = true;
    }
    if (host.find_first_of("[]:") != std::string_view::npos) return Invalid("malformed host");
    auto name = ParseHostName(host);
    if (!name.ok()) return std::move(name).error();
    if (LooksLikeIpv4(*name)) {
      auto ip = ParseIpv4Lenient(*name);
      if (!ip) return Invalid("numeric host is not a valid IPv4 address");
      url.ip = *ip;
      url.host = ip->ToString();
    } else {
      url.host = std::move(name).value();
    }
  }
  url.port = url.scheme == "https" ? 443 : 80;
  if (has_port && !port.empty()) {
    if (port.size() > 5) return Invalid("port out of range");
    uint32_t p = 0;
    for (char c : port) {
      if (c < '0' || c > '9') return Invalid("port is not a number");
      p = p * 10 + static_cast<uint32_t>(c - '0');
    }
    if (p == 0 || p > 65535) return Invalid("port out of range");
    url.port = static_cast<uint16_t>(p);
  }
  if (auth_end != std::string::npos) {
    std::string_view tail = std::string_view(rest).substr(auth_end);
    size_t q = tail.find('?');
    std::string_view path = tail.substr(0, q);
    url.path = path.empty() ? "/" : std::string(path);
    if (q != std::string_view::npos) {
      url.has_query = true;
      url.query = std::string(tail.substr(q + 1));
    }
  }
  return url;
}

Result<Url> ResolveReference(const Url& base, std::string_view location) {
  if (location.size() > kMaxUrl) return Invalid("redirect location longer than 8192 characters");
  if (SchemeLength(location) > 0) return ParseUrl(location);
  std::string loc(location);
  if (size_t hash = loc.find('#'); hash != std::string::npos) loc.resize(hash);
  size_t qmark = loc.find('?');
  for (size_t i = 0; i < loc.size() && i < qmark; ++i) {
    if (loc[i] == '\\') loc[i] = '/';
  }
  if (loc.rfind("//", 0) == 0) return ParseUrl(base.scheme + ":" + loc);
  if (!loc.empty() && loc[0] == '/') return ParseUrl(base.Origin() + loc);
  if (loc.empty()) return ParseUrl(base.ToString());
  if (loc[0] == '?') return ParseUrl(base.Origin() + base.path + loc);
  std::string dir = base.path.substr(0, base.path.rfind('/') + 1);
  return ParseUrl(base.Origin() + dir + loc);
}

}  // namespace rampart::net
