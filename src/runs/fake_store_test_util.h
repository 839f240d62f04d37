// An in-memory store::Store for the run service's unit tests: orgs, workflows, versions
// and runs only (every other method fails with kInternal). Write() applies a function
// to a copy of the state and keeps it only when the function succeeds, like the real
// store's savepoints. Failure injection: fail_writes makes every Write fail.
#pragma once

#include <algorithm>
#include <atomic>
#include <charconv>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

#include "rampart/store/store.h"

namespace rampart::runs::testing {

struct FakeState {
  std::map<std::string, store::Org> orgs;
  std::map<std::pair<std::string, std::string>, store::Workflow> workflows;
  std::map<std::tuple<std::string, std::string, int>, store::WorkflowVersion> versions;
  std::map<std::string, store::Run> runs;  // by id (ids are globally unique)
  int64_t seq = 0;
  int64_t generations = 0;  // the last Workflow::generation handed out
  std::map<std::string, int64_t> run_order;  // id -> insertion sequence
  // Idempotency keys of run starts, by (org, principal, key).
  std::map<std::tuple<std::string, std::string, std::string>, store::RunIdempotencyKey>
      idempotency_keys;
};

class FakeTx final : public store::Tx {
 public:
  explicit FakeTx(FakeState& s) : s_(s) {}

  static Error Unsupported() { return MakeError(ErrorCode::kInternal, "not supported by the fake"); }

  Status InsertOrg(const store::Org& org) override {
    if (s_.orgs.count(org.id)) return MakeError(ErrorCode::kConflict, "duplicate");
    s_.orgs[org.id] = org;
    return Status::Ok();
  }
  Status UpdateOrg(const store::Org& org) override {
    if (!s_.orgs.count(org.id)) return MakeError(ErrorCode::kNotFound, "org not found");
    s_.orgs[org.id] = org;
    return Status::Ok();
  }
  Result<std::optional<store::Org>> GetOrg(std::string_view id) override {
    auto it = s_.orgs.find(std::string(id));
    if (it == s_.orgs.end()) return std::optional<store::Org>();
    return std::optional<store::Org>(it->second);
  }
  Result<std::optional<store::Org>> GetOrgBySlug(std::string_view) override { return Unsupported(); }
  Result<std::vector<store::Org>> ListOrgsOfUser(std::string_view) override { return Unsupported(); }
  Result<int64_t> CountOrgs() override { return static_cast<int64_t>(s_.orgs.size()); }
  Status InsertUser(const store::User&) override { return Unsupported(); }
  Result<std::optional<store::User>> GetUser(std::string_view) override { return Unsupported(); }
  Result<std::optional<store::User>> GetUserByEmail(std::string_view) override { return Unsupported(); }
  Result<std::vector<store::User>> ListUsers() override { return Unsupported(); }
  Status SetUserPassword(std::string_view, std::string_view, bool) override { return Unsupported(); }
  Status SetUserDisabled(std::string_view, bool) override { return Unsupported(); }
  Result<bool> DeleteUser(std::string_view) override { return Unsupported(); }
  Result<std::vector<store::Membership>> ListMembershipsOfUser(std::string_view) override {
    return Unsupported();
  }
  Result<int64_t> RevokeUserApiKeys(std::string_view, store::Millis) override {
    return Unsupported();
  }
  Status UpsertMembership(const store::Membership&) override { return Unsupported(); }
  Result<std::optional<store::Membership>> GetMembership(std::string_view, std::string_view) override {
    return Unsupported();
  }
  Result<std::optional<store::MemberOrg>> GetMemberOrg(std::string_view, std::string_view) override {
    return Unsupported();
  }
  Result<store::Page<store::Membership>> ListMembers(std::string_view, const store::PageRequest&) override {
    return Unsupported();
  }
  Result<bool> DeleteMembership(std::string_view, std::string_view) override { return Unsupported(); }
  Result<int64_t> CountOwners(std::string_view) override { return Unsupported(); }
  Status InsertSession(const store::Session&) override { return Unsupported(); }
  Result<std::optional<store::Session>> GetSession(std::string_view) override { return Unsupported(); }
  Status TouchSession(std::string_view, store::Millis) override { return Unsupported(); }
  Status RevokeSession(std::string_view) override { return Unsupported(); }
  Result<int64_t> RevokeUserSessions(std::string_view) override { return Unsupported(); }
  Status InsertApiKey(const store::ApiKey&) override { return Unsupported(); }
  Result<std::optional<store::ApiKey>> GetApiKeyByHash(std::string_view) override { return Unsupported(); }
  Result<std::optional<store::ApiKey>> GetApiKey(std::string_view, std::string_view) override {
    return Unsupported();
  }
  Result<store::Page<store::ApiKey>> ListApiKeys(std::string_view, const store::PageRequest&) override {
    return Unsupported();
  }
  Result<int64_t> CountActiveApiKeys(std::string_view, store::Millis) override { return Unsupported(); }
  Result<bool> RevokeApiKey(std::string_view, std::string_view, store::Millis) override {
    return Unsupported();
  }
  Status TouchApiKey(std::string_view, store::Millis) override { return Unsupported(); }
  Status InsertSupportGrant(const store::SupportGrant&) override { return Unsupported(); }
  Result<std::optional<store::SupportGrant>> GetSupportGrantByHash(std::string_view) override {
    return Unsupported();
  }
  Result<std::optional<store::SupportGrant>> GetSupportGrant(std::string_view,
                                                             std::string_view) override {
    return Unsupported();
  }
  Result<store::Page<store::SupportGrant>> ListSupportGrants(std::string_view,
                                                             const store::PageRequest&) override {
    return Unsupported();
  }
  Result<int64_t> CountActiveSupportGrants(std::string_view, store::Millis) override {
    return Unsupported();
  }
  Result<bool> RevokeSupportGrant(std::string_view, std::string_view, store::Millis) override {
    return Unsupported();
  }
  Result<std::vector<std::pair<std::string, int64_t>>> CountOrgRunsByStatus(
      std::string_view) override {
    return Unsupported();
  }

