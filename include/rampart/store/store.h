// The store: every durable object of the server (orgs, users, memberships, sessions, API
// keys, workflows and their versions, runs with their records, audit events, settings)
// behind one abstract interface, so a PostgreSQL backend can follow without touching
// callers. The embedded default is SQLite (OpenSqliteStore).
//
// Transactions. Callers never hold a connection: they pass a function that receives a
// Tx. Read() runs it in a read transaction (a consistent snapshot; many run at once).
// Write() runs it in a write transaction and returns only once the change is durable
// (committed and fsynced). WriteAsync() does the same without blocking its caller: it
// queues the function and a completion, which the store calls once the change is durable
// (or has failed), so a server thread need not park while an fsync happens. Concurrent
// writes (of either form) are grouped into one database commit (group commit) so
// durability does not cost one fsync per caller; each caller's function still applies
// atomically: when it returns an error, its changes are rolled back (a savepoint) and the
// other callers of the group are unaffected.
//
// Org isolation. Every method that touches an org's object takes the org id and filters
// by it: an object of another org is "absent" (std::nullopt / false), never an error
// that would reveal its existence.
//
// Errors. Methods return kConflict for unique-key violations, kInternal for database
// failures (the message is generic, never SQL text); "not found" is an empty optional.
//
// Thread-safety: a Store is thread-safe. A Tx must only be used inside the function it
// was passed to, on that thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rampart/core/result.h"

