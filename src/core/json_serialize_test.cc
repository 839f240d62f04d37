// Differential tests of the serializer (Serialize, AppendSerialized, AppendQuoted) against
// a straightforward reference: the implementation before the raw-pointer writer and the
// double fast path (std::string appends, std::to_string, std::to_chars for every double).
// The output must stay byte-for-byte the same for every input: stored run records,
// digests and API answers are made of it.
#include <gtest/gtest.h>

#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "rampart/core/json.h"

namespace rampart::json {
namespace {

namespace bj = boost::json;

void ReferenceQuoted(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

std::string ReferenceDouble(double d) {
  if (!std::isfinite(d)) return "null";
  if (d == 0) d = 0;
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

void Reference(std::string& out, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null: out += "null"; break;
    case bj::kind::bool_: out += v.get_bool() ? "true" : "false"; break;
    case bj::kind::int64: out += std::to_string(v.get_int64()); break;
    case bj::kind::uint64: out += std::to_string(v.get_uint64()); break;
    case bj::kind::double_: out += ReferenceDouble(v.get_double()); break;
    case bj::kind::string: ReferenceQuoted(out, v.get_string()); break;
    case bj::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        Reference(out, e);
      }
      out += ']';
      break;
    }
    case bj::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        ReferenceQuoted(out, kv.key());
        out += ':';
        Reference(out, kv.value());
      }
      out += '}';
      break;
    }
  }
}

std::string Reference(const bj::value& v) {
  std::string out;
  Reference(out, v);
  return out;
}

void ExpectDouble(double d) {
  const bj::value v(d);
  ASSERT_EQ(Serialize(v), ReferenceDouble(d)) << std::hexfloat << d;
}

double FromBits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

TEST(JsonSerializeDifferentialTest, DoublesMatchToCharsOnSpecialValues) {
  const double kSpecial[] = {0.0,
                             -0.0,
                             1.0,
                             -1.0,
                             0.1,
                             0.5,
                             100000.0,  // "1e+05"
                             10000.0,
                             123000.0,
                             1e15,
                             1e16,
                             1e21,
                             1e22,
                             1e23,
                             0x1p50,
                             0x1p50 - 1,
                             0x1p50 + 1,
                             0x1p53,
                             0x1p53 - 1,
                             0x1p53 + 2,
                             0.001,
                             0.0001,  // "1e-04"
                             0.00012,
                             0.000123,
                             1.5e-5,
                             1e-5,
                             0.132256,
                             0.02696,
                             29.700000000000003,
                             0.1 + 0.2,
                             178.2,
                             9.999999999999999,
                             99.99999999999999,
                             std::numeric_limits<double>::min(),
                             std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::lowest(),
                             std::numeric_limits<double>::epsilon(),
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             std::numeric_limits<double>::quiet_NaN()};
  for (double d : kSpecial) {
    ExpectDouble(d);
    ExpectDouble(-d);
    ExpectDouble(std::nextafter(d, 0.0));
    ExpectDouble(std::nextafter(d, std::numeric_limits<double>::infinity()));
  }
}

TEST(JsonSerializeDifferentialTest, DoublesMatchToCharsOnPowersOfTenAndIntegers) {
  for (int e = -330; e <= 310; ++e) {
    const double p = std::pow(10.0, e);
    for (double d : {p, std::nextafter(p, 0.0), std::nextafter(p, 1e300), 2 * p, 5 * p, 9 * p}) {
      ExpectDouble(d);
      ExpectDouble(-d);
    }
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    // Integers with 1..17 digits followed by 0..8 zeros, and integers near 2^50 and 2^53.
    const int digits = 1 + static_cast<int>(rng() % 17);
    uint64_t m = rng() % static_cast<uint64_t>(std::pow(10.0, digits));
    const int zeros = static_cast<int>(rng() % 9);
    ExpectDouble(static_cast<double>(m) * std::pow(10.0, zeros));
    ExpectDouble(-static_cast<double>(m));
    ExpectDouble(0x1p50 + static_cast<double>(static_cast<int64_t>(rng() % 2048) - 1024));
    ExpectDouble(0x1p53 - static_cast<double>(rng() % 2048));
  }
}

