#include "store/migrations.h"

#include <iterator>
#include <string>

#include "rampart/core/error.h"
#include "store/sqlite_connection.h"

namespace rampart::store {
namespace {

// Step N (1-based) brings the schema from version N-1 to N.
//
// Conventions: STRICT tables (types are enforced), the org id leads every org-owned
// table's primary key or an index, and every list has an index matching its keyset
// order. Runs carry an INTEGER sequence (AUTOINCREMENT: never reused) as their stable
// "newest first" order.
constexpr const char* kMigrations[] = {
    // 1: initial schema.
    R"sql(
CREATE TABLE orgs (
  id TEXT PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  max_concurrent_runs INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE memberships (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX memberships_by_user ON memberships(user_id, org_id);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  hint TEXT NOT NULL,
  scope TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE INDEX api_keys_by_org ON api_keys(org_id, created_at, id);

CREATE TABLE workflows (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  visibility TEXT NOT NULL,
  latest_version INTEGER NOT NULL,
  live_version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE workflow_versions (
  org_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  definition TEXT NOT NULL,
  source TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, workflow_id, version),
  FOREIGN KEY (org_id, workflow_id) REFERENCES workflows(org_id, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  org_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  status TEXT NOT NULL,
  input_json TEXT NOT NULL,
  trigger_json TEXT NOT NULL,
  record_json TEXT NOT NULL,
  error_code TEXT NOT NULL,
  actor TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  finished_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  cancel_requested INTEGER NOT NULL
) STRICT;
CREATE INDEX runs_by_org ON runs(org_id, seq);
CREATE INDEX runs_by_org_workflow ON runs(org_id, workflow_id, seq);
CREATE INDEX runs_by_org_status ON runs(org_id, status, seq);
CREATE INDEX runs_by_status ON runs(status, seq);

CREATE TABLE audit_events (
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  org_id TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  source_ip TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  details TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
) STRICT;
CREATE INDEX audit_events_by_org ON audit_events(org_id, seq);
-- Append-only: the store has no update/delete path, and these make any other writer
-- through SQLite fail too (tampering then needs dropping them, which Verify detects
-- through the chain and the "audit.head" setting).
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
)sql",
    // 2: keyring data keys, connectors and their encrypted secrets.
    R"sql(
CREATE TABLE data_keys (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  wrapped BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, version)
) STRICT, WITHOUT ROWID;

CREATE TABLE connectors (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  options_json TEXT NOT NULL,
  allowed_workflows_json TEXT NOT NULL,
  egress_json TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  rotated_at INTEGER,
  rotate_every_days INTEGER NOT NULL,
  PRIMARY KEY (org_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE connector_secrets (
  org_id TEXT NOT NULL,
  connector_id TEXT NOT NULL,
  field TEXT NOT NULL,
  sealed BLOB NOT NULL,
  key_version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, connector_id, field),
  FOREIGN KEY (org_id, connector_id) REFERENCES connectors(org_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX connector_secrets_by_version ON connector_secrets(org_id, key_version);
)sql",
    // 3: inbound webhook trigger URLs and the delivery ids they have seen.
    R"sql(
CREATE TABLE webhooks (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  rotated_at INTEGER,
  use_count INTEGER NOT NULL DEFAULT 0,
  last_used_at INTEGER,
  PRIMARY KEY (org_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX webhooks_by_workflow ON webhooks(org_id, workflow_id, id);

CREATE TABLE webhook_deliveries (
  org_id TEXT NOT NULL,
  hook_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  seen_at INTEGER NOT NULL,
  run_id TEXT,
  PRIMARY KEY (org_id, hook_id, delivery_id),
  FOREIGN KEY (org_id, hook_id) REFERENCES webhooks(org_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX webhook_deliveries_by_time ON webhook_deliveries(seen_at);
)sql",
    // 4: outbound execution hook deliveries, their attempts, disabled endpoints.
    R"sql(
CREATE TABLE hook_deliveries (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  url TEXT NOT NULL,
  secret TEXT NOT NULL,
  event TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX hook_deliveries_due ON hook_deliveries(status, next_attempt_at);
CREATE INDEX hook_deliveries_by_run ON hook_deliveries(org_id, run_id, created_at);

CREATE TABLE hook_attempts (
  org_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  time INTEGER NOT NULL,
  status_code INTEGER NOT NULL,
  latency_ms INTEGER NOT NULL,
  error TEXT NOT NULL,
  PRIMARY KEY (org_id, delivery_id, attempt),
  FOREIGN KEY (org_id, delivery_id) REFERENCES hook_deliveries(org_id, id) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE hook_endpoints_disabled (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  workflow_id TEXT NOT NULL,
  url TEXT NOT NULL,
  disabled_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, workflow_id, url)
) STRICT, WITHOUT ROWID;
)sql",
    // Schedule triggers: when each workflow's schedule last fired (catch-up is bounded
    // by it, so a restart never bursts).
    R"sql(
CREATE TABLE schedule_state (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  workflow_id TEXT NOT NULL,
  last_fired_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, workflow_id)
) STRICT, WITHOUT ROWID;
)sql",
    // Approval steps: when a run waiting for an approval times out (0: never), indexed
    // only where set so the wake-up scan stays small.
    R"sql(
ALTER TABLE runs ADD COLUMN wake_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX runs_to_wake ON runs(wake_at) WHERE wake_at > 0;
)sql",
    // 7: support grants ("rps_..." tokens, stored hashed; diagnostics of one org only).
    R"sql(
CREATE TABLE support_grants (
  org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  hash TEXT NOT NULL UNIQUE,
  created_by TEXT NOT NULL,
  reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  PRIMARY KEY (org_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX support_grants_by_org ON support_grants(org_id, created_at, id);
)sql",
    // 8: master key replacement: the id of the master key (KEK) that wrapped each data
    // key. Existing rows keep NULL: they belong to the master key current at the upgrade
    // (the keyring tries it first), and `rampart keys rewrap` gives them the id.
    R"sql(
ALTER TABLE data_keys ADD COLUMN kek_id TEXT;
)sql",
    // 9: password changes: a user whose password someone else chose (an owner adding them)
    // must change it before doing anything else. Users from before this step are not
    // flagged (the server cannot know who chose their password).
    R"sql(
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
)sql",
    // 10: run retention: the sweep picks final runs by finished_at (oldest first) from
    // this partial index, which holds only final runs and covers the columns it reads.
    R"sql(
CREATE INDEX runs_final_by_finished ON runs(finished_at, org_id, id)
  WHERE status IN ('succeeded', 'failed', 'cancelled');
)sql",
    // 11: a lighter retention index. Every run ends final, so each run enters it: it keeps
    // only finished_at (the hourly sweep reads org and id from the row), and its condition
    // is one integer comparison (an IN list there is evaluated as a small ephemeral table on
    // every insert). A final run always has finished_at > 0; the sweep still checks status.
    R"sql(
DROP INDEX runs_final_by_finished;
CREATE INDEX runs_final_by_finished ON runs(finished_at) WHERE finished_at > 0;
)sql",
    // 12: audit forwarding: per destination (hex SHA-256 of the collector's URL, so the URL
    // and any token in it are not stored), the last seq the collector acknowledged with a
    // 2xx. A new destination starts from the first event.
    R"sql(
CREATE TABLE audit_forward_state (
  destination TEXT PRIMARY KEY,
  forwarded_seq INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
)sql",
    // 13: audit retention (audit/retention.h). Deleting stays refused, except for events
    // at or before the seq of the retention checkpoint recorded in settings: the purge
    // writes its signed checkpoint first, then deletes that prefix, in one transaction.
    // The checkpoint is "v1:<seq>:..." (audit/checkpoint.h), read with core string
    // functions: the connections run with trusted_schema off, under which SQLite refuses
    // JSON functions in a trigger. A missing checkpoint, or one whose seq does not start
    // with a digit, covers nothing (fail closed). Anyone
    // able to write the setting could widen it, which the checkpoint's MAC (checked by
    // `rampart audit verify` with the master key) exposes.
    R"sql(
DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN OLD.seq > coalesce((SELECT CAST(substr(value, 4, instr(substr(value, 4), ':') - 1) AS INTEGER)
                         FROM settings
                         WHERE key = 'audit.checkpoint' AND substr(value, 1, 3) = 'v1:'), 0)
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
)sql",
    // 14: per-org egress rules (spec/security.md section 5): a JSON object that narrows the
    // server's egress policy for every outbound call of the org's runs and hooks. Existing
    // orgs get {} (no narrowing: what they had before).
    R"sql(
ALTER TABLE orgs ADD COLUMN egress TEXT NOT NULL DEFAULT '{}';
)sql",
    // 15: account lifecycle (POST /v1/users/{user}/disable): a disabled user cannot sign
    // in. Existing users are enabled. Disabling revokes every API key the user created,
    // across orgs, by this index (the key's hot path reads no user row).
    R"sql(
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
CREATE INDEX api_keys_by_user ON api_keys(user_id);
)sql",
    // 16: recovery's index holds only unfinished runs. runs_by_status (status, seq) served
    // only recovery at start (queued and running runs), yet every run entered it, most of
    // them committed final at once. A run is unfinished exactly while finished_at = 0 (the
    // run service sets it when, and only when, the run becomes final: succeeded, failed or
    // cancelled), a condition SQLite checks on insert with one integer comparison (an IN
    // list is an ephemeral table per insert, see migration 11). The UPDATE only repairs a
    // row that would break that rule (the run service writes none), so that recovery still
    // finds every queued and running run of any database; the index build reads the table
    // once anyway.
    R"sql(
