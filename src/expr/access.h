// Builds the public handle types from compiled parts (they have no public constructors
// taking internals, to keep the header light).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "expr/program.h"
#include "rampart/expr/expr.h"

namespace rampart::expr::internal {

// A template string split at its `{{ }}` parts: texts[i] precedes expressions[i], and
// texts has one more element than expressions.
struct TemplateParts {
  bool literal = true;
  bool single = false;
  std::string text;  // the whole string when literal
  std::vector<std::string> texts;
  std::vector<Expression> expressions;
  Limits limits;
};

struct JsonTemplateNode {
  enum class Kind : uint8_t { kConst, kTemplate, kArray, kObject };
  Kind kind = Kind::kConst;
  // kTemplate that is exactly one expression: its program (owned by `tmpl`), evaluated
  // directly, which saves the walk through the template's parts.
  const Program* program = nullptr;
  std::vector<JsonTemplateNode> children;
  std::vector<std::string> keys;  // kObject
  boost::json::value constant;
  Template tmpl;
  Limits limits;
  // The serialized bytes of the node's parts that do not change from one evaluation to
  // the next: constants, keys, brackets and separators (templates count 0).
  size_t fixed_bytes = 0;
};

struct Access {
  static Expression MakeExpression(std::shared_ptr<const Program> p) {
    Expression e;
    e.program_ = std::move(p);
    return e;
  }
  static const Program* GetProgram(const Expression& e) { return e.program_.get(); }
  static Template MakeTemplate(std::shared_ptr<const TemplateParts> p) {
    Template t;
    t.parts_ = std::move(p);
    return t;
  }
  // Null for a default-constructed Template.
  static const TemplateParts* GetParts(const Template& t) { return t.parts_.get(); }
  static JsonTemplate MakeJsonTemplate(std::shared_ptr<const JsonTemplateNode> n) {
    JsonTemplate t;
    t.root_ = std::move(n);
    return t;
  }
};

}  // namespace rampart::expr::internal
