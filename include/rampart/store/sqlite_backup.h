// Copies of the SQLite store file for `rampart backup` and `rampart restore`: an online,
// consistent snapshot of a live store, and the checks a copy must pass before it is
// kept or installed. The master key is never involved: connector secrets stay encrypted.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "rampart/core/result.h"

namespace rampart::store {

// What a store file holds, as far as a backup names it.
struct SqliteFileInfo {
  int schema_version = 0;       // PRAGMA user_version
  int64_t audit_head_seq = 0;   // seq of the newest audit event (0: none)
  std::string audit_head_hash;  // its hash ("" when there is none)
};

// The schema version this binary writes (LatestSchemaVersion of the migrations).
int SqliteSchemaVersion();

struct SqliteBackupOptions {
  int pages_per_step = 256;      // pages copied per sqlite3_backup_step
  int busy_sleep_ms = 20;        // pause before retrying a step that met SQLITE_BUSY/LOCKED
  int busy_timeout_ms = 60'000;  // give up after retrying this long in all
  // Called after each step that copied pages and has more to copy (tests: a commit
  // between two steps).
  std::function<void()> after_step;
};

// Copies the store at `source` (which may be in use by a running server in another
// process) into `dest`, an existing empty file, through SQLite's online backup API.
// One read transaction on the source holds a consistent snapshot for the whole copy (in
// WAL mode a reader never blocks the writers, and the copy is not restarted by their
// commits), copied `pages_per_step` pages at a time; SQLITE_BUSY/LOCKED are retried.
// The copy is switched to rollback-journal mode: one self-contained file, no -wal.
// kNotFound when `source` does not exist, kInternal when the copy fails.
Status BackupSqliteFile(const std::string& source, const std::string& dest,
                        const SqliteBackupOptions& options = {});

// Checks a store file that no server uses (a backup, or a copy about to be installed):
// a SQLite database whose PRAGMA integrity_check is "ok", with a Rampart schema version
// between 1 and SqliteSchemaVersion() (older is fine: serve migrates it at start) and an
// audit log. kInvalidArgument saying what is wrong otherwise. Opens the file read-write
// (a WAL-mode file needs its -shm), so it must be the caller's private copy.
Result<SqliteFileInfo> InspectSqliteFile(const std::string& path);

}  // namespace rampart::store
