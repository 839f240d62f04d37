#include "rampart/runs/run_quota.h"

#include <algorithm>
#include <future>

namespace rampart::runs {

RunQuota::RunQuota(int64_t max_runs_per_org)
    : limit_(std::clamp<int64_t>(max_runs_per_org, 1, kMaxMaxRunsPerOrg)) {}

Error RunQuota::Refusal() const {
  return MakeError(ErrorCode::kLimitExceeded,
                   "the organization has at most " + std::to_string(limit_) +
                       " stored runs; finished runs are deleted by retention "
                       "(runs_retention_days)");
}

Status RunQuota::Precheck(std::string_view org_id) {
  std::lock_guard lock(mu_);
  auto it = orgs_.find(org_id);
  if (it == orgs_.end() || !it->second.known) return Status::Ok();
  if (it->second.stored + it->second.claimed >= limit_) return Refusal();
  return Status::Ok();
}

Status RunQuota::CheckInsert(store::Tx& tx, const std::string& org_id, int64_t n,
                             RunQuotaTicket* ticket) {
  {
    std::lock_guard lock(mu_);
    auto it = orgs_.find(org_id);
    if (it != orgs_.end() && it->second.known) {
      return it->second.stored + it->second.claimed + n > limit_ ? Status(Refusal())
                                                                 : Status::Ok();
    }
  }
  // Learned here, on the writer: no other write function runs meanwhile, so nothing can
  // change the org's runs between the count and the bookkeeping below.
  auto counted = tx.CountRuns(org_id);
  if (!counted.ok()) return counted.error();
  std::lock_guard lock(mu_);
  OrgCount& c = orgs_[org_id];
  if (!c.known) {
    c.known = true;
    c.stored = *counted;
    ticket->learned.push_back(org_id);
  }
  return c.stored + c.claimed + n > limit_ ? Status(Refusal()) : Status::Ok();
}

void RunQuota::Inserted(const std::string& org_id, int64_t n, RunQuotaTicket* ticket) {
  if (n == 0) return;
  std::lock_guard lock(mu_);
  auto it = orgs_.find(org_id);
  if (it == orgs_.end() || !it->second.known) return;
  it->second.stored += n;
  ticket->applied.push_back({org_id, n});
}

void RunQuota::Deleted(const std::string& org_id, int64_t n, RunQuotaTicket* ticket) {
  if (n == 0) return;
  std::lock_guard lock(mu_);
  auto it = orgs_.find(org_id);
  if (it == orgs_.end() || !it->second.known) return;
  it->second.stored = std::max<int64_t>(0, it->second.stored - n);
  ticket->applied.push_back({org_id, -n});
}

void RunQuota::Complete(const RunQuotaTicket& ticket, const Status& written) {
  if (written.ok()) return;
  std::lock_guard lock(mu_);
  for (const auto& change : ticket.applied) {
    auto it = orgs_.find(change.org_id);
    if (it != orgs_.end() && it->second.known) {
      it->second.stored = std::max<int64_t>(0, it->second.stored - change.delta);
    }
  }
  if (written.error().code == ErrorCode::kInternal) {
    // The transaction may have been lost as a whole: the learned count may include
    // writes before this one that were rolled back with it.
    for (const std::string& org_id : ticket.learned) {
      auto it = orgs_.find(org_id);
      if (it != orgs_.end()) it->second.known = false;
    }
  }
}

Status RunQuota::ClaimChild(store::Store& store, const std::string& org_id) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    {
      std::lock_guard lock(mu_);
      OrgCount& c = orgs_[org_id];
      if (c.known) {
        if (c.stored + c.claimed >= limit_) return Refusal();
        ++c.claimed;
        return Status::Ok();
      }
    }
    // Learned in a write of its own (serialized with every other run write); n = 0
    // checks nothing.
    RunQuotaTicket ticket;
    Status learned = WriteWithCompletion(
        store, [&](store::Tx& tx) { return CheckInsert(tx, org_id, 0, &ticket); },
        [&](const Status& written) { Complete(ticket, written); });
    if (!learned.ok() && learned.error().code != ErrorCode::kLimitExceeded) return learned;
  }
  return MakeError(ErrorCode::kInternal, "the organization's stored runs could not be counted");
}

void RunQuota::EndClaims(const std::string& org_id, int64_t n) {
  if (n == 0) return;
  std::lock_guard lock(mu_);
  OrgCount& c = orgs_[org_id];
  c.claimed = std::max<int64_t>(0, c.claimed - n);
}

int64_t RunQuota::StoredForTest(const std::string& org_id) const {
  std::lock_guard lock(mu_);
  auto it = orgs_.find(org_id);
  return it == orgs_.end() || !it->second.known ? -1 : it->second.stored;
}

int64_t RunQuota::ClaimedForTest(const std::string& org_id) const {
  std::lock_guard lock(mu_);
  auto it = orgs_.find(org_id);
  return it == orgs_.end() ? 0 : it->second.claimed;
}

Status WriteWithCompletion(store::Store& store, const std::function<Status(store::Tx&)>& fn,
                           const std::function<void(const Status&)>& complete) {
  std::promise<Status> promise;
  std::future<Status> result = promise.get_future();
  // `fn` and `complete` outlive the job: this frame waits for the completion.
  store.WriteAsync([&fn](store::Tx& tx) { return fn(tx); },
                   [&promise, &complete](Status status) {
                     try {
                       complete(status);
                     } catch (...) {
                     }
                     promise.set_value(std::move(status));
                   });
  return result.get();
}

}  // namespace rampart::runs
