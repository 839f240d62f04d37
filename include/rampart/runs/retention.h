// Run retention (ASVS V14.2.4): finished runs hold workflow inputs and outputs (run
// data), so they are not kept forever when the operator sets `runs_retention_days`.
//
// RunRetention sweeps from a background thread every `interval`: it deletes the runs of
// every org in a final state (succeeded, failed, cancelled) whose finished_at is older
// than the retention, with their outbound hook deliveries and attempts
// (Tx::PurgeFinishedRuns), in batches of at most `batch` runs per write transaction so
// each commit stays short. Queued, running and awaiting_approval runs are never touched.
// Each batch appends, in the same transaction, one audit event per org it deleted runs
// of: action "runs.purged", actor "system", details {count, cutoff} (no run data),
// and tells RetentionOptions::quota what it deleted (inside that write, in commit order).
//
// Thread-safety: Start/Stop are thread-safe; RunOnce must not run concurrently with the
// background thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

#include "rampart/core/clock.h"
#include "rampart/core/periodic.h"
#include "rampart/core/result.h"
#include "rampart/runs/run_quota.h"
#include "rampart/store/store.h"

namespace rampart::runs {

struct RetentionOptions {
  int retention_days = 0;  // 0: keep runs forever (Start does nothing)
  int batch = 500;         // runs deleted per write transaction at most
  std::chrono::milliseconds interval = std::chrono::hours(1);  // between sweeps
  // Called from the background thread when a sweep fails (the next one retries).
  std::function<void(const Error&)> on_error{};
  // The run service's stored-run counts (RunService::quota()), told in each batch's
  // write what it deleted, so the quota frees up at once. Null: nobody is told.
  RunQuota* quota = nullptr;
};

class RunRetention {
 public:
  RunRetention(store::Store& store, Clock& clock, RetentionOptions options);
  ~RunRetention();  // Stop()
  RunRetention(const RunRetention&) = delete;
  RunRetention& operator=(const RunRetention&) = delete;

  // Starts the background thread (a first sweep at once); nothing when retention is off.
  void Start();
  // Stops after the batch in flight; joins the thread.
  void Stop();

  // One sweep at the clock's time: batches until one deletes fewer than `batch` runs (or
  // Stop() was called). Returns how many runs it deleted; 0 when retention is off.
  Result<int64_t> RunOnce();

 private:
  store::Store& store_;
  Clock& clock_;
  const RetentionOptions options_;
  PeriodicThread periodic_;  // declared last: stopped before the members it uses go
};

}  // namespace rampart::runs
