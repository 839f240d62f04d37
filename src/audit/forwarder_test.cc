#include "rampart/audit/forwarder.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <chrono>
#include <csignal>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <mutex>
#include <regex>
#include <thread>

#include "net/testing/test_server.h"
#include "rampart/audit/chain.h"
#include "rampart/audit/checkpoint.h"
#include "rampart/audit/retention.h"
#include "rampart/audit/syslog.h"
#include "rampart/crypto/crypto.h"
#include "rampart/net/resolver.h"
#include "server/testing/self_signed_cert.h"
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

// A failed attempt that still moved the position (a slow syslog receiver that took what
// fit in the timeout) retries after min_backoff: the destination is alive, and a backoff
// doubled at every such attempt would let it fall behind further at each batch.
TEST_F(ForwarderTest, AnAttemptThatMovedThePositionRetriesAfterTheFirstBackoff) {
  AppendEvents(5);
  ForwardLoopOptions loop;
  loop.batch = 10;
  loop.interval = std::chrono::milliseconds(10);
  loop.min_backoff = std::chrono::milliseconds(10);
  loop.max_backoff = std::chrono::milliseconds(40);
  AuditForwarder forwarder(*store_, SystemClock(),
                           std::make_unique<ScriptedSink>(std::deque<size_t>{1, 1, 0, 0, 1}),
                           loop, [this](const ForwardFailure& f) {
                             std::lock_guard lock(mu_);
                             failures_.push_back(f);
                           });
  forwarder.Start();
  ASSERT_TRUE(WaitFor([&] { return forwarder.Stats().forwarded_events == 5; }));
  forwarder.Stop();
  std::vector<std::chrono::milliseconds> waits;
  for (const ForwardFailure& f : failures()) waits.push_back(f.retry_in);
  using ms = std::chrono::milliseconds;
  // took 1, took 1, took none (doubling from there), none, took 1, then all.
  EXPECT_EQ(waits, (std::vector<ms>{ms(10), ms(10), ms(20), ms(40), ms(10)}));
}

// With audit_forward and audit_syslog both on, retention is bounded by the lower position.
TEST_F(ForwarderTest, RetentionIsBoundedByTheLowestPositionOfAllDestinations) {
  AppendEvents(25);
  auto https = Forwarder(Options());
  AuditForwarder scripted(*store_, SystemClock(),
                          std::make_unique<ScriptedSink>(std::deque<size_t>{}), {});
  EXPECT_EQ(AuditForwarder::AcknowledgedByAll({}), std::nullopt);
  EXPECT_EQ(AuditForwarder::AcknowledgedByAll({https.get(), nullptr}), 0);
  EXPECT_EQ(*https->RunOnce(), 10);
  EXPECT_EQ(AuditForwarder::AcknowledgedByAll({https.get(), nullptr}), 10);
  EXPECT_EQ(AuditForwarder::AcknowledgedByAll({https.get(), &scripted}), 0);
  EXPECT_EQ(*scripted.RunOnce(), 25);
  EXPECT_EQ(AuditForwarder::AcknowledgedByAll({https.get(), &scripted}), 10);
  EXPECT_EQ(AuditForwarder::AcknowledgedByAll({&scripted, https.get()}), 10);
}

// ---- syslog (RFC 5424) output: the formatting, the address rules, the sink ----

// An RFC 5424 message as a SIEM parser would split it (the SD as one element).
struct Rfc5424 {
  int pri = -1;
  std::string timestamp, hostname, app_name, procid, msgid, sd, msg;
};

std::optional<Rfc5424> ParseRfc5424(const std::string& line) {
  // SD-ELEMENT: [SD-ID *(SP PARAM="value")], values with \" \\ \] escapes.
  static const std::regex re(
      R"re(^<([0-9]{1,3})>1 (\S+) ([!-~]{1,255}) ([!-~]{1,48}) ([!-~]{1,128}) ([!-~]{1,32}) )re"
      R"re((\[[!-~]+( [a-z_]+="([^"\\\]]|\\["\\\]])*")*\])(?: (.*))?$)re");
  std::smatch m;
  if (!std::regex_match(line, m, re)) return std::nullopt;
  Rfc5424 r;
  r.pri = std::stoi(m[1]);
  r.timestamp = m[2];
  r.hostname = m[3];
  r.app_name = m[4];
  r.procid = m[5];
  r.msgid = m[6];
  r.sd = m[7];
  r.msg = m[10];
  return r;
}

// The value of PARAM in the SD, unescaped.
std::string SdParam(const std::string& sd, const std::string& name) {
  const std::string key = " " + name + "=\"";
  size_t at = sd.find(key);
  if (at == std::string::npos) return "<absent>";
  std::string out;
  for (size_t i = at + key.size(); i < sd.size() && sd[i] != '"'; ++i) {
    if (sd[i] == '\\' && i + 1 < sd.size()) ++i;
    out.push_back(sd[i]);
  }
  return out;
}

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

