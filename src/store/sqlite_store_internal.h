// Test hooks of the SQLite store (internal to store/ and its tests).
#pragma once

#include <cstddef>
#include <cstdint>

#include "rampart/store/store.h"

namespace rampart::store {

using GroupCommitStats = WriteStats;

// The quota counts (SqliteTx::CountWorkflows, CountWorkflowVersions, CountConnectors),
// here so the store test can check their query plans: each must be an index search.
inline constexpr const char* kCountWorkflowsSql =
    "SELECT count(*) FROM workflows WHERE org_id = ?";
inline constexpr const char* kCountWorkflowVersionsSql =
    "SELECT count(*) FROM workflow_versions WHERE org_id = ? AND workflow_id = ?";
inline constexpr const char* kCountConnectorsSql =
    "SELECT count(*) FROM connectors WHERE org_id = ?";

// SqliteTx::GetMemberOrg and GetWorkflowToRun (one statement each on every API request),
// here so the store test can check that their plans search by primary key, never scan.
inline constexpr const char* kMemberOrgSql =
    "SELECT m.org_id, m.user_id, m.role, m.created_at, o.id, o.slug, o.name, "
    "o.max_concurrent_runs, o.created_at, o.egress "
    "FROM memberships m JOIN orgs o ON o.id = m.org_id "
    "WHERE m.org_id = ? AND m.user_id = ?";
// Parameters: live (1: the live version, 0: the latest), org id, workflow id. The
// version's definition is the only column read of its row: its source and creator come
// after it in the record (often on overflow pages). Version 1's creator decides only who
// may see a private workflow, so CASE reads it for those alone.
inline constexpr const char* kWorkflowToRunSql =
    "SELECT w.org_id, w.id, w.name, w.visibility, w.latest_version, w.live_version, "
    "w.created_at, w.updated_at, "
    "CASE WHEN w.visibility = 'private' THEN (SELECT f.created_by FROM workflow_versions f "
    "WHERE f.org_id = w.org_id AND f.workflow_id = w.id AND f.version = 1) END, "
    "v.version, v.definition "
    "FROM workflows w LEFT JOIN workflow_versions v ON v.org_id = w.org_id AND "
    "v.workflow_id = w.id AND v.version = CASE WHEN ? THEN w.live_version ELSE w.latest_version END "
    "WHERE w.org_id = ? AND w.id = ?";

// `store` must come from OpenSqliteStore.
GroupCommitStats GroupCommitStatsForTest(Store& store);

// Write() calls waiting for the writer thread (not counting the group it is running).
size_t QueuedWritesForTest(Store& store);

// The statement that selects the runs PurgeFinishedRuns deletes (parameters: before,
// limit), for the query plan test.
extern const char* const kPurgeableRunsSqlForTest;

}  // namespace rampart::store
