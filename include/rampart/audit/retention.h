// Audit retention (ASVS V14.2.4, V16): with `audit_retention_days` set, the oldest audit
// events are purged once older than the retention, without making the chain
// unverifiable.
//
// AuditRetention sweeps from a background thread every `interval`. Each batch is one
// write transaction that:
//   1. reads the oldest events (at most `batch`) and keeps the longest PREFIX of the chain
//      whose time is before the cutoff and whose seq is at most max_purge_seq() (when
//      set): it stops at the first event that is not due, so it never leaves a hole;
//   2. checks that prefix before destroying it: it links to the current checkpoint (or the
//      genesis hash), every hash and link holds, and the first event kept links to the
//      last one purged - a broken chain is never purged (the evidence stays; kInternal);
//   3. writes the new checkpoint (audit/checkpoint.h: seq and hash of the last purged
//      event, the purge time, the MAC under `checkpoint_key`) to settings, THEN deletes the
//      prefix (the store's trigger refuses any delete the checkpoint does not cover);
//   4. appends an "audit.purged" event (actor "system", org "", details {count, cutoff,
//      checkpoint_seq}; no event contents) to the chain.
// An existing checkpoint whose MAC verifies under none of the keys stops the sweep
// (kInternal); one made with a previous master key is re-signed with the current one.
//
// Thread-safety: Start/Stop are thread-safe; RunOnce must not run concurrently with the
// background thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "rampart/core/clock.h"
#include "rampart/core/periodic.h"
#include "rampart/core/result.h"
#include "rampart/store/store.h"

namespace rampart::audit {

inline constexpr int kMinAuditRetentionDays = 30;

struct AuditRetentionOptions {
  // 0: keep events forever (Start does nothing); else >= kMinAuditRetentionDays.
  int retention_days = 0;
  int batch = 1000;  // events purged per write transaction at most (1..1000)
  std::chrono::milliseconds interval = std::chrono::hours(1);  // between sweeps
  // CheckpointKey of the current master key: signs new checkpoints. Required (non-empty)
  // when retention_days > 0.
  std::string checkpoint_key{};
  // CheckpointKey of previous master keys: a checkpoint they signed is still accepted
  // (and re-signed with checkpoint_key).
  std::vector<std::string> previous_checkpoint_keys{};
  // The forwarding bound: when set, events after the seq it returns are never purged
  // (they have not reached the collector yet); nullopt from it purges nothing. Called
  // once per sweep, from the sweeping thread.
  std::function<std::optional<int64_t>()> max_purge_seq{};
  // Called from the background thread when a sweep fails (the next one retries).
  std::function<void(const Error&)> on_error{};
};

class AuditRetention {
 public:
  AuditRetention(store::Store& store, Clock& clock, AuditRetentionOptions options);
  ~AuditRetention();  // Stop()
  AuditRetention(const AuditRetention&) = delete;
  AuditRetention& operator=(const AuditRetention&) = delete;

  // Starts the background thread (a first sweep at once); nothing when retention is off.
  void Start();
  // Stops after the batch in flight; joins the thread.
  void Stop();

  // One sweep at the clock's time: batches until one purges fewer than `batch` events (or
  // Stop() was called). Returns how many events it purged; 0 when retention is off.
  // kInternal when the chain or the checkpoint does not verify (nothing purged then).
  Result<int64_t> RunOnce();

 private:
  store::Store& store_;
  Clock& clock_;
  const AuditRetentionOptions options_;
  PeriodicThread periodic_;  // declared last: stopped before the members it uses go
};

}  // namespace rampart::audit
