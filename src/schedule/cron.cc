#include "rampart/schedule/cron.h"

#include <array>
#include <cctype>
#include <vector>

#include "rampart/core/error.h"

namespace rampart::schedule {
namespace {

using std::chrono::days;
using std::chrono::minutes;
using std::chrono::sys_days;

// 8 years + 1 day: Feb 29 recurs at most 8 years apart (e.g. 2096 -> 2104).
constexpr int kSearchDays = 8 * 366 + 1;

struct FieldInfo {
  const char* name;
  int lo;
  int hi;
  std::array<const char*, 13> names;  // names[i] is value lo_names + i; nullptr ends
  int names_base;
};

constexpr FieldInfo kFields[5] = {
    {"minute", 0, 59, {}, 0},
    {"hour", 0, 23, {}, 0},
    {"day-of-month", 1, 31, {}, 0},
    {"month",
     1,
     12,
     {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", nullptr},
     1},
    {"day-of-week", 0, 7, {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr}, 0},
};

Error Invalid(size_t field, const std::string& why) {
  return MakeError(
      ErrorCode::kInvalidDefinition,
      "invalid cron expression: " + std::string(kFields[field].name) + " field: " + why);
}

// A number or (where the field has them) a name; false when neither.
bool ParseValue(std::string_view t, const FieldInfo& f, int& out) {
  if (t.empty()) return false;
  if (std::isdigit(static_cast<unsigned char>(t[0]))) {
    if (t.size() > 3) return false;
    out = 0;
    for (char c : t) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    return true;
  }
  if (t.size() != 3) return false;
  std::string lower;
  for (char c : t) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (int i = 0; i < 13 && f.names[static_cast<size_t>(i)] != nullptr; ++i) {
    if (lower == f.names[static_cast<size_t>(i)]) {
      out = f.names_base + i;
      return true;
    }
  }
  return false;
}

// Parses one field into `bits` (indexed by value); returns an error message or "".
std::string ParseField(std::string_view field, const FieldInfo& f, std::vector<bool>& bits) {
  if (field.empty()) return "empty";
  size_t start = 0;
  for (;;) {
    const size_t comma = field.find(',', start);
    const std::string_view part = field.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (part.empty()) return "empty list element in '" + std::string(field) + "'";
    const size_t slash = part.find('/');
    const std::string_view range = part.substr(0, slash);
    int step = 1;
    if (slash != std::string_view::npos) {
      const std::string_view st = part.substr(slash + 1);
      if (st.empty() || !std::isdigit(static_cast<unsigned char>(st[0])) ||
          !ParseValue(st, f, step) || step < 1 || step > f.hi) {
        return "bad step '" + std::string(st) + "' (must be 1-" + std::to_string(f.hi) + ")";
      }
    }
    int a = f.lo;
    int b = f.hi;
    if (range != "*") {
      const size_t dash = range.find('-');
      if (dash == std::string_view::npos) {
        if (!ParseValue(range, f, a)) return "bad value '" + std::string(range) + "'";
        // `N/step` runs from N to the maximum; a plain `N` is just N.
        b = slash == std::string_view::npos ? a : f.hi;
      } else if (!ParseValue(range.substr(0, dash), f, a) ||
                 !ParseValue(range.substr(dash + 1), f, b)) {
        return "bad range '" + std::string(range) + "'";
      }
      if (a < f.lo || a > f.hi || b < f.lo || b > f.hi) {
        return "'" + std::string(range) + "' is out of range " + std::to_string(f.lo) + "-" +
               std::to_string(f.hi);
      }
      if (a > b) return "range '" + std::string(range) + "' is reversed";
    }
    for (int v = a; v <= b; v += step) bits[static_cast<size_t>(v)] = true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return "";
}

}  // namespace

Result<CronSpec> CronSpec::Parse(std::string_view text) {
  if (text.size() > 256) {
    return MakeError(ErrorCode::kInvalidDefinition, "invalid cron expression: too long");
  }
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\t') ++j;
    if (j > i) fields.push_back(text.substr(i, j - i));
    i = j;
  }
  if (fields.size() != 5) {
    return MakeError(ErrorCode::kInvalidDefinition,
                     "invalid cron expression: expected 5 fields (minute hour day-of-month "
                     "month day-of-week), got " +
                         std::to_string(fields.size()));
  }
  CronSpec spec;
  spec.text_ = std::string(text);
  for (size_t f = 0; f < 5; ++f) {
    std::vector<bool> bits(static_cast<size_t>(kFields[f].hi) + 1, false);
    if (std::string why = ParseField(fields[f], kFields[f], bits); !why.empty()) {
      return Invalid(f, why);
    }
    for (size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (f) {
        case 0:
          spec.minutes_.set(v);
          break;
        case 1:
          spec.hours_.set(v);
          break;
        case 2:
          spec.days_.set(v);
          break;
        case 3:
          spec.months_.set(v);
          break;
        default:
          spec.weekdays_.set(v % 7);
          break;  // 7 is Sunday
      }
    }
  }
  spec.days_star_ = fields[2][0] == '*';
  spec.weekdays_star_ = fields[4][0] == '*';
  return spec;
}

bool CronSpec::DayMatches(sys_days day) const {
  const std::chrono::year_month_day ymd{day};
  if (!months_.test(static_cast<unsigned>(ymd.month()))) return false;
  const bool dom = days_.test(static_cast<unsigned>(ymd.day()));
  const bool dow = weekdays_.test(std::chrono::weekday{day}.c_encoding());
  if (!days_star_ && !weekdays_star_) return dom || dow;
  return dom && dow;
}

bool CronSpec::Matches(TimePoint t) const {
  const auto minute = std::chrono::floor<minutes>(t);
  const auto day = std::chrono::floor<days>(minute);
  const auto of_day = (minute - day).count();
  return DayMatches(day) && hours_.test(static_cast<size_t>(of_day / 60)) &&
         minutes_.test(static_cast<size_t>(of_day % 60));
}

std::optional<TimePoint> CronSpec::NextAfter(TimePoint t) const {
  const auto first = std::chrono::floor<minutes>(t) + minutes(1);
  sys_days day = std::chrono::floor<days>(first);
  const int from = static_cast<int>((first - day).count());
  for (int i = 0; i <= kSearchDays; ++i, day += days(1)) {
    if (!DayMatches(day)) continue;
    const int begin = i == 0 ? from : 0;
    for (int m = begin; m < 24 * 60; ++m) {
      if (hours_.test(static_cast<size_t>(m / 60)) && minutes_.test(static_cast<size_t>(m % 60))) {
        return TimePoint(day) + minutes(m);
      }
    }
  }
  return std::nullopt;
}

std::optional<TimePoint> CronSpec::LatestAtOrBefore(TimePoint t) const {
  const auto last = std::chrono::floor<minutes>(t);
  sys_days day = std::chrono::floor<days>(last);
  const int to = static_cast<int>((last - day).count());
  for (int i = 0; i <= kSearchDays; ++i, day -= days(1)) {
    if (!DayMatches(day)) continue;
    const int end = i == 0 ? to : 24 * 60 - 1;
    for (int m = end; m >= 0; --m) {
      if (hours_.test(static_cast<size_t>(m / 60)) && minutes_.test(static_cast<size_t>(m % 60))) {
        return TimePoint(day) + minutes(m);
      }
    }
  }
  return std::nullopt;
}

}  // namespace rampart::schedule
