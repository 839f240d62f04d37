#include "rampart/core/backoff.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace rampart {
namespace {

using std::chrono::milliseconds;

std::vector<int64_t> Sequence(milliseconds first, milliseconds cap, int n) {
  std::vector<int64_t> out;
  milliseconds delay = first;
  for (int i = 0; i < n; ++i) {
    out.push_back(delay.count());
    delay = NextBackoff(delay, cap);
  }
  return out;
}

TEST(BackoffTest, DoublesUpToTheCapAndStaysThere) {
  EXPECT_EQ(Sequence(milliseconds(50), milliseconds(5000), 9),
            (std::vector<int64_t>{50, 100, 200, 400, 800, 1600, 3200, 5000, 5000}));
  EXPECT_EQ(Sequence(milliseconds(10), milliseconds(40), 5),
            (std::vector<int64_t>{10, 20, 40, 40, 40}));
  // A cap that is not a power-of-two multiple of the first delay is reached exactly.
  EXPECT_EQ(Sequence(milliseconds(3), milliseconds(10), 4), (std::vector<int64_t>{3, 6, 10, 10}));
  EXPECT_EQ(Sequence(milliseconds(3), milliseconds(11), 4), (std::vector<int64_t>{3, 6, 11, 11}));
  EXPECT_EQ(Sequence(milliseconds(3), milliseconds(12), 4), (std::vector<int64_t>{3, 6, 12, 12}));
}

TEST(BackoffTest, AFirstDelayAboveTheCapIsKept) {
  EXPECT_EQ(Sequence(milliseconds(900), milliseconds(100), 3),
            (std::vector<int64_t>{900, 900, 900}));
  EXPECT_EQ(Sequence(milliseconds(100), milliseconds(100), 2), (std::vector<int64_t>{100, 100}));
}

TEST(BackoffTest, ZeroStaysZeroAndAHugeCapDoesNotOverflow) {
  EXPECT_EQ(NextBackoff(milliseconds(0), milliseconds(1000)), milliseconds(0));
  const milliseconds huge = milliseconds::max();
  EXPECT_EQ(NextBackoff(huge / 2, huge), (huge / 2) * 2);
  EXPECT_EQ(NextBackoff(huge / 2 + milliseconds(1), huge), huge);
  EXPECT_EQ(NextBackoff(huge, huge), huge);
  static_assert(NextBackoff(milliseconds(1), milliseconds(5)) == milliseconds(2));
}

}  // namespace
}  // namespace rampart
