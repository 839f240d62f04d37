#include "rampart/schedule/scheduler.h"

#include <algorithm>
#include <atomic>
#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "rampart/core/error.h"
#include "rampart/model/workflow.h"
#include "rampart/schedule/cron.h"

namespace rampart::schedule {
namespace {

namespace bj = boost::json;

using Key = std::pair<std::string, std::string>;  // (org id, workflow id)

// The schedule triggers of one workflow's live version, and what the last pass learnt.
struct Schedules {
  int version = 0;           // the live version they were read from
  int64_t generation = 0;  // the workflow row's (a re-created one has the same version
                           // numbers)
  std::vector<CronSpec> crons;  // of its schedule triggers
  uint64_t pass = 0;            // the last pass that used them
  // The tick it last fired for, as committed (avoids a write per pass); nullopt until
  // read from the store (again after a failed claim, or for a new version, which publish
  // started from its own time).
  std::optional<store::Millis> last_fired;
  // Nothing was due at quiet_from and no tick of any cron falls before quiet_until: a
  // pass in between has nothing to do (last fired only moves forward).
  std::optional<TimePoint> quiet_from;
  TimePoint quiet_until;
};

}  // namespace

class Scheduler::Impl {
 public:
  Impl(store::Store& store, runs::RunService& runs, SchedulerOptions options)
      : store_(store), runs_(runs), options_(options), cache_(store, kCacheCapacity) {}

  void Start() {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) return;
    stop_ = false;
    thread_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    std::thread thread;
    {
      // Taken under the lock: a Stop() racing Start() or another Stop() joins at most once.
      std::lock_guard lock(mu_);
      stop_ = true;
      thread = std::move(thread_);
    }
    cv_.notify_all();
    if (thread.joinable()) thread.join();
  }

  Result<int> Tick() {
    std::lock_guard tick_lock(tick_mu_);
    const TimePoint now = options_.clock->Now();
    const int page_size = std::max(options_.page_size, 1);
    int fired = 0;
    ++pass_;
    std::vector<store::LiveWorkflow> page;
    do {
      Key after = page.empty() ? Key() : Key(page.back().org_id, page.back().id);
      Status read = store_.Read([&](store::Tx& tx) -> Status {
        auto listed = tx.ListScheduledWorkflows(after.first, after.second, page_size);
        if (!listed.ok()) return listed.error();
        page = std::move(*listed);
        return Status::Ok();
      });
      if (!read.ok()) {
        ++errors_;
        return read.error();
      }
      for (const store::LiveWorkflow& wf : page) {
        if (Visit(wf, now)) ++fired;
      }
    } while (page.size() == static_cast<size_t>(page_size));
    // What this pass did not use went with a deleted, unpublished or changed schedule
    // (kept, it grew with every workflow ever scheduled in this process).
    int64_t crons = 0;
    std::erase_if(schedules_, [&](const auto& kv) {
      if (kv.second.pass != pass_) return true;
      crons += static_cast<int64_t>(kv.second.crons.size());
      return false;
    });
    schedules_held_ = static_cast<int64_t>(schedules_.size());
    crons_held_ = crons;
    return fired;
  }

