#include "store/sqlite_connection.h"

#include <cstring>

#include "rampart/core/check.h"
#include "rampart/core/error.h"

namespace rampart::store {
namespace {

constexpr int kBusyTimeoutMs = 5000;
constexpr size_t kMaxCachedStatements = 256;

// sqlite3_exec for fixed pragma text (never values). Collects the first column of the
// first row, for pragmas that report their outcome (journal_mode).
bool ExecPragma(sqlite3* db, const char* sql, std::string* first_value = nullptr) {
  auto collect = [](void* out, int columns, char** values, char**) -> int {
    auto* text = static_cast<std::string*>(out);
    if (text != nullptr && text->empty() && columns > 0 && values[0] != nullptr) {
      *text = values[0];
    }
    return 0;
  };
  return sqlite3_exec(db, sql, collect, first_value, nullptr) == SQLITE_OK;
}

}  // namespace

Error DatabaseError() { return MakeError(ErrorCode::kInternal, "database error"); }

Error MapSqliteError(int extended_code) {
  switch (extended_code) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return MakeError(ErrorCode::kConflict, "already exists");
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return MakeError(ErrorCode::kConflict, "refers to an object that does not exist");
    default:
      return DatabaseError();
  }
}

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path,
                                                                 bool read_only,
                                                                 bool synchronous_full) {
  // Process-wide, before SQLite initializes (the first open): no memory statistics. With
  // them every SQLite allocation takes a global mutex to count itself, which the
  // writer and the readers then contend on; nothing here reads those statistics (no
  // soft heap limit). Ignored (SQLITE_MISUSE) if SQLite was initialized already.
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
  sqlite3* db = nullptr;
  const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return MakeError(ErrorCode::kInternal, "cannot open the database");
  }
  std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  // Hardening: no writable_schema or shadow-table tricks, and schema objects (triggers,
  // views) may not call functions with side effects.
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  // Statement journals and temporary b-trees (sorts) live in memory: the default puts
  // them in files created and deleted per use (openat/unlink/close in a group commit).
  if (!ExecPragma(db, "PRAGMA temp_store = MEMORY")) return DatabaseError();
  if (read_only) {
    if (!ExecPragma(db, "PRAGMA query_only = ON")) return DatabaseError();
    return conn;
  }
  std::string mode;
  if (!ExecPragma(db, "PRAGMA journal_mode = WAL", &mode) || mode != "wal") {
    return MakeError(ErrorCode::kInternal, "cannot switch the database to WAL mode");
  }
  if (!ExecPragma(db, "PRAGMA foreign_keys = ON") ||
      !ExecPragma(db, synchronous_full ? "PRAGMA synchronous = FULL"
                                       : "PRAGMA synchronous = NORMAL")) {
    return DatabaseError();
  }
  return conn;
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

sqlite3_stmt* SqliteConnection::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return it->second;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK ||
      stmt == nullptr) {
    sqlite3_finalize(stmt);
    return nullptr;
  }
  // The store has a fixed set of statements; growth past it means a caller passed SQL
  // that is not a static string (which could also alias another statement).
  RAMPART_CHECK(cache_.size() < kMaxCachedStatements);
  cache_.emplace(sql, stmt);
  return stmt;
}

Status SqliteConnection::Exec(const char* sql) {
  Stmt stmt(*this, sql);
  return stmt.Run();
}

Stmt::~Stmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

Stmt& Stmt::Text(std::string_view value) {
  // An empty view may have a null data(), which SQLite would bind as NULL.
  const char* data = value.data() != nullptr ? value.data() : "";
  if (stmt_ == nullptr ||
      sqlite3_bind_text64(stmt_, next_index_++, data, value.size(), SQLITE_STATIC,
                          SQLITE_UTF8) != SQLITE_OK) {
    bind_failed_ = true;
  }
  return *this;
}

Stmt& Stmt::Int(int64_t value) {
  if (stmt_ == nullptr || sqlite3_bind_int64(stmt_, next_index_++, value) != SQLITE_OK) {
    bind_failed_ = true;
  }
  return *this;
}

Stmt& Stmt::OptInt(const std::optional<int64_t>& value) {
  if (value.has_value()) return Int(*value);
  if (stmt_ == nullptr || sqlite3_bind_null(stmt_, next_index_++) != SQLITE_OK) {
    bind_failed_ = true;
  }
  return *this;
}

Stmt& Stmt::Blob(std::string_view bytes) {
  // A zero-length blob must stay a blob (not NULL): bind a non-null pointer.
  const char* data = bytes.data() != nullptr ? bytes.data() : "";
  if (stmt_ == nullptr ||
      sqlite3_bind_blob64(stmt_, next_index_++, data, bytes.size(), SQLITE_STATIC) !=
          SQLITE_OK) {
    bind_failed_ = true;
  }
  return *this;
}

Result<bool> Stmt::Step() {
  if (stmt_ == nullptr || bind_failed_) return DatabaseError();
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return MapSqliteError(rc);
}

Status Stmt::Run() {
  for (;;) {
    auto row = Step();
    if (!row.ok()) return row.error();
    if (!*row) return Status::Ok();
  }
}

std::string Stmt::ColText(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::string Stmt::ColBlob(int column) const {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  if (data == nullptr) return {};
  return std::string(data, static_cast<size_t>(sqlite3_column_bytes(stmt_, column)));
}

std::optional<int64_t> Stmt::ColOptInt(int column) const {
  if (sqlite3_column_type(stmt_, column) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int64(stmt_, column);
}

}  // namespace rampart::store
