#include "schema/formats.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "schema/ecma_regex.h"
#include "schema/idn.h"

namespace rampart::schema::internal {
namespace {

// Character classes of the ASCII grammars below, one table lookup each.
enum : uint8_t {
  kDigit = 1,
  kAlpha = 2,
  kHex = 4,
  kUnreserved = 8,   // RFC 3986
  kSubDelim = 16,    // RFC 3986
  kAtext = 32,       // RFC 5322
};

constexpr std::array<uint8_t, 256> MakeCharTable() {
  std::array<uint8_t, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] |= kDigit | kHex | kUnreserved | kAtext;
  for (int c = 'a'; c <= 'z'; ++c) t[c] |= kAlpha | kUnreserved | kAtext;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] |= kAlpha | kUnreserved | kAtext;
  for (int c = 'a'; c <= 'f'; ++c) t[c] |= kHex;
  for (int c = 'A'; c <= 'F'; ++c) t[c] |= kHex;
  for (char c : std::string_view("-._~")) t[static_cast<unsigned char>(c)] |= kUnreserved;
  for (char c : std::string_view("!$&'()*+,;=")) t[static_cast<unsigned char>(c)] |= kSubDelim;
  for (char c : std::string_view("!#$%&'*+-/=?^_`{|}~")) t[static_cast<unsigned char>(c)] |= kAtext;
  return t;
}
constexpr std::array<uint8_t, 256> kChars = MakeCharTable();

bool Is(char c, uint8_t mask) { return (kChars[static_cast<unsigned char>(c)] & mask) != 0; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return Is(c, kAlpha); }
bool IsHexDigit(char c) { return Is(c, kHex); }

// Reads exactly `n` ASCII digits at `*pos`.
bool Digits(std::string_view s, size_t* pos, size_t n, int* value) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *value = v;
  return true;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && IsLeapYear(y)) return 29;
  return kDays[m - 1];
}

// full-date = date-fullyear "-" date-month "-" date-mday
bool ParseDate(std::string_view s, size_t* pos) {
  int y = 0;
  int m = 0;
  int d = 0;
  if (!Digits(s, pos, 4, &y)) return false;
  if (*pos >= s.size() || s[(*pos)++] != '-') return false;
  if (!Digits(s, pos, 2, &m) || m < 1 || m > 12) return false;
  if (*pos >= s.size() || s[(*pos)++] != '-') return false;
  if (!Digits(s, pos, 2, &d) || d < 1 || d > DaysInMonth(y, m)) return false;
  return true;
}

// full-time = partial-time time-offset, with the RFC 3339 leap second rule: second 60 is
// allowed only when the time, converted to UTC, is 23:59:60.
bool ParseTime(std::string_view s, size_t* pos) {
  int h = 0;
  int m = 0;
  int sec = 0;
  if (!Digits(s, pos, 2, &h) || h > 23) return false;
  if (*pos >= s.size() || s[(*pos)++] != ':') return false;
  if (!Digits(s, pos, 2, &m) || m > 59) return false;
  if (*pos >= s.size() || s[(*pos)++] != ':') return false;
  if (!Digits(s, pos, 2, &sec) || sec > 60) return false;
  if (*pos < s.size() && s[*pos] == '.') {
    ++*pos;
    size_t start = *pos;
    while (*pos < s.size() && IsDigit(s[*pos])) ++*pos;
    if (*pos == start) return false;
  }
  if (*pos >= s.size()) return false;
  char c = s[(*pos)++];
  int offset_minutes = 0;
  if (c == 'Z' || c == 'z') {
    offset_minutes = 0;
  } else if (c == '+' || c == '-') {
    int oh = 0;
    int om = 0;
    if (!Digits(s, pos, 2, &oh) || oh > 23) return false;
    if (*pos >= s.size() || s[(*pos)++] != ':') return false;
    if (!Digits(s, pos, 2, &om) || om > 59) return false;
    offset_minutes = (oh * 60 + om) * (c == '+' ? 1 : -1);
  } else {
    return false;
  }
  if (sec == 60) {
    int utc = ((h * 60 + m - offset_minutes) % 1440 + 1440) % 1440;
    if (utc != 23 * 60 + 59) return false;
  }
  return true;
}

