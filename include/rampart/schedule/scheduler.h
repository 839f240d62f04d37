// The scheduler of schedule triggers: a thread that, about every second, finds the live
// workflow versions whose `triggers` hold `{type: schedule, cron}` (publish marks them
// `scheduled` in the store; a pass pages through those only) and submits a run
// for each due tick through the run service (trigger {type: "schedule", cron,
// scheduled_for}, actor "schedule").
//
// State. schedule_state keeps, per workflow, the tick it last fired for
// (last_fired_at), so a restart never re-fires a tick and never bursts:
//  - a workflow seen for the first time starts at "now" (ticks before it was seen are
//    not run); so does one deleted (which deletes its state) and created again, and a
//    newly published version (publishing sets last_fired_at to the publish time);
//  - when one or more ticks were missed since last_fired_at (the server was down, or
//    busy), ONE run fires for the most recent missed tick, then scheduling continues
//    normally;
//  - with several schedule triggers in one workflow, one pass fires at most one run
//    for it (the most recent due tick of any of them).
//
// At most once. last_fired_at is committed in its own write right BEFORE Submit (which
// has its own write). A crash (or a Submit error: invalid input, queue full) between
// the two loses that tick's run instead of running it twice; the choice is deliberate:
// a schedule that skips one tick is recoverable, a duplicated side effect may not be.
//
// Thread-safety: Start/Stop/Tick may be called from any thread; Tick is serialized.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "rampart/core/clock.h"
#include "rampart/core/result.h"
#include "rampart/runs/runs.h"
#include "rampart/store/store.h"

namespace rampart::schedule {

// A tick claimed but not started: its run was refused (an inputs schema that `{}` does not
// satisfy, a full queue, a quota). The tick is lost (at most once), so it is reported.
struct SubmitFailure {
  std::string org_id;
  std::string workflow_id;
  int version = 0;
  std::chrono::system_clock::time_point scheduled_for;
  Error error;
};

struct SchedulerOptions {
  Clock* clock = &SystemClock();             // only Now() is used (wall time, UTC)
  std::chrono::milliseconds interval{1000};  // between passes (real time)
  int page_size = 1000;  // scheduled workflows per store read (a pass reads them all)
  // Called on the scheduler's thread for each SubmitFailure (optional).
  std::function<void(const SubmitFailure&)> on_submit_error;
};

struct SchedulerStats {
  int64_t fired = 0;          // runs submitted
  int64_t submit_errors = 0;  // ticks lost to a Submit error (at most once)
  int64_t errors = 0;         // passes or workflows skipped on a store/load error
  // Held in memory after the last pass: the schedule of each live scheduled workflow
  // (its parsed crons and last fired tick), and the crons of all of them (state of
  // deleted ones is dropped).
  int64_t schedules_held = 0;
  int64_t crons_held = 0;
};

class Scheduler {
 public:
  Scheduler(store::Store& store, runs::RunService& runs, SchedulerOptions options = {});
  ~Scheduler();  // Stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Starts the thread (its first pass runs at once). No-op when already started.
  void Start();
  // Stops and joins the thread. Idempotent.
  void Stop();

  // One pass at the clock's current time (the thread calls this; tests call it
  // directly). Returns how many runs were submitted.
  Result<int> Tick();

  SchedulerStats Stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::schedule
