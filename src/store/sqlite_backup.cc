// Online backup and checks of store files (rampart/store/sqlite_backup.h).
#include "rampart/store/sqlite_backup.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>

#include "store/migrations.h"

namespace rampart::store {
namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;

// Opens an existing file (never creates one), hardened like the store's connections.
Result<Db> OpenExisting(const std::string& path, int mode) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                 mode | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) return MakeError(ErrorCode::kInternal, "cannot open the database");
  sqlite3_busy_timeout(raw, 5000);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  return db;
}

bool Exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

// The SQLite file header's first 16 bytes.
bool HasSqliteHeader(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char header[16] = {};
  const bool ok = ::read(fd, header, sizeof header) == static_cast<ssize_t>(sizeof header) &&
                  std::memcmp(header, "SQLite format 3", 16) == 0;
  ::close(fd);
  return ok;
}

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

}  // namespace

int SqliteSchemaVersion() { return LatestSchemaVersion(); }

Status BackupSqliteFile(const std::string& source, const std::string& dest,
                        const SqliteBackupOptions& options) {
  if (::access(source.c_str(), F_OK) != 0) {
    return MakeError(ErrorCode::kNotFound, "no store at " + source);
  }
  // Read-write when allowed, so that closing the last connection of a store no server
  // uses checkpoints and removes the -wal and -shm it opened, as the server would; it
  // never writes (query_only). Read-only otherwise.
  auto src = OpenExisting(source, SQLITE_OPEN_READWRITE);
  if (!src.ok()) src = OpenExisting(source, SQLITE_OPEN_READONLY);
  if (!src.ok()) return src.error();
  sqlite3* s = src->get();
  if (!Exec(s, "PRAGMA query_only = ON")) {
    return MakeError(ErrorCode::kInternal, "cannot read the store");
  }
  auto dst = OpenExisting(dest, SQLITE_OPEN_READWRITE);
  if (!dst.ok()) return MakeError(ErrorCode::kInternal, "cannot open the backup file");
  sqlite3* d = dst->get();
  // The snapshot: one read transaction held across every step. sqlite3_backup_step
  // uses an open read transaction of the source instead of opening one per step, so
  // commits of other connections neither restart the copy nor wait for it (WAL).
  if (!Exec(s, "BEGIN") || !Exec(s, "SELECT count(*) FROM sqlite_schema")) {
    return MakeError(ErrorCode::kInternal, "cannot read the store");
  }
  sqlite3_backup* backup = sqlite3_backup_init(d, "main", s, "main");
  if (backup == nullptr) {
    Exec(s, "ROLLBACK");
    return MakeError(ErrorCode::kInternal, "cannot start the backup");
  }
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options.busy_timeout_ms);
  const int pages = options.pages_per_step > 0 ? options.pages_per_step : 256;
  int rc = SQLITE_OK;
  while (true) {
    rc = sqlite3_backup_step(backup, pages);
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_OK) {
      if (options.after_step) options.after_step();
      continue;
    }
    const int primary = rc & 0xff;
    if ((primary == SQLITE_BUSY || primary == SQLITE_LOCKED) && Clock::now() < deadline) {
      sqlite3_sleep(options.busy_sleep_ms);
      continue;
    }
    break;
  }
  const int finished = sqlite3_backup_finish(backup);
  Exec(s, "COMMIT");
  if (rc != SQLITE_DONE || finished != SQLITE_OK) {
    return MakeError(ErrorCode::kInternal,
                     std::string("the backup copy failed: ") + sqlite3_errstr(rc == SQLITE_DONE ? finished : rc));
  }
  src->reset();
  // One self-contained file: the copied header says WAL, which would need a -wal and
  // -shm beside the file whenever it is opened.
  if (!Exec(d, "PRAGMA journal_mode = DELETE")) {
    return MakeError(ErrorCode::kInternal, "cannot finish the backup file");
  }
  return Status::Ok();
}

Result<SqliteFileInfo> InspectSqliteFile(const std::string& path) {
  if (!HasSqliteHeader(path)) return Invalid("not a SQLite database");
  auto opened = OpenExisting(path, SQLITE_OPEN_READWRITE);
  if (!opened.ok()) return Invalid("cannot open the database");
  sqlite3* db = opened->get();
  {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check(20)", -1, &stmt, nullptr) != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return Invalid(std::string("integrity check failed: ") + sqlite3_errmsg(db));
    }
    std::string first;
    int rows = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      if (rows++ == 0 && text != nullptr) first = text;
    }
    const std::string error = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db);
    sqlite3_finalize(stmt);
    if (!error.empty()) return Invalid("integrity check failed: " + error);
    if (rows != 1 || first != "ok") return Invalid("integrity check failed: " + first);
  }
  SqliteFileInfo info;
  {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_ROW) {
      sqlite3_finalize(stmt);
      return Invalid("cannot read the schema version");
    }
    info.schema_version = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
  }
  if (info.schema_version < 1) return Invalid("not a Rampart store (schema version 0)");
  if (info.schema_version > LatestSchemaVersion()) {
    return Invalid("its schema version " + std::to_string(info.schema_version) +
                   " is newer than this binary's (" + std::to_string(LatestSchemaVersion()) +
                   "): use a newer rampart");
  }
  {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1",
                           -1, &stmt, nullptr) != SQLITE_OK) {
      sqlite3_finalize(stmt);
      return Invalid("not a Rampart store (no audit log)");
    }
    const int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      info.audit_head_seq = sqlite3_column_int64(stmt, 0);
      const auto* hash = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
      info.audit_head_hash = hash != nullptr ? hash : "";
    }
    sqlite3_finalize(stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return Invalid("cannot read the audit log");
  }
  return info;
}

}  // namespace rampart::store
