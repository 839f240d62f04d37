// oauth2 connectors in http.request against a loopback token endpoint and API: both
// grants, scopes, client authentication, expiry-based caching per (org, connector),
// one refresh and one retry on a 401, refresh_token rotation written back, sanitized
// token endpoint failures, the token request under the egress policy, and (through the
// engine) the access token absent from the run record and the log lines.
#include "actions/http/oauth2.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "actions/http/action_test_support.h"
#include "actions/http/http_request.h"
#include "actions/log/log_write.h"
#include "rampart/core/json.h"
#include "rampart/crypto/crypto.h"
#include "rampart/engine/engine.h"
#include "rampart/model/workflow.h"
#include "support/fake_env.h"

namespace rampart::actions {
namespace {

namespace bj = boost::json;

constexpr const char* kClientId = "client:one";  // ':' must be form-encoded in Basic
constexpr const char* kClientSecret = "cs-5ecret-Vq81-client";
constexpr const char* kRefresh0 = "rt-initial-7f3a91c2";

std::string FormDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> ParseForm(std::string_view body) {
  std::map<std::string, std::string> out;
  while (!body.empty()) {
    size_t amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    size_t eq = pair.find('=');
    out[FormDecode(pair.substr(0, eq))] =
        eq == std::string_view::npos ? "" : FormDecode(pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return out;
}

// A token endpoint (POST /token) and an API (GET|POST /api) that accepts only the newest
// access token it issued.
class Provider {
 public:
  struct Seen {
    std::string authorization;
    std::string content_type;
    std::map<std::string, std::string> form;
  };

  std::vector<server::Route> Routes() {
    std::vector<server::Route> routes;
    server::Route token;
    token.method = "POST";
    token.pattern = "/token";
    token.operation_id = "token";
    token.handler = [this](server::Request& req) { return Token(req); };
    routes.push_back(token);
    for (const char* m : {"GET", "POST"}) {
      server::Route api;
      api.method = m;
      api.pattern = "/api";
      api.operation_id = std::string("api") + m;
      api.handler = [this](server::Request& req) { return Api(req); };
      routes.push_back(api);
    }
    return routes;
  }

  // While held, a token request waits (before it is answered) until Release(); the test
  // changes the connector in between.
  void Hold() {
    std::lock_guard lock(gate_mu_);
    held_ = true;
    arrived_ = false;
  }
  void WaitArrived() {
    std::unique_lock lock(gate_mu_);
    gate_cv_.wait(lock, [&] { return arrived_; });
  }
  void Release() {
    std::lock_guard lock(gate_mu_);
    held_ = false;
    gate_cv_.notify_all();
  }

  server::Response Token(server::Request& req) {
    {
      std::unique_lock gate(gate_mu_);
      arrived_ = true;
      gate_cv_.notify_all();
      gate_cv_.wait(gate, [&] { return !held_; });
    }
    std::lock_guard lock(mu);
    Seen s;
    s.authorization = std::string(req.Header("Authorization").value_or(""));
    s.content_type = std::string(req.Header("Content-Type").value_or(""));
    s.form = ParseForm(req.body);
    seen.push_back(s);
    if (fail_status != 0) {
      server::Response r;
      r.status = fail_status;
      r.body = fail_body;
      return r;
    }
    if (s.form["grant_type"] == "refresh_token" && s.form["refresh_token"] != valid_refresh) {
      return server::JsonResponse(400, bj::object{{"error", "invalid_grant"}});
    }
    current = "at-" + std::to_string(++issued) + "-Kx93hQ2wLm";
    valid.insert(current);
    bj::object o{{"access_token", current}, {"token_type", "Bearer"}};
    if (expires_in >= 0) o["expires_in"] = expires_in;
    if (rotate && s.form["grant_type"] == "refresh_token") {
      valid_refresh = "rt-rotated-" + std::to_string(issued) + "-c0ffee42";
      o["refresh_token"] = valid_refresh;
    }
    return server::JsonResponse(200, o);
  }

  server::Response Api(server::Request& req) {
    std::lock_guard lock(mu);
    ++api_calls;
    std::string auth(req.Header("Authorization").value_or(""));
    if (always_401 || auth.rfind("Bearer ", 0) != 0 || !valid.count(auth.substr(7))) {
      return server::JsonResponse(401, bj::object{{"error", "unauthorized"}});
    }
    return server::JsonResponse(200, bj::object{{"ok", true}, {"authorization", auth}});
  }

  std::vector<Seen> Requests() {
    std::lock_guard lock(mu);
    return seen;
  }
  int Calls() {
    std::lock_guard lock(mu);
    return api_calls;
  }
  void Revoke() {
    std::lock_guard lock(mu);
    valid.clear();
  }

  std::mutex mu;
  std::vector<Seen> seen;
  std::string current;       // the newest access token issued
  std::set<std::string> valid;  // access tokens the API accepts
  int issued = 0;
  int api_calls = 0;
  int expires_in = 3600;
  bool rotate = false;
  bool always_401 = false;
  std::string valid_refresh = kRefresh0;
  int fail_status = 0;
  std::string fail_body;

 private:
  std::mutex gate_mu_;
  std::condition_variable gate_cv_;
  bool held_ = false;
  bool arrived_ = false;
};

class OAuth2Test : public ::testing::Test {
 protected:
  OAuth2Test()
      : h_(provider_.Routes()),
        tokens_(std::make_shared<oauth2::TokenCache>(h_.client)),
        action_(MakeHttpRequest(h_.client, h_.policy, tokens_)) {}

  ConnectorSecrets Connector(bool with_refresh, std::string token_host = "api.public.test") {
    ConnectorSecrets c;
    c.id = "acme";
    c.type = "oauth2";
    c.options = bj::object{
        {"token_url", "http://" + token_host + ":" + std::to_string(h_.server.port()) + "/token"},
        {"client_id", kClientId},
        {"scopes", bj::array{"read", "write:orders"}}};
    c.secrets["client_secret"] = kClientSecret;
    if (with_refresh) c.secrets["refresh_token"] = kRefresh0;
    return c;
  }

  Result<bj::value> Call(std::string_view org = "org_a") {
    std::string args = R"({"url": ")" + h_.Url("/api") + R"(", "allow_http": true})";
    return h_.Run(*action_, bj::parse(args), "acme", std::chrono::seconds(10), org);
  }

  static std::string ExpectedBasic() {
    return "Basic " + crypto::Base64Encode(std::string("client%3Aone:") + kClientSecret);
  }

  Provider provider_;
  testing::Harness h_;
  std::shared_ptr<oauth2::TokenCache> tokens_;
  std::unique_ptr<Action> action_;
};

TEST_F(OAuth2Test, ClientCredentialsGrantWithBasicClientAuthAndScopes) {
  h_.connectors.Add(Connector(/*with_refresh=*/false));
  auto r = Call();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("status"), 200);
  auto seen = provider_.Requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].authorization, ExpectedBasic());
  EXPECT_EQ(seen[0].content_type, "application/x-www-form-urlencoded");
  EXPECT_EQ(seen[0].form, (std::map<std::string, std::string>{
                              {"grant_type", "client_credentials"},
                              {"scope", "read write:orders"}}));
  // The client secret travels only in the Basic header, never in the body.
  EXPECT_EQ(seen[0].form.count("client_secret"), 0u);
  // The token was registered for redaction before use.
  auto derived = h_.connectors.derived();
  ASSERT_FALSE(derived.empty());
  EXPECT_EQ(derived.front(), "at-1-Kx93hQ2wLm");
}

TEST_F(OAuth2Test, RefreshTokenGrantWhenARefreshTokenIsSet) {
  h_.connectors.Add(Connector(/*with_refresh=*/true));
  auto r = Call();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("status"), 200);
  auto seen = provider_.Requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].authorization, ExpectedBasic());
  EXPECT_EQ(seen[0].form.at("grant_type"), "refresh_token");
  EXPECT_EQ(seen[0].form.at("refresh_token"), kRefresh0);
  EXPECT_EQ(seen[0].form.at("scope"), "read write:orders");
}