  Status InsertWorkflow(const store::Workflow& wf) override {
    auto key = std::make_pair(wf.org_id, wf.id);
    if (s_.workflows.count(key)) return MakeError(ErrorCode::kConflict, "duplicate");
    // As the SQLite store: the generation is the store's, new for every row.
    store::Workflow row = wf;
    row.generation = ++s_.generations;
    s_.workflows[key] = std::move(row);
    return Status::Ok();
  }
  Status UpdateWorkflow(const store::Workflow& wf) override {
    auto it = s_.workflows.find(std::make_pair(wf.org_id, wf.id));
    if (it == s_.workflows.end()) return MakeError(ErrorCode::kNotFound, "workflow not found");
    const int64_t generation = it->second.generation;
    it->second = wf;
    it->second.generation = generation;
    return Status::Ok();
  }
  Result<std::optional<store::Workflow>> GetWorkflow(std::string_view org, std::string_view id) override {
    auto it = s_.workflows.find(std::make_pair(std::string(org), std::string(id)));
    if (it == s_.workflows.end()) return std::optional<store::Workflow>();
    return std::optional<store::Workflow>(it->second);
  }
  // As the SQLite store: by id, keyset cursor "w.<hex of the last id>", limit clamped to
  // [1, 200], and WorkflowFilter::visible_to applied before paging.
  Result<store::Page<store::Workflow>> ListWorkflows(std::string_view org,
                                                     const store::WorkflowFilter& filter,
                                                     const store::PageRequest& page) override {
    const int limit = std::clamp(page.limit, 1, 200);
    std::optional<std::string> after;
    if (!page.after.empty()) {
      if (page.after.rfind("w.", 0) != 0)
        return MakeError(ErrorCode::kInvalidArgument, "invalid cursor");
      after = FromHex(std::string_view(page.after).substr(2));
      if (!after.has_value()) return MakeError(ErrorCode::kInvalidArgument, "invalid cursor");
    }
    store::Page<store::Workflow> out;
    // The map is ordered by (org, id): the org's workflows come by id.
    for (const auto& [key, wf] : s_.workflows) {
      if (key.first != org || (after.has_value() && key.second <= *after)) continue;
      if (filter.visible_to.has_value() && !MaySee(wf.org_id, wf.id, *filter.visible_to)) continue;
      if (static_cast<int>(out.items.size()) == limit) {
        out.next = "w." + ToHex(out.items.back().id);
        break;
      }
      out.items.push_back(wf);
    }
    return out;
  }
  Result<bool> DeleteWorkflow(std::string_view org, std::string_view id) override {
    bool erased = s_.workflows.erase(std::make_pair(std::string(org), std::string(id))) > 0;
    std::erase_if(s_.versions, [&](const auto& kv) {
      return std::get<0>(kv.first) == org && std::get<1>(kv.first) == id;
    });
    return erased;
  }
  Status InsertWorkflowVersion(const store::WorkflowVersion& v) override {
    s_.versions[std::make_tuple(v.org_id, v.workflow_id, v.version)] = v;
    return Status::Ok();
  }
  Result<std::optional<store::WorkflowVersion>> GetWorkflowVersion(std::string_view org,
                                                                   std::string_view wf,
                                                                   int version) override {
    auto it = s_.versions.find(std::make_tuple(std::string(org), std::string(wf), version));
    if (it == s_.versions.end()) return std::optional<store::WorkflowVersion>();
    return std::optional<store::WorkflowVersion>(it->second);
  }
  Result<store::Page<store::WorkflowVersion>> ListWorkflowVersions(std::string_view, std::string_view,
                                                                   const store::PageRequest&) override {
    return Unsupported();
  }

