#include <gtest/gtest.h>

#include <boost/json/monotonic_resource.hpp>

#include <string>
#include <vector>

#include "expr/expr_test_util.h"
#include "rampart/core/json.h"

namespace rampart::expr {
namespace {

class TemplateTest : public ExprTest {
 protected:
  ::testing::AssertionResult Renders(std::string_view text, std::string_view expected_json) {
    auto t = Template::Compile(text);
    if (!t.ok()) return ::testing::AssertionFailure() << text << ": " << t.error().message;
    auto v = t->Evaluate(scope_);
    if (!v.ok()) return ::testing::AssertionFailure() << text << ": " << v.error().message;
    if (v->json != J(expected_json)) {
      return ::testing::AssertionFailure() << text << " = " << boost::json::serialize(v->json);
    }
    return ::testing::AssertionSuccess();
  }
};

TEST_F(TemplateTest, LoneExpressionKeepsItsType) {
  EXPECT_TRUE(Renders("{{ inputs.amount }}", "150"));
  EXPECT_TRUE(Renders("  {{ inputs.tags }}\n", R"(["a","b","c"])"));
  EXPECT_TRUE(Renders("{{inputs.obj}}", R"({"k":"v","k2":2})"));
  EXPECT_TRUE(Renders("{{ inputs.missing }}", "null"));
  EXPECT_TRUE(Renders("{{ inputs.flag }}", "true"));
  auto t = Template::Compile(" {{ x }} ");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->is_single_expression());
  EXPECT_FALSE(t->is_literal());
  ASSERT_EQ(t->expressions().size(), 1u);
  EXPECT_EQ(t->expressions()[0].source(), "x");
}

TEST_F(TemplateTest, MixedTextInterpolates) {
  EXPECT_TRUE(Renders("Hello {{ inputs.name }}!", "\"Hello Ada Lovelace!\""));
  EXPECT_TRUE(Renders("{{ inputs.amount }} EUR", "\"150 EUR\""));
  EXPECT_TRUE(Renders("{{ inputs.price * 2 }}/{{ inputs.amount * 1.2 }}", "\"5/180\""));
  EXPECT_TRUE(Renders("tags={{ inputs.tags }} obj={{ inputs.obj }}",
                      R"("tags=[\"a\",\"b\",\"c\"] obj={\"k\":\"v\",\"k2\":2}")"));
  EXPECT_TRUE(Renders("[{{ inputs.missing }}] [{{ inputs.flag }}]", "\"[null] [true]\""));
  EXPECT_TRUE(Renders("{{ 'a' }}{{ 'b' }}", "\"ab\""));
  EXPECT_TRUE(Renders("{{ {'a': {'b': 1}} }}", R"({"a":{"b":1}})"));
  EXPECT_TRUE(Renders("x{{ {'a': {'b': 1}}.a.b }}y", "\"x1y\""));
  EXPECT_TRUE(Renders("{{ '}}' }}", "\"}}\""));
  EXPECT_TRUE(Renders("a }} b", "\"a }} b\""));
  auto t = Template::Compile("a {{ x }} b");
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->is_single_expression());
  EXPECT_FALSE(t->is_literal());
}

TEST_F(TemplateTest, LiteralsAndEscapes) {
  EXPECT_TRUE(Renders("plain text", "\"plain text\""));
  EXPECT_TRUE(Renders("", "\"\""));
  EXPECT_TRUE(Renders("{ single } braces", "\"{ single } braces\""));
  EXPECT_TRUE(Renders("{{ '{{' }}", "\"{{\""));
  EXPECT_TRUE(Renders("use {{ '{{' }} name }} to interpolate", "\"use {{ name }} to interpolate\""));
  auto t = Template::Compile("no braces");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->is_literal());
  EXPECT_TRUE(t->expressions().empty());
}

TEST_F(TemplateTest, ResultsAreNeverReinterpreted) {
  // The input holds the text "{{ secrets.token }}": it stays that text.
  EXPECT_TRUE(Renders("{{ inputs.text }}", R"("{{ secrets.token }}")"));
  EXPECT_TRUE(Renders("x {{ inputs.text }}", R"("x {{ secrets.token }}")"));
  EXPECT_TRUE(Renders("{{ '{{ secrets.token }}' }}", R"("{{ secrets.token }}")"));
  EXPECT_TRUE(Renders("{{ '{{' + ' secrets.token ' + '}}' }}", R"("{{ secrets.token }}")"));
}

TEST_F(TemplateTest, CompileErrorsHavePositionsInTheWholeString) {
  struct Case {
    const char* text;
    ErrorCode code;
    const char* prefix;
  };
  for (const Case& c : {
           Case{"abc {{ 1 + }}", ErrorCode::kInvalidExpression, "line 1, column 12: "},
           Case{"ab\ncd {{ x | nope }}", ErrorCode::kInvalidExpression, "line 2, column 11: "},
           Case{"é {{ @ }}", ErrorCode::kInvalidExpression, "line 1, column 6: "},
           Case{"{{ x }} {{", ErrorCode::kInvalidExpression, "line 1, column 9: "},
           Case{"{{ 'abc }}", ErrorCode::kInvalidExpression, "line 1, column 1: "},
           Case{"{{}}", ErrorCode::kInvalidExpression, "line 1, column 3: "},
           Case{"{{ secrets.token }}", ErrorCode::kForbiddenSecretAccess, "line 1, column 4: "},
       }) {
    auto t = Template::Compile(c.text);
    ASSERT_FALSE(t.ok()) << c.text;
    EXPECT_EQ(t.error().code, c.code) << c.text << ": " << t.error().message;
    EXPECT_EQ(t.error().message.rfind(c.prefix, 0), 0u) << c.text << ": " << t.error().message;
  }
}

// The 4 KiB bound is on the expression, not on the whitespace that `{{ expr }}` puts around it.
TEST_F(TemplateTest, SourceBoundCountsTheExpressionNotItsSurroundingSpaces) {
  std::string expr = "1";
  while (expr.size() < 4096) expr += "+1";
  ASSERT_EQ(expr.size(), 4097u);
  expr.pop_back();
  expr.back() = '0';  // 4096 bytes: 1+1+...+10
  for (const std::string& text : {"{{ " + expr + " }}", "{{\n  " + expr + "\n}}", "a {{ " + expr + " }} b"}) {
    auto t = Template::Compile(text);
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_TRUE(t->Evaluate(scope_).ok());
  }
  auto c = CompileCondition("{{ " + expr + " }}");
  EXPECT_TRUE(c.ok()) << c.error().message;
  auto over = Template::Compile("{{" + expr + "1}}");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kExpressionLimit);
  over = Template::Compile("{{ " + expr + "1 }}");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kExpressionLimit);
}

