#include "rampart/net/ip.h"

#include <algorithm>
#include <cstdio>

namespace rampart::net {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// One part of a lenient IPv4 number: decimal, 0-prefixed octal or 0x-prefixed hex.
// Values above 2^32 are refused early so nothing overflows.
std::optional<uint64_t> ParseV4Part(std::string_view part) {
  if (part.empty()) return std::nullopt;
  uint64_t base = 10;
  if (part.size() >= 2 && part[0] == '0' && (part[1] == 'x' || part[1] == 'X')) {
    base = 16;
    part.remove_prefix(2);  // "0x" alone is 0, as in the WHATWG URL standard
  } else if (part.size() >= 2 && part[0] == '0') {
    base = 8;
    part.remove_prefix(1);
  }
  uint64_t value = 0;
  for (char c : part) {
    int d = HexValue(c);
    if (d < 0 || static_cast<uint64_t>(d) >= base) return std::nullopt;
    value = value * base + static_cast<uint64_t>(d);
    if (value > 0xFFFFFFFFull) return std::nullopt;
  }
  return value;
}

constexpr std::array<uint8_t, 16> Bytes(std::initializer_list<int> prefix) {
  std::array<uint8_t, 16> b{};
  size_t i = 0;
  for (int v : prefix) b[i++] = static_cast<uint8_t>(v);
  return b;
}

struct V4Range {
  uint32_t base;
  int prefix;
  std::string_view name;
};

constexpr uint32_t A(int a, int b, int c, int d) {
  return (static_cast<uint32_t>(a) << 24) | (static_cast<uint32_t>(b) << 16) |
         (static_cast<uint32_t>(c) << 8) | static_cast<uint32_t>(d);
}

// The IANA IPv4 Special-Purpose Address Registry, every entry (the few marked globally
// reachable, such as AS112 and AMT anycast, are denied too: no workflow needs them), plus
// multicast and the reserved block.
constexpr V4Range kV4Denied[] = {
    {A(255, 255, 255, 255), 32, "broadcast"}, {A(0, 0, 0, 0), 8, "unspecified"},
    {A(10, 0, 0, 0), 8, "private"},           {A(100, 64, 0, 0), 10, "cgnat"},
    {A(127, 0, 0, 0), 8, "loopback"},         {A(169, 254, 0, 0), 16, "link-local"},
    {A(172, 16, 0, 0), 12, "private"},        {A(192, 0, 0, 0), 24, "ietf-protocol"},
    {A(192, 0, 2, 0), 24, "documentation"},   {A(192, 31, 196, 0), 24, "as112"},
    {A(192, 52, 193, 0), 24, "amt"},          {A(192, 88, 99, 0), 24, "6to4-relay"},
    {A(192, 168, 0, 0), 16, "private"},       {A(192, 175, 48, 0), 24, "as112"},
    {A(198, 18, 0, 0), 15, "benchmarking"},   {A(198, 51, 100, 0), 24, "documentation"},
    {A(203, 0, 113, 0), 24, "documentation"}, {A(224, 0, 0, 0), 4, "multicast"},
    {A(240, 0, 0, 0), 4, "reserved"},
};

std::optional<std::string_view> DeniedV4(uint32_t a) {
  for (const V4Range& r : kV4Denied) {
    uint32_t mask = r.prefix == 0 ? 0 : ~uint32_t{0} << (32 - r.prefix);
    if ((a & mask) == r.base) return r.name;
  }
  return std::nullopt;
}

bool PrefixMatch(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  int i = 0;
  for (; bits >= 8; bits -= 8, ++i) {
    if (a[i] != b[i]) return false;
  }
  if (bits == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xFF << (8 - bits));
  return (a[i] & mask) == (b[i] & mask);
}

uint32_t V4At(const std::array<uint8_t, 16>& b, size_t offset) {
  return (static_cast<uint32_t>(b[offset]) << 24) | (static_cast<uint32_t>(b[offset + 1]) << 16) |
         (static_cast<uint32_t>(b[offset + 2]) << 8) | static_cast<uint32_t>(b[offset + 3]);
}

bool IsMapped(const std::array<uint8_t, 16>& b) {
  return PrefixMatch(b, Bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}), 96);
}

