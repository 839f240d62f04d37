// Deterministic time and randomness for tests.
#pragma once

#include <atomic>
#include <cstring>

#include "rampart/core/clock.h"

namespace rampart::testing {

// Starts at 2026-01-01T00:00:00Z. Every Monotonic()/Now() call advances by `tick`;
// SleepFor advances instantly and records the total slept.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::chrono::nanoseconds tick = std::chrono::nanoseconds(0)) : tick_(tick) {}

  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)) + Advance();
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::time_point(std::chrono::hours(1)) + Advance();
  }
  void SleepFor(std::chrono::nanoseconds d) override {
    elapsed_ += d.count();
    slept_ += d.count();
  }
  std::chrono::nanoseconds slept() const { return std::chrono::nanoseconds(slept_.load()); }

 private:
  std::chrono::nanoseconds Advance() const {
    return std::chrono::nanoseconds(elapsed_.fetch_add(tick_.count()) + tick_.count());
  }
  std::chrono::nanoseconds tick_;
  mutable std::atomic<int64_t> elapsed_{0};
  std::atomic<int64_t> slept_{0};
};

// Time that moves only when a test says so: Now() starts at `wall`, Monotonic() at 1 h;
// SleepFor moves the monotonic time on at once. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::chrono::system_clock::time_point wall) : wall_(wall) {}
  std::chrono::system_clock::time_point Now() const override {
    return wall_ + std::chrono::milliseconds(wall_ms_.load());
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::time_point(std::chrono::hours(1)) +
           std::chrono::milliseconds(mono_ms_.load());
  }
  void SleepFor(std::chrono::nanoseconds d) override {
    mono_ms_ += std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  }
  void AdvanceWall(std::chrono::milliseconds d) { wall_ms_ += d.count(); }
  void AdvanceMonotonic(std::chrono::milliseconds d) { mono_ms_ += d.count(); }
  // Both clocks.
  void Advance(std::chrono::milliseconds d) {
    AdvanceWall(d);
    AdvanceMonotonic(d);
  }

 private:
  std::chrono::system_clock::time_point wall_;
  std::atomic<int64_t> wall_ms_{0};
  std::atomic<int64_t> mono_ms_{0};
};

// A counter-based stream: byte i of the stream is (seed + i) * 0x9E mod 256.
class FakeRandom final : public Random {
 public:
  explicit FakeRandom(uint8_t seed = 7) : next_(seed) {}
  void Fill(uint8_t* out, size_t size) override {
    for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>((next_++) * 0x9E);
  }

 private:
  uint8_t next_;
};

}  // namespace rampart::testing
