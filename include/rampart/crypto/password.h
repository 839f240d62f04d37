// Password hashing with Argon2id (RFC 9106) through libargon2, with the OWASP parameters
// m = 19 MiB, t = 2, p = 1, a 16-byte random salt and a 32-byte tag, stored as a PHC
// string: "$argon2id$v=19$m=19456,t=2,p=1$<salt b64>$<hash b64>".
//
// Each hash or verify takes tens of milliseconds and 19 MiB of memory: callers rate limit
// login attempts. All functions are thread-safe. Passwords are never logged or echoed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "rampart/core/clock.h"
#include "rampart/core/result.h"

namespace rampart::crypto {

inline constexpr size_t kMaxPasswordBytes = 1024;

// The PHC string of `password`. Errors: kInvalidArgument for an empty password or one over
// kMaxPasswordBytes; kInternal if libargon2 fails (out of memory).
Result<std::string> HashPassword(std::string_view password, Random& random);

// True when `phc` is an Argon2id v19 PHC string and `password` matches it. False for
// anything else, without crashing: other Argon2 variants, malformed strings, and stored
// parameters beyond sane bounds (m > 1 GiB, t > 10, p > 16, salt or tag over 64 bytes)
// so a planted hash cannot make a login exhaust memory or CPU. Also false for a password
// over kMaxPasswordBytes. The comparison of tags is constant time (libargon2).
bool VerifyPassword(std::string_view phc, std::string_view password);

// Spends the time of a VerifyPassword against a hash made by HashPassword. Login calls it
// when the account does not exist, so the response time does not reveal whether it does.
void BurnPasswordVerifyTime();

}  // namespace rampart::crypto
