// The SSRF guard end to end: a real libcurl client against a local server on 127.0.0.1.
// Every "public" address below exists only in the StaticResolver; a sandbox observer
// refuses any connection that is not to loopback, so no packet ever leaves the host.
#include "rampart/net/http_client.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json/parse.hpp>
#include <mutex>

#include "net/testing/test_server.h"

namespace rampart::net {
namespace {

namespace bj = boost::json;

IpAddress Ip(std::string_view s) { return *ParseIp(s); }

class HttpClientTest : public ::testing::Test {
 protected:
  HttpClientTest() : client_(resolver_) {
    client_.SetConnectObserverForTest([this](const CurlHttpClient::ConnectAttempt& a) {
      std::lock_guard<std::mutex> lock(mu_);
      attempts_.push_back(a);
      // The sandbox: nothing but loopback, whatever the guard decided.
      return a.address == Ip("127.0.0.1") || a.address == Ip("::1");
    });
    resolver_.Add("api.public.test", {Ip("127.0.0.1")});  // "public" name, loopback in fact
    resolver_.Add("other.public.test", {Ip("127.0.0.1")});
    resolver_.Add("evil.com", {Ip("198.51.100.7")});
    resolver_.Add("internal.test", {Ip("10.0.0.5")});
    resolver_.Add("metadata.test", {Ip("169.254.169.254")});
    resolver_.Add("mixed.test", {Ip("93.184.216.34"), Ip("127.0.0.1")});
    resolver_.Add("mixed6.test", {Ip("2606:4700:4700::1111"), Ip("fd00::1")});
    resolver_.Add("localhost", {Ip("127.0.0.1")});
    // Allowed: http, the test server's port, and exactly 127.0.0.1 as an exception.
    allowed_.allow_http = true;
    allowed_.allow_ports = {server_.port(), tls_server_.port(), 443, 80};
    allowed_.allow_cidrs = {*ParseCidr("127.0.0.1/32")};
    // The same without the exception: loopback is denied like any special range.
    guarded_ = allowed_;
    guarded_.allow_cidrs.clear();
  }

  std::string Local(std::string_view path, std::string_view host = "api.public.test") {
    return "http://" + std::string(host) + ":" + std::to_string(server_.port()) + std::string(path);
  }

  Result<HttpResponse> Get(const std::string& url, const EgressPolicy& policy) {
    HttpRequest r;
    r.url = url;
    r.timeout = std::chrono::milliseconds(5000);
    return client_.Fetch(r, policy);
  }

  std::vector<CurlHttpClient::ConnectAttempt> Attempts() {
    std::lock_guard<std::mutex> lock(mu_);
    return attempts_;
  }
  // No connect() was ever made (or refused) to anything but 127.0.0.1.
  void ExpectOnlyLoopbackAttempts() {
    for (const auto& a : Attempts()) {
      EXPECT_EQ(a.address, Ip("127.0.0.1")) << a.address.ToString();
    }
  }

  testing::SelfSignedCert cert_;
  testing::TestServer server_;
  testing::TestServer tls_server_{&cert_};
  StaticResolver resolver_;
  CurlHttpClient client_;
  EgressPolicy allowed_, guarded_;
  std::mutex mu_;
  std::vector<CurlHttpClient::ConnectAttempt> attempts_;
};

TEST_F(HttpClientTest, AllowedDestinationWorks) {
  auto r = Get(Local("/ok"), allowed_);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(bj::parse(r->body), bj::parse(R"({"ok":true})"));
  bool content_type = false;
  for (const auto& [k, v] : r->headers) content_type = content_type || (k == "content-type");
  EXPECT_TRUE(content_type);
  ASSERT_EQ(Attempts().size(), 1u);
  EXPECT_TRUE(Attempts()[0].allowed);
  EXPECT_EQ(Attempts()[0].port, server_.port());
  EXPECT_EQ(resolver_.lookups("api.public.test"), 1);
}

TEST_F(HttpClientTest, HttpsWithPrivateCa) {
  HttpRequest r;
  r.url = "https://localhost:" + std::to_string(tls_server_.port()) + "/ok";
  r.ca_pem = cert_.pem();
  auto res = client_.Fetch(r, allowed_);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  // Without the CA the certificate is not trusted.
  r.ca_pem.clear();
  res = client_.Fetch(r, allowed_);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ErrorCode::kActionFailed);
}

TEST_F(HttpClientTest, HttpRefusedUnlessAllowed) {
  EgressPolicy https_only = allowed_;
  https_only.allow_http = false;
  auto r = Get(Local("/ok"), https_only);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked);
  EXPECT_TRUE(Attempts().empty());
  EXPECT_EQ(server_.hits(), 0);
}

