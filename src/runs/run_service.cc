// RunService: the durable queue in front of the engine.
//
// Durability rule: the store is the truth, memory follows it. Every state change of a run
// (queued, running, final) is committed before memory shows it, so a crash at any point
// leaves runs that Start() can classify: still `queued` -> never started, safe to run;
// `running` -> maybe half done, failed as `interrupted` rather than run twice.
// A worker's commit that fails (a full disk, an I/O error) is retried with a capped
// backoff until it lands (CommitWithRetry): the run stays in memory meanwhile, its
// waiters wait, and only Stop() gives up, leaving the store as recovery expects it.
//
// Memory holds only runs that are queued or running in this process (`runs_`); a run
// leaves memory as soon as its final state is committed, and later readers go to the
// store.
//
// Asynchronous completions. SubmitAsync commits through Store::WriteAsync: everything up
// to the commit (validation, the max_queued reservation, the fast paths, an inline run's
// execution) happens on the calling thread; what follows the commit (runs_, the queue or
// a worker, the org's limit, the slot of a failed commit) happens in the store's
// completion, after the commit is durable, and only then is the caller's `done` called.
// Waiters are callbacks on their run's entry (WaitAsync), called outside mu_ when the
// run is published (Finish) or abandoned; their timeouts sit in one ordered map served
// by a timer thread, so a waiting caller costs no thread. Submit() and Wait() are these
// plus a promise: one code path. Stop() waits for in-flight commits and completes every
// pending waiter before it returns, so no callback outlives the service.
#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "rampart/core/backoff.h"
#include "rampart/core/json.h"
#include "rampart/runs/runs.h"

namespace rampart::runs {
namespace {

namespace bj = boost::json;

constexpr size_t kMaxInputErrorsInMessage = 3;
// Batch size when failing interrupted runs at start-up.
constexpr int kRecoveryBatch = 500;

using SubmitDone = std::function<void(Result<store::Run>)>;
using WaitDone = std::function<void(std::optional<store::Run>)>;
using SteadyTime = std::chrono::steady_clock::time_point;

// Calls a caller's callback: its exception must not unwind a worker, the timer thread or
// the store's writer thread (the service's bookkeeping after it would be skipped).
template <typename Fn, typename Value>
void Deliver(Fn& fn, Value value) {
  if (!fn) return;
  try {
    fn(std::move(value));
  } catch (...) {
  }
}

// When a wait of `timeout` from now ends; a huge timeout never does (no overflow).
SteadyTime DeadlineAfter(std::chrono::milliseconds timeout) {
  if (timeout < std::chrono::milliseconds(0)) timeout = std::chrono::milliseconds(0);
  if (timeout >= std::chrono::hours(24 * 365)) return SteadyTime::max();
  return std::chrono::steady_clock::now() + timeout;
}

bj::value RfcOrNull(store::Millis ms) {
  if (ms <= 0) return nullptr;
  return bj::value(FormatRfc3339Millis(ms));
}

bj::value ParseOr(std::string_view text, bj::value fallback) {
  if (text.empty()) return fallback;
  auto parsed = json::Parse(text);
  return parsed.ok() ? std::move(*parsed) : std::move(fallback);
}

// The run record of a run the engine never finished (cancelled while queued, interrupted
// by a crash, failed before it could start): the shape of spec/workflow.md, with the
// `steps` that did run, if any.
std::string MinimalRecord(const store::Run& run, std::string_view status, const Error& error,
                          store::Millis finished_at, bj::array steps = {}) {
  bj::object rec;
  rec["run_id"] = run.id;
  rec["workflow"] = run.workflow_id;
  rec["version"] = run.version;
  rec["status"] = status;
  rec["input"] = ParseOr(run.input, nullptr);
  rec["output"] = nullptr;
  bj::object err;
  err["code"] = error.code_name();
  err["message"] = error.message;
  rec["error"] = std::move(err);
  rec["started_at"] = RfcOrNull(run.started_at);
  rec["finished_at"] = RfcOrNull(finished_at);
  rec["steps"] = std::move(steps);
  return json::Serialize(rec);
}

// The record of a run failed as interrupted at start-up. A run that resumed after an
// approval wait was stored with the record of its execution up to the wait (the steps
// that ran, the approval decisions): those steps stay, since they did happen; a run cut
// in its first execution has no stored steps and gets the minimal record.
std::string InterruptedRecord(const store::Run& run, const Error& error,
                              store::Millis finished_at) {
  bj::value previous = ParseOr(run.record, nullptr);
  bj::array steps;
  if (bj::object* rec = previous.if_object()) {
    if (bj::value* s = rec->if_contains("steps"); s != nullptr && s->is_array()) {
      steps = std::move(s->get_array());
    }
  }
  return MinimalRecord(run, "failed", error, finished_at, std::move(steps));
}

// Resolves `workflow` steps to the live version of the run's own org. Memoized per run,
// so every call of the same child id inside one run uses the same version even if a new
// version is published meanwhile, and the version is known when the child row is stored.
class OrgWorkflowSource final : public engine::WorkflowSource {
 public:
  OrgWorkflowSource(store::Store& store, WorkflowCache& cache, RunQuota& quota,
                    std::string org_id)
      : store_(store), cache_(cache), quota_(quota), org_id_(std::move(org_id)) {}

  // Room for the child's row (written with the parent's final commit).
  Status BeginChildRun() override {
    Status claimed = quota_.ClaimChild(store_, org_id_);
    if (claimed.ok()) claims_.fetch_add(1, std::memory_order_relaxed);
    return claimed;
  }
  // Child runs claimed so far (each to be ended with RunQuota::EndClaims).
  int64_t claims() const { return claims_.load(std::memory_order_relaxed); }

  Result<std::shared_ptr<const model::Workflow>> Find(std::string_view id) override {
    std::lock_guard lock(mu_);
    if (auto it = resolved_.find(std::string(id)); it != resolved_.end()) return it->second.workflow;
    // One snapshot for the workflow row and its live version's definition.
    std::optional<store::WorkflowVersion> live;
    int64_t generation = 0;
    Status read = store_.Read([&](store::Tx& tx) -> Status {
      auto wf = tx.GetWorkflow(org_id_, id);
      if (!wf.ok()) return wf.error();
      if (!*wf || (*wf)->live_version <= 0) return Status::Ok();
      generation = (*wf)->generation;
      auto v = tx.GetWorkflowVersion(org_id_, id, (*wf)->live_version);
      if (!v.ok()) return v.error();
      live = std::move(*v);
      return Status::Ok();
    });
    if (!read.ok()) return read.error();
    if (!live) return MakeError(ErrorCode::kNotFound, "workflow " + std::string(id) + " not found");
    auto loaded = cache_.Get(*live);
    if (!loaded.ok()) return loaded.error();
    resolved_.emplace(std::string(id), Resolved{live->version, generation, *loaded});
    return *loaded;
  }

  // The version Find resolved for `id` (0 if it never did).
  int VersionOf(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = resolved_.find(id);
    return it == resolved_.end() ? 0 : it->second.version;
  }
  // The generation of the workflow row Find resolved `id` from (0 if it never did).
  int64_t GenerationOf(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = resolved_.find(id);
    return it == resolved_.end() ? 0 : it->second.generation;
  }
  // The definition Find resolved for `id` (null if it never did).
  std::shared_ptr<const model::Workflow> WorkflowOf(const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = resolved_.find(id);
    return it == resolved_.end() ? nullptr : it->second.workflow;
  }

 private:
  store::Store& store_;
  WorkflowCache& cache_;
  RunQuota& quota_;
  const std::string org_id_;
  std::atomic<int64_t> claims_{0};
  std::mutex mu_;
  // GUARDED_BY(mu_)
  struct Resolved {
    int version = 0;
    int64_t generation = 0;
    std::shared_ptr<const model::Workflow> workflow;
  };
  std::unordered_map<std::string, Resolved> resolved_;
};

enum class State {
  kQueued,     // in its org's queue
  kRunning,    // taken by a worker
  kFinishing,  // being cancelled from the queue (commit in flight)
  kDone,       // final (or awaiting_approval) state committed; `run` holds it
  kAbandoned,  // cut by Stop(): left `running` in the store for the next start
};

// A WaitAsync caller registered on a run's entry.
struct Waiter {
  uint64_t id = 0;
  SteadyTime deadline;  // SteadyTime::max(): no timer
  WaitDone done;
};

struct RunEntry {
  // GUARDED_BY(Impl::mu_): the last committed state, and the scheduling state.
  store::Run run;
  State state = State::kQueued;
  bool user_cancelled = false;
  bool cut_by_stop = false;
  // Called (outside mu_) when the entry reaches kDone (the run) or kAbandoned (nullopt),
  // by the timer on their deadline (nullopt), or by Stop().
  std::vector<Waiter> waiters;

