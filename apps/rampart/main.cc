// `rampart`: parses flags and hands over to rampart::cli. Nothing else lives here.
#include <CLI/CLI.hpp>
#include <cstdio>

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
  run_cmd->add_option("--data", run.data_dir, "Data directory (default ./var)");

  std::vector<std::string> files;
  CLI::App* validate_cmd =
      app.add_subcommand("validate", "Static validation and security lint; no run");
  validate_cmd->add_option("FILE", files, "Workflow definitions")->required();

  CLI::App* version_cmd = app.add_subcommand("version", "Print version and build info");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : rampart::cli::kExitInvalid;
  }
  if (*run_cmd) return rampart::cli::Run(run, stdout, stderr);
  if (*validate_cmd) return rampart::cli::Validate(files, stdout, stderr);
  if (*version_cmd) {
    std::printf("%s\n", rampart::cli::VersionText().c_str());
    return 0;
  }
  return rampart::cli::kExitInvalid;
}
