#include "rampart/schedule/cron.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <ctime>
#include <string>

#include "rampart/core/error.h"

namespace rampart::schedule {
namespace {

using namespace std::chrono;

TimePoint At(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return TimePoint(sys_days(year{y} / month{mo} / day{d})) + hours(h) + minutes(mi) + seconds(s);
}

std::string Show(std::optional<TimePoint> t) {
  if (!t) return "none";
  const auto day = floor<days>(*t);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> hms{floor<seconds>(*t - day)};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02ld:%02ld", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()));
  return buf;
}

CronSpec MustParse(const std::string& text) {
  auto spec = CronSpec::Parse(text);
  EXPECT_TRUE(spec.ok()) << text << ": " << (spec.ok() ? "" : spec.error().message);
  return std::move(*spec);
}

TEST(CronParse, Valid) {
  for (const char* text :
       {"* * * * *", "*/5 * * * *", "0 0 * * *", "0,15,30,45 * * * *", "0-10/2 8-18 * * 1-5",
        "5 4 * * sun", "0 0 1 jan,JUL *", "0 12 * * MON-FRI", "59 23 31 12 7", "0 0 29 2 *",
        "0 0 31 2 *", "  1   2  3 4 5  ", "5/15 * * * *", "00 007 01 01 0", "0 0 * * 0,7",
        "* * * * */7", "0 */23 * * *"}) {
    EXPECT_TRUE(CronSpec::Parse(text).ok()) << text;
  }
}

TEST(CronParse, Invalid) {
  for (const char* text : {"",
                           "* * * *",
                           "* * * * * *",
                           "60 * * * *",
                           "* 24 * * *",
                           "* * 0 * *",
                           "* * 32 * *",
                           "* * * 0 *",
                           "* * * 13 *",
                           "* * * * 8",
                           "*/0 * * * *",
                           "*/61 * * * *",
                           "5-1 * * * *",
                           "1,,2 * * * *",
                           ",1 * * * *",
                           "1, * * * * *",
                           "a * * * *",
                           "* * * foo *",
                           "* * * * sunday",
                           "-1 * * * *",
                           "1- * * * *",
                           "*/x * * * *",
                           "*/mon * * * 1",
                           "1-2-3 * * * *",
                           "* * * * mon/2x",
                           "1000 * * * *",
                           "*/ * * * *",
                           "** * * * *",
                           "jan * * * *",
                           "* * * * jan",
                           "@daily"}) {
    auto spec = CronSpec::Parse(text);
    ASSERT_FALSE(spec.ok()) << "'" << text << "'";
    EXPECT_EQ(spec.error().code, ErrorCode::kInvalidDefinition);
    EXPECT_NE(spec.error().message.find("invalid cron expression"), std::string::npos);
  }
}

TEST(CronParse, MessageNamesTheField) {
  auto spec = CronSpec::Parse("0 24 * * *");
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.error().message.find("hour"), std::string::npos) << spec.error().message;
}

struct NextCase {
  const char* cron;
  TimePoint from;
  const char* want;
};

TEST(CronNextAfter, Table) {
  const NextCase cases[] = {
      {"* * * * *", At(2026, 1, 1, 10, 0, 30), "2026-01-01 10:01"},
      {"* * * * *", At(2026, 1, 1, 10, 0, 0), "2026-01-01 10:01"},  // strictly after
      {"*/5 * * * *", At(2026, 1, 1, 10, 3), "2026-01-01 10:05"},
      {"*/5 * * * *", At(2026, 1, 1, 23, 57), "2026-01-02 00:00"},
      {"0 0 * * *", At(2026, 12, 31, 12, 0), "2027-01-01 00:00"},   // year rollover
      {"30 8 * * 1-5", At(2026, 12, 5, 9, 0), "2026-12-07 08:30"},  // Sat -> Mon
      {"0 0 29 2 *", At(2026, 3, 1), "2028-02-29 00:00"},           // next leap year
      {"0 0 29 2 *", At(2096, 3, 1), "2104-02-29 00:00"},           // 2100 is not leap
      {"0 0 31 2 *", At(2026, 1, 1), "none"},                       // impossible
      {"0 0 30 2 *", At(2026, 1, 1), "none"},
      {"0 0 31 4,6,9,11 *", At(2026, 1, 1), "none"},
      {"0 0 31 * *", At(2026, 2, 1), "2026-03-31 00:00"},  // skips short months
      {"0 0 13 * 5", At(2026, 1, 1), "2026-01-02 00:00"},  // both restricted: Friday OR 13th
      {"0 0 13 * 5", At(2026, 1, 3), "2026-01-09 00:00"},
      {"0 0 13 * 5", At(2026, 1, 10), "2026-01-13 00:00"},
      // dom starts with '*': AND (a Friday that is the 1st, 11th, 21st or 31st).
      {"0 0 */10 * 5", At(2026, 1, 1, 1), "2026-05-01 00:00"},
      {"0 0 */10 * 5", At(2026, 5, 1, 1), "2026-07-31 00:00"},
      {"0 0 * * 7", At(2026, 12, 5), "2026-12-06 00:00"},  // 7 is Sunday
      {"15 10 * feb sun", At(2026, 1, 1), "2026-02-01 10:15"},
      {"0 12 29 2 *", At(2024, 2, 29, 11, 59, 59), "2024-02-29 12:00"},
      {"59 23 31 12 *", At(2026, 12, 31, 23, 59), "2027-12-31 23:59"},
      {"5/20 * * * *", At(2026, 1, 1, 0, 26), "2026-01-01 00:45"},
      {"1-30/7 * * * *", At(2026, 1, 1, 10, 23), "2026-01-01 10:29"},  // 1,8,15,22,29
      {"1-30/7 * * * *", At(2026, 1, 1, 10, 29), "2026-01-01 11:01"},
      {"0 9 * Jan-MAR mOn", At(2026, 3, 31), "2027-01-04 09:00"},  // names, any case
      {"0 0 1 * 1", At(2026, 6, 2), "2026-06-08 00:00"},  // the 1st OR a Monday
      {"0 0 1 * 1", At(2026, 6, 29, 1), "2026-07-01 00:00"},
  };
  for (const NextCase& c : cases) {
    const CronSpec spec = MustParse(c.cron);
    EXPECT_EQ(Show(spec.NextAfter(c.from)), c.want) << c.cron << " after " << Show(c.from);
  }
}

TEST(CronLatestAtOrBefore, Table) {
  EXPECT_EQ(Show(MustParse("*/5 * * * *").LatestAtOrBefore(At(2026, 1, 1, 10, 7, 30))),
            "2026-01-01 10:05");
  EXPECT_EQ(Show(MustParse("*/5 * * * *").LatestAtOrBefore(At(2026, 1, 1, 10, 5, 0))),
            "2026-01-01 10:05");  // at
  EXPECT_EQ(Show(MustParse("0 0 * * *").LatestAtOrBefore(At(2027, 1, 1, 0, 0, 59))),
            "2027-01-01 00:00");
  EXPECT_EQ(Show(MustParse("0 0 29 2 *").LatestAtOrBefore(At(2027, 1, 1))), "2024-02-29 00:00");
  EXPECT_EQ(Show(MustParse("0 0 31 2 *").LatestAtOrBefore(At(2027, 1, 1))), "none");
}

// UTC whatever the process's TZ: a server started with TZ=America/New_York (DST in
// force on the date below) or a +14:00 zone fires at the same instants.
TEST(CronNextAfter, IgnoresTheProcessTimeZone) {
  const char* before = std::getenv("TZ");
  const std::string saved = before ? before : "";
  for (const char* tz : {"America/New_York", "Pacific/Kiritimati", "Asia/Kolkata"}) {
    ::setenv("TZ", tz, 1);
    ::tzset();
    EXPECT_EQ(Show(MustParse("30 8 * * 1-5").NextAfter(At(2026, 7, 4, 9))), "2026-07-06 08:30")
        << tz;
    EXPECT_EQ(Show(MustParse("0 0 1 * *").LatestAtOrBefore(At(2026, 7, 1, 0, 0, 30))),
              "2026-07-01 00:00")
        << tz;
  }
  if (before) {
    ::setenv("TZ", saved.c_str(), 1);
  } else {
    ::unsetenv("TZ");
  }
  ::tzset();
}

TEST(CronMatches, Minutes) {
  const CronSpec spec = MustParse("*/15 9-17 * * mon-fri");
  EXPECT_TRUE(spec.Matches(At(2026, 12, 7, 9, 15, 42)));  // Monday
  EXPECT_FALSE(spec.Matches(At(2026, 12, 7, 9, 16)));
  EXPECT_FALSE(spec.Matches(At(2026, 12, 6, 9, 15)));  // Sunday
  EXPECT_FALSE(spec.Matches(At(2026, 12, 7, 18, 0)));
}

}  // namespace
}  // namespace rampart::schedule