namespace rampart::store {

// Unix time in milliseconds.
using Millis = int64_t;

struct Org {
  std::string id;    // "org_..."
  std::string slug;  // unique, ^[a-z0-9][a-z0-9-]{0,62}$, used in public URLs
  std::string name;
  int max_concurrent_runs = 10;
  Millis created_at = 0;
  // The org's egress rules (PATCH /v1/orgs/{org} `egress`), a JSON object of
  // net::EgressRules fields without allow_cidrs; "{}" = no narrowing of the server's policy.
  std::string egress = "{}";
};

struct User {
  std::string id;             // "usr_..."
  std::string email;          // unique, stored lowercase
  std::string password_hash;  // Argon2id PHC string; empty for users without a password
  Millis created_at = 0;
  // Set when someone else chose the password (an owner adding the member): until the
  // user changes it, their sessions may only change it, log out and list their orgs.
  bool must_change_password = false;
  // Set by the operator (POST /v1/users/{user}/disable): the account cannot sign in
  // (password, JWT, master key as the user) until enabled again.
  bool disabled = false;
};

struct Membership {
  std::string org_id;
  std::string user_id;
  std::string role;  // "owner" | "developer"
  Millis created_at = 0;
};

struct Session {
  std::string token_hash;  // hex SHA-256 of the session token (the token is never stored)
  std::string user_id;
  std::string csrf_hash;   // hex SHA-256 of the CSRF token
  Millis created_at = 0;
  Millis last_seen_at = 0;
  Millis expires_at = 0;   // absolute expiry
  bool revoked = false;
};

struct ApiKey {
  std::string id;       // "key_..."
  std::string org_id;
  std::string user_id;  // the creator; the key acts with (a subset of) their permissions
  std::string name;
  std::string hash;     // hex SHA-256 of the full key
  std::string hint;     // "rpk_abcd...wxyz": enough to recognize, useless to attack
  std::string scope;    // "read" | "read_write"
  Millis created_at = 0;
  std::optional<Millis> expires_at;
  std::optional<Millis> last_used_at;
  std::optional<Millis> revoked_at;
};

// A support grant (spec/security.md section 2): an "rps_..." token an owner hands to
// support staff, good only for the diagnostics of its org until it expires or is revoked.
// The token is shown once; the store keeps its hex SHA-256.
struct SupportGrant {
  std::string org_id;
  std::string id;          // "sgr_..."
  std::string hash;        // hex SHA-256 of the token; unique
  std::string created_by;  // the owner's user id
  std::string reason;      // "" when none was given
  Millis created_at = 0;
  Millis expires_at = 0;   // always set (at most 72 h after created_at)
  std::optional<Millis> revoked_at;
};

struct Workflow {
  std::string org_id;
  std::string id;          // the definition's id
  std::string name;
  std::string visibility;  // of the live version, else of the latest draft
  int latest_version = 0;  // the newest version (the draft)
  int live_version = 0;    // 0: never published
  Millis created_at = 0;
  Millis updated_at = 0;
  bool scheduled = false;  // the live version has a schedule trigger (set by publish)
  // Which creation of the id this row is: InsertWorkflow gives every new row a random
  // one (never 0), so a workflow deleted and created again under its id differs from
  // the deleted one, whatever the clock did. Runs carry the generation they started under.
  int64_t generation = 0;
};

struct WorkflowVersion {
  std::string org_id;
  std::string workflow_id;
  int version = 0;
  std::string definition;  // the definition as JSON text (what the engine loads)
  std::string source;      // the text as submitted (YAML or JSON)
  std::string created_by;  // actor
  Millis created_at = 0;
};

// Whether a run status is final: succeeded, failed or cancelled. A run has finished_at > 0
// exactly then; queued, running and awaiting_approval runs have finished_at 0.
inline bool IsFinalRunStatus(std::string_view status) {
  return status == "succeeded" || status == "failed" || status == "cancelled";
}

struct Run {
  std::string org_id;
  std::string id;  // "run_..."
  std::string workflow_id;
  int version = 0;
  std::string status;        // queued|running|awaiting_approval|succeeded|failed|cancelled
  std::string input;         // JSON text
  std::string trigger;       // JSON text ({type, received_at, ...})
  std::string record;        // JSON text of the run record once finished; "" before
  std::string error_code;    // "" unless failed/cancelled
  std::string actor;         // who started it ("user:usr_..", "key:key_..", "hook:..")
  // Workflow::generation of the workflow row it was started under; another value than
  // the current row's (or 0) means the run belongs to a deleted workflow of the same id.
  int64_t workflow_generation = 0;
  Millis created_at = 0;
  Millis started_at = 0;
  // 0 while the run is queued, running or awaiting_approval: recovery (ListRunsByStatus)
  // finds unfinished runs by it, so a writer must never give one a finished_at.
  Millis finished_at = 0;
  int attempts = 0;          // times a worker started it (recovery uses it)
  bool cancel_requested = false;
  // When the approval it waits (or waited) for times out (0: never). A run still
  // awaiting_approval once wake_at has passed is resumed by the run service (the step's
  // on_timeout applies); kept when the run resumes, so the engine knows the deadline.
  Millis wake_at = 0;
};

struct AuditEvent {
  int64_t seq = 0;  // assigned by AppendAudit, strictly increasing, global
  Millis time = 0;
  std::string org_id;  // "" for events outside any org (setup, failed login)
  std::string actor;
  std::string action;  // e.g. "login", "login_failed", "api_key.create"
  std::string target;
  std::string outcome;  // "success" | "failure" | "denied"
  std::string source_ip;
  std::string user_agent;
  std::string details;    // JSON object text; never secret values or run payloads
  std::string prev_hash;  // assigned by AppendAudit
  std::string hash;       // assigned by AppendAudit (rampart/audit/chain.h)
};

// A per-org data key of the keyring (crypto/keyring.h), wrapped by the KEK. Versions
// start at 1 and only grow; a version is never deleted while a secret may use it.
struct DataKey {
  std::string org_id;
  int64_t version = 0;
  std::string wrapped;  // nonce || ciphertext || tag (bytes)
  Millis created_at = 0;
  // Id of the master key (KEK) that wrapped it; "" for keys written before ids existed
  // (schema 7), which belong to the master key current at the upgrade.
  std::string kek_id;
};

// A connector (spec/interfaces.md "Connectors"): options and policy, never secrets.
struct Connector {
  std::string org_id;
  std::string id;                  // ^[a-z0-9][a-z0-9_-]{0,63}$
  std::string type;                // bearer|basic|api_key|oauth2|mtls|custom|webhook_secret
  std::string options = "{}";      // JSON object text
  std::string allowed_workflows = "[]";  // JSON array text; [] = any workflow of the org
  std::string egress = "{}";       // JSON object text
  Millis created_at = 0;
  Millis updated_at = 0;
  std::optional<Millis> rotated_at;  // last time a secret was replaced
  int rotate_every_days = 0;         // 0 = no rotation policy
};

// One encrypted secret field of a connector. `sealed` is the keyring's output (it starts
// with the key version, which is also stored in `key_version` for re-encryption scans).
struct ConnectorSecret {
  std::string org_id;
  std::string connector_id;
  std::string field;
  std::string sealed;  // bytes
  int64_t key_version = 0;
  Millis updated_at = 0;
};

// An inbound webhook trigger URL (spec/security.md section 2): the "rwh_..." token lives
// only in the URL handed out once; the store keeps its hex SHA-256.
struct Webhook {
  std::string org_id;
  std::string id;           // "hk_..."
  std::string workflow_id;
  std::string token_hash;   // hex SHA-256 of the token; unique
  Millis created_at = 0;
  std::optional<Millis> rotated_at;
  int64_t use_count = 0;    // accepted deliveries
  std::optional<Millis> last_used_at;
};

// An outbound execution hook delivery (spec/interfaces.md "Outbound execution hooks"):
// one event of one run to one hook URL. Inserted in the same commit as the run's final
// status; the payload is fixed then (every attempt sends the same bytes).
struct HookDelivery {
  std::string org_id;
  std::string id;  // "msg_..." (the webhook-id header)
  std::string run_id;
  std::string workflow_id;
  std::string url;
  std::string secret;   // the webhook_secret connector that signs it
  std::string event;    // run.succeeded | run.failed | run.awaiting_approval
  std::string payload;  // JSON text of the body
  std::string status;   // pending | delivered | failed | disabled
  int attempts = 0;
  Millis next_attempt_at = 0;  // when pending
  Millis created_at = 0;
  Millis updated_at = 0;
};

// One attempt of a delivery.
struct HookAttempt {
  std::string org_id;
  std::string delivery_id;
  int attempt = 0;         // 1-based
  Millis time = 0;
  int status_code = 0;     // 0: no HTTP answer
  int64_t latency_ms = 0;
  std::string error;       // "" on 2xx; an error code name or "http_<status>"
};

// An Idempotency-Key of POST /v1/orgs/{org}/workflows/{id}/runs: the run the key started
// for one principal of one org. Written in the run's own commit; it answers for that run
// until created_at + 24 h (see rampart/api/api.h), then may start a new one.
struct RunIdempotencyKey {
  std::string org_id;
  std::string principal;     // "user:usr_..", "key:key_..", "master"
  std::string key;           // the header's value: 1..255 visible ASCII characters
  std::string request_hash;  // hex SHA-256 of the request (workflow id and body bytes)
  std::string run_id;
  Millis created_at = 0;     // the run's created_at
};

// A workflow whose live version has a schedule trigger (for the scheduler, across orgs).
struct LiveWorkflow {
  std::string org_id;
  std::string id;
  int live_version = 0;
  int64_t generation = 0;  // of the workflow: a deleted and re-created one differs
};

struct ConnectorFilter {
  bool due_only = false;  // only connectors whose rotation is due at `now`
  Millis now = 0;
};

// Keyset pagination: `after` is the opaque `next` of the previous page ("" = first page).
struct PageRequest {
  std::string after;
  int limit = 50;  // clamped to [1, 200]
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next;  // "" when this is the last page
};

struct RunFilter {
  std::string workflow_id;  // "" = any
  std::string status;       // "" = any
  // Set for a caller who is not an owner (the user id): only the runs of workflows this
  // user may see, i.e. that still exist in the org and are not `private`, or are private
  // and their version 1 was created by this user. Applied in the query, before paging, so
  // pages stay full and cursors stay valid. Unset: every run of the org.
  std::optional<std::string> visible_to = std::nullopt;
};

// A membership with its org, read together (auth::AuthorizeOrg needs both).
struct MemberOrg {
  Membership membership;
  Org org;
};

struct WorkflowFilter {
  // Set for a caller who is not an owner (the user id): only the workflows this user may
  // see, i.e. not `private`, or private and their version 1 was created by this user.
  // Applied in the query, before paging, so pages stay full and cursors stay valid.
  // Unset: every workflow of the org.
  std::optional<std::string> visible_to = std::nullopt;
};

class Tx {
 public:
  virtual ~Tx() = default;

