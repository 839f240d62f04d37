// The run service: durable, fair execution of queued runs on a worker pool.
//
// Submit() commits the run as `queued` (durable: group-committed through the store)
// before it returns, then hands it to the scheduler (or, when its org has room, commits it
// straight as `running` and hands it to a free worker). A caller that waits for the
// outcome anyway may let Submit execute a side-effect-free workflow (no action, child
// workflow or approval step: model::Workflow::side_effect_free) itself, on the calling
// thread, when the org has room: the run counts against the org's limit while it
// executes and is committed ONCE, straight in its final state, with its audit event, the
// caller's in_commit work and the on_final hook. Nothing observable happens before that
// commit, so a crash before it loses nothing that was promised (Submit had not returned). Workers take runs org by org, round
// robin, with at most the org's `max_concurrent_runs` running at once; the rest wait
// queued (they never fail for lack of capacity). A worker first commits the run as
// `running` (attempts + 1), executes it with the engine, then commits the final status
// and the run record.
//
// Recovery (Start): runs found `queued` are scheduled again; runs found `running` were
// interrupted by a crash: they are failed with code `interrupted` (never silently run
// twice, since their side effects may have happened).
//
// Approvals: a run that reaches an approval step is committed as `awaiting_approval`
// (with wake_at = the approval's timeout) and leaves memory. It comes back as `queued`
// when a decision settles the step (RecordApprovalDecision, then Resume) or when a
// background sweep finds its timeout passed; the worker then executes it again with its
// stored record (engine::Resume), which replays what already happened. A restart in
// between loses nothing: the state is in the store.
//
// Thread-safety: all methods are thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "rampart/core/result.h"
#include "rampart/engine/engine.h"
#include "rampart/runs/run_quota.h"
#include "rampart/store/store.h"

