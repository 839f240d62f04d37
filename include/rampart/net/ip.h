// IP addresses for the SSRF guard (spec/security.md section 5): parsing of every textual
// form an attacker may use to smuggle a destination, and classification against the IANA
// special-purpose address registries.
//
// Everything here is a pure function of its input: thread-safe, no allocation beyond
// the returned values, no I/O. Parsers never throw and accept no partial input.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::net {

class IpAddress {
 public:
  enum class Family { kV4, kV6 };

  IpAddress() = default;  // 0.0.0.0
  static IpAddress V4(uint32_t host_order);
  static IpAddress V6(const std::array<uint8_t, 16>& bytes);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kV4; }
  // V4: the address in host byte order. V6: meaningless (0).
  uint32_t v4() const;
  // V6: the 16 bytes in network order. V4: the first 4 bytes hold the address.
  const std::array<uint8_t, 16>& bytes() const { return bytes_; }
  // Canonical text: dotted decimal, or RFC 5952 for IPv6 (lowercase, longest zero run
  // compressed, ::ffff:a.b.c.d for mapped addresses). Never carries a zone id.
  std::string ToString() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;

 private:
  Family family_ = Family::kV4;
  std::array<uint8_t, 16> bytes_{};
};

// Strict dotted-quad "a.b.c.d", decimal, 0-255, no leading zeros except "0" itself.
std::optional<IpAddress> ParseIpv4Strict(std::string_view text);

// The IPv4 number forms that inet_aton and the WHATWG URL standard accept, i.e. what a
// resolver or a browser would turn into an address: 1 to 4 parts separated by '.', an
// optional single trailing '.', each part decimal, octal (leading 0) or hex (0x/0X);
// the last part fills the remaining bytes ("127.1", "2130706433", "0x7f.1",
// "0177.0.0.1", "127.000.000.001"). Parts that overflow their bytes, empty parts and
// any other character -> nullopt.
std::optional<IpAddress> ParseIpv4Lenient(std::string_view text);

// Whether a host name would be taken as an IPv4 number by URL parsers (its last label,
// ignoring one trailing dot, is all decimal digits or 0x-hex). Such a host must parse
// with ParseIpv4Lenient, or be refused; it must never be sent to a resolver.
bool LooksLikeIpv4(std::string_view host);

// RFC 4291 text form: hex groups, one "::", an optional trailing dotted-quad (strict),
// and an optional "%zone" (returned in *zone when given; refused when zone is null).
// No brackets.
std::optional<IpAddress> ParseIpv6(std::string_view text, std::string* zone = nullptr);

// ParseIpv4Strict or ParseIpv6 (no zone).
std::optional<IpAddress> ParseIp(std::string_view text);

struct Cidr {
  IpAddress base;  // host bits cleared
  int prefix = 0;  // 0..32 or 0..128

  bool Contains(const IpAddress& address) const;
  std::string ToString() const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

// "10.0.0.0/8", "fd00::/8", or a bare address (/32 or /128). Host bits must be zero.
std::optional<Cidr> ParseCidr(std::string_view text);

// Why an address may not be connected to: the name of the special-purpose range it falls
// in ("loopback", "private", "link-local", "cgnat", ...), or nullopt when it is a public,
// globally reachable unicast address. The IPv6 forms that embed an IPv4 address
// (::ffff:0:0/96 mapped, 64:ff9b::/96 NAT64, 2002::/16 6to4) are denied whole, as
// spec/security.md lists them ("ipv4-mapped", "nat64", "6to4", or the embedded address's
// own range when that is denied); so are IPv4-compatible (::/96), local-use NAT64
// (64:ff9b:1::/48), Teredo and the rest of 2001::/23 and everything outside 2000::/3.
std::optional<std::string_view> DeniedRange(const IpAddress& address);

// DeniedRange, with `allow` - the explicit exceptions of an egress policy: an address
// inside one of them is allowed, and so is ::ffff:a.b.c.d when a.b.c.d is. An exception
// for a translation range (64:ff9b::/96, 2002::/16) admits only what translates to an
// address that is public or itself an exception.
std::optional<std::string_view> DeniedRange(const IpAddress& address,
                                            const std::vector<Cidr>& allow);

}  // namespace rampart::net
