#include "rampart/audit/forwarder.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "net/testing/test_server.h"
#include "rampart/audit/chain.h"
#include "rampart/audit/checkpoint.h"
#include "rampart/audit/retention.h"
#include "rampart/crypto/crypto.h"
#include "rampart/net/resolver.h"
#include "store/store_test_util.h"

namespace rampart::audit {
namespace {

namespace bj = boost::json;
using store::testing::ReadWith;
using store::testing::TempDir;

// The collector's copy of the secret: a Standard Webhooks secret, as a collector library
// would be configured with it.
constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// The collector verifies with OpenSSL directly (not with the code under test):
// v1,base64(HMAC-SHA256(base64-decoded secret, id.timestamp.body)).
std::string ExpectedSignature(const std::string& id, const std::string& ts,
                              const std::string& body) {
  std::string key = *crypto::Base64Decode(std::string_view(kSecret).substr(6));
  std::string msg = id + "." + ts + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &mac_len);
  std::string b64(4 * ((mac_len + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), mac,
                                static_cast<int>(mac_len));
  b64.resize(static_cast<size_t>(n));
  return "v1," + b64;
}

struct Batch {
  std::string id;
  bool signature_ok = false;
  int status = 0;  // what the collector answered
  std::vector<int64_t> seqs;
  bj::array events;
};

// A loopback HTTPS collector: verifies every request's signature, records it, and answers
// with the queued statuses (then 200; 401 when the signature is wrong).
class Collector {
 public:
  explicit Collector(const net::testing::SelfSignedCert& cert)
      : server_(&cert, {Route()}) {}

  std::string Url() const { return "https://127.0.0.1:" + std::to_string(port()) + "/audit"; }
  uint16_t port() const { return server_.port(); }
  void Answer(std::initializer_list<int> statuses) {
    std::lock_guard lock(mu_);
    statuses_.insert(statuses_.end(), statuses);
  }
  void DelayNext(std::chrono::milliseconds d) { delay_ms_ = static_cast<int>(d.count()); }
  std::vector<Batch> batches() {
    std::lock_guard lock(mu_);
    return batches_;
  }
  // The seqs of every batch answered 2xx, in arrival order.
  std::vector<int64_t> AcceptedSeqs() {
    std::vector<int64_t> out;
    for (const Batch& b : batches()) {
      if (b.status >= 200 && b.status < 300) out.insert(out.end(), b.seqs.begin(), b.seqs.end());
    }
    return out;
  }
  std::atomic<bool> entered{false};

 private:
  server::Route Route() {
    server::Route r;
    r.method = "POST";
    r.pattern = "/audit";
    r.operation_id = "audit";
    r.max_body = 16 << 20;
    r.handler = [this](server::Request& req) {
      entered = true;
      if (int d = delay_ms_.exchange(0); d > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(d));
      }
      Batch b;
      b.id = std::string(req.Header("webhook-id").value_or(""));
      const std::string ts(req.Header("webhook-timestamp").value_or(""));
      const std::string sig(req.Header("webhook-signature").value_or(""));
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      b.signature_ok = !ts.empty() && std::llabs(std::stoll(ts) - now) < 300 &&
                       sig == ExpectedSignature(b.id, ts, req.body);
      bj::value body = bj::parse(req.body);
      if (body.at("type") == "audit.events") b.events = body.at("events").as_array();
      for (const bj::value& e : b.events) b.seqs.push_back(e.at("seq").as_int64());
      std::lock_guard lock(mu_);
      b.status = 200;
      if (!statuses_.empty()) {
        b.status = statuses_.front();
        statuses_.pop_front();
      }
      if (!b.signature_ok) b.status = 401;
      const int status = b.status;
      batches_.push_back(std::move(b));
      return server::JsonResponse(status, bj::object{{"ok", status < 300}});
    };
    return r;
  }