  Status InsertRun(const store::Run& run) override {
    if (s_.runs.count(run.id)) return MakeError(ErrorCode::kConflict, "duplicate run id");
    s_.runs[run.id] = run;
    s_.run_order[run.id] = ++s_.seq;
    return Status::Ok();
  }
  Status UpdateRun(const store::Run& run) override {
    auto it = s_.runs.find(run.id);
    if (it == s_.runs.end() || it->second.org_id != run.org_id) return Status::Ok();
    it->second = run;
    return Status::Ok();
  }
  Result<std::optional<store::Run>> GetRun(std::string_view org, std::string_view id) override {
    auto it = s_.runs.find(std::string(id));
    if (it == s_.runs.end() || it->second.org_id != org) return std::optional<store::Run>();
    return std::optional<store::Run>(it->second);
  }
  // As the SQLite store: newest first by insertion, keyset cursor "r.<seq>", limit clamped
  // to [1, 200], and RunFilter::visible_to applied before paging.
  Result<store::Page<store::Run>> ListRuns(std::string_view org, const store::RunFilter& filter,
                                           const store::PageRequest& page) override {
    const int limit = std::clamp(page.limit, 1, 200);
    int64_t before = std::numeric_limits<int64_t>::max();
    if (!page.after.empty()) {
      const std::string_view digits = std::string_view(page.after).substr(2);
      int64_t n = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
      if (page.after.rfind("r.", 0) != 0 || digits.empty() || ec != std::errc() ||
          end != digits.data() + digits.size()) {
        return MakeError(ErrorCode::kInvalidArgument, "invalid cursor");
      }
      before = n;
    }
    std::vector<std::pair<int64_t, const store::Run*>> found;
    for (const auto& [id, run] : s_.runs) {
      const int64_t seq = s_.run_order.at(id);
      if (run.org_id != org || seq >= before) continue;
      if (!filter.workflow_id.empty() && run.workflow_id != filter.workflow_id) continue;
      if (!filter.status.empty() && run.status != filter.status) continue;
      if (filter.visible_to.has_value() && !Visible(run, *filter.visible_to)) continue;
      found.emplace_back(seq, &run);
    }
    std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    store::Page<store::Run> out;
    int64_t last = 0;
    for (const auto& [seq, run] : found) {
      if (static_cast<int>(out.items.size()) == limit) {
        out.next = "r." + std::to_string(last);
        break;
      }
      out.items.push_back(*run);
      last = seq;
    }
    return out;
  }
  Result<std::vector<store::Run>> ListRunsByStatus(std::string_view status, int limit) override {
    std::vector<std::pair<int64_t, const store::Run*>> found;
    for (const auto& [id, run] : s_.runs) {
      if (run.status == status) found.emplace_back(s_.run_order[id], &run);
    }
    std::sort(found.begin(), found.end());
    std::vector<store::Run> out;
    for (const auto& [seq, run] : found) {
      if (static_cast<int>(out.size()) >= limit) break;
      out.push_back(*run);
    }
    return out;
  }
  Result<std::vector<store::Run>> ListRunsToWake(store::Millis now, int limit) override {
    std::vector<std::pair<store::Millis, const store::Run*>> found;
    for (const auto& [id, run] : s_.runs) {
      if (run.status == "awaiting_approval" && run.wake_at > 0 && run.wake_at <= now) {
        found.emplace_back(run.wake_at, &run);
      }
    }
    std::sort(found.begin(), found.end());
    std::vector<store::Run> out;
    for (const auto& [at, run] : found) {
      if (static_cast<int>(out.size()) >= limit) break;
      out.push_back(*run);
    }
    return out;
  }
  Result<std::vector<std::pair<std::string, int64_t>>> PurgeFinishedRuns(store::Millis before,
                                                                         int limit) override {
    std::vector<std::pair<store::Millis, std::string>> due;  // (finished_at, id)
    for (const auto& [id, run] : s_.runs) {
      const bool final_state = run.status == "succeeded" || run.status == "failed" ||
                               run.status == "cancelled";
      if (final_state && run.finished_at < before) due.emplace_back(run.finished_at, id);
    }
    std::sort(due.begin(), due.end());
    std::map<std::string, int64_t> per_org;
    int deleted = 0;
    for (const auto& [at, id] : due) {
      if (deleted++ >= limit) break;
      ++per_org[s_.runs[id].org_id];
      s_.runs.erase(id);
      s_.run_order.erase(id);
    }
    return std::vector<std::pair<std::string, int64_t>>(per_org.begin(), per_org.end());
  }
  Result<int64_t> CountRunsByStatus(std::string_view status) override {
    int64_t n = 0;
    for (const auto& [id, run] : s_.runs) n += run.status == status;
    return n;
  }
  Result<int64_t> CountRuns(std::string_view org_id) override {
    ++count_runs_calls;
    int64_t n = 0;
    for (const auto& [id, run] : s_.runs) n += run.org_id == org_id;
    return n;
  }
  Result<store::AuditEvent> AppendAudit(store::AuditEvent) override { return Unsupported(); }
  Result<std::vector<store::AuditEvent>> ListAudit(std::string_view, int64_t, int) override {
    return Unsupported();
  }
  Result<std::vector<store::AuditEvent>> ListAllAudit(int64_t, int) override { return Unsupported(); }
  Result<int64_t> AuditHeadSeq() override { return Unsupported(); }
  Result<int64_t> GetAuditForwardedSeq(std::string_view) override { return Unsupported(); }
  Status AdvanceAuditForwardedSeq(std::string_view, int64_t, store::Millis) override {
    return Unsupported();
  }
  Result<int64_t> DeleteAuditThrough(int64_t) override { return Unsupported(); }
  Result<std::optional<std::string>> GetSetting(std::string_view) override { return Unsupported(); }
  Status PutSetting(std::string_view, std::string_view) override { return Unsupported(); }
  Status DeleteSetting(std::string_view) override { return Unsupported(); }
  Status InsertDataKey(const store::DataKey&) override { return Unsupported(); }
  Result<std::vector<store::DataKey>> ListDataKeys(std::string_view) override { return Unsupported(); }
  Result<std::vector<store::DataKey>> ListDataKeysNotWrappedBy(std::string_view, int) override {
    return Unsupported();
  }
  Status UpdateDataKeyWrapping(const store::DataKey&) override { return Unsupported(); }
  Result<std::vector<std::string>> ListOrgIds() override { return Unsupported(); }
  Status InsertConnector(const store::Connector&) override { return Unsupported(); }
  Result<int64_t> CountConnectors(std::string_view) override { return Unsupported(); }
  Result<int64_t> CountWorkflows(std::string_view) override { return Unsupported(); }
  Result<int64_t> CountWorkflowVersions(std::string_view, std::string_view) override {
    return Unsupported();
  }
  Status UpdateConnector(const store::Connector&) override { return Unsupported(); }
  Result<std::optional<store::Connector>> GetConnector(std::string_view, std::string_view) override {
    return Unsupported();
  }
  Result<store::Page<store::Connector>> ListConnectors(std::string_view, const store::ConnectorFilter&,
                                                       const store::PageRequest&) override {
    return Unsupported();
  }
  Result<bool> DeleteConnector(std::string_view, std::string_view) override { return Unsupported(); }
  Status PutConnectorSecret(const store::ConnectorSecret&) override { return Unsupported(); }
  Result<std::vector<store::ConnectorSecret>> ListConnectorSecrets(std::string_view,
                                                                   std::string_view) override {
    return Unsupported();
  }
  Result<std::vector<store::ConnectorSecret>> ListSecretsBelowVersion(std::string_view, int64_t,
                                                                      int) override {
    return Unsupported();
  }
  Status InsertWebhook(const store::Webhook&) override { return Unsupported(); }
  Result<std::optional<store::Webhook>> GetWebhookByTokenHash(std::string_view) override {
    return Unsupported();
  }
  Result<std::optional<store::Webhook>> GetWebhook(std::string_view, std::string_view) override {
    return Unsupported();
  }
  Result<store::Page<store::Webhook>> ListWebhooks(std::string_view, std::string_view,
                                                   const store::PageRequest&) override {
    return Unsupported();
  }
  Status RotateWebhook(std::string_view, std::string_view, std::string_view,
                       store::Millis) override {
    return Unsupported();
  }
  Result<bool> DeleteWebhook(std::string_view, std::string_view) override { return Unsupported(); }
  Status TouchWebhook(std::string_view, std::string_view, store::Millis) override {
    return Unsupported();
  }
  Result<bool> WebhookDeliverySeen(std::string_view, std::string_view, std::string_view) override {
    return Unsupported();
  }
  Result<bool> RecordWebhookDelivery(std::string_view, std::string_view, std::string_view,
                                     store::Millis, std::string_view) override {
    return Unsupported();
  }
  Result<int64_t> PruneWebhookDeliveries(store::Millis, int) override { return Unsupported(); }
  Result<std::optional<store::RunIdempotencyKey>> GetRunIdempotencyKey(
      std::string_view org_id, std::string_view principal, std::string_view key) override {
    auto it = s_.idempotency_keys.find(
        {std::string(org_id), std::string(principal), std::string(key)});
    if (it == s_.idempotency_keys.end()) return std::optional<store::RunIdempotencyKey>();
    return std::optional<store::RunIdempotencyKey>(it->second);
  }
  Result<bool> ClaimRunIdempotencyKey(const store::RunIdempotencyKey& key,
                                      store::Millis replace_before) override {
    if (key.run_id.empty()) return MakeError(ErrorCode::kInvalidArgument, "key without a run");
    auto [it, inserted] =
        s_.idempotency_keys.try_emplace({key.org_id, key.principal, key.key}, key);
    if (inserted) return true;
    if (it->second.created_at >= replace_before) return false;
    it->second = key;
    return true;
  }
  Result<int64_t> PruneRunIdempotencyKeys(store::Millis before, int limit) override {
    int64_t n = 0;
    for (auto it = s_.idempotency_keys.begin(); it != s_.idempotency_keys.end() && n < limit;) {
      if (it->second.created_at < before) {
        it = s_.idempotency_keys.erase(it);
        ++n;
      } else {
        ++it;
      }
    }
    return n;
  }
  Status InsertHookDelivery(const store::HookDelivery&) override { return Unsupported(); }
  Status UpdateHookDelivery(const store::HookDelivery&) override { return Unsupported(); }
  Result<std::optional<store::HookDelivery>> GetHookDelivery(std::string_view,
                                                             std::string_view) override {
    return Unsupported();
  }
  Result<std::vector<store::HookDelivery>> ListHookDeliveriesOfRun(std::string_view,
                                                                   std::string_view) override {
    return Unsupported();
  }
  Result<std::vector<store::HookDelivery>> ListDueHookDeliveries(store::Millis, int) override {
    return Unsupported();
  }
  Status InsertHookAttempt(const store::HookAttempt&) override { return Unsupported(); }
  Result<std::vector<store::HookAttempt>> ListHookAttempts(std::string_view,
                                                           std::string_view) override {
    return Unsupported();
  }
  Status SetHookEndpointDisabled(std::string_view, std::string_view, std::string_view, bool,
                                 store::Millis) override {
    return Unsupported();
  }
  Result<bool> HookEndpointDisabled(std::string_view, std::string_view,
                                    std::string_view) override {
    return Unsupported();
  }
  Result<std::vector<store::LiveWorkflow>> ListScheduledWorkflows(std::string_view,
                                                                  std::string_view,
                                                                  int) override {
    return Unsupported();
  }
  Result<std::optional<store::Millis>> GetScheduleLastFired(std::string_view,
                                                           std::string_view) override {
    return Unsupported();
  }
  Status PutScheduleLastFired(std::string_view, std::string_view, store::Millis) override {
    return Unsupported();
  }

