#include "rampart/core/json.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <limits>
#include <random>
#include <vector>
#include <string>

namespace rampart::json {
namespace {

TEST(JsonParseTest, ParsesValidDocument) {
  auto v = Parse(R"({"a": [1, 2.5, "x", null, true]})");
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ(Serialize(*v), R"({"a":[1,2.5,"x",null,true]})");
}

TEST(JsonParseTest, RejectsTrailingGarbage) {
  auto v = Parse(R"({"a": 1} x)");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument);
}

TEST(JsonParseTest, RejectsMalformed) {
  for (const char* text : {"", "{", "[1,]", "{'a':1}", "nul", "\"\\x\""}) {
    auto v = Parse(text);
    EXPECT_FALSE(v.ok()) << text;
  }
}

TEST(JsonParseTest, DeepNestingIsALimitNotACrash) {
  std::string deep(100000, '[');
  auto v = Parse(deep, {.max_bytes = 1 << 20, .max_depth = 64});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kLimitExceeded);
}

TEST(JsonParseTest, OversizedInputIsALimit) {
  std::string big = "\"" + std::string(2000, 'a') + "\"";
  auto v = Parse(big, {.max_bytes = 1000, .max_depth = 8});
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kLimitExceeded);
}

TEST(JsonParseTest, NumbersBeyondADoubleAreRefusedNotInfinity) {
  // Read as +-infinity they would serialize as null: the value a schema checked would not
  // be the value stored, shown or sent on.
  for (const char* text : {"1e400", "-1e400", R"({"amount": 1e309})", "[1, 2E+99999]"}) {
    auto v = Parse(text);
    ASSERT_FALSE(v.ok()) << text;
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(v.error().message.find("number out of range"), std::string::npos) << v.error().message;
  }
  // Big but finite numbers, and underflow to zero, stay numbers.
  for (const char* text : {"1e308", "-1.7976931348623157e308", "1e-400", "18446744073709551616"}) {
    auto v = Parse(text);
    ASSERT_TRUE(v.ok()) << text;
    EXPECT_TRUE(v->is_number()) << text;
  }
}

// A number reads as the double nearest its text (what strtod and from_chars give), so
// what Rampart stores and reads again keeps its value: boost::json 1.81 alone rounds some
// long numbers one unit in the last place off, and their shortest form then read back as
// yet another double (found by fuzz/json_fuzz.cc).
TEST(JsonParseTest, NumbersReadAsTheNearestDouble) {
  std::mt19937_64 rng(20261207);
  std::vector<std::string> texts = {"123456789012345678901290", "1.2345678901234567e+23",
                                    "0.1",  "2.2250738585072014e-308", "4.9e-324",
                                    "-9007199254740993.5", "1.7976931348623157e308",
                                    "7.0e-10", "123456789.123456789e-5"};
  for (int i = 0; i < 20000; ++i) {
    // 17-25 significant digits with an exponent: the inputs a fast path gets wrong.
    std::string t = std::to_string(rng() % 9 + 1);
    const int digits = 16 + static_cast<int>(rng() % 9);
    for (int d = 0; d < digits; ++d) t += static_cast<char>('0' + rng() % 10);
    if (rng() % 2 != 0) t.insert(1 + rng() % (t.size() - 1), ".");
    t += "e" + std::to_string(static_cast<int>(rng() % 560) - 280);  // within a double's range
    texts.push_back(std::move(t));
  }
  for (const std::string& text : texts) {
    auto v = Parse(text);
    ASSERT_TRUE(v.ok()) << text;
    ASSERT_TRUE(v->is_double()) << text;
    EXPECT_EQ(v->get_double(), std::strtod(text.c_str(), nullptr)) << text;
    // And what is written back reads as the same double.
    auto again = Parse(Serialize(*v));
    ASSERT_TRUE(again.ok()) << text;
    EXPECT_EQ(again->to_number<double>(), v->get_double()) << text << " -> " << Serialize(*v);
  }
}

