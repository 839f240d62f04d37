#include "rampart/hooks/dispatcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "actions/webhook/webhook_send.h"
#include "rampart/api/api.h"
#include "rampart/crypto/crypto.h"
#include "rampart/net/resolver.h"
#include "rampart/runs/runs.h"
#include "rampart/server/router.h"
#include "rampart/server/server.h"
#include "runs/test_util.h"
#include "store/store_test_util.h"

namespace rampart::hooks {
namespace {

namespace bj = boost::json;
using store::testing::TempDir;

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Received {
  std::map<std::string, std::string> headers;
  std::string body;
};

// A loopback receiver: records every request and answers with the queued statuses
// (then 200).
class Receiver {
 public:
  Receiver() {
    server::Route r;
    r.method = "POST";
    r.pattern = "/hook";
    r.operation_id = "hook";
    r.max_body = 1 << 20;
    r.handler = [this](server::Request& req) {
      std::lock_guard lock(mu_);
      Received got;
      for (const char* name :
           {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type"}) {
        got.headers[name] = std::string(req.Header(name).value_or(""));
      }
      got.body = req.body;
      received_.push_back(std::move(got));
      int status = 200;
      if (!statuses_.empty()) {
        status = statuses_.front();
        statuses_.pop_front();
      }
      return server::JsonResponse(status, bj::object{{"ok", status < 300}});
    };
    router_.Add(std::move(r));
    server::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<server::HttpServer>(options, router_, nullptr);
    EXPECT_TRUE(server_->Start().ok());
  }
  ~Receiver() { server_->Stop(std::chrono::milliseconds(0)); }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port()) + "/hook"; }
  uint16_t port() const { return server_->port(); }
  void Answer(std::initializer_list<int> statuses) {
    std::lock_guard lock(mu_);
    statuses_.insert(statuses_.end(), statuses);
  }
  std::vector<Received> received() {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  std::mutex mu_;
  std::deque<int> statuses_;
  std::vector<Received> received_;
  server::Router router_;
  std::unique_ptr<server::HttpServer> server_;
};

Result<HookCredentials> TestCredentials(const store::HookDelivery& d) {
  if (d.secret != "signer") return MakeError(ErrorCode::kNotFound, "connector not found");
  auto key = actions::DecodeWebhookSecret(kSecret);
  return HookCredentials{*key, {}};
}

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : client_(resolver_) {
    client_.SetConnectObserverForTest([this](const net::CurlHttpClient::ConnectAttempt& a) {
      const bool loopback = a.address == *net::ParseIp("127.0.0.1");
      if (!loopback) ++non_loopback_connects_;
      return loopback;  // sandbox: loopback only
    });
    policy_.allow_http = true;
    policy_.allow_ports = {receiver_.port(), 80, 443};
    policy_.allow_cidrs = {*net::ParseCidr("127.0.0.1/32")};
    Open();
    EXPECT_TRUE(store_->Write([](store::Tx& tx) {
                        return tx.InsertOrg({"org_a", "a", "A", 10, 1});
                      })
                    .ok());
  }

  void Open() {
    store_.reset();
    store::SqliteOptions options;
    options.path = dir_.path() + "/rampart.db";
    options.synchronous_full = false;
    auto opened = store::OpenSqliteStore(options);
    ASSERT_TRUE(opened.ok());
    store_ = std::move(opened).value();
  }

  std::unique_ptr<HookDispatcher> Dispatcher(DispatcherOptions options = {},
                                             store::Store* store = nullptr) {
    options.timeout = std::chrono::seconds(5);
    return std::make_unique<HookDispatcher>(store ? *store : *store_, client_, policy_,
                                            &TestCredentials, SystemClock(), options);
  }

  // org_r: the org of the tests that run workflows through the run service.
  void PutOrgR() {
    ASSERT_TRUE(store_->Write([](store::Tx& tx) {
                        return tx.InsertOrg({"org_r", "r", "R", 10, 1});
                      })
                    .ok());
  }

  // A run service environment wired as `serve` wires it for hooks: a run's final write
  // enqueues its workflow's hook deliveries (after_final is the test's).
  static runs::RunEnvironment HookEnvironment(const actions::Registry& registry) {
    runs::RunEnvironment env;
    env.actions = &registry;
    env.on_final = [](store::Tx& tx, const store::Run& run, const model::Workflow& wf) {
      auto n = EnqueueRunHooks(tx, run, wf, ToMs(), SystemRandom());
      return n.ok() ? Status::Ok() : Status(n.error());
    };
    return env;
  }