  // Handed from Submit to the worker through the queue (the mutex orders the handoff);
  // empty for runs recovered at start-up, which load and parse lazily.
  std::shared_ptr<const model::Workflow> workflow;
  std::optional<bj::value> input;
  std::optional<bj::value> trigger;

  std::atomic<bool> cancel{false};  // read by the engine between steps
  // Committed as `running` by Submit itself (the fast path), so the worker does not
  // commit the queued -> running transition again.
  bool prestarted = false;
  // A run gives its slot back once the engine finished, before its final commit: the
  // org's limit bounds runs that execute, and a commit in flight executes nothing.
  bool slot_released = false;
};

using EntryPtr = std::shared_ptr<RunEntry>;

// A queued (or direct) submission between its SubmitAsync call and its completion.
struct PendingSubmit {
  store::Run run;
  Submission submission;
  std::shared_ptr<const model::Workflow> workflow;
  std::optional<store::Org> org;
  bool need_org = false;
  bool direct = false;
  RunQuotaTicket quota;  // the commit's change of the org's run count
  SubmitDone done;
};

// CPU time the calling thread has used (CLOCK_THREAD_CPUTIME_ID).
std::chrono::nanoseconds ThreadCpuTime() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// An inline run between its execution and its commit's completion.
struct InlineCommit {
  EntryPtr entry;
  Submission submission;
  std::shared_ptr<const model::Workflow> workflow;
  store::Run committed;
  bool cut = false;
  bool handed_over = false;  // stopped at the inline budget: committed queued, for a worker
  bool with_hooks = true;
  bool hook_failed = false;  // set by the write function, read by its completion
  RunQuotaTicket quota;      // the commit's change of the org's run count
  SubmitDone done;
};

struct OrgQueue {
  std::deque<EntryPtr> queue;
  int running = 0;
  int limit = 0;          // 0: not known yet
  bool in_ready = false;  // listed in Impl::ready_
};

}  // namespace

class RunService::Impl {
 public:
  Impl(store::Store& store, RunEnvironment env, RunServiceOptions options)
      : store_(store), env_(env), options_(options), cache_(store),
        quota_(options.max_runs_per_org),
        validator_(engine::Env{env.clock, env.random, env.actions, nullptr, env.log}) {
    if (options_.workers <= 0) {
      options_.workers = std::max(2, 2 * static_cast<int>(std::thread::hardware_concurrency()));
    }
    if (options_.max_org_limit < 1) options_.max_org_limit = 1;
    if (options_.default_org_limit < 1) options_.default_org_limit = 1;
    timer_ = std::thread([this] { TimerLoop(); });
  }

  ~Impl() { Stop(std::chrono::milliseconds(0)); }

  Status Start() {
    {
      std::lock_guard lock(mu_);
      if (started_ || closing_) {
        return MakeError(ErrorCode::kConflict, "the run service was already started");
      }
      started_ = true;
    }
    if (Status s = FailInterrupted(); !s.ok()) return s;
    if (Status s = RequeueQueued(); !s.ok()) return s;
    std::lock_guard lock(mu_);
    if (closing_) return Status::Ok();  // Stop() raced with the recovery: start nothing
    for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
    workers_.emplace_back([this] { WakeLoop(); });
    return Status::Ok();
  }

  Status Resume(std::string_view org_id, std::string_view run_id) {
    bool need_org = false;
    {
      std::lock_guard lock(mu_);
      if (stopping_ || FindEntry(org_id, run_id)) return Status::Ok();
      auto it = orgs_.find(std::string(org_id));
      need_org = it == orgs_.end() || it->second.limit == 0;
    }
    std::optional<store::Run> run;
    std::optional<store::Org> org;
    Status read = store_.Read([&](store::Tx& tx) -> Status {
      auto r = tx.GetRun(org_id, run_id);
      if (!r.ok()) return r.error();
      run = std::move(*r);
      if (run && need_org) {
        auto o = tx.GetOrg(org_id);
        if (!o.ok()) return o.error();
        org = std::move(*o);
      }
      return Status::Ok();
    });
    if (!read.ok()) {
      // The run is `queued` in the store and only this read stands between it and a
      // worker: the wake loop tries again, rather than leave it to the next start.
      std::lock_guard lock(mu_);
      if (!stopping_) unresumed_.emplace(std::string(org_id), std::string(run_id));
      return read;
    }
    if (!run) return MakeError(ErrorCode::kNotFound, "run not found");
    if (run->status != "queued") return Status::Ok();  // settled or scheduled elsewhere
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Ok();
    LearnLimit(run->org_id, org);
    ScheduleStored(std::move(*run));
    return Status::Ok();
  }

  void SubmitAsync(Submission s, SubmitDone done) {
    auto refuse = [&done](Error error) { Deliver(done, Result<store::Run>(std::move(error))); };
    bool need_org = false;
    bool closed = false;
    {
      std::lock_guard lock(mu_);
      closed = closing_;
      auto it = orgs_.find(s.org_id);
      need_org = it == orgs_.end() || it->second.limit == 0;
    }
    // Never called under mu_: `done` may call back into the service.
    if (closed) return refuse(MakeError(ErrorCode::kRateLimited, "the server is shutting down"));
    // The org's stored-run quota, before any work (checked exactly in the commit).
    if (Status room = quota_.Precheck(s.org_id); !room.ok()) return refuse(room.error());
    std::optional<store::WorkflowVersion> version;
    std::optional<store::Org> org;
    const bool need_version = s.workflow == nullptr;
    // The version read here must be the generation's the run is stamped with.
    const bool need_row = need_version || s.workflow_generation == 0;
    bool workflow_gone = false;
    if (need_row || need_org) {
      Status read = store_.Read([&](store::Tx& tx) -> Status {
        if (need_row) {
          auto row = tx.GetWorkflow(s.org_id, s.workflow_id);
          if (!row.ok()) return row.error();
          if (!*row || (s.workflow_generation != 0 && (*row)->generation != s.workflow_generation)) {
            workflow_gone = true;
            return Status::Ok();
          }
          s.workflow_generation = (*row)->generation;
        }
        if (need_version) {
          auto v = tx.GetWorkflowVersion(s.org_id, s.workflow_id, s.version);
          if (!v.ok()) return v.error();
          version = std::move(*v);
          if (!version) return Status::Ok();
        }
        if (need_org) {
          auto o = tx.GetOrg(s.org_id);
          if (!o.ok()) return o.error();
          org = std::move(*o);
        }
        return Status::Ok();
      });
      if (!read.ok()) return refuse(read.error());
      if (workflow_gone || (need_version && !version)) {
        return refuse(MakeError(
            ErrorCode::kNotFound,
            "workflow " + s.workflow_id + " version " + std::to_string(s.version) + " not found"));
      }
    }
    Result<std::shared_ptr<const model::Workflow>> wf =
        need_version ? cache_.Get(*version) : Result<std::shared_ptr<const model::Workflow>>(s.workflow);
    if (!wf.ok()) return refuse(wf.error());
    if (auto errors = validator_.ValidateInput(**wf, s.input); !errors.empty()) {
      std::string msg = "input does not match the workflow's inputs schema: ";
      for (size_t i = 0; i < errors.size() && i < kMaxInputErrorsInMessage; ++i) {
        if (i) msg += "; ";
        msg += errors[i].instance_path.empty() ? "(root)" : errors[i].instance_path;
        msg += ": ";
        msg += errors[i].message;
      }
      if (errors.size() > kMaxInputErrorsInMessage) {
        msg += " (and " + std::to_string(errors.size() - kMaxInputErrorsInMessage) + " more)";
      }
      return refuse(MakeError(ErrorCode::kInvalidInput, std::move(msg)));
    }

    store::Run run;
    run.org_id = s.org_id;
    run.id = engine::NewRunId(*env_.random, env_.clock->Now());
    run.workflow_id = s.workflow_id;
    run.workflow_generation = s.workflow_generation;
    run.version = s.version;
    run.status = "queued";
    run.input = json::Serialize(s.input);
    run.trigger = json::Serialize(s.trigger);
    run.actor = s.actor;
    run.created_at = NowMs();

    bool direct = false;
    bool run_inline = false;
    EntryPtr inline_entry;
    std::optional<Error> refused;
    {
      // Reserve the queue slot before the commit, so concurrent submitters cannot all
      // pass the check and overshoot max_queued. Checked again under the same lock as
      // the reservation: once Stop() closed the service, no commit starts (Stop waits
      // for those already reserved).
      std::lock_guard lock(mu_);
      if (closing_) {
        refused = MakeError(ErrorCode::kRateLimited, "the server is shutting down");
      } else if (queued_ + reserved_ >= static_cast<int64_t>(options_.max_queued)) {
        refused = MakeError(ErrorCode::kRateLimited, "too many queued runs; retry later");
      } else {
        ++submits_in_flight_;
        if (s.may_run_inline) {
          // The org's limit is known from here on (the first run of an org may be inline).
          if (org) LearnLimit(run.org_id, *org);
          else if (need_org) LearnLimit(run.org_id, std::nullopt);
        }
        // Fast paths, only when the org has room and nothing of it waits (fairness: a run
        // never overtakes its org's queue). Both count against the org's limit at once.
        auto it = orgs_.find(run.org_id);
        const bool room = it != orgs_.end() && it->second.limit > 0 &&
                          it->second.queue.empty() && it->second.running < it->second.limit;
        if (room && started_ && s.may_run_inline && (*wf)->side_effect_free) {
          // Executed here, committed once in its final state (ExecuteInline). Listed in
          // runs_ at once, so a Stop() from now on sees it (and may cut it).
          TakeSlotAtSubmit(it->second, run);
          run_inline = true;
          inline_entry = std::make_shared<RunEntry>();
          inline_entry->run = run;
          inline_entry->state = State::kRunning;
          runs_.emplace(run.id, inline_entry);
        } else {
          ++reserved_;
          // When a worker is free too, the run is committed straight as `running` (one
          // durable commit instead of two). A crash after that commit fails it as
          // `interrupted` at the next start, exactly as for a run a worker had started:
          // never run twice.
          if (room && running_ < options_.workers) {
            TakeSlotAtSubmit(it->second, run);
            direct = true;
          }
        }
      }
    }
    if (refused) return refuse(std::move(*refused));
    if (s.audit.has_value()) {
      s.audit->target = run.id;
      s.audit->time = run.created_at;
    }
    if (run_inline) {
      ExecuteInline(inline_entry, std::move(s), std::move(*wf), std::move(done));
      return;
    }
    auto pending = std::make_shared<PendingSubmit>();
    pending->run = std::move(run);
    pending->submission = std::move(s);
    pending->workflow = std::move(*wf);
    pending->org = std::move(org);
    pending->need_org = need_org;
    pending->direct = direct;
    pending->done = std::move(done);
    store_.WriteAsync(
        [this, pending](store::Tx& tx) -> Status {
          const store::Run& row = pending->run;
          const Submission& sub = pending->submission;
          pending->quota.Reset();
          if (Status room = quota_.CheckInsert(tx, row.org_id, 1, &pending->quota); !room.ok()) {
            return room;
          }
          if (Status inserted = tx.InsertRun(row); !inserted.ok()) return inserted;
          if (sub.audit.has_value()) {
            auto appended = tx.AppendAudit(*sub.audit);
            if (!appended.ok()) return appended.error();
          }
          if (sub.in_commit) {
            if (Status st = sub.in_commit(tx, row); !st.ok()) return st;
          }
          quota_.Inserted(row.org_id, 1, &pending->quota);
          return Status::Ok();
        },
        [this, pending](Status written) {
          quota_.Complete(pending->quota, written);
          CompleteSubmit(*pending, std::move(written));
        });
  }