TEST_F(OAuth2Test, TokensAreCachedPerOrgUntilExpiryMinusSkew) {
  provider_.expires_in = 600;
  h_.connectors.Add(Connector(false));
  ASSERT_TRUE(Call().ok());
  ASSERT_TRUE(Call().ok());
  EXPECT_EQ(provider_.Requests().size(), 1u);  // the second call used the cached token
  // Another org's connector of the same id has its own token.
  ASSERT_TRUE(Call("org_b").ok());
  EXPECT_EQ(provider_.Requests().size(), 2u);
  // org_a's token is used until 600 - skew seconds after it was issued ...
  h_.clock.advance_s = 600 - oauth2::kExpirySkew.count() - 1;
  int api_before = provider_.Calls();
  ASSERT_TRUE(Call().ok());
  EXPECT_EQ(provider_.Requests().size(), 2u);
  EXPECT_EQ(provider_.Calls(), api_before + 1);
  // ... and once past that, a new one is fetched before the request (no 401 first).
  h_.clock.advance_s = 600 - oauth2::kExpirySkew.count() + 1;
  api_before = provider_.Calls();
  ASSERT_TRUE(Call().ok());
  EXPECT_EQ(provider_.Requests().size(), 3u);
  EXPECT_EQ(provider_.Calls(), api_before + 1);
}

