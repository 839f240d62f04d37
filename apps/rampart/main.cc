// `rampart`: parses flags and hands over to rampart::cli. Nothing else lives here.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "allocator.h"
#include "rampart/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Rampart: security-first workflow automation"};
  app.require_subcommand(1);
  app.set_version_flag("--version", rampart::cli::VersionText());

  rampart::cli::RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "Validate and run a workflow file locally");
  run_cmd->add_option("FILE", run.file, "Workflow definition (YAML or JSON)")->required();
  run_cmd->add_option("--input", run.input, "Input JSON file, or - for stdin");
  run_cmd->add_flag("--json", run.json, "Print exactly the run record JSON on stdout");
  run_cmd->add_option("--workflows", run.workflows_dir,
                      "Directory of child workflows (default: the file's directory)");
  run_cmd->add_option("--data", run.data_dir, "Data directory (default: config data, else ./var)");
  run_cmd->add_option("--config", run.config, "YAML configuration file (egress rules)");
  run_cmd->add_option("--connectors", run.connectors_file,
                      "Connectors for this run (JSON/YAML list, no secrets)");
  run_cmd->add_option("--secrets-file", run.secrets_file,
                      "Connector secrets {\"<id>\": {\"<field>\": \"<value>\"}} (mode 0600)");

  std::vector<std::string> files;
  CLI::App* validate_cmd =
      app.add_subcommand("validate", "Static validation and security lint; no run");
  validate_cmd->add_option("FILE", files, "Workflow definitions")->required();

  rampart::cli::ServeOptions serve;
  CLI::App* serve_cmd = app.add_subcommand("serve", "Run the server");
  serve_cmd->add_option("--config", serve.config, "YAML configuration file");
  serve_cmd->add_option("--data", serve.data_dir, "Data directory (default ./var)");
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT (default 127.0.0.1:8787)");
  serve_cmd->add_flag("--master-key-stdin", serve.master_key_stdin,
                      "Read the master key from the first line of stdin");

  rampart::cli::AuditVerifyOptions audit_verify;
  CLI::App* audit_cmd = app.add_subcommand("audit", "Audit log tools");
  audit_cmd->require_subcommand(1);
  CLI::App* verify_cmd = audit_cmd->add_subcommand("verify", "Check the audit hash chain");
  verify_cmd->add_option("--data", audit_verify.data_dir,
                         "Data directory (default: config data, else ./var)");
  verify_cmd->add_option("--config", audit_verify.config,
                         "YAML configuration file (data, master_key_file)");
  verify_cmd->add_flag("--master-key-stdin", audit_verify.master_key_stdin,
                       "Read the master key from the first line of stdin (checks the "
                       "retention checkpoint)");

  rampart::cli::KeysRotateOptions keys_rotate;
  CLI::App* keys_cmd = app.add_subcommand("keys", "Keyring maintenance");
  keys_cmd->require_subcommand(1);
  CLI::App* rotate_cmd = keys_cmd->add_subcommand(
      "rotate", "Add a data key version for every org and re-encrypt every connector secret");
  rotate_cmd->add_option("--data", keys_rotate.data_dir, "Data directory (default ./var)");
  rotate_cmd->add_option("--config", keys_rotate.config, "YAML configuration file");
  rotate_cmd->add_flag("--master-key-stdin", keys_rotate.master_key_stdin,
                       "Read the master key from the first line of stdin");

  rampart::cli::KeysRewrapOptions keys_rewrap;
  CLI::App* rewrap_cmd = keys_cmd->add_subcommand(
      "rewrap",
      "Re-wrap every data key under the current master key (after replacing master_key_file; "
      "the old key in previous_master_key_files or RAMPART_PREVIOUS_MASTER_KEY)");
  rewrap_cmd->add_option("--data", keys_rewrap.data_dir, "Data directory (default ./var)");
  rewrap_cmd->add_option("--config", keys_rewrap.config, "YAML configuration file");
  rewrap_cmd->add_flag("--master-key-stdin", keys_rewrap.master_key_stdin,
                       "Read the current master key from the first line of stdin");

  rampart::cli::BackupOptions backup;
  CLI::App* backup_cmd = app.add_subcommand(
      "backup",
      "Write a consistent snapshot of the store to a new file, also while serve runs (the "
      "master key is not in it: back it up separately). Exit 0 done, 1 failed, 2 usage");
  backup_cmd->add_option("--output", backup.output, "The backup file to create (never overwritten)")
      ->required();
  backup_cmd->add_option("--data", backup.data_dir, "Data directory (default: config data, else ./var)");
  backup_cmd->add_option("--config", backup.config, "YAML configuration file (its data)");
  backup_cmd->add_flag("--json", backup.json, "Print one JSON object");

  rampart::cli::RestoreOptions restore;
  CLI::App* restore_cmd = app.add_subcommand(
      "restore",
      "Install a backup as the store of a new data directory (refused when it holds a store or "
      "a serve runs on it); serve then needs the same master key. Exit 0 done, 1 bad backup "
      "or failed, 2 usage or refused");
  restore_cmd->add_option("--backup", restore.backup, "A file written by rampart backup")
      ->required();
  restore_cmd->add_option("--data", restore.data_dir,
                          "Data directory (default: config data, else ./var)");
  restore_cmd->add_option("--config", restore.config, "YAML configuration file (its data)");

  rampart::cli::UsersOptions users;
  CLI::App* users_cmd = app.add_subcommand(
      "users",
      "Operator break-glass for accounts on the store of the data directory, also while serve "
      "runs; every change is audited (actor cli). Exit 0 done, 1 no such user or password "
      "refused, 2 usage or no store");
  users_cmd->require_subcommand(1);
  auto store_options = [&users](CLI::App* cmd) {
    cmd->add_option("--data", users.data_dir, "Data directory (default: config data, else ./var)");
    cmd->add_option("--config", users.config, "YAML configuration file (its data)");
  };
  auto email_option = [&users](CLI::App* cmd) {
    cmd->add_option("--email", users.email, "The account's email")->required();
  };
  CLI::App* users_list_cmd = users_cmd->add_subcommand(
      "list", "Every user with id, email, flags, creation time and org memberships (no hashes)");
  store_options(users_list_cmd);
  users_list_cmd->add_flag("--json", users.json, "Print one JSON object");
  CLI::App* users_reset_cmd = users_cmd->add_subcommand(
      "reset-password",
      "Set a new password (it must be changed at the next login) and end every session of the "
      "user; without --password-stdin a random one is printed once on stdout");
  email_option(users_reset_cmd);
  store_options(users_reset_cmd);
  users_reset_cmd->add_flag("--password-stdin", users.password_stdin,
                            "Read the new password from the first line of stdin");
  CLI::App* users_disable_cmd = users_cmd->add_subcommand(
      "disable", "Disable the account, revoking every session and API key of the user");
  email_option(users_disable_cmd);
  store_options(users_disable_cmd);
  CLI::App* users_enable_cmd = users_cmd->add_subcommand(
      "enable", "Enable a disabled account (what disabling revoked stays revoked)");
  email_option(users_enable_cmd);
  store_options(users_enable_cmd);

  CLI::App* version_cmd = app.add_subcommand("version", "Print version and build info");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : rampart::cli::kExitInvalid;
  }
  if (*run_cmd) return rampart::cli::Run(run, stdout, stderr);
  if (*serve_cmd) return rampart::cli::Serve(serve, stdout, stderr);
  if (*verify_cmd) return rampart::cli::AuditVerify(audit_verify, stdout, stderr);
  if (*rotate_cmd) return rampart::cli::KeysRotate(keys_rotate, stdout, stderr);
  if (*rewrap_cmd) return rampart::cli::KeysRewrap(keys_rewrap, stdout, stderr);
  if (*backup_cmd) return rampart::cli::Backup(backup, stdout, stderr);
  if (*restore_cmd) return rampart::cli::Restore(restore, stdout, stderr);
  if (*users_list_cmd) return rampart::cli::UsersList(users, stdout, stderr);
  if (*users_reset_cmd) return rampart::cli::UsersResetPassword(users, stdin, stdout, stderr);
  if (*users_disable_cmd) return rampart::cli::UsersSetDisabled(users, true, stdout, stderr);
  if (*users_enable_cmd) return rampart::cli::UsersSetDisabled(users, false, stdout, stderr);
  if (*validate_cmd) return rampart::cli::Validate(files, stdout, stderr);
  if (*version_cmd) {
    std::printf("%s\nallocator: %s\n", rampart::cli::VersionText().c_str(),
                rampart::app::AllocatorName());
    return 0;
  }
  return rampart::cli::kExitInvalid;
}