  // The queued (or direct) submission's commit completed: memory follows the store, then
  // the caller hears of it.
  void CompleteSubmit(PendingSubmit& p, Status written) {
    auto entry = std::make_shared<RunEntry>();
    entry->run = p.run;
    {
      std::lock_guard lock(mu_);
      if (--reserved_ == 0) idle_cv_.notify_all();
      if (!written.ok()) {
        if (p.direct) ReleaseSlot(*entry);
      } else {
        entry->workflow = std::move(p.workflow);
        entry->input = std::move(p.submission.input);
        entry->trigger = std::move(p.submission.trigger);
        if (p.org) LearnLimit(p.run.org_id, *p.org);
        else if (p.need_org) LearnLimit(p.run.org_id, std::nullopt);
        if (p.direct) {
          runs_.emplace(p.run.id, entry);
          entry->state = State::kRunning;
          entry->prestarted = true;
          direct_.push_back(entry);
          work_cv_.notify_one();
        } else if (runs_.emplace(p.run.id, entry).second) {
          Enqueue(entry);
        }
        // else: a recovery (Start) that read the store between the commit and this
        // completion already scheduled the queued run; it must not be queued twice.
      }
    }
    if (written.ok()) {
      Deliver(p.done, Result<store::Run>(std::move(p.run)));
    } else {
      Deliver(p.done, Result<store::Run>(written.error()));
    }
    EndSubmit();
  }

  // A SubmitAsync call is over (its `done` returned).
  void EndSubmit() {
    std::lock_guard lock(mu_);
    if (--submits_in_flight_ == 0) idle_cv_.notify_all();
  }

  uint64_t WaitAsync(std::string_view org_id, std::string_view run_id,
                     std::chrono::milliseconds timeout, WaitDone done) {
    const SteadyTime deadline = DeadlineAfter(timeout);
    {
      std::unique_lock lock(mu_);
      if (EntryPtr e = FindEntry(org_id, run_id)) {
        if (const uint64_t id = AddWaiter(e, deadline, done)) return id;
        // Not registered: the deadline is already over (timeout 0), or Stop() ended
        // waiting for runs that never settled here.
        lock.unlock();
        Deliver(done, std::optional<store::Run>());
        return 0;
      }
    }
    std::optional<store::Run> stored;
    Status read = store_.Read([&](store::Tx& tx) -> Status {
      auto r = tx.GetRun(org_id, run_id);
      if (!r.ok()) return r.error();
      stored = std::move(*r);
      return Status::Ok();
    });
    if (!read.ok() || !stored) {
      Deliver(done, std::optional<store::Run>());
      return 0;
    }
    if (store::IsFinalRunStatus(stored->status) || stored->status == "awaiting_approval") {
      Deliver(done, std::move(stored));
      return 0;
    }
    // Queued or running in the store but was not in memory a moment ago: recovery may
    // just have scheduled it. Anything else is not ours to wait for.
    {
      std::lock_guard lock(mu_);
      if (EntryPtr e = FindEntry(org_id, run_id)) {
        if (const uint64_t id = AddWaiter(e, deadline, done)) return id;
      }
    }
    Deliver(done, std::optional<store::Run>());
    return 0;
  }

  void EndWait(std::string_view org_id, std::string_view run_id, uint64_t waiter_id) {
    if (waiter_id == 0) return;
    std::optional<WaitDone> done;
    {
      std::lock_guard lock(mu_);
      EntryPtr e = FindEntry(org_id, run_id);
      if (e == nullptr) return;  // settled (and delivered) meanwhile
      done = TakeWaiter(*e, waiter_id);
      if (!done) return;  // delivered meanwhile (settled, expired, Stop)
    }
    Deliver(*done, std::optional<store::Run>());
  }

  Result<store::Run> Submit(Submission s) {
    std::promise<Result<store::Run>> promise;
    std::future<Result<store::Run>> result = promise.get_future();
    SubmitAsync(std::move(s),
                [&promise](Result<store::Run> r) { promise.set_value(std::move(r)); });
    return result.get();
  }

  std::optional<store::Run> Wait(std::string_view org_id, std::string_view run_id,
                                 std::chrono::milliseconds timeout) {
    std::promise<std::optional<store::Run>> promise;
    std::future<std::optional<store::Run>> result = promise.get_future();
    WaitAsync(org_id, run_id, timeout,
              [&promise](std::optional<store::Run> r) { promise.set_value(std::move(r)); });
    return result.get();
  }