TEST_F(TemplateTest, EvaluationErrorsPropagate) {
  auto t = Template::Compile("total: {{ 1 / inputs.zero }}");
  ASSERT_TRUE(t.ok());
  auto v = t->Evaluate(scope_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kDivisionByZero);
}

TEST_F(TemplateTest, InterpolatedSizeIsBounded) {
  CompileOptions small;
  small.limits.max_value_bytes = 64;
  auto t = Template::Compile("{{ inputs.name }} {{ inputs.name }} {{ inputs.name }}", small);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->Evaluate(scope_).ok());
  auto t2 = Template::Compile(
      "{{ inputs.name }} {{ inputs.name }} {{ inputs.name }} {{ inputs.name }} {{ inputs.name }}",
      small);
  ASSERT_TRUE(t2.ok());
  auto v = t2->Evaluate(scope_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kExpressionLimit);
}

TEST_F(TemplateTest, Conditions) {
  for (const char* text : {"inputs.amount > 100", "{{ inputs.amount > 100 }}",
                           "  {{inputs.amount > 100}}  ", "inputs.status == '{{'"}) {
    auto c = CompileCondition(text);
    ASSERT_TRUE(c.ok()) << text << ": " << c.error().message;
    auto v = c->Evaluate(scope_);
    ASSERT_TRUE(v.ok()) << text;
    EXPECT_EQ(v->json, J(std::string_view(text).find("'{{'") != std::string_view::npos ? "false" : "true"))
        << text;
  }
  for (const char* text : {"{{ a }} and {{ b }}", "x {{ a }}", "{{ a }} x", "{{ a }}{{ b }}"}) {
    auto c = CompileCondition(text);
    ASSERT_FALSE(c.ok()) << text;
    EXPECT_EQ(c.error().code, ErrorCode::kInvalidExpression) << text;
  }
  auto c = CompileCondition("{{ secrets.token }}");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kForbiddenSecretAccess);
  auto e = CompileCondition("");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, ErrorCode::kInvalidExpression);
}