  // A finished run of workflow "wf" with one hook to `url`; returns its delivery ids.
  std::vector<std::string> FinishRun(const std::string& run_id, const std::string& url,
                                     const std::string& status = "succeeded") {
    store::Run run;
    run.org_id = "org_a";
    run.id = run_id;
    run.workflow_id = "wf";
    run.version = 1;
    run.status = status;
    run.input = "{}";
    run.trigger = "{}";
    run.record = R"({"status":")" + status + R"(","output":{"n":1},"error":null})";
    run.actor = "user:usr_1";
    model::Workflow wf;
    wf.id = "wf";
    wf.hooks.push_back({url, {"run.succeeded", "run.failed"}, "signer"});
    wf.hooks.push_back({url, {"run.awaiting_approval"}, "signer"});
    EXPECT_TRUE(store_
                    ->Write([&](store::Tx& tx) -> Status {
                      // Started under workflow "wf" (its row created on first use).
                      auto row = tx.GetWorkflow("org_a", "wf");
                      if (!row.ok()) return row.error();
                      if (!*row) {
                        if (Status s = tx.InsertWorkflow({"org_a", "wf", "wf", "org", 1, 1, 1, 1});
                            !s.ok()) {
                          return s;
                        }
                      }
                      if (Status s = runs::testing::InsertRunUnderCurrentWorkflow(tx, run);
                          !s.ok()) {
                        return s;
                      }
                      auto n = EnqueueRunHooks(tx, run, wf, ToMs(), SystemRandom());
                      if (!n.ok()) return n.error();
                      EXPECT_EQ(*n, status == "cancelled" ? 0 : 1);
                      return Status::Ok();
                    })
                    .ok());
    std::vector<std::string> ids;
    for (const auto& d : Deliveries(run_id)) ids.push_back(d.id);
    return ids;
  }

  static store::Millis ToMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  std::vector<store::HookDelivery> Deliveries(const std::string& run_id) {
    return store::testing::ReadWith(
        *store_, [&](store::Tx& tx) { return *tx.ListHookDeliveriesOfRun("org_a", run_id); });
  }
  store::HookDelivery Delivery(const std::string& id) {
    return store::testing::ReadWith(
        *store_, [&](store::Tx& tx) { return **tx.GetHookDelivery("org_a", id); });
  }
  std::vector<store::HookAttempt> Attempts(const std::string& id) {
    return store::testing::ReadWith(
        *store_, [&](store::Tx& tx) { return *tx.ListHookAttempts("org_a", id); });
  }

  TempDir dir_;
  Receiver receiver_;
  net::StaticResolver resolver_;
  net::CurlHttpClient client_;
  net::EgressPolicy policy_;
  std::atomic<int> non_loopback_connects_{0};
  std::unique_ptr<store::Store> store_;
};

TEST_F(DispatcherTest, SignedDeliveryVerifiesAtTheReceiver) {
  auto ids = FinishRun("run_1", receiver_.Url());
  ASSERT_EQ(ids.size(), 1u);
  auto dispatcher = Dispatcher();
  auto done = dispatcher->RunOnce();
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(*done, 1);

  auto got = receiver_.received();
  ASSERT_EQ(got.size(), 1u);
  const Received& r = got[0];
  EXPECT_EQ(r.headers.at("webhook-id"), ids[0]);
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  // The receiver's own verification: HMAC-SHA256(key, id.timestamp.body), base64.
  auto key = crypto::Base64Decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(key.has_value());
  const std::string signed_content =
      r.headers.at("webhook-id") + "." + r.headers.at("webhook-timestamp") + "." + r.body;
  EXPECT_EQ(
      r.headers.at("webhook-signature"),
      "v1," + crypto::Base64Encode(crypto::DigestBytes(crypto::HmacSha256(*key, signed_content))));
  const long long ts = std::stoll(r.headers.at("webhook-timestamp"));
  EXPECT_LT(std::llabs(ts - ToMs() / 1000), 60);

  bj::value body = bj::parse(r.body);
  EXPECT_EQ(body.at("type"), "run.succeeded");
  EXPECT_TRUE(body.at("timestamp").is_string());
  const bj::object& data = body.at("data").as_object();
  EXPECT_EQ(data.at("run_id"), "run_1");
  EXPECT_EQ(data.at("workflow"), "wf");
  EXPECT_EQ(data.at("status"), "succeeded");
  EXPECT_EQ(data.at("output"), (bj::object{{"n", 1}}));
  EXPECT_FALSE(data.contains("error"));

  store::HookDelivery d = Delivery(ids[0]);
  EXPECT_EQ(d.status, "delivered");
  EXPECT_EQ(d.attempts, 1);
  auto attempts = Attempts(ids[0]);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].status_code, 200);
  EXPECT_EQ(attempts[0].error, "");
  EXPECT_GE(attempts[0].latency_ms, 0);
  // Nothing more to do.
  EXPECT_EQ(*dispatcher->RunOnce(), 0);
}

TEST_F(DispatcherTest, NonFinalOrUnsubscribedStatusesEnqueueNothing) {
  FinishRun("run_c", receiver_.Url(), "cancelled");
  EXPECT_TRUE(Deliveries("run_c").empty());
  auto ids = FinishRun("run_w", receiver_.Url(), "awaiting_approval");
  EXPECT_EQ(Delivery(ids[0]).event, "run.awaiting_approval");
}