  Result<std::string> Cancel(std::string_view org_id, std::string_view run_id) {
    EntryPtr entry;
    store::Run run;
    {
      std::lock_guard lock(mu_);
      entry = FindEntry(org_id, run_id);
      if (entry) {
        switch (entry->state) {
          case State::kRunning:
            entry->user_cancelled = true;
            entry->run.cancel_requested = true;
            entry->cancel.store(true, std::memory_order_relaxed);
            return std::string("running");
          case State::kFinishing:
            return std::string("cancelled");  // a cancel of the queued run is being committed
          case State::kDone:
          case State::kAbandoned:
            return MakeError(ErrorCode::kConflict, "the run already finished");
          case State::kQueued: {
            OrgQueue& q = orgs_[entry->run.org_id];
            auto it = std::find(q.queue.begin(), q.queue.end(), entry);
            RAMPART_CHECK(it != q.queue.end());
            q.queue.erase(it);
            --queued_;
            entry->state = State::kFinishing;
            entry->user_cancelled = true;
            run = entry->run;
            break;
          }
        }
      }
    }
    if (!entry) {
      if (Status s = CancelStored(org_id, run_id); !s.ok()) return s.error();
      return std::string("cancelled");
    }

    store::Run cancelled = CancelledRun(run);
    Status written = store_.Write([&](store::Tx& tx) { return tx.UpdateRun(cancelled); });
    if (!written.ok()) {
      // Still queued in the store: put it back where it was.
      std::lock_guard lock(mu_);
      entry->state = State::kQueued;
      entry->user_cancelled = false;
      OrgQueue& q = orgs_[run.org_id];
      q.queue.push_front(entry);
      ++queued_;
      MaybeReady(run.org_id, q);
      return written.error();
    }
    Finish(entry, std::move(cancelled));
    return std::string("cancelled");
  }

  RunQuota& quota() { return quota_; }

  RunStats Stats() const {
    std::lock_guard lock(mu_);
    RunStats stats = stats_;
    stats.queued = queued_;
    stats.running = running_;
    for (const auto& [id, e] : runs_) stats.waiters += static_cast<int64_t>(e->waiters.size());
    return stats;
  }

  void Stop(std::chrono::milliseconds drain) {
    std::lock_guard stop_lock(stop_mu_);
    std::vector<std::thread> workers;
    {
      std::unique_lock lock(mu_);
      // No submission reserves from now on; those whose commit is in flight complete
      // first (a commit takes a moment): a direct one still needs a worker to run it.
      closing_ = true;
      idle_cv_.wait(lock, [&] { return reserved_ == 0; });
      stopping_ = true;
      work_cv_.notify_all();
      wake_cv_.notify_all();
      retry_cv_.notify_all();
      idle_cv_.wait_for(lock, drain, [&] { return running_ == 0; });
      if (running_ > 0) {
        for (auto& [id, e] : runs_) {
          if (e->state != State::kRunning) continue;
          e->cut_by_stop = true;
          e->cancel.store(true, std::memory_order_relaxed);
        }
      }
      workers.swap(workers_);
    }
    for (auto& t : workers) t.join();
    // What may still be in flight now is a run executing inline on a caller's thread (cut
    // above when the drain passed): it commits and releases its slot promptly, and its
    // submission ends once its `done` returned.
    std::vector<WaitDone> unsettled;
    {
      std::unique_lock lock(mu_);
      idle_cv_.wait(lock, [&] { return submits_in_flight_ == 0; });
      // Runs still in memory (queued) will not settle in this process: their waiters
      // hear nullopt now, and later ones at once.
      waiters_closed_ = true;
      for (auto& [id, e] : runs_) {
        for (Waiter& w : e->waiters) unsettled.push_back(std::move(w.done));
        e->waiters.clear();
      }
      timers_.clear();
      timer_stop_ = true;
      timer_cv_.notify_all();
    }
    // The timer may be calling expired waiters: they are done when it has ended.
    if (timer_.joinable()) timer_.join();
    for (WaitDone& done : unsettled) Deliver(done, std::optional<store::Run>());
  }

  void ReleaseWaiters() {
    std::vector<Waiter> released;
    {
      std::lock_guard lock(mu_);
      for (auto& [id, e] : runs_) {
        std::vector<Waiter> taken = TakeWaiters(*e);
        for (Waiter& w : taken) released.push_back(std::move(w));
      }
    }
    DeliverAll(released, std::nullopt);
  }

  void SetOrgLimit(std::string_view org_id, int limit) {
    std::lock_guard lock(mu_);
    store::Org org;
    org.max_concurrent_runs = limit;
    OrgQueue& q = orgs_[std::string(org_id)];
    q.limit = LimitOf(org);
    MaybeReady(std::string(org_id), q);
  }

 private:
  store::Millis NowMs() const { return UnixMillis(env_.clock->Now()); }

  int LimitOf(const std::optional<store::Org>& org) const {
    int limit = org ? org->max_concurrent_runs : 0;
    if (limit <= 0) limit = options_.default_org_limit;
    return std::clamp(limit, 1, options_.max_org_limit);
  }

  // REQUIRES(mu_)
  void LearnLimit(const std::string& org_id, const std::optional<store::Org>& org) {
    OrgQueue& q = orgs_[org_id];
    if (q.limit == 0) q.limit = LimitOf(org);
  }

  // REQUIRES(mu_)
  EntryPtr FindEntry(std::string_view org_id, std::string_view run_id) {
    auto it = runs_.find(std::string(run_id));
    // Another org's run is reported exactly like an unknown one.
    if (it == runs_.end() || it->second->run.org_id != org_id) return nullptr;
    return it->second;
  }

  // REQUIRES(mu_). Registers `done` on the entry (taking it) unless the wait is already
  // over: its deadline passed, or Stop() completed the waiters. Returns the waiter's id
  // (never 0), or 0 with `done` untouched.
  uint64_t AddWaiter(const EntryPtr& e, SteadyTime deadline, WaitDone& done) {
    if (waiters_closed_ || deadline <= std::chrono::steady_clock::now()) return 0;
    const uint64_t id = ++last_waiter_id_;
    if (deadline != SteadyTime::max()) {
      auto [it, inserted] = timers_.emplace(std::make_pair(deadline, id), e);
      (void)inserted;
      if (it == timers_.begin()) timer_cv_.notify_one();  // a new earliest deadline
    }
    e->waiters.push_back(Waiter{id, deadline, std::move(done)});
    return id;
  }

  // REQUIRES(mu_). Takes waiter `id` of the entry (to be called outside mu_) and its
  // timer; nullopt when the entry has no such waiter.
  std::optional<WaitDone> TakeWaiter(RunEntry& e, uint64_t id) {
    auto it = std::find_if(e.waiters.begin(), e.waiters.end(),
                           [&](const Waiter& w) { return w.id == id; });
    if (it == e.waiters.end()) return std::nullopt;
    if (it->deadline != SteadyTime::max()) timers_.erase(std::make_pair(it->deadline, it->id));
    WaitDone done = std::move(it->done);
    e.waiters.erase(it);
    return done;
  }

  // REQUIRES(mu_). Takes the entry's waiters (to be called outside mu_), and their timers.
  std::vector<Waiter> TakeWaiters(RunEntry& e) {
    for (const Waiter& w : e.waiters) {
      if (w.deadline != SteadyTime::max()) timers_.erase(std::make_pair(w.deadline, w.id));
    }
    std::vector<Waiter> taken;
    taken.swap(e.waiters);
    return taken;
  }

  static void DeliverAll(std::vector<Waiter>& waiters, const std::optional<store::Run>& run) {
    for (Waiter& w : waiters) Deliver(w.done, run);
  }

  // Ends the waits whose deadline passed (each waiter once: it leaves its entry here, or
  // left it when its run settled, which erased its timer). Runs until Stop().
  void TimerLoop() {
    std::unique_lock lock(mu_);
    while (!timer_stop_) {
      if (timers_.empty()) {
        timer_cv_.wait(lock);
        continue;
      }
      const SteadyTime next = timers_.begin()->first.first;
      if (std::chrono::steady_clock::now() < next) {
        timer_cv_.wait_until(lock, next);
        continue;
      }
      std::vector<WaitDone> expired;
      const SteadyTime now = std::chrono::steady_clock::now();
      while (!timers_.empty() && timers_.begin()->first.first <= now) {
        const EntryPtr e = timers_.begin()->second;  // a copy: TakeWaiter erases the timer
        std::optional<WaitDone> done = TakeWaiter(*e, timers_.begin()->first.second);
        RAMPART_CHECK(done.has_value());  // a waiter and its timer leave together
        expired.push_back(std::move(*done));
      }
      lock.unlock();
      for (WaitDone& done : expired) Deliver(done, std::optional<store::Run>());
      lock.lock();
    }
  }

  // REQUIRES(mu_). Keeps the invariant: an org is in ready_ iff it has queued runs and
  // room under its limit (checked lazily when popped).
  void MaybeReady(const std::string& org_id, OrgQueue& q) {
    if (q.in_ready || q.queue.empty() || q.running >= q.limit) return;
    q.in_ready = true;
    ready_.push_back(org_id);
    work_cv_.notify_one();
  }

