// The error line of a `rampart` command on stderr (internal to cli/).
#pragma once

#include <cstdio>
#include <string>

#include "rampart/cli/commands.h"
#include "rampart/core/error.h"

namespace rampart::cli {

// "rampart: <message>"; returns `code`, the command's exit code.
inline int Fail(std::FILE* err, const std::string& message, int code) {
  std::fprintf(err, "rampart: %s\n", message.c_str());
  return code;
}

// "rampart: <error code>: <message>"; returns `code`.
inline int Fail(std::FILE* err, const Error& error, int code = kExitInvalid) {
  std::fprintf(err, "rampart: %s: %s\n", std::string(error.code_name()).c_str(),
               error.message.c_str());
  return code;
}

}  // namespace rampart::cli
