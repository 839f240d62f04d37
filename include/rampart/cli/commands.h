// The `rampart` commands as functions (apps/rampart/main.cc only parses flags), so tests
// drive them in-process. Each returns the process exit code of spec/interfaces.md.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace rampart::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRunFailed = 1;
inline constexpr int kExitInvalid = 2;

struct RunOptions {
  std::string file;
  std::string input;          // path, "-" for stdin, empty for {}
  bool json = false;          // print exactly the run record
  std::string workflows_dir;  // default: the file's directory
  std::string data_dir = "./var";
};

// 0 succeeded, 1 run failed (or stopped awaiting approval), 2 invalid definition/input.
int Run(const RunOptions& options, std::FILE* out, std::FILE* err);

// 0 when every file is valid (warnings allowed), 2 otherwise.
int Validate(const std::vector<std::string>& files, std::FILE* out, std::FILE* err);

// Version and build information.
std::string VersionText();

}  // namespace rampart::cli
