#include "expr/lexer.h"

#include <charconv>
#include <cmath>

#include "expr/value_ops.h"

namespace rampart::expr::internal {

std::string PositionMessage(Position pos, std::string_view message) {
  std::string out = "line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column) + ": ";
  out += message;
  return out;
}

Position Advance(Position pos, std::string_view text) {
  for (unsigned char c : text) {
    if (c == '\n') {
      ++pos.line;
      pos.column = 1;
    } else if ((c & 0xC0) != 0x80) {  // count code points, not continuation bytes
      ++pos.column;
    }
  }
  return pos;
}

namespace {

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Lexer {
 public:
  Lexer(std::string_view src, Position start) : src_(src), pos_(start) {}

  Result<std::vector<Token>> Run() {
    std::vector<Token> out;
    out.reserve(src_.size() / 2 + 2);
    while (true) {
      SkipSpace();
      Token t;
      t.pos = pos_;
      if (i_ >= src_.size()) {
        t.kind = Tok::kEnd;
        out.push_back(std::move(t));
        return out;
      }
      if (!Next(t)) return std::move(error_);
      out.push_back(std::move(t));
    }
  }

 private:
  void SkipSpace() {
    while (i_ < src_.size()) {
      char c = src_[i_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        ++i_;
        ++pos_.column;
      } else if (c == '\n') {
        ++i_;
        ++pos_.line;
        pos_.column = 1;
      } else {
        break;
      }
    }
  }

  // Consumes `n` bytes of the current line (no newlines inside).
  void Take(size_t n) {
    pos_ = Advance(pos_, src_.substr(i_, n));
    i_ += n;
  }

  bool Fail(Position at, std::string_view message) {
    error_ = MakeError(ErrorCode::kInvalidExpression, PositionMessage(at, message));
    return false;
  }

  bool Next(Token& t) {
    char c = src_[i_];
    size_t start = i_;
    if (IsIdentStart(c)) {
      size_t j = i_;
      while (j < src_.size() && IsIdentChar(src_[j])) ++j;
      t.kind = Tok::kIdent;
      t.text = src_.substr(start, j - start);
      Take(j - start);
      return true;
    }
    if (IsDigit(c)) return Number(t);
    if (c == '\'' || c == '"') return String(t);
    auto two = [&](char second) { return i_ + 1 < src_.size() && src_[i_ + 1] == second; };
    Tok kind = Tok::kEnd;
    size_t len = 1;
    switch (c) {
      case '(': kind = Tok::kLParen; break;
      case ')': kind = Tok::kRParen; break;
      case '[': kind = Tok::kLBracket; break;
      case ']': kind = Tok::kRBracket; break;
      case '{': kind = Tok::kLBrace; break;
      case '}': kind = Tok::kRBrace; break;
      case '.': kind = Tok::kDot; break;
      case ',': kind = Tok::kComma; break;
      case ':': kind = Tok::kColon; break;
      case '?': kind = Tok::kQuestion; break;
      case '+': kind = Tok::kPlus; break;
      case '-': kind = Tok::kMinus; break;
      case '*': kind = Tok::kStar; break;
      case '/': kind = Tok::kSlash; break;
      case '%': kind = Tok::kPercent; break;
      case '|':
        if (two('|')) {
          kind = Tok::kOrOr;
          len = 2;
        } else {
          kind = Tok::kPipe;
        }
        break;
      case '&':
        if (!two('&')) return Fail(pos_, "unexpected '&' (did you mean 'and'?)");
        kind = Tok::kAndAnd;
        len = 2;
        break;
      case '=':
        if (!two('=')) return Fail(pos_, "unexpected '=' (did you mean '=='?)");
        kind = Tok::kEq;
        len = 2;
        break;
      case '!':
        if (two('=')) {
          kind = Tok::kNe;
          len = 2;
        } else {
          kind = Tok::kBang;
        }
        break;
      case '<':
        if (two('=')) {
          kind = Tok::kLe;
          len = 2;
        } else {
          kind = Tok::kLt;
        }
        break;
      case '>':
        if (two('=')) {
          kind = Tok::kGe;
          len = 2;
        } else {
          kind = Tok::kGt;
        }
        break;
      default: {
        unsigned char u = static_cast<unsigned char>(c);
        if (u >= 0x80 || u < 0x20 || u == 0x7F) {
          return Fail(pos_, "unexpected character");
        }
        std::string msg = "unexpected character '";
        msg += c;
        msg += "'";
        return Fail(pos_, msg);
      }
    }
    t.kind = kind;
    t.text = src_.substr(start, len);
    Take(len);
    return true;
  }

  bool Number(Token& t) {
    size_t j = i_;
    while (j < src_.size() && IsDigit(src_[j])) ++j;
    bool is_double = false;
    if (j + 1 < src_.size() && src_[j] == '.' && IsDigit(src_[j + 1])) {
      is_double = true;
      ++j;
      while (j < src_.size() && IsDigit(src_[j])) ++j;
    }
    if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
      size_t k = j + 1;
      if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
      if (k < src_.size() && IsDigit(src_[k])) {
        is_double = true;
        j = k;
        while (j < src_.size() && IsDigit(src_[j])) ++j;
      } else {
        return Fail(pos_, "malformed number exponent");
      }
    }
    if (j < src_.size() && IsIdentStart(src_[j])) {
      return Fail(pos_, "malformed number");
    }
    std::string_view text = src_.substr(i_, j - i_);
    t.text = text;
    if (!is_double) {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && p == text.data() + text.size()) {
        t.kind = Tok::kInt;
        t.i = v;
        Take(j - i_);
        return true;
      }
      // Too large for int64: fall through to double.
    }
    double d = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec != std::errc() || p != text.data() + text.size() || !std::isfinite(d)) {
      return Fail(pos_, "number out of range");
    }
    t.kind = Tok::kDouble;
    t.d = d;
    Take(j - i_);
    return true;
  }

  bool String(Token& t) {
    Position start = pos_;
    char quote = src_[i_];
    size_t j = i_ + 1;
    std::string out;
    while (true) {
      if (j >= src_.size()) return Fail(start, "unterminated string");
      char c = src_[j];
      if (c == quote) {
        ++j;
        break;
      }
      if (c != '\\') {
        out += c;
        ++j;
        continue;
      }
      if (j + 1 >= src_.size()) return Fail(start, "unterminated string");
      char e = src_[j + 1];
      Position esc = Advance(start, src_.substr(i_, j - i_));
      switch (e) {
        case '\\': out += '\\'; j += 2; break;
        case '\'': out += '\''; j += 2; break;
        case '"': out += '"'; j += 2; break;
        case 'n': out += '\n'; j += 2; break;
        case 't': out += '\t'; j += 2; break;
        case 'r': out += '\r'; j += 2; break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(j + 2, cp)) return Fail(esc, "invalid \\u escape");
          j += 6;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t lo = 0;
            if (j + 1 < src_.size() && src_[j] == '\\' && src_[j + 1] == 'u' && Hex4(j + 2, lo) &&
                lo >= 0xDC00 && lo <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
              j += 6;
            } else {
              return Fail(esc, "unpaired surrogate in \\u escape");
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Fail(esc, "unpaired surrogate in \\u escape");
          }
          AppendUtf8(out, cp);
          break;
        }
        default:
          return Fail(esc, "unknown escape sequence (use \\\\ \\' \\\" \\n \\t \\r or \\uXXXX)");
      }
    }
    t.kind = Tok::kString;
    t.str = std::move(out);
    t.text = src_.substr(i_, j - i_);
    Take(j - i_);
    return true;
  }

  bool Hex4(size_t at, uint32_t& out) {
    if (at + 4 > src_.size()) return false;
    uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      int h = HexValue(src_[at + k]);
      if (h < 0) return false;
      v = v * 16 + static_cast<uint32_t>(h);
    }
    out = v;
    return true;
  }

  std::string_view src_;
  size_t i_ = 0;
  Position pos_;
  Error error_;
};

}  // namespace

Result<std::vector<Token>> Tokenize(std::string_view source, Position start) {
  size_t bad = 0;
  if (!IsValidUtf8(source, &bad)) {
    return MakeError(ErrorCode::kInvalidExpression,
                     PositionMessage(Advance(start, source.substr(0, bad)), "invalid UTF-8"));
  }
  return Lexer(source, start).Run();
}

}  // namespace rampart::expr::internal