 private:
  // RunFilter::visible_to: the run's workflow exists in its org, is the generation the
  // run started under (else it is another workflow created again under the id), and
  // `user` may see it.
  bool Visible(const store::Run& run, const std::string& user) const {
    auto wf = s_.workflows.find(std::make_pair(run.org_id, run.workflow_id));
    if (wf == s_.workflows.end() || wf->second.generation != run.workflow_generation) return false;
    return MaySee(run.org_id, run.workflow_id, user);
  }

  // The workflow exists in the org and is not private, or its version 1 was created by
  // `user`.
  bool MaySee(const std::string& org, const std::string& workflow_id,
              const std::string& user) const {
    auto wf = s_.workflows.find(std::make_pair(org, workflow_id));
    if (wf == s_.workflows.end()) return false;
    if (wf->second.visibility != "private") return true;
    auto first = s_.versions.find(std::make_tuple(org, workflow_id, 1));
    return first != s_.versions.end() && first->second.created_by == user;
  }

  static std::string ToHex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
      out += kDigits[c >> 4];
      out += kDigits[c & 15];
    }
    return out;
  }
  static std::optional<std::string> FromHex(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) {
      unsigned value = 0;
      auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
      if (ec != std::errc() || end != hex.data() + i + 2) return std::nullopt;
      out += static_cast<char>(value);
    }
    return out;
  }

  FakeState& s_;

 public:
  // CountRuns calls of every FakeTx (the run quota must not count per run).
  static inline std::atomic<int> count_runs_calls{0};
};

class FakeStore final : public store::Store {
 public:
  Status Read(const std::function<Status(store::Tx&)>& fn) override {
    std::lock_guard lock(mu_);
    FakeState copy = state_;  // a snapshot: reads never see their own changes leak
    FakeTx tx(copy);
    return fn(tx);
  }
  Status Write(const std::function<Status(store::Tx&)>& fn) override {
    ++writes;
    if (fail_writes.load()) return MakeError(ErrorCode::kInternal, "injected write failure");
    std::lock_guard lock(mu_);
    FakeState copy = state_;
    FakeTx tx(copy);
    Status s = fn(tx);
    if (s.ok()) state_ = std::move(copy);
    return s;
  }
  Status Ping() override { return Status::Ok(); }

  std::atomic<bool> fail_writes{false};
  std::atomic<int> writes{0};

 private:
  std::mutex mu_;
  FakeState state_;
};

}  // namespace rampart::runs::testing