store::AuditEvent SampleEvent() {
  store::AuditEvent e;
  e.seq = 42;
  e.time = 1700000000123;  // 2023-11-14T22:13:20.123Z
  e.org_id = "org_1";
  e.actor = "user:usr_1";
  e.action = "login";
  e.target = "usr_1";
  e.outcome = "success";
  e.source_ip = "127.0.0.1";
  e.user_agent = "curl/8";
  e.details = R"({"method":"password"})";
  e.prev_hash = std::string(64, 'a');
  e.hash = std::string(64, 'b');
  return e;
}

SyslogFormat SampleFormat() {
  SyslogFormat f;
  f.hostname = "host1";
  f.procid = "4711";
  return f;
}

TEST(SyslogFormatTest, OneParseableRfc5424LinePerEvent) {
  const std::string line = FormatSyslog(SampleEvent(), SampleFormat());
  EXPECT_EQ(line.rfind("<85>1 2023-11-14T22:13:20.123Z host1 rampart 4711 login "
                       "[rampart@32473 seq=\"42\" org=\"org_1\" actor=\"user:usr_1\" "
                       "action=\"login\" target=\"usr_1\" outcome=\"success\" ip=\"127.0.0.1\" "
                       "hash=\"" + std::string(64, 'b') + "\" prev_hash=\"" +
                           std::string(64, 'a') + "\"] {",
                       0),
            0u)
      << line;
  auto parsed = ParseRfc5424(line);
  ASSERT_TRUE(parsed.has_value()) << line;
  bj::value msg = bj::parse(parsed->msg);
  EXPECT_EQ(msg.at("seq").as_int64(), 42);
  EXPECT_EQ(msg.at("action").as_string(), "login");
  EXPECT_EQ(msg.at("details").at("method").as_string(), "password");
  EXPECT_FALSE(msg.as_object().contains("hash"));  // in the SD already
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(SyslogFormatTest, PriIsTheFacilityAndASeverityFromTheOutcome) {
  store::AuditEvent e = SampleEvent();
  SyslogFormat f = SampleFormat();
  const auto pri = [&] { return ParseRfc5424(FormatSyslog(e, f))->pri; };
  EXPECT_EQ(pri(), 10 * 8 + 5);  // authpriv.notice
  for (const char* failed : {"failure", "denied", "failed"}) {
    e.outcome = failed;
    EXPECT_EQ(pri(), 10 * 8 + 4) << failed;  // authpriv.warning
  }
  f.facility = *ParseSyslogFacility("auth");
  EXPECT_EQ(pri(), 4 * 8 + 4);
  e.outcome = "success";
  f.facility = *ParseSyslogFacility("local7");
  EXPECT_EQ(pri(), 23 * 8 + 5);
  EXPECT_EQ(ParseSyslogFacility("authpriv"), 10);
  EXPECT_EQ(ParseSyslogFacility("local0"), 16);
  for (const char* bad : {"", "kern", "local8", "local", "LOCAL0", "user", "authpriv "}) {
    EXPECT_FALSE(ParseSyslogFacility(bad).has_value()) << bad;
  }
}

TEST(SyslogFormatTest, SdValuesAreEscapedAndUserDataNeverBreaksTheHeader) {
  store::AuditEvent e = SampleEvent();
  e.actor = R"(a"b\c]d)";
  e.target = "line1\nline2\r\x7f\x01 caf\xc3\xa9 bad\xff\xc3";
  e.action = "api_key.create";
  SyslogFormat f = SampleFormat();
  f.hostname = "bad host\nname";
  f.app_name = "app name";
  f.procid = "";
  const std::string line = FormatSyslog(e, f);
  EXPECT_NE(line.find(R"(actor="a\"b\\c\]d")"), std::string::npos) << line;
  auto parsed = ParseRfc5424(line);
  ASSERT_TRUE(parsed.has_value()) << line;
  EXPECT_EQ(parsed->hostname, "bad_host_name");
  EXPECT_EQ(parsed->app_name, "app_name");
  EXPECT_EQ(parsed->procid, "-");
  EXPECT_EQ(parsed->msgid, "api_key.create");
  EXPECT_EQ(SdParam(parsed->sd, "actor"), R"(a"b\c]d)");
  // Control characters and bytes that are not UTF-8 become '?'; UTF-8 stays.
  EXPECT_EQ(SdParam(parsed->sd, "target"), "line1?line2??? caf\xc3\xa9 bad??");
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_TRUE(ValidUtf8(line));
  // C1 controls too (U+0085 NEL is a line break to many readers), one '?' each.
  e.target = "a\xc2\x85" "b\xc2\x9f" "c\xc2\xa0" "d";
  EXPECT_EQ(SdParam(ParseRfc5424(FormatSyslog(e, f))->sd, "target"), "a?b?c\xc2\xa0" "d");
  e.target = "usr_1";
  // MSGID: the action when it is 1..32 PRINTUSASCII, else "-".
  for (const std::string& action : {std::string(33, 'a'), std::string("with space"),
                                    std::string(""), std::string("caf\xc3\xa9")}) {
    e.action = action;
    auto p = ParseRfc5424(FormatSyslog(e, f));
    ASSERT_TRUE(p.has_value()) << action;
    EXPECT_EQ(p->msgid, "-") << action;
  }
  e.action = std::string(32, 'a');
  EXPECT_EQ(ParseRfc5424(FormatSyslog(e, f))->msgid, std::string(32, 'a'));
}