bool CheckDateTime(std::string_view s) {
  size_t pos = 0;
  if (!ParseDate(s, &pos)) return false;
  if (pos >= s.size() || (s[pos] != 'T' && s[pos] != 't')) return false;
  ++pos;
  return ParseTime(s, &pos) && pos == s.size();
}

bool CheckDate(std::string_view s) {
  size_t pos = 0;
  return ParseDate(s, &pos) && pos == s.size();
}

bool CheckTime(std::string_view s) {
  size_t pos = 0;
  return ParseTime(s, &pos) && pos == s.size();
}

bool CheckDuration(std::string_view s) {
  if (s.size() < 2 || s[0] != 'P') return false;
  size_t pos = 1;
  // Reads "<digits><unit>"; returns the unit or 0.
  auto element = [&](char* unit) {
    size_t start = pos;
    while (pos < s.size() && IsDigit(s[pos])) ++pos;
    if (pos == start || pos >= s.size()) return false;
    *unit = s[pos++];
    return true;
  };
  static constexpr std::string_view kDateUnits = "YMD";
  static constexpr std::string_view kTimeUnits = "HMS";
  bool any = false;
  size_t next_date = 0;  // index in kDateUnits of the first unit still allowed
  while (pos < s.size() && s[pos] != 'T') {
    char unit = 0;
    if (!element(&unit)) return false;
    if (unit == 'W') {
      return !any && pos == s.size();
    }
    size_t idx = kDateUnits.find(unit);
    if (idx == std::string_view::npos || idx < next_date) return false;
    if (any && idx != next_date) return false;  // e.g. P1Y2D skips the month
    next_date = idx + 1;
    any = true;
  }
  if (pos < s.size()) {
    ++pos;  // 'T'
    bool any_time = false;
    size_t next_time = 0;
    while (pos < s.size()) {
      char unit = 0;
      if (!element(&unit)) return false;
      size_t idx = kTimeUnits.find(unit);
      if (idx == std::string_view::npos || idx < next_time) return false;
      if (any_time && idx != next_time) return false;
      next_time = idx + 1;
      any_time = true;
    }
    if (!any_time) return false;
    any = true;
  }
  return any;
}

bool CheckIpv4(std::string_view s) {
  int parts = 0;
  size_t pos = 0;
  while (true) {
    size_t start = pos;
    int v = 0;
    while (pos < s.size() && IsDigit(s[pos]) && pos - start < 4) {
      v = v * 10 + (s[pos] - '0');
      ++pos;
    }
    size_t len = pos - start;
    if (len == 0 || len > 3 || v > 255) return false;
    if (len > 1 && s[start] == '0') return false;  // no leading zeros (octal ambiguity)
    ++parts;
    if (pos == s.size()) break;
    if (s[pos] != '.' || parts == 4) return false;
    ++pos;
  }
  return parts == 4;
}

bool CheckIpv6(std::string_view s) {
  if (s.empty()) return false;
  int groups = 0;
  bool compressed = false;
  size_t pos = 0;
  if (s.substr(0, 2) == "::") {
    compressed = true;
    pos = 2;
    if (pos == s.size()) return true;
  } else if (s[0] == ':') {
    return false;
  }
  while (pos < s.size()) {
    size_t start = pos;
    while (pos < s.size() && IsHexDigit(s[pos]) && pos - start <= 4) ++pos;
    size_t len = pos - start;
    if (pos < s.size() && s[pos] == '.') {
      // Embedded IPv4 as the last 32 bits.
      if (!CheckIpv4(s.substr(start))) return false;
      groups += 2;
      pos = s.size();
      break;
    }
    if (len == 0 || len > 4) return false;
    ++groups;
    if (pos == s.size()) break;
    if (s[pos] != ':') return false;
    ++pos;
    if (pos < s.size() && s[pos] == ':') {
      if (compressed) return false;
      compressed = true;
      ++pos;
      if (pos == s.size()) break;
    } else if (pos == s.size()) {
      return false;  // trailing single ':'
    }
  }
  return compressed ? groups <= 7 : groups == 8;
}