  // REQUIRES(mu_); the org's limit must be known.
  void Enqueue(const EntryPtr& e) {
    OrgQueue& q = orgs_[e->run.org_id];
    RAMPART_CHECK(q.limit > 0);
    e->state = State::kQueued;
    q.queue.push_back(e);
    ++queued_;
    MaybeReady(e->run.org_id, q);
  }

  // REQUIRES(mu_); the org's limit must be known. Schedules a run read from the store as
  // `queued` (recovered at start, or resumed after an approval); it loads its workflow
  // and input lazily. A run already in memory (submitted here, or scheduled by a racing
  // caller) is left alone.
  void ScheduleStored(store::Run run) {
    if (runs_.count(run.id)) return;
    auto entry = std::make_shared<RunEntry>();
    entry->run = std::move(run);
    runs_.emplace(entry->run.id, entry);
    Enqueue(entry);
  }

  // REQUIRES(mu_). The next run in round-robin order across orgs, or null.
  EntryPtr PopNext() {
    while (!ready_.empty()) {
      std::string org_id = std::move(ready_.front());
      ready_.pop_front();
      OrgQueue& q = orgs_[org_id];
      q.in_ready = false;
      if (q.queue.empty() || q.running >= q.limit) continue;
      EntryPtr e = std::move(q.queue.front());
      q.queue.pop_front();
      --queued_;
      ++q.running;
      ++running_;
      e->state = State::kRunning;
      // Back of the line: the other orgs with work go first.
      MaybeReady(org_id, q);
      return e;
    }
    return nullptr;
  }

  void WorkerLoop() {
    std::unique_lock lock(mu_);
    while (true) {
      // Runs committed as running by Submit are executed even while stopping: they count
      // as in flight for the drain.
      work_cv_.wait(lock, [&] { return stopping_ || !ready_.empty() || !direct_.empty(); });
      EntryPtr e;
      if (!direct_.empty()) {
        e = std::move(direct_.front());
        direct_.pop_front();
      } else if (stopping_) {
        return;
      } else {
        e = PopNext();
      }
      if (!e) continue;
      lock.unlock();
      Execute(e);  // releases the run's slot (ReleaseSlot) before waiters wake
      lock.lock();
    }
  }

  // REQUIRES(mu_). A fast path of Submit: the run takes a slot of its org at once and
  // starts as `running` (its first attempt) instead of `queued`.
  void TakeSlotAtSubmit(OrgQueue& q, store::Run& run) {
    ++q.running;
    ++running_;
    run.status = "running";
    run.attempts = 1;
    run.started_at = run.created_at;
  }

  // REQUIRES(mu_). Ends a kRunning entry's hold on its org's slot (the run's engine is
  // done, or it never ran).
  void ReleaseSlot(RunEntry& e) {
    OrgQueue& q = orgs_[e.run.org_id];
    --q.running;
    --running_;
    MaybeReady(e.run.org_id, q);
    if (running_ == 0) idle_cv_.notify_all();
  }

  // Commits queued -> running (attempts + 1). False when the run must not execute (it
  // settled elsewhere or the commit failed); the entry is finished then.
  bool MarkRunning(const EntryPtr& e, store::Run& run) {
    run.status = "running";
    run.attempts += 1;
    run.started_at = NowMs();
    // The transition to running is conditional on the stored status still being
    // `queued`: a run cancelled (or otherwise settled) behind our back is never executed.
    std::optional<store::Run> settled_elsewhere;
    bool vanished = false;  // not an error to retry: no write can bring the row back
    Status started = CommitWithRetry(run, "start", [&] {
      return store_.Write([&](store::Tx& tx) -> Status {
        settled_elsewhere.reset();
        vanished = false;
        auto current = tx.GetRun(run.org_id, run.id);
        if (!current.ok()) return current.error();
        if (!*current) {
          vanished = true;
          return Status::Ok();
        }
        if ((*current)->status != "queued") {
          settled_elsewhere = std::move(**current);
          return Status::Ok();
        }
        return tx.UpdateRun(run);
      });
    });
    if (!started.ok()) {
      // Stop() ended the retries: nothing ran and the store still says queued (the next
      // start runs it). Its waiters hear nullopt, as for the queued runs Stop() leaves.
      AbandonUncommitted(e);
      return false;
    }
    if (vanished) {
      // Deleted behind our back: nothing to run; its waiters hear the failure.
      store::Run failed = run;
      failed.status = "failed";
      failed.error_code = std::string(ErrorCodeName(ErrorCode::kInternal));
      failed.finished_at = NowMs();
      failed.record = MinimalRecord(
          failed, "failed", MakeError(ErrorCode::kInternal, "the run could not be started"),
          failed.finished_at);
      Finish(e, std::move(failed));
      return false;
    }
    if (settled_elsewhere) {
      Finish(e, std::move(*settled_elsewhere));
      return false;
    }
    {
      std::lock_guard lock(mu_);
      e->run = run;
    }
    return true;
  }

  void Execute(const EntryPtr& e) {
    store::Run run;
    bool prestarted = false;
    {
      std::lock_guard lock(mu_);
      run = e->run;
      prestarted = e->prestarted;
    }
    if (!prestarted && !MarkRunning(e, run)) return;

    std::shared_ptr<const model::Workflow> wf = e->workflow;
    if (!wf) {
      auto loaded = cache_.GetForRun(run);
      if (!loaded.ok()) {
        CommitFailure(e, run, loaded.error());
        return;
      }
      wf = std::move(*loaded);
    }
    engine::RunRequest request;
    if (e->input) {
      request.input = std::move(*e->input);
    } else {
      auto parsed = json::Parse(run.input);
      if (!parsed.ok()) {
        CommitFailure(e, run, MakeError(ErrorCode::kInternal, "the stored input does not parse"));
        return;
      }
      request.input = std::move(*parsed);
    }
    request.trigger = e->trigger ? std::move(*e->trigger) : ParseOr(run.trigger, nullptr);
    if (!run.record.empty()) {
      // Back from awaiting_approval: the engine replays the record it stopped with.
      auto previous = json::Parse(run.record);
      if (!previous.ok() || !previous->is_object()) {
        CommitFailure(e, run, MakeError(ErrorCode::kInternal, "the stored record does not parse"));
        return;
      }
      request.resume = engine::Resume{std::move(previous->get_object()), run.wake_at};
    }
    OrgWorkflowSource source(store_, cache_, quota_, run.org_id);
    engine::RunResult result = RunEngine(e, run, *wf, std::move(request), source);
    // Taken before the slot is released: the org's next run starts after this one finished.
    const store::Millis finished_at = NowMs();

    bool user_cancelled = false;
    std::optional<std::vector<Waiter>> abandoned;
    {
      std::lock_guard lock(mu_);
      user_cancelled = e->user_cancelled;
      if (e->cut_by_stop && !e->user_cancelled && result.status == "cancelled") {
        // Stop() cut it: leave it `running` in the store; the next start fails it as
        // interrupted (its side effects may have happened).
        abandoned = Abandon(*e);
      } else {
        // The engine is done: the org's next run may start while this one commits (a
        // commit in flight executes nothing; see slot_released).
        ReleaseSlot(*e);
        e->slot_released = true;
      }
    }
    if (abandoned) {
      quota_.EndClaims(run.org_id, source.claims());  // no child row will be written
      return DeliverAll(*abandoned, std::nullopt);
    }

    store::Run final_run = run;
    final_run.status = result.status;
    final_run.cancel_requested = user_cancelled;
    final_run.error_code = result.error ? std::string(result.error->code_name()) : "";
    final_run.finished_at = result.status == "awaiting_approval" ? 0 : finished_at;
    if (result.awaiting) final_run.wake_at = result.awaiting->timeout_at_ms;
    std::vector<store::Run> children;
    CollectChildren(result, final_run, source, &children);
    final_run.record = json::Serialize(result.record);

    // A child run is a run of its own workflow: that workflow's on_final work (its hook
    // deliveries) commits with the child's row.
    std::vector<std::shared_ptr<const model::Workflow>> child_workflows;
    child_workflows.reserve(children.size());
    for (const auto& child : children) {
      child_workflows.push_back(source.WorkflowOf(child.workflow_id));
    }

    // The child rows had room claimed for them when they started (RunQuota::ClaimChild):
    // counted in the write that inserts them, the claims end once it completed. (Undone
    // after Write returned when it did not commit: until then the count is too high, which
    // only refuses early.)
    bool children_written = false;
    Status written = CommitWithRetry(final_run, "final", [&]() -> Status {
      RunQuotaTicket quota;
      Status full = store_.Write([&](store::Tx& tx) -> Status {
        quota.Reset();
        if (Status s = tx.UpdateRun(final_run); !s.ok()) return s;
        for (size_t i = 0; i < children.size(); ++i) {
          if (Status s = tx.InsertRun(children[i]); !s.ok()) return s;
          if (env_.on_final && child_workflows[i]) {
            if (Status s = env_.on_final(tx, children[i], *child_workflows[i]); !s.ok()) return s;
          }
        }
        if (env_.on_final) {
          if (Status s = env_.on_final(tx, final_run, *wf); !s.ok()) return s;
        }
        quota_.Inserted(final_run.org_id, static_cast<int64_t>(children.size()), &quota);
        return Status::Ok();
      });
      quota_.Complete(quota, full);
      children_written = full.ok();
      if (full.ok() || (children.empty() && !env_.on_final)) return full;
      // The parent's outcome matters more than its children's rows.
      return store_.Write([&](store::Tx& tx) { return tx.UpdateRun(final_run); });
    });
    quota_.EndClaims(final_run.org_id, source.claims());
    if (!written.ok()) return AbandonUncommitted(e);
    if (env_.after_final) {
      if (children_written) {
        for (size_t i = 0; i < children.size(); ++i) {
          if (child_workflows[i]) env_.after_final(children[i], *child_workflows[i]);
        }
      }
      env_.after_final(final_run, *wf);
    }
    Finish(e, std::move(final_run));
  }