// The IPv4 address an IPv4-mapped, NAT64 (64:ff9b::/96) or 6to4 (2002::/16) address
// reaches; nullopt for anything else.
std::optional<IpAddress> EmbeddedV4(const IpAddress& address) {
  if (address.is_v4()) return std::nullopt;
  const std::array<uint8_t, 16>& b = address.bytes();
  if (IsMapped(b)) return IpAddress::V4(V4At(b, 12));
  if (PrefixMatch(b, Bytes({0, 0x64, 0xff, 0x9b}), 96)) return IpAddress::V4(V4At(b, 12));
  if (PrefixMatch(b, Bytes({0x20, 0x02}), 16)) return IpAddress::V4(V4At(b, 2));
  return std::nullopt;
}

std::optional<std::string_view> DeniedV6(const std::array<uint8_t, 16>& b) {
  static constexpr std::array<uint8_t, 16> kZero{};
  if (PrefixMatch(b, kZero, 128)) return "unspecified";
  if (PrefixMatch(b, Bytes({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}), 128))
    return "loopback";
  // IPv4-mapped, NAT64 and 6to4 addresses are denied whole (spec/security.md 5); when the
  // embedded IPv4 address is itself denied, its range is the reason given.
  if (IsMapped(b)) return DeniedV4(V4At(b, 12)).value_or("ipv4-mapped");
  if (PrefixMatch(b, kZero, 96)) return "ipv4-compatible";
  if (PrefixMatch(b, Bytes({0, 0x64, 0xff, 0x9b}), 96)) {
    // RFC 6052 well-known NAT64 prefix: the translator connects to the embedded address.
    return DeniedV4(V4At(b, 12)).value_or("nat64");
  }
  if (PrefixMatch(b, Bytes({0, 0x64, 0xff, 0x9b, 0, 1}), 48)) return "nat64-local";
  if (PrefixMatch(b, Bytes({1, 0}), 64)) return "discard";
  if (PrefixMatch(b, Bytes({0x20, 0x01, 0, 0}), 32)) return "teredo";
  if (PrefixMatch(b, Bytes({0x20, 0x01}), 23)) return "ietf-protocol";
  if (PrefixMatch(b, Bytes({0x20, 0x01, 0x0d, 0xb8}), 32)) return "documentation";
  if (PrefixMatch(b, Bytes({0x20, 0x02}), 16)) {
    // 6to4: the relay delivers to the embedded IPv4 address.
    return DeniedV4(V4At(b, 2)).value_or("6to4");
  }
  // AS112-v6 direct delegation (RFC 7535), globally reachable but denied like its IPv4
  // twins 192.31.196.0/24 and 192.175.48.0/24: no workflow needs it.
  if (PrefixMatch(b, Bytes({0x26, 0x20, 0x00, 0x4f, 0x80, 0x00}), 48)) return "as112";
  if (PrefixMatch(b, Bytes({0x3f, 0xff}), 20)) return "documentation";
  if (PrefixMatch(b, Bytes({0x5f, 0x00}), 16)) return "srv6";
  if (PrefixMatch(b, Bytes({0xfc}), 7)) return "unique-local";
  if (PrefixMatch(b, Bytes({0xfe, 0x80}), 10)) return "link-local";
  if (PrefixMatch(b, Bytes({0xfe, 0xc0}), 10)) return "site-local";
  if (PrefixMatch(b, Bytes({0xff}), 8)) return "multicast";
  if (!PrefixMatch(b, Bytes({0x20}), 3)) return "reserved";
  return std::nullopt;
}

}  // namespace

IpAddress IpAddress::V4(uint32_t host_order) {
  IpAddress a;
  a.family_ = Family::kV4;
  a.bytes_[0] = static_cast<uint8_t>(host_order >> 24);
  a.bytes_[1] = static_cast<uint8_t>(host_order >> 16);
  a.bytes_[2] = static_cast<uint8_t>(host_order >> 8);
  a.bytes_[3] = static_cast<uint8_t>(host_order);
  return a;
}

IpAddress IpAddress::V6(const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.family_ = Family::kV6;
  a.bytes_ = bytes;
  return a;
}