  std::mutex mu_;
  std::deque<int> statuses_;
  std::vector<Batch> batches_;
  std::atomic<int> delay_ms_{0};
  net::testing::TestServer server_;
};

// Delegates to the real client, but reports the next `lose` answers as lost (the
// collector got the batch and answered 2xx; the forwarder never saw it), as when the
// process dies between the answer and the commit of the position.
class LosingClient final : public net::HttpClient {
 public:
  explicit LosingClient(net::HttpClient& inner) : inner_(inner) {}
  Result<net::HttpResponse> Fetch(const net::HttpRequest& request,
                                  const net::EgressPolicy& policy) override {
    auto res = inner_.Fetch(request, policy);
    if (lose > 0) {
      --lose;
      return MakeError(ErrorCode::kTimeout, "request timed out");
    }
    return res;
  }
  std::atomic<int> lose{0};

 private:
  net::HttpClient& inner_;
};

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> out;
  for (int64_t i = from; i <= to; ++i) out.push_back(i);
  return out;
}

class ForwarderTest : public ::testing::Test {
 protected:
  ForwarderTest() : client_(resolver_), losing_(client_), collector_(cert_) {
    client_.SetConnectObserverForTest([this](const net::CurlHttpClient::ConnectAttempt& a) {
      const bool loopback = a.address == *net::ParseIp("127.0.0.1");
      if (!loopback) ++non_loopback_connects_;
      return loopback;  // sandbox: loopback only
    });
    // The process rules (https only, private ranges denied), widened for the collector.
    policy_.allow_cidrs = {*net::ParseCidr("127.0.0.1/32")};
    policy_.allow_ports = {collector_.port()};
    Open();
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

  void AppendEvents(int n) {
    for (int i = 0; i < n; ++i) {
      store::AuditEvent e;
      e.time = 1700000000000 + i;
      e.org_id = i % 2 == 0 ? "org_a" : "org_b";
      e.actor = "user:usr_1";
      e.action = "login";
      e.target = "usr_1";
      e.outcome = "success";
      e.source_ip = "127.0.0.1";
      e.user_agent = "test";
      e.details = R"({"n":)" + std::to_string(i) + "}";
      ASSERT_TRUE(Append(*store_, e).ok());
    }
  }

  ForwarderOptions Options() {
    ForwarderOptions o;
    o.url = collector_.Url();
    o.key = *ForwardSigningKey(kSecret);
    o.batch = 10;
    o.interval = std::chrono::milliseconds(10);
    o.timeout = std::chrono::seconds(10);
    o.min_backoff = std::chrono::milliseconds(10);
    o.max_backoff = std::chrono::milliseconds(40);
    o.ca_pem = cert_.pem();
    return o;
  }

  std::unique_ptr<AuditForwarder> Forwarder(ForwarderOptions o, net::HttpClient* client = nullptr) {
    return std::make_unique<AuditForwarder>(
        *store_, client ? *client : client_, policy_, SystemClock(), std::move(o),
        [this](const ForwardFailure& f) {
          std::lock_guard lock(mu_);
          failures_.push_back(f);
        });
  }

  int64_t Position(const std::string& url) {
    return *ReadWith(*store_, [&](store::Tx& tx) {
      return tx.GetAuditForwardedSeq(AuditForwarder::DestinationOf(url));
    });
  }

  std::vector<ForwardFailure> failures() {
    std::lock_guard lock(mu_);
    return failures_;
  }

  // Polls (no timing asserted) until `done` or 30 s.
  template <typename F>
  static bool WaitFor(F done) {
    for (int i = 0; i < 3000 && !done(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  net::testing::SelfSignedCert cert_;
  TempDir dir_;
  net::StaticResolver resolver_;
  net::CurlHttpClient client_;
  LosingClient losing_;
  Collector collector_;
  net::EgressPolicy policy_;
  std::atomic<int> non_loopback_connects_{0};
  std::unique_ptr<store::Store> store_;
  std::mutex mu_;
  std::vector<ForwardFailure> failures_;
};

TEST(ForwardSigningKeyTest, StandardWebhooksOrRawBytes) {
  auto whsec = ForwardSigningKey(std::string(kSecret) + "\n");
  ASSERT_TRUE(whsec.ok());
  EXPECT_EQ(*whsec, *crypto::Base64Decode(std::string_view(kSecret).substr(6)));
  auto raw = ForwardSigningKey("0123456789abcdef-raw\r\n");
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, "0123456789abcdef-raw");
  for (const char* bad : {"", "short-secret", "whsec_", "whsec_not*base64!", "whsec_c2hvcnQ="}) {
    auto key = ForwardSigningKey(bad);
    ASSERT_FALSE(key.ok()) << bad;
    EXPECT_EQ(key.error().code, ErrorCode::kInvalidArgument);
    if (std::string_view(bad).size() > 6) {
      EXPECT_EQ(key.error().message.find(bad), std::string::npos);
    }
  }
}

TEST_F(ForwarderTest, SignedBatchesArriveInSeqOrderWithTheChain) {
  AppendEvents(25);
  auto forwarder = Forwarder(Options());
  EXPECT_EQ(*forwarder->RunOnce(), 10);
  EXPECT_EQ(*forwarder->RunOnce(), 10);
  EXPECT_EQ(*forwarder->RunOnce(), 5);
  EXPECT_EQ(*forwarder->RunOnce(), 0);  // caught up: nothing is sent
  auto batches = collector_.batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].id, "audit_1-10");
  EXPECT_EQ(batches[2].id, "audit_21-25");
  std::string prev = kGenesisHash;
  for (const Batch& b : batches) {
    EXPECT_TRUE(b.signature_ok) << b.id;
    for (const bj::value& e : b.events) {
      // The collector can check the chain across batches: each event links to the last.
      EXPECT_EQ(e.at("prev_hash").as_string(), prev);
      prev = std::string(e.at("hash").as_string());
      EXPECT_TRUE(e.as_object().contains("org"));
      EXPECT_TRUE(e.as_object().contains("details"));
    }
  }
  EXPECT_EQ(collector_.AcceptedSeqs(), Range(1, 25));
  EXPECT_EQ(Position(collector_.Url()), 25);
  EXPECT_EQ(forwarder->Stats().forwarded_events, 25);
  EXPECT_EQ(non_loopback_connects_.load(), 0);
}

TEST_F(ForwarderTest, AnOutageIsRetriedWithBackoffAndNothingIsLostOrSkipped) {
  AppendEvents(30);
  collector_.Answer({500, 503, 500, 500});
  auto forwarder = Forwarder(Options());
  forwarder->Start();
  // Events written while the collector is down are sent once it is back.
  AppendEvents(7);
  ASSERT_TRUE(WaitFor([&] { return Position(collector_.Url()) == 37; }));
  forwarder->Stop();
  EXPECT_EQ(collector_.AcceptedSeqs(), Range(1, 37));  // exactly once, in order
  auto batches = collector_.batches();
  ASSERT_GE(batches.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(batches[i].id, "audit_1-10") << i;  // the same batch, the same id
    EXPECT_TRUE(batches[i].signature_ok);
  }
  // One failure per attempt (not per event), each with the next backoff step, capped.
  auto f = failures();
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[0].error, "action_failed: http_500");
  EXPECT_EQ(f[1].error, "action_failed: http_503");
  EXPECT_EQ(f[0].from_seq, 1);
  EXPECT_EQ(f[0].retry_in, std::chrono::milliseconds(10));
  EXPECT_EQ(f[1].retry_in, std::chrono::milliseconds(20));
  EXPECT_EQ(f[2].retry_in, std::chrono::milliseconds(40));
  EXPECT_EQ(f[3].retry_in, std::chrono::milliseconds(40));
  EXPECT_EQ(forwarder->Stats().failed_attempts, 4);
  EXPECT_EQ(forwarder->Stats().forwarded_events, 37);
}