TEST_F(HttpClientTest, SsrfTable) {
  const std::string p = ":" + std::to_string(server_.port());
  struct Case {
    std::string url;
    std::string denied;  // the address named in the message
  };
  std::vector<Case> cases = {
      {"http://127.0.0.1" + p + "/ok", "127.0.0.1"},
      {"http://2130706433" + p + "/ok", "127.0.0.1"},
      {"http://0177.0.0.1" + p + "/ok", "127.0.0.1"},
      {"http://0x7f.1" + p + "/ok", "127.0.0.1"},
      {"http://0x7F000001" + p + "/ok", "127.0.0.1"},
      {"http://127.1" + p + "/ok", "127.0.0.1"},
      {"http://127.0.1" + p + "/ok", "127.0.0.1"},
      {"http://127.000.000.001" + p + "/ok", "127.0.0.1"},
      {"http://127.0.0.1." + p + "/ok", "127.0.0.1"},
      {"http://127.127.127.127" + p + "/ok", "127.127.127.127"},
      {"http://0" + p + "/ok", "0.0.0.0"},
      {"http://0.0.0.0" + p + "/ok", "0.0.0.0"},
      {"http://[::1]" + p + "/ok", "::1"},
      {"http://[0:0:0:0:0:0:0:1]" + p + "/ok", "::1"},
      {"http://[::]" + p + "/ok", "::"},
      {"http://[::ffff:127.0.0.1]" + p + "/ok", "::ffff:127.0.0.1"},
      {"http://[::ffff:7f00:1]" + p + "/ok", "::ffff:127.0.0.1"},
      {"http://[::127.0.0.1]" + p + "/ok", "::7f00:1"},
      {"http://[64:ff9b::7f00:1]" + p + "/ok", "64:ff9b::7f00:1"},
      {"http://[64:ff9b::169.254.169.254]" + p + "/ok", "64:ff9b::a9fe:a9fe"},
      {"http://[2002:7f00:1::]" + p + "/ok", "2002:7f00:1::"},
      {"http://[2001:0:4136:e378:8000:63bf:80ff:fffe]" + p + "/ok",
       "2001:0:4136:e378:8000:63bf:80ff:fffe"},
      {"http://[fe80::1]" + p + "/ok", "fe80::1"},
      {"http://[fd00::1]" + p + "/ok", "fd00::1"},
      {"http://[ff02::1]" + p + "/ok", "ff02::1"},
      {"http://169.254.169.254/latest/meta-data/", "169.254.169.254"},
      {"http://0xa9fea9fe/latest/meta-data/", "169.254.169.254"},
      {"http://2852039166/latest/meta-data/", "169.254.169.254"},
      {"http://0251.0376.0251.0376/", "169.254.169.254"},
      {"http://169.254.43518/", "169.254.169.254"},
      {"http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254"},
      {"http://10.0.0.5/", "10.0.0.5"},
      {"http://10.1/", "10.0.0.1"},
      {"http://172.16.0.1/", "172.16.0.1"},
      {"http://192.168.0.1/", "192.168.0.1"},
      {"http://100.64.0.1/", "100.64.0.1"},
      {"http://198.18.0.1/", "198.18.0.1"},
      {"http://224.0.0.1/", "224.0.0.1"},
      {"http://255.255.255.255/", "255.255.255.255"},
      {"https://127.0.0.1\\@evil.com/", "127.0.0.1"},
      {"https://evil.com#@127.0.0.1/", "198.51.100.7"},  // the host is evil.com
      {"https://evil.com?@127.0.0.1/", "198.51.100.7"},
      {"http://internal.test/", "10.0.0.5"},
      {"http://INTERNAL.test./", "10.0.0.5"},
      {"http://metadata.test/", "169.254.169.254"},
      {"http://mixed.test" + p + "/ok", "127.0.0.1"},  // one public, one private record
      {"http://mixed6.test/", "fd00::1"},
  };
  for (const Case& c : cases) {
    auto r = Get(c.url, guarded_);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked) << c.url << ": " << r.error().message;
    EXPECT_EQ(r.error().message, "destination " + c.denied + " is in a denied range") << c.url;
  }
  for (const char* url : {"file:///etc/passwd", "gopher://127.0.0.1:70/_x", "ftp://127.0.0.1/",
                          "dict://127.0.0.1:11211/stat", "ldap://127.0.0.1/"}) {
    auto r = Get(url, guarded_);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked) << url;
  }
  for (const char* url : {"http://user:pw@api.public.test/", "http://evil.com@127.0.0.1/",
                          "http://[fe80::1%25lo]/", "http://%31%32%37.0.0.1/"}) {
    auto r = Get(url, guarded_);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << url;
  }
  // Not one connect() was attempted, and nothing reached the server.
  EXPECT_TRUE(Attempts().empty());
  EXPECT_EQ(server_.hits(), 0);
}

