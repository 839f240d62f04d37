#include "rampart/schema/schema.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <string>

#include "rampart/core/json.h"

namespace rampart::schema {
namespace {

namespace bj = boost::json;

bj::value J(std::string_view text) {
  auto v = json::Parse(text, json::ParseLimits{1 << 24, 20000});
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? std::move(v).value() : bj::value();
}

Validator MustCompile(std::string_view schema, const Options& options = {},
                      const Registry* registry = nullptr) {
  auto v = Validator::Compile(J(schema), options, registry);
  EXPECT_TRUE(v.ok()) << (v.ok() ? "" : v.error().message);
  return std::move(v).value();
}

TEST(SchemaTest, CommonKeywords) {
  Validator v = MustCompile(R"({
    "type": "object",
    "required": ["name", "age"],
    "properties": {
      "name": {"type": "string", "minLength": 1, "maxLength": 10},
      "age": {"type": "integer", "minimum": 0, "maximum": 150},
      "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true, "maxItems": 3},
      "kind": {"enum": ["a", "b"]},
      "score": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5}
    },
    "additionalProperties": false
  })");
  EXPECT_TRUE(v.Validate(J(R"({"name": "ann", "age": 30})")));
  EXPECT_TRUE(v.Validate(J(R"({"name": "ann", "age": 30.0, "tags": ["x", "y"], "kind": "a", "score": 1.5})")));
  EXPECT_FALSE(v.Validate(J(R"({"name": "ann"})")));
  EXPECT_FALSE(v.Validate(J(R"({"name": "", "age": 3})")));
  EXPECT_FALSE(v.Validate(J(R"({"name": "ann", "age": 3.5})")));
  EXPECT_FALSE(v.Validate(J(R"({"name": "ann", "age": 3, "extra": 1})")));
  EXPECT_FALSE(v.Validate(J(R"({"name": "ann", "age": 3, "tags": ["x", "x"]})")));
  EXPECT_FALSE(v.Validate(J(R"({"name": "ann", "age": 3, "kind": "c"})")));
  EXPECT_FALSE(v.Validate(J(R"({"name": "ann", "age": 3, "score": 0.7})")));
  EXPECT_FALSE(v.Validate(J(R"([])")));
}

TEST(SchemaTest, ErrorShapeAndPaths) {
  Validator v = MustCompile(R"({
    "properties": {
      "a/b": {"type": "object", "properties": {"list": {"items": {"type": "integer"}}}},
      "n": {"minimum": 5}
    },
    "required": ["zz"]
  })");
  std::vector<ValidationError> errors;
  EXPECT_FALSE(v.Validate(J(R"({"a/b": {"list": [1, "x"]}, "n": 2})"), &errors));
  ASSERT_EQ(errors.size(), 3u);
  bool saw_type = false;
  for (const auto& e : errors) {
    if (e.keyword == "type") {
      saw_type = true;
      EXPECT_EQ(e.instance_path, "/a~1b/list/1");
      EXPECT_EQ(e.schema_path, "/properties/a~1b/properties/list/items/type");
      EXPECT_EQ(e.message, "expected integer, got string");
    } else if (e.keyword == "minimum") {
      EXPECT_EQ(e.instance_path, "/n");
      EXPECT_EQ(e.schema_path, "/properties/n/minimum");
      EXPECT_EQ(e.message, "2 is less than the minimum 5");
    } else {
      EXPECT_EQ(e.keyword, "required");
      EXPECT_EQ(e.instance_path, "");
      EXPECT_EQ(e.schema_path, "/required");
      EXPECT_NE(e.message.find("zz"), std::string::npos);
    }
  }
  EXPECT_TRUE(saw_type);
}

TEST(SchemaTest, ValidateWithoutErrorList) {
  Validator v = MustCompile(R"({"type": "string"})");
  EXPECT_TRUE(v.Validate(J(R"("x")")));
  EXPECT_FALSE(v.Validate(J("1")));
}


