// Tokenizer for one expression. Works on a slice of a larger text (a template) so that
// positions in error messages refer to the whole string the user wrote.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "expr/program.h"
#include "rampart/core/result.h"

namespace rampart::expr::internal {

enum class Tok : uint8_t {
  kEnd, kInt, kDouble, kString, kIdent,
  kLParen, kRParen, kLBracket, kRBracket, kLBrace, kRBrace,
  kDot, kComma, kColon, kQuestion, kPipe,
  kPlus, kMinus, kStar, kSlash, kPercent,
  kEq, kNe, kLt, kLe, kGt, kGe, kBang, kAndAnd, kOrOr,
};

struct Token {
  Tok kind = Tok::kEnd;
  Position pos;
  std::string_view text;  // identifiers and operators: the source bytes
  std::string str;        // kString: the decoded value
  int64_t i = 0;          // kInt
  double d = 0;           // kDouble
};

// Formats "line L, column C: message".
std::string PositionMessage(Position pos, std::string_view message);

// Tokenizes `source` (which starts at `start` in the user's text). Fails with
// kInvalidExpression on a malformed token or invalid UTF-8.
Result<std::vector<Token>> Tokenize(std::string_view source, Position start);

// Advances `pos` over `text` (lines and code points).
Position Advance(Position pos, std::string_view text);

}  // namespace rampart::expr::internal
