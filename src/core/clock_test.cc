#include "rampart/core/clock.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <random>
#include <set>
#include <thread>
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

// Stored times are milliseconds; formatted from them directly, the whole range of RFC 3339
// years is reachable (a nanosecond system_clock ends in 2262), and each agrees with the
// time_point form where both exist.
TEST(ClockTest, FormatRfc3339MillisCoversEveryFourDigitYear) {
  using namespace std::chrono;
  EXPECT_EQ(FormatRfc3339Millis(253402300799999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339Millis(27139017600000), "2830-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339Millis(-1), "1969-12-31T23:59:59.999Z");
  for (long long ms : {0LL, 1767225600123LL, 9200000000000LL, -2208988800000LL}) {
    EXPECT_EQ(FormatRfc3339Millis(ms), FormatRfc3339(system_clock::time_point{milliseconds(ms)}));
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

// 16-byte draws of IdRandom(): from 4 threads at once, crossing many 1 KiB blocks, none
// repeats (a byte handed out twice, or a block shared by two threads, would repeat one).
TEST(IdRandomTest, DrawsNeverRepeatAcrossThreadsAndBlocks) {
  std::vector<std::vector<std::array<uint8_t, 16>>> drawn(4);
  std::vector<std::thread> threads;
  for (auto& mine : drawn) {
    threads.emplace_back([&mine] {
      mine.resize(2000);
      for (auto& d : mine) IdRandom().Fill(d.data(), d.size());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::array<uint8_t, 16>> all;
  for (const auto& mine : drawn) all.insert(mine.begin(), mine.end());
  EXPECT_EQ(all.size(), 8000u);
}

// A child forked while its parent's thread holds a partly used block must not hand out
// the bytes the parent hands out next.
TEST(IdRandomTest, AForkedChildDoesNotRepeatItsParentsDraws) {
  std::array<uint8_t, 16> first{};
  IdRandom().Fill(first.data(), first.size());
  const uint64_t generation = ForkGeneration();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::array<uint8_t, 16> mine{};
    IdRandom().Fill(mine.data(), mine.size());
    const bool counted = ForkGeneration() == generation + 1;
    ssize_t written = write(fds[1], mine.data(), mine.size());
    _exit(counted && written == static_cast<ssize_t>(mine.size()) ? 0 : 1);
  }
  close(fds[1]);
  std::array<uint8_t, 16> parent{};
  IdRandom().Fill(parent.data(), parent.size());
  std::array<uint8_t, 16> from_child{};
  size_t got = 0;
  while (got < from_child.size()) {
    ssize_t n = read(fds[0], from_child.data() + got, from_child.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  ASSERT_EQ(got, from_child.size());
  EXPECT_NE(from_child, parent);
  EXPECT_EQ(ForkGeneration(), generation);  // the parent is not a child
}

}  // namespace
}  // namespace rampart
