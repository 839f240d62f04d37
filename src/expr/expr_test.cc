#include <gtest/gtest.h>

#include <string>

#include "expr/expr_test_util.h"

namespace rampart::expr {
namespace {

TEST_F(ExprTest, Literals) {
  EXPECT_TRUE(Is("1", "1"));
  EXPECT_TRUE(Is("1.5", "1.5"));
  EXPECT_TRUE(Is("1e3", "1000.0"));
  EXPECT_TRUE(Is("2.5E-1", "0.25"));
  EXPECT_TRUE(Is("-7", "-7"));
  EXPECT_TRUE(Is(R"('a\'b')", R"("a'b")"));
  EXPECT_TRUE(Is(R"("a\"b")", R"("a\"b")"));
  EXPECT_TRUE(Is(R"('\\ \n \t')", R"("\\ \n \t")"));
  EXPECT_TRUE(Is(R"('\u00e9\u20ac')", R"("é€")"));
  EXPECT_TRUE(Is(R"('\ud83d\ude00')", R"("😀")"));
  EXPECT_TRUE(Is("true", "true"));
  EXPECT_TRUE(Is("false", "false"));
  EXPECT_TRUE(Is("null", "null"));
  EXPECT_TRUE(Is("[]", "[]"));
  EXPECT_TRUE(Is("[1, 'a', [true]]", R"([1,"a",[true]])"));
  EXPECT_TRUE(Is("{}", "{}"));
  EXPECT_TRUE(Is("{a: 1, 'b c': [2], \"d\": inputs.amount}", R"({"a":1,"b c":[2],"d":150})"));
  EXPECT_TRUE(Is("9223372036854775807", "9223372036854775807"));
  EXPECT_TRUE(Is("9223372036854775808", "9.223372036854775808e18"));
}

TEST_F(ExprTest, AdjacentStringsAreAnError) {
  // 'it''s' is two tokens: a parse error, not concatenation.
  auto r = Run("'it''s'");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidExpression);
}

TEST_F(ExprTest, PathLookups) {
  EXPECT_TRUE(Is("inputs.amount", "150"));
  EXPECT_TRUE(Is("inputs.nested.a.b.c", "42"));
  EXPECT_TRUE(Is("inputs['nested']['a'].b['c']", "42"));
  EXPECT_TRUE(Is("inputs.tags[0]", "\"a\""));
  EXPECT_TRUE(Is("inputs.tags[index]", "\"c\""));
  EXPECT_TRUE(Is("inputs.tags[1 + 1]", "\"c\""));
  EXPECT_TRUE(Is("inputs.tags[2.0]", "\"c\""));
  EXPECT_TRUE(Is("inputs[inputs.tags[0] == 'a' ? 'amount' : 'x']", "150"));
  EXPECT_TRUE(Is("steps.check.output.items[2]", "30"));
  EXPECT_TRUE(Is("item.x", "1"));
  EXPECT_TRUE(Is("[1, 2, 3][1]", "2"));
  EXPECT_TRUE(Is("{a: {b: 5}}.a.b", "5"));
  EXPECT_TRUE(Is("(inputs.obj).k", "\"v\""));
  EXPECT_TRUE(Is("inputs.in", "null")) << "keywords are fine as member names";
}

TEST_F(ExprTest, MissingIsNull) {
  EXPECT_TRUE(Is("inputs.missing", "null"));
  EXPECT_TRUE(Is("inputs.missing.deeper.still", "null"));
  EXPECT_TRUE(Is("nothing", "null"));
  EXPECT_TRUE(Is("nothing.at.all[3]", "null"));
  EXPECT_TRUE(Is("steps.maybe.output.x", "null"));
  EXPECT_TRUE(Is("inputs.tags[3]", "null"));
  EXPECT_TRUE(Is("inputs.tags[-1]", "null"));
  EXPECT_TRUE(Is("inputs.nul.x", "null"));
  EXPECT_TRUE(Is("inputs.nul[0]", "null"));
  EXPECT_TRUE(Is("steps.maybe.output.x | default('n/a')", "\"n/a\""));
}

TEST_F(ExprTest, MemberAccessOnScalarsIsATypeError) {
  EXPECT_TRUE(Fails("inputs.amount.x", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("inputs.status.length", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("inputs.flag.x", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("inputs.status[0]", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("inputs.tags.x", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("inputs.obj[0]", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("inputs.tags[1.5]", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("inputs.tags[true]", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("inputs.tags[null]", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1.x", ErrorCode::kTypeError));
}

TEST_F(ExprTest, Arithmetic) {
  EXPECT_TRUE(Is("1 + 2", "3"));
  EXPECT_TRUE(Is("1 + 2.5", "3.5"));
  EXPECT_TRUE(Is("5 - 7", "-2"));
  EXPECT_TRUE(Is("6 * 7", "42"));
  EXPECT_TRUE(Is("7 / 2", "3.5"));
  EXPECT_TRUE(Is("8 / 2", "4"));
  EXPECT_TRUE(Is("8.0 / 2", "4.0"));
  EXPECT_TRUE(Is("7 % 3", "1"));
  EXPECT_TRUE(Is("-7 % 3", "-1"));
  EXPECT_TRUE(Is("7.5 % 2", "1.5"));
  EXPECT_TRUE(Is("inputs.amount * 1.2", "180.0"));
  EXPECT_TRUE(Is("inputs.price * 2", "5.0"));
  EXPECT_TRUE(Is("-inputs.amount", "-150"));
  EXPECT_TRUE(Is("- -3", "3"));
  EXPECT_TRUE(Is("9007199254740992 + 1", "9007199254740993")) << "int64 stays exact";
  EXPECT_TRUE(Is("9223372036854775807 + 1", "9.223372036854775808e18")) << "overflow -> double";
  EXPECT_TRUE(Is("-9223372036854775807 - 1", "-9223372036854775808"));
  EXPECT_TRUE(Is("(-9223372036854775807 - 1) / -1", "9.223372036854775808e18"));
  EXPECT_TRUE(Is("(-9223372036854775807 - 1) % -1", "0"));
  EXPECT_TRUE(Is("-(-9223372036854775807 - 1)", "9.223372036854775808e18"));
  EXPECT_TRUE(Is("0.1 + 0.2", "0.30000000000000004"));
}

TEST_F(ExprTest, DivisionByZero) {
  EXPECT_TRUE(Fails("1 / 0", ErrorCode::kDivisionByZero));
  EXPECT_TRUE(Fails("1 % 0", ErrorCode::kDivisionByZero));
  EXPECT_TRUE(Fails("1.5 / 0.0", ErrorCode::kDivisionByZero));
  EXPECT_TRUE(Fails("1 / -0.0", ErrorCode::kDivisionByZero));
  EXPECT_TRUE(Fails("inputs.amount % inputs.zero", ErrorCode::kDivisionByZero));
}

TEST_F(ExprTest, OverflowToInfinityIsAnError) {
  EXPECT_TRUE(Fails("1e308 * 10", ErrorCode::kExpressionLimit));
  EXPECT_TRUE(Fails("-1e308 - 1e308", ErrorCode::kExpressionLimit));
  EXPECT_TRUE(Fails("1e308 / 1e-308", ErrorCode::kExpressionLimit));
}

TEST_F(ExprTest, PlusConcatenates) {
  EXPECT_TRUE(Is("'a' + 'b'", "\"ab\""));
  EXPECT_TRUE(Is("inputs.status + '!' + '?'", "\"active!?\""));
  EXPECT_TRUE(Is("[1] + [2, 3]", "[1,2,3]"));
  EXPECT_TRUE(Is("inputs.tags + inputs.tags", R"(["a","b","c","a","b","c"])"));
  EXPECT_TRUE(Fails("'a' + 1", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1 + 'a'", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[1] + 'a'", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("{} + {}", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("null + 1", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("true + 1", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' - 'a'", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'7' * 7", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[1] * 2", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("-'a'", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("-null", ErrorCode::kTypeError));
}

TEST_F(ExprTest, Equality) {
  EXPECT_TRUE(Is("1 == 1", "true"));
  EXPECT_TRUE(Is("1 == 1.0", "true"));
  EXPECT_TRUE(Is("1 != 1.0", "false"));
  EXPECT_TRUE(Is("'1' == 1", "false")) << "different types are unequal, not an error";
  EXPECT_TRUE(Is("null == false", "false"));
  EXPECT_TRUE(Is("null == null", "true"));
  EXPECT_TRUE(Is("0 == false", "false"));
  EXPECT_TRUE(Is("'' == null", "false"));
  EXPECT_TRUE(Is("[1, [2]] == [1, [2.0]]", "true"));
  EXPECT_TRUE(Is("{a: 1, b: 2} == {b: 2, a: 1}", "true"));
  EXPECT_TRUE(Is("{a: 1} == {a: 1, b: 2}", "false"));
  EXPECT_TRUE(Is("inputs.status == 'active'", "true"));
  EXPECT_TRUE(Is("inputs.status != 'active'", "false"));
  EXPECT_TRUE(Is("inputs.missing == null", "true"));
  EXPECT_TRUE(Is("9007199254740993 == 9007199254740992.0", "false"));
}

TEST_F(ExprTest, Ordering) {
  EXPECT_TRUE(Is("1 < 2", "true"));
  EXPECT_TRUE(Is("2 <= 2", "true"));
  EXPECT_TRUE(Is("3 > 2.5", "true"));
  EXPECT_TRUE(Is("2 >= 3", "false"));
  EXPECT_TRUE(Is("'abc' < 'abd'", "true"));
  EXPECT_TRUE(Is("'B' < 'a'", "true"));
  EXPECT_TRUE(Is("9007199254740993 > 9007199254740992.0", "true"));
  EXPECT_TRUE(Fails("1 < '2'", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("null < 1", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("true > false", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("[1] < [2]", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("inputs.missing >= 0", ErrorCode::kTypeError));
}

TEST_F(ExprTest, ComparisonIsNotAssociative) {
  EXPECT_TRUE(Fails("1 < 2 < 3", ErrorCode::kInvalidExpression));
  EXPECT_TRUE(Fails("1 == 1 == true", ErrorCode::kInvalidExpression));
  EXPECT_TRUE(Is("(1 == 1) == true", "true"));
}

TEST_F(ExprTest, In) {
  EXPECT_TRUE(Is("'ell' in 'hello'", "true"));
  EXPECT_TRUE(Is("'' in 'hello'", "true"));
  EXPECT_TRUE(Is("'x' in 'hello'", "false"));
  EXPECT_TRUE(Is("'b' in inputs.tags", "true"));
  EXPECT_TRUE(Is("2 in [1, 2.0]", "true"));
  EXPECT_TRUE(Is("[1] in [[1], 2]", "true"));
  EXPECT_TRUE(Is("'k' in inputs.obj", "true"));
  EXPECT_TRUE(Is("'v' in inputs.obj", "false"));
  EXPECT_TRUE(Is("'z' not in inputs.tags", "true"));
  EXPECT_TRUE(Is("'a' not in inputs.tags", "false"));
  EXPECT_TRUE(Is("'a' in inputs.missing", "false"));
  EXPECT_TRUE(Fails("1 in 'a1'", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1 in {}", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("1 in 5", ErrorCode::kTypeError));
  EXPECT_TRUE(Fails("'a' in true", ErrorCode::kTypeError));
}

TEST_F(ExprTest, LogicShortCircuitsAndReturnsBooleans) {
  EXPECT_TRUE(Is("1 and 'x'", "true"));
  EXPECT_TRUE(Is("1 and ''", "false"));
  EXPECT_TRUE(Is("0 or []", "false"));
  EXPECT_TRUE(Is("0 or 'x'", "true"));
  EXPECT_TRUE(Is("true && false", "false"));
  EXPECT_TRUE(Is("false || true", "true"));
  // The right side is never evaluated: no division_by_zero, no type_error.
  EXPECT_TRUE(Is("false and 1 / 0", "false"));
  EXPECT_TRUE(Is("true or 1 / 0", "true"));
  EXPECT_TRUE(Is("inputs.missing and inputs.missing.x.y > 1", "false"));
  EXPECT_TRUE(Fails("true and 1 / 0", ErrorCode::kDivisionByZero));
  EXPECT_TRUE(Is("not true", "false"));
  EXPECT_TRUE(Is("not 0", "true"));
  EXPECT_TRUE(Is("!''", "true"));
  EXPECT_TRUE(Is("not not 'x'", "true"));
  EXPECT_TRUE(Is("!!inputs.tags", "true"));
}

TEST_F(ExprTest, Truthiness) {
  for (const char* falsy : {"null", "false", "0", "0.0", "(-0.0)", "''", "[]", "{}", "inputs.missing"}) {
    EXPECT_TRUE(Is(std::string(falsy) + " ? 1 : 2", "2")) << falsy;
    EXPECT_TRUE(Is(std::string(falsy) + " | bool", "false")) << falsy;
  }
  for (const char* truthy : {"true", "1", "-1", "0.5", "'0'", "'false'", "' '", "[0]", "{a: null}"}) {
    EXPECT_TRUE(Is(std::string(truthy) + " ? 1 : 2", "1")) << truthy;
  }
  EXPECT_FALSE(Truthy(J("null")));
  EXPECT_FALSE(Truthy(J("0")));
  EXPECT_FALSE(Truthy(J("{}")));
  EXPECT_TRUE(Truthy(J("[null]")));
}

TEST_F(ExprTest, Conditional) {
  EXPECT_TRUE(Is("inputs.amount > 100 ? 'big' : 'small'", "\"big\""));
  EXPECT_TRUE(Is("false ? 1 : true ? 2 : 3", "2")) << "right-associative";
  EXPECT_TRUE(Is("true ? false ? 1 : 2 : 3", "2"));
  EXPECT_TRUE(Is("false ? 1 / 0 : 5", "5")) << "only the chosen branch runs";
  EXPECT_TRUE(Is("1 or 0 ? 'a' : 'b'", "\"a\"")) << "? binds looser than or";
}

TEST_F(ExprTest, Precedence) {
  EXPECT_TRUE(Is("1 + 2 * 3", "7"));
  EXPECT_TRUE(Is("(1 + 2) * 3", "9"));
  EXPECT_TRUE(Is("10 - 4 - 3", "3")) << "left-associative";
  EXPECT_TRUE(Is("2 * 3 % 4", "2"));
  EXPECT_TRUE(Is("100 / 10 / 5", "2"));
  EXPECT_TRUE(Is("-2 * 3", "-6"));
  EXPECT_TRUE(Is("- inputs.nums | sum", "-6")) << "filters bind tighter than unary minus";
  EXPECT_TRUE(Is("'a' + 'b' | upper", "\"aB\"")) << "filters bind tighter than +";
  EXPECT_TRUE(Is("('a' + 'b') | upper", "\"AB\""));
  EXPECT_TRUE(Is("1 + 1 == 2", "true")) << "+ binds tighter than ==";
  EXPECT_TRUE(Is("not 1 == 2", "true")) << "not binds looser than ==";
  EXPECT_TRUE(Is("not false and false", "false")) << "not binds tighter than and";
  EXPECT_TRUE(Is("true or false and false", "true")) << "and binds tighter than or";
  EXPECT_TRUE(Is("'a' in inputs.tags and 1 < 2", "true"));
  EXPECT_TRUE(Is("inputs.tags | length > 2", "true"));
  EXPECT_TRUE(Is("inputs.amount * 1.2 > 100 and inputs.status == 'active'", "true"));
  EXPECT_TRUE(Fails("[1, 2] + [3] | length", ErrorCode::kTypeError)) << "[1, 2] + ([3] | length)";
}

TEST_F(ExprTest, CompileErrorsCarryPosition) {
  struct Case {
    const char* src;
    const char* prefix;
  };
  for (const Case& c : {Case{"1 +", "line 1, column 4: "}, Case{"(1", "line 1, column 3: "},
                        Case{"a.", "line 1, column 3: "}, Case{"'abc", "line 1, column 1: "},
                        Case{"a = 1", "line 1, column 3: "}, Case{"1 ++ 2", "line 1, column 4: "},
                        Case{"x\n  @", "line 2, column 3: "}, Case{"'é' @", "line 1, column 5: "},
                        Case{"'\\q'", "line 1, column 2: "}, Case{"[1,]", "line 1, column 4: "},
                        Case{"{a 1}", "line 1, column 4: "}, Case{"a | ", "line 1, column 5: "},
                        Case{"", "line 1, column 1: "}, Case{"   ", "line 1, column 4: "},
                        Case{"and", "line 1, column 1: "}, Case{"1 2", "line 1, column 3: "},
                        Case{"12abc", "line 1, column 1: "}, Case{"`x`", "line 1, column 1: "}}) {
    auto r = Expression::Compile(c.src);
    ASSERT_FALSE(r.ok()) << c.src;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidExpression) << c.src;
    EXPECT_EQ(r.error().message.rfind(c.prefix, 0), 0u) << c.src << ": " << r.error().message;
  }
}

TEST_F(ExprTest, InvalidUtf8IsACompileError) {
  auto r = Expression::Compile("'a\xff'");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidExpression);
  EXPECT_FALSE(Expression::Compile("'\xed\xa0\x80'").ok()) << "encoded surrogate";
  EXPECT_FALSE(Expression::Compile("'\xc0\xaf'").ok()) << "overlong";
  EXPECT_FALSE(Expression::Compile(R"('\ud800')").ok()) << "lone surrogate escape";
  EXPECT_FALSE(Expression::Compile(R"('\udc00\ud800')").ok());
  EXPECT_FALSE(Expression::Compile(R"('\u12')").ok());
}

TEST_F(ExprTest, DuplicateObjectKeysAreRejected) {
  EXPECT_TRUE(Fails("{a: 1, 'a': 2}", ErrorCode::kInvalidExpression));
}

TEST_F(ExprTest, UnknownFilterIsACompileError) {
  for (const char* src : {"inputs | eval", "inputs | attr('x')", "x | upper | system('id')",
                          "x | __class__", "x | constructor", "x | now", "x | Upper"}) {
    auto r = Expression::Compile(src);
    ASSERT_FALSE(r.ok()) << src;
    // spec/expressions.md: an expression that does not compile is invalid_expression.
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidExpression) << src;
    EXPECT_EQ(r.error().message.rfind("line 1, column ", 0), 0u);
    EXPECT_NE(r.error().message.find("unknown filter"), std::string::npos) << r.error().message;
  }
}

TEST_F(ExprTest, FilterArityIsCheckedAtCompileTime) {
  for (const char* src : {"x | upper(1)", "x | replace('a')", "x | replace('a', 'b', 'c')",
                          "x | split", "x | default", "x | default(1, 2)", "x | slice",
                          "x | slice(1, 2, 3)", "x | select('a')", "x | map", "x | date",
                          "x | round(1, 2)", "x | join(',', 1)", "x | matches()"}) {
    auto r = Expression::Compile(src);
    ASSERT_FALSE(r.ok()) << src;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidExpression) << src;
  }
  EXPECT_TRUE(Expression::Compile("x | upper()").ok());
}

TEST_F(ExprTest, NamesOutsideTheDeclaredScopeDoNotCompile) {
  const std::vector<std::string> names = {"inputs", "steps", "trigger", "run"};
  CompileOptions o;
  o.names = &names;
  for (const char* src : {"inputs.a + steps.s.output", "run.id", "trigger.type", "{a: inputs}.a",
                          "inputs[run.id]", "inputs.item", "{item: 1}.item"}) {
    auto r = Expression::Compile(src, o);
    EXPECT_TRUE(r.ok()) << src << ": " << r.error().message;
  }
  for (const char* src : {"inptus.amount", "now", "item", "index", "x | default(foo)", "[1, nope][0]",
                          "inputs[other]"}) {
    auto r = Expression::Compile(src, o);
    ASSERT_FALSE(r.ok()) << src;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidExpression) << src;
    EXPECT_EQ(r.error().message.rfind("line 1, column ", 0), 0u) << r.error().message;
    EXPECT_NE(r.error().message.find("not in scope"), std::string::npos) << r.error().message;
  }
  // `secrets` keeps its own, more precise, error; and is fine where secrets are allowed.
  auto s = Expression::Compile("secrets.token", o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kForbiddenSecretAccess);
  o.allow_secrets = true;
  EXPECT_TRUE(Expression::Compile("secrets.token", o).ok());
  // Without a list every name compiles (and an absent one reads as null).
  EXPECT_TRUE(Is("nope", "null"));
}

TEST_F(ExprTest, SecretsNeedPermission) {
  for (const char* src : {"secrets.token", "secrets", "secrets['token']", "secrets | keys",
                          "[secrets][0].token", "1 + (secrets.num)", "inputs[secrets.token]",
                          "x | default(secrets.token)"}) {
    auto r = Expression::Compile(src);
    ASSERT_FALSE(r.ok()) << src;
    EXPECT_EQ(r.error().code, ErrorCode::kForbiddenSecretAccess) << src;
    auto allowed = Expression::Compile(src, Secrets());
    ASSERT_TRUE(allowed.ok()) << src;
    EXPECT_TRUE(allowed->uses_secrets());
  }
  auto plain = Expression::Compile("inputs.secrets + {secrets: 1}.secrets");
  ASSERT_TRUE(plain.ok()) << "only the root name counts";
  EXPECT_FALSE(plain->uses_secrets());
}

TEST_F(ExprTest, ReferencedStepsAndSource) {
  auto e = Expression::Compile("  steps.a.output.x + steps['b'].output.y + steps.a.status + steps[x]  ");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->referenced_steps(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(e->source(), "steps.a.output.x + steps['b'].output.y + steps.a.status + steps[x]");
}

TEST_F(ExprTest, ParseDepthIsBounded) {
  std::string ok = std::string(64, '(') + "1" + std::string(64, ')');
  EXPECT_TRUE(Is(ok, "1"));
  std::string deep = std::string(65, '(') + "1" + std::string(65, ')');
  EXPECT_TRUE(Fails(deep, ErrorCode::kExpressionLimit));
  // 10,000-deep parentheses: an error, never a stack overflow (source limit lifted so the
  // depth bound itself is what stops it).
  CompileOptions big;
  big.limits.max_source_bytes = 1 << 20;
  std::string huge = std::string(10000, '(') + "1" + std::string(10000, ')');
  EXPECT_TRUE(Fails(huge, ErrorCode::kExpressionLimit, big));
  EXPECT_TRUE(Fails(std::string(10000, '['), ErrorCode::kExpressionLimit, big));
  EXPECT_TRUE(Fails(std::string(10000, '-') + "1", ErrorCode::kExpressionLimit, big));
  EXPECT_TRUE(Fails(std::string(10000, '!') + "1", ErrorCode::kExpressionLimit, big));
  std::string ternary;
  for (int i = 0; i < 5000; ++i) ternary += "1 ? ";
  EXPECT_TRUE(Fails(ternary + "1", ErrorCode::kExpressionLimit, big));
}

TEST_F(ExprTest, LongChainsDoNotRecurse) {
  CompileOptions big;
  big.limits.max_source_bytes = 1 << 20;
  std::string sum = "0";
  for (int i = 0; i < 20000; ++i) sum += "+1";
  EXPECT_TRUE(Is(sum, "20000", big));
  std::string filters = "'x'";
  for (int i = 0; i < 5000; ++i) filters += "|upper";
  EXPECT_TRUE(Is(filters, "\"X\"", big));
  std::string path = "inputs";
  for (int i = 0; i < 5000; ++i) path += ".a";
  EXPECT_TRUE(Is(path, "null", big));
  std::string ands = "true";
  for (int i = 0; i < 5000; ++i) ands += " and true";
  EXPECT_TRUE(Is(ands, "true", big));
}

TEST_F(ExprTest, SourceLengthIsBounded) {
  std::string src = "'" + std::string(4094, 'a') + "'";
  EXPECT_TRUE(Expression::Compile(src).ok());
  src = "'" + std::string(4095, 'a') + "'";
  auto r = Expression::Compile(src);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kExpressionLimit);
}

TEST_F(ExprTest, StepsAreBounded) {
  CompileOptions small;
  small.limits.max_steps = 50;
  std::string src = "0";
  for (int i = 0; i < 60; ++i) src += "+1";
  EXPECT_TRUE(Fails(src, ErrorCode::kExpressionLimit, small));
  EXPECT_TRUE(Fails("inputs.items | map('id') | sum", ErrorCode::kExpressionLimit,
                    CompileOptions{false, Limits{4096, 64, 5, 1 << 20, 256}}));
  // Default budget: 100,000 steps. Elements processed by filters count.
  EXPECT_TRUE(Fails("'" + std::string(1000, 'a') +
                        "' | replace('a', 'aaaaaaaaaaaaaaaaaaaa') | split('') | sort | length",
                    ErrorCode::kExpressionLimit));
  EXPECT_TRUE(Is("'" + std::string(1000, 'a') + "' | split('') | sort | length", "1000"));
}

TEST_F(ExprTest, ValueSizeIsBounded) {
  // Doubling a string 21 times passes 1 MiB.
  std::string src = "'ab'";
  for (int i = 0; i < 21; ++i) src = "(" + src + " | replace('a', 'aa') | replace('b', 'bb'))";
  EXPECT_TRUE(Fails(src, ErrorCode::kExpressionLimit));
  CompileOptions small;
  small.limits.max_value_bytes = 100;
  EXPECT_TRUE(Is("'" + std::string(90, 'x') + "' | length", "90", small));
  EXPECT_TRUE(Fails("'" + std::string(60, 'x') + "' + '" + std::string(60, 'x') + "'",
                    ErrorCode::kExpressionLimit, small));
  EXPECT_TRUE(Fails("[inputs.status + '" + std::string(60, '1') + "', '" + std::string(60, '2') + "']",
                    ErrorCode::kExpressionLimit, small));
  EXPECT_TRUE(Fails("inputs", ErrorCode::kExpressionLimit, small)) << "the final value too";
  EXPECT_TRUE(Fails("'\\n' + '" + std::string(40, 'x') + "' | replace('x', '\\n\\n')",
                    ErrorCode::kExpressionLimit, small))
      << "escapes count in the serialized size";
}

TEST_F(ExprTest, TraceRecordsDecisionValues) {
  Trace trace;
  auto r = Run("inputs.amount > 100 and steps.check.output.items[0] == 10 and inputs['a b'] == null "
               "and inputs.tags[index] == 'c'",
               {}, &trace);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(trace.values.at("inputs.amount"), J("150"));
  EXPECT_EQ(trace.values.at("steps.check.output.items[0]"), J("10"));
  EXPECT_EQ(trace.values.at("inputs[\"a b\"]"), J("null"));
  EXPECT_EQ(trace.values.at("inputs.tags[2]"), J("\"c\""));
  EXPECT_EQ(trace.values.at("index"), J("2"));
}

TEST_F(ExprTest, TraceRedactsSecrets) {
  Trace trace;
  auto r = Run("secrets.token == 'x' or secrets.num > 1 or inputs[secrets.token] == 1", Secrets(), &trace);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(trace.values.at("secrets.token"), J("\"***REDACTED***\""));
  EXPECT_EQ(trace.values.at("secrets.num"), J("\"***REDACTED***\""));
  for (const auto& kv : trace.values) {
    EXPECT_EQ(std::string(kv.key()).find(kSecret), std::string::npos) << "keys too";
  }
}

TEST_F(ExprTest, ObjectScope) {
  EXPECT_EQ(scope_.Lookup("inputs").value, &roots_.at("inputs"));
  EXPECT_FALSE(scope_.Lookup("inputs").tainted);
  EXPECT_TRUE(scope_.Lookup("secrets").tainted);
  EXPECT_EQ(scope_.Lookup("nope").value, nullptr);
  ObjectScope empty(nullptr);
  EXPECT_EQ(empty.Lookup("inputs").value, nullptr);
}

TEST_F(ExprTest, RenderText) {
  EXPECT_EQ(RenderText(J("\"a\\nb\"")), "a\nb");
  EXPECT_EQ(RenderText(J("null")), "null");
  EXPECT_EQ(RenderText(J("1.5")), "1.5");
  EXPECT_EQ(RenderText(J("120.0")), "120");
  EXPECT_EQ(RenderText(J("-0.0")), "0");
  EXPECT_EQ(RenderText(J("1e21")), "1e+21");
  EXPECT_EQ(RenderText(J("18446744073709551615")), "18446744073709551615");
  EXPECT_EQ(RenderText(J(R"({"a":[1,"x\"",true,null]})")), R"({"a":[1,"x\"",true,null]})");
}

TEST_F(ExprTest, CopiesShareTheProgram) {
  auto e = Expression::Compile("inputs.amount + 1");
  ASSERT_TRUE(e.ok());
  Expression copy = *e;
  auto a = copy.Evaluate(scope_);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->json, J("151"));
  Expression empty;
  EXPECT_FALSE(empty.Evaluate(scope_).ok());
  EXPECT_EQ(empty.source(), "");
}

}  // namespace
}  // namespace rampart::expr
