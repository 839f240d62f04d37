#include "allocator.h"

#include <string>

#if defined(RAMPART_WITH_MIMALLOC)
#include <mimalloc.h>
#endif

namespace rampart::app {

// mimalloc replaces malloc/free/new/delete for the whole process when its shared library
// is loaded (symbol interposition): nothing else calls it by name. Naming its version
// here is also the reference that keeps the linker from dropping the library.
const char* AllocatorName() {
#if defined(RAMPART_WITH_MIMALLOC)
  static const std::string name = [] {
    const int v = mi_version();  // e.g. 209 for 2.0.9
    return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." +
           std::to_string(v % 10);
  }();
  return name.c_str();
#else
  return "glibc malloc";
#endif
}

}  // namespace rampart::app