TEST(SyslogFormatTest, AMessageIsAtMost8KiBWithMsgCutOnACharacterBoundary) {
  store::AuditEvent e = SampleEvent();
  std::string big;
  for (int i = 0; i < 6000; ++i) big += "\xc3\xa9";  // 12,000 bytes of UTF-8
  e.details = "{\"note\":\"" + big + "\"}";
  e.target = std::string(5000, 't');  // cut at 256 in the SD
  const std::string line = FormatSyslog(e, SampleFormat());
  EXPECT_LE(line.size(), kMaxSyslogMessageBytes);
  EXPECT_GE(line.size(), kMaxSyslogMessageBytes - 1);  // MSG took what was left
  EXPECT_TRUE(ValidUtf8(line));
  auto parsed = ParseRfc5424(line);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(SdParam(parsed->sd, "target"), std::string(256, 't'));
  EXPECT_TRUE(parsed->msg.starts_with("{\"seq\":42,"));
  // A small event is not cut.
  EXPECT_NO_THROW(bj::parse(ParseRfc5424(FormatSyslog(SampleEvent(), SampleFormat()))->msg));
}

TEST(SyslogAddressTest, UnixUdpOrTcpWithLiteralAddressesOnly) {
  auto unix_socket = ParseSyslogAddress("unix:/dev/log");
  ASSERT_TRUE(unix_socket.ok());
  EXPECT_EQ(unix_socket->transport, SyslogTransport::kUnix);
  EXPECT_EQ(unix_socket->path, "/dev/log");
  auto udp = ParseSyslogAddress("udp://127.0.0.1:514");
  ASSERT_TRUE(udp.ok());
  EXPECT_EQ(udp->transport, SyslogTransport::kUdp);
  EXPECT_EQ(udp->port, 514);
  EXPECT_EQ(udp->text, "udp://127.0.0.1:514");
  auto tcp = ParseSyslogAddress("tcp://[::1]:6514");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->transport, SyslogTransport::kTcp);
  EXPECT_EQ(tcp->text, "tcp://[::1]:6514");
  for (const char* bad :
       {"", "/dev/log", "unix:", "unix:dev/log", "unix:./log", "udp://localhost:514",
        "udp://syslog.example.com:514", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:65536", "tcp://127.0.0.1:51x", "udp://127.1:514", "udp://0x7f000001:514",
        "udp://::1:514", "udp://[127.0.0.1]:514", "udp://[::1%lo]:514", "http://127.0.0.1:514"}) {
    auto a = ParseSyslogAddress(bad);
    ASSERT_FALSE(a.ok()) << bad;
    EXPECT_EQ(a.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ParseSyslogAddress("unix:/" + std::string(200, 'a')).ok());
}

TEST(SyslogAddressTest, NetworkDestinationsAreLoopbackOrListedInAllowCidrs) {
  auto check = [](const char* address, std::vector<net::Cidr> allow = {}) {
    return CheckSyslogDestination(*ParseSyslogAddress(address), allow);
  };
  EXPECT_TRUE(check("unix:/dev/log").ok());
  EXPECT_TRUE(check("udp://127.0.0.1:514").ok());
  EXPECT_TRUE(check("tcp://127.0.0.9:514").ok());
  EXPECT_TRUE(check("tcp://[::1]:514").ok());
  for (const char* refused : {"udp://10.0.0.5:514", "udp://169.254.169.254:514",
                              "tcp://192.168.1.1:514", "tcp://8.8.8.8:514", "tcp://[fd00::1]:514",
                              "udp://0.0.0.0:514"}) {
    Status s = check(refused);
    ASSERT_FALSE(s.ok()) << refused;
    EXPECT_EQ(s.error().code, ErrorCode::kSsrfBlocked) << refused;
    EXPECT_NE(s.error().message.find("audit_syslog.allow_cidrs"), std::string::npos);
  }
  EXPECT_TRUE(check("udp://10.0.0.5:514", {*net::ParseCidr("10.0.0.0/8")}).ok());
  EXPECT_TRUE(check("tcp://8.8.8.8:514", {*net::ParseCidr("8.8.8.8/32")}).ok());
  EXPECT_FALSE(check("udp://10.0.0.5:514", {*net::ParseCidr("10.1.0.0/16")}).ok());
}

