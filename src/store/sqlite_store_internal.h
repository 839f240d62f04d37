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

// SqliteTx::GetMemberOrg (on every org request), here so the store test can check that
// its plan searches by key, never scans.
inline constexpr const char* kMemberOrgSql =
    "SELECT m.org_id, m.user_id, m.role, m.created_at, o.id, o.slug, o.name, "
    "o.max_concurrent_runs, o.created_at, o.egress "
    "FROM memberships m JOIN orgs o ON o.id = m.org_id "
    "WHERE m.org_id = ? AND m.user_id = ?";

// `store` must come from OpenSqliteStore.
GroupCommitStats GroupCommitStatsForTest(Store& store);

// Write() calls waiting for the writer thread (not counting the group it is running).
size_t QueuedWritesForTest(Store& store);

// The statement that selects the runs PurgeFinishedRuns deletes (parameters: before,
// limit), for the query plan test.
extern const char* const kPurgeableRunsSqlForTest;
// ListRunsByStatus and CountRunsByStatus for queued, running and awaiting_approval runs
// (recovery at start), for the query plan test (parameters: status, limit / status).
extern const char* const kUnfinishedRunsSqlForTest;
extern const char* const kCountUnfinishedRunsSqlForTest;
// ListRunsToWake (parameters: now, limit).
extern const char* const kRunsToWakeSqlForTest;

}  // namespace rampart::store