TEST(JsonSerializeDifferentialTest, DoublesMatchToCharsOnRandomBitPatterns) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 200000; ++i) ExpectDouble(FromBits(rng()));
  for (int i = 0; i < 20000; ++i) ExpectDouble(FromBits(rng() & 0x800fffffffffffffULL));  // subnormal
}

// Decimals as people and clocks write them: 0..17 significant digits, 0..20 of them after
// the point, read back by strtod (the double a parser would produce for that text).
TEST(JsonSerializeDifferentialTest, DoublesMatchToCharsOnRandomDecimals) {
  std::mt19937_64 rng(13);
  for (int i = 0; i < 200000; ++i) {
    const int digits = static_cast<int>(rng() % 18);
    std::string text = rng() % 4 == 0 ? "-" : "";
    std::string mantissa;
    for (int k = 0; k < digits; ++k) mantissa += static_cast<char>('0' + rng() % 10);
    if (mantissa.empty()) mantissa = "0";
    const int point = static_cast<int>(rng() % 21);  // digits after the point
    if (point >= static_cast<int>(mantissa.size())) {
      mantissa.insert(0, static_cast<size_t>(point) - mantissa.size() + 1, '0');
    }
    mantissa.insert(mantissa.size() - static_cast<size_t>(point), ".");
    text += mantissa;
    ExpectDouble(std::strtod(text.c_str(), nullptr));
  }
  // Log-uniform over 1e-7..1e22, where fixed and scientific forms trade places.
  std::uniform_real_distribution<double> exponent(-7.0, 22.0);
  for (int i = 0; i < 100000; ++i) {
    const double d = std::pow(10.0, exponent(rng));
    ExpectDouble(d);
    // Rounded to 0..9 decimals, as durations and amounts are.
    const double scale = std::pow(10.0, static_cast<double>(rng() % 10));
    ExpectDouble(std::round(d * scale) / scale);
  }
  // Step durations: nanosecond counts in milliseconds, as the engine computes them.
  for (int i = 0; i < 100000; ++i) {
    ExpectDouble(static_cast<double>(rng() % 100000000000ULL) / 1e6);
  }
}

// Every byte value at every offset of strings of every length up to 40 (so through each
// short-string path and each lane of the eight-byte scan, and the tail), once and twice.
TEST(JsonSerializeDifferentialTest, EveryByteAtEveryOffsetOfEveryLength) {
  for (size_t len = 1; len <= 40; ++len) {
    for (int c = 0; c < 256; ++c) {
      for (size_t at = 0; at < len; ++at) {
        std::string text(len, 'x');
        text[at] = static_cast<char>(c);
        if (at + 5 < len) text[at + 5] = static_cast<char>(c);
        std::string out = "prefix:";
        AppendQuoted(out, text);
        std::string expected = "prefix:";
        ReferenceQuoted(expected, text);
        ASSERT_EQ(out, expected) << "byte " << c << " at " << at << " of " << len;
        ASSERT_EQ(Serialize(bj::value(bj::string(text))), expected.substr(7));
      }
    }
  }
  for (size_t len = 0; len <= 40; ++len) {
    const std::string text(len, '\n');  // every byte escaped: the output grows 2x
    std::string out;
    AppendQuoted(out, text);
    std::string expected;
    ReferenceQuoted(expected, text);
    ASSERT_EQ(out, expected);
    const std::string controls(len, '\x01');  // 6x
    out.clear();
    AppendQuoted(out, controls);
    expected.clear();
    ReferenceQuoted(expected, controls);
    ASSERT_EQ(out, expected);
  }
}

