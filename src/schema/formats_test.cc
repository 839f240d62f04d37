#include "schema/formats.h"

#include <gtest/gtest.h>

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

TEST(UriTest, Resolve) {
  EXPECT_EQ(ResolveUri("http://a/b/c/d;p?q", "../g"), "http://a/b/g");
  EXPECT_EQ(ResolveUri("http://a/b/c/d;p?q", "#f"), "http://a/b/c/d;p?q#f");
  EXPECT_EQ(ResolveUri("http://a/b/c/d;p?q", "//g"), "http://g");
  EXPECT_EQ(ResolveUri("urn:uuid:1234", "#foo"), "urn:uuid:1234#foo");
  EXPECT_EQ(ResolveUri("http://x/y/", "z.json"), "http://x/y/z.json");
}

}  // namespace
}  // namespace rampart::schema::internal
