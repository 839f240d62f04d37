// One SQLite connection with its cache of prepared statements, and Stmt, the scoped use
// of one cached statement (internal to store/).
//
// Thread-safety: a connection is used by one thread at a time (the store hands it out);
// it is opened SQLITE_OPEN_NOMUTEX accordingly.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "rampart/core/result.h"

namespace rampart::store {

// kInternal "database error": every SQLite failure that is not a constraint violation.
// Never carries SQL text or values.
Error DatabaseError();

// Maps an extended SQLite result code to Rampart's error: unique/primary-key and
// foreign-key violations -> kConflict (generic message), anything else -> DatabaseError().
Error MapSqliteError(int extended_code);

class SqliteConnection {
 public:
  // Opens `path` (which must exist) read-write or read-only, with extended result codes,
  // busy timeout, defensive mode and untrusted schema. A read-write connection also
  // switches the file to WAL (kInternal if that is impossible), turns on foreign keys
  // and sets synchronous FULL or NORMAL.
  static Result<std::unique_ptr<SqliteConnection>> Open(const std::string& path, bool read_only,
                                                        bool synchronous_full);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  sqlite3* db() const { return db_; }

  // The cached statement for `sql`, prepared once (SQLITE_PREPARE_PERSISTENT). `sql`
  // must be a string with static storage: the cache is keyed by its address. nullptr
  // when it cannot be prepared.
  sqlite3_stmt* Prepare(const char* sql);

  // Runs one statement that returns no rows (transaction control) through the cache.
  Status Exec(const char* sql);

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<const char*, sqlite3_stmt*> cache_;
};

// A cached statement in use: parameters are bound in order (1, 2, ...); the destructor
// resets it and clears its bindings so the next use starts clean. Bound text is not
// copied (SQLITE_STATIC): it must outlive the Stmt.
class Stmt {
 public:
  Stmt(SqliteConnection& conn, const char* sql) : conn_(conn), stmt_(conn.Prepare(sql)) {}
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Text(std::string_view value);
  Stmt& Int(int64_t value);
  Stmt& OptInt(const std::optional<int64_t>& value);
  Stmt& Blob(std::string_view bytes);

  // true: a row is available; false: done; an error mapped by MapSqliteError.
  Result<bool> Step();
  // Steps to completion (for INSERT/UPDATE/DELETE).
  Status Run();
  // Rows changed by the last Run() on this connection.
  int64_t Changes() const { return sqlite3_changes64(conn_.db()); }

  std::string ColText(int column) const;
  int64_t ColInt(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::optional<int64_t> ColOptInt(int column) const;
  std::string ColBlob(int column) const;

 private:
  SqliteConnection& conn_;
  sqlite3_stmt* stmt_;
  int next_index_ = 1;
  bool bind_failed_ = false;
};

}  // namespace rampart::store