  // Runs the engine for an entry. A side-effect-free workflow has no step that could reach
  // a connector or raise a security event, so its per-run services are not built.
  engine::RunResult RunEngine(const EntryPtr& e, const store::Run& run, const model::Workflow& wf,
                              engine::RunRequest request, OrgWorkflowSource& source) {
    request.version = run.version;
    request.run_id = run.id;
    request.cancel = &e->cancel;
    request.redaction = options_.redaction;
    RunServices services = env_.per_run && !wf.side_effect_free ? env_.per_run(run) : RunServices{};
    engine::Env engine_env{env_.clock, env_.random, env_.actions, &source, env_.log};
    engine_env.connectors = services.connectors.get();
    engine_env.security = services.security.get();
    engine_env.org = run.org_id;
    engine_env.max_run_record_bytes = options_.max_run_record_bytes;
    engine::Engine engine(engine_env);
    return engine.Run(wf, std::move(request));
  }

  // The inline path of Submit: `run` (status running, attempts 1) already holds a slot of
  // its org. The store sees the run for the first time in the commit below, in its final
  // state, together with the submission's audit event and in_commit work and the
  // on_final hook: there is no queued or running row to recover, and nothing of the run
  // was observable before (its steps touch nothing outside the record).
  void ExecuteInline(const EntryPtr& e, Submission s, std::shared_ptr<const model::Workflow> wf,
                     SubmitDone done) {
    store::Run run;
    {
      std::lock_guard lock(mu_);
      run = e->run;
    }
    engine::RunRequest request;
    request.input = std::move(s.input);
    request.trigger = std::move(s.trigger);
    // The budget counts what this thread computed for the run (CPU time), so a run is
    // not handed over for time the thread spent preempted on a busy machine.
    request.yield_at = env_.clock->Monotonic() + options_.inline_budget;
    request.yield_confirm = [cpu_start = ThreadCpuTime(), budget = options_.inline_budget] {
      return ThreadCpuTime() - cpu_start >= budget;
    };
    OrgWorkflowSource source(store_, cache_, quota_, run.org_id);
    engine::RunResult result = RunEngine(e, run, *wf, std::move(request), source);
    const store::Millis finished_at = NowMs();  // before the slot is released (as in Execute)

    auto commit = std::make_shared<InlineCommit>();
    bool user_cancelled = false;
    {
      std::lock_guard lock(mu_);
      user_cancelled = e->user_cancelled;
      commit->cut = e->cut_by_stop && !user_cancelled && result.status == "cancelled";
      commit->handed_over = result.yielded && !commit->cut && !user_cancelled;
      // The next run of the org may start while this one commits (see slot_released).
      ReleaseSlot(*e);
      e->slot_released = true;
    }
    store::Run& committed = commit->committed;
    committed = run;
    commit->with_hooks = !commit->cut && !commit->handed_over;
    if (commit->cut || commit->handed_over) {
      // Stop() cut it, or it used up its inline budget: accepted still means committed,
      // so it is committed as queued (a worker, or the next start, runs it from the
      // start; nothing of this attempt was observable).
      committed.status = "queued";
      committed.attempts = 0;
      committed.started_at = 0;
    } else {
      committed.status = result.status;
      committed.cancel_requested = user_cancelled;
      committed.error_code = result.error ? std::string(result.error->code_name()) : "";
      committed.finished_at = finished_at;
      committed.record = json::Serialize(result.record);
    }
    commit->entry = e;
    commit->submission = std::move(s);
    commit->workflow = std::move(wf);
    commit->done = std::move(done);
    CommitInline(commit);
  }

  // The inline run's single commit; the run is published in its completion.
  void CommitInline(const std::shared_ptr<InlineCommit>& c) {
    store_.WriteAsync(
        [this, c](store::Tx& tx) -> Status {
          c->hook_failed = false;
          c->quota.Reset();
          const Submission& s = c->submission;
          const std::string& org_id = c->committed.org_id;
          if (Status room = quota_.CheckInsert(tx, org_id, 1, &c->quota); !room.ok()) return room;
          if (Status inserted = tx.InsertRun(c->committed); !inserted.ok()) return inserted;
          if (s.audit.has_value()) {
            auto appended = tx.AppendAudit(*s.audit);
            if (!appended.ok()) return appended.error();
          }
          if (s.in_commit) {
            if (Status st = s.in_commit(tx, c->committed); !st.ok()) return st;
          }
          if (c->with_hooks && env_.on_final) {
            Status hooked = env_.on_final(tx, c->committed, *c->workflow);
            c->hook_failed = !hooked.ok();
            if (!hooked.ok()) return hooked;
          }
          quota_.Inserted(org_id, 1, &c->quota);
          return Status::Ok();
        },
        [this, c](Status written) {
          quota_.Complete(c->quota, written);
          if (!written.ok() && c->hook_failed) {
            // As for worker runs: the run's outcome matters more than its hook deliveries.
            c->with_hooks = false;
            CommitInline(c);
            return;
          }
          PublishInline(*c, std::move(written));
        });
  }

  // After the inline commit: waiters, the slot, then the submitter's `done`; last, the
  // submission ends (Stop() waits for that).
  void PublishInline(InlineCommit& c, Status written) {
    const EntryPtr& e = c.entry;
    if (written.ok() && c.handed_over && HandOver(c)) {
      // Queued for a worker, listed in memory: the submitter's waiters find it.
      Deliver(c.done, Result<store::Run>(c.committed));
    } else if (!written.ok() || c.cut || c.handed_over) {
      // Failed: nothing stored, the submission fails as a whole (like a failed queued
      // commit). Cut: stored as queued, not scheduled here (the service is stopping).
      std::vector<Waiter> waiters;
      {
        std::lock_guard lock(mu_);
        waiters = Abandon(*e);
      }
      DeliverAll(waiters, std::nullopt);
      if (written.ok()) {
        Deliver(c.done, Result<store::Run>(c.committed));
      } else {
        Deliver(c.done, Result<store::Run>(written.error()));
      }
    } else {
      if (env_.after_final) {
        try {
          env_.after_final(c.committed, *c.workflow);
        } catch (...) {
          // A hook's wake-up is best effort; the run is committed either way.
        }
      }
      Finish(e, c.committed);
      Deliver(c.done, Result<store::Run>(c.committed));
    }
    EndSubmit();
  }

  // An inline run committed as queued after its budget: queues its entry for a worker
  // (its slot was released after the engine stopped), unless the service is stopping
  // (then it stays queued in the store, for the next start, like a run Stop() cut).
  bool HandOver(InlineCommit& c) {
    std::lock_guard lock(mu_);
    if (closing_ || stopping_) return false;
    RunEntry& e = *c.entry;
    e.run = c.committed;
    e.workflow = c.workflow;
    e.slot_released = false;
    ++stats_.handed_over;
    Enqueue(c.entry);
    return true;
  }

  // REQUIRES(mu_). Ends a kRunning entry without a final state in memory (cut by Stop, or
  // its commit failed): the slot is released and the run leaves memory. Returns its
  // waiters, to be told nullopt outside mu_.
  std::vector<Waiter> Abandon(RunEntry& e) {
    if (!e.slot_released) ReleaseSlot(e);
    e.state = State::kAbandoned;
    runs_.erase(e.run.id);
    return TakeWaiters(e);
  }