bool CheckUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !IsHexDigit(s[i])) return false;
  }
  return true;
}

// ---- URIs and IRIs (RFC 3986 / RFC 3987) ----

bool IsUnreserved(char c) { return Is(c, kUnreserved); }
bool IsSubDelim(char c) { return Is(c, kSubDelim); }

class UriParser {
 public:
  UriParser(std::string_view s, bool iri) : s_(s), iri_(iri) {}

  bool Absolute() {
    if (!Scheme()) return false;
    return HierPart() && Tail();
  }

  bool Reference() {
    size_t save = pos_;
    if (Scheme() && HierPart() && Tail()) return true;
    pos_ = save;
    return Relative() && Tail();
  }

 private:
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  // One character of the given class at pos_: unreserved (+ ucschar for IRIs),
  // pct-encoded, sub-delims and `extra`. Advances and returns true if matched.
  bool Char(std::string_view extra) {
    if (AtEnd()) return false;
    char c = s_[pos_];
    if (Is(c, kUnreserved | kSubDelim) || (!extra.empty() && extra.find(c) != std::string_view::npos)) {
      ++pos_;
      return true;
    }
    if (c == '%') {
      if (pos_ + 2 < s_.size() && IsHexDigit(s_[pos_ + 1]) &&
          IsHexDigit(s_[pos_ + 2])) {
        pos_ += 3;
        return true;
      }
      return false;
    }
    if (iri_ && static_cast<unsigned char>(c) >= 0x80) {
      // ucschar / iprivate: any non-ASCII code point (valid UTF-8 is checked by JSON).
      ++pos_;
      while (pos_ < s_.size() && (static_cast<unsigned char>(s_[pos_]) & 0xC0) == 0x80) ++pos_;
      return true;
    }
    return false;
  }

  bool Scheme() {
    size_t start = pos_;
    if (AtEnd() || !IsAlpha(Peek())) return false;
    while (!AtEnd() && (IsAlpha(Peek()) || IsDigit(Peek()) || Peek() == '+' || Peek() == '-' ||
                        Peek() == '.')) {
      ++pos_;
    }
    if (Peek() != ':') {
      pos_ = start;
      return false;
    }
    ++pos_;
    return true;
  }

  bool Authority() {
    // Try userinfo "@".
    size_t save = pos_;
    while (Char(":")) {
    }
    if (Peek() == '@') {
      ++pos_;
    } else {
      pos_ = save;
    }
    if (Peek() == '[') {
      size_t close = s_.find(']', pos_);
      if (close == std::string_view::npos) return false;
      std::string_view lit = s_.substr(pos_ + 1, close - pos_ - 1);
      bool ok = false;
      if (!lit.empty() && (lit[0] == 'v' || lit[0] == 'V')) {
        size_t dot = lit.find('.');
        ok = dot != std::string_view::npos && dot > 1 && dot + 1 < lit.size();
        for (size_t i = 1; ok && i < dot; ++i) ok = IsHexDigit(lit[i]);
        for (size_t i = dot + 1; ok && i < lit.size(); ++i) {
          ok = IsUnreserved(lit[i]) || IsSubDelim(lit[i]) || lit[i] == ':';
        }
      } else {
        ok = CheckIpv6(lit);
      }
      if (!ok) return false;
      pos_ = close + 1;
    } else {
      while (Char("")) {
      }
    }
    if (Peek() == ':') {
      ++pos_;
      while (!AtEnd() && IsDigit(Peek())) ++pos_;
    }
    return AtEnd() || Peek() == '/' || Peek() == '?' || Peek() == '#';
  }

  void Segments() {
    while (true) {
      while (Char(":@")) {
      }
      if (Peek() != '/') return;
      ++pos_;
    }
  }

  bool HierPart() {
    if (s_.substr(pos_, 2) == "//") {
      pos_ += 2;
      if (!Authority()) return false;
    }
    Segments();
    return true;
  }

  bool Relative() {
    if (s_.substr(pos_, 2) == "//") {
      pos_ += 2;
      if (!Authority()) return false;
      Segments();
      return true;
    }
    // path-noscheme: the first segment has no ':'.
    while (Char("@")) {
    }
    if (Peek() == ':') return false;
    if (Peek() == '/') {
      ++pos_;
      Segments();
    }
    return true;
  }

