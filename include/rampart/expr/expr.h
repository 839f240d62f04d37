// Rampart's expression language (spec/expressions.md): `{{ expr }}` inside strings.
//
// The language is small and closed: JSON values, operators, and a fixed list of
// filters. There are no functions as values, host objects, prototypes or methods, so
// there is nothing to escape to. Every evaluation is bounded (Limits) and every error is
// returned as a Result; nothing here throws or aborts on user input.
//
// Secret taint: values read from `secrets.*` (or from any scope entry marked tainted)
// carry a taint bit through every operator and filter; Value::tainted reports it so the
// engine can redact or block the result. Compiling `secrets.*` without
// CompileOptions::allow_secrets fails with kForbiddenSecretAccess.
//
// Thread-safety: compiled objects are immutable and may be evaluated concurrently from
// many threads. Copies are cheap (shared immutable state).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/result.h"

namespace rampart::expr {

// Bounds of spec/expressions.md; a violation is kExpressionLimit.
struct Limits {
  size_t max_source_bytes = 4096;         // one expression's source
  size_t max_parse_depth = 64;            // nesting while parsing
  size_t max_steps = 100'000;             // evaluation steps per expression
  size_t max_value_bytes = 1 << 20;       // serialized size of any intermediate/final value
  size_t max_pattern_bytes = 256;         // `matches` pattern length
};

struct CompileOptions {
  // True only for connector credential fields (security.md section 1).
  bool allow_secrets = false;
  Limits limits;
  // When set, the only root names an expression may read (`secrets` is governed by
  // allow_secrets alone); any other name is kInvalidExpression, so a typo such as
  // `inptus.x` fails when the definition loads instead of reading null. Null: any name.
  // Must outlive the Compile call only.
  const std::vector<std::string>* names = nullptr;
};

// An evaluated value and whether any part of it came from a secret.
struct Value {
  boost::json::value json;
  bool tainted = false;
};

// One root name in scope. `value == nullptr` means the name is absent (reads as null).
struct ScopeEntry {
  const boost::json::value* value = nullptr;
  bool tainted = false;
};

// The read-only names an expression can see: inputs, steps, item/index (or the `as`
// name), trigger, run, secrets. Implementations must outlive the Evaluate call.
class Scope {
 public:
  virtual ~Scope() = default;
  virtual ScopeEntry Lookup(std::string_view name) const = 0;
};

// A Scope over a JSON object's members; members named in `tainted_roots` are tainted.
class ObjectScope final : public Scope {
 public:
  explicit ObjectScope(const boost::json::object* roots, std::vector<std::string> tainted_roots = {});
  ScopeEntry Lookup(std::string_view name) const override;

 private:
  const boost::json::object* roots_;
  std::vector<std::string> tainted_roots_;
};

// Records the values that decided an evaluation: each scope path read through static
// member/index access (e.g. "inputs.amount", "steps.check.output.items[0]") mapped to
// the value read. Tainted values are recorded as "***REDACTED***".
struct Trace {
  boost::json::object values;
};

namespace internal {
struct Program;    // compiled form of one expression
struct TemplateParts;
struct JsonTemplateNode;
struct Access;  // lets the implementation build these objects from compiled parts
}  // namespace internal

// One compiled expression: the text between `{{` and `}}`.
class Expression {
 public:
  // Errors: kInvalidExpression (message starts with "line L, column C: "),
  // kForbiddenSecretAccess, kExpressionLimit (source too long / too deep).
  static Result<Expression> Compile(std::string_view source, const CompileOptions& options = {});

  Result<Value> Evaluate(const Scope& scope, Trace* trace = nullptr) const;

  // The source text as written (trimmed).
  const std::string& source() const;
  bool uses_secrets() const;
  // Every `<id>` in a static `steps.<id>` access, for reference checks at load time.
  const std::vector<std::string>& referenced_steps() const;

 private:
  friend struct internal::Access;
  std::shared_ptr<const internal::Program> program_;
};

// A string that may contain `{{ }}` parts. A string that is exactly one `{{ expr }}`
// (whitespace around allowed) evaluates to the expression's JSON value; otherwise each
// part is rendered as text (strings as-is, other values as compact JSON) and the result
// is a string. A string without `{{` is a literal. Results are data: they are never
// parsed again as templates.
class Template {
 public:
  static Result<Template> Compile(std::string_view text, const CompileOptions& options = {});

  Result<Value> Evaluate(const Scope& scope, Trace* trace = nullptr) const;

  bool is_literal() const;
  bool is_single_expression() const;
  const std::vector<Expression>& expressions() const;

 private:
  friend struct internal::Access;
  std::shared_ptr<const internal::TemplateParts> parts_;
};

// A JSON tree (step `with`, `values`, `body`, run `output`) whose every string is a
// Template; object keys are literal.
class JsonTemplate {
 public:
  struct Failure {
    std::string pointer;  // JSON Pointer of the failing string, relative to the tree
    Error error;
  };
  // Collects every failing string into `failures` (all of them, not only the first)
  // and returns the first as the error.
  static Result<JsonTemplate> Compile(const boost::json::value& tree, const CompileOptions& options,
                                      std::vector<Failure>* failures = nullptr);

  Result<Value> Evaluate(const Scope& scope) const;
  // The same, and `*bytes` receives an upper bound of the serialized size of the result,
  // exact but for numbers with a fraction or exponent (counted at their longest, 24 bytes),
  // from the sizes measured for the value bound: the caller need not walk the value again.
  Result<Value> Evaluate(const Scope& scope, size_t* bytes) const;
  // The same, with the result's arrays, objects and strings allocated from `storage`:
  // a caller that keeps the value in a container of that storage moves it there without
  // a deep copy (boost::json copies on a move between different storages).
  Result<Value> Evaluate(const Scope& scope, size_t* bytes, boost::json::storage_ptr storage) const;

  bool is_constant() const;
  // Every step id referenced by any expression in the tree.
  std::vector<std::string> ReferencedSteps() const;

 private:
  friend struct internal::Access;
  std::shared_ptr<const internal::JsonTemplateNode> root_;
};

// Compiles a condition (`if`): either a bare expression ("inputs.x > 1") or a string that
// is exactly one `{{ expr }}`. Mixed text is kInvalidExpression.
Result<Expression> CompileCondition(std::string_view text, const CompileOptions& options = {});

// Truthiness of spec/expressions.md: null, false, 0, "", [], {} are falsy.
bool Truthy(const boost::json::value& v);

// Text rendering used by interpolation: strings as-is, everything else compact JSON.
std::string RenderText(const boost::json::value& v);

}  // namespace rampart::expr
