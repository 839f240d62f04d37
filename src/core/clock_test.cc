#include "rampart/core/clock.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <random>
#include <vector>

namespace rampart {
namespace {

TEST(ClockTest, FormatsRfc3339InUtcWithMilliseconds) {
  using namespace std::chrono;
  system_clock::time_point t{milliseconds(1767225600123)};  // 2026-01-01T00:00:00.123Z
  EXPECT_EQ(FormatRfc3339(t), "2026-01-01T00:00:00.123Z");
  EXPECT_EQ(FormatRfc3339(system_clock::time_point{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(system_clock::time_point{milliseconds(-1)}), "1969-12-31T23:59:59.999Z");
}

// The formatter writes digits itself; libc's gmtime_r is the independent oracle, over leap
// days, month and year ends, and random instants from 1900 to 2261 (the range of a nanosecond system_clock).
TEST(ClockTest, FormatRfc3339AgreesWithGmtime) {
  using namespace std::chrono;
  std::vector<long long> instants = {0, -1, 951782400000, 951868799999, 4107542399999,
                                     9151488000000, -2208988800000, 1709164800500};
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<long long> dist(-2208988800000LL, 9200000000000LL);
  for (int i = 0; i < 20000; ++i) instants.push_back(dist(rng));
  for (long long ms : instants) {
    const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char want[64];
    std::snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms - static_cast<long long>(secs) * 1000));
    ASSERT_EQ(FormatRfc3339(system_clock::time_point{milliseconds(ms)}), want) << ms;
  }
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