TEST_F(HttpClientTest, PortAndNameRules) {
  EgressPolicy p = allowed_;
  p.allow_ports = {443};
  auto r = Get(Local("/ok"), p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked);
  p = allowed_;
  p.deny_domains = {"*.public.test"};
  r = Get(Local("/ok"), p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked);
  p = allowed_;
  p.allow_domains = {"other.public.test"};
  EXPECT_FALSE(Get(Local("/ok"), p).ok());
  EXPECT_TRUE(Get(Local("/ok", "other.public.test"), p).ok());
  EXPECT_EQ(server_.hits(), 1);
}

TEST_F(HttpClientTest, RedirectsAreCheckedAgainEveryHop) {
  const std::string p = std::to_string(server_.port());
  // To a denied address, in several spellings: refused before any connection to it.
  for (const std::string& to :
       std::vector<std::string>{"http://169.254.169.254/latest/meta-data/", "http://internal.test/",
                                "http://127.0.0.2:" + p + "/ok", "http://[::1]:" + p + "/ok",
                                "http://0x7f.2:" + p + "/ok", "gopher://api.public.test/",
                                "http://mixed6.test:" + p + "/ok", "//internal.test/",
                                "http://[::ffff:127.0.0.2]:" + p + "/ok"}) {
    auto r = Get(Local("/redirect?to=" + to), allowed_);
    ASSERT_FALSE(r.ok()) << to;
    EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked) << to << ": " << r.error().message;
  }
  // Only the first hop, to the allowed server, was ever connected.
  ExpectOnlyLoopbackAttempts();
  for (const auto& a : Attempts()) EXPECT_TRUE(a.allowed);
  // An allowed redirect is followed.
  auto ok = Get(Local("/redirect?to=/ok"), allowed_);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->redirects, 1);
  // At most 5.
  auto loop = Get(Local("/loop"), allowed_);
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.error().code, ErrorCode::kActionFailed);
  EXPECT_NE(loop.error().message.find("too many redirects"), std::string::npos);
  // max_redirects 0 returns the 3xx itself.
  HttpRequest raw;
  raw.url = Local("/redirect?to=/ok");
  raw.max_redirects = 0;
  auto three = client_.Fetch(raw, allowed_);
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->status, 302);
}

TEST_F(HttpClientTest, RedirectToDeniedWithOnlyTheServerAllowedByName) {
  // The server is reached as a "public" name mapped to 127.0.0.1 with the exception; the
  // redirect target 127.0.0.2 (also loopback, not excepted) is refused.
  auto r = Get(Local("/redirect?to=http://127.0.0.2:" + std::to_string(server_.port()) + "/ok"),
               allowed_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "destination 127.0.0.2 is in a denied range");
  EXPECT_EQ(server_.hits(), 1);
  ExpectOnlyLoopbackAttempts();
}

TEST_F(HttpClientTest, CrossOriginRedirectDropsCredentials) {
  HttpRequest r;
  r.method = "GET";
  r.headers = {{"Authorization", "Bearer s3cret"}, {"X-Api-Key", "k3y"}, {"X-Plain", "v"}};
  r.sensitive_headers = {"x-api-key"};
  r.url = Local("/redirect?to=" + Local("/echo", "other.public.test"));
  auto res = client_.Fetch(r, allowed_);
  ASSERT_TRUE(res.ok()) << res.error().message;
  auto h = bj::parse(res->body).at("headers").as_object();
  EXPECT_FALSE(h.contains("authorization"));
  EXPECT_FALSE(h.contains("x-api-key"));
  EXPECT_EQ(h.at("x-plain"), "v");
  // Same origin keeps them.
  r.url = Local("/redirect?to=/echo");
  res = client_.Fetch(r, allowed_);
  ASSERT_TRUE(res.ok());
  h = bj::parse(res->body).at("headers").as_object();
  EXPECT_EQ(h.at("authorization"), "Bearer s3cret");
  EXPECT_EQ(h.at("x-api-key"), "k3y");
}