TEST_F(TemplateTest, JsonTemplate) {
  auto tree = J(R"({
    "url": "https://api.example.com/users/{{ inputs.customer.address.city | url_encode }}",
    "count": "{{ inputs.tags | length }}",
    "fixed": {"a": [1, 2, "three"], "{{ key }}": "literal key"},
    "list": ["{{ inputs.amount }}", "x{{ index }}", 3, null, true],
    "steps": "{{ steps.check.output.ok and steps.other.status == 'ok' }}"
  })");
  auto t = JsonTemplate::Compile(tree, {});
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_FALSE(t->is_constant());
  EXPECT_EQ(t->ReferencedSteps(), (std::vector<std::string>{"check", "other"}));
  auto v = t->Evaluate(scope_);
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_FALSE(v->tainted);
  EXPECT_EQ(v->json, J(R"({
    "url": "https://api.example.com/users/Paris",
    "count": 3,
    "fixed": {"a": [1, 2, "three"], "{{ key }}": "literal key"},
    "list": [150, "x2", 3, null, true],
    "steps": false
  })"));
}

// Evaluated into a caller's storage (the engine's run arena): the same value, and every
// container and string of it allocated there, so moving it into that arena copies nothing.
TEST_F(TemplateTest, JsonTemplateEvaluatesIntoTheGivenStorage) {
  auto t = JsonTemplate::Compile(
      J(R"({"n": "{{ inputs.amount }}", "fixed": {"a": [1, "two"]}, "s": "x{{ index }}",
            "tags": "{{ inputs.tags }}", "list": ["{{ inputs.customer }}", null]})"),
      {});
  ASSERT_TRUE(t.ok()) << t.error().message;
  boost::json::storage_ptr arena = boost::json::make_shared_resource<boost::json::monotonic_resource>();
  size_t bytes = 0;
  size_t default_bytes = 0;
  auto in_arena = t->Evaluate(scope_, &bytes, arena);
  auto plain = t->Evaluate(scope_, &default_bytes);
  ASSERT_TRUE(in_arena.ok()) << in_arena.error().message;
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(in_arena->json, plain->json);
  EXPECT_EQ(bytes, default_bytes);
  // Every nested container and string shares the arena.
  std::vector<const boost::json::value*> todo = {&in_arena->json};
  size_t seen = 0;
  while (!todo.empty()) {
    const boost::json::value* v = todo.back();
    todo.pop_back();
    ++seen;
    if (v->is_object()) {
      EXPECT_EQ(v->get_object().storage(), arena);
      for (const auto& kv : v->get_object()) todo.push_back(&kv.value());
    } else if (v->is_array()) {
      EXPECT_EQ(v->get_array().storage(), arena);
      for (const auto& e : v->get_array()) todo.push_back(&e);
    } else if (v->is_string()) {
      EXPECT_EQ(v->get_string().storage(), arena);
    }
  }
  EXPECT_GT(seen, 10u);
  // A constant tree and an empty one too.
  auto constant = JsonTemplate::Compile(J(R"({"a": ["b"]})"), {});
  ASSERT_TRUE(constant.ok());
  auto c = constant->Evaluate(scope_, &bytes, arena);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->json.get_object().storage(), arena);
  EXPECT_EQ(c->json.at("a").get_array().storage(), arena);
}

