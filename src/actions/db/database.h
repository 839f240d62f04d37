// The databases db.query runs against: one SQLite file per scope (an org id in the
// server, "local" for `rampart run`), opened hardened (spec/security.md section 5):
// defensive mode, untrusted schema, no extension loading, no attached databases, no
// triggers or views, a size cap, and an authorizer that admits only SELECT, INSERT,
// UPDATE, DELETE and CREATE TABLE with an allowlist of functions.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "rampart/core/result.h"
#include "rampart/core/timed_mutex.h"

struct sqlite3;

namespace rampart::actions::db {

// What the authorizer saw while one statement was prepared or run. Reset by Begin().
struct AuthState {
  bool denied = false;
  std::string denied_what;     // e.g. "PRAGMA", "DROP TABLE", "function load_extension"
  bool create_table = false;   // the statement is a CREATE TABLE
  bool schema_write = false;   // an INSERT or UPDATE of sqlite_schema was asked for
  bool schema_delete = false;  // a DELETE from sqlite_schema was asked for
  bool kind_seen = false;      // SELECT, INSERT, UPDATE, DELETE or CREATE TABLE seen
  // The progress handler interrupts the statement once this has passed.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  bool timed_out = false;

  void Begin(std::chrono::steady_clock::time_point until) {
    *this = AuthState();
    deadline = until;
  }
};

// Limits every database is opened with.
inline constexpr int kMaxValueBytes = 1 << 20;  // one string or blob (SQLITE_LIMIT_LENGTH)
inline constexpr int kMaxSqlBytes = 100000;     // SQLITE_LIMIT_SQL_LENGTH
inline constexpr int kMaxPageCount = 25600;     // 100 MiB at 4 KiB pages

// One open database. Not thread-safe by itself: hold `mutex` for every use (the handle
// and the authorizer's state are shared by every step of the scope's org, on any worker
// thread). A TimedMutex, not std::timed_mutex, so ThreadSanitizer sees the lock taken.
class Database {
 public:
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Opens (creating with mode 0600 on first use) the file at `path`, in WAL mode, with
  // every guard installed.
  static Result<std::unique_ptr<Database>> Open(const std::string& path);

  sqlite3* handle() const { return db_; }
  AuthState& auth() { return auth_; }
  TimedMutex& mutex() { return mutex_; }

 private:
  Database() = default;
  sqlite3* db_ = nullptr;
  AuthState auth_;
  TimedMutex mutex_;
};

// Scope -> database. Implementations must be thread-safe.
class DatabaseProvider {
 public:
  virtual ~DatabaseProvider() = default;
  // `scope` is an org id, or empty for a local run ("local"). kInvalidArgument when the
  // scope cannot name a file.
  virtual Result<std::shared_ptr<Database>> For(std::string_view scope) = 0;
};

// <data_dir>/db/<scope>.sqlite, opened once per scope and kept open.
class FileDatabaseProvider final : public DatabaseProvider {
 public:
  explicit FileDatabaseProvider(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  Result<std::shared_ptr<Database>> For(std::string_view scope) override;

 private:
  std::string data_dir_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Database>, std::less<>> open_;
};

}  // namespace rampart::actions::db
