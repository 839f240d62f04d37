#include "schema/ecma_regex.h"

#include <cstdint>
#include <cstdio>
#include <string>

namespace rampart::schema::internal {
namespace {

constexpr size_t kMaxNesting = 200;
constexpr uint32_t kMaxRepeat = 1000;  // RE2's limit for {n,m}

// ECMA WhiteSpace and LineTerminator, and the complements RE2 needs inside classes.
constexpr const char* kSpaceItems =
    "\\x{9}-\\x{D}\\x{20}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
    "\\x{205F}\\x{3000}\\x{FEFF}";
constexpr const char* kNotSpaceItems =
    "\\x{0}-\\x{8}\\x{E}-\\x{1F}\\x{21}-\\x{9F}\\x{A1}-\\x{167F}\\x{1681}-\\x{1FFF}"
    "\\x{200B}-\\x{2027}\\x{202A}-\\x{202E}\\x{2030}-\\x{205E}\\x{2060}-\\x{2FFF}"
    "\\x{3001}-\\x{FEFE}\\x{FF00}-\\x{10FFFF}";
constexpr const char* kDigitItems = "0-9";
constexpr const char* kNotDigitItems = "\\x{0}-\\x{2F}\\x{3A}-\\x{10FFFF}";
constexpr const char* kWordItems = "0-9A-Za-z_";
constexpr const char* kNotWordItems =
    "\\x{0}-\\x{2F}\\x{3A}-\\x{40}\\x{5B}-\\x{5E}\\x{60}\\x{7B}-\\x{10FFFF}";

struct PropertyAlias {
  const char* name;
  const char* re2;
};

// General_Category long names (and the ECMA/POSIX-ish aliases seen in schemas).
constexpr PropertyAlias kCategories[] = {
    {"L", "L"},           {"Letter", "L"},
    {"Lu", "Lu"},         {"Uppercase_Letter", "Lu"},
    {"Ll", "Ll"},         {"Lowercase_Letter", "Ll"},
    {"Lt", "Lt"},         {"Titlecase_Letter", "Lt"},
    {"Lm", "Lm"},         {"Modifier_Letter", "Lm"},
    {"Lo", "Lo"},         {"Other_Letter", "Lo"},
    {"M", "M"},           {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Mn", "Mn"},         {"Nonspacing_Mark", "Mn"},
    {"Mc", "Mc"},         {"Spacing_Mark", "Mc"},
    {"Me", "Me"},         {"Enclosing_Mark", "Me"},
    {"N", "N"},           {"Number", "N"},
    {"Nd", "Nd"},         {"Decimal_Number", "Nd"},
    {"digit", "Nd"},      {"Nl", "Nl"},
    {"Letter_Number", "Nl"},
    {"No", "No"},         {"Other_Number", "No"},
    {"P", "P"},           {"Punctuation", "P"},
    {"punct", "P"},       {"Pc", "Pc"},
    {"Connector_Punctuation", "Pc"},
    {"Pd", "Pd"},         {"Dash_Punctuation", "Pd"},
    {"Ps", "Ps"},         {"Open_Punctuation", "Ps"},
    {"Pe", "Pe"},         {"Close_Punctuation", "Pe"},
    {"Pi", "Pi"},         {"Initial_Punctuation", "Pi"},
    {"Pf", "Pf"},         {"Final_Punctuation", "Pf"},
    {"Po", "Po"},         {"Other_Punctuation", "Po"},
    {"S", "S"},           {"Symbol", "S"},
    {"Sm", "Sm"},         {"Math_Symbol", "Sm"},
    {"Sc", "Sc"},         {"Currency_Symbol", "Sc"},
    {"Sk", "Sk"},         {"Modifier_Symbol", "Sk"},
    {"So", "So"},         {"Other_Symbol", "So"},
    {"Z", "Z"},           {"Separator", "Z"},
    {"Zs", "Zs"},         {"Space_Separator", "Zs"},
    {"Zl", "Zl"},         {"Line_Separator", "Zl"},
    {"Zp", "Zp"},         {"Paragraph_Separator", "Zp"},
    {"C", "C"},           {"Other", "C"},
    {"Cc", "Cc"},         {"Control", "Cc"},
    {"cntrl", "Cc"},      {"Cf", "Cf"},
    {"Format", "Cf"},     {"Co", "Co"},
    {"Private_Use", "Co"},
    {"Cs", "Cs"},         {"Surrogate", "Cs"},
    {"Any", "Any"},
};

bool IsSyntaxChar(uint32_t c) {
  switch (c) {
    case '^': case '$': case '\\': case '.': case '*': case '+': case '?':
    case '(': case ')': case '[': case ']': case '{': case '}': case '|': case '/':
      return true;
    default:
      return false;
  }
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

uint32_t HexValue(char c) {
  if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<uint32_t>(c - 'a' + 10);
  return static_cast<uint32_t>(c - 'A' + 10);
}

std::string CodePoint(uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "\\x{%X}", cp);
  return buf;
}

class Translator {
 public:
  explicit Translator(std::string_view s) : s_(s) {}

  RegexTranslation Run() {
    ParseDisjunction(0);
    if (status_ != RegexStatus::kInvalid && pos_ < s_.size()) {
      // Only an unmatched ')' stops the top-level disjunction early.
      Invalid("unmatched ')'");
    }
    RegexTranslation r;
    r.status = status_;
    r.message = message_;
    if (status_ == RegexStatus::kOk) r.re2 = std::move(out_);
    return r;
  }

 private:
  enum class AtomKind { kNone, kAtom, kAssertion };

  bool Done() const { return status_ == RegexStatus::kInvalid || pos_ >= s_.size(); }
  char Peek(size_t ahead = 0) const {
    return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0';
  }
  bool Has(size_t ahead = 0) const { return pos_ + ahead < s_.size(); }

  void Invalid(std::string message) {
    if (status_ == RegexStatus::kInvalid) return;
    status_ = RegexStatus::kInvalid;
    message_ = std::move(message) + " at offset " + std::to_string(pos_);
  }
  void Unsupported(std::string message) {
    if (status_ != RegexStatus::kOk) return;
    status_ = RegexStatus::kUnsupported;
    message_ = std::move(message);
  }

  // Decodes one UTF-8 code point at pos_ (invalid bytes are taken one at a time).
  uint32_t NextCodePoint() {
    unsigned char c = static_cast<unsigned char>(s_[pos_]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (pos_ + len > s_.size()) len = 1;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      cp = (cp << 6) | (static_cast<unsigned char>(s_[pos_ + k]) & 0x3F);
    }
    pos_ += len;
    return cp;
  }

  void ParseDisjunction(size_t depth) {
    if (depth > kMaxNesting) {
      Invalid("regular expression nested too deeply");
      return;
    }
    ParseAlternative(depth);
    while (!Done() && Peek() == '|') {
      ++pos_;
      out_ += '|';
      ParseAlternative(depth);
    }
  }

  void ParseAlternative(size_t depth) {
    while (!Done() && Peek() != '|' && Peek() != ')') {
      AtomKind kind = ParseTerm(depth);
      if (status_ == RegexStatus::kInvalid) return;
      ParseQuantifier(kind);
    }
  }

  void ParseQuantifier(AtomKind kind) {
    if (Done()) return;
    char c = Peek();
    bool quantifier = c == '*' || c == '+' || c == '?' || (c == '{' && IsBraceQuantifier());
    if (!quantifier) return;
    if (kind != AtomKind::kAtom) {
      Invalid("nothing to repeat");
      return;
    }
    if (c == '{') {
      ++pos_;
      uint64_t lo = ReadDecimal();
      uint64_t hi = lo;
      bool open = false;
      if (Peek() == ',') {
        ++pos_;
        if (Peek() == '}') {
          open = true;
        } else {
          hi = ReadDecimal();
        }
      }
      ++pos_;  // '}' (checked by IsBraceQuantifier)
      if (!open && hi < lo) {
        Invalid("numbers out of order in {} quantifier");
        return;
      }
      if (lo > kMaxRepeat || (!open && hi > kMaxRepeat)) {
        Unsupported("counted repetition above 1000 is not supported (RE2 limit)");
      }
      out_ += '{' + std::to_string(lo);
      if (open) {
        out_ += ',';
      } else if (hi != lo) {
        out_ += ',' + std::to_string(hi);
      }
      out_ += '}';
    } else {
      ++pos_;
      out_ += c;
    }
    if (Peek() == '?' && Has()) {
      ++pos_;
      out_ += '?';
    }
  }

  bool IsBraceQuantifier() const {
    size_t p = pos_ + 1;
    size_t digits = 0;
    while (p < s_.size() && s_[p] >= '0' && s_[p] <= '9') ++p, ++digits;
    if (digits == 0) return false;
    if (p < s_.size() && s_[p] == ',') {
      ++p;
      while (p < s_.size() && s_[p] >= '0' && s_[p] <= '9') ++p;
    }
    return p < s_.size() && s_[p] == '}';
  }

  uint64_t ReadDecimal() {
    uint64_t v = 0;
    while (Has() && Peek() >= '0' && Peek() <= '9') {
      if (v < 1000000000) v = v * 10 + static_cast<uint64_t>(Peek() - '0');
      ++pos_;
    }
    return v;
  }

  AtomKind ParseTerm(size_t depth) {
    char c = Peek();
    switch (c) {
      case '^':
        ++pos_;
        out_ += '^';
        return AtomKind::kAssertion;
      case '$':
        ++pos_;
        out_ += '$';
        return AtomKind::kAssertion;
      case '.':
        ++pos_;
        out_ += "[^\\n\\r\\x{2028}\\x{2029}]";
        return AtomKind::kAtom;
      case '(':
        return ParseGroup(depth);
      case '[':
        ParseClass();
        return AtomKind::kAtom;
      case '*':
      case '+':
      case '?':
        Invalid("nothing to repeat");
        return AtomKind::kNone;
      case '{':
        Invalid(IsBraceQuantifier() ? "nothing to repeat" : "lone '{'");
        return AtomKind::kNone;
      case '}':
        Invalid("lone '}'");
        return AtomKind::kNone;
      case ']':
        Invalid("lone ']'");
        return AtomKind::kNone;
      case '\\':
        return ParseAtomEscape();
      default: {
        uint32_t cp = NextCodePoint();
        out_ += CodePoint(cp);
        return AtomKind::kAtom;
      }
    }
  }

  bool ParseGroupName() {
    // '<' already consumed; reads up to '>'.
    size_t start = pos_;
    while (Has() && Peek() != '>') {
      unsigned char c = static_cast<unsigned char>(Peek());
      bool ok = c >= 0x80 || std::isalnum(c) || c == '_' || c == '$';
      if (!ok || (pos_ == start && c >= '0' && c <= '9')) {
        Invalid("invalid group name");
        return false;
      }
      ++pos_;
    }
    if (!Has() || pos_ == start) {
      Invalid("invalid group name");
      return false;
    }
    group_name_ = std::string(s_.substr(start, pos_ - start));
    ++pos_;  // '>'
    return true;
  }

  AtomKind ParseGroup(size_t depth) {
    ++pos_;  // '('
    AtomKind kind = AtomKind::kAtom;
    if (Peek() == '?') {
      char n = Peek(1);
      if (n == ':') {
        pos_ += 2;
        out_ += "(?:";
      } else if (n == '=' || n == '!') {
        pos_ += 2;
        Unsupported("lookahead assertions are not supported (RE2)");
        out_ += "(?:";
        kind = AtomKind::kAssertion;
      } else if (n == '<' && (Peek(2) == '=' || Peek(2) == '!')) {
        pos_ += 3;
        Unsupported("lookbehind assertions are not supported (RE2)");
        out_ += "(?:";
        kind = AtomKind::kAssertion;
      } else if (n == '<') {
        pos_ += 2;
        if (!ParseGroupName()) return AtomKind::kNone;
        out_ += "(?P<";
        for (char ch : group_name_) {
          // RE2 group names are word characters only.
          out_ += (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') ? ch : '_';
        }
        out_ += '>';
      } else {
        // Modifier group (?ims-ims:...).
        pos_ += 1;
        std::string on;
        std::string off;
        bool minus = false;
        while (Has() && (Peek() == 'i' || Peek() == 'm' || Peek() == 's' || Peek() == '-')) {
          if (Peek() == '-') {
            if (minus) break;
            minus = true;
          } else {
            std::string& set = minus ? off : on;
            if (set.find(Peek()) != std::string::npos) {
              Invalid("repeated modifier flag");
              return AtomKind::kNone;
            }
            set += Peek();
          }
          ++pos_;
        }
        if (Peek() != ':' || (on.empty() && off.empty())) {
          Invalid("invalid group");
          return AtomKind::kNone;
        }
        ++pos_;
        if (on.find_first_of("ms") != std::string::npos ||
            off.find_first_of("ms") != std::string::npos) {
          Unsupported("the m and s modifiers are not supported");
        }
        out_ += "(?";
        if (on.find('i') != std::string::npos) out_ += 'i';
        if (off.find('i') != std::string::npos) out_ += "-i";
        if (out_.back() == '?') out_ += 'i';  // only m/s given: unsupported anyway
        out_ += ':';
      }
    } else {
      out_ += '(';
    }
    ParseDisjunction(depth + 1);
    if (status_ == RegexStatus::kInvalid) return AtomKind::kNone;
    if (Peek() != ')' || !Has()) {
      Invalid("missing ')'");
      return AtomKind::kNone;
    }
    ++pos_;
    out_ += ')';
    return kind;
  }

  // Reads \uXXXX (pos_ after 'u'); combines a surrogate pair. Returns false if malformed.
  bool ReadUnicodeEscape(uint32_t* cp) {
    if (Peek() == '{') {
      size_t p = pos_ + 1;
      uint32_t v = 0;
      size_t digits = 0;
      while (p < s_.size() && IsHex(s_[p])) {
        v = v * 16 + HexValue(s_[p]);
        if (v > 0x10FFFF) return false;
        ++p;
        ++digits;
      }
      if (digits == 0 || p >= s_.size() || s_[p] != '}') return false;
      pos_ = p + 1;
      *cp = v;
      return true;
    }
    auto read4 = [&](size_t at, uint32_t* v) {
      if (at + 4 > s_.size()) return false;
      *v = 0;
      for (size_t k = 0; k < 4; ++k) {
        if (!IsHex(s_[at + k])) return false;
        *v = *v * 16 + HexValue(s_[at + k]);
      }
      return true;
    };
    uint32_t v = 0;
    if (!read4(pos_, &v)) return false;
    pos_ += 4;
    if (v >= 0xD800 && v <= 0xDBFF && Peek() == '\\' && Peek(1) == 'u') {
      uint32_t lo = 0;
      if (read4(pos_ + 2, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
        pos_ += 6;
        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
      }
    }
    *cp = v;
    return true;
  }

  // Character escapes shared by atoms and classes (pos_ on the letter after '\').
  // Returns false (and sets status) when not a character escape.
  bool ParseCharacterEscape(uint32_t* cp, bool in_class) {
    char c = Peek();
    switch (c) {
      case 'f': ++pos_; *cp = 0x0C; return true;
      case 'n': ++pos_; *cp = 0x0A; return true;
      case 'r': ++pos_; *cp = 0x0D; return true;
      case 't': ++pos_; *cp = 0x09; return true;
      case 'v': ++pos_; *cp = 0x0B; return true;
      case 'c': {
        char l = Peek(1);
        if ((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z')) {
          pos_ += 2;
          *cp = static_cast<uint32_t>(l) % 32;
          return true;
        }
        Invalid("invalid \\c escape");
        return false;
      }
      case '0':
        if (Peek(1) >= '0' && Peek(1) <= '9') {
          Invalid("invalid decimal escape");
          return false;
        }
        ++pos_;
        *cp = 0;
        return true;
      case 'x':
        if (IsHex(Peek(1)) && IsHex(Peek(2))) {
          *cp = HexValue(Peek(1)) * 16 + HexValue(Peek(2));
          pos_ += 3;
          return true;
        }
        Invalid("invalid \\x escape");
        return false;
      case 'u':
        ++pos_;
        if (!ReadUnicodeEscape(cp)) {
          Invalid("invalid \\u escape");
          return false;
        }
        if (*cp >= 0xD800 && *cp <= 0xDFFF) {
          Unsupported("lone surrogate escapes are not supported (RE2 matches UTF-8 code points)");
          *cp = 0xFFFD;
        }
        return true;
      case '-':
        if (in_class) {
          ++pos_;
          *cp = '-';
          return true;
        }
        break;
      default:
        if (IsSyntaxChar(static_cast<unsigned char>(c))) {
          ++pos_;
          *cp = static_cast<unsigned char>(c);
          return true;
        }
        break;
    }
    Invalid(std::string("invalid escape \\") + (static_cast<unsigned char>(c) < 0x80 ? std::string(1, c) : std::string("<non-ASCII>")));
    return false;
  }

  // \p{...} / \P{...} (pos_ on 'p' or 'P'). Appends the RE2 form to `out`.
  bool ParseProperty(std::string* out) {
    bool negated = Peek() == 'P';
    ++pos_;
    if (Peek() != '{') {
      Invalid("invalid property escape");
      return false;
    }
    size_t close = s_.find('}', pos_);
    if (close == std::string_view::npos) {
      Invalid("invalid property escape");
      return false;
    }
    std::string body(s_.substr(pos_ + 1, close - pos_ - 1));
    pos_ = close + 1;
    std::string name = body;
    std::string re2_name;
    size_t eq = body.find('=');
    if (eq != std::string::npos) {
      std::string key = body.substr(0, eq);
      name = body.substr(eq + 1);
      if (key == "General_Category" || key == "gc") {
        for (const auto& a : kCategories) {
          if (name == a.name) re2_name = a.re2;
        }
      } else if (key == "Script" || key == "sc" || key == "Script_Extensions" || key == "scx") {
        bool ok = !name.empty();
        for (char ch : name) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
        if (!ok) {
          Invalid("invalid script name");
          return false;
        }
        re2_name = name;  // RE2 knows long script names (Greek, Latin...)
      } else {
        Invalid("unknown Unicode property");
        return false;
      }
    } else {
      for (const auto& a : kCategories) {
        if (name == a.name) re2_name = a.re2;
      }
      if (re2_name.empty()) {
        if (name == "ASCII") {
          *out += negated ? "\\x{80}-\\x{10FFFF}" : "\\x{0}-\\x{7F}";
          return true;
        }
        bool ok = !name.empty();
        for (char ch : name) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
        if (!ok) {
          Invalid("invalid Unicode property name");
          return false;
        }
        Unsupported("Unicode property \\p{" + name + "} is not supported (RE2)");
        return true;
      }
    }
    *out += negated ? "\\P{" : "\\p{";
    *out += re2_name;
    *out += '}';
    return true;
  }

  AtomKind ParseAtomEscape() {
    ++pos_;  // '\'
    if (!Has()) {
      Invalid("\\ at end of pattern");
      return AtomKind::kNone;
    }
    char c = Peek();
    switch (c) {
      case 'b':
      case 'B':
        ++pos_;
        out_ += '\\';
        out_ += c;
        return AtomKind::kAssertion;
      case 'd': ++pos_; out_ += std::string("[") + kDigitItems + "]"; return AtomKind::kAtom;
      case 'D': ++pos_; out_ += std::string("[") + kNotDigitItems + "]"; return AtomKind::kAtom;
      case 'w': ++pos_; out_ += std::string("[") + kWordItems + "]"; return AtomKind::kAtom;
      case 'W': ++pos_; out_ += std::string("[") + kNotWordItems + "]"; return AtomKind::kAtom;
      case 's': ++pos_; out_ += std::string("[") + kSpaceItems + "]"; return AtomKind::kAtom;
      case 'S': ++pos_; out_ += std::string("[") + kNotSpaceItems + "]"; return AtomKind::kAtom;
      case 'p':
      case 'P': {
        std::string item;
        if (!ParseProperty(&item)) return AtomKind::kNone;
        out_ += "[" + item + "]";
        return AtomKind::kAtom;
      }
      case 'k':
        ++pos_;
        if (Peek() != '<') {
          Invalid("invalid \\k escape");
          return AtomKind::kNone;
        }
        ++pos_;
        if (!ParseGroupName()) return AtomKind::kNone;
        Unsupported("backreferences are not supported (RE2)");
        return AtomKind::kAtom;
      default:
        break;
    }
    if (c >= '1' && c <= '9') {
      ReadDecimal();
      Unsupported("backreferences are not supported (RE2)");
      return AtomKind::kAtom;
    }
    uint32_t cp = 0;
    if (!ParseCharacterEscape(&cp, /*in_class=*/false)) return AtomKind::kNone;
    out_ += CodePoint(cp);
    return AtomKind::kAtom;
  }

  // One class atom: a code point (returns true, sets *cp) or a class escape appended to
  // `items` (returns true, *is_set = true).
  bool ParseClassAtom(uint32_t* cp, bool* is_set, std::string* items) {
    *is_set = false;
    if (Peek() != '\\') {
      *cp = NextCodePoint();
      return true;
    }
    ++pos_;
    if (!Has()) {
      Invalid("\\ at end of pattern");
      return false;
    }
    char c = Peek();
    const char* set = nullptr;
    switch (c) {
      case 'd': set = kDigitItems; break;
      case 'D': set = kNotDigitItems; break;
      case 'w': set = kWordItems; break;
      case 'W': set = kNotWordItems; break;
      case 's': set = kSpaceItems; break;
      case 'S': set = kNotSpaceItems; break;
      case 'p':
      case 'P':
        *is_set = true;
        return ParseProperty(items);
      case 'b':
        ++pos_;
        *cp = 0x08;
        return true;
      default:
        break;
    }
    if (set != nullptr) {
      ++pos_;
      *is_set = true;
      *items += set;
      return true;
    }
    return ParseCharacterEscape(cp, /*in_class=*/true);
  }

  void ParseClass() {
    ++pos_;  // '['
    bool negated = false;
    if (Peek() == '^' && Has()) {
      negated = true;
      ++pos_;
    }
    std::string items;
    bool any = false;
    while (true) {
      if (!Has()) {
        Invalid("missing ']'");
        return;
      }
      if (Peek() == ']') {
        ++pos_;
        break;
      }
      uint32_t lo = 0;
      bool lo_set = false;
      if (!ParseClassAtom(&lo, &lo_set, &items)) return;
      any = true;
      if (Peek() == '-' && Has(1) && Peek(1) != ']') {
        ++pos_;
        uint32_t hi = 0;
        bool hi_set = false;
        if (!ParseClassAtom(&hi, &hi_set, &items)) return;
        if (lo_set || hi_set) {
          Invalid("character class escape in a range");
          return;
        }
        if (hi < lo) {
          Invalid("range out of order in character class");
          return;
        }
        items += CodePoint(lo) + "-" + CodePoint(hi);
      } else if (!lo_set) {
        items += CodePoint(lo);
      }
    }
    if (!any) {
      out_ += negated ? "[\\x{0}-\\x{10FFFF}]" : "[^\\x{0}-\\x{10FFFF}]";
      return;
    }
    out_ += negated ? "[^" : "[";
    out_ += items;
    out_ += ']';
  }

  std::string_view s_;
  size_t pos_ = 0;
  std::string out_;
  std::string group_name_;
  RegexStatus status_ = RegexStatus::kOk;
  std::string message_;
};

}  // namespace

RegexTranslation TranslateEcmaRegex(std::string_view pattern) {
  return Translator(pattern).Run();
}

bool BuildSimplePattern(std::string_view s, SimplePattern* out) {
  out->items.clear();
  out->anchored_end = false;
  if (s.empty() || s[0] != '^') return false;
  size_t i = 1;
  auto digits = [](std::bitset<128>* b) {
    for (char c = '0'; c <= '9'; ++c) b->set(static_cast<size_t>(c));
  };
  auto word = [&](std::bitset<128>* b) {
    digits(b);
    for (char c = 'a'; c <= 'z'; ++c) b->set(static_cast<size_t>(c));
    for (char c = 'A'; c <= 'Z'; ++c) b->set(static_cast<size_t>(c));
    b->set('_');
  };
  // An escape inside or outside a class: \d \w or an escaped ASCII syntax character.
  auto escape = [&](char c, std::bitset<128>* b, bool* single, char* literal) {
    *single = false;
    if (c == 'd') {
      digits(b);
      return true;
    }
    if (c == 'w') {
      word(b);
      return true;
    }
    if (IsSyntaxChar(static_cast<unsigned char>(c)) || c == '-') {
      b->set(static_cast<size_t>(c));
      *single = true;
      *literal = c;
      return true;
    }
    return false;
  };
  while (i < s.size()) {
    char c = s[i];
    SimplePattern::Item item;
    if (c == '$') {
      if (i + 1 != s.size()) return false;
      out->anchored_end = true;
      break;
    }
    if (static_cast<unsigned char>(c) >= 0x80) return false;
    if (c == '[') {
      ++i;
      if (i < s.size() && (s[i] == '^' || s[i] == ']')) return false;  // negated or empty
      bool closed = false;
      while (i < s.size()) {
        char a = s[i];
        if (a == ']') {
          closed = true;
          ++i;
          break;
        }
        if (static_cast<unsigned char>(a) >= 0x80 || a == '[') return false;
        bool single = true;
        char lo = a;
        if (a == '\\') {
          if (i + 1 >= s.size() || !escape(s[i + 1], &item.chars, &single, &lo)) return false;
          i += 2;
        } else {
          ++i;
        }
        if (!single) continue;
        if (i + 1 < s.size() && s[i] == '-' && s[i + 1] != ']') {
          char hi = s[i + 1];
          if (static_cast<unsigned char>(hi) >= 0x80 || hi == '\\' || hi == '[' || hi < lo) return false;
          for (int x = lo; x <= hi; ++x) item.chars.set(static_cast<size_t>(x));
          i += 2;
        } else {
          item.chars.set(static_cast<size_t>(static_cast<unsigned char>(lo)));
        }
      }
      if (!closed || item.chars.none()) return false;
    } else if (c == '\\') {
      bool single = false;
      char lit = 0;
      if (i + 1 >= s.size() || !escape(s[i + 1], &item.chars, &single, &lit)) return false;
      i += 2;
    } else if (IsSyntaxChar(static_cast<unsigned char>(c))) {
      return false;  // . ( ) | * + ? { } ] and friends: leave to RE2
    } else {
      item.chars.set(static_cast<size_t>(c));
      ++i;
    }
    // Quantifier.
    if (i < s.size()) {
      char q = s[i];
      if (q == '*' || q == '+' || q == '?') {
        item.min = q == '+' ? 1 : 0;
        item.max = q == '?' ? 1 : UINT32_MAX;
        ++i;
      } else if (q == '{') {
        size_t p = i + 1;
        uint64_t lo = 0;
        uint64_t hi = 0;
        size_t start = p;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9' && p - start < 5) lo = lo * 10 + static_cast<uint64_t>(s[p++] - '0');
        if (p == start) return false;
        hi = lo;
        if (p < s.size() && s[p] == ',') {
          ++p;
          hi = 0;
          size_t hstart = p;
          while (p < s.size() && s[p] >= '0' && s[p] <= '9' && p - hstart < 5) hi = hi * 10 + static_cast<uint64_t>(s[p++] - '0');
          if (p == hstart) hi = UINT32_MAX;
        }
        if (p >= s.size() || s[p] != '}' || hi < lo || lo > 1000 || (hi != UINT32_MAX && hi > 1000)) return false;
        item.min = static_cast<uint32_t>(lo);
        item.max = static_cast<uint32_t>(hi);
        i = p + 1;
      }
      if (i < s.size() && (s[i] == '?' || s[i] == '*' || s[i] == '+' || s[i] == '{')) return false;
    }
    out->items.push_back(item);
  }
  if (out->items.empty() || out->items.size() > 64) return false;
  // Greedy is exact when each variable item is disjoint from the items that can follow it
  // before the next mandatory one.
  for (size_t a = 0; a < out->items.size(); ++a) {
    if (out->items[a].min == out->items[a].max) continue;
    for (size_t b = a + 1; b < out->items.size(); ++b) {
      if ((out->items[a].chars & out->items[b].chars).any()) return false;
      if (out->items[b].min > 0) break;
    }
  }
  return true;
}

}  // namespace rampart::schema::internal
