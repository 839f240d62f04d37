// URL and IP parsers of the SSRF guard (src/net). No crash, no UB, and:
//   - a parsed URL re-serializes to a URL that parses to the same value (idempotent), so
//     the checked value and the connected value cannot differ;
//   - canonical IP text parses back to the same address;
//   - an address classified allowed is in none of the denied ranges (an independent
//     list, written here as CIDR text).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/net/ip.h"
#include "rampart/net/url.h"

namespace {

using rampart::net::Cidr;
using rampart::net::IpAddress;

const std::vector<Cidr>& AlwaysDenied() {
  static const std::vector<Cidr> kDenied = [] {
    std::vector<Cidr> out;
    for (const char* s :
         {"0.0.0.0/8",     "10.0.0.0/8",      "100.64.0.0/10",  "127.0.0.0/8",    "169.254.0.0/16",
          "172.16.0.0/12", "192.0.0.0/24",    "192.0.2.0/24",   "192.88.99.0/24", "192.168.0.0/16",
          "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",    "240.0.0.0/4",
          "::/128",        "::1/128",         "::/96",          "64:ff9b:1::/48", "100::/64",
          "2001::/23",     "2001:db8::/32",   "fc00::/7",       "fe80::/10",      "ff00::/8"}) {
      out.push_back(*rampart::net::ParseCidr(s));
    }
    return out;
  }();
  return kDenied;
}

void CheckAddress(const IpAddress& ip) {
  if (rampart::net::ParseIp(ip.ToString()) != ip) std::abort();
  if (rampart::net::DeniedRange(ip)) return;
  for (const Cidr& c : AlwaysDenied()) {
    if (c.Contains(ip)) std::abort();
  }
  // Embedded IPv4 forms are allowed only when the embedded address is.
  const auto& b = ip.bytes();
  if (!ip.is_v4()) {
    bool mapped = true, nat64 = b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b;
    for (int i = 0; i < 10; ++i) mapped = mapped && b[i] == 0;
    mapped = mapped && b[10] == 0xff && b[11] == 0xff;
    for (int i = 4; i < 12; ++i) nat64 = nat64 && b[i] == 0;
    if (mapped || nat64) {
      auto v4 = IpAddress::V4(uint32_t{b[12]} << 24 | uint32_t{b[13]} << 16 | uint32_t{b[14]} << 8 |
                              b[15]);
      if (rampart::net::DeniedRange(v4)) std::abort();
    }
    if (b[0] == 0x20 && b[1] == 0x02) {
      auto v4 =
          IpAddress::V4(uint32_t{b[2]} << 24 | uint32_t{b[3]} << 16 | uint32_t{b[4]} << 8 | b[5]);
      if (rampart::net::DeniedRange(v4)) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto url = rampart::net::ParseUrl(text);
  if (url.ok()) {
    std::string once = url->ToString();
    auto again = rampart::net::ParseUrl(once);
    if (!again.ok() || again->ToString() != once || again->host != url->host ||
        again->port != url->port || again->ip != url->ip) {
      std::abort();
    }
    if (url->ip) CheckAddress(*url->ip);
    auto ref = rampart::net::ResolveReference(*url, text.substr(0, size / 2));
    if (ref.ok()) (void)ref->ToString();
  }
  if (auto v4 = rampart::net::ParseIpv4Lenient(text)) CheckAddress(*v4);
  std::string zone;
  if (auto v6 = rampart::net::ParseIpv6(text, &zone)) CheckAddress(*v6);
  if (auto c = rampart::net::ParseCidr(text)) {
    if (!c->Contains(c->base)) std::abort();
    if (rampart::net::ParseCidr(c->ToString()) != c) std::abort();
  }
  if (size >= 16) {
    std::array<uint8_t, 16> raw;
    std::copy(data, data + 16, raw.begin());
    CheckAddress(IpAddress::V6(raw));
    CheckAddress(IpAddress::V4(uint32_t{data[0]} << 24 | uint32_t{data[1]} << 16 |
                               uint32_t{data[2]} << 8 | data[3]));
  }
  return 0;
}
