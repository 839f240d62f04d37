// Fuzzes the JWT verifier (and the JWKS loader) with untrusted bytes.
//
// Input: a token, verified against the fixed key set of tests/testdata/jwt/jwks.json; or
// "<jwks JSON>\0<token>", where the key set comes from the input too.
//
// Beyond crashes, sanitizer reports and hangs, these invariants are findings:
//   - every rejection is kUnauthenticated with a non-empty message;
//   - a rejection message is one of the short fixed "invalid token: <reason>" texts, so
//     it cannot echo the token;
//   - an accepted token has a non-empty subject.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "rampart/crypto/jwt.h"

namespace {

constexpr std::string_view kJwks =
#include "testdata/jwt/jwks.inc"
    ;

rampart::crypto::JwtConfig Config() {
  rampart::crypto::JwtConfig config;
  config.issuer = "https://idp.example.test/";
  config.audience = "rampart-api";
  return config;
}

// The fixture's `now`: 2030-01-01T00:00:00Z.
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1893456000));

void Check(const rampart::crypto::JwtVerifier& verifier, std::string_view token) {
  auto result = verifier.Verify(token, kNow);
  if (result.ok()) {
    if (result->subject.empty()) __builtin_trap();
    return;
  }
  const auto& error = result.error();
  if (error.code != rampart::ErrorCode::kUnauthenticated) __builtin_trap();
  if (error.message.rfind("invalid token: ", 0) != 0 || error.message.size() > 64) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const rampart::crypto::JwtVerifier kVerifier = [] {
    auto v = rampart::crypto::JwtVerifier::FromJwks(Config(), kJwks);
    if (!v.ok()) __builtin_trap();
    return std::move(v).value();
  }();
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t nul = input.find('\0');
  if (nul == std::string_view::npos) {
    Check(kVerifier, input);
    return 0;
  }
  auto verifier = rampart::crypto::JwtVerifier::FromJwks(Config(), input.substr(0, nul));
  if (!verifier.ok()) {
    if (verifier.error().code != rampart::ErrorCode::kInvalidArgument) __builtin_trap();
    return 0;
  }
  Check(*verifier, input.substr(nul + 1));
  return 0;
}