UPDATE runs SET finished_at = 0
  WHERE finished_at <> 0 AND status IN ('queued', 'running', 'awaiting_approval');
DROP INDEX runs_by_status;
CREATE INDEX runs_unfinished ON runs(status, seq) WHERE finished_at = 0;
)sql",
    // 17: an inbound delivery id is recorded only with the run it started, in the run's own
    // commit (migration 3's reservations without a run, taken over once stale, belonged to
    // requests that died before their run was stored). The ones an older binary left are
    // such dead requests: forgotten, so their senders may retry, as the take-over allowed.
    R"sql(
DELETE FROM webhook_deliveries WHERE run_id IS NULL;
)sql",
    // 18: the scheduler lists only workflows whose live version has a schedule trigger
    // (it scanned every live workflow each second and parsed each definition past its
    // cache's capacity). Publish sets the flag; existing live versions are read here.
    R"sql(
ALTER TABLE workflows ADD COLUMN scheduled INTEGER NOT NULL DEFAULT 0;
UPDATE workflows SET scheduled = 1
WHERE live_version > 0 AND EXISTS (
  SELECT 1 FROM workflow_versions v,
       json_each(CASE WHEN json_valid(v.definition) THEN v.definition ELSE '{}' END,
                 '$.triggers') t
  WHERE v.org_id = workflows.org_id AND v.workflow_id = workflows.id
    AND v.version = workflows.live_version AND t.type = 'object'
    AND json_extract(t.value, '$.type') = 'schedule');