  // Orgs.
  virtual Status InsertOrg(const Org& org) = 0;
  virtual Result<std::optional<Org>> GetOrg(std::string_view org_id) = 0;
  virtual Result<std::optional<Org>> GetOrgBySlug(std::string_view slug) = 0;
  virtual Result<std::vector<Org>> ListOrgsOfUser(std::string_view user_id) = 0;
  virtual Result<int64_t> CountOrgs() = 0;
  // Changes name, max_concurrent_runs and egress (by id); kNotFound when there is no such org.
  virtual Status UpdateOrg(const Org& org) = 0;

  // Users.
  virtual Status InsertUser(const User& user) = 0;
  virtual Result<std::optional<User>> GetUser(std::string_view user_id) = 0;
  virtual Result<std::optional<User>> GetUserByEmail(std::string_view email) = 0;
  // Every user of the server, by (created_at, id): for the operator's `rampart users list`
  // (the rows carry the password hash: callers never print it).
  virtual Result<std::vector<User>> ListUsers() = 0;
  // Replaces the user's password hash and must_change_password flag; kNotFound when
  // there is no such user.
  virtual Status SetUserPassword(std::string_view user_id, std::string_view password_hash,
                                 bool must_change_password) = 0;
  // Sets or clears the disabled flag; kNotFound when there is no such user.
  virtual Status SetUserDisabled(std::string_view user_id, bool disabled) = 0;
  // Deletes the user with their memberships and sessions (their email is free again);
  // false when there is no such user. Their API key rows stay (revoke them first), as do
  // the workflows, runs and audit events that name their id.
  virtual Result<bool> DeleteUser(std::string_view user_id) = 0;