// The size reported with a JsonTemplate's value (for the engine's run record budget):
// exact without doubles, an upper bound with them; never below the real size.
TEST_F(TemplateTest, JsonTemplateReportsTheSerializedSize) {
  const char* trees[] = {
      R"({"url": "https://x.test/{{ inputs.name | url_encode }}", "n": "{{ inputs.tags | length }}",
          "fixed": {"a": [1, 2, "th\"ree"], "k\u00e9y": null}, "list": ["{{ inputs.tags }}", "x{{ index }}", 3, true],
          "obj": "{{ inputs.obj }}", "e": [], "o": {}})",
      R"("{{ inputs.name }}")",
      R"({"a": [1, {"b": "no braces"}], "c": null})",
      R"(["{{ inputs.missing }}", "{{ inputs.flag }}", "{{ inputs.tags | length > 2 }}"])",
  };
  for (const char* text : trees) {
    auto t = JsonTemplate::Compile(J(text), {});
    ASSERT_TRUE(t.ok()) << text << ": " << t.error().message;
    size_t bytes = 0;
    auto v = t->Evaluate(scope_, &bytes);
    ASSERT_TRUE(v.ok()) << text << ": " << v.error().message;
    EXPECT_EQ(bytes, json::Serialize(v->json).size()) << text;
  }
  auto doubles = JsonTemplate::Compile(J(R"({"p": "{{ inputs.price }}", "q": "{{ inputs.price * 3 }}"})"), {});
  ASSERT_TRUE(doubles.ok());
  size_t bytes = 0;
  auto v = doubles->Evaluate(scope_, &bytes);
  ASSERT_TRUE(v.ok());
  EXPECT_GE(bytes, json::Serialize(v->json).size());
  EXPECT_LE(bytes, json::Serialize(v->json).size() + 2 * 24);
}

TEST_F(TemplateTest, JsonTemplateConstant) {
  auto tree = J(R"({"a": [1, {"b": "no braces"}], "c": null})");
  auto t = JsonTemplate::Compile(tree, {});
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->is_constant());
  auto v = t->Evaluate(scope_);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->json, tree);
  auto scalar = JsonTemplate::Compile(J("\"{{ 1 + 1 }}\""), {});
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->Evaluate(scope_)->json, J("2"));
}

TEST_F(TemplateTest, JsonTemplateCollectsAllFailures) {
  auto tree = J(R"({
    "ok": "{{ inputs.amount }}",
    "bad": "{{ 1 + }}",
    "nested": {"list": ["fine", "{{ x | nope }}"], "a/b~c": "{{ secrets.token }}"}
  })");
  std::vector<JsonTemplate::Failure> failures;
  auto t = JsonTemplate::Compile(tree, {}, &failures);
  ASSERT_FALSE(t.ok());
  ASSERT_EQ(failures.size(), 3u);
  EXPECT_EQ(failures[0].pointer, "/bad");
  EXPECT_EQ(failures[0].error.code, ErrorCode::kInvalidExpression);
  EXPECT_EQ(failures[1].pointer, "/nested/list/1");
  EXPECT_EQ(failures[1].error.code, ErrorCode::kInvalidExpression);
  EXPECT_EQ(failures[2].pointer, "/nested/a~1b~0c");
  EXPECT_EQ(failures[2].error.code, ErrorCode::kForbiddenSecretAccess);
  EXPECT_EQ(t.error().code, ErrorCode::kInvalidExpression);
  EXPECT_EQ(t.error().message.rfind("line 1, column ", 0), 0u);
  // Without a failures vector the first error is still returned.
  auto t2 = JsonTemplate::Compile(tree, {});
  ASSERT_FALSE(t2.ok());
}

TEST_F(TemplateTest, JsonTemplateEvaluationErrorNamesThePointer) {
  auto t = JsonTemplate::Compile(J(R"({"a": [0, "{{ 1 / 0 }}"]})"), {});
  ASSERT_TRUE(t.ok());
  auto v = t->Evaluate(scope_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kDivisionByZero);
  EXPECT_EQ(v.error().message.rfind("at /a/1: ", 0), 0u) << v.error().message;
}

TEST_F(TemplateTest, JsonTemplateTaint) {
  auto t = JsonTemplate::Compile(J(R"({"auth": "Bearer {{ secrets.token }}", "x": 1})"), Secrets());
  ASSERT_TRUE(t.ok());
  auto v = t->Evaluate(scope_);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->tainted);
}

}  // namespace
}  // namespace rampart::expr
