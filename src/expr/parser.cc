#include "expr/parser.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <algorithm>
#include <array>

#include "expr/filters.h"
#include "expr/lexer.h"
#include "expr/text_codec.h"
#include "expr/value_ops.h"
#include "rampart/core/json.h"

namespace rampart::expr::internal {

namespace bj = boost::json;

namespace {

constexpr std::array<FilterInfo, 42> kFilters = {{
    {"upper", FilterId::kUpper, 0, 0},
    {"lower", FilterId::kLower, 0, 0},
    {"trim", FilterId::kTrim, 0, 0},
    {"length", FilterId::kLength, 0, 0},
    {"replace", FilterId::kReplace, 2, 2},
    {"split", FilterId::kSplit, 1, 1},
    {"join", FilterId::kJoin, 0, 1},
    {"starts_with", FilterId::kStartsWith, 1, 1},
    {"ends_with", FilterId::kEndsWith, 1, 1},
    {"contains", FilterId::kContains, 1, 1},
    {"slice", FilterId::kSlice, 1, 2},
    {"matches", FilterId::kMatches, 1, 1},
    {"url_encode", FilterId::kUrlEncode, 0, 0},
    {"base64_encode", FilterId::kBase64Encode, 0, 0},
    {"base64_decode", FilterId::kBase64Decode, 0, 0},
    {"sha256", FilterId::kSha256, 0, 0},
    {"abs", FilterId::kAbs, 0, 0},
    {"round", FilterId::kRound, 0, 1},
    {"floor", FilterId::kFloor, 0, 0},
    {"ceil", FilterId::kCeil, 0, 0},
    {"int", FilterId::kInt, 0, 0},
    {"float", FilterId::kFloat, 0, 0},
    {"min", FilterId::kMin, 0, 0},
    {"max", FilterId::kMax, 0, 0},
    {"sum", FilterId::kSum, 0, 0},
    {"string", FilterId::kString, 0, 0},
    {"json", FilterId::kJson, 0, 0},
    {"from_json", FilterId::kFromJson, 0, 0},
    {"bool", FilterId::kBool, 0, 0},
    {"default", FilterId::kDefault, 1, 1},
    {"keys", FilterId::kKeys, 0, 0},
    {"values", FilterId::kValues, 0, 0},
    {"first", FilterId::kFirst, 0, 0},
    {"last", FilterId::kLast, 0, 0},
    {"sort", FilterId::kSort, 0, 0},
    {"unique", FilterId::kUnique, 0, 0},
    {"reverse", FilterId::kReverse, 0, 0},
    {"map", FilterId::kMap, 1, 1},
    {"select", FilterId::kSelect, 2, 2},
    {"flatten", FilterId::kFlatten, 0, 0},
    {"items", FilterId::kItems, 0, 0},
    {"date", FilterId::kDate, 1, 1},
}};

bool IsKeyword(std::string_view s) {
  return s == "true" || s == "false" || s == "null" || s == "and" || s == "or" || s == "not" ||
         s == "in";
}

std::string Describe(const Token& t) {
  switch (t.kind) {
    case Tok::kEnd: return "end of expression";
    case Tok::kString: return "string literal";
    case Tok::kInt:
    case Tok::kDouble: return "number '" + json::Excerpt(t.text, 20) + "'";
    default: return "'" + json::Excerpt(t.text, 20) + "'";
  }
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, const CompileOptions& options, Program& prog)
      : toks_(std::move(tokens)), options_(options), prog_(prog) {}

  bool Run(uint32_t& root) {
    if (!ParseExpr(root)) return false;
    if (Peek().kind != Tok::kEnd) return Unexpected(Peek());
    return true;
  }

  Error TakeError() { return std::move(error_); }