TEST_F(HttpClientTest, PostRedirect303BecomesGet) {
  HttpRequest r;
  r.method = "POST";
  r.body = "payload";
  r.url = Local("/redirect?status=303&to=/echo");
  auto res = client_.Fetch(r, allowed_);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(bj::parse(res->body).at("method"), "GET");
  r.url = Local("/redirect?status=307&to=/echo");
  res = client_.Fetch(r, allowed_);
  ASSERT_TRUE(res.ok());
  auto o = bj::parse(res->body).as_object();
  EXPECT_EQ(o.at("method"), "POST");
  EXPECT_EQ(o.at("body"), "payload");
}

TEST_F(HttpClientTest, DnsRebindingBetweenCheckAndConnect) {
  // First answer public (passes the check), every later one loopback. The client looks
  // the name up once per hop and connects to exactly what it checked, so the loopback
  // answer is never used. (The public address is refused by the test sandbox.)
  resolver_.Add("rebind.test", {Ip("93.184.216.34")});
  resolver_.AddAnswer("rebind.test", {Ip("127.0.0.1")});
  auto r = Get("http://rebind.test:" + std::to_string(server_.port()) + "/ok", guarded_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kActionFailed);  // the sandbox refused 93.184.216.34
  EXPECT_EQ(resolver_.lookups("rebind.test"), 1);
  ASSERT_EQ(Attempts().size(), 1u);
  EXPECT_EQ(Attempts()[0].address, Ip("93.184.216.34"));
  EXPECT_EQ(server_.hits(), 0);
  // The next request sees the rebound answer, and the check refuses it.
  r = Get("http://rebind.test:" + std::to_string(server_.port()) + "/ok", guarded_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "destination 127.0.0.1 is in a denied range");
  EXPECT_EQ(Attempts().size(), 1u);
}

TEST_F(HttpClientTest, ConnectHookAloneRefusesUncheckedDestination) {
  // If the library ever connected somewhere other than the checked addresses (here: the
  // pin is forced to 127.0.0.1 while the check saw a public address), the socket-open
  // hook refuses before a socket exists.
  resolver_.Add("pub.test", {Ip("93.184.216.34")});
  client_.SetPinOverrideForTest({Ip("127.0.0.1")});
  auto r = Get("http://pub.test:" + std::to_string(server_.port()) + "/ok", guarded_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(r.error().message, "destination 127.0.0.1 is in a denied range");
  ASSERT_EQ(Attempts().size(), 1u);
  EXPECT_FALSE(Attempts()[0].allowed);
  EXPECT_EQ(server_.hits(), 0);
  // Even an allowed-by-exception address is refused when it was not the checked one.
  r = Get("http://pub.test:" + std::to_string(server_.port()) + "/ok", allowed_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(server_.hits(), 0);
}

TEST_F(HttpClientTest, ResponseSizeCapAndTimeout) {
  HttpRequest r;
  r.url = Local("/big?n=2000000");
  r.max_response_bytes = 1 << 20;
  auto res = client_.Fetch(r, allowed_);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ErrorCode::kLimitExceeded);
  r.max_response_bytes = 4 << 20;
  res = client_.Fetch(r, allowed_);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->body.size(), 2000000u);

  r.url = Local("/slow?ms=2000");
  r.timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  res = client_.Fetch(r, allowed_);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ErrorCode::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
}

TEST_F(HttpClientTest, EnvironmentProxyIsIgnored) {
  // A proxy in the environment would receive the request (and could reach anything);
  // the client never uses one.
  setenv("http_proxy", "http://10.0.0.5:3128", 1);
  setenv("HTTPS_PROXY", "http://10.0.0.5:3128", 1);
  setenv("ALL_PROXY", "http://10.0.0.5:3128", 1);
  auto r = Get(Local("/ok"), allowed_);
  unsetenv("http_proxy");
  unsetenv("HTTPS_PROXY");
  unsetenv("ALL_PROXY");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ExpectOnlyLoopbackAttempts();
}

TEST_F(HttpClientTest, HeaderInjectionRefused) {
  HttpRequest r;
  r.url = Local("/ok");
  r.headers = {{"X-A", "v\r\nHost: evil"}};
  auto res = client_.Fetch(r, allowed_);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ErrorCode::kInvalidArgument);
  r.headers = {{"Bad Name", "v"}};
  EXPECT_FALSE(client_.Fetch(r, allowed_).ok());
  r.headers.clear();
  r.method = "GE T";
  EXPECT_FALSE(client_.Fetch(r, allowed_).ok());
  EXPECT_EQ(server_.hits(), 0);
}

}  // namespace
}  // namespace rampart::net
