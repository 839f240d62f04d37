// Hashing, MACs, encodings and constant-time comparison: the primitives the rest of
// Rampart builds credentials on. OpenSSL does the cryptography; nothing here keeps state,
// so every function is thread-safe.
//
// Decoders are strict (canonical input only) and return std::nullopt on anything else;
// they never throw and never echo their input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rampart/core/clock.h"

namespace rampart::crypto {

using Digest = std::array<uint8_t, 32>;

// The bytes of a digest as a string (for storage or further encoding).
std::string DigestBytes(const Digest& digest);

Digest Sha256(std::string_view data);
// Lower-case hex of Sha256(data), 64 characters.
std::string Sha256Hex(std::string_view data);
// HMAC-SHA-256 (RFC 2104); any key length.
Digest HmacSha256(std::string_view key, std::string_view message);

// HKDF-SHA-256 (RFC 5869): `length` (1..8160) bytes of output keying material. Each
// purpose derives its own key from the master key with its own `info` label.
std::string HkdfSha256(std::string_view ikm, std::string_view salt, std::string_view info,
                       size_t length);

// True when a and b hold the same bytes. The time taken depends only on the lengths, never
// on where the contents differ; inputs of different lengths compare false (the length
// itself is not treated as secret).
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// Lower-case hex. The decoder accepts either case; odd length or a non-hex digit -> nullopt.
std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view hex);

// RFC 4648 section 4, with '=' padding. The decoder requires canonical input: length a
// multiple of 4, padding only at the end, zero unused bits, no whitespace.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

// RFC 4648 section 5 (alphabet '-' '_'), never padded. The decoder rejects '=', a length
// of 1 mod 4 and non-zero unused bits, so every byte string has exactly one encoding.
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

// CRC-32 (IEEE 802.3, reflected, as in zlib/PNG): Crc32("123456789") == 0xCBF43926.
uint32_t Crc32(std::string_view data);

// The big-endian unsigned integer in `bytes` written in base 62 (alphabet 0-9A-Za-z),
// left-padded with '0' to `width` characters. The result is longer than `width` only if
// the value does not fit (32 bytes always fit in 43 characters, 4 bytes in 6).
std::string Base62Encode(std::string_view bytes, size_t width);
// Base62Encode of a 32-bit value.
std::string Base62Encode(uint32_t value, size_t width);
// True when every character is in the base 62 alphabet (empty -> true).
bool IsBase62(std::string_view text);

// `size` bytes from `random`.
std::string RandomBytes(Random& random, size_t size);

}  // namespace rampart::crypto