  // Memberships.
  virtual Status UpsertMembership(const Membership& membership) = 0;
  virtual Result<std::optional<Membership>> GetMembership(std::string_view org_id,
                                                          std::string_view user_id) = 0;
  // The membership and its org in one read; nullopt when either is missing.
  virtual Result<std::optional<MemberOrg>> GetMemberOrg(std::string_view org_id,
                                                        std::string_view user_id) = 0;
  virtual Result<Page<Membership>> ListMembers(std::string_view org_id, const PageRequest& page) = 0;
  virtual Result<bool> DeleteMembership(std::string_view org_id, std::string_view user_id) = 0;
  virtual Result<int64_t> CountOwners(std::string_view org_id) = 0;
  // Every membership of the user, across orgs, by org id.
  virtual Result<std::vector<Membership>> ListMembershipsOfUser(std::string_view user_id) = 0;

  // Sessions.
  virtual Status InsertSession(const Session& session) = 0;
  virtual Result<std::optional<Session>> GetSession(std::string_view token_hash) = 0;
  virtual Status TouchSession(std::string_view token_hash, Millis now) = 0;
  virtual Status RevokeSession(std::string_view token_hash) = 0;
  // Revokes every session of the user not yet revoked; returns how many it revoked.
  virtual Result<int64_t> RevokeUserSessions(std::string_view user_id) = 0;

  // API keys.
  virtual Status InsertApiKey(const ApiKey& key) = 0;
  virtual Result<std::optional<ApiKey>> GetApiKeyByHash(std::string_view hash) = 0;
  virtual Result<std::optional<ApiKey>> GetApiKey(std::string_view org_id, std::string_view id) = 0;
  virtual Result<Page<ApiKey>> ListApiKeys(std::string_view org_id, const PageRequest& page) = 0;
  // Keys not revoked and not expired at `now`.
  virtual Result<int64_t> CountActiveApiKeys(std::string_view org_id, Millis now) = 0;
  // false when there is no such key of this org or it was already revoked.
  virtual Result<bool> RevokeApiKey(std::string_view org_id, std::string_view id, Millis now) = 0;
  virtual Status TouchApiKey(std::string_view id, Millis now) = 0;
  // Revokes (revoked_at = now) every API key the user created, in every org, not yet
  // revoked; returns how many it revoked.
  virtual Result<int64_t> RevokeUserApiKeys(std::string_view user_id, Millis now) = 0;

