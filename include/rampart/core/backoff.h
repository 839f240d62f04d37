// Capped doubling backoff: the one rule for waits between retries of a failed store write
// or delivery (hooks::HookDispatcher's unrecorded outcomes, audit::AuditForwarder's
// batches, the run service's CommitWithRetry). Each caller keeps its own first delay and
// cap; only the step from one wait to the next is shared.
#pragma once

#include <algorithm>
#include <chrono>

namespace rampart {

// The wait after `current` (>= 0): `current` doubled, at most `cap`. A `current` already
// above `cap` (a first delay configured over it) is kept, never shortened. Never
// overflows, whatever the cap.
constexpr std::chrono::milliseconds NextBackoff(std::chrono::milliseconds current,
                                                std::chrono::milliseconds cap) {
  const std::chrono::milliseconds bound = std::max(cap, current);
  return current <= bound / 2 ? current * 2 : bound;
}

}  // namespace rampart