TEST_F(ForwarderTest, ARestartResumesAndOnlyTheUnacknowledgedBatchIsSentTwice) {
  AppendEvents(30);
  {
    auto forwarder = Forwarder(Options(), &losing_);
    EXPECT_EQ(*forwarder->RunOnce(), 10);
    EXPECT_EQ(*forwarder->RunOnce(), 10);
    losing_.lose = 1;  // 21..30 reach the collector, the 2xx does not reach us
    auto lost = forwarder->RunOnce();
    ASSERT_FALSE(lost.ok());
    EXPECT_EQ(lost.error().code, ErrorCode::kTimeout);
  }
  EXPECT_EQ(Position(collector_.Url()), 20);
  Open();  // restart
  AppendEvents(5);
  auto forwarder = Forwarder(Options());
  forwarder->Start();
  ASSERT_TRUE(WaitFor([&] { return Position(collector_.Url()) == 35; }));
  forwarder->Stop();
  std::vector<int64_t> want = Range(1, 30);
  for (int64_t s : Range(21, 35)) want.push_back(s);  // 21..30 again, then the new ones
  EXPECT_EQ(collector_.AcceptedSeqs(), want);
  auto batches = collector_.batches();
  ASSERT_EQ(batches.size(), 5u);
  EXPECT_EQ(batches[2].id, "audit_21-30");
  EXPECT_EQ(batches[3].id, "audit_21-30");  // a duplicate the collector can drop by id
}

