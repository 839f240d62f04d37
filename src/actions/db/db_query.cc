#include "actions/db/db_query.h"

#include <sqlite3.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>
#include <optional>

#include "rampart/core/check.h"

namespace rampart::actions {
namespace {

namespace bj = boost::json;
using std::chrono::steady_clock;

// Its top-level keys are mirrored in model::BuiltinActionArgKeys (the loader rejects
// any other key of `with`): a key added here goes there too.
constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "sql": {"type": "string", "minLength": 1, "maxLength": 100000},
    "params": {"type": ["array", "object"], "maxItems": 1000, "maxProperties": 1000},
    "max_rows": {"type": "integer", "minimum": 1, "maximum": 10000},
    "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 60}
  },
  "required": ["sql"],
  "additionalProperties": false
})";

constexpr size_t kDefaultMaxRows = 1000;
constexpr double kDefaultTimeoutS = 5;
constexpr size_t kMaxOutputBytes = 8u << 20;

const char* const kAllowedKinds =
    "db.query allows one SELECT, INSERT, UPDATE, DELETE or CREATE TABLE statement";

Error NotAllowed(std::string_view what) {
  return MakeError(ErrorCode::kStatementNotAllowed,
                   std::string(kAllowedKinds) + "; " + std::string(what) + " is not allowed");
}

// SQLite refuses UPDATE/DELETE of its schema tables and names reserved for itself
// before the authorizer is asked; only the classification of that refusal is ours.
bool RefusedInternalObject(std::string_view message) {
  return message.find("may not be modified") != std::string_view::npos ||
         message.find("reserved for internal use") != std::string_view::npos;
}

double Number(const bj::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

class Statement {
 public:
  ~Statement() { sqlite3_finalize(stmt_); }
  sqlite3_stmt** out() { return &stmt_; }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

Status Bind(sqlite3_stmt* stmt, int index, const bj::value& v) {
  int rc = SQLITE_OK;
  switch (v.kind()) {
    case bj::kind::null:
      rc = sqlite3_bind_null(stmt, index);
      break;
    case bj::kind::bool_:
      rc = sqlite3_bind_int(stmt, index, v.get_bool() ? 1 : 0);
      break;
    case bj::kind::int64:
      rc = sqlite3_bind_int64(stmt, index, v.get_int64());
      break;
    case bj::kind::uint64:
      if (v.get_uint64() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            "db.query: parameter " + std::to_string(index) + " is out of the 64-bit integer range");
      }
      rc = sqlite3_bind_int64(stmt, index, static_cast<int64_t>(v.get_uint64()));
      break;
    case bj::kind::double_:
      rc = sqlite3_bind_double(stmt, index, v.get_double());
      break;
    case bj::kind::string: {
      const bj::string& s = v.get_string();
      rc = sqlite3_bind_text64(stmt, index, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      break;
    }
    case bj::kind::array:
    case bj::kind::object: {
      const std::string text = bj::serialize(v);
      rc =
          sqlite3_bind_text64(stmt, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
      break;
    }
  }
  if (rc == SQLITE_TOOBIG) {
    return MakeError(ErrorCode::kLimitExceeded,
                     "db.query: parameter " + std::to_string(index) + " is larger than 1 MiB");
  }
  if (rc != SQLITE_OK) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "db.query: parameter " + std::to_string(index) + " cannot be bound");
  }
  return Status::Ok();
}

Status BindAll(sqlite3_stmt* stmt, const bj::value* params) {
  const int n = sqlite3_bind_parameter_count(stmt);
  if (params == nullptr) {
    if (n == 0) return Status::Ok();
    return MakeError(ErrorCode::kInvalidArgument,
                     "db.query: the statement has parameters but with.params is missing");
  }
  if (params->is_array()) {
    const bj::array& a = params->get_array();
    for (int i = 1; i <= n; ++i) {
      const char* name = sqlite3_bind_parameter_name(stmt, i);
      if (name != nullptr && name[0] != '?') {
        return MakeError(ErrorCode::kInvalidArgument,
                         "db.query: named parameters take an object as params");
      }
    }
    if (a.size() != static_cast<size_t>(n)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "db.query: the statement has " + std::to_string(n) +
                           " parameters but params has " + std::to_string(a.size()) + " values");
    }
    for (int i = 1; i <= n; ++i) {
      Status s = Bind(stmt, i, a[static_cast<size_t>(i - 1)]);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }
  const bj::object& o = params->get_object();
  size_t used = 0;
  for (int i = 1; i <= n; ++i) {
    const char* name = sqlite3_bind_parameter_name(stmt, i);
    if (name == nullptr || name[0] == '?') {
      return MakeError(ErrorCode::kInvalidArgument,
                       "db.query: positional parameters (?) take an array as params");
    }
    const bj::value* v = o.if_contains(std::string_view(name + 1));
    if (v == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument, "db.query: params has no value for parameter " +
                                                        std::string(name).substr(0, 64));
    }
    ++used;
    Status s = Bind(stmt, i, *v);
    if (!s.ok()) return s;
  }
  if (used != o.size()) {
    // Keys the statement does not use are likely typos.
    for (const auto& kv : o) {
      bool found = false;
      for (int i = 1; i <= n && !found; ++i) {
        const char* name = sqlite3_bind_parameter_name(stmt, i);
        found = name != nullptr && kv.key() == std::string_view(name + 1);
      }
      if (!found) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "db.query: params has '" + std::string(kv.key().substr(0, 64)) +
                             "' but the statement has no such parameter");
      }
    }
  }
  return Status::Ok();
}