TEST(JsonParseTest, DuplicateKeysLastWinsOnlyWhenAsked) {
  auto v = Parse(R"({"a": 1, "a": 2})", {.reject_duplicate_keys = false});
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(Serialize(*v), R"({"a":2})");
}

TEST(JsonParseTest, RejectsInvalidUtf8AndLoneSurrogates) {
  for (const char* text : {"\"\xff\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"", R"(["\ud800"])",
                           R"(["\udc00x"])", R"({"\ud800": 1})"}) {
    EXPECT_FALSE(Parse(text).ok()) << text;
  }
  EXPECT_TRUE(Parse(R"(["\ud83d\ude00"])").ok()) << "a surrogate pair";
}

TEST(JsonParseTest, RejectsDuplicateKeysByDefault) {
  const ParseLimits strict{};
  struct Case {
    const char* text;
    const char* pointer;
  };
  for (const Case& c : {Case{R"({"a": 1, "a": 2})", "/a"},
                        Case{R"({"s": [{"x": 1}, {"id": 1, "t": {}, "id": 2}]})", "/s/1/id"},
                        Case{R"({"s": [[], {"k": [1, {"a~/b": 0, "a~/b": 1}]}]})", "/s/1/k/1/a~0~1b"},
                        Case{R"({"\u0061": 1, "a": 2})", "/a"}}) {
    auto v = Parse(c.text, strict);
    ASSERT_FALSE(v.ok()) << c.text;
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(v.error().message.find(std::string("at ") + c.pointer), std::string::npos)
        << c.text << " -> " << v.error().message;
  }
  // The same key in different objects, and equal values, are not duplicates.
  auto ok = Parse(R"({"a": {"a": 1}, "b": [{"a": 1}, {"a": 1}], "c": "a"})", strict);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(Serialize(*ok), R"({"a":{"a":1},"b":[{"a":1},{"a":1}],"c":"a"})");
  // The other checks still apply.
  for (const char* text : {"", "{", "[1,]", "{'a':1}", "nul", "\"\\x\"", R"({"a": 1} x)"}) {
    EXPECT_FALSE(Parse(text, strict).ok()) << text;
  }
  EXPECT_EQ(Parse(std::string(100000, '['), strict).error().code, ErrorCode::kLimitExceeded);
  // The message is bounded whatever the document: a duplicate under long keys names an
  // excerpt of its pointer, not the keys whole (an API error would echo up to 1 MiB).
  const std::string long_key(100000, 'k');
  auto deep = Parse("{\"" + long_key + "\": [{\"" + long_key + "\": 1, \"" + long_key + "\": 2}]}",
                    strict);
  ASSERT_FALSE(deep.ok());
  EXPECT_LE(deep.error().message.size(), 512u) << deep.error().message.size();
  EXPECT_EQ(deep.error().message.rfind("duplicate key 'kkk", 0), 0u) << deep.error().message;
  EXPECT_NE(deep.error().message.find(" at /kkk"), std::string::npos);
}

TEST(JsonSizeTest, MatchesSerializedLength) {
  for (const char* text : {R"({"a":[1,2,"x\n\"",{"b":null}],"c":true,"d":-1.5})", "[]", "{}",
                           R"("\u0001")", "12345678901234", "-9223372036854775808", "18446744073709551615",
                           "0", "-1", "1e300", "-2.5e-7", "[1.0, 100, -100]"}) {
    auto v = Parse(text);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(SerializedSizeAtMost(*v, 1 << 20), Serialize(*v).size()) << text;
  }
}

TEST(JsonSerializeTest, NumbersReadAsAPersonWritesThem) {
  EXPECT_EQ(Serialize(boost::json::value(99.0)), "99");
  EXPECT_EQ(Serialize(boost::json::value(0.051)), "0.051");
  EXPECT_EQ(Serialize(boost::json::value(-2.5e-7)), "-2.5e-07");
  EXPECT_EQ(Serialize(boost::json::value(1e21)), "1e+21");
  EXPECT_EQ(Serialize(boost::json::value(std::numeric_limits<double>::infinity())), "null");
  EXPECT_EQ(Serialize(boost::json::value(INT64_MIN)), "-9223372036854775808");
}

