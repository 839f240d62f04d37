// Audit forwarding to a separate system (OWASP ASVS V16.4.3): a background thread of
// `rampart serve` pushes the audit events, in seq order and in batches, to a destination,
// so a compromised host cannot rewrite history that was already copied elsewhere.
//
// The loop (AuditForwarder) is the same for every kind of destination; what one batch
// becomes on the wire is an AuditSink: HttpsAuditSink (below) for a collector over HTTPS,
// SyslogAuditSink (audit/syslog.h) for a syslog receiver.
//
// HttpsAuditSink: each batch is one HTTPS POST of `{"type": "audit.events", "events":
// [...]}` (each event as GET /v1/orgs/{org}/audit shows it: seq, time, org, actor, ...,
// hash, prev_hash), with Standard Webhooks headers: webhook-id "audit_<first seq>-<last
// seq>" (stable: a batch sent again carries the same id, and events never change),
// webhook-timestamp (Unix seconds of the attempt) and webhook-signature "v1,<base64
// HMAC-SHA256(key, id.timestamp.body)>". Redirects are not followed. Every request goes
// through the SSRF-guarded client (net::HttpClient) under the policy the caller gives (the
// process egress rules, widened for this destination only). Acknowledged means any 2xx.
//
// Delivery is at least once: the last seq the destination took is stored per destination
// (Tx::AdvanceAuditForwardedSeq, keyed by AuditSink::Destination()) in a write transaction
// after the sink reported it taken, never before; the next batch starts after it, so a
// restart resumes there and nothing is skipped. Only events whose acceptance was not
// recorded (a crash between the answer and the commit) are sent twice. Anything else
// (non-2xx, timeout, connection or TLS failure, an egress refusal, a missing socket) is a
// failed attempt: the same position (after what the sink took, when it took part of the
// batch) is tried again after a capped exponential backoff (min_backoff doubling up to
// max_backoff; an attempt that moved the position starts again at min_backoff), with one
// call of `on_failure` per failed attempt (not per event).
//
// Thread-safety: Start/Stop/Kick/Stats/MetricSamples are thread-safe; RunOnce must not run
// concurrently with the background thread. A sink is only called from one thread at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "rampart/core/clock.h"
#include "rampart/core/result.h"
#include "rampart/net/egress.h"
#include "rampart/net/http_client.h"
#include "rampart/server/metrics.h"
#include "rampart/store/store.h"

namespace rampart::audit {

using namespace std::chrono_literals;

// The names and help texts of a forwarder's /metrics samples (one set per kind of
// destination); the defaults are the HTTPS collector's.
struct ForwardMetricNames {
  std::string sent = "rampart_audit_forwarded_events";
  std::string sent_help = "Audit events the collector acknowledged since start";
  std::string failures = "rampart_audit_forward_failures";
  std::string failures_help = "Failed audit forwarding attempts since start (each one is retried)";
  std::string lag = "rampart_audit_forward_lag";
  std::string lag_help =
      "Audit events not yet acknowledged by the collector (head seq - forwarded seq)";
};

// What the loop needs, whatever the destination.
struct ForwardLoopOptions {
  int batch = 100;  // events per Send, 1..1000
  std::chrono::milliseconds interval = 1s;  // poll when caught up
  std::chrono::milliseconds min_backoff = 1s;
  std::chrono::milliseconds max_backoff = 5min;
  ForwardMetricNames metrics;
};

// The HTTPS collector's options (the loop's and HttpsAuditSink's).
struct ForwarderOptions {
  std::string url;  // the collector; checked by the client's egress guard on every call
  std::string key;  // the signing key (bytes, as decoded from "whsec_<base64>")
  int batch = 100;  // events per POST, 1..1000
  std::chrono::milliseconds interval = 1s;  // poll when caught up
  std::chrono::milliseconds timeout = 15s;  // per POST
  std::chrono::milliseconds min_backoff = 1s;
  std::chrono::milliseconds max_backoff = 5min;
  std::string ca_pem;  // replaces the system trust store when set (private CA, tests)
};

// The outcome of one failed attempt, for the log: `error` is sanitized (an error code
// and message of the client, which name the host at most, or "http_<status>"; never a
// body, a header or the key).
struct ForwardFailure {
  std::string error;
  int64_t from_seq = 0;  // the first seq of the batch that was not acknowledged
  std::chrono::milliseconds retry_in{0};
};

struct ForwarderStats {
  int64_t forwarded_events = 0;  // taken by the destination since start
  int64_t failed_attempts = 0;   // since start
  int64_t forwarded_seq = 0;     // the stored position (last acknowledged seq)
};

// What one Send did: `taken` events, from the front of the batch, reached the destination
// (the position moves past them); `status` is not ok when it took fewer than all (then
// the error says why, sanitized: a code and a message that names the destination at
// most, never event data or a key).
struct SinkResult {
  size_t taken = 0;
  Status status;
};

// One kind of destination. Called from the forwarder's thread only.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  // The key of the stored position: stable for one destination across restarts, distinct
  // between destinations (and between kinds of sinks).
  virtual std::string Destination() const = 0;
  // Sends `events` (non-empty, in seq order, contiguous after the stored position).
  // Bounded in time (the sink's own timeout), so Stop() is too.
  virtual SinkResult Send(const std::vector<store::AuditEvent>& events) = 0;
};

