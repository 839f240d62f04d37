#include "rampart/net/egress.h"

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>

namespace rampart::net {
namespace {

namespace bj = boost::json;

Status Check(const EgressPolicy& p, std::string_view url) {
  auto u = ParseUrl(url);
  if (!u.ok()) return u.error();
  return p.CheckUrl(*u);
}

TEST(Egress, DomainGlobs) {
  EXPECT_TRUE(DomainMatches("*.example.com", "a.example.com"));
  EXPECT_TRUE(DomainMatches("*.example.com", "a.b.EXAMPLE.com."));
  EXPECT_FALSE(DomainMatches("*.example.com", "example.com"));
  EXPECT_FALSE(DomainMatches("*.example.com", "evilexample.com"));
  EXPECT_TRUE(DomainMatches("api.example.com", "API.example.com"));
  EXPECT_FALSE(DomainMatches("api.example.com", "api.example.com.evil"));
}

TEST(Egress, DefaultsHttpsOnlyPorts443And80) {
  EgressPolicy p;
  EXPECT_TRUE(Check(p, "https://example.com/").ok());
  EXPECT_EQ(Check(p, "http://example.com/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(p, "https://example.com:22/").error().code, ErrorCode::kSsrfBlocked);
  p.allow_http = true;
  EXPECT_TRUE(Check(p, "http://example.com/").ok());
}

TEST(Egress, ParseAndNarrow) {
  auto org = ParseEgressPolicy(bj::parse(R"({"allow_http": true, "allow_domains": ["*.acme.test",
      "api.other.test"], "deny_domains": ["bad.acme.test"], "allow_ports": [443, 80, 8443]})")
                                   .as_object());
  ASSERT_TRUE(org.ok()) << org.error().message;
  EXPECT_TRUE(Check(*org, "https://x.acme.test/").ok());
  EXPECT_EQ(Check(*org, "https://bad.acme.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(*org, "https://else.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(*org, "https://8.8.8.8/").error().code, ErrorCode::kSsrfBlocked);

  auto rules = ParseEgressRules(bj::parse(R"({"allow_http": false, "allow_domains":
      ["api.acme.test", "*.other.test", "api.evil.test"], "allow_ports": [443, 9999],
      "allow_cidrs": ["127.0.0.1/32"]})")
                                    .as_object());
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  EgressPolicy n = org->Narrow(*rules);
  EXPECT_FALSE(n.allow_http);
  EXPECT_EQ(n.allow_ports, (std::vector<uint16_t>{443}));
  EXPECT_TRUE(Check(n, "https://api.acme.test/").ok());
  EXPECT_TRUE(Check(n, "https://api.other.test/").ok());
  EXPECT_EQ(Check(n, "https://x.acme.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(n, "https://api.evil.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(n, "https://x.other.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(n.allow_cidrs.size(), 1u);  // the one widening a connector may do

  // Lists with nothing in common allow no name at all (not "any").
  auto disjoint =
      ParseEgressRules(bj::parse(R"({"allow_domains": ["x.nowhere.test"]})").as_object());
  ASSERT_TRUE(disjoint.ok());
  EgressPolicy none = org->Narrow(*disjoint);
  EXPECT_TRUE(none.allow_domains.empty());
  EXPECT_EQ(Check(none, "https://x.nowhere.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(none, "https://x.acme.test/").error().code, ErrorCode::kSsrfBlocked);

  // An org allowing any name takes the connector's list.
  EgressPolicy any;
  EgressPolicy only = any.Narrow(*disjoint);
  EXPECT_TRUE(Check(only, "https://x.nowhere.test/").ok());
  EXPECT_EQ(Check(only, "https://y.nowhere.test/").error().code, ErrorCode::kSsrfBlocked);
  // A connector cannot turn http on.
  auto http = ParseEgressRules(bj::parse(R"({"allow_http": true})").as_object());
  EXPECT_FALSE(any.Narrow(*http).allow_http);
}

TEST(Egress, ParseErrors) {
  for (const char* s :
       {R"({"allow_cidrs": ["10.0.0.1/8"]})", R"({"allow_ports": [0]})",
        R"({"allow_ports": ["443"]})", R"({"allow_domains": ["http://x"]})",
        R"({"allow_domains": ["*"]})", R"({"deny_domains": ["a.*.b"]})",
        R"({"allow_domains": ["127.0.0.1"]})", R"({"allow_http": "yes"})", R"({"proxy": "x"})"}) {
    auto r = ParseEgressPolicy(bj::parse(s).as_object());
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

// Three levels: the server's policy, an org's rules, a connector's rules. What the org
// took away a connector cannot give back (names, ports, http); only allow_cidrs stays a
// connector's widening, and an org cannot widen at all.
TEST(Egress, OrgRulesNarrowAndAConnectorCannotWidenThem) {
  EgressPolicy server;
  server.allow_http = true;
  server.allow_ports = {443, 80, 8080};
  auto org = ParseOrgEgressRules(bj::parse(R"({"allow_domains": ["*.acme.test"],
      "deny_domains": ["bad.acme.test"], "allow_ports": [443], "allow_http": false})")
                                     .as_object());
  ASSERT_TRUE(org.ok()) << org.error().message;
  EgressPolicy o = server.Narrow(*org);
  EXPECT_TRUE(Check(o, "https://api.acme.test/").ok());
  EXPECT_EQ(Check(o, "https://other.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(o, "https://bad.acme.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(o, "https://api.acme.test:8080/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(o, "http://api.acme.test/").error().code, ErrorCode::kSsrfBlocked);

  auto connector = ParseEgressRules(bj::parse(R"({"allow_domains": ["other.test",
      "bad.acme.test"], "allow_ports": [443, 8080], "allow_http": true})")
                                        .as_object());
  ASSERT_TRUE(connector.ok());
  EgressPolicy c = o.Narrow(*connector);
  EXPECT_EQ(Check(c, "https://other.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(c, "https://bad.acme.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(c, "https://api.acme.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(c.allow_ports, (std::vector<uint16_t>{443}));
  EXPECT_FALSE(c.allow_http);

  // An org list disjoint from a later connector list still allows no name at all.
  auto disjoint = ParseEgressRules(bj::parse(R"({"allow_domains": ["x.test"]})").as_object());
  ASSERT_TRUE(disjoint.ok());
  EXPECT_EQ(Check(o.Narrow(*disjoint), "https://x.test/").error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(Check(o.Narrow(*disjoint), "https://api.acme.test/").error().code,
            ErrorCode::kSsrfBlocked);
}

TEST(Egress, OrgRulesRefuseAllowCidrsAndUnknownFields) {
  for (const char* s : {R"({"allow_cidrs": ["127.0.0.1/32"]})", R"({"allow_cidrs": []})",
                        R"({"proxy": "x"})", R"({"allow_ports": [70000]})"}) {
    auto r = ParseOrgEgressRules(bj::parse(s).as_object());
    ASSERT_FALSE(r.ok()) << s;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << s;
  }
  auto cidrs = ParseOrgEgressRules(bj::parse(R"({"allow_cidrs": ["10.0.0.0/8"]})").as_object());
  ASSERT_FALSE(cidrs.ok());
  EXPECT_NE(cidrs.error().message.find("egress.allow_cidrs"), std::string::npos);
  EXPECT_TRUE(ParseOrgEgressRules(bj::object()).ok());
}

}  // namespace
}  // namespace rampart::net
