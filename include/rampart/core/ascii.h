// ASCII text helpers for protocol tokens (header names, host names, schemes), where
// case-insensitivity is defined for ASCII only and locale must not matter.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace rampart {

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// `s` with A-Z lowered, every other byte as it is (emails, header names, media types).
inline std::string AsciiLowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace rampart