TEST(JsonSerializeTest, EscapesLikeJson) {
  boost::json::value v = boost::json::string("q\"b\\n\nt\tc\x01\x1f\xc3\xa9");
  std::string s = Serialize(v);
  EXPECT_EQ(s, "\"q\\\"b\\\\n\\nt\\tc\\u0001\\u001f\xc3\xa9\"");
  auto back = Parse(s);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, v);
}

// Every ASCII byte, alone and between text, comes back from Boost.JSON's parser (an
// independent reader) as itself; the two-letter escapes are used where JSON has them.
TEST(JsonSerializeTest, EveryAsciiByteRoundTrips) {
  for (int c = 0; c < 128; ++c) {
    const std::string text = "a" + std::string(1, static_cast<char>(c)) + "b";
    const std::string out = Serialize(boost::json::value(boost::json::string(text)));
    EXPECT_EQ(boost::json::parse(out), boost::json::value(boost::json::string(text))) << c;
    if (c < 0x20) {
      EXPECT_EQ(out.find(static_cast<char>(c)), std::string::npos) << c;
    }
  }
  EXPECT_EQ(Serialize(boost::json::value("\b\f\r")), "\"\\b\\f\\r\"");
}

// The object and array overloads write what the value overload writes.
TEST(JsonSerializeTest, ObjectAndArrayOverloadsMatchTheValueForm) {
  auto parsed = Parse(R"({"b":[1,2.5,"x",{"c":null}],"a":{"d":true,"e":"q\""}})");
  ASSERT_TRUE(parsed.ok());
  const boost::json::object& o = parsed->get_object();
  EXPECT_EQ(Serialize(o), Serialize(*parsed));
  EXPECT_EQ(Serialize(o.at("b").get_array()), Serialize(o.at("b")));
  std::string appended = "x";
  AppendSerialized(appended, o.at("a").get_object());
  EXPECT_EQ(appended, "x" + Serialize(o.at("a")));
}

TEST(JsonSizeTest, BoundIsExactWithoutDoublesAndNeverBelow) {
  for (const char* text : {R"({"a":[1,2,"x\n\"",{"b\u0001":null}],"c":true})", "[]", "{}",
                           "-9223372036854775808", "18446744073709551615", R"(["\u00e9", 0])"}) {
    auto v = Parse(text);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(SerializedSizeBoundAtMost(*v, 1 << 20), Serialize(*v).size()) << text;
  }
  for (const char* text : {"-2.2250738585072014e-308", "1e300", "[0.5, 2.5, -1.5]", R"({"d":1.25})"}) {
    auto v = Parse(text);
    ASSERT_TRUE(v.ok());
    const size_t bound = SerializedSizeBoundAtMost(*v, 1 << 20);
    EXPECT_GE(bound, Serialize(*v).size()) << text;
    EXPECT_LE(bound, Serialize(*v).size() + 3 * 24) << text;
  }
  boost::json::array a;
  for (int i = 0; i < 1000; ++i) a.emplace_back(0.5);
  EXPECT_EQ(SerializedSizeBoundAtMost(boost::json::value(a), 100), 101u);
}

TEST(JsonSizeTest, StopsAtCap) {
  boost::json::array a;
  for (int i = 0; i < 1000; ++i) a.emplace_back("0123456789");
  EXPECT_EQ(SerializedSizeAtMost(boost::json::value(a), 100), 101u);
}

TEST(JsonPointerTest, EscapesTokens) {
  EXPECT_EQ(PointerEscape("a/b~c"), "a~1b~0c");
  EXPECT_EQ(PointerAppend(PointerAppend("", "steps"), 2), "/steps/2");
}

TEST(JsonExcerptTest, CutsOnCodePointBoundary) {
  EXPECT_EQ(Excerpt("abc", 5), "abc");
  EXPECT_EQ(Excerpt("abcdef", 3), "abc...");
  EXPECT_EQ(Excerpt("\xC3\xA9\xC3\xA9\xC3\xA9", 2), "\xC3\xA9\xC3\xA9...");
}

}  // namespace
}  // namespace rampart::json