TEST(SchemaTest, RequiredListsEveryMissingProperty) {
  Validator v = MustCompile(R"({"required": ["a", "b", "c"]})");
  std::vector<ValidationError> errors;
  EXPECT_FALSE(v.Validate(J(R"({"b": 1})"), &errors));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].message, "missing required property \"a\"");
  EXPECT_EQ(errors[1].message, "missing required property \"c\"");

  // Same result when every required name is a declared property (checked in the same pass).
  Validator declared = MustCompile(
      R"({"properties": {"a": {}, "b": {}, "c": {}}, "required": ["a", "b", "c"]})");
  errors.clear();
  EXPECT_FALSE(declared.Validate(J(R"({"b": 1})"), &errors));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].keyword, "required");
  EXPECT_EQ(errors[0].schema_path, "/required");
  EXPECT_EQ(errors[0].instance_path, "");
  EXPECT_EQ(errors[0].message, "missing required property \"a\"");
  EXPECT_EQ(errors[1].message, "missing required property \"c\"");
  EXPECT_TRUE(declared.Validate(J(R"({"c": 1, "a": 2, "b": 3})")));
  EXPECT_TRUE(declared.Validate(J(R"([1])")));
}

// No message echoes more than 64 characters of the offending value, whatever the keyword.
TEST(SchemaTest, MessagesEchoAtMost64Characters) {
  const std::string long_text(5000, 'x');
  Validator v = MustCompile(R"({
    "properties": {
      "a": {"maxLength": 3},
      "b": {"pattern": "^y"},
      "c": {"enum": ["y"]},
      "d": {"const": "y"},
      "e": {"format": "email"},
      "f": {"type": "integer"},
      "g": {"propertyNames": {"maxLength": 3}}
    },
    "additionalProperties": false
  })");
  bj::object instance;
  for (const char* key : {"a", "b", "c", "d", "e", "f"}) instance[key] = long_text;
  instance["g"] = bj::object{{long_text, 1}};
  instance[long_text] = 1;  // not allowed: the key is echoed
  std::vector<ValidationError> errors;
  EXPECT_FALSE(v.Validate(instance, &errors));
  EXPECT_GE(errors.size(), 8u);
  for (const auto& e : errors) {
    EXPECT_EQ(e.message.find(std::string(65, 'x')), std::string::npos)
        << e.keyword << ": " << e.message.size() << " chars";
    EXPECT_LT(e.message.size(), 200u) << e.keyword;
  }
}

TEST(SchemaTest, ErrorsAreCappedAtMaxErrors) {
  Validator v = MustCompile(R"({"items": {"type": "string"}})");
  bj::array many;
  for (int i = 0; i < 1000; ++i) many.push_back(i);
  std::vector<ValidationError> errors;
  EXPECT_FALSE(v.Validate(bj::value(many), &errors));
  EXPECT_EQ(errors.size(), 100u);
  EXPECT_EQ(errors.back().instance_path, "/99");

  Options options;
  options.max_errors = 5;
  Validator capped = MustCompile(R"({"items": {"type": "string"}})", options);
  errors.clear();
  EXPECT_FALSE(capped.Validate(bj::value(many), &errors));
  EXPECT_EQ(errors.size(), 5u);
}

