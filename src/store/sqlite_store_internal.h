// Test hooks of the SQLite store (internal to store/ and its tests).
#pragma once

#include <cstddef>
#include <cstdint>

#include "rampart/store/store.h"

namespace rampart::store {

using GroupCommitStats = WriteStats;

// `store` must come from OpenSqliteStore.
GroupCommitStats GroupCommitStatsForTest(Store& store);

// Write() calls waiting for the writer thread (not counting the group it is running).
size_t QueuedWritesForTest(Store& store);

// The statement that selects the runs PurgeFinishedRuns deletes (parameters: before,
// limit), for the query plan test.
extern const char* const kPurgeableRunsSqlForTest;

}  // namespace rampart::store