TEST_F(DispatcherTest, RetriesOnNon2xxWithTheSchedule) {
  receiver_.Answer({500, 503});
  auto ids = FinishRun("run_2", receiver_.Url());
  DispatcherOptions options;
  options.schedule = {std::chrono::milliseconds(1), std::chrono::milliseconds(1)};
  auto dispatcher = Dispatcher(options);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(dispatcher->RunOnce().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto attempts = Attempts(ids[0]);
  ASSERT_EQ(attempts.size(), 3u);
  EXPECT_EQ(attempts[0].status_code, 500);
  EXPECT_EQ(attempts[0].error, "http_500");
  EXPECT_EQ(attempts[1].status_code, 503);
  EXPECT_EQ(attempts[2].status_code, 200);
  EXPECT_EQ(Delivery(ids[0]).status, "delivered");
  // Same webhook-id and body every time (receivers deduplicate on it).
  auto got = receiver_.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].headers.at("webhook-id"), got[2].headers.at("webhook-id"));
  EXPECT_EQ(got[0].body, got[2].body);
}

TEST_F(DispatcherTest, FailsAfterTheLastAttemptAndWaitsForTheSchedule) {
  receiver_.Answer({500, 500, 500});
  auto ids = FinishRun("run_3", receiver_.Url());
  DispatcherOptions options;
  options.schedule = {std::chrono::milliseconds(1), std::chrono::hours(1)};
  options.max_attempts = 2;
  auto dispatcher = Dispatcher(options);
  ASSERT_TRUE(dispatcher->RunOnce().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(dispatcher->RunOnce().ok());
  store::HookDelivery d = Delivery(ids[0]);
  EXPECT_EQ(d.status, "failed");
  EXPECT_EQ(d.attempts, 2);
  EXPECT_EQ(*dispatcher->RunOnce(), 0);
  EXPECT_EQ(receiver_.received().size(), 2u);

  // A long delay is respected: the second attempt is not due yet.
  receiver_.Answer({500});
  auto later = FinishRun("run_3b", receiver_.Url());
  DispatcherOptions slow;
  slow.schedule = {std::chrono::hours(1)};
  auto d2 = Dispatcher(slow);
  ASSERT_TRUE(d2->RunOnce().ok());
  EXPECT_EQ(*d2->RunOnce(), 0);
  store::HookDelivery pending = Delivery(later[0]);
  EXPECT_EQ(pending.status, "pending");
  EXPECT_GT(pending.next_attempt_at, ToMs() + 3'000'000);
}

// A sent delivery whose attempt cannot be recorded (the store refuses writes) is not sent
// again at every pass: its record is kept and written once the store takes writes again,
// without a second request.
TEST_F(DispatcherTest, AnAttemptThatCannotBeRecordedIsNotSentAgainAndIsRecordedLater) {
  auto ids = FinishRun("run_unrecorded", receiver_.Url());
  runs::testing::FailingStore failing(*store_);
  DispatcherOptions options;
  options.poll_interval = std::chrono::milliseconds(20);
  std::vector<std::string> reported;  // serve logs these
  options.on_record_error = [&](const store::HookDelivery& d, const Error& e) {
    reported.push_back(d.id + " " + std::string(e.code_name()));
  };
  auto dispatcher = Dispatcher(options, &failing);
  failing.fail_all = true;
  ASSERT_TRUE(dispatcher->RunOnce().ok());
  EXPECT_EQ(receiver_.received().size(), 1u);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(dispatcher->RunOnce().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(receiver_.received().size(), 1u);
  EXPECT_EQ(Delivery(ids[0]).status, "pending");
  EXPECT_GE(failing.failed.load(), 2);  // the record was tried again, with a backoff
  EXPECT_EQ(reported, std::vector<std::string>{ids[0] + " internal"});  // once, not per retry
  failing.fail_all = false;
  for (int i = 0; i < 100 && Delivery(ids[0]).status == "pending"; ++i) {
    ASSERT_TRUE(dispatcher->RunOnce().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  store::HookDelivery d = Delivery(ids[0]);
  EXPECT_EQ(d.status, "delivered");
  EXPECT_EQ(d.attempts, 1);
  ASSERT_EQ(Attempts(ids[0]).size(), 1u);
  EXPECT_EQ(Attempts(ids[0])[0].status_code, 200);
  EXPECT_EQ(receiver_.received().size(), 1u);
}

TEST_F(DispatcherTest, GoneDisablesTheEndpoint) {
  receiver_.Answer({410});
  auto ids = FinishRun("run_4", receiver_.Url());
  auto dispatcher = Dispatcher();
  ASSERT_TRUE(dispatcher->RunOnce().ok());
  EXPECT_EQ(Delivery(ids[0]).status, "disabled");
  EXPECT_EQ(Attempts(ids[0]).at(0).status_code, 410);
  EXPECT_TRUE(store::testing::ReadWith(*store_, [&](store::Tx& tx) {
    return *tx.HookEndpointDisabled("org_a", "wf", receiver_.Url());
  }));
  // Later runs: recorded as disabled, never sent.
  auto next = FinishRun("run_5", receiver_.Url());
  EXPECT_EQ(Delivery(next[0]).status, "disabled");
  EXPECT_EQ(*dispatcher->RunOnce(), 0);
  EXPECT_EQ(receiver_.received().size(), 1u);
}

// A 410 answered to a delivery of a deleted workflow's run disables nothing for the workflow
// created again under its id (hook endpoints go with their workflow, and so must a late
// answer to one of its deliveries).
TEST_F(DispatcherTest, GoneForADeletedWorkflowsDeliveryDoesNotDisableTheNewOnes) {
  receiver_.Answer({410});
  auto ids = FinishRun("run_old", receiver_.Url());
  ASSERT_TRUE(store_->Write([](store::Tx& tx) -> Status {
                      auto deleted = tx.DeleteWorkflow("org_a", "wf");
                      if (!deleted.ok()) return deleted.error();
                      return tx.InsertWorkflow({"org_a", "wf", "wf", "org", 1, 1, 2, 2});
                    })
                  .ok());
  auto dispatcher = Dispatcher();
  ASSERT_TRUE(dispatcher->RunOnce().ok());
  EXPECT_EQ(Delivery(ids[0]).status, "disabled");
  EXPECT_FALSE(store::testing::ReadWith(*store_, [&](store::Tx& tx) {
    return *tx.HookEndpointDisabled("org_a", "wf", receiver_.Url());
  }));
  // The new workflow's runs still deliver there.
  receiver_.Answer({200});
  auto next = FinishRun("run_new", receiver_.Url());
  EXPECT_EQ(Delivery(next[0]).status, "pending");
  ASSERT_TRUE(dispatcher->RunOnce().ok());
  EXPECT_EQ(Delivery(next[0]).status, "delivered");
}

TEST_F(DispatcherTest, ARestartResumesPendingDeliveries) {
  receiver_.Answer({500});
  auto ids = FinishRun("run_6", receiver_.Url());
  DispatcherOptions options;
  options.schedule = {std::chrono::milliseconds(1)};
  options.poll_interval = std::chrono::milliseconds(20);
  {
    auto first = Dispatcher(options);
    ASSERT_TRUE(first->RunOnce().ok());  // 500: still pending
  }
  EXPECT_EQ(Delivery(ids[0]).status, "pending");
  Open();  // the "process" restarts
  auto second = Dispatcher(options);
  second->Start();
  for (int i = 0; i < 250 && Delivery(ids[0]).status == "pending"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  second->Stop();
  EXPECT_EQ(Delivery(ids[0]).status, "delivered");
  EXPECT_EQ(Attempts(ids[0]).size(), 2u);
}

TEST_F(DispatcherTest, KickWakesTheDispatcherAtOnce) {
  DispatcherOptions options;
  options.poll_interval = std::chrono::hours(1);
  auto dispatcher = Dispatcher(options);
  dispatcher->Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto ids = FinishRun("run_k", receiver_.Url());
  dispatcher->Kick();
  for (int i = 0; i < 250 && Delivery(ids[0]).status == "pending"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Delivery(ids[0]).status, "delivered");
  dispatcher->Stop();
}

TEST_F(DispatcherTest, DeniedDestinationsAreNeverConnectedTo) {
  resolver_.Add("metadata.test", {*net::ParseIp("169.254.169.254")});
  const std::string port = std::to_string(receiver_.port());
  const std::vector<std::string> urls = {
      "http://10.0.0.5:" + port + "/hook", "http://169.254.169.254/latest/meta-data",
      "http://metadata.test/hook", "http://[::1]:" + port + "/hook"};
  for (const std::string& url : urls) {
    SCOPED_TRACE(url);
    auto ids = FinishRun("run_s" + std::to_string(url.size()) + url.substr(7, 3), url);
    auto dispatcher = Dispatcher();
    ASSERT_TRUE(dispatcher->RunOnce().ok());
    auto attempts = Attempts(ids[0]);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].status_code, 0);
    EXPECT_EQ(attempts[0].error.rfind("ssrf_blocked", 0), 0u) << attempts[0].error;
    EXPECT_EQ(Delivery(ids[0]).status, "pending");  // retried later, blocked again
  }
  EXPECT_EQ(non_loopback_connects_.load(), 0);
  EXPECT_TRUE(receiver_.received().empty());
}

// Hook deliveries obey the org's egress rules (read at each attempt), on top of the
// server's policy that allows the receiver; rules that cannot be read send nothing.
TEST_F(DispatcherTest, OrgEgressRulesNarrowEveryAttempt) {
  resolver_.Add("hooks.test", {*net::ParseIp("127.0.0.1")});
  const std::string port = std::to_string(receiver_.port());
  auto set_rules = [&](const std::string& egress) {
    ASSERT_TRUE(store_
                    ->Write([&](store::Tx& tx) -> Status {
                      store::Org org = **tx.GetOrg("org_a");
                      org.egress = egress;
                      return tx.UpdateOrg(org);
                    })
                    .ok());
  };
  int n = 0;
  for (const std::string& rules :
       {std::string(R"({"deny_domains":["hooks.test"]})"),
        std::string(R"({"allow_domains":["other.test"]})"),
        std::string(R"({"allow_ports":[443]})"), std::string(R"({"allow_http":false})"),
        std::string("not json")}) {
    SCOPED_TRACE(rules);
    set_rules(rules);
    auto ids = FinishRun("run_org" + std::to_string(n++), "http://hooks.test:" + port + "/hook");
    ASSERT_TRUE(Dispatcher()->RunOnce().ok());
    auto attempts = Attempts(ids[0]);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].status_code, 0);
    if (rules == "not json") {
      EXPECT_EQ(attempts[0].error.rfind("internal", 0), 0u) << attempts[0].error;
    } else {
      EXPECT_EQ(attempts[0].error.rfind("ssrf_blocked", 0), 0u) << attempts[0].error;
    }
    EXPECT_EQ(Delivery(ids[0]).status, "pending");
  }
  EXPECT_TRUE(receiver_.received().empty());
  // Rules that include the receiver let the next delivery through.
  set_rules(R"({"allow_domains":["hooks.test"],"allow_ports":[)" + port + "]}");
  auto ids = FinishRun("run_org_ok", "http://hooks.test:" + port + "/hook");
  ASSERT_TRUE(Dispatcher()->RunOnce().ok());
  EXPECT_EQ(Delivery(ids[0]).status, "delivered");
  EXPECT_FALSE(receiver_.received().empty());
  EXPECT_EQ(non_loopback_connects_.load(), 0);
}

TEST_F(DispatcherTest, AMissingSecretIsAFailedAttemptNotASend) {
  store::Run run;
  run.org_id = "org_a";
  run.id = "run_m";
  run.workflow_id = "wf";
  run.status = "failed";
  run.error_code = "action_failed";
  run.record = R"({"status":"failed","error":{"code":"action_failed","message":"boom"}})";
  model::Workflow wf;
  wf.hooks.push_back({receiver_.Url(), {"run.failed"}, "missing"});
  ASSERT_TRUE(store_
                  ->Write([&](store::Tx& tx) -> Status {
                    if (Status s = tx.InsertRun(run); !s.ok()) return s;
                    return EnqueueRunHooks(tx, run, wf, ToMs(), SystemRandom()).ok() ? Status::Ok()
                                                                                     : Status::Ok();
                  })
                  .ok());
  auto deliveries = Deliveries("run_m");
  ASSERT_EQ(deliveries.size(), 1u);
  bj::value payload = bj::parse(deliveries[0].payload);
  EXPECT_EQ(payload.at("type"), "run.failed");
  EXPECT_EQ(payload.at("data").at("error").at("code"), "action_failed");
  auto dispatcher = Dispatcher();
  ASSERT_TRUE(dispatcher->RunOnce().ok());
  auto attempts = Attempts(deliveries[0].id);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_NE(attempts[0].error.find("signing secret unavailable"), std::string::npos);
  EXPECT_TRUE(receiver_.received().empty());
}

TEST_F(DispatcherTest, RedeliveryThroughTheApiHandlers) {
  receiver_.Answer({410});
  auto ids = FinishRun("run_r", receiver_.Url() + "?token=abc");
  auto dispatcher = Dispatcher();
  ASSERT_TRUE(dispatcher->RunOnce().ok());
  EXPECT_EQ(Delivery(ids[0]).status, "disabled");

  std::vector<std::string> audited;
  auto audit = [&](std::string_view action, std::string_view target, bj::object) {
    audited.push_back(std::string(action) + " " + std::string(target));
    return Status::Ok();
  };
  // Unknown delivery, delivery of another run, run of another org: 404.
  auto missing = store::testing::WriteWith(*store_, [&](store::Tx& tx) {
    return api::internal::RedeliverRunHooksHandler(
        tx, "org_a", "run_r", bj::object{{"delivery_id", "msg_nope"}}, ToMs(), audit);
  });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  auto other_org = store::testing::WriteWith(*store_, [&](store::Tx& tx) {
    return api::internal::RedeliverRunHooksHandler(tx, "org_b", "run_r", bj::object{}, ToMs(),
                                                   audit);
  });
  ASSERT_FALSE(other_org.ok());
  EXPECT_EQ(other_org.error().code, ErrorCode::kNotFound);

  auto redelivered = store::testing::WriteWith(*store_, [&](store::Tx& tx) {
    return api::internal::RedeliverRunHooksHandler(
        tx, "org_a", "run_r", bj::object{{"delivery_id", ids[0]}}, ToMs(), audit);
  });
  ASSERT_TRUE(redelivered.ok()) << redelivered.error().message;
  EXPECT_EQ(redelivered->status, 202);
  EXPECT_EQ(audited, (std::vector<std::string>{"hook.redeliver " + ids[0]}));
  EXPECT_EQ(Delivery(ids[0]).status, "pending");
  // The endpoint is enabled again and the next pass delivers.
  ASSERT_TRUE(dispatcher->RunOnce().ok());
  EXPECT_EQ(Delivery(ids[0]).status, "delivered");
  EXPECT_EQ(receiver_.received().size(), 2u);

  // The listing: every attempt, the URL without its query.
  auto listed = store::testing::ReadWith(*store_, [&](store::Tx& tx) {
    return api::internal::ListRunHooksHandler(tx, "org_a", "run_r", server::Request{});
  });
  ASSERT_TRUE(listed.ok());
  bj::value body = bj::parse(listed->body);
  const bj::array& items = body.at("items").as_array();
  ASSERT_EQ(items.size(), 1u);
  const bj::object& item = items[0].as_object();
  EXPECT_EQ(item.at("id").as_string(), ids[0]);
  EXPECT_EQ(item.at("status"), "delivered");
  EXPECT_EQ(item.at("event"), "run.succeeded");
  EXPECT_EQ(item.at("url").as_string().find("abc"), bj::string::npos);
  const bj::array& log = item.at("attempt_log").as_array();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].at("status_code"), 410);
  EXPECT_EQ(log[0].at("error"), "http_410");
  EXPECT_EQ(log[1].at("status_code"), 200);
  EXPECT_TRUE(log[1].at("error").is_null());
  EXPECT_TRUE(log[1].at("time").is_string());
  // A pending delivery is not redelivered twice.
  auto again = store::testing::WriteWith(*store_, [&](store::Tx& tx) {
    return api::internal::RedeliverRunHooksHandler(tx, "org_a", "run_r", bj::object{}, ToMs(),
                                                   audit);
  });
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(bj::parse(again->body).at("redelivered").as_array().empty());
}

