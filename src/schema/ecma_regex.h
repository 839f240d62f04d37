// ECMA-262 regular expressions (with the `u` flag, as JSON Schema requires) translated to
// RE2 syntax, so that `pattern` and `patternProperties` run in linear time.
//
// Translated faithfully:
//   - `.` excludes every ECMA line terminator (\n \r U+2028 U+2029); `^`/`$` anchor the
//     whole input (no multiline flag), so "abc\n" does not match ^abc$.
//   - \d \D \w \W are ASCII, as in ECMA; \s \S use the ECMA WhiteSpace + LineTerminator
//     set (including U+00A0, U+FEFF, the U+2000 block...), also inside classes.
//   - \cX control escapes, \0, \xHH, \uHHHH (surrogate pairs combined), \u{H...},
//     \f \n \r \t \v, identity escapes of syntax characters and '/'.
//   - \p{...} / \P{...} with General_Category names (long or short, e.g. Letter, L,
//     Decimal_Number, digit) and Script=Name (RE2 script names).
//   - Named groups (?<name>...) become (?P<name>...); modifier groups (?i:...).
//   - [] (matches nothing) and [^] (matches anything).
//
// Valid ECMA-262 that RE2 cannot run (kUnsupported; a `pattern` using them is a compile
// error, the `regex` format still accepts them as valid ECMA-262):
//   - lookahead (?= (?! and lookbehind (?<= (?<!
//   - backreferences \1 and \k<name>
//   - counted repetition above 1000 ({1001,} and beyond), RE2's limit
//   - lone surrogates (\uD800 without its pair): RE2 matches UTF-8 code points only
//   - Unicode properties RE2 does not know (binary properties such as Alphabetic,
//     Script_Extensions beyond the script name, short script codes like Grek)
//   - the m and s modifiers in modifier groups
#pragma once

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::schema::internal {

enum class RegexStatus { kOk, kInvalid, kUnsupported };

struct RegexTranslation {
  RegexStatus status = RegexStatus::kOk;
  std::string re2;      // RE2 pattern when kOk
  std::string message;  // why, when not kOk
};

RegexTranslation TranslateEcmaRegex(std::string_view pattern);

// The common shape of schema patterns, matched without RE2's per-call overhead:
// "^" then a sequence of ASCII character classes or literals with quantifiers, then
// optionally "$" (e.g. ^[A-Z]{3}-[0-9]{4}$, ^[a-z0-9-]+$). Built only when greedy matching
// is exact: every item whose count varies is disjoint from the items that may follow it
// up to the next mandatory one, so no backtracking is ever needed (linear time).
struct SimplePattern {
  struct Item {
    std::bitset<128> chars;
    uint32_t min = 1;
    uint32_t max = 1;
  };
  std::vector<Item> items;
  bool anchored_end = false;
};

// Returns false when `pattern` is not of that shape (then RE2 is used).
bool BuildSimplePattern(std::string_view pattern, SimplePattern* out);

inline bool MatchSimplePattern(const SimplePattern& p, std::string_view text) {
  size_t pos = 0;
  const size_t n = text.size();
  for (const auto& item : p.items) {
    uint32_t count = 0;
    while (count < item.max && pos < n) {
      unsigned char c = static_cast<unsigned char>(text[pos]);
      if (c >= 128 || !item.chars[c]) break;
      ++pos;
      ++count;
    }
    if (count < item.min) return false;
  }
  return !p.anchored_end || pos == n;
}

}  // namespace rampart::schema::internal
