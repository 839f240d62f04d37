#include "rampart/net/ip.h"

#include <gtest/gtest.h>

namespace rampart::net {
namespace {

std::string V4Lenient(std::string_view s) {
  auto ip = ParseIpv4Lenient(s);
  return ip ? ip->ToString() : "-";
}

TEST(Ipv4, StrictDottedQuad) {
  EXPECT_EQ(ParseIpv4Strict("127.0.0.1")->ToString(), "127.0.0.1");
  EXPECT_EQ(ParseIpv4Strict("255.255.255.255")->v4(), 0xFFFFFFFFu);
  for (const char* bad : {"", "1.2.3", "1.2.3.4.", "01.2.3.4", "256.1.1.1", "1.2.3.4 ", "1..2.3",
                          "0x1.2.3.4", "1.2.3.4.5", "1.2.3.-4", "1234.1.1.1"}) {
    EXPECT_FALSE(ParseIpv4Strict(bad).has_value()) << bad;
  }
}

TEST(Ipv4, EveryNotationOfLoopbackAndMetadata) {
  EXPECT_EQ(V4Lenient("2130706433"), "127.0.0.1");
  EXPECT_EQ(V4Lenient("0177.0.0.1"), "127.0.0.1");
  EXPECT_EQ(V4Lenient("0x7f.1"), "127.0.0.1");
  EXPECT_EQ(V4Lenient("0X7F.0.0.1"), "127.0.0.1");
  EXPECT_EQ(V4Lenient("127.1"), "127.0.0.1");
  EXPECT_EQ(V4Lenient("127.0.1"), "127.0.0.1");
  EXPECT_EQ(V4Lenient("127.000.000.001"), "127.0.0.1");
  EXPECT_EQ(V4Lenient("127.0.0.1."), "127.0.0.1");
  EXPECT_EQ(V4Lenient("0x7f000001"), "127.0.0.1");
  EXPECT_EQ(V4Lenient("017700000001"), "127.0.0.1");
  EXPECT_EQ(V4Lenient("0"), "0.0.0.0");
  EXPECT_EQ(V4Lenient("0x"), "0.0.0.0");
  EXPECT_EQ(V4Lenient("169.254.43518"), "169.254.169.254");
  EXPECT_EQ(V4Lenient("2852039166"), "169.254.169.254");
  EXPECT_EQ(V4Lenient("0xa9fea9fe"), "169.254.169.254");
  EXPECT_EQ(V4Lenient("0251.0376.0251.0376"), "169.254.169.254");
  EXPECT_EQ(V4Lenient("10.1"), "10.0.0.1");
  for (const char* bad : {"", ".", "1.2.3.4.5", "4294967296", "256.1", "1.16777216", "08.1", "0x1g",
                          "1..1", "1.2.3.4..", "-1", "1 .2", "99999999999999999999"}) {
    EXPECT_EQ(V4Lenient(bad), "-") << bad;
  }
}

TEST(Ipv4, LooksLikeIpv4) {
  EXPECT_TRUE(LooksLikeIpv4("127.1"));
  EXPECT_TRUE(LooksLikeIpv4("foo.0x7f"));
  EXPECT_TRUE(LooksLikeIpv4("1.2.3.4."));
  EXPECT_TRUE(LooksLikeIpv4("08.1"));
  EXPECT_FALSE(LooksLikeIpv4("example.com"));
  EXPECT_FALSE(LooksLikeIpv4("1.2.3.com"));
  EXPECT_FALSE(LooksLikeIpv4("0xg"));
}

TEST(Ipv6, Forms) {
  EXPECT_EQ(ParseIpv6("::1")->ToString(), "::1");
  EXPECT_EQ(ParseIpv6("::")->ToString(), "::");
  EXPECT_EQ(ParseIpv6("0:0:0:0:0:0:0:1")->ToString(), "::1");
  EXPECT_EQ(ParseIpv6("2001:DB8:0:0:1:0:0:1")->ToString(), "2001:db8::1:0:0:1");
  EXPECT_EQ(ParseIpv6("::ffff:127.0.0.1")->ToString(), "::ffff:127.0.0.1");
  EXPECT_EQ(ParseIpv6("::ffff:7f00:1")->ToString(), "::ffff:127.0.0.1");
  EXPECT_EQ(ParseIpv6("64:ff9b::10.0.0.1")->ToString(), "64:ff9b::a00:1");
  EXPECT_EQ(ParseIpv6("1::")->ToString(), "1::");
  EXPECT_EQ(ParseIpv6("1:0:0:2:0:0:0:3")->ToString(), "1:0:0:2::3");
  std::string zone;
  EXPECT_EQ(ParseIpv6("fe80::1%eth0", &zone)->ToString(), "fe80::1");
  EXPECT_EQ(zone, "eth0");
  EXPECT_FALSE(ParseIpv6("fe80::1%eth0").has_value());  // zones refused unless asked for
  for (const char* bad : {"", ":", ":::", "1::2::3", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
                          "12345::", "::g", "1:", ":1", "::1.2.3", "::1.2.3.4:5", "[::1]",
                          "1:2:3:4:5:6:7:1.2.3.4", "::01.2.3.4", "fe80::1%", "::%x y"}) {
    EXPECT_FALSE(ParseIpv6(bad, &zone).has_value()) << bad;
  }
  EXPECT_TRUE(ParseIpv6("1:2:3:4:5:6:1.2.3.4").has_value());
  EXPECT_TRUE(ParseIpv6("1:2:3:4:5:6:7::").has_value());
}

std::string Why(std::string_view text) {
  auto ip = ParseIp(text);
  if (!ip) return "unparsable";
  auto r = DeniedRange(*ip);
  return r ? std::string(*r) : "public";
}

TEST(Classify, Ipv4SpecialPurposeRegistry) {
  struct Case {
    const char* ip;
    const char* why;
  } cases[] = {
      {"0.0.0.0", "unspecified"},
      {"0.255.255.255", "unspecified"},
      {"10.0.0.5", "private"},
      {"10.255.255.255", "private"},
      {"100.64.0.1", "cgnat"},
      {"100.127.255.255", "cgnat"},
      {"100.128.0.0", "public"},
      {"100.63.255.255", "public"},
      {"127.0.0.1", "loopback"},
      {"127.255.255.254", "loopback"},
      {"169.254.169.254", "link-local"},
      {"172.16.0.1", "private"},
      {"172.31.255.255", "private"},
      {"172.32.0.0", "public"},
      {"172.15.255.255", "public"},
      {"192.0.0.8", "ietf-protocol"},
      {"192.0.2.1", "documentation"},
      {"192.88.99.1", "6to4-relay"},
      {"192.168.1.1", "private"},
      {"198.18.0.1", "benchmarking"},
      {"198.19.255.255", "benchmarking"},
      {"198.20.0.0", "public"},
      {"198.51.100.7", "documentation"},
      {"203.0.113.9", "documentation"},
      {"224.0.0.1", "multicast"},
      {"239.255.255.255", "multicast"},
      {"240.0.0.1", "reserved"},
      {"255.255.255.255", "broadcast"},
      {"8.8.8.8", "public"},
      {"1.1.1.1", "public"},
      {"93.184.216.34", "public"},
      {"192.0.1.255", "public"},
      {"11.0.0.0", "public"},
      {"223.255.255.255", "public"},
  };
  for (const Case& c : cases) EXPECT_EQ(Why(c.ip), c.why) << c.ip;
}

TEST(Classify, Ipv6SpecialPurposeRegistry) {
  struct Case {
    const char* ip;
    const char* why;
  } cases[] = {
      {"::", "unspecified"},
      {"::1", "loopback"},
      {"::ffff:127.0.0.1", "loopback"},
      {"::ffff:7f00:1", "loopback"},
      {"::ffff:169.254.169.254", "link-local"},
      {"::ffff:10.0.0.1", "private"},
      // spec/security.md denies the IPv4-mapped, NAT64 and 6to4 ranges whole: the embedded
      // address only decides the reason given when it is itself denied.
      {"::ffff:8.8.8.8", "ipv4-mapped"},
      {"::127.0.0.1", "ipv4-compatible"},
      {"::8.8.8.8", "ipv4-compatible"},
      {"64:ff9b::127.0.0.1", "loopback"},
      {"64:ff9b::a9fe:a9fe", "link-local"},
      {"64:ff9b::8.8.8.8", "nat64"},
      {"64:ff9b:1::8.8.8.8", "nat64-local"},
      {"100::1", "discard"},
      {"2001::1", "teredo"},
      {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "teredo"},  // client 192.0.2.45 obfuscated
      {"2001:0:4136:e378:8000:63bf:80ff:fffe", "teredo"},  // client 127.0.0.1 obfuscated
      {"2001:2::1", "ietf-protocol"},
      {"2001:1ff::1", "ietf-protocol"},
      {"2001:db8::1", "documentation"},
      {"3fff::1", "documentation"},
      {"2002:7f00:1::", "loopback"},
      {"2002:a9fe:a9fe::1", "link-local"},
      {"2002:c0a8:101::1", "private"},
      {"2002:808:808::1", "6to4"},
      {"2002:102:304::", "6to4"},  // 1.2.3.4 behind the relay
      {"5f00::1", "srv6"},
      // AS112-v6 (RFC 7534, 7535): the IPv6 twin of 192.31.196.0/24 and 192.175.48.0/24,
      // denied like them.
      {"2620:4f:8000::1", "as112"},
      {"2620:4f:8000:ffff::1", "as112"},
      {"2620:4f:8001::1", "public"},
      {"100:0:0:1::1", "reserved"},  // RFC 9780 dummy prefix, outside 2000::/3
      {"fc00::1", "unique-local"},
      {"fd12:3456::1", "unique-local"},
      {"fe80::1", "link-local"},
      {"febf::1", "link-local"},
      {"fec0::1", "site-local"},
      {"ff02::1", "multicast"},
      {"::2", "ipv4-compatible"},
      {"4000::1", "reserved"},
      {"1::", "reserved"},
      {"2606:4700:4700::1111", "public"},
      {"2a00:1450:4001::1", "public"},
      {"2001:200::1", "public"},
  };
  for (const Case& c : cases) EXPECT_EQ(Why(c.ip), c.why) << c.ip;
}

TEST(Cidr, ParseContainsAndAllowExceptions) {
  auto c = ParseCidr("127.0.0.1/32");
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->Contains(*ParseIp("127.0.0.1")));
  EXPECT_FALSE(c->Contains(*ParseIp("127.0.0.2")));
  EXPECT_EQ(ParseCidr("10.0.0.0/8")->ToString(), "10.0.0.0/8");
  EXPECT_EQ(ParseCidr("fd00::/8")->ToString(), "fd00::/8");
  EXPECT_EQ(ParseCidr("::1")->prefix, 128);
  EXPECT_TRUE(ParseCidr("0.0.0.0/0")->Contains(*ParseIp("8.8.8.8")));
  EXPECT_FALSE(ParseCidr("0.0.0.0/0")->Contains(*ParseIp("::1")));
  for (const char* bad : {"10.0.0.1/8", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/08", "x/8",
                          "10.0.0.0/-1", "fe80::1%eth0/64"}) {
    EXPECT_FALSE(ParseCidr(bad).has_value()) << bad;
  }
  std::vector<Cidr> allow = {*ParseCidr("127.0.0.1/32")};
  EXPECT_FALSE(DeniedRange(*ParseIp("127.0.0.1"), allow).has_value());
  EXPECT_FALSE(DeniedRange(*ParseIp("::ffff:127.0.0.1"), allow).has_value());
  EXPECT_EQ(DeniedRange(*ParseIp("127.0.0.2"), allow), "loopback");
  EXPECT_EQ(DeniedRange(*ParseIp("::1"), allow), "loopback");
  // 127.0.0.1/32 is an exception for IPv4 (and its mapped form) only: the NAT64 and 6to4
  // forms of it are not the address the operator allowed.
  EXPECT_EQ(DeniedRange(*ParseIp("64:ff9b::7f00:1"), allow), "loopback");
  EXPECT_EQ(DeniedRange(*ParseIp("2002:7f00:1::"), allow), "loopback");
}

// An exception for a whole translation range (an IPv6-only network whose DNS64 answers
// 64:ff9b::/96) lets public destinations through it, never the denied IPv4 space behind it.
TEST(Cidr, AllowedTranslationRangeStillChecksTheEmbeddedAddress) {
  std::vector<Cidr> allow = {*ParseCidr("64:ff9b::/96"), *ParseCidr("2002::/16"),
                             *ParseCidr("::ffff:0:0/96")};
  EXPECT_FALSE(DeniedRange(*ParseIp("64:ff9b::8.8.8.8"), allow).has_value());
  EXPECT_FALSE(DeniedRange(*ParseIp("2002:808:808::1"), allow).has_value());
  EXPECT_FALSE(DeniedRange(*ParseIp("::ffff:8.8.8.8"), allow).has_value());
  EXPECT_EQ(DeniedRange(*ParseIp("64:ff9b::169.254.169.254"), allow), "link-local");
  EXPECT_EQ(DeniedRange(*ParseIp("64:ff9b::10.0.0.1"), allow), "private");
  EXPECT_EQ(DeniedRange(*ParseIp("2002:7f00:1::"), allow), "loopback");
  EXPECT_EQ(DeniedRange(*ParseIp("::ffff:127.0.0.1"), allow), "loopback");
  // Both exceptions given: the operator asked for exactly this.
  allow.push_back(*ParseCidr("127.0.0.0/8"));
  EXPECT_FALSE(DeniedRange(*ParseIp("64:ff9b::7f00:1"), allow).has_value());
}

}  // namespace
}  // namespace rampart::net