// A syslog receiver on a unix datagram socket (as /dev/log is), bound by the test.
class UnixDatagramReceiver {
 public:
  explicit UnixDatagramReceiver(std::string path) : path_(std::move(path)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
    ::unlink(path_.c_str());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~UnixDatagramReceiver() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  bool bound() const { return bound_; }
  // The next datagram, or nullopt after `wait`.
  std::optional<std::string> Receive(std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return std::nullopt;
    std::string buf(65536, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    return buf;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
};

// A listening TCP socket on 127.0.0.1, port 0; `port` is set to the one it got.
int ListenOnLoopback(uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(fd, 4);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

// Moves the complete octet-counted frames ("LEN SP MSG", RFC 6587 3.4.1) at the front of
// `buffer` to `out` until `out` holds `max`; a partial frame stays in `buffer`.
void TakeFrames(std::string& buffer, std::vector<std::string>& out,
                size_t max = std::numeric_limits<size_t>::max()) {
  while (out.size() < max) {
    const size_t space = buffer.find(' ');
    if (space == std::string::npos) return;
    const size_t len = std::stoul(buffer.substr(0, space));
    if (buffer.size() < space + 1 + len) return;
    out.push_back(buffer.substr(space + 1, len));
    buffer.erase(0, space + 1 + len);
  }
}

// A loopback TCP listener (port 0).
class TcpListener {
 public:
  TcpListener() { fd_ = ListenOnLoopback(port_); }
  ~TcpListener() {
    if (conn_ >= 0) ::close(conn_);
    ::close(fd_);
  }
  uint16_t port() const { return port_; }
  // Accepts the next connection (closing the previous one).
  bool Accept() {
    if (conn_ >= 0) ::close(conn_);
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return false;
    conn_ = ::accept(fd_, nullptr, nullptr);
    return conn_ >= 0;
  }
  void CloseConnection() {
    ::close(conn_);
    conn_ = -1;
  }
  // Reads octet-counted frames until `n` were read (or 5 s): "LEN SP MSG".
  std::vector<std::string> Frames(size_t n) {
    std::vector<std::string> out;
    for (;;) {
      TakeFrames(buffer_, out, n);
      if (out.size() >= n) break;
      pollfd p{conn_, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) break;
      char chunk[4096];
      const ssize_t got = ::recv(conn_, chunk, sizeof(chunk), 0);
      if (got <= 0) break;
      buffer_.append(chunk, static_cast<size_t>(got));
    }
    return out;
  }

 private:
  int fd_ = -1;
  int conn_ = -1;
  uint16_t port_ = 0;
  std::string buffer_;
};

// A loopback TLS syslog receiver (RFC 5425) on its own thread, with OpenSSL directly (not
// the code under test): its certificate, optionally a required client certificate from
// `client_ca_file`, optionally a highest TLS version. Reads octet-counted frames.
class TlsReceiver {
 public:
  // client_ca_file "": no client certificate asked for; max_version 0: the library's highest.
  TlsReceiver(const std::string& cert_file, const std::string& key_file,
              const std::string& client_ca_file = "", int max_version = 0) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_file(ctx_, cert_file.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM);
    if (!client_ca_file.empty()) {
      SSL_CTX_load_verify_locations(ctx_, client_ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    }
    if (max_version != 0) SSL_CTX_set_max_proto_version(ctx_, max_version);
    fd_ = ListenOnLoopback(port_);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TlsReceiver() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    SSL_CTX_free(ctx_);
  }
  std::string Address() const { return "tls://127.0.0.1:" + std::to_string(port_); }
  // The frames received so far, waiting up to 5 s for `n`.
  std::vector<std::string> Frames(size_t n) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < until) {
      {
        std::lock_guard lock(mu_);
        if (frames_.size() >= n) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::lock_guard lock(mu_);
    return frames_;
  }
  int handshakes() const { return handshakes_.load(); }
  int refused_handshakes() const { return refused_.load(); }

 private:
  void Loop() {
    // Writes by OpenSSL's socket BIO to a client that went away raise SIGPIPE: blocked on
    // this thread only (the code under test must not need it).
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      timeval tv{0, 20000};  // SSL calls return WANT_READ every 20 ms to look at stop_
      ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      SSL* ssl = SSL_new(ctx_);
      SSL_set_fd(ssl, conn);
      int rc = 0;
      while (!stop_ && (rc = SSL_accept(ssl)) != 1 &&
             SSL_get_error(ssl, rc) == SSL_ERROR_WANT_READ) {
      }
      if (rc == 1) {
        ++handshakes_;
        ReadFrames(ssl);
      } else {
        ++refused_;
      }
      SSL_free(ssl);
      ::close(conn);
    }
  }
  void ReadFrames(SSL* ssl) {
    std::string buffer;
    while (!stop_) {
      char chunk[4096];
      const int n = SSL_read(ssl, chunk, sizeof(chunk));
      if (n <= 0) {
        if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ) continue;
        return;
      }
      buffer.append(chunk, static_cast<size_t>(n));
      std::lock_guard lock(mu_);
      TakeFrames(buffer, frames_);
    }
  }

  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> handshakes_{0}, refused_{0};
  std::mutex mu_;
  std::vector<std::string> frames_;
  std::thread thread_;
};

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class SyslogSinkTest : public ForwarderTest {
 protected:
  std::unique_ptr<AuditForwarder> Syslog(const std::string& address,
                                         const SyslogTlsOptions& tls = {}) {
    SyslogSinkOptions options;
    options.address = *ParseSyslogAddress(address);
    options.tls = tls;
    options.format = SampleFormat();
    options.timeout = std::chrono::seconds(2);
    ForwardLoopOptions loop;
    loop.batch = 10;
    loop.interval = std::chrono::milliseconds(10);
    loop.min_backoff = std::chrono::milliseconds(10);
    loop.max_backoff = std::chrono::milliseconds(40);
    loop.metrics = SyslogMetricNames();
    return std::make_unique<AuditForwarder>(
        *store_, SystemClock(), std::make_unique<SyslogAuditSink>(std::move(options)), loop,
        [this](const ForwardFailure& f) {
          std::lock_guard lock(mu_);
          failures_.push_back(f);
        });
  }
  int64_t SyslogPosition(const std::string& address) {
    return *ReadWith(*store_, [&](store::Tx& tx) {
      return tx.GetAuditForwardedSeq("syslog:" + address);
    });
  }
  // The seq of each message (parsed as RFC 5424) in order; -1 for one that did not parse.
  static std::vector<int64_t> Seqs(const std::vector<std::string>& messages) {
    std::vector<int64_t> out;
    for (const std::string& m : messages) {
      auto parsed = ParseRfc5424(m);
      out.push_back(parsed ? std::stoll(SdParam(parsed->sd, "seq")) : -1);
    }
    return out;
  }
};

TEST_F(SyslogSinkTest, UnixDatagramsArriveInSeqOrderAndTheCursorIsPerDestination) {
  AppendEvents(25);
  const std::string address = "unix:" + dir_.path() + "/log.sock";
  UnixDatagramReceiver receiver(dir_.path() + "/log.sock");
  ASSERT_TRUE(receiver.bound());
  auto forwarder = Syslog(address);
  std::vector<std::string> got;
  // A unix datagram socket queues few datagrams (net.unix.max_dgram_qlen, 10 by default):
  // the receiver reads between batches, as a daemon does.
  auto drain = [&] {
    while (auto m = receiver.Receive(std::chrono::milliseconds(100))) got.push_back(*m);
  };
  for (int want : {10, 10, 5, 0}) {
    auto sent = forwarder->RunOnce();
    ASSERT_TRUE(sent.ok()) << sent.error().message;
    EXPECT_EQ(*sent, want);
    drain();
  }
  EXPECT_EQ(Seqs(got), Range(1, 25));
  std::string prev = kGenesisHash;
  for (const std::string& m : got) {  // the chain can be checked from the SD alone
    auto parsed = ParseRfc5424(m);
    ASSERT_TRUE(parsed.has_value()) << m;
    EXPECT_EQ(SdParam(parsed->sd, "prev_hash"), prev);
    prev = SdParam(parsed->sd, "hash");
  }
  EXPECT_EQ(SyslogPosition(address), 25);
  // A distinct destination key: the HTTPS collector's position did not move.
  EXPECT_EQ(Position(collector_.Url()), 0);
  EXPECT_TRUE(collector_.batches().empty());
}

TEST_F(SyslogSinkTest, AMissingSocketIsRetriedWithBackoffUntilItAppears) {
  AppendEvents(3);
  const std::string path = dir_.path() + "/later.sock";
  auto forwarder = Syslog("unix:" + path);
  auto missing = forwarder->RunOnce();
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kActionFailed);
  EXPECT_NE(missing.error().message.find("No such file"), std::string::npos)
      << missing.error().message;
  forwarder->Start();
  ASSERT_TRUE(WaitFor([&] { return failures().size() >= 3; }));
  {
    UnixDatagramReceiver receiver(path);  // the daemon starts
    ASSERT_TRUE(receiver.bound());
    AppendEvents(2);
    ASSERT_TRUE(WaitFor([&] { return SyslogPosition("unix:" + path) == 5; }));
    std::vector<std::string> got;
    while (auto m = receiver.Receive(std::chrono::milliseconds(200))) got.push_back(*m);
    EXPECT_EQ(Seqs(got), Range(1, 5));
  }
  // The daemon goes away (its socket removed) and comes back: nothing lost, nothing twice.
  const size_t failed_before = failures().size();
  AppendEvents(2);
  ASSERT_TRUE(WaitFor([&] { return failures().size() > failed_before; }));
  UnixDatagramReceiver again(path);
  ASSERT_TRUE(WaitFor([&] { return SyslogPosition("unix:" + path) == 7; }));
  forwarder->Stop();
  std::vector<std::string> got;
  while (auto m = again.Receive(std::chrono::milliseconds(200))) got.push_back(*m);
  EXPECT_EQ(Seqs(got), Range(6, 7));
  auto f = failures();
  EXPECT_EQ(f[0].from_seq, 1);
  EXPECT_EQ(f[1].retry_in, std::chrono::milliseconds(20));
  EXPECT_EQ(f[2].retry_in, std::chrono::milliseconds(40));
  EXPECT_NE(f[0].error.find("action_failed: syslog connect to unix:" + path), std::string::npos)
      << f[0].error;
  server::Metrics metrics;
  metrics.AddGaugeProvider([&] { return forwarder->MetricSamples(); });
  const std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("rampart_audit_syslog_sent_events 7"), std::string::npos) << text;
  // The loop's attempts, and the RunOnce above.
  EXPECT_NE(text.find("rampart_audit_syslog_failures " + std::to_string(f.size() + 1)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("rampart_audit_syslog_lag 0"), std::string::npos) << text;
}

TEST_F(SyslogSinkTest, TcpUsesOctetCountingAndReconnectsAfterTheReceiverClosed) {
  TcpListener listener;
  const std::string address = "tcp://127.0.0.1:" + std::to_string(listener.port());
  AppendEvents(12);
  auto forwarder = Syslog(address);
  auto first = forwarder->RunOnce();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, 10);
  EXPECT_EQ(*forwarder->RunOnce(), 2);
  ASSERT_TRUE(listener.Accept());
  auto frames = listener.Frames(12);
  EXPECT_EQ(Seqs(frames), Range(1, 12));
  listener.CloseConnection();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  AppendEvents(3);
  auto again = forwarder->RunOnce();  // on a new connection, not lost in the closed one
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, 3);
  ASSERT_TRUE(listener.Accept());
  EXPECT_EQ(Seqs(listener.Frames(3)), Range(13, 15));
  EXPECT_EQ(SyslogPosition(address), 15);
  // Nobody listening: refused, the position stays.
  TcpListener* gone = new TcpListener();
  const std::string closed = "tcp://127.0.0.1:" + std::to_string(gone->port());
  delete gone;
  auto refused = Syslog(closed)->RunOnce();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("Connection refused"), std::string::npos);
  EXPECT_EQ(SyslogPosition(closed), 0);
}