TEST(SchemaTest, FormatAssertsByDefault) {
  Validator strict = MustCompile(R"({"format": "email"})");
  EXPECT_FALSE(strict.Validate(J(R"("not an email")")));
  EXPECT_TRUE(strict.Validate(J(R"("joe@example.com")")));
  EXPECT_TRUE(strict.Validate(J("42")));  // formats apply to strings only

  for (const char* format : {"date-time", "date", "time", "duration", "hostname", "ipv4", "ipv6",
                             "uri", "uri-reference", "uuid", "regex"}) {
    Validator v = MustCompile(R"({"format": ")" + std::string(format) + R"("})");
    EXPECT_FALSE(v.Validate(J(R"("\\ not valid [")"))) << format;
  }

  Options annotate;
  annotate.format = FormatMode::kAnnotate;
  Validator lenient = MustCompile(R"({"format": "email"})", annotate);
  EXPECT_TRUE(lenient.Validate(J(R"("not an email")")));

  Validator unknown = MustCompile(R"({"format": "x-unknown"})");
  EXPECT_TRUE(unknown.Validate(J(R"("anything")")));
}

TEST(SchemaTest, RemoteRefIsRefusedUnlessRegistered) {
  const char* schema = R"({"$ref": "https://schemas.example.com/person.json"})";
  auto refused = Validator::Compile(J(schema));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(refused.error().message.find("never fetches"), std::string::npos)
      << refused.error().message;
  EXPECT_NE(refused.error().message.find("/$ref"), std::string::npos) << refused.error().message;

  Registry registry;
  registry.Add("https://schemas.example.com/person.json",
               J(R"({"type": "object", "required": ["name"]})"));
  Validator v = MustCompile(schema, {}, &registry);
  EXPECT_TRUE(v.Validate(J(R"({"name": "x"})")));
  EXPECT_FALSE(v.Validate(J(R"({})")));

  auto relative = Validator::Compile(J(R"({"$ref": "other.json#/x"})"));
  ASSERT_FALSE(relative.ok());
  EXPECT_NE(relative.error().message.find("unresolvable"), std::string::npos);
}

TEST(SchemaTest, MetaschemasAreBuiltIn) {
  Validator meta = MustCompile(R"({"$ref": "https://json-schema.org/draft/2020-12/schema"})");
  EXPECT_TRUE(meta.Validate(J(R"({"type": "string", "minLength": 2})")));
  EXPECT_FALSE(meta.Validate(J(R"({"type": "strin"})")));
  EXPECT_FALSE(meta.Validate(J(R"({"minLength": -1})")));
}

TEST(SchemaTest, InvalidSchemasAreCompileErrors) {
  for (const char* schema : {
           R"({"type": "strin"})",
           R"({"minLength": -1})",
           R"({"multipleOf": 0})",
           R"({"properties": {"a": 5}})",
           R"({"allOf": []})",
           R"({"pattern": "(unclosed"})",
           R"({"$schema": "http://example.com/unknown-meta"})",
       }) {
    auto v = Validator::Compile(J(schema));
    ASSERT_FALSE(v.ok()) << schema;
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument) << schema;
  }
}

TEST(SchemaTest, PatternsRe2CannotRunAreCompileErrors) {
  for (const char* pattern : {"a(?=b)", "(?<!a)b", "(a)\\\\1", "a{1001}"}) {
    auto v = Validator::Compile(J(R"({"pattern": ")" + std::string(pattern) + R"("})"));
    ASSERT_FALSE(v.ok()) << pattern;
    EXPECT_NE(v.error().message.find("not supported"), std::string::npos) << v.error().message;
  }
  // ECMA-262 classes are translated: \d is ASCII only, \s includes U+00A0.
  Validator digits = MustCompile(R"({"pattern": "^\\d+$"})");
  EXPECT_TRUE(digits.Validate(J(R"("123")")));
  EXPECT_FALSE(digits.Validate(J(R"("\u0663")")));
  Validator space = MustCompile(R"({"pattern": "^\\s$"})");
  EXPECT_TRUE(space.Validate(J(R"("\u00a0")")));
  Validator letter = MustCompile(R"({"pattern": "^\\p{L}+$"})");
  EXPECT_TRUE(letter.Validate(J(R"("\u00e9t\u00e9")")));
}

TEST(SchemaTest, NumbersInMessagesAreReadable) {
  Validator v = MustCompile(R"({"maximum": 3, "multipleOf": 0.5})");
  std::vector<ValidationError> errors;
  EXPECT_FALSE(v.Validate(J("4.25"), &errors));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].message, "4.25 is not a multiple of 0.5");
  EXPECT_EQ(errors[1].message, "4.25 is greater than the maximum 3");
}

TEST(SchemaTest, LengthCountsCodePoints) {
  Validator v = MustCompile(R"({"minLength": 2, "maxLength": 2})");
  EXPECT_TRUE(v.Validate(J(R"("\ud83d\udca9\ud83d\udca9")")));
  EXPECT_FALSE(v.Validate(J(R"("\ud83d\udca9")")));
}

TEST(SchemaTest, Numbers) {
  Validator integer = MustCompile(R"({"type": "integer"})");
  EXPECT_TRUE(integer.Validate(J("1.0")));
  EXPECT_TRUE(integer.Validate(J("18446744073709551615")));
  EXPECT_TRUE(integer.Validate(J("1e300")));
  EXPECT_FALSE(integer.Validate(J("1.5")));
  Validator max = MustCompile(R"({"maximum": 9007199254740992})");
  EXPECT_FALSE(max.Validate(J("9007199254740993")));  // exact, not via double
  Validator tenth = MustCompile(R"({"multipleOf": 0.1})");
  EXPECT_TRUE(tenth.Validate(J("0.3")));
  EXPECT_TRUE(tenth.Validate(J("12345.6")));
  EXPECT_FALSE(tenth.Validate(J("0.35")));
  Validator big = MustCompile(R"({"multipleOf": 4294967296})");
  EXPECT_TRUE(big.Validate(J("18446744069414584320")));
  EXPECT_FALSE(big.Validate(J("18446744069414584321")));
}

TEST(SchemaTest, DraftSevenByOptionOrSchemaKeyword) {
  Options seven;
  seven.default_draft = Draft::k7;
  Validator v = MustCompile(R"({"items": [{"type": "string"}], "additionalItems": false})", seven);
  EXPECT_TRUE(v.Validate(J(R"(["a"])")));
  EXPECT_FALSE(v.Validate(J(R"(["a", 1])")));
  Validator by_keyword = MustCompile(
      R"({"$schema": "http://json-schema.org/draft-07/schema#",
          "definitions": {"s": {"type": "string"}}, "$ref": "#/definitions/s", "minLength": 5})");
  EXPECT_TRUE(by_keyword.Validate(J(R"("ab")")));  // draft-7: siblings of $ref are ignored
}

TEST(SchemaTest, UnevaluatedPropertiesSeeThroughRefsAndCombinators) {
  Validator v = MustCompile(R"({
    "$defs": {"base": {"properties": {"id": {"type": "integer"}}}},
    "$ref": "#/$defs/base",
    "anyOf": [{"properties": {"a": true}}, {"properties": {"b": true}}],
    "unevaluatedProperties": false
  })");
  EXPECT_TRUE(v.Validate(J(R"({"id": 1, "a": 1, "b": 2})")));
  std::vector<ValidationError> errors;
  EXPECT_FALSE(v.Validate(J(R"({"id": 1, "c": 1})"), &errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].keyword, "unevaluatedProperties");
  EXPECT_EQ(errors[0].instance_path, "/c");
}

