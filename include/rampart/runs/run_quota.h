// The per-org quota on stored runs (ASVS V2.4.1, V15.2.2; config `quotas.runs`): how many
// runs, of any status, one org keeps in the store.
//
// Counting without a COUNT(*) per run. An org's number of stored runs is learned once per
// process (Tx::CountRuns, an indexed count), inside the first write transaction that
// needs it, and then kept in memory: +n when a write inserts runs (a submission, an inline
// run, a parent's child runs), -n when one deletes them (retention). Each change is made
// inside the write function that changed the store, and undone in that write's completion
// when it did not commit. The store runs write functions one at a time and calls the
// completions in the same order, so the count follows the store's commit order exactly: a
// count learned at any point includes exactly the writes before it.
//
// Admission:
//  - Precheck (any thread, before any work; a mutex and a hash lookup): refused when the
//    org's count is known and already at the limit. A submission that passes still may
//    be refused by the exact check.
//  - CheckInsert, inside the write that inserts the run, before the insert: refused when
//    the org's count plus its claimed child runs leaves no room. Exact: concurrent
//    submissions at the edge cannot overshoot (the store serializes the checks), those
//    past the edge are refused with nothing stored.
//  - ClaimChild, before a `workflow` step starts its child run (a worker thread): takes
//    room for the child row, which the parent's final write inserts; the claim ends when
//    that write completed (EndClaims). CheckInsert leaves claimed room alone, so
//    stored + claimed never passes the limit.
// Refusals are kLimitExceeded "the organization has at most N stored runs; ...".
//
// The count is per process: writes of another process sharing the store (or made while
// the server was stopped) are seen at the next start, when the count is learned again.
//
// Thread-safety: every method is thread-safe. CheckInsert/Inserted/Deleted must be
// called from inside a write function (where the store serializes them), Complete from
// that write's completion (see there); ClaimChild never from the store's writer thread (it may wait
// for a write of its own).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/result.h"
#include "rampart/core/string_map.h"
#include "rampart/store/store.h"

namespace rampart::runs {

// The default and the range of `quotas.runs`.
inline constexpr int64_t kDefaultMaxRunsPerOrg = 1'000'000;
inline constexpr int64_t kMaxMaxRunsPerOrg = 1'000'000'000;

// What one write function changed in the counts, so that its completion can undo it.
// Owned by the write (its function and completion); reset at the start of the function.
struct RunQuotaTicket {
  struct Change {
    std::string org_id;
    int64_t delta = 0;
  };
  std::vector<Change> applied;  // applied to known counts by the function
  std::vector<std::string> learned;  // orgs whose count the function learned
  void Reset() {
    applied.clear();
    learned.clear();
  }
};

class RunQuota {
 public:
  explicit RunQuota(int64_t max_runs_per_org = kDefaultMaxRunsPerOrg);
  RunQuota(const RunQuota&) = delete;
  RunQuota& operator=(const RunQuota&) = delete;

  int64_t limit() const { return limit_; }

  // Before any work for a new run: kLimitExceeded when the org's count is known and full.
  Status Precheck(std::string_view org_id);

  // Inside a write function, before it inserts `n` runs of the org: learns the count in
  // `tx` if it is not known yet, then kLimitExceeded when they do not fit.
  Status CheckInsert(store::Tx& tx, const std::string& org_id, int64_t n,
                     RunQuotaTicket* ticket);
  // Inside a write function, as its last step when it returns Ok: it inserted (deleted)
  // `n` runs of the org. A count not known yet is left alone (learning it later counts
  // them).
  void Inserted(const std::string& org_id, int64_t n, RunQuotaTicket* ticket);
  void Deleted(const std::string& org_id, int64_t n, RunQuotaTicket* ticket);
  // In the write's completion: undoes what the function applied when the write did not
  // commit (a write that only inserted may also call it after Write() returned: the
  // count is too high meanwhile, which only refuses early); forgets a count it learned when the whole transaction was lost (kInternal:
  // the count may include other writes that were rolled back), to be learned again.
  void Complete(const RunQuotaTicket& ticket, const Status& written);

  // A child run is about to start (a `workflow` step): kLimitExceeded when the org has no
  // room for its row. Learns the count first (a write transaction) when needed.
  Status ClaimChild(store::Store& store, const std::string& org_id);
  // The parent's final write completed (either way): its `n` claims end.
  void EndClaims(const std::string& org_id, int64_t n);

  // The org's count as known now (-1: not known yet), and its open child claims.
  int64_t StoredForTest(const std::string& org_id) const;
  int64_t ClaimedForTest(const std::string& org_id) const;

  // The refusal (kLimitExceeded, naming the limit).
  Error Refusal() const;

 private:
  struct OrgCount {
    bool known = false;
    int64_t stored = 0;   // runs in the store (when known)
    int64_t claimed = 0;  // child runs started whose rows are not written yet
  };

  const int64_t limit_;
  mutable std::mutex mu_;
  StringMap<OrgCount> orgs_;  // guarded by mu_
};

// Store::Write for writes that keep a RunQuotaTicket: runs `fn` and then, in the write's
// completion (on the store's writer thread, in commit order), `complete`, before
// returning the write's status. Never from the store's writer thread.
Status WriteWithCompletion(store::Store& store, const std::function<Status(store::Tx&)>& fn,
                           const std::function<void(const Status&)>& complete);

}  // namespace rampart::runs
