// Shared fixture for the expression tests: a scope with inputs, steps and a secret.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <string_view>

#include "rampart/core/json.h"
#include "rampart/expr/expr.h"

namespace rampart::expr {

inline constexpr std::string_view kSecret = "s3cr3t-T0KEN-value";

inline boost::json::value J(std::string_view text) {
  auto v = json::Parse(text);
  RAMPART_CHECK(v.ok());
  return std::move(v).value();
}

class ExprTest : public ::testing::Test {
 protected:
  ExprTest()
      : roots_(J(R"({
          "inputs": {"amount": 150, "price": 2.5, "status": "active", "name": "Ada Lovelace",
                     "tags": ["a", "b", "c"], "empty": "", "zero": 0, "flag": true, "nul": null,
                     "nested": {"a": {"b": {"c": 42}}},
                     "items": [{"id": 1, "kind": "x"}, {"id": 2, "kind": "y"}, {"id": 3, "kind": "x"}],
                     "obj": {"k": "v", "k2": 2}, "nums": [3, 1, 2], "words": ["b", "a", "c"],
                     "when": "2024-03-05T07:08:09Z", "text": "{{ secrets.token }}",
                     "customer": {"address": {"city": "Paris"}}},
          "steps": {"check": {"output": {"ok": true, "items": [10, 20, 30]}, "status": "succeeded"}},
          "secrets": {"token": "s3cr3t-T0KEN-value", "num": 7},
          "item": {"x": 1}, "index": 2})")
                   .as_object()),
        scope_(&roots_, {"secrets"}) {}

  static CompileOptions Secrets() {
    CompileOptions o;
    o.allow_secrets = true;
    return o;
  }

  Result<Value> Run(std::string_view src, const CompileOptions& options = {}, Trace* trace = nullptr) {
    auto e = Expression::Compile(src, options);
    if (!e.ok()) return std::move(e).error();
    return e->Evaluate(scope_, trace);
  }

  // Evaluates and compares with the JSON text `expected` (type-strict: 3 != 3.0).
  ::testing::AssertionResult Is(std::string_view src, std::string_view expected,
                                const CompileOptions& options = {}) {
    auto v = Run(src, options);
    if (!v.ok()) {
      return ::testing::AssertionFailure()
             << src << " failed: " << v.error().code_name() << ": " << v.error().message;
    }
    boost::json::value want = J(expected);
    if (v->json != want) {
      return ::testing::AssertionFailure() << src << " = " << boost::json::serialize(v->json)
                                           << ", want " << boost::json::serialize(want);
    }
    return ::testing::AssertionSuccess();
  }

  // Expects compile or evaluation to fail with `code`.
  ::testing::AssertionResult Fails(std::string_view src, ErrorCode code,
                                   const CompileOptions& options = {}) {
    auto v = Run(src, options);
    if (v.ok()) {
      return ::testing::AssertionFailure() << src << " succeeded with "
                                           << boost::json::serialize(v->json);
    }
    if (v.error().code != code) {
      return ::testing::AssertionFailure() << src << " failed with " << v.error().code_name()
                                           << " (" << v.error().message << "), want "
                                           << ErrorCodeName(code);
    }
    return ::testing::AssertionSuccess();
  }

  boost::json::object roots_;
  ObjectScope scope_;
};

}  // namespace rampart::expr
