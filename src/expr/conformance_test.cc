// Table-driven edge cases of spec/expressions.md, grouped by the spec statement they
// check: type mismatches, null handling, unicode, integer vs float, out-of-range, deep
// nesting and very long inputs. Each row is the spec's answer, not our implementation's.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "expr/expr_test_util.h"

namespace rampart::expr {
namespace {

using ConformanceTest = ExprTest;

struct Row {
  std::string src;
  std::string want;  // JSON of the value, or an error code name prefixed with '!'
};

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

class Table : public ConformanceTest {
 protected:
  void Check(const std::vector<Row>& rows) {
    for (const Row& r : rows) {
      if (!r.want.empty() && r.want[0] == '!') {
        auto v = Run(r.src);
        if (v.ok()) {
          ADD_FAILURE() << json::Excerpt(r.src, 120) << " succeeded, want " << r.want;
        } else {
          EXPECT_EQ(std::string("!") + std::string(v.error().code_name()), r.want)
              << json::Excerpt(r.src, 120) << ": " << v.error().message;
        }
      } else {
        EXPECT_TRUE(Is(r.src, r.want)) << json::Excerpt(r.src, 120);
      }
    }
  }
};

// "A missing key, an out-of-range index, or member access on null yields null."
TEST_F(Table, MissingOutOfRangeAndNullYieldNull) {
  Check({
      {"inputs.obj.nope", "null"},
      {"inputs.obj['nope']", "null"},
      {"inputs.tags[99]", "null"},
      {"inputs.tags[-4]", "null"},
      {"inputs.tags[9223372036854775807]", "null"},
      {"inputs.tags[-9223372036854775807 - 1]", "null"},
      {"inputs.tags[1e19]", "null"},
      {"inputs.tags[-1e19]", "null"},
      {"inputs.tags[1e300]", "null"},
      {"inputs.tags[inputs.amount * 1e20]", "null"},
      {"inputs.tags[18446744073709551615]", "null"},
      {"[][0]", "null"},
      {"null.x", "null"},
      {"null[0]", "null"},
      {"null['x'].y[2]", "null"},
      {"inputs.nul.a.b.c", "null"},
      {"(inputs.missing).x", "null"},
      {"inputs.obj.nope.deeper", "null"},
      {"steps.maybe.output.x | default('n/a')", "\"n/a\""},
      {"steps.maybe.status | default('not run')", "\"not run\""},
      {"inputs.__proto__", "null"},
      {"inputs.constructor", "null"},
      {"{}.constructor", "null"},
      {"inputs.missing == null", "true"},
  });
}

// "member access on a number, string or boolean is a type_error"; an index that is not
// an integer is not an index.
TEST_F(Table, MemberAccessOnScalarsAndBadIndices) {
  Check({
      {"inputs.amount.x", "!type_error"},
      {"inputs.price['x']", "!type_error"},
      {"inputs.status.length", "!type_error"},
      {"'abc'[0]", "!type_error"},
      {"true.x", "!type_error"},
      {"false[0]", "!type_error"},
      {"(1 + 1).x", "!type_error"},
      {"inputs.tags[0.5]", "!type_error"},
      {"inputs.tags[1e-300]", "!type_error"},
      {"inputs.tags[{}]", "!type_error"},
      {"inputs.tags[[0]]", "!type_error"},
      {"inputs.obj[1e19]", "!type_error"},
      {"inputs.status[1e19]", "!type_error"},
  });
}

// "Integers are exact up to 2^53; arithmetic follows IEEE double, except that / or % by
// zero is an evaluation error."
TEST_F(Table, IntegersAndFloats) {
  Check({
      {"9007199254740992", "9007199254740992"},
      {"9007199254740991 + 1", "9007199254740992"},
      {"-9007199254740992 - 0", "-9007199254740992"},
      {"4503599627370496 * 2", "9007199254740992"},
      {"2 * 0.5", "1.0"},
      {"2 * 0.5 == 1", "true"},
      {"1 / 3 * 3", "1.0"},
      {"10 / 4", "2.5"},
      {"-10 / 4", "-2.5"},
      {"10 / -5", "-2"},
      {"0 / 5", "0"},
      {"5 % 3.0", "2.0"},
      {"-5 % 3", "-2"},
      {"5 % -3", "2"},
      {"-5.5 % 2", "-1.5"},
      {"1e-320 * 1e-10", "0.0"},
      {"0.1 + 0.2 == 0.3", "false"},
      {"0.5 + 0.25 == 0.75", "true"},
      {"1 < 1.5", "true"},
      {"2.0 == 2", "true"},
      {"[2.0] == [2]", "true"},
      {"{a: 1.0} == {a: 1}", "true"},
      {"-inputs.price", "-2.5"},
      {"0 / 0", "!division_by_zero"},
      {"0.0 % 0", "!division_by_zero"},
      {"1 % 0.0", "!division_by_zero"},
      {"1 / (1 - 1)", "!division_by_zero"},
      {"inputs.price / inputs.zero", "!division_by_zero"},
      {"1e308 + 1e308", "!expression_limit"},
  });
}

// "Comparisons of different types are false for ==, an error for <-family."
TEST_F(Table, MixedTypeComparisons) {
  Check({
      {"1 == '1'", "false"},
      {"1 != '1'", "true"},
      {"true == 1", "false"},
      {"false == 0", "false"},
      {"null == 0", "false"},
      {"null == ''", "false"},
      {"null == []", "false"},
      {"[] == {}", "false"},
      {"'a' == ['a']", "false"},
      {"[1] == [true]", "false"},
      {"{a: null} == {}", "false"},
      {"1 < '2'", "!type_error"},
      {"'1' <= 2", "!type_error"},
      {"null > 0", "!type_error"},
      {"[] >= []", "!type_error"},
      {"{} < {}", "!type_error"},
      {"true < 1", "!type_error"},
      {"inputs.missing < 1", "!type_error"},
  });
}

// "+ also concatenates strings / arrays"; operators need operands of their type.
TEST_F(Table, OperatorTypeMismatches) {
  Check({
      {"'a' + 'é'", "\"aé\""},
      {"[] + []", "[]"},
      {"[null] + [[1]]", "[null,[1]]"},
      {"'a' + null", "!type_error"},
      {"null + null", "!type_error"},
      {"[1] + {}", "!type_error"},
      {"{} + []", "!type_error"},
      {"'a' * 3", "!type_error"},
      {"[1] - [1]", "!type_error"},
      {"'6' / 2", "!type_error"},
      {"true % 2", "!type_error"},
      {"-true", "!type_error"},
      {"-[]", "!type_error"},
      {"1 in 1", "!type_error"},
      {"null in 'abc'", "!type_error"},
      {"[] in {}", "!type_error"},
  });
}

// Truthiness: "null, false, 0, "", [], {} are falsy"; and/or/not return booleans.
TEST_F(Table, TruthinessAndLogic) {
  Check({
      {"null or 0 or '' or [] or {} or false", "false"},
      {"'0' and [0] and {a: 0} and -1 and 0.1 and ' '", "true"},
      {"[] and 1 / 0", "false"},
      {"'x' or 1 / 0", "true"},
      {"not null", "true"},
      {"not {}", "true"},
      {"not 'false'", "false"},
      {"!0.0", "true"},
      {"inputs.missing ? 'y' : 'n'", "\"n\""},
      {"inputs.tags ? 'y' : 'n'", "\"y\""},
  });
}

// Unicode text: lengths, slices and reversals count code points; case mapping is
// Unicode's (a user writing `| upper` expects 'é' to become 'É').
TEST_F(Table, Unicode) {
  Check({
      {"'😀' | length", "1"},
      {"'e\\u0301' | length", "2"},
      {"'\\ud83d\\ude00' == '😀'", "true"},
      {"'a😀b' | slice(1, 2)", "\"😀\""},
      {"'a😀b' | slice(-2)", "\"😀b\""},
      {"'😀é' | reverse", "\"é😀\""},
      {"'😀é' | first", "\"😀\""},
      {"'😀é' | last", "\"é\""},
      {"'a😀b' | split('')", R"(["a","😀","b"])"},
      {"'€' | url_encode", "\"%E2%82%AC\""},
      {"'é' | base64_encode", "\"w6k=\""},
      {"'w6k=' | base64_decode", "\"é\""},
      {"'é' | sha256", "\"4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c\""},
      {"'é' | matches('^.$')", "true"},
      {"'é' < 'z'", "false"},
      {"['é', 'z', 'e'] | sort", R"(["e","z","é"])"},
      {"'é' | upper", "\"É\""},
      {"'École' | upper", "\"ÉCOLE\""},
      {"'ÀÉÎÕÜ' | lower", "\"àéîõü\""},
      {"'Straße' | upper", "\"STRASSE\""},
      {"'ΑΒΓ' | lower", "\"αβγ\""},
      {"'привет' | upper", "\"ПРИВЕТ\""},
      {"'😀 ok' | upper", "\"😀 OK\""},
      {"'İ' | lower | length", "2"},
      {"'i' | upper", "\"I\""},
      {"'ΐ' | upper | length", "3"},
      {"'é' in 'café'", "true"},
  });
}

// "Strings use single or double quotes with \\ \' \" \n \t \uXXXX escapes."
TEST_F(Table, StringLiterals) {
  Check({
      {R"('a\\b')", R"("a\\b")"},
      {R"("a\'b")", R"("a'b")"},
      {R"('a\"b')", R"("a\"b")"},
      {R"('\n\t')", R"("\n\t")"},
      {R"('\u0041\u00E9')", R"("Aé")"},
      {R"('\u0000' | length)", "1"},
      {R"("it's")", R"("it's")"},
      {R"('say "hi"')", R"("say \"hi\"")"},
      {R"('\x41')", "!invalid_expression"},
      {R"('\U0001F600')", "!invalid_expression"},
      {R"('\u00G0')", "!invalid_expression"},
      {R"('unterminated)", "!invalid_expression"},
  });
}

// Filters on null and on values of the wrong type fail with type_error (only `default`
// replaces null); filters that take collections accept the empty ones.
TEST_F(Table, FiltersOnNullAndWrongTypes) {
  Check({
      {"null | upper", "!type_error"},
      {"null | trim", "!type_error"},
      {"null | split(',')", "!type_error"},
      {"null | join(',')", "!type_error"},
      {"null | abs", "!type_error"},
      {"null | int", "!type_error"},
      {"null | keys", "!type_error"},
      {"null | sort", "!type_error"},
      {"null | first", "!type_error"},
      {"null | sum", "!type_error"},
      {"null | date('%F')", "!type_error"},
      {"null | string", "\"null\""},
      {"null | json", "\"null\""},
      {"null | bool", "false"},
      {"null | default(0)", "0"},
      {"null | contains('a')", "false"},
      {"[] | min", "null"},
      {"[] | first", "null"},
      {"[] | unique", "[]"},
      {"[] | flatten", "[]"},
      {"[] | reverse", "[]"},
      {"[] | map('a')", "[]"},
      {"[] | select('a', 1)", "[]"},
      {"{} | keys", "[]"},
      {"{} | values", "[]"},
      {"'' | length", "0"},
      {"'' | upper", "\"\""},
      {"'5' | abs", "!type_error"},
      {"5 | upper", "!type_error"},
      {"[1] | trim", "!type_error"},
      {"{} | join", "!type_error"},
      {"'a' | flatten", "!type_error"},
      {"'a' | items", "!type_error"},
      {"true | round", "!type_error"},
      {"'2024-01-01T00:00:00Z' | date(5)", "!type_error"},
  });
}

// Numeric filters keep integers integers and floats floats where the value allows.
TEST_F(Table, NumericFilters) {
  Check({
      {"3 | float", "3.0"},
      {"3.0 | int", "3"},
      {"'10' | int + 1", "11"},
      {"'2.5' | float * 2", "5.0"},
      {"(-7) | abs", "7"},
      {"(-7.5) | abs", "7.5"},
      {"7.5 | floor", "7"},
      {"(-7.5) | ceil", "-7"},
      {"[1, 2, 3.5] | sum", "6.5"},
      {"[1, 2, 3] | sum", "6"},
      {"[1, 2.5, -3] | min", "-3"},
      {"[1, 2.5, -3] | max", "2.5"},
      {"'abc' | int", "!type_error"},
      {"'1e999' | int", "!type_error"},
      {"1e19 | int", "!type_error"},
  });
}

// Bounds: source 4 KiB, nesting 64, value 1 MiB, pattern 256; each violation is
// expression_limit, at compile time where the bound is static.
TEST_F(Table, BoundsAtTheirEdges) {
  const std::string str4094 = "'" + std::string(4094, 'a') + "'";  // 4096 bytes
  const std::string b1023 = "'" + std::string(1023, 'a') + "' | replace('a', '" +
                            std::string(1024, 'b') + "')";  // 1,047,552 bytes
  Check({
      {str4094 + "", "\"" + std::string(4094, 'a') + "\""},
      {"'" + std::string(4095, 'a') + "'", "!expression_limit"},
      {Repeat("(", 64) + "1" + Repeat(")", 64), "1"},
      {Repeat("(", 65) + "1" + Repeat(")", 65), "!expression_limit"},
      {Repeat("[", 64) + "]" + Repeat("]", 63) + " | flatten | length", "1"},
      {Repeat("[", 65) + "]" + Repeat("]", 64), "!expression_limit"},
      {Repeat("[", 65) + "1" + Repeat("]", 65), "!expression_limit"},
      {Repeat("{a: ", 63) + "{}" + Repeat("}", 63) + " | length", "1"},
      {Repeat("{a: ", 64) + "{}" + Repeat("}", 64), "!expression_limit"},
      {Repeat("(", 63) + "[]" + Repeat(")", 63), "[]"},
      {Repeat("(", 64) + "{}" + Repeat(")", 64), "!expression_limit"},
      {Repeat("not ", 64) + "1", "true"},
      {Repeat("not ", 65) + "1", "!expression_limit"},
      // A string of 1 MiB - 2 bytes serializes to exactly 1 MiB with its quotes.
      {"((" + b1023 + ") + '" + std::string(1022, 'c') + "') | length", "1048574"},
      {"((" + b1023 + ") + '" + std::string(1023, 'c') + "') | length", "!expression_limit"},
      // Case mapping can lengthen text ('ΐ' is 2 bytes, its upper case 6): still bounded.
      {"'" + std::string(1000, 'x') + "' | replace('x', '" + Repeat("ΐ", 200) + "') | upper",
       "!expression_limit"},
      {"'a' | matches('" + std::string(256, 'a') + "')", "false"},
      {"'a' | matches('" + std::string(257, 'a') + "')", "!expression_limit"},
      {"'a' | matches('" + Repeat("é", 129) + "')", "!expression_limit"},
      // 100,000 steps: splitting 100,000 characters is 100,000 elements.
      {"'" + std::string(1000, 'a') + "' | replace('a', '" + std::string(100, 'b') +
           "') | split('') | length",
       "!expression_limit"},
  });
}

}  // namespace
}  // namespace rampart::expr
