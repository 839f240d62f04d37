// The compiled form of one expression: a flat, immutable node table evaluated by
// evaluator.cc. Chains (`a + b - c`, `x and y and z`, `v | f | g`, `a.b[c].d`) are n-ary
// nodes evaluated with loops, so the evaluator's recursion depth is bounded by the
// parser's nesting bound, never by the length of the source.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rampart/expr/expr.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace rampart::expr::internal {

enum class NodeKind : uint8_t {
  kConst,    // constants[constant]
  kPath,     // root name (or kids[0]) followed by segments
  kArray,    // kids are the elements
  kObject,   // keys[i] : kids[i]
  kNeg,      // -kids[0]
  kNot,      // not kids[0]
  kArith,    // kids[0] ops[0] kids[1] ops[1] kids[2] ...
  kCompare,  // kids[0] op kids[1] (==, !=, <, <=, >, >=, in, not in)
  kAnd,      // kids joined by `and` (short-circuit)
  kOr,       // kids joined by `or` (short-circuit)
  kCond,     // kids[0] ? kids[1] : kids[2]
  kFilters,  // kids[0] piped through `filters`; filter arguments are other kids
};

enum class Op : uint8_t { kAdd, kSub, kMul, kDiv, kMod, kEq, kNe, kLt, kLe, kGt, kGe, kIn, kNotIn };

// Every filter of spec/expressions.md; there are no others.
enum class FilterId : uint8_t {
  kUpper, kLower, kTrim, kLength, kReplace, kSplit, kJoin, kStartsWith, kEndsWith,
  kContains, kSlice, kMatches, kUrlEncode, kBase64Encode, kBase64Decode, kSha256,
  kAbs, kRound, kFloor, kCeil, kInt, kFloat, kMin, kMax, kSum,
  kString, kJson, kFromJson, kBool, kDefault,
  kKeys, kValues, kFirst, kLast, kSort, kUnique, kReverse, kMap, kSelect, kFlatten, kItems,
  kDate,
};

struct Position {
  uint32_t line = 1;
  uint32_t column = 1;
};

struct PathSegment {
  enum class Kind : uint8_t { kName, kIndex, kDynamic };
  Kind kind = Kind::kName;
  std::string name;    // kName (`.name` or a literal string index)
  int64_t index = 0;   // kIndex (a literal integer index)
  uint32_t expr = 0;   // kDynamic: node computing the key or index
  Position pos;
};

struct FilterCall {
  FilterId id = FilterId::kUpper;
  uint32_t first_arg = 0;  // index into the node's kids
  uint32_t nargs = 0;
  std::shared_ptr<const re2::RE2> regex;  // `matches` with a literal pattern
  Position pos;
};

// Members are ordered so that what every evaluation reads (kind, the path fields, kids)
// shares the node's first cache line: with many compiled expressions (one workflow's
// steps), evaluation is bound by cache misses on this data more than by instructions.
struct Node {
  NodeKind kind = NodeKind::kConst;
  Op op = Op::kAdd;  // kCompare
  bool static_path = false;  // kPath: rooted in the scope, only literal names/indices
  // kPath: `root_slot` >= 0 reads roots[root_slot] from the scope; -1 starts at kids[0].
  int32_t root_slot = -1;
  Position pos;
  uint32_t constant = 0;
  std::vector<PathSegment> segments;
  std::vector<uint32_t> kids;
  std::vector<Op> ops;            // kArith: ops[i] joins kids[i] and kids[i + 1]
  std::vector<Position> op_pos;   // kArith: where each operator is
  std::vector<std::string> keys;  // kObject
  std::vector<FilterCall> filters;
};

// Evaluation reads the members before `source` (see Node).
struct Program {
  std::vector<Node> nodes;
  std::vector<boost::json::value> constants;
  std::vector<std::string> roots;  // distinct root names read from the scope
  uint32_t root = 0;               // entry node
  bool uses_secrets = false;
  Limits limits;
  std::string source;  // trimmed source text
  std::vector<std::string> referenced_steps;
};

}  // namespace rampart::expr::internal