// A receiver that keeps taking datagrams, but slowly (a daemon under load), does not hold
// one Send (and so Stop(), at SIGTERM) for one timeout per event: the batch as a whole is
// bounded by the timeout, and the events written so far are taken.
TEST_F(SyslogSinkTest, ASlowReceiverHoldsASendForAboutItsTimeoutNotOnePerEvent) {
  AppendEvents(40);
  const std::string path = dir_.path() + "/slow.sock";
  UnixDatagramReceiver receiver(path);
  ASSERT_TRUE(receiver.bound());
  std::atomic<bool> done{false};
  std::thread reader([&] {
    // One datagram every 100 ms, each within the sink's 300 ms timeout.
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      (void)receiver.Receive(std::chrono::milliseconds(0));
    }
  });
  SyslogSinkOptions options;
  options.address = *ParseSyslogAddress("unix:" + path);
  options.format = SampleFormat();
  options.timeout = std::chrono::milliseconds(300);
  SyslogAuditSink sink(std::move(options));
  std::vector<store::AuditEvent> events = ReadWith(
      *store_, [](store::Tx& tx) { return *tx.ListAllAudit(0, 40); });
  ASSERT_EQ(events.size(), 40u);
  const auto start = std::chrono::steady_clock::now();
  const SinkResult sent = sink.Send(events);
  const auto took = std::chrono::steady_clock::now() - start;
  done = true;
  reader.join();
  EXPECT_LT(took, std::chrono::milliseconds(1500));
  EXPECT_FALSE(sent.status.ok());
  EXPECT_GT(sent.taken, 0u);
  EXPECT_LT(sent.taken, 40u);
  if (!sent.status.ok()) {
    EXPECT_NE(sent.status.error().message.find("timed out"), std::string::npos)
        << sent.status.error().message;
  }
}