namespace rampart::runs {

struct RunServiceOptions {
  int workers = 0;                // 0: max(2, 2 * hardware_concurrency)
  int default_org_limit = 10;     // used when the org row says 0
  int max_org_limit = 100;
  size_t max_queued = 100000;     // Submit beyond this: kRateLimited
  // engine::Env::max_run_record_bytes of every run.
  size_t max_run_record_bytes = engine::kDefaultMaxRunRecordBytes;
  // engine::RunRequest::redaction of every run (config `redaction`).
  redact::Policy redaction = redact::Policy::kRedact;
  // How often the sweep looks for approvals whose timeout passed.
  std::chrono::milliseconds wake_interval{1000};
  // Runs (any status) one org keeps in the store (config `quotas.runs`, 1..1e9): past it
  // a submission, or a `workflow` step's child run, is refused with kLimitExceeded and
  // nothing is stored. See rampart/runs/run_quota.h.
  int64_t max_runs_per_org = kDefaultMaxRunsPerOrg;
  // How long a run executed inline (on the submitting thread: an io thread of the
  // server) may go on before it is handed to a worker: a step that would start later is
  // not started there; the run is committed as queued and a worker runs it from the
  // start (its steps touched nothing outside the record). Bounds how long one request
  // can hold an io thread, whatever the workflow computes.
  std::chrono::milliseconds inline_budget{50};
  // A worker's commit of a run's state (running, its final state) that fails is retried
  // after this delay, doubled up to commit_retry_max, until it lands or Stop().
  std::chrono::milliseconds commit_retry_initial{50};
  std::chrono::milliseconds commit_retry_max{5000};
};

// Services of one run that depend on its org: the connectors its action steps may name
// (secrets decrypted on use) and where security events go. Either may be null.
struct RunServices {
  std::unique_ptr<actions::ConnectorResolver> connectors;
  std::unique_ptr<engine::SecurityEvents> security;
};

// What the engine needs besides the store: actions and logs (clock/random optional).
struct RunEnvironment {
  Clock* clock = &SystemClock();
  // Run ids and retry jitter: public values drawn on every run (see IdRandom()).
  Random* random = &IdRandom();
  const actions::Registry* actions = nullptr;
  actions::LogSink* log = nullptr;
  // Called once per executed run (on the worker thread); null: no connectors.
  std::function<RunServices(const store::Run& run)> per_run;
  // Called inside the write that commits an executed run's final status (or
  // awaiting_approval), on the worker thread, so what it writes (outbound hook
  // deliveries) commits with the run. An error rolls its writes back; the run's status
  // is then committed without them. Null: nothing.
  std::function<Status(store::Tx& tx, const store::Run& run, const model::Workflow& workflow)>
      on_final;
  // Called after that write committed (e.g. to wake a hook dispatcher when the workflow
  // has hooks), on the same thread. Null: nothing.
  std::function<void(const store::Run& run, const model::Workflow& workflow)> after_final;
};

struct Submission {
  std::string org_id;
  std::string workflow_id;
  int version = 0;                          // a concrete version (the caller resolved live/draft)
  // store::Workflow::generation of the row the caller resolved the version from (0: Submit
  // reads the row; a workflow deleted meanwhile refuses the run not_found).
  int64_t workflow_generation = 0;
  boost::json::value input = boost::json::object();
  boost::json::value trigger = nullptr;     // {type: "api"|"webhook"|..., received_at, ...}
  std::string actor;                        // "user:usr_..", "key:key_..", "public", "hook:.."
  // Appended in the same commit as the queued run (target = the run id), so "run
  // started" is audited exactly when the run is accepted.
  std::optional<store::AuditEvent> audit;
  // More work for the same commit as the queued run (e.g. recording the webhook delivery
  // id that started it). Its error fails the submission and rolls everything back.
  std::function<Status(store::Tx&, const store::Run&)> in_commit;
  // The loaded definition of exactly (org_id, workflow_id, version), when the caller
  // already read that stored version (e.g. in its request's read transaction): Submit
  // then does not read it again. Null: Submit reads and loads it.
  std::shared_ptr<const model::Workflow> workflow;
  // A side-effect-free workflow may be executed inline and returned final (see the top
  // of this file): set by callers that wait for the outcome (`wait` on the API, sync
  // triggers) and by webhook triggers, for which one final commit replaces two.
  bool may_run_inline = false;
};

struct RunStats {
  int64_t queued = 0;    // waiting in memory
  int64_t running = 0;
  int64_t succeeded = 0;  // finished since start
  int64_t failed = 0;
  int64_t cancelled = 0;
  int64_t handed_over = 0;  // inline runs that used up inline_budget and went to a worker
  int64_t waiters = 0;      // WaitAsync callers waiting now (their `done` not called yet)
};

class RunService {
 public:
  RunService(store::Store& store, RunEnvironment env, RunServiceOptions options);
  ~RunService();  // Stop(0) if still running
  RunService(const RunService&) = delete;
  RunService& operator=(const RunService&) = delete;

  // Recovers runs left by a previous process (see above) and starts the workers.
  Status Start();

  // Validates the input against the version's `inputs` schema (kInvalidInput with the
  // validation errors in the message, nothing stored), checks the org's stored-run quota
  // (kLimitExceeded, nothing stored: see RunQuota; first cheaply, then exactly in the
  // commit, so an inline run may execute and still be refused at its commit), commits the run as queued and
  // schedules it (SubmitAsync, waited for: it blocks this thread during the commit). Returns the stored run (id, status queued or running; with
  // may_run_inline, possibly its final state, record included).
  // kNotFound when the workflow version does not exist in that org.
  Result<store::Run> Submit(Submission submission);

  // Waits up to `timeout` for the run to reach a final status (or awaiting_approval).
  // Returns the stored run when it did, nullopt on timeout. Cheap when already final.
  // (WaitAsync, waited for.)
  std::optional<store::Run> Wait(std::string_view org_id, std::string_view run_id,
                                 std::chrono::milliseconds timeout);

  // Submit() without blocking on the commit: `done` is called exactly once with what
  // Submit() would have returned, on the store's writer thread or a worker (or on the
  // calling thread, for errors found before the commit). An inline run (may_run_inline)
  // executes on the calling thread before its commit is queued. `done` comes only after
  // the commit is durable, and after the service's memory shows the run (a WaitAsync
  // from inside `done` finds it). Keep `done` short; it may call SubmitAsync/WaitAsync,
  // never the blocking Submit/Wait/Stop (they would wait for the thread running it).
  // Stop() returns only after every accepted SubmitAsync's `done` returned. The
  // submission (its in_commit and what that captures) is used until the commit, after
  // SubmitAsync returned: what it refers to must live until `done` is called.
  void SubmitAsync(Submission submission, std::function<void(Result<store::Run>)> done);