TEST_F(OAuth2Test, ShortLivedTokensAreNotCached) {
  provider_.expires_in = 30;  // below the skew
  h_.connectors.Add(Connector(false));
  ASSERT_TRUE(Call().ok());
  ASSERT_TRUE(Call().ok());
  EXPECT_EQ(provider_.Requests().size(), 2u);
}

TEST_F(OAuth2Test, A401RefreshesOnceAndRetriesOnce) {
  h_.connectors.Add(Connector(false));
  ASSERT_TRUE(Call().ok());
  provider_.Revoke();
  auto r = Call();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("status"), 200);
  EXPECT_EQ(provider_.Requests().size(), 2u);
  EXPECT_EQ(provider_.Calls(), 3);  // ok, 401, retried ok

  // An API that keeps answering 401: one refresh, one retry, then the 401 is the answer.
  provider_.always_401 = true;
  auto denied = Call();
  ASSERT_TRUE(denied.ok()) << denied.error().message;
  EXPECT_EQ(denied->at("status"), 401);
  EXPECT_EQ(provider_.Requests().size(), 3u);
  EXPECT_EQ(provider_.Calls(), 5);
}

TEST_F(OAuth2Test, ARotatedRefreshTokenIsWrittenBackAndUsedNext) {
  provider_.rotate = true;
  h_.connectors.Add(Connector(true));
  ASSERT_TRUE(Call().ok());
  const std::string rotated = provider_.valid_refresh;
  ASSERT_NE(rotated, kRefresh0);
  EXPECT_EQ(h_.connectors.Get("acme").secrets.at("refresh_token"), rotated);
  auto derived = h_.connectors.derived();
  EXPECT_NE(std::find(derived.begin(), derived.end(), rotated), derived.end());
  // The next token request (after expiry) uses the rotated token, which the provider
  // requires: the old one is no longer valid.
  h_.clock.advance_s = 7200;
  auto r = Call();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("status"), 200);
  auto seen = provider_.Requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].form.at("refresh_token"), rotated);
}

