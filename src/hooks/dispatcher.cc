#include "rampart/hooks/dispatcher.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <utility>

#include "actions/webhook/webhook_send.h"
#include "rampart/core/backoff.h"
#include "rampart/core/error.h"
#include "rampart/core/json.h"
#include "rampart/crypto/crypto.h"

namespace rampart::hooks {
namespace {

namespace bj = boost::json;

constexpr size_t kMaxErrorLength = 300;

// Whether `d` is a delivery of the workflow that holds its id now: its run was started
// under that row's generation. A deleted workflow's delivery answered 410 after the delete
// (its pending retries outlive it) must not disable the endpoint for the workflow created
// again under the id, which does not inherit its disabled endpoints.
Result<bool> OfCurrentWorkflow(store::Tx& tx, const store::HookDelivery& d) {
  auto run = tx.GetRun(d.org_id, d.run_id);
  if (!run.ok()) return run.error();
  if (!*run) return false;
  auto workflow = tx.GetWorkflow(d.org_id, d.workflow_id);
  if (!workflow.ok()) return workflow.error();
  return *workflow && (*workflow)->generation == (*run)->workflow_generation;
}

}  // namespace

std::string_view EventOfStatus(std::string_view run_status) {
  if (run_status == "succeeded") return "run.succeeded";
  if (run_status == "failed") return "run.failed";
  if (run_status == "awaiting_approval") return "run.awaiting_approval";
  return "";
}

std::string BuildPayload(const store::Run& run, std::string_view event, store::Millis now) {
  bj::object data{{"run_id", run.id}, {"workflow", run.workflow_id}, {"status", run.status}};
  // The record is the engine's, already scrubbed of the run's secret values.
  if (!run.record.empty()) {
    auto record = json::Parse(run.record);
    if (record.ok() && record->is_object()) {
      const bj::object& r = record->get_object();
      if (const bj::value* output = r.if_contains("output"); output && !output->is_null()) {
        data["output"] = *output;
      }
      if (const bj::value* error = r.if_contains("error"); error && !error->is_null()) {
        data["error"] = *error;
      }
    }
  }
  if (!data.contains("error") && !run.error_code.empty()) {
    data["error"] = bj::object{{"code", run.error_code}};
  }
  bj::object body{
      {"type", event}, {"timestamp", FormatRfc3339Millis(now)}, {"data", std::move(data)}};
  return json::Serialize(body);
}

Result<int> EnqueueRunHooks(store::Tx& tx, const store::Run& run, const model::Workflow& workflow,
                            store::Millis now, Random& random) {
  const std::string_view event = EventOfStatus(run.status);
  if (event.empty() || workflow.hooks.empty()) return 0;
  std::string payload;
  int inserted = 0;
  for (const model::Hook& hook : workflow.hooks) {
    if (std::find(hook.events.begin(), hook.events.end(), event) == hook.events.end()) continue;
    if (payload.empty()) payload = BuildPayload(run, event, now);
    auto disabled = tx.HookEndpointDisabled(run.org_id, run.workflow_id, hook.url);
    if (!disabled.ok()) return disabled.error();
    store::HookDelivery d;
    d.org_id = run.org_id;
    d.id = "msg_" + crypto::Base62Encode(crypto::RandomBytes(random, 16), 22);
    d.run_id = run.id;
    d.workflow_id = run.workflow_id;
    d.url = hook.url;
    d.secret = hook.secret;
    d.event = event;
    d.payload = payload;
    d.status = *disabled ? "disabled" : "pending";
    d.next_attempt_at = now;
    d.created_at = now;
    d.updated_at = now;
    if (Status s = tx.InsertHookDelivery(d); !s.ok()) return s.error();
    ++inserted;
  }
  return inserted;
}

HookDispatcher::HookDispatcher(store::Store& store, net::HttpClient& client,
                               net::EgressPolicy egress, CredentialLookup credentials, Clock& clock,
                               DispatcherOptions options)
    : store_(store),
      client_(client),
      egress_(std::move(egress)),
      credentials_(std::move(credentials)),
      clock_(clock),
      options_(std::move(options)) {}

HookDispatcher::~HookDispatcher() { Stop(); }

Result<net::EgressRules> LoadOrgEgressRules(store::Store& store, std::string_view org_id) {
  std::optional<store::Org> org;
  Status read = store.Read([&](store::Tx& tx) -> Status {
    auto got = tx.GetOrg(org_id);
    if (!got.ok()) return got.error();
    org = std::move(got).value();
    return Status::Ok();
  });
  if (!read.ok()) return read.error();
  if (!org) return MakeError(ErrorCode::kNotFound, "org not found");
  return net::ParseStoredOrgEgressRules(org->egress);
}

void HookDispatcher::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void HookDispatcher::Kick() {
  std::lock_guard lock(mu_);
  kicked_ = true;
  cv_.notify_all();
}

void HookDispatcher::Stop() {
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

store::Millis HookDispatcher::NowMs() const { return UnixMillis(clock_.Now()); }

void HookDispatcher::Loop() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      kicked_ = false;
    }
    auto done = RunOnce();
    // A full batch: more may be due at once.
    if (done.ok() && *done >= options_.batch) continue;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, options_.poll_interval, [this] { return stopping_ || kicked_; });
  }
}