std::string RandomText(std::mt19937_64& rng) {
  static const char* const kPieces[] = {"a", "status", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                        "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "\xff", " ", "/"};
  std::string s;
  const size_t pieces = rng() % 4 == 0 ? rng() % 300 : rng() % 12;
  for (size_t i = 0; i < pieces; ++i) {
    if (rng() % 3 == 0) {
      s += static_cast<char>(rng() % 256);
    } else {
      s += kPieces[rng() % (sizeof kPieces / sizeof kPieces[0])];
    }
  }
  return s;
}

bj::value RandomValue(std::mt19937_64& rng, int depth) {
  switch (rng() % (depth > 4 ? 6 : 8)) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: {
      const auto i = static_cast<int64_t>(rng());
      return static_cast<int64_t>(rng() % 2 == 0 ? i : i % 1000);
    }
    case 3: return static_cast<uint64_t>(rng());
    case 4: return rng() % 2 == 0 ? FromBits(rng()) : static_cast<double>(rng() % 10000000) / 1e3;
    case 5: return bj::string(RandomText(rng));
    case 6: {
      bj::array a;
      const size_t n = rng() % 6;
      for (size_t i = 0; i < n; ++i) a.push_back(RandomValue(rng, depth + 1));
      return a;
    }
    default: {
      bj::object o;
      const size_t n = rng() % 8;
      for (size_t i = 0; i < n; ++i) o[RandomText(rng)] = RandomValue(rng, depth + 1);
      return o;
    }
  }
}

TEST(JsonSerializeDifferentialTest, RandomDocumentsMatchTheReference) {
  std::mt19937_64 rng(17);
  for (int i = 0; i < 20000; ++i) {
    const bj::value v = RandomValue(rng, 0);
    const std::string expected = Reference(v);
    ASSERT_EQ(Serialize(v), expected);
    if (v.is_object()) {
      ASSERT_EQ(Serialize(v.get_object()), expected);
    }
    if (v.is_array()) {
      ASSERT_EQ(Serialize(v.get_array()), expected);
    }
    // Appended after existing text, with and without spare capacity.
    std::string out = "x";
    AppendSerialized(out, v);
    ASSERT_EQ(out, "x" + expected);
    std::string roomy = "yy";
    roomy.reserve(4096);
    AppendSerialized(roomy, v);
    AppendSerialized(roomy, v);
    ASSERT_EQ(roomy, "yy" + expected + expected);
    ASSERT_EQ(SerializedSizeAtMost(v, 1 << 30), expected.size());
  }
}

TEST(JsonSerializeDifferentialTest, IntegersAtTheLimits) {
  for (int64_t i : {int64_t{0}, int64_t{-1}, int64_t{9}, int64_t{10}, int64_t{-10},
                    std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(Serialize(bj::value(i)), std::to_string(i));
  }
  for (uint64_t u : {uint64_t{0}, uint64_t{10}, std::numeric_limits<uint64_t>::max()}) {
    EXPECT_EQ(Serialize(bj::value(u)), std::to_string(u));
  }
}

// A document far larger than any first guess of the output size, and the same after a
// small one (the serializer's buffers must not carry bytes from one call to the next).
TEST(JsonSerializeDifferentialTest, LargeThenSmallDocuments) {
  std::mt19937_64 rng(19);
  bj::array big;
  for (int i = 0; i < 20000; ++i) big.push_back(RandomValue(rng, 3));
  const bj::value v(big);
  EXPECT_EQ(Serialize(v), Reference(v));
  EXPECT_EQ(Serialize(bj::value(bj::array{1, 2})), "[1,2]");
  EXPECT_EQ(Serialize(bj::value(bj::string(std::string(1 << 20, '\x02')))),
            Reference(bj::value(bj::string(std::string(1 << 20, '\x02')))));
  EXPECT_EQ(Serialize(bj::value(bj::object{})), "{}");
}

}  // namespace
}  // namespace rampart::json
