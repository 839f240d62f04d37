#include "redact/forms.h"

#include <array>
#include <optional>

#include "rampart/redact/redact.h"

namespace rampart::redact {
namespace {

constexpr char kHexLower[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

bool IsAlnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Percent-encoders differ in which punctuation they leave alone; each keeps alphanumerics
// plus one of these sets.
constexpr std::array<std::string_view, 6> kUrlKeep = {
    "-._~",                   // RFC 3986 unreserved
    "*-._",                   // WHATWG application/x-www-form-urlencoded
    "-_.!~*'()",              // JavaScript encodeURIComponent
    "-._~/",                  // Python urllib.parse.quote (default safe="/")
    "-._",                    // PHP urlencode
    "-_.!~*'();,/?:@&=+$#",   // JavaScript encodeURI
};

std::string PercentEncode(std::string_view s, std::string_view keep, bool space_plus,
                          bool upper) {
  const char* hex = upper ? kHexUpper : kHexLower;
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (IsAlnum(c) || keep.find(ch) != std::string_view::npos) {
      out += ch;
    } else if (c == ' ' && space_plus) {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// Decodes UTF-8 into code points; nullopt when invalid (then no \uXXXX variant exists).
std::optional<std::vector<uint32_t>> DecodeUtf8(std::string_view s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + extra >= s.size() && extra > 0) return std::nullopt;
    for (int k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms ("\xc1\xba" would read as 'z'), surrogates and code points past
    // U+10FFFF are not UTF-8: no encoder writes an escape for them, and decoding them
    // would make a form shorter than the secret's bytes.
    static constexpr uint32_t kMinOfLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinOfLength[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::nullopt;
    }
    out.push_back(cp);
    i += 1 + extra;
  }
  return out;
}

struct JsonStyle {
  bool short_controls = true;  // \n rather than \u000a
  bool upper_hex = false;
  bool escape_slash = false;   // \/
  bool ascii_only = false;     // non-ASCII as \uXXXX
  bool html_safe = false;      // < > & as \u003c \u003e \u0026 (Go's encoding/json)
};

void AppendU(std::string& out, uint32_t unit, bool upper) {
  const char* hex = upper ? kHexUpper : kHexLower;
  out += "\\u";
  out += hex[(unit >> 12) & 15];
  out += hex[(unit >> 8) & 15];
  out += hex[(unit >> 4) & 15];
  out += hex[unit & 15];
}

std::optional<std::string> JsonEscape(std::string_view s, const JsonStyle& style) {
  std::string out;
  out.reserve(s.size() + 8);
  auto escape_ascii = [&](unsigned char c) {
    switch (c) {
      case '"': out += "\\\""; return;
      case '\\': out += "\\\\"; return;
      case '/':
        out += style.escape_slash ? "\\/" : "/";
        return;
      default: break;
    }
    if (style.html_safe && (c == '<' || c == '>' || c == '&')) {
      AppendU(out, c, style.upper_hex);
      return;
    }
    if (c < 0x20) {
      if (style.short_controls) {
        switch (c) {
          case '\b': out += "\\b"; return;
          case '\f': out += "\\f"; return;
          case '\n': out += "\\n"; return;
          case '\r': out += "\\r"; return;
          case '\t': out += "\\t"; return;
          default: break;
        }
      }
      AppendU(out, c, style.upper_hex);
      return;
    }
    out += static_cast<char>(c);
  };
  if (!style.ascii_only) {
    for (char ch : s) {
      auto c = static_cast<unsigned char>(ch);
      if (c >= 0x80) {
        out += ch;
      } else {
        escape_ascii(c);
      }
    }
    return out;
  }
  auto cps = DecodeUtf8(s);
  if (!cps) return std::nullopt;
  for (uint32_t cp : *cps) {
    if (cp < 0x80) {
      escape_ascii(static_cast<unsigned char>(cp));
    } else if (cp < 0x10000) {
      AppendU(out, cp, style.upper_hex);
    } else {
      uint32_t v = cp - 0x10000;
      AppendU(out, 0xD800 + (v >> 10), style.upper_hex);
      AppendU(out, 0xDC00 + (v & 0x3FF), style.upper_hex);
    }
  }
  return out;
}

}  // namespace

std::string Base64(std::string_view bytes, bool url, bool pad) {
  static constexpr char kStd[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  static constexpr char kUrl[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const char* alphabet = url ? kUrl : kStd;
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) n |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    if (rest == 2) out += alphabet[(n >> 6) & 63];
    if (pad) out += rest == 1 ? "==" : "=";
  }
  return out;
}

std::string Hex(std::string_view bytes, bool upper) {
  const char* hex = upper ? kHexUpper : kHexLower;
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::vector<Pattern> DerivedForms(std::string_view secret) {
  std::vector<Pattern> out;
  auto add = [&](std::string text) { out.push_back(Pattern{std::move(text), 0, 0}); };
  add(std::string(secret));
  for (bool url : {false, true}) {
    for (bool pad : {false, true}) add(Base64(secret, url, pad));
  }
  add(Hex(secret, false));
  add(Hex(secret, true));
  // Most API keys and tokens use only characters that no percent- or JSON-encoder
  // changes; their URL and JSON forms are the raw value (a fast path for per-run setup).
  bool plain = true;
  for (char ch : secret) {
    auto c = static_cast<unsigned char>(ch);
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') plain = false;
  }
  if (!plain) {
    for (std::string_view keep : kUrlKeep) {
      for (bool plus : {false, true}) {
        for (bool upper : {false, true}) {
          std::string once = PercentEncode(secret, keep, plus, upper);
          // Encoded twice (an encoded value put into a URL and encoded again): every
          // encoder turns each '%' into %25 (what else the second pass changes, e.g. a
          // '+' into %2B, depends on it and is not covered).
          if (once.find('%') != std::string::npos) {
            std::string twice;
            for (char ch : once) twice += ch == '%' ? std::string_view("%25") : std::string_view(&ch, 1);
            add(std::move(twice));
          }
          add(std::move(once));
        }
      }
    }
  }
  std::string single(secret);  // the core serializer's form, escaped again below
  for (int bits = 0; bits < (plain ? 0 : 32); ++bits) {
    JsonStyle style;
    style.short_controls = (bits & 1) == 0;
    style.upper_hex = (bits & 2) != 0;
    style.escape_slash = (bits & 4) != 0;
    style.ascii_only = (bits & 8) != 0;
    style.html_safe = (bits & 16) != 0;
    auto escaped = JsonEscape(secret, style);
    if (!escaped) continue;
    if (bits == 0) single = *escaped;
    add(std::move(*escaped));
  }
  if (!plain) {
    if (auto twice = JsonEscape(single, JsonStyle{})) add(std::move(*twice));
  }

  // Base64 phases: `secret` preceded by k bytes inside a longer base64 text. Only the
  // characters made of secret bits alone are stable; the one before (k > 0) and the one
  // after (when the bit length is not a multiple of 6) mix in neighbouring bits.
  for (bool url : {false, true}) {
    for (size_t k = 0; k < 3; ++k) {
      std::string shifted(k, '\0');
      shifted.append(secret);
      std::string enc = Base64(shifted, url, false);
      size_t bits = 8 * shifted.size();
      size_t stable_end = bits / 6;
      size_t stable_begin = k == 0 ? 0 : (k == 1 ? 2 : 3);
      if (stable_end <= stable_begin || stable_end - stable_begin < kMinPhaseLength) continue;
      Pattern p;
      p.text = enc.substr(stable_begin, stable_end - stable_begin);
      p.left_ext = k == 0 ? 0 : 1;
      p.right_ext = bits % 6 == 0 ? 0 : 1;
      out.push_back(std::move(p));
    }
  }
  return out;
}

}  // namespace rampart::redact
