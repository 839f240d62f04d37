#include "schema/idn.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace rampart::schema::internal {
namespace {

struct Range {
  uint32_t lo;
  uint32_t hi;
};

template <size_t N>
bool InRanges(const Range (&ranges)[N], uint32_t cp) {
  for (const Range& r : ranges) {
    if (cp >= r.lo && cp <= r.hi) return true;
  }
  return false;
}

// Combining marks (General_Category M: Mn, Mc, Me), the blocks in use.
constexpr Range kMarks[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF}, {0x05C1, 0x05C2},
    {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F}, {0x0670, 0x0670},
    {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x06E7, 0x06E8}, {0x06EA, 0x06ED}, {0x0711, 0x0711},
    {0x0730, 0x074A}, {0x07A6, 0x07B0}, {0x07EB, 0x07F3}, {0x0816, 0x082D}, {0x0859, 0x085B},
    {0x08D3, 0x08E1}, {0x08E3, 0x0903}, {0x093A, 0x093C}, {0x093E, 0x094F}, {0x0951, 0x0957},
    {0x0962, 0x0963}, {0x0981, 0x0983}, {0x09BC, 0x09BC}, {0x09BE, 0x09CD}, {0x09D7, 0x09D7},
    {0x09E2, 0x09E3}, {0x0A01, 0x0A03}, {0x0A3C, 0x0A51}, {0x0A70, 0x0A71}, {0x0A75, 0x0A75},
    {0x0A81, 0x0A83}, {0x0ABC, 0x0ABC}, {0x0ABE, 0x0ACD}, {0x0AE2, 0x0AE3}, {0x0B01, 0x0B03},
    {0x0B3C, 0x0B3C}, {0x0B3E, 0x0B57}, {0x0B62, 0x0B63}, {0x0B82, 0x0B82}, {0x0BBE, 0x0BCD},
    {0x0BD7, 0x0BD7}, {0x0C00, 0x0C04}, {0x0C3E, 0x0C56}, {0x0C62, 0x0C63}, {0x0C81, 0x0C83},
    {0x0CBC, 0x0CBC}, {0x0CBE, 0x0CD6}, {0x0CE2, 0x0CE3}, {0x0D00, 0x0D03}, {0x0D3B, 0x0D3C},
    {0x0D3E, 0x0D4D}, {0x0D57, 0x0D57}, {0x0D62, 0x0D63}, {0x0D82, 0x0D83}, {0x0DCA, 0x0DDF},
    {0x0DF2, 0x0DF3}, {0x0E31, 0x0E31}, {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E}, {0x0EB1, 0x0EB1},
    {0x0EB4, 0x0EBC}, {0x0EC8, 0x0ECD}, {0x0F18, 0x0F19}, {0x0F35, 0x0F35}, {0x0F37, 0x0F37},
    {0x0F39, 0x0F39}, {0x0F3E, 0x0F3F}, {0x0F71, 0x0F84}, {0x0F86, 0x0F87}, {0x0F8D, 0x0FBC},
    {0x0FC6, 0x0FC6}, {0x102B, 0x103E}, {0x1056, 0x1059}, {0x105E, 0x1060}, {0x1062, 0x1064},
    {0x1067, 0x106D}, {0x1071, 0x1074}, {0x1082, 0x108D}, {0x108F, 0x108F}, {0x109A, 0x109D},
    {0x135D, 0x135F}, {0x1712, 0x1714}, {0x1732, 0x1734}, {0x1752, 0x1753}, {0x1772, 0x1773},
    {0x17B4, 0x17D3}, {0x17DD, 0x17DD}, {0x180B, 0x180D}, {0x1885, 0x1886}, {0x18A9, 0x18A9},
    {0x1920, 0x193B}, {0x1A17, 0x1A1B}, {0x1A55, 0x1A7F}, {0x1AB0, 0x1AFF}, {0x1B00, 0x1B04},
    {0x1B34, 0x1B44}, {0x1B6B, 0x1B73}, {0x1B80, 0x1B82}, {0x1BA1, 0x1BAD}, {0x1BE6, 0x1BF3},
    {0x1C24, 0x1C37}, {0x1CD0, 0x1CD2}, {0x1CD4, 0x1CE8}, {0x1DC0, 0x1DFF}, {0x20D0, 0x20FF},
    {0x2CEF, 0x2CF1}, {0x2D7F, 0x2D7F}, {0x2DE0, 0x2DFF}, {0x302A, 0x302F}, {0x3099, 0x309A},
    {0xA66F, 0xA672}, {0xA674, 0xA67D}, {0xA69E, 0xA69F}, {0xA6F0, 0xA6F1}, {0xA802, 0xA802},
    {0xA806, 0xA806}, {0xA80B, 0xA80B}, {0xA823, 0xA827}, {0xA880, 0xA881}, {0xA8B4, 0xA8C5},
    {0xA8E0, 0xA8F1}, {0xA926, 0xA92D}, {0xA947, 0xA953}, {0xA980, 0xA983}, {0xA9B3, 0xA9C0},
    {0xFB1E, 0xFB1E}, {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0x101FD, 0x101FD},
    {0x1D165, 0x1D169}, {0x1D16D, 0x1D172}, {0x1D17B, 0x1D182}, {0x1D185, 0x1D18B},
    {0x1D1AA, 0x1D1AD}, {0xE0100, 0xE01EF},
};

