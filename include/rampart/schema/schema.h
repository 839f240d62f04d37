// JSON Schema validation (draft 2020-12, and draft-07 for compatibility).
//
// A schema is compiled once into an immutable Validator that may be used concurrently
// from many threads. Remote `$ref`s are never fetched: they resolve only against
// schemas registered in a Registry, otherwise compilation fails with a clear error.
// `pattern`/`patternProperties` use RE2 (linear time). Hostile schemas and instances are
// bounded (depth, $ref cycles, error count) and never hang or crash the validator.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/result.h"

namespace rampart::schema {

enum class Draft { k2020_12, k7 };

enum class FormatMode {
  kAssert,    // Rampart's default: unknown-to-be-valid formats fail validation
  kAnnotate,  // the standard's annotation-only behaviour
};

struct Options {
  Draft default_draft = Draft::k2020_12;  // when the schema has no $schema
  FormatMode format = FormatMode::kAssert;
  size_t max_schema_depth = 128;
  size_t max_instance_depth = 128;
  size_t max_errors = 100;
  // Subschema evaluations allowed per Validate call. Bounds the work a hostile schema
  // can cause (e.g. nested anyOf reaching the same definitions exponentially often);
  // past it validation fails with a "limit" error.
  size_t max_evaluations = 10'000'000;
};

struct ValidationError {
  std::string instance_path;  // JSON Pointer into the instance
  std::string schema_path;    // JSON Pointer into the schema (keyword location)
  std::string keyword;
  std::string message;        // echoes at most 64 characters of the offending value
};

// Schemas that `$ref` may reach by URI (e.g. the test suite's remotes). Not thread-safe
// while being filled; read-only afterwards.
class Registry {
 public:
  Registry();
  ~Registry();
  Registry(Registry&&) noexcept;
  Registry& operator=(Registry&&) noexcept;

  // Registers a schema document under an absolute URI.
  void Add(std::string uri, boost::json::value schema);

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

namespace internal {
struct CompiledSchema;
}

class Validator {
 public:
  // Errors: kInvalidArgument for a malformed schema or an unresolvable $ref (with the
  // schema path), kLimitExceeded for a schema past the bounds.
  static Result<Validator> Compile(const boost::json::value& schema, const Options& options = {},
                                   const Registry* registry = nullptr);

  // True when valid. On failure, appends up to Options::max_errors errors when
  // `errors` is not null.
  bool Validate(const boost::json::value& instance,
                std::vector<ValidationError>* errors = nullptr) const;

 private:
  std::shared_ptr<const internal::CompiledSchema> compiled_;
};

}  // namespace rampart::schema
