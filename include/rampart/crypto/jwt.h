// Verification of JWS compact-serialized JWTs (RFC 7515/7519) issued by an external
// identity provider and presented as bearer tokens.
//
// Deliberately narrow, because JWT libraries are a classic source of authentication
// bypasses:
//   - Algorithms: RS256 (RSA keys of at least 2048 bits), ES256 (P-256, signature is the
//     raw 64-byte r||s of RFC 7518 section 3.4), EdDSA (Ed25519), and only those listed in
//     JwtConfig::algorithms. "none" in any casing and the HMAC algorithms are never
//     accepted: configuring them is an error, so a public key can never be used as an
//     HMAC secret. The key type must match the algorithm (and a JWK's "alg", if present).
//   - Keys come only from the configuration. The "jku", "x5u", "jwk" and "x5c" header
//     parameters are ignored: never fetched, never trusted.
//   - Key selection: a "kid" must name a key of the set; without a "kid" the set must
//     hold exactly one usable key. A verifier built from a PEM key has that one key and
//     uses it whatever the "kid".
//   - A "crit" header parameter rejects the token (no extensions are understood).
//   - A token over max_token_bytes is rejected before any decoding; it must be exactly
//     three segments of strict base64url; header and payload must be JSON objects.
//   - Claims: "iss" equals the issuer; "aud" (string or array) contains the audience;
//     "exp" is required and now < exp + skew; "nbf", if present, now >= nbf - skew;
//     "iat", if present, not after now + skew; "sub" is a non-empty string.
//
// Verify returns kUnauthenticated with a short fixed message for every failure; messages
// never contain the token or any part of it. A JwtVerifier is immutable after creation,
// cheap to copy (keys are shared), and Verify is thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/result.h"

namespace rampart::crypto {

struct JwtConfig {
  std::string issuer;    // required, compared exactly
  std::string audience;  // required
  // Subset of {"RS256", "ES256", "EdDSA"}; anything else is a configuration error.
  std::vector<std::string> algorithms = {"RS256", "ES256", "EdDSA"};
  std::chrono::seconds skew{60};  // clock tolerance for exp, nbf and iat; 0..600
  size_t max_token_bytes = 8192;
  // The shortest RSA key accepted (2048..8192): 2048 (~112-bit security) is what the common
  // identity providers sign with; 3072 gives the 128 bits of ASVS V11.2.3. Shorter keys
  // are refused in PEM form and skipped in a JWK Set.
  int min_rsa_bits = 2048;
};

struct JwtClaims {
  std::string subject;  // "sub"
  std::string issuer;   // "iss"
  std::string email;    // "email" when it is a string, else empty
  std::chrono::system_clock::time_point expires_at;  // "exp" (whole seconds)
  boost::json::object payload;  // every claim, as verified
};

class JwtVerifier {
 public:
  // Keys from a JWK Set ({"keys": [...]}, RFC 7517). Keys that cannot be used are skipped:
  // other key types or curves, "use" other than "sig", RSA under min_rsa_bits, and symmetric
  // ("oct") keys; private key members are ignored. Errors (kInvalidArgument): an invalid
  // configuration, JSON that is not a key set, a malformed supported key, duplicate "kid",
  // or no usable key at all.
  static Result<JwtVerifier> FromJwks(JwtConfig config, std::string_view jwks_json);

  // One public key in PEM form (SubjectPublicKeyInfo, "-----BEGIN PUBLIC KEY-----"): RSA
  // (>= min_rsa_bits), EC P-256 or Ed25519. Errors (kInvalidArgument) as for FromJwks.
  static Result<JwtVerifier> FromPem(JwtConfig config, std::string_view pem);

  // Checks signature and claims at time `now`. Every failure is kUnauthenticated.
  Result<JwtClaims> Verify(std::string_view token,
                           std::chrono::system_clock::time_point now) const;

  // The number of usable keys loaded.
  size_t key_count() const;

  struct Key;  // opaque: an OpenSSL public key and its JWK metadata

 private:
  JwtVerifier(JwtConfig config, std::vector<std::shared_ptr<const Key>> keys, bool pinned);

  JwtConfig config_;
  std::vector<std::shared_ptr<const Key>> keys_;
  bool pinned_ = false;  // built from one PEM key: "kid" is not consulted
};

}  // namespace rampart::crypto