 private:
  const Token& Peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, toks_.size() - 1);
    return toks_[i];
  }
  const Token& Advance() {
    const Token& t = toks_[pos_];
    if (pos_ + 1 < toks_.size()) ++pos_;
    return t;
  }
  bool IsIdent(const Token& t, std::string_view word) const {
    return t.kind == Tok::kIdent && t.text == word;
  }

  bool Fail(ErrorCode code, Position at, std::string_view message) {
    if (!failed_) {
      error_ = MakeError(code, PositionMessage(at, message));
      failed_ = true;
    }
    return false;
  }
  bool Unexpected(const Token& t) {
    return Fail(ErrorCode::kInvalidExpression, t.pos, "unexpected " + Describe(t));
  }
  bool Expect(Tok kind, const char* what) {
    if (Peek().kind != kind) {
      return Fail(ErrorCode::kInvalidExpression, Peek().pos,
                  std::string("expected ") + what + ", found " + Describe(Peek()));
    }
    Advance();
    return true;
  }

  uint32_t AddNode(Node node) {
    prog_.nodes.push_back(std::move(node));
    return static_cast<uint32_t>(prog_.nodes.size() - 1);
  }
  uint32_t AddConst(bj::value v, Position pos) {
    prog_.constants.push_back(std::move(v));
    Node n;
    n.kind = NodeKind::kConst;
    n.pos = pos;
    n.constant = static_cast<uint32_t>(prog_.constants.size() - 1);
    return AddNode(std::move(n));
  }
  bool IsConst(uint32_t id) const { return prog_.nodes[id].kind == NodeKind::kConst; }
  const bj::value& ConstOf(uint32_t id) const {
    return prog_.constants[prog_.nodes[id].constant];
  }

  // Every nested construct passes through here; the bound keeps the recursion (and the
  // evaluator's, which follows the same shape) shallow whatever the input.
  bool Enter(Position at) {
    if (++depth_ > options_.limits.max_parse_depth + 1) {
      return Fail(ErrorCode::kExpressionLimit, at,
                  "expression nested deeper than " +
                      std::to_string(options_.limits.max_parse_depth) + " levels");
    }
    return true;
  }
  void Leave() { --depth_; }

  // An empty `[]` or `{}` is a nesting level of its own, as a container holding a value
  // is (its value is parsed one level down): 65 nested brackets are too deep whether the
  // innermost pair is empty or not.
  bool EmptyContainerLevel(Position at, Tok close) {
    if (Peek().kind != close) return true;
    if (!Enter(at)) return false;
    Leave();
    return true;
  }

  bool ParseExpr(uint32_t& out) {
    if (!Enter(Peek().pos)) return false;
    bool ok = ParseCond(out);
    Leave();
    return ok;
  }

  bool ParseCond(uint32_t& out) {
    uint32_t cond = 0;
    if (!ParseOr(cond)) return false;
    if (Peek().kind != Tok::kQuestion) {
      out = cond;
      return true;
    }
    Position pos = Advance().pos;
    uint32_t a = 0, b = 0;
    if (!ParseExpr(a)) return false;
    if (!Expect(Tok::kColon, "':'")) return false;
    if (!ParseExpr(b)) return false;
    Node n;
    n.kind = NodeKind::kCond;
    n.pos = pos;
    n.kids = {cond, a, b};
    out = AddNode(std::move(n));
    return true;
  }

  bool ParseOr(uint32_t& out) {
    uint32_t first = 0;
    if (!ParseAnd(first)) return false;
    if (Peek().kind != Tok::kOrOr && !IsIdent(Peek(), "or")) {
      out = first;  // no chain: no node (and no allocation)
      return true;
    }
    Node n;
    n.kind = NodeKind::kOr;
    n.kids.push_back(first);
    while (Peek().kind == Tok::kOrOr || IsIdent(Peek(), "or")) {
      if (n.kids.size() == 1) n.pos = Peek().pos;
      Advance();
      uint32_t next = 0;
      if (!ParseAnd(next)) return false;
      n.kids.push_back(next);
    }
    out = n.kids.size() == 1 ? first : AddNode(std::move(n));
    return true;
  }

  bool ParseAnd(uint32_t& out) {
    uint32_t first = 0;
    if (!ParseNot(first)) return false;
    if (Peek().kind != Tok::kAndAnd && !IsIdent(Peek(), "and")) {
      out = first;
      return true;
    }
    Node n;
    n.kind = NodeKind::kAnd;
    n.kids.push_back(first);
    while (Peek().kind == Tok::kAndAnd || IsIdent(Peek(), "and")) {
      if (n.kids.size() == 1) n.pos = Peek().pos;
      Advance();
      uint32_t next = 0;
      if (!ParseNot(next)) return false;
      n.kids.push_back(next);
    }
    out = n.kids.size() == 1 ? first : AddNode(std::move(n));
    return true;
  }

  bool ParseNot(uint32_t& out) {
    if (Peek().kind == Tok::kBang || IsIdent(Peek(), "not")) {
      Position pos = Advance().pos;
      if (!Enter(pos)) return false;
      uint32_t inner = 0;
      bool ok = ParseNot(inner);
      Leave();
      if (!ok) return false;
      Node n;
      n.kind = NodeKind::kNot;
      n.pos = pos;
      n.kids = {inner};
      out = AddNode(std::move(n));
      return true;
    }
    return ParseCmp(out);
  }

  bool ParseCmp(uint32_t& out) {
    uint32_t left = 0;
    if (!ParseAdd(left)) return false;
    const Token& t = Peek();
    Op op = Op::kEq;
    size_t len = 1;
    switch (t.kind) {
      case Tok::kEq: op = Op::kEq; break;
      case Tok::kNe: op = Op::kNe; break;
      case Tok::kLt: op = Op::kLt; break;
      case Tok::kLe: op = Op::kLe; break;
      case Tok::kGt: op = Op::kGt; break;
      case Tok::kGe: op = Op::kGe; break;
      case Tok::kIdent:
        if (t.text == "in") {
          op = Op::kIn;
        } else if (t.text == "not" && IsIdent(Peek(1), "in")) {
          op = Op::kNotIn;
          len = 2;
        } else {
          out = left;
          return true;
        }
        break;
      default:
        out = left;
        return true;
    }
    Position pos = t.pos;
    for (size_t i = 0; i < len; ++i) Advance();
    uint32_t right = 0;
    if (!ParseAdd(right)) return false;
    Node n;
    n.kind = NodeKind::kCompare;
    n.op = op;
    n.pos = pos;
    n.kids = {left, right};
    out = AddNode(std::move(n));
    return true;
  }

  bool ParseAdd(uint32_t& out) {
    uint32_t first = 0;
    if (!ParseMul(first)) return false;
    if (Peek().kind != Tok::kPlus && Peek().kind != Tok::kMinus) {
      out = first;
      return true;
    }
    Node n;
    n.kind = NodeKind::kArith;
    n.kids.push_back(first);
    while (Peek().kind == Tok::kPlus || Peek().kind == Tok::kMinus) {
      const Token& t = Advance();
      n.ops.push_back(t.kind == Tok::kPlus ? Op::kAdd : Op::kSub);
      n.op_pos.push_back(t.pos);
      uint32_t next = 0;
      if (!ParseMul(next)) return false;
      n.kids.push_back(next);
    }
    if (n.kids.size() == 1) {
      out = first;
      return true;
    }
    n.pos = n.op_pos[0];
    out = AddNode(std::move(n));
    return true;
  }

  bool ParseMul(uint32_t& out) {
    uint32_t first = 0;
    if (!ParseUnary(first)) return false;
    if (Peek().kind != Tok::kStar && Peek().kind != Tok::kSlash && Peek().kind != Tok::kPercent) {
      out = first;
      return true;
    }
    Node n;
    n.kind = NodeKind::kArith;
    n.kids.push_back(first);
    while (Peek().kind == Tok::kStar || Peek().kind == Tok::kSlash ||
           Peek().kind == Tok::kPercent) {
      const Token& t = Advance();
      n.ops.push_back(t.kind == Tok::kStar ? Op::kMul : t.kind == Tok::kSlash ? Op::kDiv : Op::kMod);
      n.op_pos.push_back(t.pos);
      uint32_t next = 0;
      if (!ParseUnary(next)) return false;
      n.kids.push_back(next);
    }
    if (n.kids.size() == 1) {
      out = first;
      return true;
    }
    n.pos = n.op_pos[0];
    out = AddNode(std::move(n));
    return true;
  }

  bool ParseUnary(uint32_t& out) {
    if (Peek().kind != Tok::kMinus) return ParseFiltered(out);
    Position pos = Advance().pos;
    if (!Enter(pos)) return false;
    uint32_t inner = 0;
    bool ok = ParseUnary(inner);
    Leave();
    if (!ok) return false;
    if (IsConst(inner) && IsNumber(ConstOf(inner))) {
      // Fold negative literals: `-5` is a constant.
      Num num = ToNum(ConstOf(inner));
      if (num.is_int && num.i != INT64_MIN) {
        out = AddConst(bj::value(-num.i), pos);
        return true;
      }
      if (!num.is_int) {
        out = AddConst(bj::value(-num.d), pos);
        return true;
      }
    }
    Node n;
    n.kind = NodeKind::kNeg;
    n.pos = pos;
    n.kids = {inner};
    out = AddNode(std::move(n));
    return true;
  }

  bool ParseFiltered(uint32_t& out) {
    uint32_t base = 0;
    if (!ParsePostfix(base)) return false;
    if (Peek().kind != Tok::kPipe) {
      out = base;
      return true;
    }
    Node n;
    n.kind = NodeKind::kFilters;
    n.pos = Peek().pos;
    n.kids.push_back(base);
    while (Peek().kind == Tok::kPipe) {
      Advance();
      const Token& name = Peek();
      if (name.kind != Tok::kIdent) {
        return Fail(ErrorCode::kInvalidExpression, name.pos,
                    "expected a filter name after '|', found " + Describe(name));
      }
      const FilterInfo* info = FindFilter(name.text);
      if (info == nullptr) {
        // spec/expressions.md: an expression that does not compile is invalid_expression.
        return Fail(ErrorCode::kInvalidExpression, name.pos,
                    "unknown filter '" + json::Excerpt(name.text, 32) + "'");
      }
      Advance();
      FilterCall call;
      call.id = info->id;
      call.pos = name.pos;
      call.first_arg = static_cast<uint32_t>(n.kids.size());
      if (Peek().kind == Tok::kLParen) {
        Advance();
        if (Peek().kind != Tok::kRParen) {
          while (true) {
            uint32_t arg = 0;
            if (!ParseExpr(arg)) return false;
            n.kids.push_back(arg);
            if (Peek().kind == Tok::kComma) {
              Advance();
              continue;
            }
            break;
          }
        }
        if (!Expect(Tok::kRParen, "')' after filter arguments")) return false;
      }
      call.nargs = static_cast<uint32_t>(n.kids.size()) - call.first_arg;
      if (call.nargs < info->min_args || call.nargs > info->max_args) {
        std::string expect = info->min_args == info->max_args
                                 ? std::to_string(info->min_args)
                                 : std::to_string(info->min_args) + " to " +
                                       std::to_string(info->max_args);
        return Fail(ErrorCode::kInvalidExpression, call.pos,
                    "filter '" + std::string(info->name) + "' takes " + expect +
                        " argument(s), got " + std::to_string(call.nargs));
      }
      if (call.id == FilterId::kMatches && IsConst(n.kids[call.first_arg])) {
        const bj::value& pattern = ConstOf(n.kids[call.first_arg]);
        if (pattern.is_string()) {
          Error err;
          call.regex = CompileRegex(pattern.get_string(), options_.limits, &err);
          if (call.regex == nullptr) {
            // A literal pattern is part of the expression: if it does not compile, neither
            // does the expression. Only a pattern too long keeps its limit code.
            ErrorCode code = err.code == ErrorCode::kInvalidRegex ? ErrorCode::kInvalidExpression : err.code;
            return Fail(code, prog_.nodes[n.kids[call.first_arg]].pos, err.message);
          }
        }
      }
      if (call.id == FilterId::kDate && IsConst(n.kids[call.first_arg]) &&
          ConstOf(n.kids[call.first_arg]).is_string()) {
        // A literal format is known now: a directive the filter does not support means the
        // expression cannot work, so it does not compile.
        std::string sample;
        bool bad = false, too_long = false;
        if (!FormatDate(0, ConstOf(n.kids[call.first_arg]).get_string(),
                        options_.limits.max_value_bytes, sample, bad, too_long) &&
            bad) {
          return Fail(ErrorCode::kInvalidExpression, prog_.nodes[n.kids[call.first_arg]].pos,
                      "filter 'date': " + std::string(kUnsupportedDateDirective));
        }
      }
      n.filters.push_back(std::move(call));
    }
    out = AddNode(std::move(n));
    return true;
  }

  bool ParsePostfix(uint32_t& out) {
    const Token& first = Peek();
    bool rooted = first.kind == Tok::kIdent && !IsKeyword(first.text);
    Position root_pos = first.pos;
    std::string root_name;
    uint32_t base = 0;
    if (rooted) {
      root_name = std::string(first.text);
      Advance();
    } else if (!ParsePrimary(base)) {
      return false;
    }
    Node n;
    n.kind = NodeKind::kPath;
    n.pos = root_pos;
    while (true) {
      const Token& t = Peek();
      if (t.kind == Tok::kDot) {
        Advance();
        const Token& name = Peek();
        if (name.kind != Tok::kIdent) {
          return Fail(ErrorCode::kInvalidExpression, name.pos,
                      "expected a member name after '.', found " + Describe(name));
        }
        PathSegment seg;
        seg.kind = PathSegment::Kind::kName;
        seg.name = std::string(name.text);
        seg.pos = name.pos;
        n.segments.push_back(std::move(seg));
        Advance();
      } else if (t.kind == Tok::kLBracket) {
        Position pos = Advance().pos;
        uint32_t idx = 0;
        if (!ParseExpr(idx)) return false;
        if (!Expect(Tok::kRBracket, "']'")) return false;
        PathSegment seg;
        seg.pos = pos;
        if (IsConst(idx) && ConstOf(idx).is_string()) {
          seg.kind = PathSegment::Kind::kName;
          seg.name = std::string(ConstOf(idx).get_string());
        } else if (IsConst(idx) && ConstOf(idx).is_int64()) {
          seg.kind = PathSegment::Kind::kIndex;
          seg.index = ConstOf(idx).get_int64();
        } else {
          seg.kind = PathSegment::Kind::kDynamic;
          seg.expr = idx;
        }
        n.segments.push_back(std::move(seg));
      } else {
        break;
      }
    }
    if (!rooted) {
      if (n.segments.empty()) {
        out = base;
        return true;
      }
      n.kids.push_back(base);
      out = AddNode(std::move(n));
      return true;
    }
    if (root_name == "secrets") {
      if (!options_.allow_secrets) {
        return Fail(ErrorCode::kForbiddenSecretAccess, root_pos,
                    "secrets may only be used in connector credential fields");
      }
      prog_.uses_secrets = true;
    } else if (options_.names != nullptr &&
               std::find(options_.names->begin(), options_.names->end(), root_name) ==
                   options_.names->end()) {
      std::string in_scope;
      for (const auto& name : *options_.names) {
        in_scope += in_scope.empty() ? "" : ", ";
        in_scope += name;
      }
      return Fail(ErrorCode::kInvalidExpression, root_pos,
                  "name '" + json::Excerpt(root_name, 32) + "' is not in scope (names in scope: " +
                      in_scope + ")");
    }
    if (root_name == "steps" && !n.segments.empty() &&
        n.segments[0].kind == PathSegment::Kind::kName) {
      auto& steps = prog_.referenced_steps;
      if (std::find(steps.begin(), steps.end(), n.segments[0].name) == steps.end()) {
        steps.push_back(n.segments[0].name);
      }
    }
    auto it = std::find(prog_.roots.begin(), prog_.roots.end(), root_name);
    if (it == prog_.roots.end()) {
      prog_.roots.push_back(root_name);
      it = prog_.roots.end() - 1;
    }
    n.root_slot = static_cast<int32_t>(it - prog_.roots.begin());
    n.static_path = std::none_of(n.segments.begin(), n.segments.end(), [](const PathSegment& s) {
      return s.kind == PathSegment::Kind::kDynamic;
    });
    out = AddNode(std::move(n));
    return true;
  }

  bool ParsePrimary(uint32_t& out) {
    const Token& t = Peek();
    switch (t.kind) {
      case Tok::kInt:
        out = AddConst(bj::value(t.i), t.pos);
        Advance();
        return true;
      case Tok::kDouble:
        out = AddConst(bj::value(t.d), t.pos);
        Advance();
        return true;
      case Tok::kString:
        out = AddConst(bj::value(bj::string_view(t.str)), t.pos);
        Advance();
        return true;
      case Tok::kIdent:
        if (t.text == "true" || t.text == "false") {
          out = AddConst(bj::value(t.text == "true"), t.pos);
          Advance();
          return true;
        }
        if (t.text == "null") {
          out = AddConst(bj::value(nullptr), t.pos);
          Advance();
          return true;
        }
        return Unexpected(t);
      case Tok::kLParen: {
        Advance();
        if (!ParseExpr(out)) return false;
        return Expect(Tok::kRParen, "')'");
      }
      case Tok::kLBracket: return ParseArray(out);
      case Tok::kLBrace: return ParseObject(out);
      default: return Unexpected(t);
    }
  }

  bool ParseArray(uint32_t& out) {
    Node n;
    n.kind = NodeKind::kArray;
    n.pos = Advance().pos;
    if (!EmptyContainerLevel(n.pos, Tok::kRBracket)) return false;
    if (Peek().kind != Tok::kRBracket) {
      while (true) {
        uint32_t e = 0;
        if (!ParseExpr(e)) return false;
        n.kids.push_back(e);
        if (Peek().kind != Tok::kComma) break;
        Advance();
      }
    }
    if (!Expect(Tok::kRBracket, "']' or ','")) return false;
    bool all_const = std::all_of(n.kids.begin(), n.kids.end(), [&](uint32_t k) { return IsConst(k); });
    if (all_const) {
      bj::array arr;
      arr.reserve(n.kids.size());
      for (uint32_t k : n.kids) arr.push_back(ConstOf(k));
      out = AddConst(bj::value(std::move(arr)), n.pos);
      return true;
    }
    out = AddNode(std::move(n));
    return true;
  }

  bool ParseObject(uint32_t& out) {
    Node n;
    n.kind = NodeKind::kObject;
    n.pos = Advance().pos;
    if (!EmptyContainerLevel(n.pos, Tok::kRBrace)) return false;
    if (Peek().kind != Tok::kRBrace) {
      while (true) {
        const Token& key = Peek();
        std::string name;
        if (key.kind == Tok::kIdent) {
          name = std::string(key.text);
        } else if (key.kind == Tok::kString) {
          name = key.str;
        } else {
          return Fail(ErrorCode::kInvalidExpression, key.pos,
                      "expected an object key, found " + Describe(key));
        }
        if (std::find(n.keys.begin(), n.keys.end(), name) != n.keys.end()) {
          return Fail(ErrorCode::kInvalidExpression, key.pos,
                      "duplicate object key '" + json::Excerpt(name, 32) + "'");
        }
        Advance();
        if (!Expect(Tok::kColon, "':' after object key")) return false;
        uint32_t v = 0;
        if (!ParseExpr(v)) return false;
        n.keys.push_back(std::move(name));
        n.kids.push_back(v);
        if (Peek().kind != Tok::kComma) break;
        Advance();
      }
    }
    if (!Expect(Tok::kRBrace, "'}' or ','")) return false;
    bool all_const = std::all_of(n.kids.begin(), n.kids.end(), [&](uint32_t k) { return IsConst(k); });
    if (all_const) {
      bj::object obj;
      obj.reserve(n.kids.size());
      for (size_t i = 0; i < n.kids.size(); ++i) obj.emplace(n.keys[i], ConstOf(n.kids[i]));
      out = AddConst(bj::value(std::move(obj)), n.pos);
      return true;
    }
    out = AddNode(std::move(n));
    return true;
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  size_t depth_ = 0;
  const CompileOptions& options_;
  Program& prog_;
  Error error_;
  bool failed_ = false;
};

