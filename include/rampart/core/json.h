// JSON helpers shared by every module. Rampart's value type is boost::json::value.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <string>
#include <string_view>

#include "rampart/core/result.h"

namespace rampart::json {

struct ParseLimits {
  size_t max_bytes = 1 << 20;  // input size
  size_t max_depth = 64;       // nesting of arrays/objects
  // A key twice in one object is an error ("duplicate key 'k' at /pointer") instead of
  // the last one silently winning, so every entry point (API bodies, definitions, webhook
  // payloads, from_json, the CLI's --input, JWTs) reads a document the same way, and the
  // way of a first-key-wins parser in front of Rampart can never differ from it unnoticed.
  // Costs a walk of the parsed value; false only for text Rampart serialized itself.
  bool reject_duplicate_keys = true;
};

// Parses untrusted JSON text (RFC 8259, strict: UTF-8 only, no lone surrogates, no
// comments, no trailing text, no number beyond a double). Errors (kInvalidArgument, or
// kLimitExceeded for the bounds) carry a sanitized message with the byte offset; never throws.
Result<boost::json::value> Parse(std::string_view text, const ParseLimits& limits = {});

// Compact serialization. Unlike boost::json::serialize, doubles use the shortest
// round-trip form a person expects ("99", "0.051", not "9.9E1"); non-finite -> null.
std::string Serialize(const boost::json::value& v);
// The same for an object or an array, without first copying it into a value (a run
// record is an object: converting it to a value would deep-copy it).
std::string Serialize(const boost::json::object& o);
std::string Serialize(const boost::json::array& a);
// Appends Serialize(v) to `out`.
void AppendSerialized(std::string& out, const boost::json::value& v);
void AppendSerialized(std::string& out, const boost::json::object& o);
void AppendSerialized(std::string& out, const boost::json::array& a);
// Appends `s` as a quoted, escaped JSON string.
void AppendQuoted(std::string& out, std::string_view s);

// The length of Serialize(v), stopping early once it exceeds `cap` (returns cap + 1 then).
// Cheap enough to bound intermediate values without building the string.
size_t SerializedSizeAtMost(const boost::json::value& v, size_t cap);
// The same with every double counted at its longest form (24 bytes) instead of formatted:
// at least the length of Serialize(v), exact without doubles, and cheaper (formatting a
// double is the costly part). For budgets, where an upper bound is what counts.
size_t SerializedSizeBoundAtMost(const boost::json::value& v, size_t cap);

// Escapes one JSON Pointer reference token (RFC 6901: ~ -> ~0, / -> ~1).
std::string PointerEscape(std::string_view token);

// Appends "/<escaped token>" or "/<index>" to a pointer.
std::string PointerAppend(std::string_view pointer, std::string_view token);
std::string PointerAppend(std::string_view pointer, size_t index);

// The JSON type name used in messages: "null", "boolean", "number", "string", "array", "object".
std::string_view TypeName(const boost::json::value& v);

// Truncates text for use inside an error message: at most `max_chars` code points,
// followed by "..." when cut. Never splits a UTF-8 sequence.
std::string Excerpt(std::string_view text, size_t max_chars = 64);

}  // namespace rampart::json
