#include "schema/formats.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>
#include <random>
#include <string>

#include "schema/ecma_regex.h"
#include "schema/uri.h"

namespace rampart::schema::internal {
namespace {

TEST(FormatsTest, DateTime) {
  EXPECT_TRUE(CheckFormat(FormatKind::kDateTime, "2024-02-29T23:59:60Z"));
  EXPECT_TRUE(CheckFormat(FormatKind::kDateTime, "1998-12-31T15:59:60.123-08:00"));
  EXPECT_FALSE(CheckFormat(FormatKind::kDateTime, "2023-02-29T00:00:00Z"));
  EXPECT_FALSE(CheckFormat(FormatKind::kDateTime, "2023-01-01T00:00:00"));
  EXPECT_FALSE(CheckFormat(FormatKind::kDateTime, "2023-01-01T00:00:00Z\n"));
}

TEST(FormatsTest, Network) {
  EXPECT_TRUE(CheckFormat(FormatKind::kIpv4, "192.168.0.1"));
  EXPECT_FALSE(CheckFormat(FormatKind::kIpv4, "192.168.0.01"));
  EXPECT_TRUE(CheckFormat(FormatKind::kIpv6, "::1"));
  EXPECT_TRUE(CheckFormat(FormatKind::kIpv6, "1:2:3:4:5:6:1.2.3.4"));
  EXPECT_FALSE(CheckFormat(FormatKind::kIpv6, "1::2::3"));
  EXPECT_TRUE(CheckFormat(FormatKind::kHostname, "www.example.com"));
  EXPECT_FALSE(CheckFormat(FormatKind::kHostname, "-bad.example.com"));
  EXPECT_TRUE(CheckFormat(FormatKind::kEmail, "joe.bloggs@example.com"));
  EXPECT_FALSE(CheckFormat(FormatKind::kEmail, "joe..bloggs@example.com"));
  EXPECT_TRUE(CheckFormat(FormatKind::kUri, "https://example.com/a?b#c"));
  EXPECT_FALSE(CheckFormat(FormatKind::kUri, "//example.com/a"));
  EXPECT_TRUE(CheckFormat(FormatKind::kUriReference, "//example.com/a"));
  EXPECT_TRUE(CheckFormat(FormatKind::kUuid, "2eb8aa08-aa98-11ea-b4aa-73b441d16380"));
}

TEST(EcmaRegexTest, Translation) {
  EXPECT_EQ(TranslateEcmaRegex("a(?=b)").status, RegexStatus::kUnsupported);
  EXPECT_EQ(TranslateEcmaRegex("(a)\\1").status, RegexStatus::kUnsupported);
  EXPECT_EQ(TranslateEcmaRegex("^(abc]").status, RegexStatus::kInvalid);
  EXPECT_EQ(TranslateEcmaRegex("\\a").status, RegexStatus::kInvalid);
  EXPECT_EQ(TranslateEcmaRegex("(?i)a").status, RegexStatus::kInvalid);
  EXPECT_EQ(TranslateEcmaRegex("^\\d+\\s\\p{L}$").status, RegexStatus::kOk);
  EXPECT_EQ(TranslateEcmaRegex("[]").status, RegexStatus::kOk);
}

// The direct matcher for simple patterns must agree with RE2 on every input.
TEST(EcmaRegexTest, SimplePatternsAgreeWithRe2) {
  const char* simple[] = {
      "^[A-Z]{3}-[0-9]{4}$", "^[a-z0-9-]+$", "^[0-9]{5}$", "^[0-9]+\\.[0-9]+\\.[0-9]+$",
      "^[A-Za-z][A-Za-z0-9 _-]*$", "^\\d{2,4}[a-c]?x", "^[\\w.-]+@", "^a?b*c{0,2}d$", "^-?[0-9]+$",
  };
  const char* not_simple[] = {"^[0-9]+[0-9]$", "^a*a$", "[a-z]+", "^(ab)+$", "^a|b$", "^.*$",
                              "^[^a]+$", "^a+?$", "^\\s+$", "^a*b?a$"};
  for (const char* p : not_simple) {
    SimplePattern sp;
    EXPECT_FALSE(BuildSimplePattern(p, &sp)) << p;
  }
  std::mt19937 rng(12345);
  const std::string alphabet = "abcdxyzABCXZ0123456789-._ @\xc3\xa9\n";
  for (const char* p : simple) {
    SimplePattern sp;
    ASSERT_TRUE(BuildSimplePattern(p, &sp)) << p;
    RegexTranslation t = TranslateEcmaRegex(p);
    ASSERT_EQ(t.status, RegexStatus::kOk) << p;
    RE2 re(t.re2);
    ASSERT_TRUE(re.ok()) << p;
    for (int i = 0; i < 20000; ++i) {
      std::string text;
      if (i % 2 == 0) {
        size_t len = rng() % 12;
        for (size_t j = 0; j < len; ++j) text += alphabet[rng() % alphabet.size()];
      } else {
        // Near-matches: generated from the items, then maybe mutated.
        for (const auto& item : sp.items) {
          uint32_t top = item.max == UINT32_MAX ? item.min + 3 : std::min(item.max + 1, item.min + 3);
          uint32_t count = item.min + static_cast<uint32_t>(rng() % (top - item.min + 1));
          std::string members;
          for (size_t c = 0; c < 128; ++c) {
            if (item.chars[c]) members += static_cast<char>(c);
          }
          for (uint32_t j = 0; j < count; ++j) text += members[rng() % members.size()];
        }
        if (rng() % 3 == 0 && !text.empty()) text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
        if (rng() % 5 == 0) text += alphabet[rng() % alphabet.size()];
      }
      EXPECT_EQ(MatchSimplePattern(sp, text), RE2::PartialMatch(text, re)) << p << " on '" << text << "'";
    }
  }
}

TEST(UriTest, Resolve) {
  EXPECT_EQ(ResolveUri("http://a/b/c/d;p?q", "../g"), "http://a/b/g");
  EXPECT_EQ(ResolveUri("http://a/b/c/d;p?q", "#f"), "http://a/b/c/d;p?q#f");
  EXPECT_EQ(ResolveUri("http://a/b/c/d;p?q", "//g"), "http://g");
  EXPECT_EQ(ResolveUri("urn:uuid:1234", "#foo"), "urn:uuid:1234#foo");
  EXPECT_EQ(ResolveUri("http://x/y/", "z.json"), "http://x/y/z.json");
}

}  // namespace
}  // namespace rampart::schema::internal