  bool Tail() {
    if (Peek() == '?') {
      ++pos_;
      while (Char(":@/?")) {
      }
    }
    if (Peek() == '#') {
      ++pos_;
      while (Char(":@/?")) {
      }
    }
    return AtEnd();
  }

  std::string_view s_;
  bool iri_;
  size_t pos_ = 0;
};

bool CheckJsonPointer(std::string_view s) {
  if (s.empty()) return true;
  if (s[0] != '/') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '~') {
      if (i + 1 >= s.size() || (s[i + 1] != '0' && s[i + 1] != '1')) return false;
      ++i;
    }
  }
  return true;
}

bool CheckRelativeJsonPointer(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size() && IsDigit(s[pos])) ++pos;
  if (pos == 0) return false;
  if (pos > 1 && s[0] == '0') return false;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    // Index manipulation (draft-bhutton-relative-json-pointer-00).
    size_t start = ++pos;
    while (pos < s.size() && IsDigit(s[pos])) ++pos;
    if (pos == start || (pos - start > 1 && s[start] == '0')) return false;
  }
  std::string_view rest = s.substr(pos);
  return rest == "#" || CheckJsonPointer(rest);
}

bool CheckUriTemplate(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[pos]);
    if (c == '{') {
      size_t close = s.find('}', pos);
      if (close == std::string_view::npos) return false;
      std::string_view expr = s.substr(pos + 1, close - pos - 1);
      if (expr.empty()) return false;
      size_t i = 0;
      if (std::string_view("+#./;?&=,!@|").find(expr[0]) != std::string_view::npos) ++i;
      while (true) {
        // varname
        size_t start = i;
        while (i < expr.size()) {
          char v = expr[i];
          if (IsAlpha(v) || IsDigit(v) || v == '_') {
            ++i;
          } else if (v == '%' && i + 2 < expr.size() && IsHexDigit(expr[i + 1]) &&
                     IsHexDigit(expr[i + 2])) {
            i += 3;
          } else if (v == '.' && i > start && i + 1 < expr.size() && expr[i + 1] != '.' &&
                     expr[i + 1] != ',' && expr[i + 1] != ':' && expr[i + 1] != '*') {
            ++i;
          } else {
            break;
          }
        }
        if (i == start) return false;
        if (i < expr.size() && expr[i] == ':') {
          ++i;
          size_t d = i;
          while (i < expr.size() && IsDigit(expr[i])) ++i;
          if (i == d || i - d > 4 || expr[d] == '0') return false;
        } else if (i < expr.size() && expr[i] == '*') {
          ++i;
        }
        if (i == expr.size()) break;
        if (expr[i] != ',') return false;
        ++i;
      }
      pos = close + 1;
      continue;
    }
    // RFC 6570 literals (the apostrophe is allowed, per erratum 6937 and the test suite).
    if (c < 0x20 || c == 0x7F || c == ' ' || c == '"' || c == '<' || c == '>' || c == '\\' ||
        c == '^' || c == '`' || c == '|' || c == '}') {
      return false;
    }
    if (c == '%') {
      if (pos + 2 >= s.size() || !IsHexDigit(s[pos + 1]) || !IsHexDigit(s[pos + 2])) return false;
      pos += 3;
      continue;
    }
    ++pos;
  }
  return true;
}

// ---- e-mail (RFC 5321 Mailbox; RFC 6531 for the internationalized form) ----

bool IsAtext(unsigned char c, bool idn) { return (idn && c >= 0x80) || (kChars[c] & kAtext) != 0; }