TEST_F(OAuth2Test, AStaleResolvedRefreshTokenIsReplacedByTheRotatedOne) {
  // A run that resolved the connector before another run's rotation was written back
  // (here: a resolver whose store never changes) still refreshes with the newest token.
  class ReadOnly final : public ConnectorResolver {
   public:
    explicit ReadOnly(ConnectorSecrets c) : c_(std::move(c)) {}
    Result<ConnectorSecrets> Resolve(std::string_view, std::string_view,
                                     std::string_view) const override {
      return c_;
    }
    ConnectorSecrets c_;
  };
  provider_.rotate = true;
  ReadOnly resolver(Connector(true));
  const bj::value args =
      bj::parse(R"({"url": ")" + h_.Url("/api") + R"(", "allow_http": true})");
  for (int i = 0; i < 2; ++i) {
    Context ctx{args,    "wf",   "run_1",   "step", "acme", std::chrono::steady_clock::now() + std::chrono::seconds(10),
                h_.clock, nullptr, &resolver};
    auto r = action_->Execute(ctx);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->at("status"), 200);
    h_.clock.advance_s += 7200;
  }
  auto seen = provider_.Requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].form.at("refresh_token"), kRefresh0);
  EXPECT_NE(seen[1].form.at("refresh_token"), kRefresh0);
}

// A connector deleted and created again under its id (or its refresh_token replaced) with
// the same endpoint and client but another account's refresh_token, or none: the access
// token granted for the old refresh_token must not act for the new connector.
TEST_F(OAuth2Test, AnotherRefreshTokenUnderTheSameIdGetsItsOwnAccessToken) {
  h_.connectors.Add(Connector(/*with_refresh=*/true));
  auto first = Call();
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(provider_.Requests().size(), 1u);

  ConnectorSecrets other = Connector(true);
  other.secrets["refresh_token"] = "rt-another-account-5d1e";
  {
    std::lock_guard lock(provider_.mu);
    provider_.valid_refresh = "rt-another-account-5d1e";
  }
  h_.connectors.Add(other);
  auto second = Call();
  ASSERT_TRUE(second.ok()) << second.error().message;
  auto seen = provider_.Requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].form.at("refresh_token"), "rt-another-account-5d1e");
  EXPECT_EQ(second->at("status"), 200);

  // Created again without a refresh_token: a client_credentials token, not the account's.
  h_.connectors.Add(Connector(false));
  ASSERT_TRUE(Call().ok());
  seen = provider_.Requests();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2].form.at("grant_type"), "client_credentials");

  // And the same connector again: the cached token is used.
  ASSERT_TRUE(Call().ok());
  EXPECT_EQ(provider_.Requests().size(), 3u);
}

// A token request in flight while the owner PATCHes the connector's refresh_token, or
// deletes the connector and creates it again under its id: the rotated refresh_token of
// the old grant is dropped (the owner's stays stored) and the access token that came with
// it is not served under the owner's refresh_token.
TEST_F(OAuth2Test, ARotationAnsweredAfterTheConnectorChangedIsDropped) {
  provider_.rotate = true;
  h_.connectors.Add(Connector(/*with_refresh=*/true));
  int expected_requests = 0;
  const auto change_during_token_request = [&](const std::function<void()>& change) {
    provider_.Hold();
    Result<bj::value> r = MakeError(ErrorCode::kInternal, "not run");
    std::thread step([&] { r = Call(); });
    provider_.WaitArrived();
    change();
    provider_.Release();
    step.join();
    ++expected_requests;
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->at("status"), 200);  // the step itself still used its token
    ASSERT_EQ(provider_.Requests().size(), static_cast<size_t>(expected_requests));
  };
  const auto next_call_uses = [&](const std::string& refresh) {
    {
      std::lock_guard lock(provider_.mu);
      provider_.valid_refresh = refresh;  // the provider's view of the owner's new grant
    }
    auto r = Call();
    ++expected_requests;
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->at("status"), 200);
    auto seen = provider_.Requests();
    ASSERT_EQ(seen.size(), static_cast<size_t>(expected_requests));  // not the cached token
    EXPECT_EQ(seen.back().form.at("refresh_token"), refresh);
  };

  // PATCH: another refresh_token while the request made with kRefresh0 is in flight.
  const std::string patched = "rt-patched-by-owner-41aa";
  change_during_token_request([&] {
    ConnectorSecrets c = Connector(true);
    c.secrets["refresh_token"] = patched;
    h_.connectors.Add(c);
  });
  EXPECT_EQ(h_.connectors.Get("acme").secrets.at("refresh_token"), patched);
  next_call_uses(patched);
  // That answer rotated the owner's token (nothing changed meanwhile): written back.
  const std::string rotated = provider_.valid_refresh;
  ASSERT_NE(rotated, patched);
  EXPECT_EQ(h_.connectors.Get("acme").secrets.at("refresh_token"), rotated);

  // Deleted and created again under its id with another account's refresh_token.
  h_.clock.advance_s = 7200;  // the cached token expired: the next step asks again
  const std::string recreated = "rt-recreated-account-77b0";
  change_during_token_request([&] {
    h_.connectors.Remove("acme");
    ConnectorSecrets c = Connector(true);
    c.secrets["refresh_token"] = recreated;
    h_.connectors.Add(c);
  });
  EXPECT_EQ(h_.connectors.Get("acme").secrets.at("refresh_token"), recreated);
  next_call_uses(recreated);

  // Deleted (and not created again): nothing to write into.
  h_.clock.advance_s = 14400;
  change_during_token_request([&] { h_.connectors.Remove("acme"); });
  EXPECT_FALSE(h_.connectors.Resolve("acme", "wf", "step").ok());
}

