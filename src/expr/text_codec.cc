#include "expr/text_codec.h"

#include <openssl/evp.h>

#include <cstdio>

namespace rampart::expr::internal {

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kHexUpper[] = "0123456789ABCDEF";
constexpr char kHexLower[] = "0123456789abcdef";

int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

// Howard Hinnant's civil-calendar algorithms (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t& y, int64_t& m, int64_t& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = yoe + era * 400 + (m <= 2 ? 1 : 0);
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t DaysInMonth(int64_t y, int64_t m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

bool Digits(std::string_view s, size_t at, size_t n, int64_t& out) {
  if (at + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[at + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

constexpr int64_t kMinEpoch = -62167219200;  // 0000-01-01T00:00:00Z
constexpr int64_t kMaxEpoch = 253402300799;  // 9999-12-31T23:59:59Z

}  // namespace

size_t Base64EncodedSize(size_t n) { return (n + 2) / 3 * 4; }

void Base64Encode(std::string_view in, std::string& out) {
  out.reserve(out.size() + Base64EncodedSize(in.size()));
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                 (static_cast<unsigned char>(in[i + 1]) << 8) | static_cast<unsigned char>(in[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
}

bool Base64Decode(std::string_view in, std::string& out) {
  size_t len = in.size();
  size_t pad = 0;
  while (len > 0 && in[len - 1] == '=' && pad < 2) {
    --len;
    ++pad;
  }
  if (pad > 0 && in.size() % 4 != 0) return false;
  if (len % 4 == 1) return false;
  out.reserve(out.size() + len / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    int v = B64Value(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  // Leftover bits must be zero (canonical encoding).
  return (acc & ((1u << bits) - 1)) == 0;
}

size_t UrlEncodedSize(std::string_view in) {
  size_t n = 0;
  for (unsigned char c : in) n += Unreserved(c) ? 1 : 3;
  return n;
}

void UrlEncode(std::string_view in, std::string& out) {
  out.reserve(out.size() + UrlEncodedSize(in));
  for (unsigned char c : in) {
    if (Unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 15];
    }
  }
}

bool Sha256Hex(std::string_view in, std::string& out) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(in.data(), in.size(), digest, &len, EVP_sha256(), nullptr) != 1) return false;
  out.reserve(out.size() + len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHexLower[digest[i] >> 4];
    out += kHexLower[digest[i] & 15];
  }
  return true;
}

bool ParseRfc3339(std::string_view s, int64_t& epoch) {
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!Digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
      !Digits(s, 8, 2, d)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo)) return false;
  int64_t offset = 0;
  size_t i = 10;
  if (i < s.size()) {
    if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return false;
    ++i;
    if (!Digits(s, i, 2, h) || i + 2 >= s.size() || s[i + 2] != ':' || !Digits(s, i + 3, 2, mi) ||
        i + 5 >= s.size() || s[i + 5] != ':' || !Digits(s, i + 6, 2, sec)) {
      return false;
    }
    if (h > 23 || mi > 59 || sec > 60) return false;
    i += 8;
    if (i < s.size() && s[i] == '.') {
      size_t j = i + 1;
      while (j < s.size() && s[j] >= '0' && s[j] <= '9') ++j;
      if (j == i + 1) return false;
      i = j;  // fractional seconds are dropped
    }
    if (i < s.size()) {
      if (s[i] == 'Z' || s[i] == 'z') {
        ++i;
      } else if (s[i] == '+' || s[i] == '-') {
        int64_t oh = 0, om = 0;
        if (!Digits(s, i + 1, 2, oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
            !Digits(s, i + 4, 2, om) || oh > 23 || om > 59) {
          return false;
        }
        offset = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
        i += 6;
      } else {
        return false;
      }
    }
    if (i != s.size()) return false;
  }
  epoch = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
  return EpochInRange(epoch);
}

bool EpochInRange(int64_t epoch) { return epoch >= kMinEpoch && epoch <= kMaxEpoch; }

bool FormatDate(int64_t epoch, std::string_view format, size_t max_bytes, std::string& out,
                bool& bad_directive, bool& too_long) {
  static constexpr const char* kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};
  static constexpr const char* kMonths[] = {"January", "February", "March", "April",
                                            "May", "June", "July", "August",
                                            "September", "October", "November", "December"};
  bad_directive = false;
  too_long = false;
  int64_t days = epoch >= 0 ? epoch / 86400 : -((-epoch + 86399) / 86400);
  int64_t secs = epoch - days * 86400;
  int64_t y = 0, m = 0, d = 0;
  CivilFromDays(days, y, m, d);
  const int64_t hh = secs / 3600, mm = secs / 60 % 60, ss = secs % 60;
  const int64_t wday = ((days % 7) + 11) % 7;  // 1970-01-01 was a Thursday (4)
  const int64_t yday = days - DaysFromCivil(y, 1, 1) + 1;
  char buf[32];
  auto num = [&](int64_t v, int width, char fill) {
    int n = std::snprintf(buf, sizeof buf, fill == '0' ? "%0*lld" : "%*lld", width,
                          static_cast<long long>(v));
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  };
  for (size_t i = 0; i < format.size(); ++i) {
    if (out.size() > max_bytes) {
      too_long = true;
      return false;
    }
    char c = format[i];
    if (c != '%') {
      out += c;
      continue;
    }
    if (i + 1 >= format.size()) {
      bad_directive = true;
      return false;
    }
    char f = format[++i];
    switch (f) {
      case 'Y': num(y, 4, '0'); break;
      case 'y': num(y % 100, 2, '0'); break;
      case 'm': num(m, 2, '0'); break;
      case 'd': num(d, 2, '0'); break;
      case 'e': num(d, 2, ' '); break;
      case 'j': num(yday, 3, '0'); break;
      case 'H': num(hh, 2, '0'); break;
      case 'M': num(mm, 2, '0'); break;
      case 'S': num(ss, 2, '0'); break;
      case 'a': out.append(kDays[wday], 3); break;
      case 'A': out += kDays[wday]; break;
      case 'b': out.append(kMonths[m - 1], 3); break;
      case 'B': out += kMonths[m - 1]; break;
      case 'F':
        num(y, 4, '0');
        out += '-';
        num(m, 2, '0');
        out += '-';
        num(d, 2, '0');
        break;
      case 'T':
        num(hh, 2, '0');
        out += ':';
        num(mm, 2, '0');
        out += ':';
        num(ss, 2, '0');
        break;
      case 's': num(epoch, 1, '0'); break;
      case 'z': out += "+0000"; break;
      case 'Z': out += "UTC"; break;
      case '%': out += '%'; break;
      default: bad_directive = true; return false;
    }
  }
  if (out.size() > max_bytes) {
    too_long = true;
    return false;
  }
  return true;
}

}  // namespace rampart::expr::internal
