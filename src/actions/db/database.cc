#include "actions/db/database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace rampart::actions::db {
namespace {

// Functions a statement may call. Everything else (load_extension, fts3_tokenizer,
// readfile/writefile/edit if some build had them, sqlite_* introspection, ...) is denied.
constexpr const char* kAllowedFunctions[] = {
    // core scalar
    "abs",
    "changes",
    "char",
    "coalesce",
    "concat",
    "concat_ws",
    "format",
    "glob",
    "hex",
    "ifnull",
    "iif",
    "instr",
    "last_insert_rowid",
    "length",
    "like",
    "likelihood",
    "likely",
    "lower",
    "ltrim",
    "max",
    "min",
    "nullif",
    "octet_length",
    "printf",
    "quote",
    "random",
    "randomblob",
    "replace",
    "round",
    "rtrim",
    "sign",
    "soundex",
    "substr",
    "substring",
    "total_changes",
    "trim",
    "typeof",
    "unhex",
    "unicode",
    "unlikely",
    "upper",
    "zeroblob",
    // aggregate and window
    "avg",
    "count",
    "group_concat",
    "string_agg",
    "sum",
    "total",
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "ntile",
    "lag",
    "lead",
    "first_value",
    "last_value",
    "nth_value",
    // date and time
    "date",
    "time",
    "datetime",
    "julianday",
    "unixepoch",
    "strftime",
    "timediff",
    "current_date",
    "current_time",
    "current_timestamp",
    // math
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atan2",
    "atanh",
    "ceil",
    "ceiling",
    "cos",
    "cosh",
    "degrees",
    "exp",
    "floor",
    "ln",
    "log",
    "log10",
    "log2",
    "mod",
    "pi",
    "pow",
    "power",
    "radians",
    "sin",
    "sinh",
    "sqrt",
    "tan",
    "tanh",
    "trunc",
    // json
    "json",
    "json_array",
    "json_array_length",
    "json_error_position",
    "json_extract",
    "json_insert",
    "json_object",
    "json_patch",
    "json_remove",
    "json_replace",
    "json_set",
    "json_type",
    "json_valid",
    "json_quote",
    "json_group_array",
    "json_group_object",
    "json_each",
    "json_tree",
};

bool FunctionAllowed(const char* name) {
  if (name == nullptr) return false;
  for (const char* f : kAllowedFunctions) {
    if (strcasecmp(f, name) == 0) return true;
  }
  return false;
}

bool StartsWithNoCase(const char* s, const char* prefix) {
  return s != nullptr && strncasecmp(s, prefix, std::strlen(prefix)) == 0;
}

bool IsSchemaTable(const char* t) {
  return t != nullptr &&
         (strcasecmp(t, "sqlite_master") == 0 || strcasecmp(t, "sqlite_schema") == 0 ||
          strcasecmp(t, "sqlite_temp_master") == 0 || strcasecmp(t, "sqlite_temp_schema") == 0);
}

bool IsMain(const char* db) { return db == nullptr || std::strcmp(db, "main") == 0; }

const char* ActionName(int action) {
  switch (action) {
    case SQLITE_CREATE_INDEX:
      return "CREATE INDEX";
    case SQLITE_CREATE_TEMP_INDEX:
      return "CREATE TEMP INDEX";
    case SQLITE_CREATE_TEMP_TABLE:
      return "CREATE TEMP TABLE";
    case SQLITE_CREATE_TEMP_TRIGGER:
      return "CREATE TEMP TRIGGER";
    case SQLITE_CREATE_TEMP_VIEW:
      return "CREATE TEMP VIEW";
    case SQLITE_CREATE_TRIGGER:
      return "CREATE TRIGGER";
    case SQLITE_CREATE_VIEW:
      return "CREATE VIEW";
    case SQLITE_DROP_INDEX:
      return "DROP INDEX";
    case SQLITE_DROP_TABLE:
      return "DROP TABLE";
    case SQLITE_DROP_TEMP_INDEX:
      return "DROP TEMP INDEX";
    case SQLITE_DROP_TEMP_TABLE:
      return "DROP TEMP TABLE";
    case SQLITE_DROP_TEMP_TRIGGER:
      return "DROP TEMP TRIGGER";
    case SQLITE_DROP_TEMP_VIEW:
      return "DROP TEMP VIEW";
    case SQLITE_DROP_TRIGGER:
      return "DROP TRIGGER";
    case SQLITE_DROP_VIEW:
      return "DROP VIEW";
    case SQLITE_PRAGMA:
      return "PRAGMA";
    case SQLITE_TRANSACTION:
      return "a transaction statement";
    case SQLITE_ATTACH:
      return "ATTACH";
    case SQLITE_DETACH:
      return "DETACH";
    case SQLITE_ALTER_TABLE:
      return "ALTER TABLE";
    case SQLITE_REINDEX:
      return "REINDEX";
    case SQLITE_ANALYZE:
      return "ANALYZE";
    case SQLITE_CREATE_VTABLE:
      return "CREATE VIRTUAL TABLE";
    case SQLITE_DROP_VTABLE:
      return "DROP VIRTUAL TABLE";
    case SQLITE_SAVEPOINT:
      return "SAVEPOINT";
    default:
      return "this operation";
  }
}

// The authorizer: an allowlist. Runs at prepare time (and for statements SQLite
// prepares internally while one runs, e.g. the pragma_* table-valued functions).
int Authorize(void* user, int action, const char* a1, const char* a2, const char* dbname,
              const char* /*trigger*/) {
  auto* st = static_cast<AuthState*>(user);
  auto deny = [st](std::string what) {
    if (!st->denied) {
      st->denied = true;
      st->denied_what = std::move(what);
    }
    return SQLITE_DENY;
  };
  switch (action) {
    case SQLITE_SELECT:
      st->kind_seen = true;
      return SQLITE_OK;
    case SQLITE_RECURSIVE:  // bounded by the progress handler
      return SQLITE_OK;
    case SQLITE_READ:
      if (StartsWithNoCase(a1, "pragma_")) return deny("PRAGMA");
      if (StartsWithNoCase(a1, "sqlite_dbpage") || StartsWithNoCase(a1, "sqlite_stmt") ||
          StartsWithNoCase(a1, "dbstat")) {
        return deny("reading an internal table");
      }
      if (!IsMain(dbname)) return deny("reading another database");
      return SQLITE_OK;
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
      if (IsSchemaTable(a1)) {
        // SQLite's own statements ask for these: CREATE TABLE inserts its row and updates
        // it, the first use of json_each/json_tree registers it. A user's INSERT or
        // UPDATE of the schema is refused by SQLite itself (a read-only table, defensive
        // mode); the action reports that failure as statement_not_allowed.
        st->schema_write = true;
        return SQLITE_OK;
      }
      [[fallthrough]];
    case SQLITE_DELETE:
      if (action == SQLITE_DELETE && IsSchemaTable(a1)) {
        // DROP asks for this before its own code, which is then denied by name; a user's
        // DELETE of the schema is refused by SQLite. Never allowed to run (db_query.cc).
        st->schema_delete = true;
        return SQLITE_OK;
      }
      if (StartsWithNoCase(a1, "sqlite_")) return deny("writes to internal tables");
      if (!IsMain(dbname)) return deny("writes to another database");
      st->kind_seen = true;
      return SQLITE_OK;
    case SQLITE_CREATE_TABLE:
      if (!IsMain(dbname)) return deny("CREATE TABLE in another database");
      st->create_table = true;
      st->kind_seen = true;
      return SQLITE_OK;
    case SQLITE_CREATE_INDEX:
      // The indexes behind UNIQUE and PRIMARY KEY constraints of the table being
      // created (a user cannot name an index sqlite_autoindex_*); CREATE INDEX is not.
      if (st->create_table && IsMain(dbname) && StartsWithNoCase(a1, "sqlite_autoindex_"))
        return SQLITE_OK;
      return deny("CREATE INDEX");
    case SQLITE_FUNCTION:
      if (FunctionAllowed(a2)) return SQLITE_OK;
      return deny(std::string("function ") + (a2 ? std::string(a2).substr(0, 64) : "?"));
    default:
      return deny(ActionName(action));
  }
}

int Progress(void* user) {
  auto* st = static_cast<AuthState*>(user);
  if (std::chrono::steady_clock::now() >= st->deadline) {
    st->timed_out = true;
    return 1;
  }
  return 0;
}

Error OpenError(const std::string& what) {
  return MakeError(ErrorCode::kInternal, "db.query: cannot open the database (" + what + ")");
}

bool ValidScope(std::string_view s) {
  if (s.empty() || s.size() > 128 || s.front() == '.' || s.front() == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
  });
}