TEST_F(SyslogSinkTest, UdpSendsOneDatagramPerEvent) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string address = "udp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  AppendEvents(3);
  EXPECT_EQ(*Syslog(address)->RunOnce(), 3);
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    std::string buf(65536, '\0');
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    buf.resize(static_cast<size_t>(std::max<ssize_t>(n, 0)));
    got.push_back(buf);
  }
  ::close(fd);
  EXPECT_EQ(Seqs(got), Range(1, 3));
}

using server::testing::SelfSignedCert;

// RFC 5425: the same octet-counted frames as TCP inside TLS, the receiver's chain checked
// against ca_file and its certificate against the address's IP; one session serves
// batch after batch (a TLS 1.3 session ticket on the socket is not a closed connection).
TEST_F(SyslogSinkTest, TlsSendsOctetCountedFramesToAVerifiedReceiver) {
  SelfSignedCert cert;
  TlsReceiver receiver(cert.cert_file(), cert.key_file());
  SyslogTlsOptions tls;
  tls.ca_pem = cert.pem();
  AppendEvents(12);
  auto forwarder = Syslog(receiver.Address(), tls);
  auto first = forwarder->RunOnce();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the tickets arrive
  auto second = forwarder->RunOnce();
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(*second, 2);
  auto frames = receiver.Frames(12);
  EXPECT_EQ(Seqs(frames), Range(1, 12));
  std::string prev = kGenesisHash;
  for (const std::string& m : frames) {
    auto parsed = ParseRfc5424(m);
    ASSERT_TRUE(parsed.has_value()) << m;
    EXPECT_EQ(SdParam(parsed->sd, "prev_hash"), prev);
    prev = SdParam(parsed->sd, "hash");
  }
  EXPECT_EQ(receiver.handshakes(), 1);
  EXPECT_EQ(SyslogPosition(receiver.Address()), 12);
  // The name given as server_name instead of the IP (a DNS SAN of the certificate). The
  // receiver takes one connection at a time.
  forwarder.reset();
  tls.server_name = "public.test";
  AppendEvents(1);
  auto named = Syslog(receiver.Address(), tls)->RunOnce();
  ASSERT_TRUE(named.ok()) << named.error().message;
  EXPECT_EQ(*named, 1);
  EXPECT_EQ(Seqs(receiver.Frames(13)), Range(1, 13));
}

