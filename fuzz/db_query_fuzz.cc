// Fuzzes db.query's statement allowlist (spec/security.md section 5: only SELECT, INSERT,
// UPDATE, DELETE and CREATE TABLE, enforced by SQLite's authorizer) with untrusted SQL.
//
// Input: SQL statements separated by NUL bytes, run one after another as db.query steps
// against a fresh database (so a CREATE TABLE can set up what a later statement tries to
// abuse). After every statement, accepted or not, these invariants hold, else a finding:
//   - the schema holds tables only (plus the automatic indexes of their UNIQUE and
//     PRIMARY KEY constraints): no view, trigger, index or virtual table was created;
//   - only the main (and temp) database is attached (no ATTACH), and the guards' settings
//     still hold (WAL journal, user_version and application_id untouched);
//   - an error carries one of db.query's codes and a non-empty message.
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "actions/db/database.h"
#include "actions/db/db_query.h"
#include "rampart/actions/action.h"
#include "rampart/core/clock.h"

namespace {

namespace bj = boost::json;
using rampart::ErrorCode;

// One text value of a one-column query ("" when there is no row).
std::string Text(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) __builtin_trap();
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(stmt, 0);
    if (t != nullptr) out = reinterpret_cast<const char*>(t);
  }
  sqlite3_finalize(stmt);
  return out;
}

// `handle` is the action's connection (its authorizer would refuse the harness's PRAGMAs:
// attachments are read through the C API); `path` the file, read by a connection of the
// harness without any guard.
void CheckDatabase(sqlite3* handle, const std::string& path) {
  for (int i = 0; sqlite3_db_name(handle, i) != nullptr; ++i) {
    const std::string_view name = sqlite3_db_name(handle, i);
    if (name != "main" && name != "temp") __builtin_trap();
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    __builtin_trap();
  }
  const std::string bad = Text(
      db,
      "SELECT count(*) FROM sqlite_schema WHERE NOT (type = 'table' OR (type = 'index' AND "
      "name LIKE 'sqlite_autoindex_%' AND sql IS NULL)) OR sql LIKE 'CREATE VIRTUAL%'");
  if (bad != "0") __builtin_trap();
  if (Text(db, "PRAGMA journal_mode") != "wal") __builtin_trap();
  if (Text(db, "PRAGMA user_version") != "0") __builtin_trap();
  if (Text(db, "PRAGMA application_id") != "0") __builtin_trap();
  sqlite3_close(db);
}

bool KnownCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kStatementNotAllowed:
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kLimitExceeded:
    case ErrorCode::kTimeout:
    case ErrorCode::kActionFailed:
      return true;
    default:
      return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  char dir_template[] = "/tmp/rampart_db_query_fuzz_XXXXXX";
  if (mkdtemp(dir_template) == nullptr) __builtin_trap();
  const std::string dir = dir_template;
  {
    auto provider = std::make_shared<rampart::actions::db::FileDatabaseProvider>(dir);
    auto action = rampart::actions::MakeDbQuery(provider);
    auto database = provider->For("");
    if (!database.ok()) __builtin_trap();

    std::string_view rest(reinterpret_cast<const char*>(data), size);
    for (int statements = 0; statements < 8 && !rest.empty(); ++statements) {
      const size_t nul = rest.find('\0');
      const std::string_view sql = rest.substr(0, nul);
      rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
      bj::object args;
      args["sql"] = sql;
      args["timeout"] = 0.2;  // a recursive CTE must end in time
      args["max_rows"] = 100;
      const bj::value value(std::move(args));
      if (!action->ArgsSchema().Validate(value, nullptr)) continue;
      rampart::actions::Context ctx{value,
                                    "wf",
                                    "run_1",
                                    "step",
                                    "",
                                    std::chrono::steady_clock::now() + std::chrono::seconds(1),
                                    rampart::SystemClock(),
                                    nullptr};
      auto result = action->Execute(ctx);
      if (!result.ok() &&
          (!KnownCode(result.error().code) || result.error().message.empty())) {
        __builtin_trap();
      }
      CheckDatabase((*database)->handle(), dir + "/db/local.sqlite");
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return 0;
}
