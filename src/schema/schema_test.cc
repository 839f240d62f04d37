#include "rampart/schema/schema.h"

#include <gtest/gtest.h>

#include <chrono>
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

}  // namespace
}  // namespace rampart::schema