// Code points with Canonical_Combining_Class Virama (for CONTEXTJ).
constexpr uint32_t kViramas[] = {
    0x094D,  0x09CD,  0x0A4D,  0x0ACD,  0x0B4D,  0x0BCD,  0x0C4D,  0x0CCD,  0x0D3B,  0x0D3C,
    0x0D4D,  0x0DCA,  0x0E3A,  0x0EBA,  0x0F84,  0x1039,  0x103A,  0x1714,  0x1734,  0x17D2,
    0x1A60,  0x1B44,  0x1BAA,  0x1BAB,  0x1BF2,  0x1BF3,  0x2D7F,  0xA806,  0xA8C4,  0xA953,
    0xA9C0,  0xAAF6,  0xABED,  0x10A3F, 0x11046, 0x1107F, 0x110B9, 0x11133, 0x11134, 0x111C0,
    0x11235, 0x112EA, 0x1134D, 0x11442, 0x114C2, 0x115BF, 0x1163F, 0x116B6, 0x1172B, 0x11839,
};

// DISALLOWED (RFC 5892): the RFC's exceptions plus the blocks whose code points are
// symbols, punctuation, spaces, compatibility forms or not stable under NFKC_Casefold.
constexpr Range kDisallowed[] = {
    {0x0000, 0x002C}, {0x002E, 0x002F}, {0x003A, 0x0040}, {0x005B, 0x0060}, {0x007B, 0x00B6},
    {0x00B8, 0x00DE}, {0x00F7, 0x00F7}, {0x0640, 0x0640}, {0x07FA, 0x07FA}, {0x1806, 0x1806},
    {0x2000, 0x200B}, {0x200E, 0x2BFF}, {0x2E00, 0x2E7F}, {0x3000, 0x3004}, {0x3008, 0x3020},
    {0x302E, 0x302F}, {0x3030, 0x3035}, {0x3036, 0x3037}, {0x303B, 0x303F}, {0x3200, 0x33FF},
    {0xD800, 0xF8FF}, {0xF900, 0xFAFF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFE10, 0xFE1F},
    {0xFE30, 0xFE6F}, {0xFEFF, 0xFEFF}, {0xFF00, 0xFFEF}, {0xFFF0, 0xFFFF}, {0x1F000, 0x1FAFF},
    {0xE0000, 0xE0FFF}, {0xF0000, 0x10FFFF},
};

// Bidi classes, coarse (RFC 5893 needs L, R, AL, AN, EN, ES, CS, ET, ON, BN, NSM).
enum class Bidi { kL, kR, kAL, kAN, kEN, kES, kCS, kET, kON, kBN, kNSM };

constexpr Range kBidiR[] = {{0x0590, 0x05FF}, {0x07C0, 0x085F}, {0xFB1D, 0xFB4F},
                            {0x10800, 0x10FFF}, {0x1E800, 0x1EDFF}};
