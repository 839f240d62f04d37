#include "rampart/net/url.h"

#include <gtest/gtest.h>

namespace rampart::net {
namespace {

std::string Norm(std::string_view s) {
  auto u = ParseUrl(s);
  return u.ok() ? u->ToString() : std::string(u.error().code_name());
}

TEST(Url, ParsesAndNormalizes) {
  auto u = ParseUrl("HTTPS://API.Example.COM.:8443/a/b?x=1&y=2#frag");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "api.example.com");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->path, "/a/b");
  EXPECT_EQ(u->query, "x=1&y=2");
  EXPECT_FALSE(u->ip.has_value());
  EXPECT_EQ(u->ToString(), "https://api.example.com:8443/a/b?x=1&y=2");
  EXPECT_EQ(Norm("https://example.com"), "https://example.com/");
  EXPECT_EQ(Norm("https://example.com:443/"), "https://example.com/");
  EXPECT_EQ(Norm("http://example.com:80/x"), "http://example.com/x");
  EXPECT_EQ(Norm("https://example.com?q"), "https://example.com/?q");
  EXPECT_EQ(Norm("https://example.com:/"), "https://example.com/");
  EXPECT_EQ(Norm("https://xn--bcher-kva.example/"), "https://xn--bcher-kva.example/");
}

TEST(Url, IpLiteralsInEveryNotationBecomeCanonical) {
  EXPECT_EQ(Norm("https://2130706433/"), "https://127.0.0.1/");
  EXPECT_EQ(Norm("https://0177.0.0.1/"), "https://127.0.0.1/");
  EXPECT_EQ(Norm("https://0x7f.1/"), "https://127.0.0.1/");
  EXPECT_EQ(Norm("https://127.1/"), "https://127.0.0.1/");
  EXPECT_EQ(Norm("https://127.000.000.001/"), "https://127.0.0.1/");
  EXPECT_EQ(Norm("https://127.0.0.1./"), "https://127.0.0.1/");
  EXPECT_EQ(Norm("https://[::1]/"), "https://[::1]/");
  EXPECT_EQ(Norm("https://[0:0:0:0:0:0:0:1]:8443/"), "https://[::1]:8443/");
  EXPECT_EQ(Norm("https://[::ffff:127.0.0.1]/"), "https://[::ffff:127.0.0.1]/");
  EXPECT_EQ(Norm("https://[::FFFF:7F00:1]/"), "https://[::ffff:127.0.0.1]/");
  auto u = ParseUrl("https://0xa9.0376.43518/latest/meta-data");
  ASSERT_TRUE(u.ok());
  ASSERT_TRUE(u->ip.has_value());
  EXPECT_EQ(u->ip->ToString(), "169.254.169.254");
}

TEST(Url, SmugglingTricksParseTheWayBrowsersDo) {
  // The fragment hides the '@': the host is evil.com.
  auto u = ParseUrl("https://evil.com#@127.0.0.1/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "evil.com");
  // '\' is '/' for http(s): the host is 127.0.0.1 and "@evil.com" is the path.
  u = ParseUrl("https://127.0.0.1\\@evil.com");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->path, "/@evil.com");
  u = ParseUrl("https://evil.com?@127.0.0.1/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "evil.com");
  u = ParseUrl("https://evil.com/?x=\\@127.0.0.1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->query, "x=\\@127.0.0.1");
}

TEST(Url, Refusals) {
  for (const char* s : {"file:///etc/passwd", "gopher://127.0.0.1:6379/_x", "ftp://example.com/",
                        "dict://127.0.0.1:11211/stat", "ldap://x/", "javascript:alert(1)",
                        "data:text/plain,x", "jar:http://x!/", "Gopher://x/"}) {
    auto u = ParseUrl(s);
    ASSERT_FALSE(u.ok()) << s;
    EXPECT_EQ(u.error().code, ErrorCode::kSsrfBlocked) << s;
  }
  for (const char* s : {"https://user:pw@example.com/",
                        "https://user@127.0.0.1/",
                        "https://evil.com@127.0.0.1/",
                        "https://127.0.0.1:80@evil.com/",
                        "https://@example.com/",
                        "https:example.com",
                        "https:/example.com",
                        "https:///example.com",
                        "//example.com/",
                        "example.com",
                        "https://exa mple.com/",
                        "https://b\xc3\xbc"
                        "cher.example/",
                        "https://%31%32%37.0.0.1/",
                        "https://exa%2Emple.com/",
                        "https://[fe80::1%25eth0]/",
                        "https://[::1/",
                        "https://[::1]x/",
                        "https://[1.2.3.4]/",
                        "https://example.com:0/",
                        "https://example.com:65536/",
                        "https://example.com:1x/",
                        "https://example..com/",
                        "https://.example.com/",
                        "https://./",
                        "https:///",
                        "https://08.1/",
                        "https://1.2.3.256/",
                        "https://256.0x1/",
                        "https://a:b:c/",
                        "https://ex\tample.com/",
                        "https://example.com/\r\n",
                        "https://exa*mple.com/",
                        ""}) {
    auto u = ParseUrl(s);
    ASSERT_FALSE(u.ok()) << s;
    EXPECT_EQ(u.error().code, ErrorCode::kInvalidArgument) << s;
    EXPECT_EQ(u.error().message.find("pw"), std::string::npos);
  }
}

TEST(Url, ResolveReference) {
  auto base = ParseUrl("https://a.example/x/y?q=1");
  ASSERT_TRUE(base.ok());
  auto r = [&](std::string_view loc) {
    auto u = ResolveReference(*base, loc);
    return u.ok() ? u->ToString() : std::string(u.error().code_name());
  };
  EXPECT_EQ(r("https://b.example/z"), "https://b.example/z");
  EXPECT_EQ(r("//c.example/z"), "https://c.example/z");
  EXPECT_EQ(r("\\\\127.0.0.1/z"), "https://127.0.0.1/z");
  EXPECT_EQ(r("/abs?k"), "https://a.example/abs?k");
  EXPECT_EQ(r("rel"), "https://a.example/x/rel");
  EXPECT_EQ(r("?n=2"), "https://a.example/x/y?n=2");
  EXPECT_EQ(r("gopher://127.0.0.1/"), "ssrf_blocked");
  EXPECT_EQ(r("https://user@b.example/"), "invalid_argument");
}

}  // namespace
}  // namespace rampart::net
