// Fuzzes the JSON Schema compiler and validator. The input is a schema and an instance:
// either "<schema JSON>\0<instance JSON>", or one JSON array [schema, instance]. The
// first byte of a NUL-split input picks options (draft, format mode).
//
// Beyond crashes, sanitizer reports and hangs, these invariants are findings:
//   - Validate with and without an error list agree;
//   - an invalid instance comes with at least one error, a valid one with none;
//   - no more than Options::max_errors errors.
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "rampart/core/json.h"
#include "rampart/schema/schema.h"

namespace {

namespace bj = boost::json;

void Check(const bj::value& schema, const bj::value& instance, const rampart::schema::Options& options) {
  auto validator = rampart::schema::Validator::Compile(schema, options);
  if (!validator.ok()) {
    if (validator.error().message.empty()) __builtin_trap();
    return;
  }
  std::vector<rampart::schema::ValidationError> errors;
  bool valid = validator->Validate(instance, &errors);
  bool fast = validator->Validate(instance);
  if (valid != fast) __builtin_trap();
  if (valid != errors.empty()) __builtin_trap();
  if (errors.size() > options.max_errors) __builtin_trap();
  // The schema validated against itself exercises more shapes.
  (void)validator->Validate(schema);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  rampart::json::ParseLimits limits;
  limits.max_bytes = 1 << 16;
  limits.max_depth = 256;  // past the validator's own bounds (128)
  rampart::schema::Options options;
  options.max_evaluations = 200000;  // keeps exponential schemas fast under the fuzzer
  options.max_errors = 20;

  size_t nul = text.find('\0');
  if (nul != std::string_view::npos) {
    if (nul > 0) {
      unsigned char mode = static_cast<unsigned char>(text[0]);
      if (mode == '7') {
        options.default_draft = rampart::schema::Draft::k7;
        text.remove_prefix(1);
        --nul;
      } else if (mode == 'a') {
        options.format = rampart::schema::FormatMode::kAnnotate;
        text.remove_prefix(1);
        --nul;
      }
    }
    auto schema = rampart::json::Parse(text.substr(0, nul), limits);
    auto instance = rampart::json::Parse(text.substr(nul + 1), limits);
    if (!schema.ok() || !instance.ok()) return 0;
    Check(*schema, *instance, options);
    return 0;
  }
  auto both = rampart::json::Parse(text, limits);
  if (!both.ok()) return 0;
  if (both->is_array() && both->get_array().size() == 2) {
    Check(both->get_array()[0], both->get_array()[1], options);
  } else {
    Check(*both, *both, options);
  }
  return 0;
}
