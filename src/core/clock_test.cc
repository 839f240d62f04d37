#include "rampart/core/clock.h"

#include <gtest/gtest.h>

namespace rampart {
namespace {

TEST(ClockTest, FormatsRfc3339InUtcWithMilliseconds) {
  using namespace std::chrono;
  system_clock::time_point t{milliseconds(1767225600123)};  // 2026-01-01T00:00:00.123Z
  EXPECT_EQ(FormatRfc3339(t), "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(FormatRfc3339(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(system_clock::time_point{milliseconds(-1)}), "1969-12-31T23:59:59.999Z");
}

TEST(ClockTest, SystemRandomDiffers) {
  uint64_t a = SystemRandom().NextU64();
  uint64_t b = SystemRandom().NextU64();
  EXPECT_NE(a, b);
}

TEST(ClockTest, MonotonicDoesNotGoBackwards) {
  auto a = SystemClock().Monotonic();
  auto b = SystemClock().Monotonic();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace rampart