bj::value Column(sqlite3_stmt* stmt, int i, size_t* bytes) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      *bytes += 8;
      return bj::value(static_cast<int64_t>(sqlite3_column_int64(stmt, i)));
    case SQLITE_FLOAT: {
      *bytes += 8;
      double d = sqlite3_column_double(stmt, i);
      return std::isfinite(d) ? bj::value(d) : bj::value(nullptr);
    }
    case SQLITE_TEXT: {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      const int n = sqlite3_column_bytes(stmt, i);
      *bytes += static_cast<size_t>(n);
      return bj::value(bj::string_view(p ? p : "", static_cast<size_t>(n)));
    }
    case SQLITE_BLOB: {
      const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, i));
      const int n = sqlite3_column_bytes(stmt, i);
      static constexpr char kHex[] = "0123456789abcdef";
      bj::string s;
      s.reserve(static_cast<size_t>(n) * 2);
      for (int k = 0; k < n; ++k) {
        s.push_back(kHex[p[k] >> 4]);
        s.push_back(kHex[p[k] & 15]);
      }
      *bytes += s.size();
      return bj::value(std::move(s));
    }
    default:
      *bytes += 4;
      return bj::value(nullptr);
  }
}

class DbQuery final : public Action {
 public:
  explicit DbQuery(std::shared_ptr<db::DatabaseProvider> provider)
      : provider_(std::move(provider)) {
    schema_ = CompileArgsSchema(kSchema);
  }

  const schema::Validator& ArgsSchema() const override { return *schema_; }

  Result<bj::value> Execute(const Context& ctx) const override {
    if (!provider_) {
      return MakeError(ErrorCode::kInternal,
                       "db.query is not available: no data directory is configured");
    }
    const bj::object& args = ctx.args.get_object();
    const bj::string& sql = args.at("sql").get_string();
    if (sql.find('\0') != bj::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "db.query: sql contains a NUL character");
    }
    const bj::value* params = args.if_contains("params");
    size_t max_rows = kDefaultMaxRows;
    if (const bj::value* m = args.if_contains("max_rows"))
      max_rows = static_cast<size_t>(Number(*m));
    double timeout_s = kDefaultTimeoutS;
    if (const bj::value* t = args.if_contains("timeout")) timeout_s = Number(*t);

    const auto budget = std::chrono::duration_cast<steady_clock::duration>(
        std::chrono::duration<double>(timeout_s));
    const steady_clock::time_point deadline = std::min(ctx.deadline, steady_clock::now() + budget);

    auto database = provider_->For(ctx.org);
    if (!database.ok()) return database.error();
    db::Database& d = **database;
    std::unique_lock<TimedMutex> lock(d.mutex(), std::defer_lock);
    if (!lock.try_lock_until(deadline)) {
      return MakeError(ErrorCode::kTimeout,
                       "db.query: the database stayed busy until the step's time limit");
    }
    sqlite3* handle = d.handle();
    db::AuthState& auth = d.auth();
    auth.Begin(deadline);