  // Stores every descendant run as its own row, parent before child.
  void CollectChildren(engine::RunResult& parent_result, const store::Run& parent,
                       OrgWorkflowSource& source, std::vector<store::Run>* out) {
    for (engine::RunResult& child : parent_result.children) {
      store::Run row;
      row.org_id = parent.org_id;
      const bj::value* id = child.record.if_contains("run_id");
      const bj::value* wf = child.record.if_contains("workflow");
      if (!id || !id->is_string() || !wf || !wf->is_string()) continue;
      row.id = std::string(id->get_string());
      row.workflow_id = std::string(wf->get_string());
      row.version = source.VersionOf(row.workflow_id);
      row.workflow_generation = source.GenerationOf(row.workflow_id);
      // The engine does not know which version the source resolved.
      child.record["version"] = row.version;
      row.status = child.status;
      if (const bj::value* in = child.record.if_contains("input")) row.input = json::Serialize(*in);
      bj::object trigger;
      trigger["type"] = "workflow";
      trigger["parent_run_id"] = parent.id;
      if (const bj::value* steps = parent_result.record.if_contains("steps"); steps && steps->is_array()) {
        for (const bj::value& step : steps->get_array()) {
          const bj::object* so = step.if_object();
          if (!so) continue;
          const bj::value* cid = so->if_contains("child_run_id");
          if (cid && *cid == *id) {
            if (const bj::value* path = so->if_contains("path")) trigger["parent_step"] = *path;
            break;
          }
        }
      }
      row.trigger = json::Serialize(trigger);
      row.error_code = child.error ? std::string(child.error->code_name()) : "";
      row.actor = "run:" + parent.id;
      row.created_at = parent.started_at;
      row.started_at = parent.started_at;
      row.finished_at = child.status == "awaiting_approval" ? 0 : parent.finished_at;
      row.attempts = 1;
      size_t index = out->size();
      out->push_back(std::move(row));
      CollectChildren(child, (*out)[index], source, out);
      (*out)[index].record = json::Serialize(child.record);
    }
  }

  // A run that could not be executed at all (its version vanished, its input does not
  // parse): committed failed with a minimal record.
  void CommitFailure(const EntryPtr& e, const store::Run& run, const Error& error) {
    store::Run failed = run;
    failed.status = "failed";
    failed.error_code = std::string(error.code_name());
    failed.finished_at = NowMs();
    failed.record = MinimalRecord(failed, "failed", error, failed.finished_at);
    Status written = CommitWithRetry(failed, "final", [&] {
      return store_.Write([&](store::Tx& tx) { return tx.UpdateRun(failed); });
    });
    if (!written.ok()) return AbandonUncommitted(e);
    Finish(e, std::move(failed));
  }

  // Runs `commit` (a worker's write of a run's state) until it succeeds, waiting between
  // tries (commit_retry_initial, doubled up to commit_retry_max): memory never shows a
  // state the store does not hold, and a finished run is not lost while the process
  // lives. Stop() ends the waiting with one last try; its error is returned then (the
  // store keeps the run as the next start's recovery expects it). Only failures cost
  // anything: the first try is the plain commit. Logs the first failure and how the
  // retries ended, with ids and error codes only (no run data).
  Status CommitWithRetry(const store::Run& run, std::string_view what,
                         const std::function<Status()>& commit) {
    Status written = commit();
    if (written.ok()) return written;
    const ErrorCode first = written.error().code;
    LogCommit(run, what, "run.commit_failed", "error", first, 1);
    std::chrono::milliseconds delay =
        std::max(options_.commit_retry_initial, std::chrono::milliseconds(1));
    int tries = 1;
    bool stopping = false;
    while (!written.ok() && !stopping) {
      {
        std::unique_lock lock(mu_);
        stopping = retry_cv_.wait_for(lock, delay, [&] { return stopping_; });
      }
      written = commit();
      ++tries;
      delay = NextBackoff(delay, options_.commit_retry_max);
    }
    if (written.ok()) {
      LogCommit(run, what, "run.commit_retried", "info", first, tries);
    } else {
      LogCommit(run, what, "run.commit_abandoned", "error", written.error().code, tries);
    }
    return written;
  }

  void LogCommit(const store::Run& run, std::string_view what, std::string_view event,
                 std::string_view level, ErrorCode code, int tries) {
    if (env_.log == nullptr) return;
    std::string msg;
    if (event == "run.commit_failed") {
      msg = "the run's " + std::string(what) + " commit failed; retrying until it lands";
    } else if (event == "run.commit_retried") {
      msg = "the run's " + std::string(what) + " commit landed after " + std::to_string(tries) +
            " tries";
    } else {
      msg = "stopping: the run's " + std::string(what) +
            " commit never landed; the next start recovers the run from the store";
    }
    try {
      env_.log->Write(bj::object{{"level", level},
                                 {"msg", std::move(msg)},
                                 {"event", event},
                                 {"org", run.org_id},
                                 {"run_id", run.id},
                                 {"code", ErrorCodeName(code)},
                                 {"fields", bj::object{{"commit", what}, {"tries", tries}}}});
    } catch (...) {
    }
  }

  // A worker's commit of a finished run never landed (Stop() ended its retries): the run
  // leaves memory as the store has it, `running`, failed as interrupted by the next
  // start; its waiters hear nullopt, as for a run Stop() cut.
  void AbandonUncommitted(const EntryPtr& e) {
    std::vector<Waiter> waiters;
    {
      std::lock_guard lock(mu_);
      waiters = Abandon(*e);
    }
    DeliverAll(waiters, std::nullopt);
  }

  store::Run CancelledRun(const store::Run& run) const {
    store::Run cancelled = run;
    cancelled.status = "cancelled";
    cancelled.error_code = std::string(ErrorCodeName(ErrorCode::kCancelled));
    cancelled.cancel_requested = true;
    cancelled.finished_at = NowMs();
    cancelled.record = MinimalRecord(cancelled, "cancelled",
                                     MakeError(ErrorCode::kCancelled, "run was cancelled"),
                                     cancelled.finished_at);
    return cancelled;
  }

  // Cancel of a run this process does not hold: queued (not recovered yet) or awaiting
  // approval in the store. Conditional inside the write transaction, so it cannot race
  // a worker's transition to running.
  Status CancelStored(std::string_view org_id, std::string_view run_id) {
    bool found = false;
    Status written = store_.Write([&](store::Tx& tx) -> Status {
      auto current = tx.GetRun(org_id, run_id);
      if (!current.ok()) return current.error();
      if (!*current) return Status::Ok();
      found = true;
      const store::Run& run = **current;
      if (store::IsFinalRunStatus(run.status)) return MakeError(ErrorCode::kConflict, "the run already finished");
      if (run.status != "queued" && run.status != "awaiting_approval") {
        return MakeError(ErrorCode::kConflict, "the run is not active on this server");
      }
      return tx.UpdateRun(CancelledRun(run));
    });
    if (!written.ok()) return written;
    if (!found) return MakeError(ErrorCode::kNotFound, "run not found");
    std::lock_guard lock(mu_);
    ++stats_.cancelled;
    return Status::Ok();
  }

  // Publishes a committed final state: the run leaves memory, then its waiters are
  // called (outside mu_, on this thread).
  void Finish(const EntryPtr& e, store::Run final_run) {
    std::vector<Waiter> waiters;
    std::optional<store::Run> published;
    {
      std::lock_guard lock(mu_);
      if (final_run.status == "succeeded") ++stats_.succeeded;
      else if (final_run.status == "failed") ++stats_.failed;
      else if (final_run.status == "cancelled") ++stats_.cancelled;
      if (e->state == State::kRunning && !e->slot_released) ReleaseSlot(*e);
      e->run = std::move(final_run);
      e->state = State::kDone;
      runs_.erase(e->run.id);
      waiters = TakeWaiters(*e);
      if (!waiters.empty()) published = e->run;
    }
    DeliverAll(waiters, published);
  }