bool MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0) return true;
  if (errno != EEXIST) return false;
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

Database::~Database() { sqlite3_close_v2(db_); }

Result<std::unique_ptr<Database>> Database::Open(const std::string& path) {
  // Create the file ourselves so it is 0600 from the start; SQLite gives the -wal and
  // -shm files the database file's mode.
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return OpenError(std::strerror(errno));
  ::fchmod(fd, 0600);
  ::close(fd);

  std::unique_ptr<Database> d(new Database());
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW;
  if (sqlite3_open_v2(path.c_str(), &d->db_, flags, nullptr) != SQLITE_OK) {
    return OpenError(d->db_ ? sqlite3_errmsg(d->db_) : "out of memory");
  }
  sqlite3* db = d->db_;
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 2000);
  int ok = 1;
  auto config = [&](int op, int value) {
    int out = -1;
    if (sqlite3_db_config(db, op, value, &out) != SQLITE_OK || out != value) ok = 0;
  };
  config(SQLITE_DBCONFIG_DEFENSIVE, 1);
  config(SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0);
  config(SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0);
  config(SQLITE_DBCONFIG_ENABLE_TRIGGER, 0);
  config(SQLITE_DBCONFIG_ENABLE_VIEW, 0);
  config(SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0);
  config(SQLITE_DBCONFIG_DQS_DML, 0);
  config(SQLITE_DBCONFIG_DQS_DDL, 0);
  if (!ok) return OpenError("a guard could not be enabled");
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, kMaxValueBytes);
  sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, kMaxSqlBytes);
  sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, 1000);
  sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 200);
  sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 100);
  sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 0);
  sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
  const std::string setup =
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
      "PRAGMA foreign_keys=ON; PRAGMA cell_size_check=ON; "
      "PRAGMA max_page_count=" +
      std::to_string(kMaxPageCount) + ";";
  if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return OpenError(sqlite3_errmsg(db));
  }
  // From here on every statement, ours included, goes through the authorizer.
  sqlite3_set_authorizer(db, Authorize, &d->auth_);
  sqlite3_progress_handler(db, 1000, Progress, &d->auth_);
  return d;
}

Result<std::shared_ptr<Database>> FileDatabaseProvider::For(std::string_view scope) {
  if (scope.empty()) scope = "local";
  if (!ValidScope(scope)) {
    return MakeError(ErrorCode::kInvalidArgument, "db.query: the org id cannot name a database");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = open_.find(scope); it != open_.end()) return it->second;
  if (data_dir_.empty()) {
    return MakeError(ErrorCode::kInternal,
                     "db.query is not available: no data directory is configured");
  }
  const std::string dir = data_dir_ + "/db";
  if (!MakeDir(data_dir_) || !MakeDir(dir)) return OpenError("cannot create the db directory");
  auto d = Database::Open(dir + "/" + std::string(scope) + ".sqlite");
  if (!d.ok()) return d.error();
  std::shared_ptr<Database> shared = std::move(d).value();
  open_.emplace(std::string(scope), shared);
  return shared;
}

}  // namespace rampart::actions::db
