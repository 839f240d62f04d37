// The `rampart` commands as functions (apps/rampart/main.cc only parses flags), so tests
// drive them in-process. Each returns the process exit code of spec/interfaces.md.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "rampart/core/result.h"

namespace rampart::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRunFailed = 1;
inline constexpr int kExitInvalid = 2;

struct RunOptions {
  std::string file;
  std::string input;          // path, "-" for stdin, empty for {}
  bool json = false;          // print exactly the run record
  std::string workflows_dir;  // default: the file's directory
  std::string data_dir;       // default: config `data`, else ./var
  std::string config;         // YAML config file (its `data` and `egress` apply), "" for none
  // Connectors for the run (kept in memory, never persisted): a JSON/YAML list of
  // connector objects without secrets, and a JSON file {"<id>": {"<field>": "<value>"}}
  // that must have mode 0600/0400 (else exit 2).
  std::string connectors_file;
  std::string secrets_file;
};

// 0 succeeded, 1 run failed (or stopped awaiting approval), 2 invalid definition/input.
int Run(const RunOptions& options, std::FILE* out, std::FILE* err);

// 0 when every file is valid (warnings allowed), 2 otherwise.
int Validate(const std::vector<std::string>& files, std::FILE* out, std::FILE* err);

struct ServeOptions {
  std::string config;        // YAML config file, "" for none
  std::string data_dir;      // default: config `data`, else ./var
  std::string listen;        // default: config `listen`, else 127.0.0.1:8787
  bool master_key_stdin = false;
};

// Runs the server until SIGTERM/SIGINT, then drains requests and runs. 0 on clean
// shutdown, 2 on bad configuration or when the store/port cannot be opened.
int Serve(const ServeOptions& options, std::FILE* out, std::FILE* err);

struct AuditVerifyOptions {
  std::string config{};    // YAML config file (its `data` and `master_key_file`), "" for none
  std::string data_dir{};  // default: config `data`, else ./var
  bool master_key_stdin = false;
};

// Checks the audit hash chain of the store: 0 intact, 1 broken (the first bad event is
// printed), 2 when there is no store or the config is invalid, or the store is of an older
// schema while a `rampart serve` holds it (cli/data_dir.h OpenStoreBesideServe: migrated
// only without a running serve). When audit retention left
// a checkpoint, its MAC is checked with the master key, found as `rampart serve` finds it
// (master_key_file, --master-key-stdin, RAMPART_MASTER_KEY, else <data>/master.key; and
// previous_master_key_files / RAMPART_PREVIOUS_MASTER_KEY); without one: 1, saying the
// checkpoint cannot be checked without the master key. No checkpoint: no key needed.
int AuditVerify(const AuditVerifyOptions& options, std::FILE* out, std::FILE* err);

// The master key material of the keyring. `configured` is the key given by the operator
// (config master_key_file, --master-key-stdin or RAMPART_MASTER_KEY; it also enables
// master key API auth); when empty, <data_dir>/master.key (0600) is used, and with
// `generate` a random one is created there on first start (then `*generated` is set).
// kInvalidArgument when the file is readable by others or too short.
struct MasterKeyMaterial {
  std::string material;
  bool generated = false;
  std::string path;  // the file used, "" when configured
};
Result<MasterKeyMaterial> KeyringMasterKey(const std::string& configured,
                                           const std::string& data_dir, bool generate);

struct KeysRotateOptions {
  std::string config;     // YAML config file (its `data` and `master_key_file`), "" for none
  std::string data_dir;   // default: config `data`, else ./var
  bool master_key_stdin = false;
  int batch_size = 100;
};

// `rampart keys rotate`: adds a data key version for every org, then re-encrypts every
// connector secret with its org's newest version (batches, each one transaction). Safe
// to run again and while the server runs. 0 done, 1 failed (nothing lost: every secret
// stays readable), 2 bad configuration, no store, wrong master key, or a store of an
// older schema while a `rampart serve` holds it (migrated only without a running serve).
int KeysRotate(const KeysRotateOptions& options, std::FILE* out, std::FILE* err);

