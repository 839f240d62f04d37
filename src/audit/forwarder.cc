#include "rampart/audit/forwarder.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <utility>

#include "actions/webhook/webhook_send.h"
#include "api/common.h"
#include "rampart/core/backoff.h"
#include "rampart/core/error.h"
#include "rampart/core/json.h"
#include "rampart/crypto/crypto.h"

namespace rampart::audit {
namespace {

constexpr size_t kMinKeyBytes = 16;
constexpr size_t kMaxErrorLength = 300;

}  // namespace

Result<std::string> ForwardSigningKey(std::string_view secret) {
  if (!secret.empty() && secret.back() == '\n') secret.remove_suffix(1);
  if (!secret.empty() && secret.back() == '\r') secret.remove_suffix(1);
  std::string key;
  if (secret.starts_with("whsec_")) {
    auto decoded = actions::DecodeWebhookSecret(secret);
    if (!decoded) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the audit forwarding secret is not a valid whsec_<base64> key");
    }
    key = std::move(*decoded);
  } else {
    key.assign(secret);
  }
  if (key.size() < kMinKeyBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the audit forwarding secret must be at least 16 bytes");
  }
  return key;
}

namespace {

ForwardLoopOptions LoopOptionsOf(const ForwarderOptions& o) {
  ForwardLoopOptions loop;
  loop.batch = o.batch;
  loop.interval = o.interval;
  loop.min_backoff = o.min_backoff;
  loop.max_backoff = o.max_backoff;
  return loop;
}

}  // namespace

HttpsAuditSink::HttpsAuditSink(net::HttpClient& client, net::EgressPolicy egress, Clock& clock,
                               const ForwarderOptions& options)
    : client_(client),
      egress_(std::move(egress)),
      clock_(clock),
      url_(options.url),
      key_(options.key),
      timeout_(options.timeout),
      ca_pem_(options.ca_pem) {}

std::string HttpsAuditSink::Destination() const { return AuditForwarder::DestinationOf(url_); }

SinkResult HttpsAuditSink::Send(const std::vector<store::AuditEvent>& events) {
  const int64_t first = events.front().seq;
  const int64_t last = events.back().seq;
  // The events go where the operator said, nowhere else: no redirects.
  net::HttpRequest req = actions::SignedJsonPost(
      url_, AuditForwarder::BuildBody(events), key_,
      "audit_" + std::to_string(first) + "-" + std::to_string(last), clock_.Now(), timeout_,
      "Rampart-Audit/1");
  req.ca_pem = ca_pem_;
  auto res = client_.Fetch(req, egress_);
  if (!res.ok()) return {0, res.error()};
  if (res->status < 200 || res->status > 299) {
    return {0, MakeError(ErrorCode::kActionFailed, "http_" + std::to_string(res->status))};
  }
  return {events.size(), Status::Ok()};
}

AuditForwarder::AuditForwarder(store::Store& store, net::HttpClient& client,
                               net::EgressPolicy egress, Clock& clock, ForwarderOptions options,
                               FailureSink on_failure)
    : AuditForwarder(store, clock,
                     std::make_unique<HttpsAuditSink>(client, std::move(egress), clock, options),
                     LoopOptionsOf(options), std::move(on_failure)) {}

AuditForwarder::AuditForwarder(store::Store& store, Clock& clock, std::unique_ptr<AuditSink> sink,
                               ForwardLoopOptions options, FailureSink on_failure)
    : store_(store),
      clock_(clock),
      sink_(std::move(sink)),
      options_(std::move(options)),
      on_failure_(std::move(on_failure)),
      destination_(sink_->Destination()) {}

AuditForwarder::~AuditForwarder() { Stop(); }

std::optional<int64_t> AuditForwarder::AcknowledgedSeq() const {
  int64_t forwarded = 0;
  Status read = store_.Read([&](store::Tx& tx) -> Status {
    auto seq = tx.GetAuditForwardedSeq(destination_);
    if (!seq.ok()) return seq.error();
    forwarded = *seq;
    return Status::Ok();
  });
  if (!read.ok()) return std::nullopt;
  return forwarded;
}

std::optional<int64_t> AuditForwarder::AcknowledgedByAll(
    std::initializer_list<const AuditForwarder*> forwarders) {
  std::optional<int64_t> lowest;
  for (const AuditForwarder* f : forwarders) {
    if (f == nullptr) continue;
    const std::optional<int64_t> seq = f->AcknowledgedSeq();
    if (!seq) return std::nullopt;
    lowest = lowest ? std::min(*lowest, *seq) : *seq;
  }
  return lowest;
}

std::string AuditForwarder::DestinationOf(std::string_view url) { return crypto::Sha256Hex(url); }

