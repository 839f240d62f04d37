// Test support for the outbound actions: a fixed clock, a map of connectors, and a
// client + policy that reach only the local test server.
#pragma once

#include <boost/json/parse.hpp>
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "net/testing/test_server.h"
#include "rampart/actions/action.h"
#include "rampart/net/egress.h"
#include "rampart/net/http_client.h"

namespace rampart::actions::testing {

class FixedClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1614265330) +
                                                 std::chrono::seconds(advance_s.load()));
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  void SleepFor(std::chrono::nanoseconds) override {}
  std::atomic<int64_t> advance_s{0};  // wall-clock seconds added to Now()
};

class MapConnectors final : public ConnectorResolver {
 public:
  void Add(ConnectorSecrets c) {
    std::lock_guard lock(mu_);
    connectors_[c.id] = std::move(c);
  }
  void Remove(const std::string& id) {
    std::lock_guard lock(mu_);
    connectors_.erase(id);
  }
  Result<ConnectorSecrets> Resolve(std::string_view id, std::string_view /*workflow*/,
                                   std::string_view /*step_path*/) const override {
    std::lock_guard lock(mu_);
    auto it = connectors_.find(std::string(id));
    if (it == connectors_.end()) {
      return MakeError(ErrorCode::kNotFound, "connector '" + std::string(id) + "' not found");
    }
    return it->second;
  }
  void AddDerivedSecret(std::string_view value) const override {
    std::lock_guard lock(mu_);
    derived_.emplace_back(value);
  }
  // Compare-and-set like the server's: kConflict unless the stored value is expected.
  Status ReplaceSecret(std::string_view id, std::string_view field, std::string_view value,
                       std::span<const std::string> expected,
                       std::string_view /*step_path*/) const override {
    std::lock_guard lock(mu_);
    derived_.emplace_back(value);
    auto it = connectors_.find(std::string(id));
    if (it == connectors_.end()) return MakeError(ErrorCode::kNotFound, "connector not found");
    auto stored = it->second.secrets.find(std::string(field));
    const std::string current =
        stored == it->second.secrets.end() ? std::string() : stored->second;
    if (std::find(expected.begin(), expected.end(), current) == expected.end()) {
      return MakeError(ErrorCode::kConflict, "connector secret changed");
    }
    it->second.secrets[std::string(field)] = std::string(value);
    return Status::Ok();
  }
  // Every value registered through AddDerivedSecret or ReplaceSecret, in order.
  std::vector<std::string> derived() const {
    std::lock_guard lock(mu_);
    return derived_;
  }
  ConnectorSecrets Get(const std::string& id) const {
    std::lock_guard lock(mu_);
    return connectors_.at(id);
  }
  // The run's org rules (OrgEgress narrows the server's policy by them), or the error
  // reading them gives.
  void SetOrgEgress(Result<net::EgressRules> rules) {
    std::lock_guard lock(mu_);
    org_egress_ = std::move(rules);
  }
  Result<net::EgressPolicy> OrgEgress(const net::EgressPolicy& server) const override {
    std::lock_guard lock(mu_);
    if (!org_egress_.ok()) return org_egress_.error();
    return server.Narrow(*org_egress_);
  }

 private:
  Result<net::EgressRules> org_egress_ = net::EgressRules{};
  mutable std::mutex mu_;
  mutable std::map<std::string, ConnectorSecrets> connectors_;
  mutable std::vector<std::string> derived_;
};

struct Harness {
  explicit Harness(std::vector<server::Route> extra_routes = {})
      : server(nullptr, std::move(extra_routes)) {
    resolver.Add("api.public.test", {*net::ParseIp("127.0.0.1")});
    resolver.Add("internal.test", {*net::ParseIp("10.0.0.5")});
    auto c = std::make_shared<net::CurlHttpClient>(resolver);
    c->SetConnectObserverForTest([](const net::CurlHttpClient::ConnectAttempt& a) {
      return a.address == *net::ParseIp("127.0.0.1");  // sandbox: loopback only
    });
    client = c;
    auto p = std::make_shared<net::EgressPolicy>();
    p->allow_http = true;
    p->allow_ports = {server.port(), 443};
    p->allow_cidrs = {*net::ParseCidr("127.0.0.1/32")};
    policy = p;
  }

  std::string Url(std::string_view path) const {
    return "http://api.public.test:" + std::to_string(server.port()) + std::string(path);
  }

  Result<boost::json::value> Run(const Action& action, const boost::json::value& args,
                                 std::string_view connector = "",
                                 std::chrono::milliseconds budget = std::chrono::seconds(10),
                                 std::string_view org = "") {
    std::vector<schema::ValidationError> errors;
    if (!action.ArgsSchema().Validate(args, &errors)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "args: " + (errors.empty() ? std::string() : errors.front().message));
    }
    Context ctx{args,   "wf",      "run_1",
                "step", connector, std::chrono::steady_clock::now() + budget,
                clock,  nullptr,   &connectors};
    ctx.org = org;
    return action.Execute(ctx);
  }

  net::testing::TestServer server;
  net::StaticResolver resolver;
  std::shared_ptr<net::HttpClient> client;
  std::shared_ptr<const net::EgressPolicy> policy;
  FixedClock clock;
  MapConnectors connectors;
};

}  // namespace rampart::actions::testing
