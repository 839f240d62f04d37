// The memory of one run's record and scope (internal to the engine).
#pragma once

#include <algorithm>
#include <boost/json/memory_resource.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <vector>

namespace rampart::engine::internal {

// A bump allocator: allocation is an aligned pointer bump in the current block, and
// memory is released only when the arena is destroyed. Step records are hundreds of small
// allocations that all live exactly as long as the run record, which is the case this
// fits. Unlike boost::json::monotonic_resource, allocation is inline (the class is final,
// so the call through boost's shared_resource wrapper is devirtualized).
//
// Not thread-safe: one run builds its record on one thread.
class RunArena final : public boost::json::memory_resource {
 public:
  RunArena() = default;
  RunArena(const RunArena&) = delete;
  RunArena& operator=(const RunArena&) = delete;
  ~RunArena() override = default;

 private:
  static constexpr size_t kFirstBlock = 4096;
  static constexpr size_t kMaxBlock = size_t{1} << 20;

  void* do_allocate(size_t n, size_t align) override {
    // `align` is a power of two (the memory_resource contract).
    const uintptr_t p = (next_ + (align - 1)) & ~static_cast<uintptr_t>(align - 1);
    if (end_ != 0 && p <= end_ && end_ - p >= n) {
      next_ = p + n;
      return reinterpret_cast<void*>(p);
    }
    return Grow(n, align);
  }

  void do_deallocate(void*, size_t, size_t) override {}

  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override {
    return this == &other;
  }

  [[gnu::noinline]] void* Grow(size_t n, size_t align) {
    if (n > std::numeric_limits<size_t>::max() - align) throw std::bad_alloc();
    // A request larger than the next block gets a block of its own size.
    const size_t size = std::max(block_size_, n + align);
    if (block_size_ < kMaxBlock) block_size_ *= 2;
    blocks_.push_back(std::make_unique_for_overwrite<std::byte[]>(size));
    next_ = reinterpret_cast<uintptr_t>(blocks_.back().get());
    end_ = next_ + size;
    return do_allocate(n, align);
  }

  std::vector<std::unique_ptr<std::byte[]>> blocks_;
  size_t block_size_ = kFirstBlock;
  uintptr_t next_ = 0;  // next free byte of the current block (0 before the first block)
  uintptr_t end_ = 0;
};

}  // namespace rampart::engine::internal