TEST_F(SyslogSinkTest, TlsReconnectsAfterTheReceiverClosedAndTLS12Works) {
  SelfSignedCert cert;
  SyslogTlsOptions tls;
  tls.ca_pem = cert.pem();
  AppendEvents(2);
  std::string address;
  std::unique_ptr<AuditForwarder> forwarder;
  {
    TlsReceiver receiver(cert.cert_file(), cert.key_file(), "", TLS1_2_VERSION);
    address = receiver.Address();
    forwarder = Syslog(address, tls);
    EXPECT_EQ(*forwarder->RunOnce(), 2);
    EXPECT_EQ(Seqs(receiver.Frames(2)), Range(1, 2));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  AppendEvents(1);
  auto gone = forwarder->RunOnce();  // the receiver is gone: refused, nothing taken
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(SyslogPosition(address), 2);
}

// A receiver whose certificate is not from ca_file is refused at the handshake: nothing
// written, nothing marked delivered, the attempt retried with backoff; once the right CA
// is configured (a restart), delivery resumes from the stored position.
TEST_F(SyslogSinkTest, TlsRefusesAReceiverFromAnotherCaUntilTheRightOneIsConfigured) {
  SelfSignedCert cert;
  SelfSignedCert other;
  TlsReceiver receiver(cert.cert_file(), cert.key_file());
  SyslogTlsOptions tls;
  tls.ca_pem = other.pem();
  AppendEvents(3);
  auto forwarder = Syslog(receiver.Address(), tls);
  auto refused = forwarder->RunOnce();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kActionFailed);
  EXPECT_NE(refused.error().message.find("syslog TLS handshake with " + receiver.Address() +
                                         " failed: certificate verification failed"),
            std::string::npos)
      << refused.error().message;
  forwarder->Start();
  ASSERT_TRUE(WaitFor([&] { return failures().size() >= 2; }));
  forwarder->Stop();
  EXPECT_EQ(failures()[0].from_seq, 1);
  EXPECT_EQ(failures()[1].retry_in, std::chrono::milliseconds(20));
  EXPECT_EQ(SyslogPosition(receiver.Address()), 0);
  EXPECT_TRUE(receiver.Frames(0).empty());
  EXPECT_EQ(receiver.handshakes(), 0);
  tls.ca_pem = cert.pem();
  auto resumed = Syslog(receiver.Address(), tls)->RunOnce();
  ASSERT_TRUE(resumed.ok()) << resumed.error().message;
  EXPECT_EQ(*resumed, 3);
  EXPECT_EQ(Seqs(receiver.Frames(3)), Range(1, 3));
}

TEST_F(SyslogSinkTest, TlsRefusesACertificateThatDoesNotNameTheReceiver) {
  SelfSignedCert cert;
  TlsReceiver receiver(cert.cert_file(), cert.key_file());
  AppendEvents(1);
  SyslogTlsOptions tls;
  tls.ca_pem = cert.pem();
  tls.server_name = "other.test";
  auto wrong = Syslog(receiver.Address(), tls)->RunOnce();
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("hostname mismatch"), std::string::npos)
      << wrong.error().message;
  // Without server_name the certificate must carry the address's IP.
  SelfSignedCert no_ip("public.test", /*ip_san=*/false);
  TlsReceiver named(no_ip.cert_file(), no_ip.key_file());
  tls.ca_pem = no_ip.pem();
  tls.server_name.clear();
  auto no_ip_san = Syslog(named.Address(), tls)->RunOnce();
  ASSERT_FALSE(no_ip_san.ok());
  EXPECT_NE(no_ip_san.error().message.find("IP address mismatch"), std::string::npos)
      << no_ip_san.error().message;
  EXPECT_TRUE(receiver.Frames(0).empty());
  EXPECT_TRUE(named.Frames(0).empty());
  EXPECT_EQ(SyslogPosition(receiver.Address()), 0);
  EXPECT_EQ(SyslogPosition(named.Address()), 0);
}

// Mutual TLS: a receiver that requires a client certificate gets ours; without one it
// refuses the session, and under TLS 1.3 (where the client's handshake ends before the
// receiver's verdict) nothing is counted as delivered either.
TEST_F(SyslogSinkTest, TlsSendsTheClientCertificateAReceiverRequires) {
  SelfSignedCert cert;
  SelfSignedCert client("client.test");
  AppendEvents(2);
  for (int version : {0, TLS1_2_VERSION}) {
    SCOPED_TRACE(version);
    TlsReceiver receiver(cert.cert_file(), cert.key_file(), client.cert_file(), version);
    SyslogTlsOptions tls;
    tls.ca_pem = cert.pem();
    auto without = Syslog(receiver.Address(), tls)->RunOnce();
    ASSERT_FALSE(without.ok());
    EXPECT_NE(without.error().message.find("syslog TLS handshake with"), std::string::npos)
        << without.error().message;
    EXPECT_EQ(SyslogPosition(receiver.Address()), 0);
    EXPECT_TRUE(receiver.Frames(0).empty());
    tls.cert_pem = client.pem();
    tls.key_pem = ReadTextFile(client.key_file());
    auto with = Syslog(receiver.Address(), tls)->RunOnce();
    ASSERT_TRUE(with.ok()) << with.error().message;
    EXPECT_EQ(*with, 2);
    EXPECT_EQ(receiver.Frames(2).size(), 2u);
    EXPECT_EQ(receiver.refused_handshakes(), 1);
  }
}

