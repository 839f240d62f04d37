// Test hooks of the SQLite store (internal to store/ and its tests).
#pragma once

#include <cstddef>
#include <cstdint>

#include "rampart/store/store.h"

namespace rampart::store {

struct GroupCommitStats {
  int64_t commits = 0;           // successful group commits
  int64_t jobs = 0;              // Write() calls carried by those commits
  int64_t grouped_commits = 0;   // commits that carried more than one Write()
  int64_t largest_group = 0;     // most Write() calls in one commit
};

// `store` must come from OpenSqliteStore.
GroupCommitStats GroupCommitStatsForTest(Store& store);

// Write() calls waiting for the writer thread (not counting the group it is running).
size_t QueuedWritesForTest(Store& store);

}  // namespace rampart::store
