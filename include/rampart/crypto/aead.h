// AES-256-GCM authenticated encryption for secrets at rest (spec/security.md section 1).
//
// Sealed form: nonce (12 random bytes) || ciphertext (same length as the plaintext) ||
// tag (16 bytes). The associated data is authenticated but not stored: callers bind the
// ciphertext to its owner (org id, connector id, field name) so a sealed value copied to
// another row fails to open. Key versions and key wrapping belong to the keyring above
// this layer. A key must not seal more than 2^32 values (random nonces).
//
// Thread-safe; nothing here logs, and error messages never contain plaintext or keys.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "rampart/core/clock.h"
#include "rampart/core/result.h"

namespace rampart::crypto {

inline constexpr size_t kAeadKeyBytes = 32;
inline constexpr size_t kAeadNonceBytes = 12;
inline constexpr size_t kAeadTagBytes = 16;
inline constexpr size_t kAeadOverheadBytes = kAeadNonceBytes + kAeadTagBytes;

// Encrypts `plaintext` under `key` (32 bytes) with a fresh nonce from `random`.
// Errors: kInvalidArgument for a key that is not 32 bytes; kInternal if OpenSSL fails.
Result<std::string> Seal(std::string_view key, std::string_view plaintext,
                         std::string_view associated_data, Random& random);

// Decrypts the output of Seal. A wrong key, wrong associated data, a truncated value or
// any altered byte -> kInternal "decryption failed" (one message for every cause).
// A key that is not 32 bytes -> kInvalidArgument.
Result<std::string> Open(std::string_view key, std::string_view sealed,
                         std::string_view associated_data);

}  // namespace rampart::crypto