// A malicious TLS 1.3 receiver that asks for a client certificate, never sends a session
// ticket and streams application data instead (for 4 s, then closes): the wait for its
// verdict is bounded by the connect's timeout, not by when the receiver stops talking.
TEST_F(SyslogSinkTest, TlsAReceiverThatStreamsDataInsteadOfATicketCannotHoldASend) {
  SelfSignedCert cert;
  SelfSignedCert client("client.test");
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate_file(ctx, cert.cert_file().c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_use_PrivateKey_file(ctx, cert.key_file().c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
  SSL_CTX_set_num_tickets(ctx, 0);
  uint16_t port = 0;
  const int listener = ListenOnLoopback(port);
  std::atomic<bool> stop{false};
  std::thread talker([&] {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return;
    const int conn = ::accept(listener, nullptr, nullptr);
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, conn);
    if (SSL_accept(ssl) == 1) {
      const std::string chunk(1024, 'x');
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(4);
      while (!stop && std::chrono::steady_clock::now() < until &&
             SSL_write(ssl, chunk.data(), static_cast<int>(chunk.size())) > 0) {
      }
    }
    SSL_free(ssl);
    ::close(conn);
  });
  SyslogSinkOptions options;
  options.address = *ParseSyslogAddress("tls://127.0.0.1:" + std::to_string(port));
  options.tls.ca_pem = cert.pem();
  options.tls.cert_pem = client.pem();
  options.tls.key_pem = ReadTextFile(client.key_file());
  options.format = SampleFormat();
  options.timeout = std::chrono::milliseconds(300);
  AppendEvents(1);
  auto events = ReadWith(*store_, [](store::Tx& tx) { return tx.ListAllAudit(0, 10); });
  ASSERT_TRUE(events.ok());
  const auto start = std::chrono::steady_clock::now();
  {
    SyslogAuditSink sink(std::move(options));
    (void)sink.Send(*events);
  }
  const auto took = std::chrono::steady_clock::now() - start;
  stop = true;
  talker.join();
  ::close(listener);
  SSL_CTX_free(ctx);
  EXPECT_LT(took, std::chrono::milliseconds(1500));
}

TEST(SyslogTlsTest, CheckSyslogTlsRefusesWhatCannotMakeAContext) {
  SelfSignedCert cert;
  SelfSignedCert other;
  SyslogTlsOptions tls;
  tls.ca_pem = cert.pem();
  EXPECT_TRUE(CheckSyslogTls(tls).ok());
  tls.cert_pem = cert.pem();
  tls.key_pem = ReadTextFile(cert.key_file());
  EXPECT_TRUE(CheckSyslogTls(tls).ok());
  tls.key_pem = ReadTextFile(other.key_file());
  EXPECT_EQ(CheckSyslogTls(tls).error().message,
            "key_file does not match the certificate of cert_file");
  tls.key_pem = "not a key";
  EXPECT_EQ(CheckSyslogTls(tls).error().message, "key_file: no unencrypted PEM private key in it");
  tls.key_pem.clear();
  EXPECT_EQ(CheckSyslogTls(tls).error().message,
            "cert_file and key_file go together (both or neither)");
  tls = {};
  tls.ca_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(CheckSyslogTls(tls).error().message, "ca_file: no PEM certificate in it");
  tls = {};
  for (const char* bad : {"bad name", "a..b", ".a", "x\n", "*.example.com"}) {
    tls.server_name = bad;
    EXPECT_FALSE(CheckSyslogTls(tls).ok()) << bad;
  }
  for (const char* ip : {"10.0.0.1", "::1", "fd00::5"}) {  // IP literals: matched as an IP SAN
    tls.server_name = ip;
    EXPECT_TRUE(CheckSyslogTls(tls).ok()) << ip;
  }
  tls.server_name = "[::1]";  // a URL's brackets are not part of the address
  EXPECT_FALSE(CheckSyslogTls(tls).ok());
}

TEST(SyslogAddressTest, TlsIsParsedAndCheckedLikeTcp) {
  auto a = ParseSyslogAddress("tls://127.0.0.1:6514");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->transport, SyslogTransport::kTls);
  EXPECT_EQ(a->port, 6514);
  EXPECT_EQ(a->text, "tls://127.0.0.1:6514");
  EXPECT_EQ(ParseSyslogAddress("tls://[::1]:6514")->text, "tls://[::1]:6514");
  for (const char* bad : {"tls://127.0.0.1", "tls://127.0.0.1:0", "tls://localhost:6514",
                          "tls:/127.0.0.1:6514", "ssl://127.0.0.1:6514", "tls://::1:6514"}) {
    auto refused = ParseSyslogAddress(bad);  // a literal IP and a port, as for tcp://
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(CheckSyslogDestination(*ParseSyslogAddress("tls://8.8.8.8:6514"), {}).ok());
}

}  // namespace
}  // namespace rampart::audit
