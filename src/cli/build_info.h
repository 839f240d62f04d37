#pragma once

namespace rampart::cli {

// The commit the binary was built from (short hash, "-dirty" when tracked files differed
// from it, "unknown" outside a git checkout). Written at build time, not configure time.
const char* GitCommit();

}  // namespace rampart::cli