constexpr Range kBidiAL[] = {{0x0608, 0x0608}, {0x060B, 0x060B}, {0x060D, 0x060D},
                             {0x061B, 0x064A}, {0x066D, 0x066F}, {0x0671, 0x06D5},
                             {0x06E5, 0x06E6}, {0x06EE, 0x06EF}, {0x06FA, 0x070D},
                             {0x070F, 0x0710}, {0x0712, 0x072F}, {0x074B, 0x07A5},
                             {0x07B1, 0x07BF}, {0x0860, 0x08D2}, {0xFB50, 0xFDFF},
                             {0xFE70, 0xFEFE}, {0x1EE00, 0x1EEFF}};
constexpr Range kBidiAN[] = {{0x0600, 0x0605}, {0x0660, 0x0669}, {0x066B, 0x066C},
                             {0x06DD, 0x06DD}, {0x08E2, 0x08E2}, {0x10E60, 0x10E7E}};
constexpr Range kBidiEN[] = {{0x0030, 0x0039}, {0x00B2, 0x00B3}, {0x00B9, 0x00B9},
                             {0x06F0, 0x06F9}, {0x2070, 0x2079}, {0x2080, 0x2089},
                             {0xFF10, 0xFF19}};

Bidi BidiClass(uint32_t cp) {
  if (cp == 0x200C || cp == 0x200D) return Bidi::kBN;
  if (InRanges(kMarks, cp)) return Bidi::kNSM;
  if (InRanges(kBidiEN, cp)) return Bidi::kEN;
  if (InRanges(kBidiAN, cp)) return Bidi::kAN;
  if (InRanges(kBidiR, cp)) return Bidi::kR;
  if (InRanges(kBidiAL, cp)) return Bidi::kAL;
  if (cp == '+' || cp == '-') return Bidi::kES;
  if (cp == ',' || cp == '.' || cp == '/' || cp == ':' || cp == 0xA0) return Bidi::kCS;
  if (cp == '#' || cp == '$' || cp == '%' || (cp >= 0xA2 && cp <= 0xA5)) return Bidi::kET;
  if (cp < 0x80) {
    bool letter = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
    return letter ? Bidi::kL : Bidi::kON;
  }
  if (cp == 0x00B7 || cp == 0x0375 || cp == 0x30FB || (cp >= 0x2000 && cp <= 0x2BFF)) {
    return Bidi::kON;
  }
  return Bidi::kL;
}

bool IsGreek(uint32_t cp) { return (cp >= 0x0370 && cp <= 0x03FF) || (cp >= 0x1F00 && cp <= 0x1FFF); }
bool IsHebrew(uint32_t cp) { return (cp >= 0x0590 && cp <= 0x05FF) || (cp >= 0xFB1D && cp <= 0xFB4F); }
bool IsHiraganaKatakanaHan(uint32_t cp) {
  return (cp >= 0x3040 && cp <= 0x309F) || (cp >= 0x30A0 && cp <= 0x30FF && cp != 0x30FB) ||
         (cp >= 0x31F0 && cp <= 0x31FF) || (cp >= 0xFF66 && cp <= 0xFF9F) ||
         (cp >= 0x2E80 && cp <= 0x2FDF) || cp == 0x3005 || cp == 0x3007 ||
         (cp >= 0x3021 && cp <= 0x3029) || (cp >= 0x3038 && cp <= 0x303B) ||
         (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
         (cp >= 0x20000 && cp <= 0x3FFFF);
}
bool IsVirama(uint32_t cp) {
  return std::find(std::begin(kViramas), std::end(kViramas), cp) != std::end(kViramas);
}

// Joining_Type for the ZWNJ rule: Arabic-script letters are taken as dual-joining, their
// combining marks as transparent.
enum class Joining { kNone, kDual, kTransparent };
Joining JoiningType(uint32_t cp) {
  if (InRanges(kMarks, cp)) return Joining::kTransparent;
  if ((cp >= 0x0620 && cp <= 0x064A) || (cp >= 0x066E && cp <= 0x06D3) ||
      (cp >= 0x06FA && cp <= 0x06FF) || (cp >= 0x0710 && cp <= 0x074F) ||
      (cp >= 0x0750 && cp <= 0x077F) || (cp >= 0x08A0 && cp <= 0x08C9)) {
    return Joining::kDual;
  }
  return Joining::kNone;
}

// Decodes UTF-8; false on malformed input.
bool DecodeUtf8(std::string_view s, std::vector<uint32_t>* out) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    out->push_back(cp);
    i += len;
  }
  return true;
}

