#include <gtest/gtest.h>

#include <string>

#include "expr/expr_test_util.h"
#include "expr/text_codec.h"

namespace rampart::expr {
namespace {

using FilterTest = ExprTest;

TEST_F(FilterTest, Text) {
  EXPECT_TRUE(Is("inputs.name | upper", "\"ADA LOVELACE\""));
  EXPECT_TRUE(Is("inputs.name | lower", "\"ada lovelace\""));
  EXPECT_TRUE(Is("'éa' | upper", "\"ÉA\"")) << "Unicode case mapping, not only ASCII";
  EXPECT_TRUE(Is("'  x y \\n\\t' | trim", "\"x y\""));
  EXPECT_TRUE(Is("'   ' | trim", "\"\""));
  EXPECT_TRUE(Is("'héllo' | length", "5")) << "code points";
  EXPECT_TRUE(Is("inputs.tags | length", "3"));
  EXPECT_TRUE(Is("inputs.obj | length", "2"));
  EXPECT_TRUE(Is("'a-b-c' | replace('-', '+')", "\"a+b+c\""));
  EXPECT_TRUE(Is("'aaa' | replace('a', 'bb')", "\"bbbbbb\""));
  EXPECT_TRUE(Is("'aaa' | replace('aa', '')", "\"a\""));
  EXPECT_TRUE(Is("'abc' | replace('', 'x')", "\"abc\""));
  EXPECT_TRUE(Is("'a,b,,c' | split(',')", R"(["a","b","","c"])"));
  EXPECT_TRUE(Is("'' | split(',')", R"([""])"));
  EXPECT_TRUE(Is("'hé!' | split('')", R"(["h","é","!"])"));
  EXPECT_TRUE(Is("'a::b' | split('::')", R"(["a","b"])"));
  EXPECT_TRUE(Is("inputs.tags | join(', ')", "\"a, b, c\""));
  EXPECT_TRUE(Is("inputs.tags | join", "\"abc\""));
  EXPECT_TRUE(Is("[1, 'a', null, true, [2]] | join('|')", "\"1|a|null|true|[2]\""));
  EXPECT_TRUE(Is("[] | join(',')", "\"\""));
  EXPECT_TRUE(Is("inputs.name | starts_with('Ada')", "true"));
  EXPECT_TRUE(Is("inputs.name | starts_with('ada')", "false"));
  EXPECT_TRUE(Is("inputs.name | ends_with('lace')", "true"));
  EXPECT_TRUE(Is("'a' | ends_with('abc')", "false"));
  EXPECT_TRUE(Is("inputs.name | contains('Love')", "true"));
  EXPECT_TRUE(Is("inputs.tags | contains('c')", "true"));
  EXPECT_TRUE(Is("inputs.obj | contains('k2')", "true"));
  EXPECT_TRUE(Is("inputs.missing | contains('k2')", "false"));
  EXPECT_TRUE(Is("'hello' | slice(1, 3)", "\"el\""));
  EXPECT_TRUE(Is("'hello' | slice(-3)", "\"llo\""));
  EXPECT_TRUE(Is("'hello' | slice(1, -1)", "\"ell\""));
  EXPECT_TRUE(Is("'hello' | slice(3, 1)", "\"\""));
  EXPECT_TRUE(Is("'hello' | slice(0, 100)", "\"hello\""));
  EXPECT_TRUE(Is("'héllo' | slice(1, 2)", "\"é\"")) << "never splits UTF-8";
  EXPECT_TRUE(Is("'hello' | slice(2, null)", "\"llo\""));
  EXPECT_TRUE(Is("[1, 2, 3, 4] | slice(1, 3)", "[2,3]"));
  EXPECT_TRUE(Is("[1, 2, 3, 4] | slice(-2)", "[3,4]"));
  EXPECT_TRUE(Is("inputs.status | matches('^act')", "true"));
  EXPECT_TRUE(Is("inputs.status | matches('ive$')", "true"));
  EXPECT_TRUE(Is("inputs.status | matches('^ive')", "false"));
  EXPECT_TRUE(Is("'a1b2' | matches('[0-9]+')", "true"));
  EXPECT_TRUE(Is("'abc' | matches(inputs.tags[0])", "true")) << "dynamic pattern";
  EXPECT_TRUE(Is("'a b&c=d/é' | url_encode", "\"a%20b%26c%3Dd%2F%C3%A9\""));
  EXPECT_TRUE(Is("'-_.~' | url_encode", "\"-_.~\""));
  EXPECT_TRUE(Is("'hello' | base64_encode", "\"aGVsbG8=\""));
  EXPECT_TRUE(Is("'' | base64_encode", "\"\""));
  EXPECT_TRUE(Is("'aGVsbG8=' | base64_decode", "\"hello\""));
  EXPECT_TRUE(Is("'aGVsbG8' | base64_decode", "\"hello\""));
  EXPECT_TRUE(Is("'PDw_Pj4' | base64_decode", "\"<<?>>\"")) << "URL-safe alphabet";
  EXPECT_TRUE(Is("'abc' | sha256",
                 "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""));
}

TEST_F(FilterTest, TextErrors) {
  EXPECT_TRUE(Fails("1 | upper", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("null | lower", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[] | trim", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1 | length", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("null | length", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' | replace(1, 'b')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' | replace('a', 1)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' | split(1)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' | join(',')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[] | join(1)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1 | starts_with('1')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'1' | ends_with(1)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' | contains(1)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' | slice('1')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' | slice(0.5)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("{} | slice(0)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1 | matches('1')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'1' | matches(1)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1 | url_encode", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1 | base64_encode", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'***' | base64_decode", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' | base64_decode", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'/w==' | base64_decode", ErrorCode::kTypeError)) << "0xFF is not UTF-8";
  EXPECT_TRUE(Fails("null | sha256", ErrorCode::kTypeError));
}

TEST_F(FilterTest, Regex) {
  auto bad = Expression::Compile("'a' | matches('(')");
  ASSERT_FALSE(bad.ok());
  // A literal pattern compiles with the expression: a bad one means the expression does
  // not compile (spec/expressions.md: invalid_expression).
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidExpression) << "literal patterns compile once, up front";
  auto too_long = Expression::Compile("'a' | matches('" + std::string(257, 'a') + "')");
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.error().code, ErrorCode::kExpressionLimit);
  EXPECT_TRUE(Expression::Compile("'a' | matches('" + std::string(256, 'a') + "')").ok());
  EXPECT_TRUE(Fails("'a' | matches(inputs.status + '(')", ErrorCode::kInvalidRegex));
  EXPECT_TRUE(Fails("'a' | matches(inputs.name | replace('A', '" + std::string(300, 'x') + "'))",
                    ErrorCode::kExpressionLimit));
  // RE2 has no backreferences or lookaround; a pattern that needs them is invalid.
  EXPECT_TRUE(Fails("'aa' | matches('(a)\\\\1')", ErrorCode::kInvalidExpression));
  EXPECT_TRUE(Fails("'a' | matches('(?=a)')", ErrorCode::kInvalidExpression));
  // Catastrophic-backtracking classics are linear in RE2.
  EXPECT_TRUE(Is("'" + std::string(3000, 'a') + "!' | matches('^(a+)+$')", "false"));
  EXPECT_TRUE(Fails("'a' | matches('((a{100}){100}){100}')", ErrorCode::kInvalidExpression));
}

TEST_F(FilterTest, Numbers) {
  EXPECT_TRUE(Is("(-3) | abs", "3"));
  EXPECT_TRUE(Is("(-2.5) | abs", "2.5"));
  EXPECT_TRUE(Is("(-9223372036854775807 - 1) | abs", "9.223372036854775808e18"));
  EXPECT_TRUE(Is("2.5 | round", "3"));
  EXPECT_TRUE(Is("(-2.5) | round", "-3"));
  EXPECT_TRUE(Is("2.4 | round", "2"));
  EXPECT_TRUE(Is("3.14159 | round(2)", "3.14"));
  EXPECT_TRUE(Is("1234 | round(-2)", "1200"));
  EXPECT_TRUE(Is("7 | round(2)", "7"));
  EXPECT_TRUE(Is("2.7 | floor", "2"));
  EXPECT_TRUE(Is("(-2.1) | floor", "-3"));
  EXPECT_TRUE(Is("2.1 | ceil", "3"));
  EXPECT_TRUE(Is("5 | ceil", "5"));
  EXPECT_TRUE(Is("1e300 | floor", "1e300"));
  EXPECT_TRUE(Is("3.9 | int", "3"));
  EXPECT_TRUE(Is("(-3.9) | int", "-3"));
  EXPECT_TRUE(Is("'42' | int", "42"));
  EXPECT_TRUE(Is("' -7 ' | int", "-7"));
  EXPECT_TRUE(Is("'4.7' | int", "4"));
  EXPECT_TRUE(Is("true | int", "1"));
  EXPECT_TRUE(Is("3 | float", "3.0"));
  EXPECT_TRUE(Is("'2.5' | float", "2.5"));
  EXPECT_TRUE(Is("'1e3' | float", "1000.0"));
  EXPECT_TRUE(Is("false | float", "0.0"));
  EXPECT_TRUE(Is("inputs.nums | min", "1"));
  EXPECT_TRUE(Is("inputs.nums | max", "3"));
  EXPECT_TRUE(Is("[2, 1.5] | min", "1.5"));
  EXPECT_TRUE(Is("inputs.words | min", "\"a\""));
  EXPECT_TRUE(Is("[] | max", "null"));
  EXPECT_TRUE(Is("inputs.nums | sum", "6"));
  EXPECT_TRUE(Is("[1, 2.5] | sum", "3.5"));
  EXPECT_TRUE(Is("[] | sum", "0"));
  EXPECT_TRUE(Is("[9223372036854775807, 1] | sum", "9.223372036854775808e18"));
}

TEST_F(FilterTest, NumberErrors) {
  EXPECT_TRUE(Fails("'1' | abs", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("null | round", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1.5 | round('1')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1.5 | round(99)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'x' | floor", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'x' | int", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'12abc' | int", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'' | int", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'nan' | float", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'inf' | float", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'1e999' | float", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1e300 | int", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[] | int", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[1, 'a'] | min", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[true] | max", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("{} | max", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[1, '2'] | sum", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[1e308, 1e308] | sum", ErrorCode::kExpressionLimit));
}

TEST_F(FilterTest, Conversion) {
  EXPECT_TRUE(Is("1 | string", "\"1\""));
  EXPECT_TRUE(Is("2.5 | string", "\"2.5\""));
  EXPECT_TRUE(Is("'x' | string", "\"x\""));
  EXPECT_TRUE(Is("null | string", "\"null\""));
  EXPECT_TRUE(Is("[1, 'a'] | string", R"("[1,\"a\"]")"));
  EXPECT_TRUE(Is("'x' | json", R"("\"x\"")"));
  EXPECT_TRUE(Is("inputs.obj | json", R"("{\"k\":\"v\",\"k2\":2}")"));
  EXPECT_TRUE(Is("'{\"a\": [1, 2.5]}' | from_json", R"({"a":[1,2.5]})"));
  EXPECT_TRUE(Is("'\"{{ secrets.x }}\"' | from_json", R"("{{ secrets.x }}")"));
  EXPECT_TRUE(Is("inputs.obj | json | from_json == inputs.obj", "true"));
  EXPECT_TRUE(Fails("'{' | from_json", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'1 2' | from_json", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1 | from_json", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'" + std::string(65, '[') + "' | from_json", ErrorCode::kExpressionLimit));
  EXPECT_TRUE(Is("'' | bool", "false"));
  EXPECT_TRUE(Is("'false' | bool", "true")) << "truthiness, not parsing";
  EXPECT_TRUE(Is("[0] | bool", "true"));
  EXPECT_TRUE(Is("null | default(5)", "5"));
  EXPECT_TRUE(Is("0 | default(5)", "0")) << "only null is replaced";
  EXPECT_TRUE(Is("false | default(5)", "false"));
  EXPECT_TRUE(Is("inputs.missing | default(inputs.missing) | default('z')", "\"z\""));
  EXPECT_TRUE(Is("1 | default(1 / 0)", "1")) << "the fallback is evaluated lazily";
}

TEST_F(FilterTest, Collections) {
  EXPECT_TRUE(Is("inputs.obj | keys", R"(["k","k2"])"));
  EXPECT_TRUE(Is("inputs.obj | values", R"(["v",2])"));
  EXPECT_TRUE(Is("inputs.tags | first", "\"a\""));
  EXPECT_TRUE(Is("inputs.tags | last", "\"c\""));
  EXPECT_TRUE(Is("[] | first", "null"));
  EXPECT_TRUE(Is("'héllo' | first", "\"h\""));
  EXPECT_TRUE(Is("'hellé' | last", "\"é\""));
  EXPECT_TRUE(Is("'' | last", "null"));
  EXPECT_TRUE(Is("[[1, 2], 3] | first | last", "2"));
  EXPECT_TRUE(Is("inputs.nums | sort", "[1,2,3]"));
  EXPECT_TRUE(Is("inputs.words | sort", R"(["a","b","c"])"));
  EXPECT_TRUE(Is("[2, 1.5, -1] | sort", "[-1,1.5,2]"));
  EXPECT_TRUE(Is("[] | sort", "[]"));
  EXPECT_TRUE(Is("[1, 1.0, 2, 'a', 'a', [1], [1.0], {a: 1}, {a: 1}, null, null] | unique",
                 R"([1,2,"a",[1],{"a":1},null])"));
  EXPECT_TRUE(Is("inputs.nums | reverse", "[2,1,3]"));
  EXPECT_TRUE(Is("'abé' | reverse", "\"éba\""));
  EXPECT_TRUE(Is("inputs.items | map('id')", "[1,2,3]"));
  EXPECT_TRUE(Is("[{a: 1}, {}, null] | map('a')", "[1,null,null]"));
  EXPECT_TRUE(Is("inputs.items | select('kind', 'x') | map('id')", "[1,3]"));
  EXPECT_TRUE(Is("inputs.items | select('id', 2.0)", R"([{"id":2,"kind":"y"}])"));
  EXPECT_TRUE(Is("inputs.items | select('nope', null) | length", "3"));
  EXPECT_TRUE(Is("[[1, 2], 3, [[4]], []] | flatten", "[1,2,3,[4]]"));
  EXPECT_TRUE(Is("inputs.obj | items", R"([{"key":"k","value":"v"},{"key":"k2","value":2}])"));
  EXPECT_TRUE(Is("{} | items", "[]"));
}

TEST_F(FilterTest, CollectionErrors) {
  EXPECT_TRUE(Fails("[] | keys", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' | values", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1 | first", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("{} | last", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[1, 'a'] | sort", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[{}] | sort", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[null, null] | sort", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' | sort", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("{} | unique", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1 | reverse", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[1] | map('a')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[{}] | map(1)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("{} | map('a')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("['x'] | select('a', 1)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[] | select(1, 1)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("{} | flatten", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[] | items", ErrorCode::kTypeError));
}

TEST_F(FilterTest, Date) {
  EXPECT_TRUE(Is("inputs.when | date('%Y-%m-%d %H:%M:%S')", "\"2024-03-05 07:08:09\""));
  EXPECT_TRUE(Is("inputs.when | date('%F %T')", "\"2024-03-05 07:08:09\""));
  EXPECT_TRUE(Is("inputs.when | date('%a %A %b %B %e %j %y %% %z %Z')",
                 "\"Tue Tuesday Mar March  5 065 24 % +0000 UTC\""));
  EXPECT_TRUE(Is("0 | date('%F %T %a')", "\"1970-01-01 00:00:00 Thu\""));
  EXPECT_TRUE(Is("1700000000 | date('%FT%TZ')", "\"2023-11-14T22:13:20Z\""));
  EXPECT_TRUE(Is("1700000000.9 | date('%s')", "\"1700000000\""));
  EXPECT_TRUE(Is("(-1) | date('%F %T')", "\"1969-12-31 23:59:59\""));
  EXPECT_TRUE(Is("'2024-02-29T23:30:00-01:30' | date('%F %T')", "\"2024-03-01 01:00:00\""));
  EXPECT_TRUE(Is("'2024-01-01t00:00:00.123z' | date('%s')", "\"1704067200\""));
  EXPECT_TRUE(Is("'2024-12-31' | date('%j')", "\"366\""));
  EXPECT_TRUE(Is("'0000-01-01T00:00:00Z' | date('%Y %a')", "\"0000 Sat\""));
  EXPECT_TRUE(Is("'9999-12-31T23:59:59Z' | date('%F')", "\"9999-12-31\""));
  EXPECT_TRUE(Fails("'2023-02-29' | date('%F')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'2024-13-01' | date('%F')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'2024-01-01T25:00:00Z' | date('%F')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'yesterday' | date('%F')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'2024-01-01Tx' | date('%F')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1e18 | date('%F')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("253402300800 | date('%F')", ErrorCode::kTypeError));
  // A literal format is checked when the expression compiles (statically knowable); a
  // computed one when it is used.
  for (const char* src : {"0 | date('%Q')", "0 | date('%')", "inputs.when | date('%F %k')"}) {
    auto r = Expression::Compile(src);
    ASSERT_FALSE(r.ok()) << src;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidExpression) << src;
    EXPECT_NE(r.error().message.find("unsupported directive"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(Fails("0 | date('%' + 'Q')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("0 | date(1)", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("null | date('%F')", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("0 | date('" + std::string(1000, 'x') + "' | replace('x', '" + [] {
                      std::string s;
                      for (int i = 0; i < 200; ++i) s += "%A";
                      return s;
                    }() + "'))",
                    ErrorCode::kExpressionLimit));
}

TEST_F(FilterTest, GrowthIsCheckedBeforeAllocating) {
  const std::string kb = "'" + std::string(1000, 'a') + "'";
  EXPECT_TRUE(Fails(kb + " | replace('a', '" + std::string(2000, 'b') + "')",
                    ErrorCode::kExpressionLimit));
  EXPECT_TRUE(Fails(kb + " | replace('a', '" + std::string(1000, 'b') + "') | split('') | join(',')",
                    ErrorCode::kExpressionLimit));
  EXPECT_TRUE(Fails(kb + " | replace('a', '" + std::string(1000, 'b') + "') | url_encode | "
                    "replace('b', '&&&')",
                    ErrorCode::kExpressionLimit));
  EXPECT_TRUE(Fails("(" + kb + " | replace('a', '" + std::string(900, 'b') + "')) | base64_encode",
                    ErrorCode::kExpressionLimit));
  EXPECT_TRUE(Fails("(" + kb + " | replace('a', '" + std::string(600, '\"') + "')) | json",
                    ErrorCode::kExpressionLimit));
  EXPECT_TRUE(Fails("(" + kb + " | replace('a', '" + std::string(600, 'a') + "') | split('')) + "
                    "(" + kb + " | split(''))",
                    ErrorCode::kExpressionLimit));
}

TEST(TextCodecTest, Base64RoundTrip) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\x01\x02\xff"}) {
    std::string enc, dec;
    internal::Base64Encode(s, enc);
    ASSERT_TRUE(internal::Base64Decode(enc, dec)) << enc;
    EXPECT_EQ(dec, s);
  }
  std::string out;
  EXPECT_FALSE(internal::Base64Decode("Zg=", out));
  EXPECT_FALSE(internal::Base64Decode("Zh==", out)) << "non-canonical trailing bits";
  EXPECT_FALSE(internal::Base64Decode("Z===", out));
}

}  // namespace
}  // namespace rampart::expr