std::string_view TrimView(std::string_view s) {
  const char* ws = " \t\r\n\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

}  // namespace

const FilterInfo* FindFilter(std::string_view name) {
  for (const auto& f : kFilters) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

const FilterInfo& GetFilterInfo(FilterId id) {
  for (const auto& f : kFilters) {
    if (f.id == id) return f;
  }
  return kFilters[0];
}

Result<std::shared_ptr<const Program>> CompileProgram(std::string_view source, Position start,
                                                      const CompileOptions& options) {
  std::string_view trimmed = TrimView(source);
  // The bound is on the expression itself: the spaces of `{{ expr }}` do not count.
  if (trimmed.size() > options.limits.max_source_bytes) {
    return MakeError(ErrorCode::kExpressionLimit,
                     PositionMessage(start, "expression longer than " +
                                                std::to_string(options.limits.max_source_bytes) +
                                                " bytes"));
  }
  auto tokens = Tokenize(source, start);
  if (!tokens.ok()) return std::move(tokens).error();
  if (tokens->size() == 1) {
    return MakeError(ErrorCode::kInvalidExpression,
                     PositionMessage(tokens->front().pos, "empty expression"));
  }
  auto prog = std::make_shared<Program>();
  prog->nodes.reserve(tokens->size() + 1);  // about one node per token at most
  prog->source = std::string(trimmed);
  prog->limits = options.limits;
  Parser parser(std::move(tokens).value(), options, *prog);
  uint32_t root = 0;
  if (!parser.Run(root)) return parser.TakeError();
  prog->root = root;
  return std::shared_ptr<const Program>(std::move(prog));
}

}  // namespace rampart::expr::internal
