// Versioned schema migrations of the SQLite store, kept in code (internal to store/).
//
// The schema version lives in PRAGMA user_version (part of the database header, so it
// changes atomically with the migration's transaction). Migrations are append-only:
// never edit a released step, add a new one.
#pragma once

#include <sqlite3.h>

#include <functional>

#include "rampart/core/result.h"

namespace rampart::store {

// The schema version this binary writes (the number of migration steps).
int LatestSchemaVersion();

// Brings `db` (a read-write connection) to LatestSchemaVersion(), one transaction per
// step. kInternal "database schema is newer than this binary" when the file's version
// is higher; kInternal "database error" when a step fails (that step is rolled back).
Status ApplyMigrations(sqlite3* db);

// Like ApplyMigrations; when the file's version is older, `before_first_step` (if set) is
// called once with it, inside the first step's write transaction, before anything
// changes: its error rolls back and is returned, the file as it was.
Status ApplyMigrations(sqlite3* db, const std::function<Status(int version)>& before_first_step);

// Like ApplyMigrations, but stops at `version` (<= LatestSchemaVersion()): builds the
// database an older binary left, to test the steps after it.
Status ApplyMigrationsUpToForTest(sqlite3* db, int version);

}  // namespace rampart::store