std::string AuditForwarder::BuildBody(const std::vector<store::AuditEvent>& events) {
  boost::json::array items;
  items.reserve(events.size());
  for (const store::AuditEvent& e : events) items.push_back(api::AuditJson(e));
  return json::Serialize(boost::json::object{{"type", "audit.events"}, {"events", std::move(items)}});
}

void AuditForwarder::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void AuditForwarder::Kick() {
  std::lock_guard lock(mu_);
  kicked_ = true;
  cv_.notify_all();
}

void AuditForwarder::Stop() {
  std::thread thread;
  {
    // Taken under the lock: a Stop() racing Start() or another Stop() joins at most once.
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
    thread = std::move(thread_);
  }
  if (thread.joinable()) thread.join();
}

void AuditForwarder::Loop() {
  std::chrono::milliseconds backoff{0};
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      kicked_ = false;
    }
    const int64_t taken_before = forwarded_events_.load();
    auto sent = RunOnce();
    if (sent.ok()) {
      backoff = std::chrono::milliseconds(0);
      // A full batch: more events are waiting.
      if (*sent >= options_.batch) continue;
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.interval, [this] { return stopping_ || kicked_; });
      continue;
    }
    // An attempt that moved the position (the sink took part of the batch: a slow
    // receiver, its timeout reached) starts again from min_backoff: the destination is
    // alive, and doubling at each such attempt would leave it further behind every batch.
    const bool progressed = forwarded_events_.load() > taken_before;
    backoff = backoff.count() == 0 || progressed ? options_.min_backoff
                                                 : NextBackoff(backoff, options_.max_backoff);
    if (on_failure_) {
      ForwardFailure failure;
      failure.error = std::string(sent.error().code_name()) + ": " + sent.error().message;
      if (failure.error.size() > kMaxErrorLength) failure.error.resize(kMaxErrorLength);
      failure.from_seq = forwarded_seq_.load() + 1;
      failure.retry_in = backoff;
      on_failure_(failure);
    }
    // Only Stop() ends a backoff early: a kick (new events) does not hurry a retry.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, backoff, [this] { return stopping_; });
  }
}

Result<int> AuditForwarder::RunOnce() {
  int64_t position = 0;
  std::vector<store::AuditEvent> events;
  Status read = store_.Read([&](store::Tx& tx) -> Status {
    auto seq = tx.GetAuditForwardedSeq(destination_);
    if (!seq.ok()) return seq.error();
    position = *seq;
    auto list = tx.ListAllAudit(position, options_.batch);
    if (!list.ok()) return list.error();
    events = std::move(list).value();
    return Status::Ok();
  });
  if (!read.ok()) return read.error();
  forwarded_seq_.store(position);
  if (events.empty()) return 0;

  const SinkResult sent = sink_->Send(events);
  const size_t taken = std::min(sent.taken, events.size());
  if (taken > 0) {
    // Taken: only now does the position move (a crash before this commit sends these
    // events again; the HTTPS sink with the same webhook-id).
    const int64_t last = events[taken - 1].seq;
    Status advanced = store_.Write([&](store::Tx& tx) {
      return tx.AdvanceAuditForwardedSeq(destination_, last, UnixMillis(clock_.Now()));
    });
    if (!advanced.ok()) {
      failed_attempts_.fetch_add(1);
      return advanced.error();
    }
    forwarded_seq_.store(last);
    forwarded_events_.fetch_add(static_cast<int64_t>(taken));
  }
  if (!sent.status.ok() || taken < events.size()) {
    failed_attempts_.fetch_add(1);
    if (!sent.status.ok()) return sent.status.error();
    return MakeError(ErrorCode::kInternal, "the audit sink took part of a batch");
  }
  return static_cast<int>(taken);
}

ForwarderStats AuditForwarder::Stats() const {
  return {forwarded_events_.load(), failed_attempts_.load(), forwarded_seq_.load()};
}

std::vector<server::Sample> AuditForwarder::MetricSamples() const {
  const ForwarderStats stats = Stats();
  int64_t head = 0;
  int64_t forwarded = stats.forwarded_seq;
  Status read = store_.Read([&](store::Tx& tx) -> Status {
    auto h = tx.AuditHeadSeq();
    if (!h.ok()) return h.error();
    auto f = tx.GetAuditForwardedSeq(destination_);
    if (!f.ok()) return f.error();
    head = *h;
    forwarded = *f;
    return Status::Ok();
  });
  const ForwardMetricNames& names = options_.metrics;
  std::vector<server::Sample> samples = {
      {names.sent, {}, static_cast<double>(stats.forwarded_events), names.sent_help},
      {names.failures, {}, static_cast<double>(stats.failed_attempts), names.failures_help}};
  if (read.ok()) {
    samples.push_back({names.lag, {}, static_cast<double>(head - forwarded), names.lag_help});
  }
  return samples;
}

}  // namespace rampart::audit
