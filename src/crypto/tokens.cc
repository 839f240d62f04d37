#include "rampart/crypto/tokens.h"

#include <algorithm>

#include "rampart/core/check.h"
#include "rampart/crypto/crypto.h"

namespace rampart::crypto {

namespace {

std::string RandomPart(Random& random) {
  std::string part = Base62Encode(RandomBytes(random, kTokenRandomBytes), kTokenRandomChars);
  RAMPART_CHECK(part.size() == kTokenRandomChars);
  return part;
}

std::string Checksum(std::string_view random_part) {
  return Base62Encode(Crc32(random_part), kApiKeyChecksumChars);
}

bool ValidPrefix(std::string_view prefix) {
  return prefix.size() == 4 && prefix[3] == '_' &&
         std::all_of(prefix.begin(), prefix.end() - 1, [](char c) { return c >= 'a' && c <= 'z'; });
}

// `prefix` + 43 random base62 + the 6-character checksum of those 43.
std::string NewChecksummedToken(Random& random, std::string_view prefix) {
  std::string part = RandomPart(random);
  std::string token(prefix);
  token += part;
  token += Checksum(part);
  return token;
}

bool ChecksummedTokenWellFormed(std::string_view token, std::string_view prefix) {
  if (token.size() != kApiKeyLength) return false;
  if (token.substr(0, prefix.size()) != prefix) return false;
  std::string_view part = token.substr(prefix.size(), kTokenRandomChars);
  std::string_view checksum = token.substr(prefix.size() + kTokenRandomChars);
  if (!IsBase62(part) || !IsBase62(checksum)) return false;
  return ConstantTimeEqual(Checksum(part), checksum);
}

}  // namespace

std::string NewApiKey(Random& random) { return NewChecksummedToken(random, kApiKeyPrefix); }

bool ApiKeyWellFormed(std::string_view key) {
  return ChecksummedTokenWellFormed(key, kApiKeyPrefix);
}

std::string NewSupportGrantToken(Random& random) {
  return NewChecksummedToken(random, kSupportGrantPrefix);
}

bool SupportGrantWellFormed(std::string_view token) {
  return ChecksummedTokenWellFormed(token, kSupportGrantPrefix);
}

std::string NewSetupToken(Random& random) { return NewOpaqueToken(random, kSetupTokenPrefix); }

std::string NewOpaqueToken(Random& random, std::string_view prefix) {
  RAMPART_CHECK(ValidPrefix(prefix));
  std::string token(prefix);
  token += RandomPart(random);
  return token;
}

bool OpaqueTokenWellFormed(std::string_view token, std::string_view prefix) {
  if (!ValidPrefix(prefix)) return false;
  if (token.size() != prefix.size() + kTokenRandomChars) return false;
  if (token.substr(0, prefix.size()) != prefix) return false;
  return IsBase62(token.substr(prefix.size()));
}

}  // namespace rampart::crypto
