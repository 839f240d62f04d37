#include "rampart/core/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart {
namespace {

TEST(Utf8DecodeTest, WellFormedSequencesGiveTheirLengthAndCodePoint) {
  struct Case {
    std::string text;
    size_t length;
    uint32_t cp;
  };
  for (const Case& c : {Case{"A", 1, 0x41}, Case{std::string(1, '\0'), 1, 0},
                        Case{"\x7F", 1, 0x7F}, Case{"\xC2\x80", 2, 0x80}, Case{"\xC3\xA9", 2, 0xE9},
                        Case{"\xDF\xBF", 2, 0x7FF}, Case{"\xE0\xA0\x80", 3, 0x800},
                        Case{"\xED\x9F\xBF", 3, 0xD7FF}, Case{"\xEE\x80\x80", 3, 0xE000},
                        Case{"\xEF\xBF\xBF", 3, 0xFFFF}, Case{"\xF0\x90\x80\x80", 4, 0x10000},
                        Case{"\xF4\x8F\xBF\xBF", 4, 0x10FFFF}}) {
    uint32_t cp = 0xFFFFFFFF;
    EXPECT_EQ(Utf8Decode(c.text, 0, &cp), c.length) << c.text;
    EXPECT_EQ(cp, c.cp) << c.text;
    EXPECT_EQ(Utf8Decode(c.text + "tail", 0), c.length);
  }
  // At an offset inside a longer string.
  EXPECT_EQ(Utf8Decode("ab\xE2\x82\xAC", 2), 3u);
}

TEST(Utf8DecodeTest, MalformedSequencesAreZero) {
  for (const std::string& bad : {
           std::string("\x80"),              // a stray continuation byte
           std::string("\xBF"),
           std::string("\xC0\x80"),          // overlong forms
           std::string("\xC1\xBF"),
           std::string("\xE0\x9F\xBF"),
           std::string("\xF0\x8F\xBF\xBF"),
           std::string("\xED\xA0\x80"),      // surrogates
           std::string("\xED\xBF\xBF"),
           std::string("\xF4\x90\x80\x80"),  // above U+10FFFF
           std::string("\xF5\x80\x80\x80"),
           std::string("\xF8\x88\x80\x80\x80"),
           std::string("\xFF"),
           std::string("\xC3"),              // truncated
           std::string("\xE2\x82"),
           std::string("\xF0\x9F\x98"),
           std::string("\xC3\x41"),          // a lead without its continuation
           std::string("\xE2\x82\x41"),
       }) {
    EXPECT_EQ(Utf8Decode(bad, 0), 0u) << testing::PrintToString(bad);
  }
}

}  // namespace
}  // namespace rampart