// The collector over HTTPS (see the top of this file).
class HttpsAuditSink final : public AuditSink {
 public:
  // `client` and `clock` must outlive the sink; only the HTTP fields of `options` count.
  HttpsAuditSink(net::HttpClient& client, net::EgressPolicy egress, Clock& clock,
                 const ForwarderOptions& options);
  std::string Destination() const override;
  SinkResult Send(const std::vector<store::AuditEvent>& events) override;

 private:
  net::HttpClient& client_;
  const net::EgressPolicy egress_;
  Clock& clock_;
  const std::string url_;
  const std::string key_;
  const std::chrono::milliseconds timeout_;
  const std::string ca_pem_;
};

// The signing key of a secret: "whsec_<base64>" is decoded (the Standard Webhooks form),
// anything else is taken as raw bytes; one trailing newline (LF or CRLF) is dropped
// first. kInvalidArgument (never naming the secret) when it is empty, not valid base64
// after whsec_, or shorter than 16 bytes.
Result<std::string> ForwardSigningKey(std::string_view secret);

class AuditForwarder {
 public:
  using FailureSink = std::function<void(const ForwardFailure&)>;

  // To an HTTPS collector (HttpsAuditSink).
  AuditForwarder(store::Store& store, net::HttpClient& client, net::EgressPolicy egress,
                 Clock& clock, ForwarderOptions options, FailureSink on_failure = {});
  // To any sink.
  AuditForwarder(store::Store& store, Clock& clock, std::unique_ptr<AuditSink> sink,
                 ForwardLoopOptions options, FailureSink on_failure = {});
  ~AuditForwarder();  // Stop()
  AuditForwarder(const AuditForwarder&) = delete;
  AuditForwarder& operator=(const AuditForwarder&) = delete;

  // Starts the background thread (resumes after the stored position).
  void Start();
  // Wakes the thread now when it waits for new events (not during a backoff).
  void Kick();
  // Stops after the Send in flight (bounded by the sink's timeout) and its acknowledgement;
  // joins the thread. Unsent events stay for the next start.
  void Stop();

  // One batch: the events after the stored position (up to `batch`), one Send, and the new
  // position past what the sink took. Returns how many events were taken (0: nothing to
  // send), or the failure (kActionFailed "http_<status>", the client's error, a socket
  // error) when the sink took fewer than the batch.
  Result<int> RunOnce();

  ForwarderStats Stats() const;
  // The last seq the collector acknowledged, read from the store (0 when it never did);
  // nullopt when the store cannot be read. Audit retention purges no event past it.
  std::optional<int64_t> AcknowledgedSeq() const;
  // The lowest AcknowledgedSeq of the forwarders given (null ones skipped): what every
  // destination has; nullopt when one cannot be read or none is given.
  static std::optional<int64_t> AcknowledgedByAll(
      std::initializer_list<const AuditForwarder*> forwarders);
  // options.metrics: events taken since start (rampart_audit_forwarded_events), failed
  // attempts since start (rampart_audit_forward_failures) and the lag (head seq -
  // forwarded seq, read from the store; rampart_audit_forward_lag).
  std::vector<server::Sample> MetricSamples() const;

  // The destination key of an HTTPS collector's stored position: hex SHA-256 of the URL.
  static std::string DestinationOf(std::string_view url);
  // The JSON body of one batch.
  static std::string BuildBody(const std::vector<store::AuditEvent>& events);

 private:
  void Loop();

  store::Store& store_;
  Clock& clock_;
  const std::unique_ptr<AuditSink> sink_;
  const ForwardLoopOptions options_;
  const FailureSink on_failure_;
  const std::string destination_;

  std::atomic<int64_t> forwarded_events_{0};
  std::atomic<int64_t> failed_attempts_{0};
  std::atomic<int64_t> forwarded_seq_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  bool kicked_ = false;    // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace rampart::audit