  // Support grants. InsertSupportGrant: kConflict when the id or hash is taken.
  virtual Status InsertSupportGrant(const SupportGrant& grant) = 0;
  // By token hash across orgs (the token is the only thing the caller has; the caller
  // checks the grant's org against the org it asks for).
  virtual Result<std::optional<SupportGrant>> GetSupportGrantByHash(std::string_view hash) = 0;
  virtual Result<std::optional<SupportGrant>> GetSupportGrant(std::string_view org_id,
                                                              std::string_view id) = 0;
  // By (created_at, id).
  virtual Result<Page<SupportGrant>> ListSupportGrants(std::string_view org_id,
                                                       const PageRequest& page) = 0;
  // Grants not revoked and not expired at `now`.
  virtual Result<int64_t> CountActiveSupportGrants(std::string_view org_id, Millis now) = 0;
  // Sets revoked_at; false when there is no such grant of this org or it was already
  // revoked.
  virtual Result<bool> RevokeSupportGrant(std::string_view org_id, std::string_view id,
                                          Millis now) = 0;

  // Workflows and versions.
  virtual Status InsertWorkflow(const Workflow& workflow) = 0;
  virtual Status UpdateWorkflow(const Workflow& workflow) = 0;  // by (org_id, id)
  virtual Result<std::optional<Workflow>> GetWorkflow(std::string_view org_id,
                                                      std::string_view id) = 0;
  // By id.
  virtual Result<Page<Workflow>> ListWorkflows(std::string_view org_id,
                                               const WorkflowFilter& filter,
                                               const PageRequest& page) = 0;
  // Deletes the workflow and its versions (runs stay, they are history).
  virtual Result<bool> DeleteWorkflow(std::string_view org_id, std::string_view id) = 0;
  // Workflows of the org, and versions of one workflow (quotas; by primary key).
  virtual Result<int64_t> CountWorkflows(std::string_view org_id) = 0;
  virtual Result<int64_t> CountWorkflowVersions(std::string_view org_id,
                                                std::string_view workflow_id) = 0;
  virtual Status InsertWorkflowVersion(const WorkflowVersion& version) = 0;
  virtual Result<std::optional<WorkflowVersion>> GetWorkflowVersion(std::string_view org_id,
                                                                    std::string_view workflow_id,
                                                                    int version) = 0;
  // Newest first.
  virtual Result<Page<WorkflowVersion>> ListWorkflowVersions(std::string_view org_id,
                                                             std::string_view workflow_id,
                                                             const PageRequest& page) = 0;

  // Runs. An unfinished run (queued, running, awaiting_approval) has finished_at 0.
  virtual Status InsertRun(const Run& run) = 0;
  // Replaces every mutable field of the run (by org_id, id).
  virtual Status UpdateRun(const Run& run) = 0;
  virtual Result<std::optional<Run>> GetRun(std::string_view org_id, std::string_view id) = 0;
  // Newest first.
  virtual Result<Page<Run>> ListRuns(std::string_view org_id, const RunFilter& filter,
                                     const PageRequest& page) = 0;
  // Across orgs, oldest first: for the run queue at start-up (queued, running).
  virtual Result<std::vector<Run>> ListRunsByStatus(std::string_view status, int limit) = 0;
  // Runs awaiting approval whose wake_at is in (0, now], earliest first (any org).
  virtual Result<std::vector<Run>> ListRunsToWake(Millis now, int limit) = 0;
  virtual Result<int64_t> CountRunsByStatus(std::string_view status) = 0;
  // Every stored run of the org, whatever its status (the run quota learns it once per
  // org and process; by the runs_by_org index, no run row is read).
  virtual Result<int64_t> CountRuns(std::string_view org_id) = 0;
  // The runs of one org by status: (status, count) for every status that has runs,
  // ordered by status.
  virtual Result<std::vector<std::pair<std::string, int64_t>>> CountOrgRunsByStatus(
      std::string_view org_id) = 0;
  // Retention: deletes at most `limit` runs of any org in a final state (succeeded,
  // failed, cancelled) whose finished_at is before `before`, those that finished first
  // first, with their outbound hook deliveries and attempts. Never touches queued,
  // running or awaiting_approval runs. Returns (org id, runs deleted) for every org it
  // deleted runs of, ordered by org id (empty: nothing was due).
  virtual Result<std::vector<std::pair<std::string, int64_t>>> PurgeFinishedRuns(Millis before,
                                                                                 int limit) = 0;