Result<int> HookDispatcher::RunOnce() {
  // Before the due list is read: a record written now takes its delivery off that list.
  RetryRecords();
  std::vector<store::HookDelivery> due;
  const store::Millis now = NowMs();
  Status read = store_.Read([&](store::Tx& tx) -> Status {
    auto list = tx.ListDueHookDeliveries(now, options_.batch);
    if (!list.ok()) return list.error();
    due = std::move(list).value();
    return Status::Ok();
  });
  if (!read.ok()) return read.error();
  int attempted = 0;
  for (const store::HookDelivery& d : due) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    // Sent already; its record waits to be written: not sent again meanwhile.
    if (unrecorded_.count(d.id)) continue;
    if (Status s = Attempt(d); s.ok()) ++attempted;
  }
  return attempted;
}

Status HookDispatcher::Attempt(const store::HookDelivery& delivery) {
  bool disabled = false;
  Status read = store_.Read([&](store::Tx& tx) -> Status {
    auto d = tx.HookEndpointDisabled(delivery.org_id, delivery.workflow_id, delivery.url);
    if (!d.ok()) return d.error();
    disabled = *d;
    return Status::Ok();
  });
  if (!read.ok()) return read;
  if (disabled) {
    // The endpoint answered 410 to an earlier delivery: never contacted again.
    store::HookDelivery updated = delivery;
    updated.status = "disabled";
    updated.updated_at = NowMs();
    return store_.Write([&](store::Tx& tx) { return tx.UpdateHookDelivery(updated); });
  }

  const store::Millis started = NowMs();
  AttemptOutcome outcome;
  auto credentials =
      credentials_
          ? credentials_(delivery)
          : Result<HookCredentials>(MakeError(ErrorCode::kInternal, "no credential lookup"));
  if (!credentials.ok()) {
    outcome.error = std::string(credentials.error().code_name()) +
                    ": signing secret unavailable: " + credentials.error().message;
  } else if (auto org = LoadOrgEgressRules(store_, delivery.org_id); !org.ok()) {
    outcome.error = std::string(org.error().code_name()) +
                    ": the org's egress rules are unavailable: " + org.error().message;
  } else {
    outcome = Send(delivery, credentials->key, egress_.Narrow(*org).Narrow(credentials->egress));
  }
  if (outcome.error.size() > kMaxErrorLength) outcome.error.resize(kMaxErrorLength);

  store::HookDelivery updated = delivery;
  updated.attempts = delivery.attempts + 1;
  const store::Millis now = NowMs();
  updated.updated_at = now;
  bool disable_endpoint = false;
  const int max_attempts = options_.max_attempts > 0
                               ? options_.max_attempts
                               : static_cast<int>(options_.schedule.size()) + 1;
  if (outcome.status_code >= 200 && outcome.status_code <= 299) {
    updated.status = "delivered";
  } else if (outcome.status_code == 410) {
    updated.status = "disabled";
    disable_endpoint = true;
  } else if (updated.attempts < max_attempts &&
             static_cast<size_t>(updated.attempts - 1) < options_.schedule.size()) {
    updated.status = "pending";
    updated.next_attempt_at = now + options_.schedule[updated.attempts - 1].count();
  } else {
    updated.status = "failed";
  }
  Unrecorded u;
  u.delivery = delivery;
  u.updated = std::move(updated);
  u.disable_endpoint = disable_endpoint;
  store::HookAttempt& attempt = u.attempt;
  attempt.org_id = delivery.org_id;
  attempt.delivery_id = delivery.id;
  attempt.attempt = u.updated.attempts;
  attempt.time = started;
  attempt.status_code = outcome.status_code;
  attempt.latency_ms = outcome.latency_ms;
  attempt.error = outcome.error;
  Status recorded = Record(u);
  if (!recorded.ok()) {
    // The request went out: sending it again at every pass while the store refuses
    // writes would hammer the endpoint. The record is kept and written later.
    u.backoff = std::max(options_.poll_interval, std::chrono::milliseconds(1));
    u.retry_at = NowMs() + u.backoff.count();
    if (options_.on_record_error) options_.on_record_error(delivery, recorded.error());
    unrecorded_[delivery.id] = std::move(u);
  }
  return recorded;
}