TEST_F(ForwarderTest, StopWaitsForThePostInFlightAndRecordsItsAnswer) {
  AppendEvents(3);
  collector_.DelayNext(std::chrono::milliseconds(300));
  auto forwarder = Forwarder(Options());
  forwarder->Start();
  ASSERT_TRUE(WaitFor([&] { return collector_.entered.load(); }));
  forwarder->Stop();
  EXPECT_EQ(Position(collector_.Url()), 3);
  EXPECT_EQ(collector_.AcceptedSeqs(), Range(1, 3));
}

TEST_F(ForwarderTest, TheEgressGuardRefusesPlainHttpAndPrivateAddresses) {
  AppendEvents(2);
  // Plain http while the process allows https only.
  ForwarderOptions http = Options();
  http.url = "http://127.0.0.1:" + std::to_string(collector_.port()) + "/audit";
  auto refused = Forwarder(http)->RunOnce();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kSsrfBlocked);
  // A private address that no allow_cidrs covers: refused before any connection.
  for (const char* url : {"https://10.0.0.7/audit", "https://[::1]:9/audit",
                          "https://169.254.169.254/audit"}) {
    ForwarderOptions o = Options();
    o.url = url;
    net::EgressPolicy process;  // the defaults, not widened
    process.allow_ports = {443, 9};
    AuditForwarder forwarder(*store_, client_, process, SystemClock(), o);
    auto r = forwarder.RunOnce();
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.error().code, ErrorCode::kSsrfBlocked) << url;
    EXPECT_EQ(Position(url), 0);
  }
  EXPECT_TRUE(collector_.batches().empty());
  EXPECT_EQ(non_loopback_connects_.load(), 0);
}

// With forwarding on, `rampart serve` bounds audit retention by the forwarder's position:
// an event the collector has not acknowledged is never purged, however old.
TEST_F(ForwarderTest, RetentionPurgesOnlyWhatTheCollectorAcknowledged) {
  AppendEvents(25);  // dated 2023: all far past a 30-day retention
  auto forwarder = Forwarder(Options());
  EXPECT_EQ(forwarder->AcknowledgedSeq(), 0);
  AuditRetentionOptions options;
  options.retention_days = 30;
  options.checkpoint_key = CheckpointKey("0123456789abcdef0123456789abcdef");
  options.max_purge_seq = [&forwarder] { return forwarder->AcknowledgedSeq(); };
  AuditRetention retention(*store_, SystemClock(), options);
  EXPECT_EQ(*retention.RunOnce(), 0);  // nothing acknowledged yet: nothing purged

  EXPECT_EQ(*forwarder->RunOnce(), 10);
  EXPECT_EQ(forwarder->AcknowledgedSeq(), 10);
  EXPECT_EQ(*retention.RunOnce(), 10);
  auto kept = ReadWith(*store_, [](store::Tx& tx) { return tx.ListAllAudit(0, 1000); });
  ASSERT_FALSE(kept->empty());
  EXPECT_EQ(kept->front().seq, 11);  // 11..25 wait for the collector, plus audit.purged
  // The rest goes once it was forwarded (the purge's own audit.purged event included).
  while (*forwarder->RunOnce() > 0) {
  }
  EXPECT_GT(*retention.RunOnce(), 0);
  EXPECT_EQ(collector_.AcceptedSeqs().front(), 1);
}