// ---- hostile schemas and instances ----

std::string Nested(const std::string& open, const std::string& leaf, const std::string& close,
                   int depth) {
  std::string out;
  for (int i = 0; i < depth; ++i) out += open;
  out += leaf;
  for (int i = 0; i < depth; ++i) out += close;
  return out;
}

TEST(SchemaHostileTest, DeeplyNestedSchemaIsALimitError) {
  bj::value schema = J(Nested(R"({"items":)", "true", "}", 10000));
  auto v = Validator::Compile(schema);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().code, ErrorCode::kLimitExceeded);
  // Nesting in a value (const) counts as well.
  auto c = Validator::Compile(J(R"({"const": )" + Nested("[", "1", "]", 10000) + "}"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, ErrorCode::kLimitExceeded);
}

TEST(SchemaHostileTest, DeeplyNestedInstanceIsBounded) {
  bj::value deep = J(Nested("[", "1", "]", 10000));
  Validator recursive = MustCompile(R"({"items": {"$ref": "#"}})");
  std::vector<ValidationError> errors;
  EXPECT_FALSE(recursive.Validate(deep, &errors));
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors.back().keyword, "limit");
  for (const char* schema : {R"({"uniqueItems": true})", R"({"const": 1})", R"({"enum": [1, [1]]})"}) {
    Validator v = MustCompile(schema);
    EXPECT_FALSE(v.Validate(bj::value(bj::array{deep, deep}))) << schema;
  }
  // Legitimate recursion up to the instance depth bound works, even in sanitizer builds.
  Validator tree = MustCompile(R"({"$defs": {"node": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
                                  "allOf": [{"$ref": "#/$defs/node"}]})");
  std::vector<ValidationError> tree_errors;
  EXPECT_TRUE(tree.Validate(J(Nested("[", "", "]", 120)), &tree_errors))
      << (tree_errors.empty() ? "" : tree_errors[0].message);
  Validator shallow = MustCompile(R"({"type": "array"})");
  EXPECT_TRUE(shallow.Validate(deep));  // nothing descends: no limit reached
}

TEST(SchemaHostileTest, RefCyclesTerminate) {
  for (const char* schema : {
           R"({"$ref": "#"})",
           R"({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})",
           R"({"not": {"$ref": "#"}})",
           R"({"anyOf": [{"$ref": "#"}, {"type": "string"}]})",
           R"({"$dynamicAnchor": "x", "$dynamicRef": "#x"})",
       }) {
    Validator v = MustCompile(schema);
    std::vector<ValidationError> errors;
    EXPECT_FALSE(v.Validate(J("1"), &errors)) << schema;
    ASSERT_FALSE(errors.empty()) << schema;
    EXPECT_EQ(errors.back().keyword, "limit") << schema;
    EXPECT_FALSE(v.Validate(J("1"))) << schema;
  }
}