// ---- Punycode (RFC 3492) ----
constexpr uint32_t kBase = 36;
constexpr uint32_t kTMin = 1;
constexpr uint32_t kTMax = 26;
constexpr uint32_t kSkew = 38;
constexpr uint32_t kDamp = 700;
constexpr uint32_t kInitialBias = 72;
constexpr uint32_t kInitialN = 128;
constexpr uint32_t kMaxInt = 0x7FFFFFFF;

uint32_t Adapt(uint32_t delta, uint32_t numpoints, bool first) {
  delta = first ? delta / kDamp : delta / 2;
  delta += delta / numpoints;
  uint32_t k = 0;
  while (delta > ((kBase - kTMin) * kTMax) / 2) {
    delta /= kBase - kTMin;
    k += kBase;
  }
  return k + (kBase - kTMin + 1) * delta / (delta + kSkew);
}

bool PunycodeDecode(std::string_view in, std::vector<uint32_t>* out) {
  size_t b = in.rfind('-');
  size_t start = 0;
  if (b != std::string_view::npos) {
    for (size_t j = 0; j < b; ++j) {
      if (static_cast<unsigned char>(in[j]) >= 0x80) return false;
      out->push_back(static_cast<unsigned char>(in[j]));
    }
    start = b + 1;
  }
  uint32_t n = kInitialN;
  uint32_t i = 0;
  uint32_t bias = kInitialBias;
  for (size_t pos = start; pos < in.size();) {
    uint32_t oldi = i;
    uint32_t w = 1;
    for (uint32_t k = kBase;; k += kBase) {
      if (pos >= in.size()) return false;
      char c = in[pos++];
      uint32_t digit = 0;
      if (c >= '0' && c <= '9') {
        digit = static_cast<uint32_t>(c - '0') + 26;
      } else if (c >= 'a' && c <= 'z') {
        digit = static_cast<uint32_t>(c - 'a');
      } else if (c >= 'A' && c <= 'Z') {
        digit = static_cast<uint32_t>(c - 'A');
      } else {
        return false;
      }
      if (digit > (kMaxInt - i) / w) return false;
      i += digit * w;
      uint32_t t = k <= bias ? kTMin : k >= bias + kTMax ? kTMax : k - bias;
      if (digit < t) break;
      if (w > kMaxInt / (kBase - t)) return false;
      w *= kBase - t;
    }
    uint32_t count = static_cast<uint32_t>(out->size()) + 1;
    bias = Adapt(i - oldi, count, oldi == 0);
    if (i / count > kMaxInt - n) return false;
    n += i / count;
    i %= count;
    if (n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF)) return false;
    out->insert(out->begin() + i, n);
    ++i;
  }
  return true;
}

bool PunycodeEncode(const std::vector<uint32_t>& in, std::string* out) {
  uint32_t n = kInitialN;
  uint32_t delta = 0;
  uint32_t bias = kInitialBias;
  for (uint32_t c : in) {
    if (c < 0x80) *out += static_cast<char>(c);
  }
  uint32_t h = static_cast<uint32_t>(out->size());
  uint32_t b = h;
  if (b > 0) *out += '-';
  auto digit = [](uint32_t d) { return static_cast<char>(d < 26 ? 'a' + d : '0' + (d - 26)); };
  while (h < in.size()) {
    uint32_t m = kMaxInt;
    for (uint32_t c : in) {
      if (c >= n && c < m) m = c;
    }
    if (m - n > (kMaxInt - delta) / (h + 1)) return false;
    delta += (m - n) * (h + 1);
    n = m;
    for (uint32_t c : in) {
      if (c < n && ++delta == 0) return false;
      if (c == n) {
        uint32_t q = delta;
        for (uint32_t k = kBase;; k += kBase) {
          uint32_t t = k <= bias ? kTMin : k >= bias + kTMax ? kTMax : k - bias;
          if (q < t) break;
          *out += digit(t + (q - t) % (kBase - t));
          q = (q - t) / (kBase - t);
        }
        *out += digit(q);
        bias = Adapt(delta, h + 1, h == b);
        delta = 0;
        ++h;
      }
    }
    ++delta;
    ++n;
  }
  return true;
}

bool EqualsIgnoreAsciiCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

bool HasBidiRtl(const std::vector<uint32_t>& label) {
  for (uint32_t cp : label) {
    Bidi b = BidiClass(cp);
    if (b == Bidi::kR || b == Bidi::kAL || b == Bidi::kAN) return true;
  }
  return false;
}

// RFC 5893 section 2.
bool BidiRuleHolds(const std::vector<uint32_t>& label) {
  if (label.empty()) return false;
  Bidi first = BidiClass(label[0]);
  if (first != Bidi::kL && first != Bidi::kR && first != Bidi::kAL) return false;
  size_t end = label.size();
  while (end > 0 && BidiClass(label[end - 1]) == Bidi::kNSM) --end;
  if (end == 0) return false;
  Bidi last = BidiClass(label[end - 1]);
  if (first == Bidi::kL) {
    for (uint32_t cp : label) {
      Bidi b = BidiClass(cp);
      if (b == Bidi::kR || b == Bidi::kAL || b == Bidi::kAN) return false;
    }
    return last == Bidi::kL || last == Bidi::kEN;
  }
  bool en = false;
  bool an = false;
  for (uint32_t cp : label) {
    Bidi b = BidiClass(cp);
    if (b == Bidi::kL) return false;
    en = en || b == Bidi::kEN;
    an = an || b == Bidi::kAN;
  }
  if (en && an) return false;
  return last == Bidi::kR || last == Bidi::kAL || last == Bidi::kEN || last == Bidi::kAN;
}