  // Audit. AppendAudit assigns seq, prev_hash and hash (chained to the previous event).
  virtual Result<AuditEvent> AppendAudit(AuditEvent event) = 0;
  // Events of one org with seq > after_seq, oldest first.
  virtual Result<std::vector<AuditEvent>> ListAudit(std::string_view org_id, int64_t after_seq,
                                                    int limit) = 0;
  // Every event with seq > after_seq, oldest first (for `rampart audit verify`).
  virtual Result<std::vector<AuditEvent>> ListAllAudit(int64_t after_seq, int limit) = 0;
  // The seq of the newest event (0 when there is none).
  virtual Result<int64_t> AuditHeadSeq() = 0;
  // Audit forwarding: the last seq `destination` acknowledged (0 when it never did), and
  // its advance, which never moves backwards (a smaller seq leaves the stored one).
  virtual Result<int64_t> GetAuditForwardedSeq(std::string_view destination) = 0;
  virtual Status AdvanceAuditForwardedSeq(std::string_view destination, int64_t seq,
                                          Millis now) = 0;
  // Audit retention (audit/retention.h): deletes every event with seq <= `through_seq`
  // and returns how many. The SQLite store refuses (kInternal, nothing deleted) unless the
  // retention checkpoint recorded in settings ("audit.checkpoint") covers them, so the
  // caller writes the checkpoint first, in the same transaction.
  virtual Result<int64_t> DeleteAuditThrough(int64_t through_seq) = 0;

  // Data keys of the keyring. InsertDataKey: kConflict when (org_id, version) exists.
  virtual Status InsertDataKey(const DataKey& key) = 0;
  // Oldest version first.
  virtual Result<std::vector<DataKey>> ListDataKeys(std::string_view org_id) = 0;
  // Up to `limit` data keys of any org whose kek_id is not `kek_id` (those without one
  // included), ordered by org id then version (for `rampart keys rewrap`).
  virtual Result<std::vector<DataKey>> ListDataKeysNotWrappedBy(std::string_view kek_id,
                                                                int limit) = 0;
  // Replaces `wrapped` and `kek_id` of the data key (org_id, version); the key itself
  // does not change. kNotFound when absent.
  virtual Status UpdateDataKeyWrapping(const DataKey& key) = 0;
  // Every org id (for key rotation across orgs), ordered.
  virtual Result<std::vector<std::string>> ListOrgIds() = 0;

  // Connectors. InsertConnector: kConflict when the id is taken in the org.
  virtual Status InsertConnector(const Connector& connector) = 0;
  // Replaces options, allowed_workflows, egress, updated_at, rotated_at and
  // rotate_every_days (by org_id, id); kNotFound when absent.
  virtual Status UpdateConnector(const Connector& connector) = 0;
  virtual Result<std::optional<Connector>> GetConnector(std::string_view org_id,
                                                        std::string_view id) = 0;
  // By id.
  virtual Result<Page<Connector>> ListConnectors(std::string_view org_id,
                                                 const ConnectorFilter& filter,
                                                 const PageRequest& page) = 0;
  // Deletes the connector and its secrets; false when absent.
  virtual Result<bool> DeleteConnector(std::string_view org_id, std::string_view id) = 0;
  // Connectors of the org (the quota; by primary key).
  virtual Result<int64_t> CountConnectors(std::string_view org_id) = 0;
  // Inserts or replaces one secret field (the connector must exist: kConflict otherwise).
  virtual Status PutConnectorSecret(const ConnectorSecret& secret) = 0;
  // By field.
  virtual Result<std::vector<ConnectorSecret>> ListConnectorSecrets(
      std::string_view org_id, std::string_view connector_id) = 0;
  // Secrets of the org sealed under a key version below `version`, at most `limit`.
  virtual Result<std::vector<ConnectorSecret>> ListSecretsBelowVersion(std::string_view org_id,
                                                                       int64_t version,
                                                                       int limit) = 0;