TEST_F(ForwarderTest, TheSecretNeverAppearsInFailuresOrMetrics) {
  AppendEvents(4);
  collector_.Answer({500});
  ForwarderOptions o = Options();
  auto forwarder = Forwarder(o);
  forwarder->Start();
  ASSERT_TRUE(WaitFor([&] { return Position(collector_.Url()) == 4; }));
  forwarder->Stop();
  AppendEvents(2);  // lag 2
  server::Metrics metrics;
  metrics.AddGaugeProvider([&] { return forwarder->MetricSamples(); });
  const std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("rampart_audit_forwarded_events 4"), std::string::npos) << text;
  EXPECT_NE(text.find("rampart_audit_forward_failures 1"), std::string::npos) << text;
  EXPECT_NE(text.find("rampart_audit_forward_lag 2"), std::string::npos) << text;
  std::string logged;
  for (const ForwardFailure& f : failures()) logged += f.error + "\n";
  ASSERT_FALSE(logged.empty());
  for (const std::string& secret :
       {std::string(kSecret), std::string(kSecret).substr(6), o.key, crypto::HexEncode(o.key)}) {
    EXPECT_EQ(text.find(secret), std::string::npos);
    EXPECT_EQ(logged.find(secret), std::string::npos);
  }
}

// The loop behind any sink: a sink that took part of a batch moves the position past what
// it took (those are not sent again), the attempt counts as failed, and the rest is retried.
class ScriptedSink final : public AuditSink {
 public:
  explicit ScriptedSink(std::deque<size_t> takes) : takes_(std::move(takes)) {}
  std::string Destination() const override { return "scripted:1"; }
  SinkResult Send(const std::vector<store::AuditEvent>& events) override {
    size_t take = events.size();
    if (!takes_.empty()) {
      take = std::min(take, takes_.front());
      takes_.pop_front();
    }
    for (size_t i = 0; i < take; ++i) seqs.push_back(events[i].seq);
    if (take < events.size()) return {take, MakeError(ErrorCode::kActionFailed, "socket gone")};
    return {take, Status::Ok()};
  }
  std::vector<int64_t> seqs;

 private:
  std::deque<size_t> takes_;
};

TEST_F(ForwarderTest, ASinkThatTookPartOfABatchMovesThePositionPastIt) {
  AppendEvents(12);
  auto owned = std::make_unique<ScriptedSink>(std::deque<size_t>{4, 0});
  ScriptedSink* sink = owned.get();
  ForwardLoopOptions loop;
  loop.batch = 10;
  loop.metrics.sent = "rampart_test_sent";
  loop.metrics.failures = "rampart_test_failures";
  loop.metrics.lag = "rampart_test_lag";
  AuditForwarder forwarder(*store_, SystemClock(), std::move(owned), loop);
  auto first = forwarder.RunOnce();  // 1..4 taken, then the sink failed
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().message, "socket gone");
  EXPECT_EQ(*ReadWith(*store_, [](store::Tx& tx) { return tx.GetAuditForwardedSeq("scripted:1"); }),
            4);
  EXPECT_FALSE(forwarder.RunOnce().ok());  // nothing taken: the position stays
  EXPECT_EQ(*forwarder.RunOnce(), 8);      // 5..12
  EXPECT_EQ(sink->seqs, Range(1, 12));     // each once, in order
  EXPECT_EQ(forwarder.Stats().failed_attempts, 2);
  EXPECT_EQ(forwarder.Stats().forwarded_events, 12);
  server::Metrics metrics;
  metrics.AddGaugeProvider([&] { return forwarder.MetricSamples(); });
  const std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("rampart_test_sent 12"), std::string::npos) << text;
  EXPECT_NE(text.find("rampart_test_failures 2"), std::string::npos) << text;
  EXPECT_NE(text.find("rampart_test_lag 0"), std::string::npos) << text;
  EXPECT_EQ(text.find("rampart_audit_forward"), std::string::npos) << text;
}

}  // namespace
}  // namespace rampart::audit