// `rampart keys rewrap` (same options; previous_master_key_files / RAMPART_PREVIOUS_MASTER_KEY
// from the configuration): re-wraps every data key of every org under the current master
// key, in batches of `batch_size`, each one transaction with its `master_key.rewrap`
// audit events. Idempotent, safe while the server runs. 0 done (counts printed), 1 failed
// (e.g. a data key whose master key is not configured: the error names its id; earlier
// batches stay committed, the failing one is not written), 2 bad configuration or no store.
using KeysRewrapOptions = KeysRotateOptions;
int KeysRewrap(const KeysRewrapOptions& options, std::FILE* out, std::FILE* err);

struct BackupOptions {
  std::string config{};    // YAML config file (its `data`), "" for none
  std::string data_dir{};  // default: config `data`, else ./var
  std::string output{};    // the backup file to create (never overwritten)
  bool json = false;       // print one JSON object instead of the line
};

// `rampart backup`: a consistent snapshot of the store through SQLite's online backup
// API, safe while `rampart serve` runs. The file is created O_EXCL with mode 0600 (an
// existing path is refused), written under a temporary name in its directory and renamed
// only once PRAGMA integrity_check and the schema version check passed, then fsynced
// (file and directory); on failure nothing is left. Prints the path, size, schema version
// and audit chain head (seq and hash of the newest event). The master key is not in it.
// A `backup.create` audit event is appended to the store (its own transaction) when the
// store is writable by this user and at this binary's schema version (an older store is
// never migrated under a running server); when that append fails the backup is removed.
// 0 done, 1 failed (I/O, integrity, audit append), 2 usage (existing output, no store).
int Backup(const BackupOptions& options, std::FILE* out, std::FILE* err);

struct RestoreOptions {
  std::string config{};    // YAML config file (its `data`), "" for none
  std::string data_dir{};  // default: config `data`, else ./var
  std::string backup{};    // a file written by `rampart backup`
};

// `rampart restore`: installs a backup as <data>/rampart.db (0600, directory 0700),
// holding the data directory's lock so no server starts meanwhile. Refuses (2) a
// directory that holds a store already or that a running serve holds, and a backup file
// it cannot read. The file is copied under a temporary name first and that copy checked
// (integrity, a schema version not newer than this binary's); 1 when a check or the
// copy fails (nothing is left). Connector secrets need the same master key as before.
int Restore(const RestoreOptions& options, std::FILE* out, std::FILE* err);

struct UsersOptions {
  std::string config{};    // YAML config file (its `data`), "" for none
  std::string data_dir{};  // default: config `data`, else ./var
  std::string email{};     // reset-password, enable, disable: the account (any case)
  bool json = false;       // list: print one JSON object
  bool password_stdin = false;  // reset-password: read the new password from `in`
};

// `rampart users`: the operator's break-glass for accounts (a lost owner password, the
// only other owner disabled), for whoever can open the store in the data directory (the
// same trust as reading the database file). Works while `rampart serve` runs (each change
// is one SQLite write transaction beside the server's) and when it does not. Each change
// goes through rampart/api/accounts.h, as the API's operator routes do, and its audit
// events (actor "cli", target the user id, never a secret) commit in its transaction.
// Exit codes: 0 done, 1 no such user, a password the policy refuses, or a store failure,
// 2 usage (no --email), no store (none is created), or a store of an older schema while
// a `rampart serve` holds it (migrated only without a running serve).

// `users list`: every user (id, email, disabled, must_change_password, created_at) with
// their memberships (org id, slug, role); never a password hash.
int UsersList(const UsersOptions& options, std::FILE* out, std::FILE* err);

// `users reset-password --email E`: the new password is the first line of `in` with
// --password-stdin (refused, 1, when it breaks the API's policy: 12..1024 bytes), else 24
// random bytes (base64url) printed once, alone, on `out` (the summary then goes to `err`).
// Hashed with the API's Argon2id parameters before the write; must_change_password is set
// and every session of the user revoked, audited as `user.password_reset`.
int UsersResetPassword(const UsersOptions& options, std::FILE* in, std::FILE* out,
                       std::FILE* err);

// `users disable|enable --email E`: as POST /v1/users/{user}/disable|enable (disabling
// revokes every session and API key), audited as `user.disable` / `user.enable`.
int UsersSetDisabled(const UsersOptions& options, bool disabled, std::FILE* out, std::FILE* err);

// Version and build information.
std::string VersionText();

}  // namespace rampart::cli