  Status FailInterrupted() {
    const Error interrupted =
        MakeError(ErrorCode::kInterrupted, "the server stopped while this run was executing");
    // Each batch leaves `running`, so listing again makes progress; bounded anyway.
    for (int round = 0; round < 100000; ++round) {
      std::vector<store::Run> batch;
      Status read = store_.Read([&](store::Tx& tx) -> Status {
        auto runs = tx.ListRunsByStatus("running", kRecoveryBatch);
        if (!runs.ok()) return runs.error();
        batch = std::move(*runs);
        return Status::Ok();
      });
      if (!read.ok()) return read;
      if (batch.empty()) return Status::Ok();
      const store::Millis now = NowMs();
      for (auto& run : batch) {
        run.status = "failed";
        run.error_code = std::string(interrupted.code_name());
        run.finished_at = now;
        run.record = InterruptedRecord(run, interrupted, now);
      }
      // A failed run like any other: its on_final work (the run.failed hook deliveries)
      // commits with the status, as for a run the engine finished. A run whose workflow
      // no longer loads is failed all the same, without it.
      std::vector<std::shared_ptr<const model::Workflow>> workflows(batch.size());
      if (env_.on_final || env_.after_final) {
        for (size_t i = 0; i < batch.size(); ++i) {
          auto loaded = cache_.GetForRun(batch[i]);
          if (loaded.ok()) workflows[i] = std::move(*loaded);
        }
      }
      auto write = [&](bool with_on_final) {
        return store_.Write([&](store::Tx& tx) -> Status {
          for (size_t i = 0; i < batch.size(); ++i) {
            if (Status s = tx.UpdateRun(batch[i]); !s.ok()) return s;
            if (with_on_final && env_.on_final && workflows[i]) {
              if (Status s = env_.on_final(tx, batch[i], *workflows[i]); !s.ok()) return s;
            }
          }
          return Status::Ok();
        });
      };
      Status written = write(true);
      // As in Execute: the runs' outcome matters more than their hooks.
      if (!written.ok() && env_.on_final) written = write(false);
      if (!written.ok()) return written;
      {
        std::lock_guard lock(mu_);
        stats_.failed += static_cast<int64_t>(batch.size());
      }
      if (env_.after_final) {
        for (size_t i = 0; i < batch.size(); ++i) {
          if (workflows[i]) env_.after_final(batch[i], *workflows[i]);
        }
      }
      if (batch.size() < static_cast<size_t>(kRecoveryBatch)) return Status::Ok();
    }
    return Status::Ok();
  }

  // Approvals whose timeout passed go back to `queued`, audited, and are scheduled; the
  // engine applies the step's on_timeout. Resumes whose read failed are tried again.
  // Runs on its own thread until Stop().
  void WakeLoop() {
    while (true) {
      std::set<std::pair<std::string, std::string>> unresumed;
      {
        std::unique_lock lock(mu_);
        wake_cv_.wait_for(lock, options_.wake_interval, [&] { return stopping_; });
        if (stopping_) return;
        unresumed.swap(unresumed_);
      }
      for (const auto& [org_id, run_id] : unresumed) (void)Resume(org_id, run_id);
      (void)WakeDue();
    }
  }

  Status WakeDue() {
    const store::Millis now = NowMs();
    std::vector<store::Run> woken;
    Status written = store_.Write([&](store::Tx& tx) -> Status {
      woken.clear();
      auto due = tx.ListRunsToWake(now, 100);
      if (!due.ok()) return due.error();
      for (store::Run& run : *due) {
        run.status = "queued";
        if (Status s = tx.UpdateRun(run); !s.ok()) return s;
        store::AuditEvent event;
        event.time = now;
        event.org_id = run.org_id;
        event.actor = "system";
        event.action = "run.approval_timeout";
        event.target = run.id;
        event.outcome = "success";
        event.details = json::Serialize(bj::object{{"workflow", run.workflow_id}});
        auto appended = tx.AppendAudit(std::move(event));
        if (!appended.ok()) return appended.error();
        woken.push_back(std::move(run));
      }
      return Status::Ok();
    });
    if (!written.ok()) return written;
    for (const store::Run& run : woken) (void)Resume(run.org_id, run.id);
    return Status::Ok();
  }

  Status RequeueQueued() {
    std::vector<store::Run> queued;
    std::unordered_map<std::string, std::optional<store::Org>> orgs;
    const int limit = static_cast<int>(std::min<size_t>(options_.max_queued, 1'000'000));
    Status read = store_.Read([&](store::Tx& tx) -> Status {
      auto runs = tx.ListRunsByStatus("queued", limit);
      if (!runs.ok()) return runs.error();
      queued = std::move(*runs);
      for (const auto& run : queued) {
        if (orgs.count(run.org_id)) continue;
        auto org = tx.GetOrg(run.org_id);
        if (!org.ok()) return org.error();
        orgs.emplace(run.org_id, std::move(*org));
      }
      return Status::Ok();
    });
    if (!read.ok()) return read;
    std::lock_guard lock(mu_);
    for (auto& [org_id, org] : orgs) LearnLimit(org_id, org);
    for (auto& run : queued) ScheduleStored(std::move(run));
    return Status::Ok();
  }

  store::Store& store_;
  const RunEnvironment env_;
  RunServiceOptions options_;
  WorkflowCache cache_;
  RunQuota quota_;
  const engine::Engine validator_;  // ValidateInput only

  std::mutex stop_mu_;  // serializes Stop() callers, so a second one returns after the join

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // ready_ gained an org, or stopping_
  std::condition_variable idle_cv_;  // running_, reserved_ or submits_in_flight_ reached 0
  std::condition_variable wake_cv_;  // stopping_ (for the approval timeout sweep)
  std::condition_variable timer_cv_;  // timers_ gained an earlier deadline, or timer_stop_
  std::condition_variable retry_cv_;  // stopping_ (for commits waiting to be retried)
  // All GUARDED_BY(mu_):
  bool started_ = false;
  bool closing_ = false;   // Stop() began: no submission reserves any more
  bool stopping_ = false;  // ... and the in-flight commits completed: workers wind down
  std::vector<std::thread> workers_;
  std::unordered_map<std::string, EntryPtr> runs_;  // queued and running runs, by id
  std::unordered_map<std::string, OrgQueue> orgs_;
  std::deque<std::string> ready_;  // round robin of orgs that may start a run
  std::deque<EntryPtr> direct_;    // committed as running by Submit, for the next free worker
  int64_t queued_ = 0;
  int64_t running_ = 0;
  int64_t reserved_ = 0;  // Submit calls between the max_queued check and the commit
  // SubmitAsync calls past their reservation whose `done` has not returned yet (queued
  // commits in flight, inline runs executing or committing).
  int64_t submits_in_flight_ = 0;
  // Timed waits, by (deadline, waiter id); each names the entry that holds the waiter.
  std::map<std::pair<SteadyTime, uint64_t>, EntryPtr> timers_;
  // (org id, run id) of runs committed `queued` by an approval or a timeout whose
  // Resume could not read them; WakeLoop tries them again.
  std::set<std::pair<std::string, std::string>> unresumed_;
  uint64_t last_waiter_id_ = 0;
  bool waiters_closed_ = false;  // Stop() completed the waiters: new ones end at once
  bool timer_stop_ = false;
  std::thread timer_;  // TimerLoop; started by the constructor, joined by Stop()
  RunStats stats_;
};

RunService::RunService(store::Store& store, RunEnvironment env, RunServiceOptions options)
    : impl_(std::make_unique<Impl>(store, env, options)) {}

RunService::~RunService() = default;

Status RunService::Start() { return impl_->Start(); }

Result<store::Run> RunService::Submit(Submission submission) {
  return impl_->Submit(std::move(submission));
}

void RunService::SubmitAsync(Submission submission,
                             std::function<void(Result<store::Run>)> done) {
  impl_->SubmitAsync(std::move(submission), std::move(done));
}

uint64_t RunService::WaitAsync(std::string_view org_id, std::string_view run_id,
                               std::chrono::milliseconds timeout,
                               std::function<void(std::optional<store::Run>)> done) {
  return impl_->WaitAsync(org_id, run_id, timeout, std::move(done));
}

void RunService::EndWait(std::string_view org_id, std::string_view run_id, uint64_t waiter_id) {
  impl_->EndWait(org_id, run_id, waiter_id);
}

std::optional<store::Run> RunService::Wait(std::string_view org_id, std::string_view run_id,
                                           std::chrono::milliseconds timeout) {
  return impl_->Wait(org_id, run_id, timeout);
}

Status RunService::Resume(std::string_view org_id, std::string_view run_id) {
  return impl_->Resume(org_id, run_id);
}

Result<std::string> RunService::Cancel(std::string_view org_id, std::string_view run_id) {
  return impl_->Cancel(org_id, run_id);
}

RunStats RunService::Stats() const { return impl_->Stats(); }

RunQuota& RunService::quota() { return impl_->quota(); }

void RunService::SetOrgLimit(std::string_view org_id, int limit) {
  impl_->SetOrgLimit(org_id, limit);
}

void RunService::Stop(std::chrono::milliseconds drain) { impl_->Stop(drain); }
void RunService::ReleaseWaiters() { impl_->ReleaseWaiters(); }

}  // namespace rampart::runs