// The listing shows where a delivery goes, never a credential in its URL: neither the
// query (a token) nor the userinfo (a password).
TEST_F(DispatcherTest, TheListingHidesCredentialsInTheUrl) {
  FinishRun("run_u", "http://hook-user:pw-in-url@127.0.0.1:9/in?token=tok-in-url#frag");
  auto listed = store::testing::ReadWith(*store_, [&](store::Tx& tx) {
    return api::internal::ListRunHooksHandler(tx, "org_a", "run_u", server::Request{});
  });
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->body.find("pw-in-url"), std::string::npos) << listed->body;
  EXPECT_EQ(listed->body.find("hook-user"), std::string::npos) << listed->body;
  EXPECT_EQ(listed->body.find("tok-in-url"), std::string::npos) << listed->body;
  bj::value body = bj::parse(listed->body);
  EXPECT_EQ(body.at("items").at(0).at("url"), "http://***@127.0.0.1:9/in?...");
}

// Through the run service: the deliveries commit with the run's final status (a reader
// that sees the run succeeded sees its delivery), after_final kicks the dispatcher. The
// same for a side-effect-free run executed inline by Submit (may_run_inline): its one
// commit carries the deliveries.
class RunServiceDeliveryTest : public DispatcherTest,
                               public ::testing::WithParamInterface<bool> {};

