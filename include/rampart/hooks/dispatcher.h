// Outbound execution hooks (spec/interfaces.md "Outbound execution hooks").
//
// A workflow's `hooks: [{url, events, secret}]` are turned into deliveries when a run
// reaches succeeded, failed or awaiting_approval: EnqueueRunHooks inserts them in the
// very transaction that commits the run's final status (RunEnvironment::on_final), so a
// finished run always has its deliveries and a crash cannot lose one.
//
// The payload is `{type, timestamp, data: {run_id, workflow, status, output?, error?}}`,
// fixed at enqueue time (every attempt sends the same bytes). It is built from the run
// record the engine produced, which the engine already scrubbed of the run's secret
// values (rampart/redact): the run's secrets are not available after the run, so no
// second ScrubJson pass is possible here - nothing else enters the payload.
//
// HookDispatcher sends due deliveries from a background thread through the SSRF-guarded
// client (net::HttpClient) under the server's egress policy narrowed by the org's rules
// (store::Org::egress, read at each attempt: a PATCH that committed applies to the next
// attempt; an org whose rules cannot be read gets no request) and then by the signing
// connector's `egress`, with Standard Webhooks headers (webhook-id = delivery id,
// webhook-timestamp, webhook-signature "v1,<base64 HMAC-SHA256>"), redirects not
// followed. Every attempt is recorded {time, status code, latency, error}; 2xx ->
// delivered; 410 -> the endpoint (org, workflow, url) is disabled (unless the delivery's
// run belongs to a deleted workflow of that id: a workflow created again under it does not
// inherit the endpoints) and the delivery `disabled`; anything else (non-2xx, timeout, SSRF refusal, ...) -> the next attempt
// after the schedule's delay, or `failed` after the last. Everything lives in the store:
// a restart resumes pending deliveries (at least once: a crash during a send sends it
// again, with the same webhook-id so receivers can deduplicate). An attempt whose record
// cannot be written (a full disk) is kept in memory and its write retried after
// poll_interval, doubled up to record_retry_max; the delivery is not sent again while
// it waits (only a restart before the record lands sends it again).
//
// Thread-safety: Kick/Start/Stop are thread-safe; RunOnce must not run concurrently
// with the background thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "rampart/core/clock.h"
#include "rampart/core/result.h"
#include "rampart/model/workflow.h"
#include "rampart/net/egress.h"
#include "rampart/net/http_client.h"
#include "rampart/store/store.h"

namespace rampart::hooks {

using namespace std::chrono_literals;

// "run.succeeded" | "run.failed" | "run.awaiting_approval"; "" for other statuses.
std::string_view EventOfStatus(std::string_view run_status);

// The JSON body of `event` for a stored run (its record as the engine scrubbed it).
std::string BuildPayload(const store::Run& run, std::string_view event, store::Millis now);

// Inserts one delivery per hook of `workflow` subscribed to the run's event, in `tx`
// (status pending, due now; `disabled` when the endpoint is disabled). Returns how many.
Result<int> EnqueueRunHooks(store::Tx& tx, const store::Run& run, const model::Workflow& workflow,
                            store::Millis now, Random& random);

// The signing key (decoded bytes of the webhook_secret connector's `secret`) and the
// connector's egress rules, for one delivery.
struct HookCredentials {
  std::string key;
  net::EgressRules egress;
};
using CredentialLookup = std::function<Result<HookCredentials>(const store::HookDelivery&)>;

struct DispatcherOptions {
  // Delays before attempts 2, 3, ... (Standard Webhooks' recommended schedule).
  std::vector<std::chrono::milliseconds> schedule = {5s, 5min, 30min, 2h, 5h, 10h, 10h};
  int max_attempts = 0;  // 0: 1 + schedule.size()
  int batch = 20;        // deliveries read per pass
  std::chrono::milliseconds poll_interval = 1s;
  // Longest wait between tries to record an attempt whose record write failed.
  std::chrono::milliseconds record_retry_max = 5min;
  // Called once per attempt whose record could not be written (then retried silently),
  // with the delivery and the store's error; on the dispatcher's thread (optional).
  std::function<void(const store::HookDelivery&, const Error&)> on_record_error;
  std::chrono::milliseconds timeout = 15s;  // per attempt
};

struct AttemptOutcome {
  int status_code = 0;
  int64_t latency_ms = 0;
  std::string error;  // "" on 2xx
};

// The egress rules of org `org_id` as stored (PATCH /v1/orgs/{org} `egress`): one read by
// primary key. kNotFound when the org is gone; kInternal when the stored rules are
// corrupted. Callers fail closed on an error (no request is sent): hook deliveries here,
// and the outbound steps of runs (api::ServerRunServices).
Result<net::EgressRules> LoadOrgEgressRules(store::Store& store, std::string_view org_id);

class HookDispatcher {
 public:
  HookDispatcher(store::Store& store, net::HttpClient& client, net::EgressPolicy egress,
                 CredentialLookup credentials, Clock& clock, DispatcherOptions options = {});
  ~HookDispatcher();  // Stop()
  HookDispatcher(const HookDispatcher&) = delete;
  HookDispatcher& operator=(const HookDispatcher&) = delete;

  // Starts the background thread (resumes whatever is pending in the store).
  void Start();
  // Wakes the thread now (a run finished, a redelivery was asked for).
  void Kick();
  // Stops after the attempt in flight; joins the thread. Pending deliveries stay pending.
  void Stop();

  // One pass: attempts every due delivery (up to `batch`), one after the other (a slow
  // endpoint delays the others by at most `timeout` per attempt). Returns how many.
  // Nothing once Stop() was called.
  Result<int> RunOnce();

 private:
  void Loop();
  Status Attempt(const store::HookDelivery& delivery);
  AttemptOutcome Send(const store::HookDelivery& delivery, std::string_view key,
                      const net::EgressPolicy& policy);
  store::Millis NowMs() const;

  // An attempt made whose record (the attempt row and the delivery's new state) has not
  // been written yet.
  struct Unrecorded {
    store::HookDelivery delivery;  // as read before the attempt
    store::HookDelivery updated;
    store::HookAttempt attempt;
    bool disable_endpoint = false;
    std::chrono::milliseconds backoff{0};
    store::Millis retry_at = 0;
  };
  Status Record(const Unrecorded& u);
  // Tries the due records again; drops those written.
  void RetryRecords();

  store::Store& store_;
  net::HttpClient& client_;
  const net::EgressPolicy egress_;
  const CredentialLookup credentials_;
  Clock& clock_;
  const DispatcherOptions options_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool kicked_ = false;    // guarded by mu_
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
  // By delivery id. Used by RunOnce only (never concurrently with itself).
  std::map<std::string, Unrecorded> unrecorded_;
};

}  // namespace rampart::hooks
