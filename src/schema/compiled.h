// The compiled form of a JSON Schema: a graph of Nodes (one per schema location that
// evaluation can reach), each a flat list of Keywords evaluated in a fixed order.
// Built once by the compiler (compiler.cc), read concurrently by the evaluator
// (evaluator.cc); nothing here is mutated after compilation.
#pragma once

#include <re2/re2.h>

#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rampart/schema/schema.h"
#include "schema/ecma_regex.h"
#include "schema/formats.h"

namespace rampart::schema::internal {

namespace bj = boost::json;

// The dialects the compiler understands. 2019-09 is internal: it is only reachable through
// a `$schema` of a referenced resource (the suite's cross-draft tests), never an Option.
enum class Dialect : uint8_t { k2020_12, k2019_09, k7 };

// Type bits for the `type` keyword.
inline constexpr uint32_t kTypeNull = 1u << 0;
inline constexpr uint32_t kTypeBoolean = 1u << 1;
inline constexpr uint32_t kTypeObject = 1u << 2;
inline constexpr uint32_t kTypeArray = 1u << 3;
inline constexpr uint32_t kTypeNumber = 1u << 4;
inline constexpr uint32_t kTypeString = 1u << 5;
inline constexpr uint32_t kTypeInteger = 1u << 6;

struct Node;

// A schema resource (a document root or a subschema with an absolute `$id`).
struct Resource {
  std::string uri;  // absolute, without fragment
  // $dynamicAnchor name -> node, for $dynamicRef resolution through the dynamic scope.
  std::unordered_map<std::string, const Node*> dynamic_anchors;
};

enum class Kw : uint8_t {
  kFalse,  // the `false` schema
  kType,
  kConst,
  kEnum,
  kMultipleOf,
  kMaximum,
  kExclusiveMaximum,
  kMinimum,
  kExclusiveMinimum,
  kMaxLength,
  kMinLength,
  kPattern,
  kFormat,
  kContent,  // draft-7 contentEncoding (base64) / contentMediaType (application/json)
  kMaxItems,
  kMinItems,
  kUniqueItems,
  kMaxProperties,
  kMinProperties,
  kRequired,
  kDependentRequired,
  kObject,  // properties + patternProperties + additionalProperties, one pass
  kPropertyNames,
  kDependentSchemas,
  kPrefixItems,
  kItems,  // items from `start` on (2020-12 items, draft-7 object items or additionalItems)
  kContains,
  kRef,
  kDynamicRef,
  kAllOf,
  kAnyOf,
  kOneOf,
  kNot,
  kIf,
  kUnevaluatedItems,
  kUnevaluatedProperties,
};

// A compiled `pattern`: RE2, plus a direct matcher for the common simple shapes.
struct CompiledPattern {
  std::unique_ptr<const RE2> re2;
  bool has_simple = false;
  SimplePattern simple;

  bool Matches(std::string_view text) const {
    if (has_simple) return MatchSimplePattern(simple, text);
    // Unanchored search without submatches: RE2 runs its DFA only.
    return re2->Match(re2::StringPiece(text.data(), text.size()), 0, text.size(),
                      RE2::UNANCHORED, nullptr, 0);
  }
};

struct PropertyEntry {
  std::string_view name;  // points into a document held by CompiledSchema
  const Node* node = nullptr;
};

struct PatternEntry {
  std::shared_ptr<const CompiledPattern> regex;  // shared between identical patterns
  std::string source;
  const Node* node = nullptr;
  std::string path;  // schema path of this patternProperties member
};

struct ObjectGroup {
  std::vector<PropertyEntry> properties;  // in schema order
  std::unordered_map<std::string_view, uint32_t> index;  // name -> position in properties
  std::vector<PatternEntry> patterns;
  const Node* additional = nullptr;
  // `required` folded into the one pass over the members when every required name is one
  // of at most 64 properties: positions in `properties`, and their bit mask.
  std::vector<uint32_t> required;
  uint64_t required_mask = 0;
  std::string required_path;
  std::string properties_path;
  std::string additional_path;
};

struct DependentRequired {
  std::string property;
  std::vector<std::string> required;
};

struct DependentSchema {
  std::string property;
  const Node* node = nullptr;
};

struct Keyword {
  Kw kind = Kw::kFalse;
  const char* name = "";  // the keyword as written, for ValidationError::keyword
  std::string path;  // schema location of the keyword, e.g. "/properties/a/type"
  uint32_t types = 0;
  const bj::value* value = nullptr;  // const, enum (array), numeric limits
  uint64_t count = 0;                 // length / size limits, items start index
  uint64_t count2 = 0;                // maxContains
  bool flag = false;                  // uniqueItems, maxContains present
  const Node* child = nullptr;        // not, contains, items, if, $ref, unevaluated*
  const Node* then_node = nullptr;
  const Node* else_node = nullptr;
  std::vector<const Node*> children;  // allOf, anyOf, oneOf, prefixItems
  std::vector<std::string> names;     // required
  std::vector<DependentRequired> dependent_required;
  std::vector<DependentSchema> dependent_schemas;
  std::unique_ptr<ObjectGroup> object;
  std::shared_ptr<const CompiledPattern> regex;  // shared between identical patterns
  std::string source;  // pattern source, format name, $dynamicRef anchor name
  FormatKind format = FormatKind::kUnknown;
};

struct Node {
  std::vector<Keyword> keywords;
  std::string path;  // schema location of this subschema
  const Resource* resource = nullptr;
  bool unevaluated_properties = false;  // needs property annotations
  bool unevaluated_items = false;       // needs item annotations
  bool always_false = false;            // the `false` schema
  // No applicator keyword: evaluating it cannot recurse, so the evaluator skips the
  // bookkeeping (budget, depth, dynamic scope) that bounds recursion.
  bool leaf = false;
};

struct CompiledSchema {
  std::vector<std::unique_ptr<bj::value>> documents;
  std::vector<std::unique_ptr<Resource>> resources;
  std::vector<std::unique_ptr<Node>> nodes;
  const Node* root = nullptr;
  Options options;
};

// Evaluates; see schema.h for the contract.
bool Evaluate(const CompiledSchema& schema, const bj::value& instance,
              std::vector<ValidationError>* errors);

}  // namespace rampart::schema::internal