  // Webhooks. InsertWebhook: kConflict when the id or token hash is taken.
  virtual Status InsertWebhook(const Webhook& webhook) = 0;
  // By token hash across orgs (the token is the only thing the caller has).
  virtual Result<std::optional<Webhook>> GetWebhookByTokenHash(std::string_view token_hash) = 0;
  virtual Result<std::optional<Webhook>> GetWebhook(std::string_view org_id,
                                                    std::string_view id) = 0;
  // The webhooks of one workflow, by id.
  virtual Result<Page<Webhook>> ListWebhooks(std::string_view org_id,
                                             std::string_view workflow_id,
                                             const PageRequest& page) = 0;
  // Replaces the token hash (the old token stops matching at once); kNotFound when absent.
  virtual Status RotateWebhook(std::string_view org_id, std::string_view id,
                               std::string_view token_hash, Millis now) = 0;
  // Deletes the webhook and its delivery ids; false when absent.
  virtual Result<bool> DeleteWebhook(std::string_view org_id, std::string_view id) = 0;
  // use_count + 1, last_used_at = now.
  virtual Status TouchWebhook(std::string_view org_id, std::string_view id, Millis now) = 0;

  // Delivery ids of inbound webhooks (replay defence). True when (org, hook, delivery)
  // was recorded.
  virtual Result<bool> WebhookDeliverySeen(std::string_view org_id, std::string_view hook_id,
                                           std::string_view delivery_id) = 0;
  // Records the delivery id with the run it started (not empty: kInvalidArgument), in one
  // statement inside the run's own commit, so a request that dies before its run is
  // stored leaves nothing behind. True when it was new; false when it was seen (a replay).
  virtual Result<bool> RecordWebhookDelivery(std::string_view org_id, std::string_view hook_id,
                                             std::string_view delivery_id, Millis now,
                                             std::string_view run_id) = 0;
  // Deletes delivery ids seen before `before`, at most `limit`; returns how many.
  virtual Result<int64_t> PruneWebhookDeliveries(Millis before, int limit) = 0;

  // Idempotency keys of run starts, by (org_id, principal, key); any age (the caller
  // decides whether it expired).
  virtual Result<std::optional<RunIdempotencyKey>> GetRunIdempotencyKey(
      std::string_view org_id, std::string_view principal, std::string_view key) = 0;
  // Records the key with the run it started, in one statement inside the run's own
  // commit (a key never exists without its run, nor the run without its key). A stored
  // key of the same (org_id, principal, key) created before `replace_before` (expired) is
  // replaced. True when written; false when a key created at or after `replace_before`
  // holds the scope (nothing written: concurrent first uses have one winner).
  virtual Result<bool> ClaimRunIdempotencyKey(const RunIdempotencyKey& key,
                                              Millis replace_before) = 0;
  // Deletes keys created before `before`, at most `limit`; returns how many.
  virtual Result<int64_t> PruneRunIdempotencyKeys(Millis before, int limit) = 0;

  // Outbound hook deliveries. InsertHookDelivery: kConflict when the id is taken.
  virtual Status InsertHookDelivery(const HookDelivery& delivery) = 0;
  // Replaces status, attempts, next_attempt_at and updated_at (by org_id, id).
  virtual Status UpdateHookDelivery(const HookDelivery& delivery) = 0;
  virtual Result<std::optional<HookDelivery>> GetHookDelivery(std::string_view org_id,
                                                              std::string_view id) = 0;
  // The deliveries of one run, oldest first (at most 100).
  virtual Result<std::vector<HookDelivery>> ListHookDeliveriesOfRun(std::string_view org_id,
                                                                    std::string_view run_id) = 0;
  // Across orgs: pending deliveries with next_attempt_at <= now, soonest first.
  virtual Result<std::vector<HookDelivery>> ListDueHookDeliveries(Millis now, int limit) = 0;
  virtual Status InsertHookAttempt(const HookAttempt& attempt) = 0;
  // Oldest first.
  virtual Result<std::vector<HookAttempt>> ListHookAttempts(std::string_view org_id,
                                                            std::string_view delivery_id) = 0;
  // An endpoint that answered 410 Gone: no more deliveries to (org, workflow, url) until
  // re-enabled (a manual redelivery).
  virtual Status SetHookEndpointDisabled(std::string_view org_id, std::string_view workflow_id,
                                         std::string_view url, bool disabled, Millis now) = 0;
  virtual Result<bool> HookEndpointDisabled(std::string_view org_id, std::string_view workflow_id,
                                            std::string_view url) = 0;

