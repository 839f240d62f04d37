// db.query: runs exactly one SQL statement against the org's database (spec/security.md
// section 5). `with`: {sql, params, max_rows, timeout}.
//
// - Only SELECT, INSERT, UPDATE, DELETE and CREATE TABLE (incl. CREATE TABLE ... AS
//   SELECT and WITH ... SELECT/INSERT/UPDATE/DELETE). Enforced by SQLite's authorizer
//   (database.h), never by looking at the text. CREATE INDEX, CREATE VIEW, CREATE
//   TRIGGER, CREATE VIRTUAL TABLE, DROP, ALTER, PRAGMA (also pragma_* table-valued
//   functions), ATTACH/DETACH, VACUUM, REINDEX, ANALYZE, transactions and savepoints,
//   EXPLAIN, writes to sqlite_* tables and functions outside an allowlist (so no
//   load_extension) fail with statement_not_allowed. So does more than one statement.
//   UNIQUE and PRIMARY KEY constraints inside CREATE TABLE still give indexes.
// - `sql` is a literal (the loader rejects `{{`); values go in `params`: an array for
//   `?`/`?NNN`, an object for `:name`/`@name`/`$name` (keys without the prefix). Every
//   parameter must be given and every object key used. Strings, numbers, booleans (1/0)
//   and null bind as themselves; objects and arrays bind as their JSON text.
// - Output: a statement returning rows -> {rows: [{column: value}], row_count,
//   truncated}; rows beyond max_rows (default 1000, at most 10000) or past 8 MiB are
//   dropped and truncated is true. INSERT/UPDATE/DELETE -> {changes, last_insert_rowid}
//   (plus rows/row_count/truncated with RETURNING). CREATE TABLE -> {changes: 0}. Blobs
//   come back as lowercase hex strings, non-finite reals as null.
// - Time: `timeout` seconds (default 5, at most 60) and the step's deadline, enforced
//   by a progress handler: error timeout, and the statement's writes are rolled back.
//   Each value is at most 1 MiB and the database at most 100 MiB (limit_exceeded).
#pragma once

#include <memory>

#include "actions/db/database.h"
#include "rampart/actions/action.h"

namespace rampart::actions {
// Null provider: every call fails with an internal error (no data directory).
std::unique_ptr<Action> MakeDbQuery(std::shared_ptr<db::DatabaseProvider> provider);
}  // namespace rampart::actions
