// RAMPART_CHECK: aborts loudly on a broken invariant, in every build type.
// Never use it for conditions caused by input, the network or the environment.
#pragma once

namespace rampart::internal {
[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);
}  // namespace rampart::internal

#define RAMPART_CHECK(condition)                                          \
  do {                                                                    \
    if (!(condition)) [[unlikely]] {                                      \
      ::rampart::internal::CheckFailed(#condition, __FILE__, __LINE__);   \
    }                                                                     \
  } while (false)