TEST_F(OAuth2Test, TokenEndpointFailuresAreSanitized) {
  h_.connectors.Add(Connector(true));
  provider_.fail_status = 401;
  provider_.fail_body = std::string(R"({"error": "invalid_client", "error_description": "bad secret )") +
                        kClientSecret + " for refresh " + kRefresh0 + R"("})";
  auto r = Call();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kActionFailed);
  EXPECT_NE(r.error().message.find("HTTP 401 (invalid_client)"), std::string::npos)
      << r.error().message;
  for (const std::string& text : {r.error().message}) {
    EXPECT_EQ(text.find(kClientSecret), std::string::npos);
    EXPECT_EQ(text.find(kRefresh0), std::string::npos);
    EXPECT_EQ(text.find("bad secret"), std::string::npos);
  }
  EXPECT_EQ(provider_.Calls(), 0);  // the API was never called without a token

  // An error code outside RFC 6749 is not repeated; a non-JSON body is never shown.
  provider_.fail_status = 400;
  provider_.fail_body = std::string(R"({"error": "leak )") + kClientSecret + R"("})";
  r = Call();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find(kClientSecret), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("leak"), std::string::npos) << r.error().message;
  provider_.fail_status = 200;
  provider_.fail_body = std::string("access_token=") + kClientSecret;
  r = Call();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kActionFailed);
  EXPECT_EQ(r.error().message.find(kClientSecret), std::string::npos) << r.error().message;
}

TEST_F(OAuth2Test, AnUnsafeAccessTokenIsRefused) {
  h_.connectors.Add(Connector(false));
  provider_.fail_status = 200;
  provider_.fail_body = R"({"access_token": "abc\r\nX-Injected: 1", "token_type": "Bearer"})";
  auto r = Call();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kActionFailed);
  EXPECT_EQ(provider_.Calls(), 0);
  provider_.fail_body = R"({"access_token": "mac-token-123456", "token_type": "mac"})";
  r = Call();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("token_type"), std::string::npos);
}

TEST_F(OAuth2Test, TheTokenRequestIsUnderTheEgressPolicy) {
  // internal.test resolves to 10.0.0.5: the SSRF guard refuses the token request before
  // anything is sent, and the API is never called.
  h_.connectors.Add(Connector(false, "internal.test"));
  auto r = Call();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked) << r.error().message;
  EXPECT_EQ(provider_.Requests().size(), 0u);
  EXPECT_EQ(provider_.Calls(), 0);
  // The connector's egress narrows the org's: a token host outside it is refused too.
  ConnectorSecrets c = Connector(false);
  c.egress = bj::object{{"allow_domains", bj::array{"other.test"}}};
  h_.connectors.Add(c);
  r = Call();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(provider_.Requests().size(), 0u);
}