  // Wait() without blocking: `done` is called exactly once with the run once it is final
  // (or awaiting_approval), or nullopt when `timeout` passed first or the service stopped
  // before the run settled; on the thread that settled the run (a worker, the store's
  // writer thread, a Cancel caller), the service's timer thread, the thread in Stop(), or
  // on the calling thread when the outcome is known at once. Never called while the
  // service holds its lock. Keep `done` short, with the same limits as SubmitAsync's.
  // Every pending `done` is called before Stop() returns. Returns the wait's id for
  // EndWait (never 0) while `done` is pending, or 0 when it was already called.
  uint64_t WaitAsync(std::string_view org_id, std::string_view run_id,
                     std::chrono::milliseconds timeout,
                     std::function<void(std::optional<store::Run>)> done);

  // Ends the wait `waiter_id` (from WaitAsync on that run) now, as if its timeout passed:
  // its `done` is called with nullopt on this thread, unless it was already called (the
  // run settled, the timeout passed, Stop()), then nothing happens; 0 is ignored. The run
  // goes on. The API calls it when the client that waits has gone (its connection closed),
  // so an abandoned wait holds nothing until its deadline.
  void EndWait(std::string_view org_id, std::string_view run_id, uint64_t waiter_id);

  // Calls every pending WaitAsync `done` now with nullopt (as if its timeout passed);
  // the runs go on, and later waits are served as usual. `serve` calls it when its
  // shutdown's request drain ends, so each waiting caller still gets its run's id.
  void ReleaseWaiters();

  // Schedules a run that was committed back to `queued` from awaiting_approval (see
  // RecordApprovalDecision). A run that is not queued in the store, or already
  // scheduled, is left alone; while stopping it stays queued for the next start. When
  // the run cannot be read, the error is returned and the wake loop tries again.
  Status Resume(std::string_view org_id, std::string_view run_id);

  // Cancels a queued (or awaiting_approval) run at once (committed as cancelled) or asks a
  // running one to stop between steps. Returns the run's status after the call:
  // "cancelled", or "running" when it was asked to stop. kNotFound for an unknown run of
  // that org; kConflict when already final.
  Result<std::string> Cancel(std::string_view org_id, std::string_view run_id);

  RunStats Stats() const;

  // The stored-run counts of the orgs (retention reports what it deletes to it).
  RunQuota& quota();

  // Applies a new concurrency limit of an org at once (clamped to [1, max_org_limit];
  // 0 = the default). Queued runs start if the new limit leaves room.
  void SetOrgLimit(std::string_view org_id, int limit);

  // Stops taking new runs (submissions whose commit is in flight complete first), lets
  // running ones finish until `drain` passes (then asks them to cancel and waits for
  // them; a run cut here stays `running` and is recovered as `interrupted` on the next
  // start), joins the workers. Queued runs stay queued; their waiters get nullopt.
  void Stop(std::chrono::milliseconds drain);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Loads a stored workflow version into an engine Workflow (cached: a version is immutable
// while its workflow lives, but a workflow deleted and created again under its id has
// the same version numbers, so an entry is served only for the same definition text).
// Also used by the API to resolve child workflows of the same org.
class WorkflowCache {
 public:
  explicit WorkflowCache(store::Store& store, size_t capacity = 1024);
  ~WorkflowCache();
  // Reads the version from the store (one read transaction), then as below. With a
  // `generation`, kNotFound unless the workflow row is still that one (store::Workflow).
  Result<std::shared_ptr<const model::Workflow>> Get(
      std::string_view org_id, std::string_view workflow_id, int version,
      std::optional<int64_t> generation = std::nullopt);
  // The version `run` runs: as above, but kNotFound unless the workflow row is still the
  // generation the run started under. Another one is a workflow created again under the
  // id after the run's was deleted, whose versions must not execute (or be hooked) for a
  // run of the deleted one.
  Result<std::shared_ptr<const model::Workflow>> GetForRun(const store::Run& run);
  // The same for a version the caller already read: no store access, and a cached entry
  // whose definition text differs (the workflow was deleted and re-created under the same
  // id) is replaced instead of served.
  Result<std::shared_ptr<const model::Workflow>> Get(const store::WorkflowVersion& stored);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::runs
