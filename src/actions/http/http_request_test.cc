#include "actions/http/http_request.h"

#include <gtest/gtest.h>

#include "actions/http/action_test_support.h"
#include "rampart/core/json.h"

namespace rampart::actions {
namespace {

namespace bj = boost::json;

class HttpRequestTest : public ::testing::Test {
 protected:
  HttpRequestTest() : action_(MakeHttpRequest(h_.client, h_.policy)) {}
  Result<bj::value> Run(std::string_view args, std::string_view connector = "") {
    return h_.Run(*action_, bj::parse(args), connector);
  }
  std::string Args(std::string_view path, std::string_view extra = "") {
    return R"({"url": ")" + h_.Url(path) + R"(", "allow_http": true)" + std::string(extra) + "}";
  }

  testing::Harness h_;
  std::unique_ptr<Action> action_;
};

TEST_F(HttpRequestTest, GetJson) {
  auto r = Run(Args("/ok"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const bj::object& o = r->as_object();
  EXPECT_EQ(o.at("status"), 200);
  EXPECT_EQ(o.at("json"), bj::parse(R"({"ok":true})"));
  EXPECT_TRUE(o.at("headers").as_object().contains("content-type"));
  EXPECT_FALSE(o.contains("url"));
  auto t = Run(Args("/text"));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->as_object().at("body"), "hello");
}

TEST_F(HttpRequestTest, PostJsonQueryAndHeaders) {
  auto r = Run(Args("/echo", R"(, "method": "POST", "json": {"a": [1, 2]},
      "query": {"q": "a b&c", "n": 5}, "headers": {"X-Trace": "t1"})"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const bj::object& echo = r->as_object().at("json").as_object();
  EXPECT_EQ(echo.at("method"), "POST");
  EXPECT_EQ(bj::parse(echo.at("body").as_string()), bj::parse(R"({"a":[1,2]})"));
  EXPECT_EQ(echo.at("query").at("q"), "a b&c");
  EXPECT_EQ(echo.at("query").at("n"), "5");
  EXPECT_EQ(echo.at("headers").at("x-trace"), "t1");
  EXPECT_EQ(echo.at("headers").at("content-type"), "application/json");
}

TEST_F(HttpRequestTest, ArgsRefused) {
  EXPECT_EQ(Run(Args("/ok", R"(, "json": {}, "body": "x")")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Run(Args("/ok", R"(, "method": "TRACE")")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Run(Args("/ok", R"(, "headers": {"Host": "evil"})")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Run(Args("/ok", R"(, "headers": {"X-A": "a\r\nX-B: b"})")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Run(Args("/ok", R"(, "headers": {"Bad Name": "a"})")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(h_.server.hits(), 0);
}

TEST_F(HttpRequestTest, SsrfBlockedIsNotRetryable) {
  for (const char* url :
       {"http://169.254.169.254/latest/meta-data/", "http://0x7f.2/", "http://internal.test/",
        "http://[::ffff:10.0.0.1]/", "gopher://127.0.0.1:70/"}) {
    auto r = Run(std::string(R"({"url": ")") + url + R"(", "allow_http": true})");
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked) << url;
    EXPECT_FALSE(action_->Retryable(r.error()));
  }
  // A step may narrow the policy to https only; it cannot widen it (below).
  auto r = Run(R"({"url": ")" + h_.Url("/ok") + R"(", "allow_http": false})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(h_.server.hits(), 0);
}

// spec/interfaces.md: the config's `egress` holds "defaults for every outbound call",
// `allow_http: false  # https only unless true`: where the server (or the org, or the
// connector) allows http, a step reaches an http URL without asking again; where it does
// not, the step's own `allow_http: true` changes nothing.
TEST_F(HttpRequestTest, HttpFollowsTheEgressPolicy) {
  auto allowed = Run(R"({"url": ")" + h_.Url("/ok") + R"("})");
  ASSERT_TRUE(allowed.ok()) << allowed.error().message;
  EXPECT_EQ(allowed->as_object().at("status"), 200);
  EXPECT_EQ(h_.server.hits(), 1);

  auto https_only = std::make_shared<net::EgressPolicy>(*h_.policy);
  https_only->allow_http = false;
  auto strict = MakeHttpRequest(h_.client, https_only);
  for (const char* extra : {"", R"(, "allow_http": true)"}) {
    auto r = h_.Run(*strict, bj::parse(R"({"url": ")" + h_.Url("/ok") + "\"" + extra + "}"), "");
    ASSERT_FALSE(r.ok()) << extra;
    EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked) << extra;
  }
  EXPECT_EQ(h_.server.hits(), 1);
}

TEST_F(HttpRequestTest, NetworkErrorsAreRetryable) {
  auto r = Run(R"({"url": "https://nxdomain.test/"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kActionFailed);
  EXPECT_TRUE(action_->Retryable(r.error()));
  auto t = Run(Args("/slow?ms=1500", R"(, "timeout": 0.2)"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, ErrorCode::kTimeout);
  EXPECT_TRUE(action_->Retryable(t.error()));
  // The step deadline bounds the request whatever its own timeout says.
  auto late = h_.Run(*action_, bj::parse(Args("/ok")), "", std::chrono::milliseconds(-1));
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.error().code, ErrorCode::kTimeout);
}

TEST_F(HttpRequestTest, StatusIsNotAnErrorUnlessAsked) {
  auto r = Run(Args("/status?code=503"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->as_object().at("status"), 503);
  auto f = Run(Args("/status?code=503", R"(, "fail_on_status": true)"));
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, ErrorCode::kActionFailed);
  EXPECT_EQ(f.error().message, "the server answered HTTP 503");
}

TEST_F(HttpRequestTest, ResponseCap) {
  auto r = Run(Args("/big?n=5000", R"(, "max_response_bytes": 4096)"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
}

TEST_F(HttpRequestTest, ConnectorAuth) {
  h_.connectors.Add({"acme",
                     "bearer",
                     bj::parse(R"({"base_url": ")" + h_.Url("") + R"("})").as_object(),
                     {{"token", "tok-123"}},
                     {}});
  auto r =
      Run(R"({"url": "/echo", "allow_http": true, "headers": {"Authorization": "mine"}})", "acme");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("json").at("headers").at("authorization"), "Bearer tok-123");

  h_.connectors.Add({"basic",
                     "basic",
                     bj::parse(R"({"username": "ann"})").as_object(),
                     {{"password", "pw"}},
                     {}});
  r = Run(Args("/echo"), "basic");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("json").at("headers").at("authorization"), "Basic YW5uOnB3");

  h_.connectors.Add({"hk",
                     "api_key",
                     bj::parse(R"({"in": "header", "name": "X-Key"})").as_object(),
                     {{"key", "k1"}},
                     {}});
  r = Run(Args("/echo"), "hk");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("json").at("headers").at("x-key"), "k1");

  h_.connectors.Add({"ck",
                     "api_key",
                     bj::parse(R"({"in": "cookie", "name": "sid"})").as_object(),
                     {{"key", "c1"}},
                     {}});
  r = Run(Args("/echo"), "ck");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("json").at("headers").at("cookie"), "sid=c1");

  h_.connectors.Add({"custom",
                     "custom",
                     bj::parse(R"({"headers": {"X-Sig": "k={{ secrets.sig }};v=1"}})").as_object(),
                     {{"sig", "zz"}},
                     {}});
  r = Run(Args("/echo"), "custom");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("json").at("headers").at("x-sig"), "k=zz;v=1");
}

TEST_F(HttpRequestTest, ApiKeyInQueryNeverInOutputOrErrors) {
  h_.connectors.Add({"qk",
                     "api_key",
                     bj::parse(R"({"in": "query", "name": "api_key"})").as_object(),
                     {{"key", "SECRET-QUERY-KEY"}},
                     {}});
  auto r = Run(Args("/ok"), "qk");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(json::Serialize(*r).find("SECRET-QUERY-KEY"), std::string::npos);
  auto e = Run(R"({"url": "http://internal.test/x", "allow_http": true})", "qk");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().message.find("SECRET-QUERY-KEY"), std::string::npos);
  auto t = Run(Args("/slow?ms=1500", R"(, "timeout": 0.2)"), "qk");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message.find("SECRET-QUERY-KEY"), std::string::npos);
  auto echo = Run(Args("/echo"), "qk");
  ASSERT_TRUE(echo.ok());
  EXPECT_EQ(echo->at("json").at("query").at("api_key"), "SECRET-QUERY-KEY");  // it was sent
}

TEST_F(HttpRequestTest, ConnectorEgressNarrows) {
  h_.connectors.Add({"narrow",
                     "bearer",
                     {},
                     {{"token", "t"}},
                     bj::parse(R"({"allow_domains": ["api.other.test"]})").as_object()});
  auto r = Run(Args("/ok"), "narrow");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked);
  h_.connectors.Add({"bad",
                     "bearer",
                     {},
                     {{"token", "t"}},
                     bj::parse(R"({"allow_cidrs": ["nope"]})").as_object()});
  EXPECT_EQ(Run(Args("/ok"), "bad").error().code, ErrorCode::kInvalidArgument);
}

TEST_F(HttpRequestTest, ConnectorUnavailable) {
  EXPECT_EQ(Run(Args("/ok"), "missing").error().code, ErrorCode::kNotFound);
  bj::value args = bj::parse(Args("/ok"));
  Context ctx{args,     "wf",   "run",
              "step",   "acme", std::chrono::steady_clock::now() + std::chrono::seconds(5),
              h_.clock, nullptr};
  auto r = action_->Execute(ctx);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  h_.connectors.Add({"hook", "webhook_secret", {}, {{"secret", "whsec_AAAA"}}, {}});
  EXPECT_EQ(Run(Args("/ok"), "hook").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(h_.server.hits(), 0);
}

TEST(HttpRequestRegistry, Builtin) {
  Registry r = BuiltinRegistry();
  EXPECT_NE(r.Find("http.request"), nullptr);
  EXPECT_NE(r.Find("webhook.send"), nullptr);
  EXPECT_NE(r.Find("log.write"), nullptr);
}

}  // namespace
}  // namespace rampart::actions
