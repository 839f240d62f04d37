#pragma once

namespace rampart::app {

// The heap allocator this executable was linked with: "mimalloc <version>" when the
// build links mimalloc (RAMPART_MIMALLOC, Release builds), else "glibc malloc".
const char* AllocatorName();

}  // namespace rampart::app