// RFC 5891 section 5.4 / RFC 5892 for one U-label (as code points).
bool ULabelValid(const std::vector<uint32_t>& label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  if (label.size() >= 4 && label[2] == '-' && label[3] == '-') return false;
  if (InRanges(kMarks, label[0])) return false;
  bool arabic_indic = false;
  bool extended_arabic_indic = false;
  for (uint32_t cp : label) {
    arabic_indic = arabic_indic || (cp >= 0x0660 && cp <= 0x0669);
    extended_arabic_indic = extended_arabic_indic || (cp >= 0x06F0 && cp <= 0x06F9);
  }
  if (arabic_indic && extended_arabic_indic) return false;
  for (size_t i = 0; i < label.size(); ++i) {
    uint32_t cp = label[i];
    uint32_t prev = i > 0 ? label[i - 1] : 0;
    uint32_t next = i + 1 < label.size() ? label[i + 1] : 0;
    switch (cp) {
      case 0x00DF: case 0x03C2: case 0x06FD: case 0x06FE: case 0x0F0B: case 0x3007:
        continue;  // PVALID exceptions
      case 0x00B7:
        if (prev != 'l' || next != 'l') return false;
        continue;
      case 0x0375:
        if (i + 1 >= label.size() || !IsGreek(next)) return false;
        continue;
      case 0x05F3:
      case 0x05F4:
        if (i == 0 || !IsHebrew(prev)) return false;
        continue;
      case 0x30FB: {
        bool ok = false;
        for (uint32_t other : label) ok = ok || IsHiraganaKatakanaHan(other);
        if (!ok) return false;
        continue;
      }
      case 0x200D:
        if (i == 0 || !IsVirama(prev)) return false;
        continue;
      case 0x200C: {
        if (i > 0 && IsVirama(prev)) continue;
        // (L|D) T* ZWNJ T* (R|D)
        size_t j = i;
        while (j > 0 && JoiningType(label[j - 1]) == Joining::kTransparent) --j;
        if (j == 0 || JoiningType(label[j - 1]) != Joining::kDual) return false;
        size_t k = i + 1;
        while (k < label.size() && JoiningType(label[k]) == Joining::kTransparent) ++k;
        if (k >= label.size() || JoiningType(label[k]) != Joining::kDual) return false;
        continue;
      }
      default:
        break;
    }
    if (cp == '-' || (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
        (cp >= 'A' && cp <= 'Z')) {
      continue;
    }
    if (InRanges(kDisallowed, cp)) return false;
  }
  return true;
}

bool IsLdh(std::string_view label) {
  for (char c : label) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

// An ASCII label: LDH rules, and A-labels must decode to a valid U-label that re-encodes
// to the same text. `decoded` receives the U-label code points.
bool AsciiLabelValid(std::string_view label, std::vector<uint32_t>* decoded) {
  if (label.empty() || label.size() > 63 || !IsLdh(label)) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  if (label.size() >= 4 && label[2] == '-' && label[3] == '-') {
    if (!EqualsIgnoreAsciiCase(label.substr(0, 4), "xn--")) return false;
    std::string_view puny = label.substr(4);
    if (puny.empty() || !PunycodeDecode(puny, decoded)) return false;
    bool non_ascii = false;
    for (uint32_t cp : *decoded) non_ascii = non_ascii || cp >= 0x80;
    if (!non_ascii) return false;
    std::string again;
    if (!PunycodeEncode(*decoded, &again) || !EqualsIgnoreAsciiCase(again, puny)) return false;
    return ULabelValid(*decoded);
  }
  for (char c : label) decoded->push_back(static_cast<unsigned char>(c));
  return true;
}

bool CheckLabels(const std::vector<std::vector<uint32_t>>& labels) {
  bool bidi_domain = false;
  for (const auto& l : labels) bidi_domain = bidi_domain || HasBidiRtl(l);
  if (!bidi_domain) return true;
  for (const auto& l : labels) {
    if (!BidiRuleHolds(l)) return false;
  }
  return true;
}

}  // namespace

bool CheckHostname(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  // Fast path: plain LDH labels, no A-label ("--" at positions 3-4) and so no Bidi rule.
  bool plain = true;
  size_t label_start = 0;
  for (size_t i = 0; i <= text.size() && plain; ++i) {
    if (i < text.size() && text[i] != '.') continue;
    std::string_view label = text.substr(label_start, i - label_start);
    if (label.empty() || label.size() > 63 || !IsLdh(label) || label.front() == '-' ||
        label.back() == '-') {
      return false;
    }
    plain = !(label.size() >= 4 && label[2] == '-' && label[3] == '-');
    label_start = i + 1;
  }
  if (plain) return true;
  std::vector<std::vector<uint32_t>> labels;
  size_t start = 0;
  while (true) {
    size_t dot = text.find('.', start);
    std::string_view label =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    labels.emplace_back();
    if (!AsciiLabelValid(label, &labels.back())) return false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return CheckLabels(labels);
}

bool CheckIdnHostname(std::string_view text) {
  std::vector<uint32_t> cps;
  if (text.empty() || !DecodeUtf8(text, &cps)) return false;
  std::vector<std::vector<uint32_t>> labels(1);
  for (uint32_t cp : cps) {
    if (cp == '.' || cp == 0x3002 || cp == 0xFF0E || cp == 0xFF61) {
      labels.emplace_back();
    } else {
      labels.back().push_back(cp);
    }
  }
  size_t total = 0;
  std::vector<std::vector<uint32_t>> checked;
  for (const auto& label : labels) {
    if (label.empty()) return false;
    bool ascii = std::all_of(label.begin(), label.end(), [](uint32_t c) { return c < 0x80; });
    checked.emplace_back();
    if (ascii) {
      std::string s(label.begin(), label.end());
      if (!AsciiLabelValid(s, &checked.back())) return false;
      total += s.size() + 1;
    } else {
      if (!ULabelValid(label)) return false;
      std::string encoded;
      if (!PunycodeEncode(label, &encoded) || encoded.size() + 4 > 63) return false;
      checked.back() = label;
      total += encoded.size() + 5;
    }
  }
  if (total - 1 > 253) return false;
  return CheckLabels(checked);
}

}  // namespace rampart::schema::internal
