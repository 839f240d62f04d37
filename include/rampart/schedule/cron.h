// Cron expressions of schedule triggers (spec/workflow.md "triggers"): the classic
// 5 fields, evaluated in UTC (no time zones, hence no DST gaps or repeats).
//
//   minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or JAN-DEC)
//   day-of-week (0-7 or SUN-SAT; 0 and 7 are Sunday)
//
// Each field is a comma list of `*`, `N`, `N-M`, each optionally followed by `/step`
// (`N/step` means N to the field's maximum). Names are case-insensitive and allowed
// wherever a number is (not as a step). Day rule (Vixie cron): when both day-of-month
// and day-of-week are restricted (neither starts with `*`), a day matches when EITHER
// matches; otherwise both must match.
//
// Thread-safety: a parsed CronSpec is immutable.
#pragma once

#include <bitset>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "rampart/core/result.h"

namespace rampart::schedule {

using TimePoint = std::chrono::system_clock::time_point;

class CronSpec {
 public:
  // kInvalidDefinition with a message naming the field and the problem.
  static Result<CronSpec> Parse(std::string_view text);

  // The first tick strictly after `t` (whole minutes, UTC); nullopt when the expression
  // never matches (e.g. `0 0 31 2 *`). The search is bounded (8 years + a day, enough
  // for Feb 29 across a skipped leap year), never an endless loop.
  std::optional<TimePoint> NextAfter(TimePoint t) const;
  // The last tick at or before `t`; nullopt when none in the same bounded window.
  std::optional<TimePoint> LatestAtOrBefore(TimePoint t) const;
  // Whether the minute containing `t` is a tick.
  bool Matches(TimePoint t) const;

  const std::string& text() const { return text_; }

 private:
  CronSpec() = default;
  bool DayMatches(std::chrono::sys_days day) const;

  std::string text_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1-31
  std::bitset<13> months_;   // 1-12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_star_ = false;
  bool weekdays_star_ = false;
};

}  // namespace rampart::schedule
