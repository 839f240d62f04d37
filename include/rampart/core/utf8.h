// UTF-8 decoding of one sequence, for the places that check or scrub text byte by byte.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace rampart {

// The length of the well-formed UTF-8 sequence at `s[i]` (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), with its code point in `*cp` when given; 0 when the
// bytes there are not one (a stray continuation byte, a bad lead, a truncated sequence).
inline size_t Utf8Decode(std::string_view s, size_t i, uint32_t* cp = nullptr) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) {
    if (cp) *cp = c;
    return 1;
  }
  size_t n = 0;
  uint32_t code = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    code = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    code = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    code = c & 0x07;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 1; k < n; ++k) {
    if (b(k) < 0x80 || b(k) > 0xBF) return 0;
    code = (code << 6) | (b(k) & 0x3F);
  }
  if (cp) *cp = code;
  return n;
}

}  // namespace rampart