// The org's egress rules narrow the token request like the API request: a token host
// the org denies is never contacted, even though the server and the connector allow it;
// org rules that cannot be read send nothing at all.
TEST_F(OAuth2Test, TheTokenRequestIsUnderTheOrgEgressRules) {
  h_.resolver.Add("token.test", {*net::ParseIp("127.0.0.1")});
  h_.connectors.Add(Connector(false, "token.test"));
  auto deny = net::ParseOrgEgressRules(bj::object{{"deny_domains", bj::array{"token.test"}}});
  ASSERT_TRUE(deny.ok());
  h_.connectors.SetOrgEgress(*deny);
  auto r = Call();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked) << r.error().message;
  EXPECT_NE(r.error().message.find("token.test"), std::string::npos) << r.error().message;
  EXPECT_EQ(provider_.Requests().size(), 0u);
  EXPECT_EQ(provider_.Calls(), 0);

  h_.connectors.SetOrgEgress(MakeError(ErrorCode::kInternal, "corrupted org egress rules"));
  r = Call();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_EQ(provider_.Requests().size(), 0u);
  EXPECT_EQ(provider_.Calls(), 0);

  h_.connectors.SetOrgEgress(net::EgressRules{});
  r = Call();
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(provider_.Requests().size(), 1u);
  EXPECT_EQ(provider_.Calls(), 1);
}

// Through the engine: the API echoes the Authorization header; the access token is in no
// step output, run record or log line (the run's redaction knows it).
class CollectingSink final : public LogSink {
 public:
  void Write(const bj::object& line) override {
    std::lock_guard lock(mu);
    lines.push_back(json::Serialize(line));
  }
  std::mutex mu;
  std::vector<std::string> lines;
};

TEST_F(OAuth2Test, TheAccessTokenNeverReachesTheRunRecordOrLogs) {
  h_.connectors.Add(Connector(false));
  Registry registry;
  registry.Register("http.request", MakeHttpRequest(h_.client, h_.policy, tokens_));
  registry.Register("log.write", MakeLogWrite());
  CollectingSink sink;
  rampart::testing::FakeClock clock;
  rampart::testing::FakeRandom random;
  engine::Env env{&clock, &random, &registry, nullptr, &sink};
  env.connectors = &h_.connectors;
  env.org = "org_a";
  engine::Engine engine(env);
  const std::string url = h_.Url("/api");
  auto loaded = model::LoadDefinition(R"(
rampart: 1
id: oauth
steps:
  - id: call
    type: action
    uses: http.request
    connector: acme
    with: { url: ")" + url + R"(", allow_http: true }
  - id: again
    type: action
    uses: http.request
    connector: acme
    with: { url: ")" + url + R"(", allow_http: true, fail_on_status: true, method: POST,
            json: { copy: "{{ steps.call.output.json.authorization }}" } }
  - id: note
    type: action
    uses: log.write
    with: { message: "called with {{ steps.call.output.json.authorization }}" }
output: { seen: "{{ steps.call.output.json.authorization }}" }
)");
  ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].message);
  engine::RunResult r = engine.Run(*loaded.workflow, engine::RunRequest{});
  ASSERT_TRUE(r.succeeded()) << json::Serialize(r.record);
  ASSERT_FALSE(provider_.current.empty());
  const std::string token = provider_.current;
  const std::string record = json::Serialize(r.record);
  for (const std::string& form : {token, crypto::Base64Encode(token), crypto::HexEncode(token)}) {
    EXPECT_EQ(record.find(form), std::string::npos) << record;
    for (const std::string& line : sink.lines) EXPECT_EQ(line.find(form), std::string::npos);
  }
  EXPECT_EQ(r.record["output"].at("seen"), bj::value("Bearer ***REDACTED***"));
  EXPECT_EQ(provider_.Requests().size(), 1u);  // both steps shared one token
}

}  // namespace
}  // namespace rampart::actions