TEST(SchemaHostileTest, ExponentialSchemaHitsTheEvaluationBudget) {
  // Each level references the next twice: 2^40 evaluations without a budget.
  std::string defs;
  for (int i = 0; i < 40; ++i) {
    std::string next = "#/$defs/d" + std::to_string(i + 1);
    defs += "\"d" + std::to_string(i) + R"(": {"anyOf": [{"$ref": ")" + next + R"("}, {"$ref": ")" +
            next + R"("}]},)";
  }
  defs += R"("d40": false)";
  std::string schema = R"({"$defs": {)" + defs + R"(}, "$ref": "#/$defs/d0"})";
  Options options;
  options.max_evaluations = 100000;
  Validator v = MustCompile(schema, options);
  auto start = std::chrono::steady_clock::now();
  std::vector<ValidationError> errors;
  EXPECT_FALSE(v.Validate(J("1"), &errors));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_FALSE(errors.empty());
  EXPECT_EQ(errors.back().keyword, "limit");
}

TEST(SchemaHostileTest, HugeAndTinyMultipleOf) {
  Validator huge = MustCompile(R"({"multipleOf": 1e308})");
  EXPECT_TRUE(huge.Validate(J("1e308")));
  EXPECT_TRUE(huge.Validate(J("0")));
  EXPECT_FALSE(huge.Validate(J("5")));
  EXPECT_FALSE(huge.Validate(J("1.5e308")));
  Validator tiny = MustCompile(R"({"multipleOf": 1e-308})");
  EXPECT_TRUE(tiny.Validate(J("1")));
  (void)tiny.Validate(J("1e308"));  // quotient overflows: exact fmod, no hang
  Validator denormal = MustCompile(R"({"multipleOf": 5e-324})");
  (void)denormal.Validate(J("1.7976931348623157e308"));
  Validator integer_overflow = MustCompile(R"({"type": "integer", "multipleOf": 0.5})");
  EXPECT_TRUE(integer_overflow.Validate(J("1e308")));
}

TEST(SchemaHostileTest, PathologicalPatternsRunInLinearTime) {
  Validator v = MustCompile(R"({"pattern": "^(a+)+$"})");
  std::string input(100000, 'a');
  input += 'b';
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(v.Validate(bj::value(input)));
  Validator w = MustCompile(R"({"patternProperties": {"(x|x|x)*y": true}, "additionalProperties": false})");
  EXPECT_FALSE(w.Validate(bj::value(bj::object{{std::string(50000, 'x'), 1}})));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  // A pattern whose program is too large for RE2 is a compile error, not a hang.
  auto big = Validator::Compile(J(R"({"pattern": "((a{1000}){1000}){1000}"})"));
  EXPECT_FALSE(big.ok());
}

TEST(SchemaHostileTest, PatternCountIsBounded) {
  std::string distinct = R"({"patternProperties": {)";
  std::string same = R"({"properties": {)";
  for (int i = 0; i < 1001; ++i) {
    distinct += (i ? "," : "") + std::string(R"("^a)") + std::to_string(i) + R"($": true)";
    same += (i ? "," : "") + std::string(R"("p)") + std::to_string(i) + R"(": {"pattern": "^[a-z]+$"})";
  }
  auto too_many = Validator::Compile(J(distinct + "}}"));
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, ErrorCode::kLimitExceeded);
  EXPECT_TRUE(Validator::Compile(J(same + "}}")).ok());  // identical patterns are shared
}

TEST(SchemaHostileTest, LargeUniqueItemsIsNotQuadratic) {
  Validator v = MustCompile(R"({"uniqueItems": true})");
  bj::array items;
  for (int i = 0; i < 200000; ++i) items.push_back(i);
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(v.Validate(bj::value(items)));
  items.push_back(1.0);  // equal to 1
  EXPECT_FALSE(v.Validate(bj::value(items)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(SchemaTest, ConcurrentValidation) {
  Validator v = MustCompile(R"({"type": "object", "properties": {"a": {"pattern": "^x+$"}}})");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (!v.Validate(J(R"({"a": "xxx"})")) || v.Validate(J(R"({"a": "y"})"))) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace rampart::schema