uint32_t IpAddress::v4() const { return is_v4() ? V4At(bytes_, 0) : 0; }

std::string IpAddress::ToString() const {
  char buf[64];
  if (is_v4()) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", bytes_[0], bytes_[1], bytes_[2], bytes_[3]);
    return buf;
  }
  if (IsMapped(bytes_)) {
    std::snprintf(buf, sizeof buf, "::ffff:%u.%u.%u.%u", bytes_[12], bytes_[13], bytes_[14],
                  bytes_[15]);
    return buf;
  }
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>(bytes_[2 * i] << 8 | bytes_[2 * i + 1]);
  // RFC 5952: compress the longest run (>= 2) of zero groups, the first one on a tie.
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buf, sizeof buf, "%x", g[i]);
    out += buf;
  }
  return out;
}

std::optional<IpAddress> ParseIpv4Strict(std::string_view text) {
  uint32_t value = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    size_t start = i;
    uint32_t part = 0;
    while (i < text.size() && IsDigit(text[i]) && i - start < 3) {
      part = part * 10 + static_cast<uint32_t>(text[i] - '0');
      ++i;
    }
    size_t len = i - start;
    if (len == 0 || part > 255 || (len > 1 && text[start] == '0')) return std::nullopt;
    value = value << 8 | part;
    ++parts;
    if (parts == 4) break;
    if (i >= text.size() || text[i] != '.') return std::nullopt;
    ++i;
  }
  if (i != text.size()) return std::nullopt;
  return IpAddress::V4(value);
}

std::optional<IpAddress> ParseIpv4Lenient(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  uint64_t parts[4];
  size_t n = 0;
  while (true) {
    size_t dot = text.find('.');
    std::string_view part = text.substr(0, dot);
    if (n == 4) return std::nullopt;
    auto v = ParseV4Part(part);
    if (!v) return std::nullopt;
    parts[n++] = *v;
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
  }
  uint64_t value = 0;
  for (size_t i = 0; i + 1 < n; ++i) {
    if (parts[i] > 255) return std::nullopt;
    value |= parts[i] << (8 * (3 - i));
  }
  uint64_t last_max = (uint64_t{1} << (8 * (5 - n))) - 1;
  if (parts[n - 1] > last_max) return std::nullopt;
  value |= parts[n - 1];
  return IpAddress::V4(static_cast<uint32_t>(value));
}

bool LooksLikeIpv4(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  size_t dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  bool digits = true;
  for (char c : last) digits = digits && IsDigit(c);
  if (digits) return true;
  if (last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
    for (char c : last.substr(2)) {
      if (HexValue(c) < 0) return false;
    }
    return true;
  }
  return false;
}