TEST_P(RunServiceDeliveryTest, AFinishedRunDeliversThroughTheRunService) {
  const bool run_inline = GetParam();

  PutOrgR();
  const std::string yaml = R"(
rampart: 1
id: notify
inputs: { type: object, properties: { n: { type: integer } }, required: [n] }
steps:
  - { id: a, type: set, values: { v: 1 } }
output: "{{ inputs.n * 2 }}"
hooks:
  - { url: ")" + receiver_.Url() +
                           R"(", events: [run.succeeded, run.failed], secret: signer }
  - { url: ")" + receiver_.Url() +
                           R"(", events: [run.awaiting_approval], secret: signer }
)";
  runs::testing::PutVersion(*store_, "org_r", 1, yaml, 1);
  auto dispatcher = Dispatcher();
  actions::Registry registry;
  runs::RunEnvironment env;
  env.actions = &registry;
  std::atomic<int> seen_in_commit{0};
  env.on_final = [&](store::Tx& tx, const store::Run& run, const model::Workflow& wf) {
    auto n = EnqueueRunHooks(tx, run, wf, ToMs(), SystemRandom());
    if (!n.ok()) return Status(n.error());
    seen_in_commit += *n;
    return Status::Ok();
  };
  env.after_final = [&](const store::Run&, const model::Workflow&) { dispatcher->Kick(); };
  runs::RunServiceOptions options;
  options.workers = 2;
  runs::RunService service(*store_, env, options);
  ASSERT_TRUE(service.Start().ok());
  dispatcher->Start();
  runs::Submission sub;
  sub.org_id = "org_r";
  sub.workflow_id = "notify";
  sub.version = 1;
  sub.input = bj::parse(R"({"n": 21})");
  sub.trigger = bj::parse(R"({"type": "api"})");
  sub.actor = "user:usr_1";
  sub.may_run_inline = run_inline;
  auto run = service.Submit(std::move(sub));
  ASSERT_TRUE(run.ok()) << run.error().message;
  // Inline: executed by Submit itself and answered final; else queued for a worker.
  if (run_inline) {
    EXPECT_EQ(run->status, "succeeded");
  }
  auto done = service.Wait("org_r", run->id, std::chrono::seconds(10));
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, "succeeded");
  EXPECT_EQ(seen_in_commit.load(), 1);
  std::vector<store::HookDelivery> deliveries = store::testing::ReadWith(
      *store_, [&](store::Tx& tx) { return *tx.ListHookDeliveriesOfRun("org_r", run->id); });
  ASSERT_EQ(deliveries.size(), 1u);
  for (int i = 0; i < 250 && receiver_.received().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  service.Stop(std::chrono::seconds(1));
  dispatcher->Stop();
  auto got = receiver_.received();
  ASSERT_EQ(got.size(), 1u);
  bj::value body = bj::parse(got[0].body);
  EXPECT_EQ(body.at("type"), "run.succeeded");
  EXPECT_EQ(body.at("data").at("run_id").as_string(), run->id);
  EXPECT_EQ(body.at("data").at("workflow"), "notify");
  EXPECT_EQ(body.at("data").at("output"), 42);
}