Status HookDispatcher::Record(const Unrecorded& u) {
  const store::HookDelivery& delivery = u.delivery;
  return store_.Write([&](store::Tx& tx) -> Status {
    // A redelivery or another change raced with this attempt: keep the newest state.
    auto current = tx.GetHookDelivery(delivery.org_id, delivery.id);
    if (!current.ok()) return current.error();
    if (!*current || (*current)->attempts != delivery.attempts) return Status::Ok();
    if (Status s = tx.InsertHookAttempt(u.attempt); !s.ok()) return s;
    if (u.disable_endpoint) {
      auto ours = OfCurrentWorkflow(tx, delivery);
      if (!ours.ok()) return ours.error();
      if (*ours) {
        if (Status s = tx.SetHookEndpointDisabled(delivery.org_id, delivery.workflow_id,
                                                  delivery.url, true, u.updated.updated_at);
            !s.ok()) {
          return s;
        }
      }
    }
    return tx.UpdateHookDelivery(u.updated);
  });
}

void HookDispatcher::RetryRecords() {
  const store::Millis now = NowMs();
  for (auto it = unrecorded_.begin(); it != unrecorded_.end();) {
    Unrecorded& u = it->second;
    if (u.retry_at > now) {
      ++it;
      continue;
    }
    if (Record(u).ok()) {
      it = unrecorded_.erase(it);
      continue;
    }
    u.backoff = NextBackoff(u.backoff, options_.record_retry_max);
    u.retry_at = now + u.backoff.count();
    ++it;
  }
}

AttemptOutcome HookDispatcher::Send(const store::HookDelivery& delivery, std::string_view key,
                                    const net::EgressPolicy& policy) {
  AttemptOutcome outcome;
  // A delivery goes where it was sent: no redirects.
  const net::HttpRequest req =
      actions::SignedJsonPost(delivery.url, delivery.payload, key, delivery.id, clock_.Now(),
                              options_.timeout, "Rampart-Hooks/1");
  const auto start = std::chrono::steady_clock::now();
  auto res = client_.Fetch(req, policy);
  outcome.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  if (!res.ok()) {
    // kLimitExceeded: the endpoint answered, with a body over the cap; still no status.
    outcome.error = std::string(res.error().code_name()) + ": " + res.error().message;
    return outcome;
  }
  outcome.status_code = res->status;
  if (res->status < 200 || res->status > 299) outcome.error = "http_" + std::to_string(res->status);
  return outcome;
}

}  // namespace rampart::hooks