std::optional<IpAddress> ParseIpv6(std::string_view text, std::string* zone) {
  if (size_t pct = text.find('%'); pct != std::string_view::npos) {
    std::string_view z = text.substr(pct + 1);
    if (zone == nullptr || z.empty() || z.size() > 64) return std::nullopt;
    for (char c : z) {
      bool ok = IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
                c == '_' || c == '.';
      if (!ok) return std::nullopt;
    }
    *zone = std::string(z);
    text = text.substr(0, pct);
  } else if (zone != nullptr) {
    zone->clear();
  }
  uint16_t groups[8] = {};
  int n = 0;
  int compress = -1;
  size_t i = 0;
  const size_t len = text.size();
  if (len >= 2 && text[0] == ':' && text[1] == ':') {
    compress = 0;
    i = 2;
  } else if (len == 0 || text[0] == ':') {
    return std::nullopt;
  }
  while (i < len) {
    size_t end = text.find(':', i);
    if (end == std::string_view::npos) end = len;
    std::string_view piece = text.substr(i, end - i);
    if (piece.find('.') != std::string_view::npos) {
      // Embedded IPv4: only as the last piece, strict dotted decimal.
      if (end != len || n > 6) return std::nullopt;
      auto v4 = ParseIpv4Strict(piece);
      if (!v4) return std::nullopt;
      groups[n++] = static_cast<uint16_t>(v4->v4() >> 16);
      groups[n++] = static_cast<uint16_t>(v4->v4() & 0xFFFF);
      i = len;
      break;
    }
    if (piece.empty() || piece.size() > 4 || n == 8) return std::nullopt;
    uint16_t v = 0;
    for (char c : piece) {
      int d = HexValue(c);
      if (d < 0) return std::nullopt;
      v = static_cast<uint16_t>(v << 4 | d);
    }
    groups[n++] = v;
    i = end;
    if (i == len) break;
    ++i;  // ':'
    if (i < len && text[i] == ':') {
      if (compress != -1) return std::nullopt;
      compress = n;
      ++i;
    } else if (i == len) {
      return std::nullopt;  // a trailing single ':'
    }
  }
  std::array<uint8_t, 16> bytes{};
  if (compress == -1) {
    if (n != 8) return std::nullopt;
    for (int g = 0; g < 8; ++g) {
      bytes[2 * g] = static_cast<uint8_t>(groups[g] >> 8);
      bytes[2 * g + 1] = static_cast<uint8_t>(groups[g]);
    }
  } else {
    if (n > 7) return std::nullopt;
    int tail = n - compress;
    for (int g = 0; g < compress; ++g) {
      bytes[2 * g] = static_cast<uint8_t>(groups[g] >> 8);
      bytes[2 * g + 1] = static_cast<uint8_t>(groups[g]);
    }
    for (int g = 0; g < tail; ++g) {
      int at = 8 - tail + g;
      bytes[2 * at] = static_cast<uint8_t>(groups[compress + g] >> 8);
      bytes[2 * at + 1] = static_cast<uint8_t>(groups[compress + g]);
    }
  }
  return IpAddress::V6(bytes);
}

std::optional<IpAddress> ParseIp(std::string_view text) {
  if (auto v4 = ParseIpv4Strict(text)) return v4;
  return ParseIpv6(text, nullptr);
}

bool Cidr::Contains(const IpAddress& address) const {
  if (address.family() != base.family()) return false;
  return PrefixMatch(address.bytes(), base.bytes(), prefix);
}

std::string Cidr::ToString() const { return base.ToString() + "/" + std::to_string(prefix); }

std::optional<Cidr> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  auto ip = ParseIp(text.substr(0, slash));
  if (!ip) return std::nullopt;
  int max = ip->is_v4() ? 32 : 128;
  int prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p[0] == '0')) return std::nullopt;
    prefix = 0;
    for (char c : p) {
      if (!IsDigit(c)) return std::nullopt;
      prefix = prefix * 10 + (c - '0');
    }
    if (prefix > max) return std::nullopt;
  }
  // Host bits must be zero: "10.0.0.1/8" is almost always a mistake.
  std::array<uint8_t, 16> masked{};
  const auto& b = ip->bytes();
  for (int bit = 0; bit < prefix; ++bit) {
    masked[bit / 8] |= static_cast<uint8_t>(b[bit / 8] & (0x80 >> (bit % 8)));
  }
  int nbytes = ip->is_v4() ? 4 : 16;
  for (int i = 0; i < nbytes; ++i) {
    if (masked[i] != b[i]) return std::nullopt;
  }
  return Cidr{*ip, prefix};
}

std::optional<std::string_view> DeniedRange(const IpAddress& address) {
  if (address.is_v4()) return DeniedV4(address.v4());
  return DeniedV6(address.bytes());
}

std::optional<std::string_view> DeniedRange(const IpAddress& address,
                                            const std::vector<Cidr>& allow) {
  auto allowed = [&allow](const IpAddress& a) {
    return std::any_of(allow.begin(), allow.end(), [&a](const Cidr& c) { return c.Contains(a); });
  };
  std::optional<IpAddress> embedded = EmbeddedV4(address);
  // An IPv4 exception covers its IPv4-mapped form (the same destination on a dual-stack
  // socket), never its NAT64 or 6to4 form: those reach it through a translator.
  if (embedded && IsMapped(address.bytes()) && allowed(*embedded)) return std::nullopt;
  if (!allowed(address)) return DeniedRange(address);
  // An exception for a translation range lets through what it translates to, unless that
  // IPv4 address is itself denied and not an exception.
  if (embedded && !allowed(*embedded)) return DeniedV4(embedded->v4());
  return std::nullopt;
}

}  // namespace rampart::net
