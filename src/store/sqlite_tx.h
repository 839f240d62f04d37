// SqliteTx: the Tx of the SQLite store over one connection (internal to store/). It
// runs statements only; transactions are opened and closed by SqliteStore.
#pragma once

#include "rampart/audit/chain.h"
#include "rampart/store/store.h"
#include "store/sqlite_connection.h"

namespace rampart::store {

class SqliteTx final : public Tx {
 public:
  explicit SqliteTx(SqliteConnection& conn) : conn_(conn) {}

  Status InsertOrg(const Org& org) override;
  Status UpdateOrg(const Org& org) override;
  Result<std::optional<Org>> GetOrg(std::string_view org_id) override;
  Result<std::optional<Org>> GetOrgBySlug(std::string_view slug) override;
  Result<std::vector<Org>> ListOrgsOfUser(std::string_view user_id) override;
  Result<int64_t> CountOrgs() override;

  Status InsertUser(const User& user) override;
  Result<std::optional<User>> GetUser(std::string_view user_id) override;
  Result<std::optional<User>> GetUserByEmail(std::string_view email) override;
  Result<std::vector<User>> ListUsers() override;
  Status SetUserPassword(std::string_view user_id, std::string_view password_hash,
                         bool must_change_password) override;
  Status SetUserDisabled(std::string_view user_id, bool disabled) override;
  Result<bool> DeleteUser(std::string_view user_id) override;

  Status UpsertMembership(const Membership& membership) override;
  Result<std::optional<MemberOrg>> GetMemberOrg(std::string_view org_id,
                                                std::string_view user_id) override;
  Result<std::optional<Membership>> GetMembership(std::string_view org_id,
                                                  std::string_view user_id) override;
  Result<Page<Membership>> ListMembers(std::string_view org_id, const PageRequest& page) override;
  Result<bool> DeleteMembership(std::string_view org_id, std::string_view user_id) override;
  Result<int64_t> CountOwners(std::string_view org_id) override;
  Result<std::vector<Membership>> ListMembershipsOfUser(std::string_view user_id) override;

  Status InsertSession(const Session& session) override;
  Result<std::optional<Session>> GetSession(std::string_view token_hash) override;
  Status TouchSession(std::string_view token_hash, Millis now) override;
  Status RevokeSession(std::string_view token_hash) override;
  Result<int64_t> RevokeUserSessions(std::string_view user_id) override;

  Status InsertApiKey(const ApiKey& key) override;
  Result<std::optional<ApiKey>> GetApiKeyByHash(std::string_view hash) override;
  Result<std::optional<ApiKey>> GetApiKey(std::string_view org_id, std::string_view id) override;
  Result<Page<ApiKey>> ListApiKeys(std::string_view org_id, const PageRequest& page) override;
  Result<int64_t> CountActiveApiKeys(std::string_view org_id, Millis now) override;
  Result<bool> RevokeApiKey(std::string_view org_id, std::string_view id, Millis now) override;
  Result<int64_t> RevokeUserApiKeys(std::string_view user_id, Millis now) override;
  Status TouchApiKey(std::string_view id, Millis now) override;

  Status InsertSupportGrant(const SupportGrant& grant) override;
  Result<std::optional<SupportGrant>> GetSupportGrantByHash(std::string_view hash) override;
  Result<std::optional<SupportGrant>> GetSupportGrant(std::string_view org_id,
                                                      std::string_view id) override;
  Result<Page<SupportGrant>> ListSupportGrants(std::string_view org_id,
                                               const PageRequest& page) override;
  Result<int64_t> CountActiveSupportGrants(std::string_view org_id, Millis now) override;
  Result<bool> RevokeSupportGrant(std::string_view org_id, std::string_view id,
                                  Millis now) override;

  Status InsertWorkflow(const Workflow& workflow) override;
  Status UpdateWorkflow(const Workflow& workflow) override;
  Result<std::optional<Workflow>> GetWorkflow(std::string_view org_id,
                                              std::string_view id) override;
  Result<Page<Workflow>> ListWorkflows(std::string_view org_id, const WorkflowFilter& filter,
                                       const PageRequest& page) override;
  Result<bool> DeleteWorkflow(std::string_view org_id, std::string_view id) override;
  Result<int64_t> CountWorkflows(std::string_view org_id) override;
  Result<int64_t> CountWorkflowVersions(std::string_view org_id,
                                        std::string_view workflow_id) override;
  Status InsertWorkflowVersion(const WorkflowVersion& version) override;
  Result<std::optional<WorkflowVersion>> GetWorkflowVersion(std::string_view org_id,
                                                            std::string_view workflow_id,
                                                            int version) override;
  Result<Page<WorkflowVersion>> ListWorkflowVersions(std::string_view org_id,
                                                     std::string_view workflow_id,
                                                     const PageRequest& page) override;

  Status InsertRun(const Run& run) override;
  Status UpdateRun(const Run& run) override;
  Result<std::optional<Run>> GetRun(std::string_view org_id, std::string_view id) override;
  Result<Page<Run>> ListRuns(std::string_view org_id, const RunFilter& filter,
                             const PageRequest& page) override;
  Result<std::vector<Run>> ListRunsByStatus(std::string_view status, int limit) override;
  Result<std::vector<Run>> ListRunsToWake(Millis now, int limit) override;
  Result<int64_t> CountRunsByStatus(std::string_view status) override;
  Result<int64_t> CountRuns(std::string_view org_id) override;
  Result<std::vector<std::pair<std::string, int64_t>>> CountOrgRunsByStatus(
      std::string_view org_id) override;
  Result<std::vector<std::pair<std::string, int64_t>>> PurgeFinishedRuns(Millis before,
                                                                         int limit) override;

  Result<AuditEvent> AppendAudit(AuditEvent event) override;

