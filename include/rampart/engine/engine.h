// The execution engine: runs a loaded Workflow against an input and produces the run
// record of spec/workflow.md.
//
// The engine is synchronous and re-entrant: Engine::Run may be called concurrently from
// many threads on the same Engine (each run keeps its own state). Time, randomness,
// actions, child workflows and logs come through the injected Env, so tests are
// deterministic.
#pragma once

#include <atomic>
#include <cstddef>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "rampart/actions/action.h"
#include "rampart/core/clock.h"
#include "rampart/core/result.h"
#include "rampart/model/workflow.h"
#include "rampart/redact/redact.h"
#include "rampart/schema/schema.h"

namespace rampart::engine {

// Where `workflow` steps find their children (the same org's live versions in the
// server; a directory for local runs).
class WorkflowSource {
 public:
  virtual ~WorkflowSource() = default;
  // kNotFound when there is no such workflow; kInvalidDefinition when it does not load.
  virtual Result<std::shared_ptr<const model::Workflow>> Find(std::string_view id) = 0;
  // Called once per child run, after Find and before the child starts: an error fails the
  // `workflow` step with it (the server's stored-run quota: kLimitExceeded). Default: Ok.
  virtual Status BeginChildRun() { return Status::Ok(); }
};

// Security-relevant events of a run, for the audit log. Implementations are thread-safe.
class SecurityEvents {
 public:
  virtual ~SecurityEvents() = default;
  // A step output carried a secret value under the `block` policy (the step failed with
  // secret_exposure). Never receives the value.
  virtual void SecretExposureAttempt(std::string_view run_id, std::string_view workflow,
                                     std::string_view step_path) = 0;
};

// The default bound on what one run tree records (Env::max_run_record_bytes), and the
// range the server's `max_run_record_bytes` setting accepts.
inline constexpr size_t kDefaultMaxRunRecordBytes = size_t{16} << 20;
inline constexpr size_t kMinMaxRunRecordBytes = size_t{1} << 20;
inline constexpr size_t kMaxMaxRunRecordBytes = size_t{256} << 20;

struct Env {
  Clock* clock = &SystemClock();
  Random* random = &SystemRandom();
  const actions::Registry* actions = nullptr;  // null: every action step fails unknown_action
  WorkflowSource* workflows = nullptr;         // null: every workflow step fails not_found
  actions::LogSink* log = nullptr;             // null: log lines are dropped
  // Connectors that action steps may name; null: such steps fail (permission_denied).
  const actions::ConnectorResolver* connectors = nullptr;
  SecurityEvents* security = nullptr;           // null: events are dropped
  // The org the run belongs to ("" for local runs): scopes per-org resources of actions
  // (db.query's database).
  std::string org = {};
  // The run record budget (ASVS V15.2.2): the serialized bytes that one run and its child
  // runs may record and keep (the run input; each step's record entry: input, output,
  // decision values, error, plus its path and fixed keys; for_each and branch outputs;
  // the run output). Counted once per value as steps finish; a step that would pass it
  // fails with kLimitExceeded and its oversized value is not recorded.
  size_t max_run_record_bytes = kDefaultMaxRunRecordBytes;
};

// A run that stopped in awaiting_approval, to be executed again once its approval is
// decided or timed out. Expressions are pure (no `now`, no randomness), so running the
// workflow again on the same input replays every decision; steps with side effects that
// already succeeded (actions, child workflows, granted approvals) are not executed again:
// their recorded results are used. The approval step reads its decisions from the
// record (`approvals` of its step record, written by the approvals API).
struct Resume {
  boost::json::object record;   // the record the run stopped with
  int64_t approval_timeout_at_ms = 0;  // when the awaited approval times out; 0: never
};

struct RunRequest {
  boost::json::value input = boost::json::object();
  boost::json::value trigger = nullptr;  // {type, received_at, delivery_id}
  int version = 1;
  std::string run_id;                    // generated when empty
  int call_depth = 1;                    // 1 for a top-level run
  // Set from another thread to cancel; checked between steps.
  const std::atomic<bool>* cancel = nullptr;
  // Absolute deadline inherited by child runs (the earlier of this and the timeout wins).
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // For a run executed inline on a caller's thread (side-effect-free workflows only):
  // a step that would start at or after this instant is not started; the run ends with
  // RunResult::yielded and its result is to be discarded (nothing of it was observable),
  // so that the caller hands the run to a worker instead of holding its own thread.
  std::optional<std::chrono::steady_clock::time_point> yield_at;
  // Asked once yield_at has passed, before yielding (null: yield): false goes on. Lets the
  // caller count only the time its thread computed, not time it was preempted.
  std::function<bool()> yield_confirm;
  // What a secret value found in a step output does: `redact` replaces it, `block` fails
  // the step with secret_exposure. Every other exit (record, errors, logs, response) is
  // always redacted.
  redact::Policy redaction = redact::Policy::kRedact;
  // The secret values the run decrypted (filled as connectors resolve); shared with child
  // runs. Null: the engine makes one per run.
  std::shared_ptr<redact::SecretSet> secrets;
  // Set when this executes a run that waited for an approval.
  std::optional<Resume> resume;
  // The bytes the run tree has counted against Env::max_run_record_bytes so far; a child
  // run adds to its parent's count. Null: the run counts from 0. Must outlive Run.
  size_t* record_bytes = nullptr;
};

struct Response {
  int status = 200;
  boost::json::value body;
};

// Where a run in awaiting_approval waits.
struct Awaiting {
  std::string step;              // the approval step's path
  int64_t timeout_at_ms = 0;     // unix ms when it times out; 0: never
};

struct RunResult {
  boost::json::object record;          // exactly the run record of spec/workflow.md
  std::string status;                  // record["status"]
  std::optional<Error> error;          // set unless succeeded
  std::optional<Response> response;    // the first `respond` step's response
  std::vector<RunResult> children;     // child runs of `workflow` steps, in order
  std::optional<Awaiting> awaiting;    // set when status is awaiting_approval
  // The bytes counted against Env::max_run_record_bytes when the run ended, child runs
  // included (for a child run: its parent's count so far, too).
  size_t record_bytes = 0;
  // Stopped at RunRequest::yield_at: the record is incomplete and must not be kept.
  bool yielded = false;
  bool succeeded() const { return status == "succeeded"; }
};

class Engine {
 public:
  explicit Engine(Env env);

  // Validates `input` against the workflow's inputs schema.
  std::vector<schema::ValidationError> ValidateInput(const model::Workflow& workflow,
                                                     const boost::json::value& input) const;

  // Runs to completion, failure, timeout, cancellation or an approval wait. Never
  // throws; an invalid input fails the run with kInvalidInput before any step.
  RunResult Run(const model::Workflow& workflow, RunRequest request) const;

  const Env& env() const { return env_; }

 private:
  Env env_;
};

// "run_" + 26 lowercase base32 characters: 48 bits of `now` in milliseconds, then 80
// random bits. Ids of runs created later sort after (as strings, from one millisecond
// on), so the store's index on run ids grows at its right edge instead of touching a
// random page per run; 80 bits keep them unguessable.
std::string NewRunId(Random& random, std::chrono::system_clock::time_point now);

}  // namespace rampart::engine
