// Secret taint: every value computed from a tainted input is tainted.
#include <gtest/gtest.h>

#include <string>

#include "expr/expr_test_util.h"

namespace rampart::expr {
namespace {

class TaintTest : public ExprTest {
 protected:
  // Evaluates with secrets allowed and returns whether the result is tainted.
  ::testing::AssertionResult Tainted(std::string_view src, bool want = true) {
    auto v = Run(src, Secrets());
    if (!v.ok()) {
      return ::testing::AssertionFailure() << src << " failed: " << v.error().message;
    }
    if (v->tainted != want) {
      return ::testing::AssertionFailure() << src << " tainted=" << v->tainted << " = "
                                           << boost::json::serialize(v->json);
    }
    return ::testing::AssertionSuccess();
  }
};

TEST_F(TaintTest, RootsAndPaths) {
  EXPECT_TRUE(Tainted("secrets"));
  EXPECT_TRUE(Tainted("secrets.token"));
  EXPECT_TRUE(Tainted("secrets.missing"));
  EXPECT_TRUE(Tainted("secrets['token']"));
  EXPECT_TRUE(Tainted("inputs[secrets.token]")) << "the key decides what is read";
  EXPECT_TRUE(Tainted("inputs.tags[secrets.num - 7]"));
  EXPECT_TRUE(Tainted("[secrets.token][0]"));
  EXPECT_TRUE(Tainted("{a: secrets.token}.a"));
  EXPECT_TRUE(Tainted("{a: secrets.token, b: 1}.b")) << "conservative: a part of a tainted value";
  EXPECT_TRUE(Tainted("inputs.amount", false));
  EXPECT_TRUE(Tainted("inputs.text", false)) << "text that looks like a secret reference is data";
}

TEST_F(TaintTest, Operators) {
  for (const char* src : {
           "secrets.token + 'x'", "'x' + secrets.token", "[secrets.token] + [1]", "[1] + [secrets.token]",
           "secrets.num + 1", "1 - secrets.num", "secrets.num * 2", "secrets.num / 2", "secrets.num % 2",
           "-secrets.num", "not secrets.token", "!secrets.token",
           "secrets.token == 'x'", "secrets.token != 'x'", "secrets.num < 1", "secrets.num <= 1",
           "secrets.num > 1", "secrets.num >= 1", "'s3' in secrets.token", "secrets.token in ['a']",
           "'x' not in secrets.token", "'token' in secrets",
           "secrets.token and true", "true and secrets.token", "secrets.token or false",
           "false or secrets.token", "secrets.token ? 1 : 2", "true ? secrets.token : 2",
           "false ? 1 : secrets.token", "[1, secrets.token]", "{a: 1, b: secrets.num}",
           "(secrets.token)"}) {
    EXPECT_TRUE(Tainted(src)) << src;
  }
  // Short-circuit: the secret is never read, so the result is not tainted.
  EXPECT_TRUE(Tainted("false and secrets.token", false));
  EXPECT_TRUE(Tainted("true or secrets.token", false));
  EXPECT_TRUE(Tainted("false ? secrets.token : 2", false));
}

TEST_F(TaintTest, EveryFilter) {
  for (const char* src : {
           "secrets.token | upper", "secrets.token | lower", "secrets.token | trim",
           "secrets.token | length", "secrets.token | replace('s', 'x')",
           "'abc' | replace('a', secrets.token)", "'abc' | replace(secrets.token, 'x')",
           "secrets.token | split('-')", "'a-b' | split(secrets.token)", "[secrets.token] | join(',')",
           "['a', 'b'] | join(secrets.token)", "secrets.token | starts_with('s')",
           "'abc' | starts_with(secrets.token)", "secrets.token | ends_with('e')",
           "'abc' | ends_with(secrets.token)", "secrets.token | contains('T0')",
           "'abc' | contains(secrets.token)", "secrets.token | slice(0, 3)", "'abcdef' | slice(secrets.num)",
           "'abc' | slice(0, secrets.num)", "secrets.token | matches('^s3')",
           "'abc' | matches(secrets.token)", "secrets.token | url_encode", "secrets.token | base64_encode",
           "secrets.token | base64_encode | base64_decode", "secrets.token | sha256", "secrets.num | abs",
           "secrets.num | round", "1.234 | round(secrets.num - 5)", "secrets.num | floor",
           "secrets.num | ceil", "secrets.num | int", "secrets.num | float", "[secrets.num, 1] | min",
           "[secrets.num, 1] | max", "[secrets.num] | sum", "secrets.token | string", "secrets.num | string",
           "secrets | json", "secrets | json | from_json", "secrets.token | bool",
           "secrets.missing | default('x')", "null | default(secrets.token)", "secrets.token | default('x')",
           "secrets | keys", "secrets | values", "[secrets.token] | first", "[secrets.token] | last",
           "secrets.token | first", "[secrets.num, 1] | sort", "[secrets.num, 1] | unique",
           "[secrets.num, 1] | reverse", "secrets.token | reverse", "[secrets] | map('token')",
           "[{a: 1}] | map(secrets.token)", "[secrets] | select('num', 7)",
           "[{a: 1}] | select('a', secrets.num)", "[[secrets.num]] | flatten", "secrets | items",
           "secrets.num | date('%F')", "0 | date(secrets.token)"}) {
    EXPECT_TRUE(Tainted(src)) << src;
  }
  EXPECT_TRUE(Tainted("inputs.tags | join(',') | upper", false));
  EXPECT_TRUE(Tainted("1 | default(secrets.token)", false)) << "lazy fallback never read";
}

TEST_F(TaintTest, TemplatesCarryTaint) {
  auto t = Template::Compile("Bearer {{ secrets.token }}", Secrets());
  ASSERT_TRUE(t.ok());
  auto v = t->Evaluate(scope_);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->tainted);
  EXPECT_EQ(v->json, J("\"Bearer s3cr3t-T0KEN-value\""));
  auto plain = Template::Compile("Hello {{ inputs.name }}", Secrets());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->Evaluate(scope_)->tainted);
}

TEST_F(TaintTest, AnyScopeRootCanBeTainted) {
  ObjectScope scope(&roots_, {"inputs"});
  auto e = Expression::Compile("inputs.amount + 1");
  ASSERT_TRUE(e.ok());
  auto v = e->Evaluate(scope);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->tainted);
}

TEST_F(TaintTest, ErrorsNeverEchoSecrets) {
  for (const char* src : {"inputs.amount[secrets.token]", "inputs.tags[secrets.token].x",
                          "secrets.token + 1", "secrets.token | from_json", "secrets.token | int",
                          "secrets.token | base64_decode", "'x' | matches(secrets.token + '(')",
                          "secrets.token | date('%F')", "secrets.token < 1", "0 | date(secrets.token + '%Q')",
                          "inputs.name[secrets.token]", "secrets.token.x"}) {
    auto v = Run(src, Secrets());
    ASSERT_FALSE(v.ok()) << src;
    EXPECT_EQ(v.error().message.find(kSecret), std::string::npos) << src << ": " << v.error().message;
    EXPECT_EQ(v.error().message.find("s3cr3t"), std::string::npos) << src << ": " << v.error().message;
  }
}

}  // namespace
}  // namespace rampart::expr