CREATE INDEX workflows_scheduled ON workflows (org_id, id) WHERE scheduled = 1;
)sql",
    // 19: Idempotency-Key of POST .../runs: the run a key started, by (org, principal,
    // key), written in the run's own commit. A table of its own, so a run started without
    // a key costs no extra index write; the time index serves the lazy prune of keys past
    // their 24 h.
    R"sql(
CREATE TABLE run_idempotency_keys (
  org_id TEXT NOT NULL,
  principal TEXT NOT NULL,
  idem_key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  run_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (org_id, principal, idem_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX run_idempotency_keys_by_time ON run_idempotency_keys(created_at);
)sql",
    // 20: which creation of a workflow id a run belongs to. A workflow deleted and created
    // again under its id starts at version 1 again, so (org, id, version) does not tell the
    // deleted workflow's runs from the new one's; comparing creation times did, unless the
    // clock was set back between the two. Each workflow row gets a random generation at
    // creation and each run the generation it was started under. Existing runs get their
    // workflow's generation when they are not older than it (else 0: a deleted workflow's,
    // no row has generation 0). Trigger URLs and disabled hook endpoints of deleted
    // workflows, which the same time comparison kept apart, are removed here and, from now
    // on, with their workflow.
    R"sql(
ALTER TABLE workflows ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
UPDATE workflows SET generation = (random() & 9007199254740991) + 1;
ALTER TABLE runs ADD COLUMN workflow_generation INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET workflow_generation = coalesce(
  (SELECT w.generation FROM workflows w
   WHERE w.org_id = runs.org_id AND w.id = runs.workflow_id AND w.created_at <= runs.created_at),
  0);
DELETE FROM webhooks WHERE NOT EXISTS (
  SELECT 1 FROM workflows w
  WHERE w.org_id = webhooks.org_id AND w.id = webhooks.workflow_id
    AND w.created_at <= webhooks.created_at);
DELETE FROM hook_endpoints_disabled WHERE NOT EXISTS (
  SELECT 1 FROM workflows w
  WHERE w.org_id = hook_endpoints_disabled.org_id AND w.id = hook_endpoints_disabled.workflow_id
    AND w.created_at <= hook_endpoints_disabled.disabled_at);
)sql",
};