    Statement stmt;
    const char* tail = nullptr;
    int rc =
        sqlite3_prepare_v3(handle, sql.data(), static_cast<int>(sql.size()), 0, stmt.out(), &tail);
    if (auth.denied) return NotAllowed(auth.denied_what);
    if (auth.schema_delete) return NotAllowed("deleting from sqlite_schema");
    if (rc != SQLITE_OK && auth.schema_write && !auth.create_table)
      return NotAllowed("writing to sqlite_schema");
    if (rc != SQLITE_OK && RefusedInternalObject(sqlite3_errmsg(handle)))
      return NotAllowed("writing to an internal table");
    if (rc != SQLITE_OK) {
      if (auth.timed_out) return TimedOut(timeout_s);
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string("db.query: ") + sqlite3_errmsg(handle));
    }
    if (stmt.get() == nullptr)
      return MakeError(ErrorCode::kInvalidArgument, "db.query: sql holds no statement");
    if (sqlite3_stmt_isexplain(stmt.get()) != 0) return NotAllowed("EXPLAIN");
    if (!auth.kind_seen) return NotAllowed("this statement");
    const db::AuthState prepared = auth;

    // Exactly one statement: whatever follows must compile to nothing (whitespace,
    // comments, semicolons). The rest is only compiled, never run.
    const char* end = sql.data() + sql.size();
    while (tail != nullptr && tail < end) {
      Statement next;
      const char* after = nullptr;
      int trc =
          sqlite3_prepare_v3(handle, tail, static_cast<int>(end - tail), 0, next.out(), &after);
      if (trc != SQLITE_OK || next.get() != nullptr) return NotAllowed("more than one statement");
      if (after == nullptr || after <= tail) break;
      tail = after;
    }
    auth = prepared;

    Status bound = BindAll(stmt.get(), params);
    if (!bound.ok()) return bound.error();

    const bool readonly = sqlite3_stmt_readonly(stmt.get()) != 0;
    const int columns = sqlite3_column_count(stmt.get());
    bj::array rows;
    size_t row_count = 0;
    size_t bytes = 0;
    bool truncated = false;
    while (true) {
      rc = sqlite3_step(stmt.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return StepError(handle, rc, auth, timeout_s);
      if (row_count >= max_rows || bytes > kMaxOutputBytes) {
        truncated = true;
        if (readonly) break;  // a write runs to its end; only its rows are dropped
        continue;
      }
      bj::object row;
      for (int i = 0; i < columns; ++i) {
        const char* name = sqlite3_column_name(stmt.get(), i);
        bytes += 16;
        row[name ? name : ""] = Column(stmt.get(), i, &bytes);
      }
      rows.push_back(std::move(row));
      ++row_count;
      if (bytes > kMaxOutputBytes) truncated = true;
    }
    if (auth.denied) return NotAllowed(auth.denied_what);

    bj::object out;
    if (prepared.create_table) {
      out["changes"] = 0;
      return bj::value(std::move(out));
    }
    if (!readonly) {
      out["changes"] = sqlite3_changes64(handle);
      out["last_insert_rowid"] = sqlite3_last_insert_rowid(handle);
    }
    if (readonly || columns > 0) {
      out["rows"] = std::move(rows);
      out["row_count"] = row_count;
      out["truncated"] = truncated;
    }
    return bj::value(std::move(out));
  }

 private:
  static Error TimedOut(double timeout_s) {
    return MakeError(ErrorCode::kTimeout, "db.query: the statement ran past its time limit");
  }

  static Error StepError(sqlite3* handle, int rc, const db::AuthState& auth, double timeout_s) {
    if (auth.denied || (rc & 0xff) == SQLITE_AUTH)
      return NotAllowed(auth.denied ? auth.denied_what : "this operation");
    switch (rc & 0xff) {
      case SQLITE_INTERRUPT:
        return TimedOut(timeout_s);
      case SQLITE_FULL:
        return MakeError(ErrorCode::kLimitExceeded,
                         "db.query: the database reached its size limit");
      case SQLITE_TOOBIG:
        return MakeError(ErrorCode::kLimitExceeded, "db.query: a value is larger than 1 MiB");
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        return MakeError(ErrorCode::kActionFailed, "db.query: the database is busy");
      default:
        return MakeError(ErrorCode::kActionFailed,
                         std::string("db.query: ") + sqlite3_errmsg(handle));
    }
  }

  std::shared_ptr<db::DatabaseProvider> provider_;
  std::optional<schema::Validator> schema_;
};

}  // namespace

std::unique_ptr<Action> MakeDbQuery(std::shared_ptr<db::DatabaseProvider> provider) {
  return std::make_unique<DbQuery>(std::move(provider));
}

}  // namespace rampart::actions