  // The audit chain's head is read once per write transaction and kept here; the
  // "audit.head" setting is written once, by FinishTransaction, just before COMMIT (still
  // in the same transaction as the events). The writer brackets every transaction with
  // BeginTransaction/FinishTransaction and restores the mark when a job's savepoint rolls
  // back, so the cache never runs ahead of what the transaction holds.
  struct AuditMark {
    std::optional<audit::ChainHead> head;
    bool dirty = false;
  };
  void BeginTransaction() { audit_ = AuditMark{}; }
  AuditMark Mark() const { return audit_; }
  void Restore(AuditMark mark) { audit_ = std::move(mark); }
  Status FinishTransaction();
  Result<std::vector<AuditEvent>> ListAudit(std::string_view org_id, int64_t after_seq,
                                            int limit) override;
  Result<std::vector<AuditEvent>> ListAllAudit(int64_t after_seq, int limit) override;
  Result<int64_t> AuditHeadSeq() override;
  Result<int64_t> GetAuditForwardedSeq(std::string_view destination) override;
  Status AdvanceAuditForwardedSeq(std::string_view destination, int64_t seq, Millis now) override;
  Result<int64_t> DeleteAuditThrough(int64_t through_seq) override;

  Status InsertDataKey(const DataKey& key) override;
  Result<std::vector<DataKey>> ListDataKeys(std::string_view org_id) override;
  Result<std::vector<DataKey>> ListDataKeysNotWrappedBy(std::string_view kek_id,
                                                        int limit) override;
  Status UpdateDataKeyWrapping(const DataKey& key) override;
  Result<std::vector<std::string>> ListOrgIds() override;

  Status InsertConnector(const Connector& connector) override;
  Result<int64_t> CountConnectors(std::string_view org_id) override;
  Status UpdateConnector(const Connector& connector) override;
  Result<std::optional<Connector>> GetConnector(std::string_view org_id,
                                                std::string_view id) override;
  Result<Page<Connector>> ListConnectors(std::string_view org_id, const ConnectorFilter& filter,
                                         const PageRequest& page) override;
  Result<bool> DeleteConnector(std::string_view org_id, std::string_view id) override;
  Status PutConnectorSecret(const ConnectorSecret& secret) override;
  Result<std::vector<ConnectorSecret>> ListConnectorSecrets(
      std::string_view org_id, std::string_view connector_id) override;
  Result<std::vector<ConnectorSecret>> ListSecretsBelowVersion(std::string_view org_id,
                                                               int64_t version,
                                                               int limit) override;

  Status InsertWebhook(const Webhook& webhook) override;
  Result<std::optional<Webhook>> GetWebhookByTokenHash(std::string_view token_hash) override;
  Result<std::optional<Webhook>> GetWebhook(std::string_view org_id, std::string_view id) override;
  Result<Page<Webhook>> ListWebhooks(std::string_view org_id, std::string_view workflow_id,
                                     const PageRequest& page) override;
  Status RotateWebhook(std::string_view org_id, std::string_view id,
                       std::string_view token_hash, Millis now) override;
  Result<bool> DeleteWebhook(std::string_view org_id, std::string_view id) override;
  Status TouchWebhook(std::string_view org_id, std::string_view id, Millis now) override;
  Result<bool> WebhookDeliverySeen(std::string_view org_id, std::string_view hook_id,
                                   std::string_view delivery_id) override;
  Result<bool> RecordWebhookDelivery(std::string_view org_id, std::string_view hook_id,
                                     std::string_view delivery_id, Millis now,
                                     std::string_view run_id) override;
  Result<int64_t> PruneWebhookDeliveries(Millis before, int limit) override;

  Result<std::optional<RunIdempotencyKey>> GetRunIdempotencyKey(std::string_view org_id,
                                                                std::string_view principal,
                                                                std::string_view key) override;
  Result<bool> ClaimRunIdempotencyKey(const RunIdempotencyKey& key, Millis replace_before) override;
  Result<int64_t> PruneRunIdempotencyKeys(Millis before, int limit) override;

  Status InsertHookDelivery(const HookDelivery& delivery) override;
  Status UpdateHookDelivery(const HookDelivery& delivery) override;
  Result<std::optional<HookDelivery>> GetHookDelivery(std::string_view org_id,
                                                      std::string_view id) override;
  Result<std::vector<HookDelivery>> ListHookDeliveriesOfRun(std::string_view org_id,
                                                            std::string_view run_id) override;
  Result<std::vector<HookDelivery>> ListDueHookDeliveries(Millis now, int limit) override;
  Status InsertHookAttempt(const HookAttempt& attempt) override;
  Result<std::vector<HookAttempt>> ListHookAttempts(std::string_view org_id,
                                                    std::string_view delivery_id) override;
  Status SetHookEndpointDisabled(std::string_view org_id, std::string_view workflow_id,
                                 std::string_view url, bool disabled, Millis now) override;
  Result<bool> HookEndpointDisabled(std::string_view org_id, std::string_view workflow_id,
                                    std::string_view url) override;

  Result<std::vector<LiveWorkflow>> ListScheduledWorkflows(std::string_view after_org,
                                                           std::string_view after_id,
                                                           int limit) override;
  Result<std::optional<Millis>> GetScheduleLastFired(std::string_view org_id,
                                                    std::string_view workflow_id) override;
  Status PutScheduleLastFired(std::string_view org_id, std::string_view workflow_id,
                              Millis last_fired_at) override;

  Result<std::optional<std::string>> GetSetting(std::string_view key) override;
  Status PutSetting(std::string_view key, std::string_view value) override;
  Status DeleteSetting(std::string_view key) override;

 private:
  SqliteConnection& conn_;
  AuditMark audit_;
};

}  // namespace rampart::store