// A run the server was executing when it died is failed `interrupted` by the next start:
// a failed run like any other, so its run.failed hooks are enqueued with that status (and
// the dispatcher woken), not silently skipped.
TEST_F(DispatcherTest, ARunInterruptedByACrashDeliversRunFailed) {
  PutOrgR();
  const std::string yaml = R"(
rampart: 1
id: notify
steps:
  - { id: a, type: set, values: { v: 1 } }
hooks:
  - { url: ")" + receiver_.Url() +
                           R"(", events: [run.failed], secret: signer }
  - { url: ")" + receiver_.Url() + R"(", events: [run.succeeded], secret: signer }
)";
  runs::testing::PutVersion(*store_, "org_r", 1, yaml, 1);
  store::Run running;
  running.org_id = "org_r";
  running.id = "run_crashed";
  running.workflow_id = "notify";
  running.version = 1;
  running.status = "running";
  running.input = "{}";
  running.trigger = R"({"type":"api"})";
  running.actor = "user:usr_1";
  running.created_at = running.started_at = ToMs();
  running.attempts = 1;
  ASSERT_TRUE(store_->Write([&](store::Tx& tx) {
                return runs::testing::InsertRunUnderCurrentWorkflow(tx, running);
              }).ok());

  actions::Registry registry;
  runs::RunEnvironment env = HookEnvironment(registry);
  std::vector<std::string> woken;
  env.after_final = [&](const store::Run& run, const model::Workflow&) {
    woken.push_back(run.id + " " + run.status);
  };
  runs::RunService service(*store_, env, runs::RunServiceOptions{});
  ASSERT_TRUE(service.Start().ok());
  service.Stop(std::chrono::seconds(1));

  std::vector<store::HookDelivery> deliveries = store::testing::ReadWith(
      *store_, [&](store::Tx& tx) { return *tx.ListHookDeliveriesOfRun("org_r", "run_crashed"); });
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].event, "run.failed");
  EXPECT_EQ(deliveries[0].status, "pending");
  bj::value payload = bj::parse(deliveries[0].payload);
  EXPECT_EQ(payload.at("type"), "run.failed");
  EXPECT_EQ(payload.at("data").at("run_id"), "run_crashed");
  EXPECT_EQ(payload.at("data").at("status"), "failed");
  EXPECT_EQ(payload.at("data").at("error").at("code"), "interrupted");
  EXPECT_EQ(woken, std::vector<std::string>{"run_crashed failed"});
}