constexpr int kLatestVersion = static_cast<int>(std::size(kMigrations));

Result<int> ReadUserVersion(sqlite3* db) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr) != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return DatabaseError();
  }
  int version = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) version = sqlite3_column_int(stmt, 0);
  sqlite3_finalize(stmt);
  if (version < 0) return DatabaseError();
  return version;
}

}  // namespace

int LatestSchemaVersion() { return kLatestVersion; }

namespace {

Status ApplyMigrationsUpTo(sqlite3* db, int target,
                           const std::function<Status(int version)>& before_first_step) {
  if (target < 0 || target > kLatestVersion) return DatabaseError();
  // BEGIN IMMEDIATE takes the write lock before reading the version, so two processes
  // opening the same new file cannot both apply step 1.
  for (bool first = true;; first = false) {
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      return DatabaseError();
    }
    auto version = ReadUserVersion(db);
    if (!version.ok()) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return version.error();
    }
    if (*version > kLatestVersion) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return MakeError(ErrorCode::kInternal, "database schema is newer than this binary");
    }
    if (*version >= target) {
      return sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK
                 ? Status::Ok()
                 : Status(DatabaseError());
    }
    if (first && before_first_step) {
      if (Status allowed = before_first_step(*version); !allowed.ok()) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        return allowed;
      }
    }
    const int next = *version + 1;
    // The version number comes from this code, never from input: PRAGMA takes no
    // bound parameters.
    const std::string set_version = "PRAGMA user_version = " + std::to_string(next);
    if (sqlite3_exec(db, kMigrations[next - 1], nullptr, nullptr, nullptr) != SQLITE_OK ||
        sqlite3_exec(db, set_version.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return DatabaseError();
    }
  }
}

}  // namespace

Status ApplyMigrations(sqlite3* db) { return ApplyMigrationsUpTo(db, kLatestVersion, nullptr); }

Status ApplyMigrations(sqlite3* db, const std::function<Status(int version)>& before_first_step) {
  return ApplyMigrationsUpTo(db, kLatestVersion, before_first_step);
}

Status ApplyMigrationsUpToForTest(sqlite3* db, int target) {
  return ApplyMigrationsUpTo(db, target, nullptr);
}

}  // namespace rampart::store