bool CheckEmail(std::string_view s, bool idn) {
  size_t pos = 0;
  if (s.empty()) return false;
  if (s[0] == '"') {
    pos = 1;
    bool closed = false;
    while (pos < s.size()) {
      unsigned char c = static_cast<unsigned char>(s[pos]);
      if (c == '"') {
        closed = true;
        ++pos;
        break;
      }
      if (c == '\\') {
        if (pos + 1 >= s.size()) return false;
        unsigned char n = static_cast<unsigned char>(s[pos + 1]);
        if (n < 32 || n > 126) return false;
        pos += 2;
        continue;
      }
      bool ok = (c >= 32 && c <= 126) || (idn && c >= 0x80);
      if (!ok) return false;
      ++pos;
    }
    if (!closed || pos == 2) return false;
  } else {
    bool need_atom = true;
    while (pos < s.size() && s[pos] != '@') {
      unsigned char c = static_cast<unsigned char>(s[pos]);
      if (c == '.') {
        if (need_atom) return false;
        need_atom = true;
      } else if (IsAtext(c, idn)) {
        need_atom = false;
      } else {
        return false;
      }
      ++pos;
    }
    if (need_atom) return false;
  }
  if (pos > 64 * 4 || pos >= s.size() || s[pos] != '@') return false;
  std::string_view domain = s.substr(pos + 1);
  if (domain.size() >= 2 && domain.front() == '[' && domain.back() == ']') {
    std::string_view lit = domain.substr(1, domain.size() - 2);
    if (lit.substr(0, 5) == "IPv6:") return CheckIpv6(lit.substr(5));
    return CheckIpv4(lit);
  }
  return idn ? CheckIdnHostname(domain) : CheckHostname(domain);
}

}  // namespace

FormatKind LookupFormat(std::string_view name) {
  static constexpr std::pair<std::string_view, FormatKind> kFormats[] = {
      {"date-time", FormatKind::kDateTime},
      {"date", FormatKind::kDate},
      {"time", FormatKind::kTime},
      {"duration", FormatKind::kDuration},
      {"email", FormatKind::kEmail},
      {"idn-email", FormatKind::kIdnEmail},
      {"hostname", FormatKind::kHostname},
      {"idn-hostname", FormatKind::kIdnHostname},
      {"ipv4", FormatKind::kIpv4},
      {"ipv6", FormatKind::kIpv6},
      {"uri", FormatKind::kUri},
      {"uri-reference", FormatKind::kUriReference},
      {"iri", FormatKind::kIri},
      {"iri-reference", FormatKind::kIriReference},
      {"uuid", FormatKind::kUuid},
      {"regex", FormatKind::kRegex},
      {"json-pointer", FormatKind::kJsonPointer},
      {"relative-json-pointer", FormatKind::kRelativeJsonPointer},
      {"uri-template", FormatKind::kUriTemplate},
  };
  for (const auto& [n, kind] : kFormats) {
    if (n == name) return kind;
  }
  return FormatKind::kUnknown;
}

bool CheckFormat(FormatKind kind, std::string_view text) {
  switch (kind) {
    case FormatKind::kUnknown: return true;
    case FormatKind::kDateTime: return CheckDateTime(text);
    case FormatKind::kDate: return CheckDate(text);
    case FormatKind::kTime: return CheckTime(text);
    case FormatKind::kDuration: return CheckDuration(text);
    case FormatKind::kEmail: return CheckEmail(text, false);
    case FormatKind::kIdnEmail: return CheckEmail(text, true);
    case FormatKind::kHostname: return CheckHostname(text);
    case FormatKind::kIdnHostname: return CheckIdnHostname(text);
    case FormatKind::kIpv4: return CheckIpv4(text);
    case FormatKind::kIpv6: return CheckIpv6(text);
    case FormatKind::kUri: return UriParser(text, false).Absolute();
    case FormatKind::kUriReference: return UriParser(text, false).Reference();
    case FormatKind::kIri: return UriParser(text, true).Absolute();
    case FormatKind::kIriReference: return UriParser(text, true).Reference();
    case FormatKind::kUuid: return CheckUuid(text);
    case FormatKind::kRegex: return TranslateEcmaRegex(text).status != RegexStatus::kInvalid;
    case FormatKind::kJsonPointer: return CheckJsonPointer(text);
    case FormatKind::kRelativeJsonPointer: return CheckRelativeJsonPointer(text);
    case FormatKind::kUriTemplate: return CheckUriTemplate(text);
  }
  return true;
}

}  // namespace rampart::schema::internal