// A child run (a `workflow` step) is a run of its own workflow: that workflow's hooks are
// enqueued with the child's row, in the parent's final write, each with its own event.
TEST_F(DispatcherTest, AChildRunDeliversItsOwnWorkflowsHooks) {
  PutOrgR();
  runs::testing::PutVersion(*store_, "org_r", 1, R"(
rampart: 1
id: kid
steps:
  - { id: a, type: set, values: { v: 1 } }
output: "{{ inputs.n + 1 }}"
hooks:
  - { url: ")" + receiver_.Url() + R"(/kid", events: [run.succeeded], secret: signer }
  - { url: ")" + receiver_.Url() + R"(/kid-failed", events: [run.failed], secret: signer }
)",
                            1);
  runs::testing::PutVersion(*store_, "org_r", 1, R"(
rampart: 1
id: parent
steps:
  - { id: call, type: workflow, workflow: kid, with: { n: 41 } }
hooks:
  - { url: ")" + receiver_.Url() + R"(/parent", events: [run.succeeded], secret: signer }
)",
                            1);
  actions::Registry registry;
  runs::RunEnvironment env = HookEnvironment(registry);
  std::mutex woken_mu;
  std::vector<std::string> woken;
  env.after_final = [&](const store::Run& run, const model::Workflow& wf) {
    std::lock_guard lock(woken_mu);
    woken.push_back(run.workflow_id + "/" + wf.id + " " + run.status);
  };
  runs::RunService service(*store_, env, runs::RunServiceOptions{});
  ASSERT_TRUE(service.Start().ok());
  runs::Submission sub;
  sub.org_id = "org_r";
  sub.workflow_id = "parent";
  sub.version = 1;
  sub.trigger = bj::parse(R"({"type": "api"})");
  sub.actor = "user:usr_1";
  auto run = service.Submit(std::move(sub));
  ASSERT_TRUE(run.ok()) << run.error().message;
  auto done = service.Wait("org_r", run->id, std::chrono::seconds(10));
  service.Stop(std::chrono::seconds(1));
  ASSERT_TRUE(done.has_value());
  ASSERT_EQ(done->status, "succeeded");

  auto parent = store::testing::ReadWith(
      *store_, [&](store::Tx& tx) { return *tx.ListHookDeliveriesOfRun("org_r", run->id); });
  ASSERT_EQ(parent.size(), 1u);
  EXPECT_EQ(parent[0].url, receiver_.Url() + "/parent");
  const std::string child_id(
      bj::parse(done->record).at("steps").at(0).at("child_run_id").as_string());
  auto child = store::testing::ReadWith(
      *store_, [&](store::Tx& tx) { return *tx.ListHookDeliveriesOfRun("org_r", child_id); });
  ASSERT_EQ(child.size(), 1u);
  EXPECT_EQ(child[0].url, receiver_.Url() + "/kid");
  EXPECT_EQ(child[0].workflow_id, "kid");
  bj::value payload = bj::parse(child[0].payload);
  EXPECT_EQ(payload.at("type"), "run.succeeded");
  EXPECT_EQ(payload.at("data").at("run_id").as_string(), child_id);
  EXPECT_EQ(payload.at("data").at("workflow"), "kid");
  EXPECT_EQ(payload.at("data").at("output"), 42);
  std::sort(woken.begin(), woken.end());
  EXPECT_EQ(woken, (std::vector<std::string>{"kid/kid succeeded", "parent/parent succeeded"}));
}

