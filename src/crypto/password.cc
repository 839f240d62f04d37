#include "rampart/crypto/password.h"

#include <argon2.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <vector>

#include "rampart/crypto/crypto.h"

namespace rampart::crypto {

namespace {

// OWASP Password Storage Cheat Sheet, Argon2id option 2.
constexpr uint32_t kTimeCost = 2;
constexpr uint32_t kMemoryKib = 19456;
constexpr uint32_t kLanes = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kTagBytes = 32;

// Bounds on stored parameters: a hash planted in the store (or left by an old version)
// must not let one login attempt take a gigabyte or minutes of CPU.
constexpr uint32_t kMaxMemoryKib = 1u << 20;  // 1 GiB
constexpr uint32_t kMaxTimeCost = 10;
constexpr uint32_t kMaxLanes = 16;
constexpr size_t kMinSaltBytes = 8;
constexpr size_t kMaxSaltBytes = 64;
constexpr size_t kMinTagBytes = 16;
constexpr size_t kMaxTagBytes = 64;
constexpr size_t kMaxPhcBytes = 256;

// Consumes `prefix` from `text`.
bool Eat(std::string_view& text, std::string_view prefix) {
  if (text.substr(0, prefix.size()) != prefix) return false;
  text.remove_prefix(prefix.size());
  return true;
}

// Consumes a decimal number without sign or leading zeros, at most 10 digits.
bool EatNumber(std::string_view& text, uint32_t* out) {
  size_t n = 0;
  while (n < text.size() && text[n] >= '0' && text[n] <= '9') ++n;
  if (n == 0 || n > 10 || (n > 1 && text[0] == '0')) return false;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + n, value);
  if (ec != std::errc() || value > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(value);
  text.remove_prefix(n);
  return true;
}

// Length in bytes of unpadded standard base64 text, or 0 if it is not such text.
size_t UnpaddedBase64Bytes(std::string_view text) {
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/';
    if (!ok) return 0;
  }
  if (text.size() % 4 == 1) return 0;
  return text.size() * 3 / 4;
}

// Strict shape and bounds check of "$argon2id$v=19$m=M,t=T,p=P$SALT$TAG" before libargon2
// sees the string.
bool PhcAcceptable(std::string_view phc) {
  if (phc.size() > kMaxPhcBytes) return false;
  uint32_t m = 0, t = 0, p = 0;
  if (!Eat(phc, "$argon2id$v=19$m=") || !EatNumber(phc, &m) || !Eat(phc, ",t=") ||
      !EatNumber(phc, &t) || !Eat(phc, ",p=") || !EatNumber(phc, &p) || !Eat(phc, "$")) {
    return false;
  }
  if (t < 1 || t > kMaxTimeCost || p < 1 || p > kMaxLanes) return false;
  if (m > kMaxMemoryKib || m < 8 * p) return false;
  size_t dollar = phc.find('$');
  if (dollar == std::string_view::npos) return false;
  size_t salt = UnpaddedBase64Bytes(phc.substr(0, dollar));
  size_t tag = UnpaddedBase64Bytes(phc.substr(dollar + 1));
  return salt >= kMinSaltBytes && salt <= kMaxSaltBytes && tag >= kMinTagBytes &&
         tag <= kMaxTagBytes;
}

}  // namespace

Result<std::string> HashPassword(std::string_view password, Random& random) {
  if (password.empty()) return MakeError(ErrorCode::kInvalidArgument, "password is empty");
  if (password.size() > kMaxPasswordBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "password is longer than " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  std::string salt = RandomBytes(random, kSaltBytes);
  size_t encoded_len =
      argon2_encodedlen(kTimeCost, kMemoryKib, kLanes, kSaltBytes, kTagBytes, Argon2_id);
  std::vector<char> encoded(encoded_len + 1, '\0');
  int rc = argon2id_hash_encoded(kTimeCost, kMemoryKib, kLanes, password.data(), password.size(),
                                 salt.data(), salt.size(), kTagBytes, encoded.data(),
                                 encoded.size());
  if (rc != ARGON2_OK) return MakeError(ErrorCode::kInternal, "password hashing failed");
  return std::string(encoded.data());
}

bool VerifyPassword(std::string_view phc, std::string_view password) {
  if (password.size() > kMaxPasswordBytes) return false;
  if (!PhcAcceptable(phc)) return false;
  std::string encoded(phc);  // libargon2 wants a NUL-terminated string
  // An empty password is passed as a valid pointer with length 0.
  static const char kNothing = 0;
  const char* data = password.empty() ? &kNothing : password.data();
  return argon2id_verify(encoded.c_str(), data, password.size()) == ARGON2_OK;
}

void BurnPasswordVerifyTime() {
  static const std::array<uint8_t, kSaltBytes> kSalt = {'r', 'a', 'm', 'p', 'a', 'r', 't', '-',
                                                        'b', 'u', 'r', 'n', '-', 's', 'l', 't'};
  static constexpr std::string_view kPassword = "rampart-unknown-account";
  std::array<uint8_t, kTagBytes> tag{};
  (void)argon2id_hash_raw(kTimeCost, kMemoryKib, kLanes, kPassword.data(), kPassword.size(),
                          kSalt.data(), kSalt.size(), tag.data(), tag.size());
  // Keep the optimizer from dropping the work.
  volatile uint8_t sink = tag[0];
  (void)sink;
}

}  // namespace rampart::crypto
