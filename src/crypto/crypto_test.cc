#include <argon2.h>
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <cstring>
#include <set>
#include <string>

#include "rampart/core/clock.h"
#include "rampart/crypto/aead.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/password.h"
#include "rampart/crypto/tokens.h"

namespace rampart::crypto {
namespace {

// Deterministic bytes: a counter, so tests can predict outputs.
class CounterRandom : public Random {
 public:
  void Fill(uint8_t* out, size_t size) override {
    for (size_t i = 0; i < size; ++i) out[i] = next_++;
  }

 private:
  uint8_t next_ = 0;
};

class ConstantRandom : public Random {
 public:
  explicit ConstantRandom(uint8_t value) : value_(value) {}
  void Fill(uint8_t* out, size_t size) override { std::memset(out, value_, size); }

 private:
  uint8_t value_;
};

std::string Unhex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  EXPECT_TRUE(bytes.has_value()) << hex;
  return bytes.value_or("");
}

// --- SHA-256 (FIPS 180-4 examples) ---

TEST(Sha256, KnownAnswers) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(HexEncode(DigestBytes(Sha256("abc"))), Sha256Hex("abc"));
}

// --- HMAC-SHA-256 (RFC 4231) ---

TEST(HkdfSha256, Rfc5869TestCases1And3) {
  // RFC 5869 A.1: salt and info given.
  EXPECT_EQ(HexEncode(HkdfSha256(std::string(22, '\x0b'), *HexDecode("000102030405060708090a0b0c"),
                                 *HexDecode("f0f1f2f3f4f5f6f7f8f9"), 42)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  // RFC 5869 A.3: empty salt and info.
  EXPECT_EQ(HexEncode(HkdfSha256(std::string(22, '\x0b'), "", "", 42)),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  // Another label, another key.
  EXPECT_NE(HkdfSha256("material", "rampart", "a", 32), HkdfSha256("material", "rampart", "b", 32));
}

TEST(HmacSha256, Rfc4231) {
  struct Case {
    std::string key, data, mac;
  } cases[] = {
      {std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {Unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {std::string(131, '\xaa'),
       "This is a test using a larger than block-size key and a larger than block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(HexEncode(DigestBytes(HmacSha256(c.key, c.data))), c.mac);
  }
  // Test case 5 (truncation to 128 bits).
  EXPECT_EQ(HexEncode(DigestBytes(HmacSha256(std::string(20, '\x0c'), "Test With Truncation")))
                .substr(0, 32),
            "a3b6167473100ee06e0c796c2955552b");
  // Empty key is a valid HMAC key.
  EXPECT_EQ(HexEncode(DigestBytes(HmacSha256("", ""))),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

// --- Constant-time comparison ---

TEST(ConstantTimeEqual, Semantics) {
  EXPECT_TRUE(ConstantTimeEqual("", ""));
  EXPECT_TRUE(ConstantTimeEqual("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEqual("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEqual("Secret", "secret"));
  EXPECT_FALSE(ConstantTimeEqual("secret", "secret2"));  // prefix is not equality
  EXPECT_FALSE(ConstantTimeEqual("", "x"));
  EXPECT_FALSE(ConstantTimeEqual(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
  EXPECT_TRUE(ConstantTimeEqual(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
}

// --- Hex ---

TEST(Hex, RoundTripAndStrictness) {
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(HexDecode("0001ABff"), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(HexDecode(""), std::string());
  EXPECT_FALSE(HexDecode("abc").has_value());
  EXPECT_FALSE(HexDecode("zz").has_value());
  EXPECT_FALSE(HexDecode("0x00").has_value());
  EXPECT_FALSE(HexDecode(" 00").has_value());
}

// --- Base64 (RFC 4648 section 10) ---

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), std::string(plain));
    std::string url(encoded);
    while (!url.empty() && url.back() == '=') url.pop_back();
    EXPECT_EQ(Base64UrlEncode(plain), url);
    EXPECT_EQ(Base64UrlDecode(url), std::string(plain));
  }
}

TEST(Base64, AlphabetsDiffer) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64Encode(bytes), "+/+/");
  EXPECT_EQ(Base64UrlEncode(bytes), "-_-_");
  EXPECT_FALSE(Base64Decode("-_-_").has_value());
  EXPECT_FALSE(Base64UrlDecode("+/+/").has_value());
}

TEST(Base64, DecodersAreStrict) {
  EXPECT_FALSE(Base64Decode("Zg").has_value());       // missing padding
  EXPECT_FALSE(Base64Decode("Zg=").has_value());      // length not a multiple of 4
  EXPECT_FALSE(Base64Decode("Zh==").has_value());     // non-zero unused bits
  EXPECT_FALSE(Base64Decode("Zm9=").has_value());     // non-zero unused bits
  EXPECT_FALSE(Base64Decode("Z===").has_value());     // too much padding
  EXPECT_FALSE(Base64Decode("====").has_value());
  EXPECT_FALSE(Base64Decode("Zg==Zg==").has_value()); // padding inside
  EXPECT_FALSE(Base64Decode("Zm9v\n").has_value());   // whitespace
  EXPECT_FALSE(Base64Decode("Zm 9v").has_value());
  EXPECT_FALSE(Base64Decode("Zm9v=").has_value());
  EXPECT_FALSE(Base64UrlDecode("Zg==").has_value());  // url form is unpadded
  EXPECT_FALSE(Base64UrlDecode("Z").has_value());     // 1 mod 4
  EXPECT_FALSE(Base64UrlDecode("Zh").has_value());    // non-zero unused bits
  EXPECT_FALSE(Base64UrlDecode("Zm9v.").has_value());
  EXPECT_EQ(Base64UrlDecode(""), std::string());
}

TEST(Base64, RoundTripAllByteValues) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 7) {
    std::string s = all.substr(0, len);
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
    EXPECT_EQ(Base64UrlDecode(Base64UrlEncode(s)), s);
  }
}

// --- CRC-32 ---

TEST(Crc32, KnownAnswers) {
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(""), 0u);
  EXPECT_EQ(Crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
}

// --- Base62 ---

TEST(Base62, Encoding) {
  EXPECT_EQ(Base62Encode(std::string_view(""), 3), "000");
  EXPECT_EQ(Base62Encode(std::string("\x00", 1), 1), "0");
  EXPECT_EQ(Base62Encode(std::string("\x3d", 1), 1), "z");  // 61
  EXPECT_EQ(Base62Encode(std::string("\x3e", 1), 1), "10");  // 62: longer than width
  EXPECT_EQ(Base62Encode(uint32_t{0}, 6), "000000");
  EXPECT_EQ(Base62Encode(uint32_t{62 * 62 - 1}, 6), "0000zz");
  EXPECT_EQ(Base62Encode(uint32_t{0xFFFFFFFF}, 6), "4gfFC3");
  // The largest 32-byte value still fits 43 characters.
  std::string max(32, '\xff');
  std::string encoded = Base62Encode(max, 43);
  EXPECT_EQ(encoded.size(), 43u);
  EXPECT_TRUE(IsBase62(encoded));
  EXPECT_EQ(Base62Encode(std::string(32, '\0'), 43), std::string(43, '0'));
  EXPECT_FALSE(IsBase62("abc-"));
  EXPECT_TRUE(IsBase62("09AZaz"));
}

TEST(RandomBytes, UsesTheSource) {
  CounterRandom random;
  EXPECT_EQ(RandomBytes(random, 4), std::string("\x00\x01\x02\x03", 4));
  EXPECT_EQ(RandomBytes(random, 0), "");
}

// --- Tokens (spec/security.md section 2) ---

TEST(ApiKey, Format) {
  for (int i = 0; i < 50; ++i) {
    std::string key = NewApiKey(SystemRandom());
    ASSERT_EQ(key.size(), 53u);
    EXPECT_EQ(key.substr(0, 4), "rpk_");
    EXPECT_TRUE(IsBase62(key.substr(4)));
    EXPECT_TRUE(ApiKeyWellFormed(key)) << i;
    std::string part = key.substr(4, 43);
    EXPECT_EQ(key.substr(47), Base62Encode(Crc32(part), 6));
  }
}

TEST(ApiKey, DeterministicFromRandom) {
  ConstantRandom zeros(0);
  std::string key = NewApiKey(zeros);
  std::string part(43, '0');
  EXPECT_EQ(key, "rpk_" + part + Base62Encode(Crc32(part), 6));
  EXPECT_TRUE(ApiKeyWellFormed(key));
}

TEST(ApiKey, Unique) {
  std::set<std::string> keys;
  for (int i = 0; i < 200; ++i) keys.insert(NewApiKey(SystemRandom()));
  EXPECT_EQ(keys.size(), 200u);
}

TEST(ApiKey, TyposAreRejected) {
  std::string key = NewApiKey(SystemRandom());
  ASSERT_TRUE(ApiKeyWellFormed(key));
  // Every single-character substitution in the random part or checksum is caught.
  const std::string alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  int accepted = 0;
  for (size_t i = 4; i < key.size(); ++i) {
    for (char c : {'0', 'a', 'Z', '9'}) {
      if (key[i] == c) continue;
      std::string typo = key;
      typo[i] = c;
      if (ApiKeyWellFormed(typo)) ++accepted;
    }
  }
  EXPECT_EQ(accepted, 0);
  // Adjacent transposition.
  for (size_t i = 4; i + 1 < key.size(); ++i) {
    if (key[i] == key[i + 1]) continue;
    std::string swapped = key;
    std::swap(swapped[i], swapped[i + 1]);
    EXPECT_FALSE(ApiKeyWellFormed(swapped)) << i;
  }
  EXPECT_FALSE(ApiKeyWellFormed(key.substr(0, 52)));
  EXPECT_FALSE(ApiKeyWellFormed(key + "0"));
  EXPECT_FALSE(ApiKeyWellFormed("rpt_" + key.substr(4)));
  EXPECT_FALSE(ApiKeyWellFormed("RPK_" + key.substr(4)));
  std::string bad_char = key;
  bad_char[10] = '-';
  EXPECT_FALSE(ApiKeyWellFormed(bad_char));
  EXPECT_FALSE(ApiKeyWellFormed(""));
  EXPECT_FALSE(ApiKeyWellFormed(std::string(53, 'a')));
}

TEST(SupportGrantToken, FormatIsTheApiKeyRecipeWithItsOwnPrefix) {
  for (int i = 0; i < 50; ++i) {
    std::string token = NewSupportGrantToken(SystemRandom());
    ASSERT_EQ(token.size(), 53u);
    EXPECT_EQ(token.substr(0, 4), "rps_");
    EXPECT_TRUE(SupportGrantWellFormed(token)) << i;
    EXPECT_EQ(token.substr(47), Base62Encode(Crc32(token.substr(4, 43)), 6));
    // Neither kind is ever accepted as the other.
    EXPECT_FALSE(ApiKeyWellFormed(token));
    EXPECT_FALSE(SupportGrantWellFormed("rpk_" + token.substr(4)));
    EXPECT_FALSE(SupportGrantWellFormed(NewApiKey(SystemRandom())));
  }
  ConstantRandom zeros(0);
  std::string part(43, '0');
  EXPECT_EQ(NewSupportGrantToken(zeros), "rps_" + part + Base62Encode(Crc32(part), 6));
}

TEST(SupportGrantToken, TyposAndMalformedTokensAreRejected) {
  std::string token = NewSupportGrantToken(SystemRandom());
  int accepted = 0;
  for (size_t i = 4; i < token.size(); ++i) {
    for (char c : {'0', 'a', 'Z', '9'}) {
      if (token[i] == c) continue;
      std::string typo = token;
      typo[i] = c;
      if (SupportGrantWellFormed(typo)) ++accepted;
    }
  }
  EXPECT_EQ(accepted, 0);
  EXPECT_FALSE(SupportGrantWellFormed(token.substr(0, 52)));
  EXPECT_FALSE(SupportGrantWellFormed(token + "0"));
  EXPECT_FALSE(SupportGrantWellFormed("RPS_" + token.substr(4)));
  EXPECT_FALSE(SupportGrantWellFormed(NewOpaqueToken(SystemRandom(), kSupportGrantPrefix)));
  std::string bad_char = token;
  bad_char[20] = '.';
  EXPECT_FALSE(SupportGrantWellFormed(bad_char));
  EXPECT_FALSE(SupportGrantWellFormed(""));
}

TEST(OpaqueTokens, Formats) {
  std::string setup = NewSetupToken(SystemRandom());
  EXPECT_EQ(setup.size(), 47u);
  EXPECT_EQ(setup.substr(0, 4), "rpt_");
  EXPECT_TRUE(OpaqueTokenWellFormed(setup, kSetupTokenPrefix));
  EXPECT_FALSE(OpaqueTokenWellFormed(setup, kSessionPrefix));
  for (std::string_view prefix : {kSessionPrefix, kWebhookTokenPrefix}) {
    std::string token = NewOpaqueToken(SystemRandom(), prefix);
    EXPECT_EQ(token.size(), kOpaqueTokenLength);
    EXPECT_EQ(token.substr(0, 4), prefix);
    EXPECT_TRUE(IsBase62(token.substr(4)));
    EXPECT_TRUE(OpaqueTokenWellFormed(token, prefix));
    EXPECT_FALSE(OpaqueTokenWellFormed(token.substr(0, 46), prefix));
    EXPECT_FALSE(OpaqueTokenWellFormed(token + "x", prefix));
  }
  EXPECT_NE(NewSetupToken(SystemRandom()), NewSetupToken(SystemRandom()));
  EXPECT_FALSE(OpaqueTokenWellFormed("rss_" + std::string(42, 'a') + "-", kSessionPrefix));
}

TEST(OpaqueTokensDeathTest, BadPrefixIsAnInvariant) {
  EXPECT_DEATH((void)NewOpaqueToken(SystemRandom(), "toolong_"), "");
}

// --- Argon2id passwords ---

TEST(Password, RoundTrip) {
  auto phc = HashPassword("correct horse battery staple", SystemRandom());
  ASSERT_TRUE(phc.ok()) << phc.error().message;
  EXPECT_EQ(phc->rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << *phc;
  EXPECT_EQ(phc->find("correct"), std::string::npos);
  EXPECT_TRUE(VerifyPassword(*phc, "correct horse battery staple"));
  EXPECT_FALSE(VerifyPassword(*phc, "correct horse battery stapl"));
  EXPECT_FALSE(VerifyPassword(*phc, "Correct horse battery staple"));
  EXPECT_FALSE(VerifyPassword(*phc, ""));
}

TEST(Password, SaltIsFreshAndSixteenBytes) {
  auto a = HashPassword("same password", SystemRandom());
  auto b = HashPassword("same password", SystemRandom());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  // "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>": 16 bytes -> 22 unpadded base64 chars.
  std::string rest = a->substr(std::string("$argon2id$v=19$m=19456,t=2,p=1$").size());
  size_t dollar = rest.find('$');
  ASSERT_NE(dollar, std::string::npos);
  EXPECT_EQ(dollar, 22u);
  EXPECT_EQ(rest.size() - dollar - 1, 43u);  // 32-byte tag
  EXPECT_TRUE(VerifyPassword(*b, "same password"));
}

TEST(Password, DeterministicWithFixedSalt) {
  ConstantRandom random(7);
  auto a = HashPassword("pw", random);
  auto b = HashPassword("pw", random);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(Password, LengthLimits) {
  EXPECT_EQ(HashPassword("", SystemRandom()).error().code, ErrorCode::kInvalidArgument);
  std::string max(kMaxPasswordBytes, 'p');
  auto phc = HashPassword(max, SystemRandom());
  ASSERT_TRUE(phc.ok());
  EXPECT_TRUE(VerifyPassword(*phc, max));
  std::string too_long(kMaxPasswordBytes + 1, 'p');
  auto rejected = HashPassword(too_long, SystemRandom());
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(rejected.error().message.find("ppp"), std::string::npos);
  EXPECT_FALSE(VerifyPassword(*phc, too_long));
}

TEST(Password, BinaryAndUnicodePasswords) {
  std::string pw("pa\0ss\xc3\xa9\xff", 8);
  auto phc = HashPassword(pw, SystemRandom());
  ASSERT_TRUE(phc.ok());
  EXPECT_TRUE(VerifyPassword(*phc, pw));
  EXPECT_FALSE(VerifyPassword(*phc, "pa"));  // no truncation at NUL
}

TEST(Password, GarbageAndHostileHashesAreRejected) {
  auto good = HashPassword("hunter2", SystemRandom());
  ASSERT_TRUE(good.ok());
  const std::string& phc = *good;
  std::string tail = phc.substr(phc.find("$", 31));  // "$<salt>$<hash>" after the params
  const std::string hostile[] = {
      "",
      "$",
      "$$$$$$",
      "hunter2",
      "$argon2id$",
      "$argon2id$v=19$",
      "$argon2id$v=19$m=19456,t=2,p=1$",
      "$argon2id$v=19$m=19456,t=2,p=1$$",
      "$argon2i$v=19$m=19456,t=2,p=1" + tail,   // other variant
      "$argon2d$v=19$m=19456,t=2,p=1" + tail,
      "$argon2id$v=16$m=19456,t=2,p=1" + tail,  // old version
      "$argon2id$m=19456,t=2,p=1" + tail,       // no version
      "$argon2id$v=19$m=2097152,t=2,p=1" + tail,  // 2 GiB
      "$argon2id$v=19$m=4294967295,t=2,p=1" + tail,
      "$argon2id$v=19$m=99999999999,t=2,p=1" + tail,
      "$argon2id$v=19$m=19456,t=11,p=1" + tail,   // t > 10
      "$argon2id$v=19$m=19456,t=4294967295,p=1" + tail,
      "$argon2id$v=19$m=19456,t=0,p=1" + tail,
      "$argon2id$v=19$m=19456,t=2,p=0" + tail,
      "$argon2id$v=19$m=19456,t=2,p=255" + tail,
      "$argon2id$v=19$m=7,t=2,p=1" + tail,
      "$argon2id$v=19$m=-1,t=2,p=1" + tail,
      "$argon2id$v=19$m=019456,t=2,p=1" + tail,
      "$argon2id$v=19$t=2,m=19456,p=1" + tail,
      "$argon2id$v=19$m=19456,t=2,p=1$$" + std::string(43, 'A'),
      "$argon2id$v=19$m=19456,t=2,p=1$AAAA$" + std::string(43, 'A'),  // 3-byte salt
      "$argon2id$v=19$m=19456,t=2,p=1$" + std::string(22, 'A') + "$AAAA",  // 3-byte tag
      "$argon2id$v=19$m=19456,t=2,p=1$" + std::string(22, '*') + "$" + std::string(43, 'A'),
      "$argon2id$v=19$m=19456,t=2,p=1$" + std::string(400, 'A') + "$" + std::string(43, 'A'),
      phc + "$",
      phc + "=",
      phc.substr(0, phc.size() - 1),
      std::string(phc.data(), 20) + std::string(1, '\0') + phc.substr(21),
      std::string(100000, '$'),
  };
  for (const auto& h : hostile) {
    EXPECT_FALSE(VerifyPassword(h, "hunter2")) << h.substr(0, 80);
  }
  // Tampering with the stored tag.
  std::string tampered = phc;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_FALSE(VerifyPassword(tampered, "hunter2"));
  EXPECT_TRUE(VerifyPassword(phc, "hunter2"));
}

TEST(Password, OtherSaneParametersStillVerify) {
  // A hash made with weaker-but-sane parameters (e.g. by an older version) still verifies:
  // minted here with libargon2 itself at m=64 KiB, t=1, p=1.
  const char salt[] = "somesaltsomesalt";
  char encoded[128] = {};
  ASSERT_EQ(argon2id_hash_encoded(1, 64, 1, "password", 8, salt, 16, 32, encoded, sizeof(encoded)),
            ARGON2_OK);
  EXPECT_EQ(std::string(encoded).rfind("$argon2id$v=19$m=64,t=1,p=1$", 0), 0u);
  EXPECT_TRUE(VerifyPassword(encoded, "password"));
  EXPECT_FALSE(VerifyPassword(encoded, "passwore"));
  // Two lanes are within bounds too.
  ASSERT_EQ(argon2id_hash_encoded(2, 256, 2, "password", 8, salt, 16, 32, encoded, sizeof(encoded)),
            ARGON2_OK);
  EXPECT_TRUE(VerifyPassword(encoded, "password"));
}

// The burn does the same Argon2 work as a verify. Compared in this thread's CPU time, not
// wall time: other processes on a loaded machine then do not skew the ratio.
TEST(Password, BurnWorkIsComparableToVerify) {
  auto phc = HashPassword("timing", SystemRandom());
  ASSERT_TRUE(phc.ok());
  auto cpu_seconds = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  };
  const double t0 = cpu_seconds();
  for (int i = 0; i < 3; ++i) (void)VerifyPassword(*phc, "wrong");
  const double t1 = cpu_seconds();
  for (int i = 0; i < 3; ++i) BurnPasswordVerifyTime();
  const double t2 = cpu_seconds();
  const double verify = t1 - t0;
  const double burn = t2 - t1;
  EXPECT_GT(burn, verify * 0.4);
  EXPECT_LT(burn, verify * 2.5);
}

// --- AES-256-GCM ---

class AeadTest : public ::testing::Test {
 protected:
  std::string key_ = std::string(32, '\x42');
  std::string ad_ = "org=o1|connector=c1|field=token";
};

TEST_F(AeadTest, RoundTrip) {
  for (std::string plaintext : {std::string(), std::string("x"), std::string("s3cr3t-value"),
                                std::string(100000, 'z'), std::string("\0\1\2", 3)}) {
    auto sealed = Seal(key_, plaintext, ad_, SystemRandom());
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(sealed->size(), plaintext.size() + kAeadOverheadBytes);
    auto opened = Open(key_, *sealed, ad_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(*opened, plaintext);
  }
}

TEST_F(AeadTest, EmptyAssociatedData) {
  auto sealed = Seal(key_, "v", "", SystemRandom());
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(*Open(key_, *sealed, ""), "v");
  EXPECT_FALSE(Open(key_, *sealed, "x").ok());
}

TEST_F(AeadTest, FreshNoncePerSeal) {
  auto a = Seal(key_, "same", ad_, SystemRandom());
  auto b = Seal(key_, "same", ad_, SystemRandom());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->substr(0, 12), b->substr(0, 12));
  EXPECT_NE(*a, *b);
}

TEST_F(AeadTest, Nist_Gcm_KnownAnswer) {
  // NIST GCM test vector (gcmEncryptExtIV256, Count 0 with 128-bit PT, 128-bit AAD).
  std::string key = Unhex("92e11dcdaa866f5ce790fd24501f92509aacf4cb8b1339d50c9c1240935dd08b");
  std::string iv = Unhex("ac93a1a6145299bde902f21a");
  std::string pt = Unhex("2d71bcfa914e4ac045b2aa60955fad24");
  std::string aad = Unhex("1e0889016f67601c8ebea4943bc23ad6");
  class FixedRandom : public Random {
   public:
    explicit FixedRandom(std::string bytes) : bytes_(std::move(bytes)) {}
    void Fill(uint8_t* out, size_t size) override {
      ASSERT_EQ(size, bytes_.size());
      std::memcpy(out, bytes_.data(), size);
    }

   private:
    std::string bytes_;
  } random(iv);
  auto sealed = Seal(key, pt, aad, random);
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(HexEncode(*sealed),
            "ac93a1a6145299bde902f21a"
            "8995ae2e6df3dbf96fac7b7137bae67f"
            "eca5aa77d51d4a0a14d9c51e1da474ab");
  EXPECT_EQ(*Open(key, *sealed, aad), pt);
}

TEST_F(AeadTest, EveryAlteredByteFails) {
  const std::string plaintext = "database-password-123";
  auto sealed = Seal(key_, plaintext, ad_, SystemRandom());
  ASSERT_TRUE(sealed.ok());
  for (size_t i = 0; i < sealed->size(); ++i) {
    std::string altered = *sealed;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    auto opened = Open(key_, altered, ad_);
    ASSERT_FALSE(opened.ok()) << i;
    EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
    EXPECT_EQ(opened.error().message, "decryption failed");
  }
}

TEST_F(AeadTest, WrongKeyWrongAdTruncationFail) {
  const std::string plaintext = "database-password-123";
  auto sealed = Seal(key_, plaintext, ad_, SystemRandom());
  ASSERT_TRUE(sealed.ok());
  std::string other_key = key_;
  other_key[31] ^= 0x80;
  const std::string wrong_ad = "org=o2|connector=c1|field=token";
  for (const auto& result :
       {Open(other_key, *sealed, ad_), Open(key_, *sealed, wrong_ad), Open(key_, *sealed, ""),
        Open(key_, sealed->substr(0, sealed->size() - 1), ad_),
        Open(key_, sealed->substr(0, 27), ad_), Open(key_, "", ad_),
        Open(key_, *sealed + "x", ad_)}) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::kInternal);
    EXPECT_EQ(result.error().message.find("database"), std::string::npos);
  }
}

TEST_F(AeadTest, KeyMustBe32Bytes) {
  for (size_t len : {0, 16, 31, 33}) {
    std::string key(len, 'k');
    auto sealed = Seal(key, "x", ad_, SystemRandom());
    ASSERT_FALSE(sealed.ok());
    EXPECT_EQ(sealed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_FALSE(Open(key, std::string(40, 'x'), ad_).ok());
  }
}

}  // namespace
}  // namespace rampart::crypto