  // Schedule triggers. Workflows whose live version has a schedule trigger (`scheduled`),
  // across orgs, by (org_id, id) after (after_org, after_id) (both empty: from the
  // first), at most `limit`.
  virtual Result<std::vector<LiveWorkflow>> ListScheduledWorkflows(std::string_view after_org,
                                                                   std::string_view after_id,
                                                                   int limit) = 0;
  // When the schedule of (org, workflow) last fired; nullopt when it never did.
  virtual Result<std::optional<Millis>> GetScheduleLastFired(std::string_view org_id,
                                                            std::string_view workflow_id) = 0;
  virtual Status PutScheduleLastFired(std::string_view org_id, std::string_view workflow_id,
                                      Millis last_fired_at) = 0;

  // Settings: small server-wide values (setup token hash, ...).
  virtual Result<std::optional<std::string>> GetSetting(std::string_view key) = 0;
  virtual Status PutSetting(std::string_view key, std::string_view value) = 0;
  virtual Status DeleteSetting(std::string_view key) = 0;
};

// Counters of a store's write path since it was opened (for /metrics and benchmarks).
struct WriteStats {
  int64_t commits = 0;          // successful group commits
  int64_t jobs = 0;             // Write()/WriteAsync() calls carried by those commits
  int64_t grouped_commits = 0;  // commits that carried more than one write
  int64_t largest_group = 0;    // most writes in one commit
  int64_t queued = 0;           // writes waiting for the writer now (not the running group)
};

class Store {
 public:
  virtual ~Store() = default;
  // Runs `fn` in a read-only snapshot. Returns fn's status (or kInternal).
  virtual Status Read(const std::function<Status(Tx&)>& fn) = 0;
  // Runs `fn` in a write transaction, grouped with concurrent writers; returns once the
  // commit is durable. When fn fails its changes are rolled back and its status returned.
  virtual Status Write(const std::function<Status(Tx&)>& fn) = 0;
  // Write() without blocking the caller: `fn` runs as for Write() (grouped with other
  // writers), and `done` receives its status exactly once, when the commit is durable
  // or has failed (never before). `done` runs on the store's writer thread (or the
  // calling thread): keep it short and never call Write() from it, nor anything that
  // waits for a write (WriteAsync() is fine). An exception thrown by `done` is swallowed.
  // Jobs queued before the store is destroyed still run and complete. This default is
  // synchronous (fn and done both run inside the call); the SQLite store overrides it.
  virtual void WriteAsync(std::function<Status(Tx&)> fn, std::function<void(Status)> done) {
    Status status = Write(fn);
    try {
      done(std::move(status));
    } catch (...) {
    }
  }
  // kInternal when the database cannot be reached (for /readyz).
  virtual Status Ping() = 0;
  // The write path's counters; a store without group commit reports zeros.
  virtual WriteStats Stats() const { return {}; }
};

struct SqliteOptions {
  std::string path;  // the database file, e.g. <data>/rampart.db (created 0600 if missing)
  // FULL: every commit is fsynced (durable); NORMAL is for tests/benchmarks that
  // explicitly trade durability for speed.
  bool synchronous_full = true;
  int read_connections = 4;
  int max_group = 256;  // writers per group commit at most
  // Asked, with the file's schema version, when it is older than this binary's: once,
  // before the first migration step changes anything (inside that step's write
  // transaction). An error aborts the open, the file unchanged, and is returned as is.
  // Unset: the store is migrated (`rampart serve`; the CLI asks whether a serve runs).
  std::function<Status(int version)> before_migrating = nullptr;
};

// Opens (creating and migrating if needed) the SQLite store: WAL journal, foreign keys,
// busy timeout, versioned migrations in code. kInternal when the file cannot be opened or
// its schema is newer than this binary; before_migrating's error when it refuses.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options);

}  // namespace rampart::store
