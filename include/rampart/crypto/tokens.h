// Formats of the bearer credentials of spec/security.md section 2. Every token is a
// 4-character prefix that names its kind (so a leaked token is recognisable by secret
// scanners and cannot be used as another kind), then 32 random bytes written as 43
// base62 characters (alphabet 0-9A-Za-z, big-endian, left-padded with '0'):
//
//   API key        rpk_<43 base62><6 base62>  53 chars; the last 6 characters are
//                                             Base62Encode(Crc32(<the 43 chars>), 6), so
//                                             typos are rejected without a store lookup
//   setup token    rpt_<43 base62>            47 chars
//   session id     rss_<43 base62>            47 chars
//   support grant  rps_<43 base62><6 base62>  53 chars, checksummed as an API key
//   webhook token  rwh_<43 base62>            47 chars
//
// The checksum is not a secret and gives no security: it only spots copy/paste damage.
// Tokens are stored as SHA-256 hashes (crypto.h) and compared in constant time. A
// well-formed token proves nothing about its validity.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "rampart/core/clock.h"

namespace rampart::crypto {

inline constexpr std::string_view kApiKeyPrefix = "rpk_";
inline constexpr std::string_view kSetupTokenPrefix = "rpt_";
inline constexpr std::string_view kSessionPrefix = "rss_";
inline constexpr std::string_view kSupportGrantPrefix = "rps_";
inline constexpr std::string_view kWebhookTokenPrefix = "rwh_";

inline constexpr size_t kTokenRandomBytes = 32;
inline constexpr size_t kTokenRandomChars = 43;  // base62 of 32 bytes
inline constexpr size_t kApiKeyChecksumChars = 6;
inline constexpr size_t kApiKeyLength = 4 + kTokenRandomChars + kApiKeyChecksumChars;  // 53
inline constexpr size_t kOpaqueTokenLength = 4 + kTokenRandomChars;                    // 47

// A fresh API key: "rpk_" + 43 random base62 + 6-char checksum.
std::string NewApiKey(Random& random);
// Prefix, length, alphabet and checksum. Does not touch the store; timing depends only on
// the length of `key`.
bool ApiKeyWellFormed(std::string_view key);

// A fresh support grant token: "rps_" + 43 random base62 + 6-char checksum (the API key
// recipe with its own prefix, so neither is ever accepted as the other).
std::string NewSupportGrantToken(Random& random);
// Prefix, length, alphabet and checksum, as ApiKeyWellFormed.
bool SupportGrantWellFormed(std::string_view token);

// A fresh setup token: "rpt_" + 43 random base62.
std::string NewSetupToken(Random& random);

// `prefix` + 43 random base62 characters. `prefix` is one of the k*Prefix constants above
// (any 4-character [a-z_] prefix is accepted; anything else is a broken invariant).
std::string NewOpaqueToken(Random& random, std::string_view prefix);
// `token` is `prefix` followed by exactly 43 base62 characters.
bool OpaqueTokenWellFormed(std::string_view token, std::string_view prefix);

}  // namespace rampart::crypto