  SchedulerStats Stats() const {
    return SchedulerStats{fired_.load(), submit_errors_.load(), errors_.load(),
                          schedules_held_.load(), crons_held_.load()};
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      (void)Tick();
      lock.lock();
      cv_.wait_for(lock, options_.interval, [this] { return stop_; });
    }
  }

  // The schedule triggers of the workflow's live version, parsed once per version and
  // workflow creation (a pass visits every scheduled workflow each second; the
  // definitions would not all stay in a bounded cache). Null on a read or load error.
  Schedules* Load(const Key& key, const store::LiveWorkflow& wf) {
    auto it = schedules_.find(key);
    if (it != schedules_.end() && it->second.version == wf.live_version &&
        it->second.generation == wf.generation) {
      it->second.pass = pass_;
      return &it->second;
    }
    auto loaded = cache_.Get(wf.org_id, wf.id, wf.live_version, wf.generation);
    if (!loaded.ok()) return nullptr;
    Schedules s;
    s.version = wf.live_version;
    s.generation = wf.generation;
    s.pass = pass_;
    for (const model::Trigger& trigger : (*loaded)->triggers) {
      if (trigger.type != "schedule" || !trigger.spec.is_object()) continue;
      const bj::value* cron = trigger.spec.as_object().if_contains("cron");
      if (!cron || !cron->is_string()) continue;
      // An invalid cron is refused by the loader before a version can be stored.
      if (auto spec = CronSpec::Parse(cron->get_string()); spec.ok()) {
        s.crons.push_back(std::move(*spec));
      }
    }
    return &(schedules_[key] = std::move(s));
  }

  // Fires the workflow when a tick is due; true when a run was submitted. Runs under
  // tick_mu_.
  bool Visit(const store::LiveWorkflow& wf, TimePoint now) {
    const Key key(wf.org_id, wf.id);
    Schedules* schedules = Load(key, wf);
    if (schedules == nullptr) {
      ++errors_;
      return false;
    }
    if (schedules->quiet_from && *schedules->quiet_from <= now && now < schedules->quiet_until) {
      return false;  // the common case: no tick since the last pass that looked
    }
    schedules->quiet_from.reset();
    if (schedules->crons.empty()) return false;
    // The most recent tick at or before now, of any schedule trigger.
    std::optional<TimePoint> due;
    const CronSpec* due_cron = nullptr;
    for (const CronSpec& spec : schedules->crons) {
      std::optional<TimePoint> tick = spec.LatestAtOrBefore(now);
      if (tick && (!due || *tick > *due)) {
        due = tick;
        due_cron = &spec;
      }
    }

    const store::Millis now_ms = UnixMillis(now);
    if (!schedules->last_fired) {
      // Not seen by this process yet: the store knows when it last fired.
      std::optional<store::Millis> stored;
      Status read = store_.Read([&](store::Tx& tx) -> Status {
        auto last = tx.GetScheduleLastFired(wf.org_id, wf.id);
        if (!last.ok()) return last.error();
        stored = *last;
        return Status::Ok();
      });
      if (!read.ok()) {
        ++errors_;
        return false;
      }
      if (!stored) {
        // First sight: start from now, never run ticks from before it was seen.
        Status put = store_.Write([&](store::Tx& tx) -> Status {
          auto last = LastFiredOrStart(tx, wf, now_ms, nullptr);
          if (!last.ok()) return last.error();
          stored = *last;
          return Status::Ok();
        });
        if (!put.ok()) {
          ++errors_;
          return false;
        }
      }
      schedules->last_fired = *stored;
    }
    if (!due || UnixMillis(*due) <= *schedules->last_fired) {
      // Nothing due: nothing will be before the next tick of any of its crons.
      schedules->quiet_from = now;
      schedules->quiet_until = TimePoint::max();
      for (const CronSpec& spec : schedules->crons) {
        std::optional<TimePoint> next = spec.NextAfter(now);
        if (next && *next < schedules->quiet_until) schedules->quiet_until = *next;
      }
      return false;
    }

    // Claim the tick in its own durable write before submitting (at most once). The
    // stored value is checked again so another process sharing the store cannot fire it
    // a second time.
    const store::Millis due_ms = UnixMillis(*due);
    bool fire = false;
    std::optional<store::Millis> claimed_from;
    Status claimed = store_.Write([&](store::Tx& tx) -> Status {
      fire = false;
      claimed_from.reset();
      // No state: it went with a deleted workflow (this one was created again since).
      bool started = false;
      auto last = LastFiredOrStart(tx, wf, now_ms, &started);
      if (!last.ok()) return last.error();
      if (started) claimed_from = now_ms;
      if (started || due_ms <= *last) return Status::Ok();
      fire = true;
      return tx.PutScheduleLastFired(wf.org_id, wf.id, due_ms);
    });
    if (!claimed.ok()) {
      ++errors_;
      schedules->last_fired.reset();  // re-read from the store next pass
      return false;
    }
    schedules->last_fired = claimed_from.value_or(due_ms);
    if (!fire) return false;

    runs::Submission submission;
    submission.org_id = wf.org_id;
    submission.workflow_id = wf.id;
    submission.workflow_generation = wf.generation;
    submission.version = wf.live_version;
    submission.input = bj::object();
    submission.trigger = bj::object{{"type", "schedule"},
                                    {"cron", due_cron->text()},
                                    {"scheduled_for", FormatRfc3339(*due)},
                                    {"received_at", FormatRfc3339(now)}};
    submission.actor = "schedule";
    store::AuditEvent event;
    event.time = now_ms;
    event.org_id = wf.org_id;
    event.actor = "schedule";
    event.action = "run.start";
    event.outcome = "success";
    event.details = bj::serialize(bj::object{{"workflow", wf.id},
                                             {"version", wf.live_version},
                                             {"trigger", "schedule"},
                                             {"scheduled_for", FormatRfc3339(*due)}});
    submission.audit = std::move(event);
    auto submitted = runs_.Submit(std::move(submission));
    if (!submitted.ok()) {
      ++submit_errors_;  // the tick stays claimed: lost, never run twice
      if (options_.on_submit_error) {
        options_.on_submit_error(
            SubmitFailure{wf.org_id, wf.id, wf.live_version, *due, submitted.error()});
      }
      return false;
    }
    ++fired_;
    return true;
  }

  // The workflow's stored last_fired_at; without one (never seen, or deleted and created
  // again), a new schedule that starts from now: `now_ms` is written, returned, and
  // `*started` (when given) set.
  static Result<store::Millis> LastFiredOrStart(store::Tx& tx, const store::LiveWorkflow& wf,
                                                store::Millis now_ms, bool* started) {
    auto last = tx.GetScheduleLastFired(wf.org_id, wf.id);
    if (!last.ok()) return last.error();
    if (last->has_value()) return **last;
    if (Status s = tx.PutScheduleLastFired(wf.org_id, wf.id, now_ms); !s.ok()) return s.error();
    if (started != nullptr) *started = true;
    return now_ms;
  }

  store::Store& store_;
  runs::RunService& runs_;
  SchedulerOptions options_;

  // Loads a live version not read yet (Schedules keeps what a pass needs of it).
  static constexpr size_t kCacheCapacity = 16;
  runs::WorkflowCache cache_;

  std::mutex tick_mu_;  // serializes Tick; guards schedules_ and pass_
  uint64_t pass_ = 0;
  // Each scheduled workflow's live schedule; a pass drops the ones it did not use.
  std::map<Key, Schedules> schedules_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;

  std::atomic<int64_t> fired_{0};
  std::atomic<int64_t> submit_errors_{0};
  std::atomic<int64_t> errors_{0};
  std::atomic<int64_t> schedules_held_{0};
  std::atomic<int64_t> crons_held_{0};
};

Scheduler::Scheduler(store::Store& store, runs::RunService& runs, SchedulerOptions options)
    : impl_(std::make_unique<Impl>(store, runs, options)) {}

Scheduler::~Scheduler() { impl_->Stop(); }

void Scheduler::Start() { impl_->Start(); }
void Scheduler::Stop() { impl_->Stop(); }
Result<int> Scheduler::Tick() { return impl_->Tick(); }
SchedulerStats Scheduler::Stats() const { return impl_->Stats(); }

}  // namespace rampart::schedule
