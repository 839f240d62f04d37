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

}  // namespace

std::string NewApiKey(Random& random) {
  std::string part = RandomPart(random);
  std::string key(kApiKeyPrefix);
  key += part;
  key += Checksum(part);
  return key;
}

bool ApiKeyWellFormed(std::string_view key) {
  if (key.size() != kApiKeyLength) return false;
  if (key.substr(0, kApiKeyPrefix.size()) != kApiKeyPrefix) return false;
  std::string_view part = key.substr(kApiKeyPrefix.size(), kTokenRandomChars);
  std::string_view checksum = key.substr(kApiKeyPrefix.size() + kTokenRandomChars);
  if (!IsBase62(part) || !IsBase62(checksum)) return false;
  return ConstantTimeEqual(Checksum(part), checksum);
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