INSTANTIATE_TEST_SUITE_P(Paths, RunServiceDeliveryTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param) {
                           return param.param ? "Inline" : "Worker";
                         });

// tests/testdata/hooks/rampart-signed.json: deliveries exactly as our signer produces them
// (fixed ids and time), which tests/js/verify_hooks.mjs verifies with the npm
// `standardwebhooks` reference library. RAMPART_UPDATE_FIXTURES=1 rewrites it.
TEST(HookFixture, MatchesOurSigner) {
  const store::Millis now = 1893456000000;  // 2030-01-01T00:00:00Z
  const std::string timestamp = "1893456000";
  auto key = actions::DecodeWebhookSecret(kSecret);
  ASSERT_TRUE(key.has_value());
  bj::array deliveries;
  int n = 0;
  for (const char* status : {"succeeded", "failed", "awaiting_approval"}) {
    store::Run run;
    run.org_id = "org_a";
    run.id = "run_fixture_" + std::to_string(++n);
    run.workflow_id = "orders";
    run.status = status;
    run.record = std::string(status) == "succeeded"
                     ? R"({"output":{"total":12.5,"note":"unicode: \u00e9\u4e2d"}})"
                 : std::string(status) == "failed"
                     ? R"({"error":{"code":"action_failed","message":"HTTP 502"}})"
                     : R"({"output":null})";
    const std::string body = BuildPayload(run, EventOfStatus(status), now);
    const std::string id = "msg_rampart_fixture_" + std::to_string(n);
    deliveries.push_back(bj::object{
        {"body", body},
        {"headers", bj::object{{"webhook-id", id},
                               {"webhook-timestamp", timestamp},
                               {"webhook-signature",
                                actions::StandardWebhookSignature(*key, id, timestamp, body)}}}});
  }
  const bj::object fixture{
      {"secret", kSecret}, {"timestamp", 1893456000}, {"deliveries", deliveries}};
  const std::string path =
      std::string(RAMPART_SOURCE_DIR) + "/tests/testdata/hooks/rampart-signed.json";
  if (const char* update = std::getenv("RAMPART_UPDATE_FIXTURES"); update && *update == '1') {
    std::ofstream(path) << bj::serialize(fixture) << "\n";
  }
  std::ifstream in(path);
  ASSERT_TRUE(in.good()) << path;
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(bj::parse(text.str()), bj::value(fixture));
}

}  // namespace
}  // namespace rampart::hooks
