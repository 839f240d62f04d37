#include "rampart/crypto/jwt.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>
#include <set>
#include <utility>

#include "rampart/core/ascii.h"
#include "rampart/core/json.h"
#include "rampart/crypto/crypto.h"

namespace rampart::crypto {

namespace bj = boost::json;

namespace {

enum class KeyType { kRsa, kP256, kEd25519 };

constexpr int kMinRsaBits = 2048;  // the lowest JwtConfig::min_rsa_bits may be
constexpr int kMaxRsaBits = 8192;  // bounds the cost of one verification
constexpr size_t kMaxJwksKeys = 64;
constexpr size_t kMaxJwksBytes = 1 << 20;
constexpr size_t kMaxTokenBytesLimit = 1 << 20;
constexpr std::chrono::seconds kMaxSkew{600};
// Seconds since the epoch of 9999-12-31T23:59:59Z: later "exp" values are clamped.
constexpr double kMaxNumericDate = 253402300799.0;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

std::optional<KeyType> KeyTypeForAlg(std::string_view alg) {
  if (alg == "RS256") return KeyType::kRsa;
  if (alg == "ES256") return KeyType::kP256;
  if (alg == "EdDSA") return KeyType::kEd25519;
  return std::nullopt;
}

Error ConfigError(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

Error Reject(std::string_view reason) {
  return MakeError(ErrorCode::kUnauthenticated, "invalid token: " + std::string(reason));
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

struct JwtVerifier::Key {
  KeyType type = KeyType::kRsa;
  std::optional<std::string> kid;
  std::optional<std::string> alg;  // the JWK's "alg", when present
  PkeyPtr pkey;
};

namespace {

using Key = JwtVerifier::Key;

Status CheckConfig(const JwtConfig& config) {
  if (config.issuer.empty()) return ConfigError("JWT issuer is required");
  if (config.audience.empty()) return ConfigError("JWT audience is required");
  if (config.algorithms.empty()) return ConfigError("JWT algorithms must not be empty");
  for (const auto& alg : config.algorithms) {
    if (!KeyTypeForAlg(alg)) {
      // Includes "none" and HS256/384/512: an HMAC "secret" that is really a public key
      // is the classic algorithm confusion attack.
      return ConfigError("unsupported JWT algorithm in configuration (allowed: RS256, ES256, "
                         "EdDSA)");
    }
  }
  if (config.skew < std::chrono::seconds(0) || config.skew > kMaxSkew) {
    return ConfigError("JWT clock skew must be between 0 and 600 seconds");
  }
  if (config.max_token_bytes == 0 || config.max_token_bytes > kMaxTokenBytesLimit) {
    return ConfigError("JWT max_token_bytes must be between 1 and 1048576");
  }
  if (config.min_rsa_bits < kMinRsaBits || config.min_rsa_bits > kMaxRsaBits) {
    return ConfigError("JWT min_rsa_bits must be between 2048 and 8192");
  }
  return Status::Ok();
}

bool AlgAllowed(const JwtConfig& config, KeyType type) {
  return std::any_of(config.algorithms.begin(), config.algorithms.end(),
                     [&](const std::string& alg) { return KeyTypeForAlg(alg) == type; });
}

// Checks what OpenSSL loaded; `type` is set on success.
Status ClassifyKey(EVP_PKEY* pkey, int min_rsa_bits, KeyType* type) {
  int id = EVP_PKEY_get_base_id(pkey);
  if (id == EVP_PKEY_RSA) {
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits < min_rsa_bits) {
      return ConfigError("RSA key is shorter than " + std::to_string(min_rsa_bits) + " bits");
    }
    if (bits > kMaxRsaBits) return ConfigError("RSA key is longer than 8192 bits");
    *type = KeyType::kRsa;
    return Status::Ok();
  }
  if (id == EVP_PKEY_EC) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       &len) != 1 ||
        std::string_view(group, len) != "prime256v1") {
      return ConfigError("EC key is not on curve P-256");
    }
    *type = KeyType::kP256;
    return Status::Ok();
  }
  if (id == EVP_PKEY_ED25519) {
    *type = KeyType::kEd25519;
    return Status::Ok();
  }
  return ConfigError("unsupported public key type (RSA, EC P-256 or Ed25519)");
}

PkeyPtr FromParams(const char* name, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  if (params == nullptr) return nullptr;
  EVP_PKEY* pkey = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, name, nullptr);
  if (ctx != nullptr && EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) pkey = nullptr;
  }
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return PkeyPtr(pkey);
}

PkeyPtr RsaFromJwk(std::string_view n, std::string_view e) {
  if (n.empty() || e.empty() || e.size() > 8) return nullptr;
  BIGNUM* bn_n = BN_bin2bn(Bytes(n), static_cast<int>(n.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(Bytes(e), static_cast<int>(e.size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  PkeyPtr pkey;
  if (bn_n != nullptr && bn_e != nullptr && bld != nullptr &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1) {
    pkey = FromParams("RSA", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return pkey;
}

PkeyPtr P256FromJwk(std::string_view x, std::string_view y) {
  if (x.size() != 32 || y.size() != 32) return nullptr;
  std::string point = "\x04";
  point.append(x);
  point.append(y);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  PkeyPtr pkey;
  if (bld != nullptr &&
      OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
      OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) == 1) {
    pkey = FromParams("EC", bld);
  }
  OSSL_PARAM_BLD_free(bld);
  if (pkey) {
    // Rejects points off the curve (invalid-curve attacks).
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr);
    bool ok = ctx != nullptr && EVP_PKEY_public_check(ctx) == 1;
    EVP_PKEY_CTX_free(ctx);
    if (!ok) pkey.reset();
  }
  return pkey;
}

PkeyPtr Ed25519FromJwk(std::string_view x) {
  if (x.size() != 32) return nullptr;
  return PkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, Bytes(x), x.size()));
}

// A required base64url string member of a JWK.
std::optional<std::string> JwkBytes(const bj::object& jwk, std::string_view name) {
  const bj::value* v = jwk.if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return Base64UrlDecode(std::string_view(v->get_string()));
}

std::optional<std::string_view> StringMember(const bj::object& obj, std::string_view name) {
  const bj::value* v = obj.if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

// Loads one JWK. Returns nullptr (no error) for a key this verifier does not use.
Result<std::shared_ptr<const Key>> LoadJwk(const bj::value& value, size_t index,
                                           int min_rsa_bits) {
  const std::string where = "JWKS key " + std::to_string(index);
  if (!value.is_object()) return ConfigError(where + " is not an object");
  const bj::object& jwk = value.get_object();
  auto kty = StringMember(jwk, "kty");
  if (!kty) return ConfigError(where + " has no \"kty\"");
  if (const bj::value* use = jwk.if_contains("use")) {
    if (!use->is_string()) return ConfigError(where + " has a non-string \"use\"");
    if (use->get_string() != "sig") return std::shared_ptr<const Key>();
  }
  auto key = std::make_shared<Key>();
  if (const bj::value* kid = jwk.if_contains("kid")) {
    if (!kid->is_string()) return ConfigError(where + " has a non-string \"kid\"");
    key->kid = std::string(kid->get_string());
  }
  if (const bj::value* alg = jwk.if_contains("alg")) {
    if (!alg->is_string()) return ConfigError(where + " has a non-string \"alg\"");
    key->alg = std::string(alg->get_string());
  }
  auto alg_is = [&](std::initializer_list<std::string_view> names) {
    return !key->alg || std::find(names.begin(), names.end(), *key->alg) != names.end();
  };

  if (*kty == "RSA") {
    if (!alg_is({"RS256"})) return std::shared_ptr<const Key>();
    auto n = JwkBytes(jwk, "n");
    auto e = JwkBytes(jwk, "e");
    if (!n || !e) return ConfigError(where + ": RSA key needs base64url \"n\" and \"e\"");
    key->pkey = RsaFromJwk(*n, *e);
  } else if (*kty == "EC") {
    if (StringMember(jwk, "crv") != std::optional<std::string_view>("P-256") ||
        !alg_is({"ES256"})) {
      return std::shared_ptr<const Key>();
    }
    auto x = JwkBytes(jwk, "x");
    auto y = JwkBytes(jwk, "y");
    if (!x || !y) return ConfigError(where + ": EC key needs base64url \"x\" and \"y\"");
    key->pkey = P256FromJwk(*x, *y);
  } else if (*kty == "OKP") {
    if (StringMember(jwk, "crv") != std::optional<std::string_view>("Ed25519") ||
        !alg_is({"EdDSA", "Ed25519"})) {
      return std::shared_ptr<const Key>();
    }
    auto x = JwkBytes(jwk, "x");
    if (!x) return ConfigError(where + ": OKP key needs base64url \"x\"");
    key->pkey = Ed25519FromJwk(*x);
  } else {
    // "oct" (symmetric) keys are never used: only public keys verify tokens.
    return std::shared_ptr<const Key>();
  }
  ERR_clear_error();
  if (!key->pkey) return ConfigError(where + " is not a valid public key");
  Status classified = ClassifyKey(key->pkey.get(), min_rsa_bits, &key->type);
  if (!classified.ok()) {
    // A weak RSA key is skipped, not fatal: providers publish old keys next to new ones.
    if (key->type == KeyType::kRsa && EVP_PKEY_get_base_id(key->pkey.get()) == EVP_PKEY_RSA) {
      return std::shared_ptr<const Key>();
    }
    return classified.error();
  }
  return std::shared_ptr<const Key>(std::move(key));
}

// RFC 7518 section 3.4: the JWS signature is r || s, 32 bytes each; OpenSSL wants DER.
std::optional<std::string> EcdsaRawToDer(std::string_view raw) {
  if (raw.size() != 64) return std::nullopt;
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(Bytes(raw), 32, nullptr);
  BIGNUM* s = BN_bin2bn(Bytes(raw) + 32, 32, nullptr);
  std::optional<std::string> der;
  if (sig != nullptr && r != nullptr && s != nullptr && ECDSA_SIG_set0(sig, r, s) == 1) {
    r = s = nullptr;  // owned by sig now
    unsigned char* buf = nullptr;
    int len = i2d_ECDSA_SIG(sig, &buf);
    if (len > 0) der = std::string(reinterpret_cast<char*>(buf), static_cast<size_t>(len));
    OPENSSL_free(buf);
  }
  BN_free(r);
  BN_free(s);
  ECDSA_SIG_free(sig);
  return der;
}

bool VerifySignature(const Key& key, std::string_view signing_input, std::string_view sig) {
  std::string der;
  const EVP_MD* md = EVP_sha256();
  switch (key.type) {
    case KeyType::kRsa:
      if (sig.size() != static_cast<size_t>(EVP_PKEY_get_size(key.pkey.get()))) return false;
      break;
    case KeyType::kP256: {
      auto converted = EcdsaRawToDer(sig);
      if (!converted) return false;
      der = std::move(*converted);
      sig = der;
      break;
    }
    case KeyType::kEd25519:
      if (sig.size() != 64) return false;
      md = nullptr;  // Ed25519 hashes internally
      break;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool ok = ctx != nullptr &&
            EVP_DigestVerifyInit(ctx, nullptr, md, nullptr, key.pkey.get()) == 1 &&
            EVP_DigestVerify(ctx, Bytes(sig), sig.size(), Bytes(signing_input),
                             signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

// A NumericDate (RFC 7519 section 2): a JSON number of seconds since the epoch.
std::optional<double> NumericDate(const bj::value& v) {
  double d = 0;
  if (v.is_int64()) {
    d = static_cast<double>(v.get_int64());
  } else if (v.is_uint64()) {
    d = static_cast<double>(v.get_uint64());
  } else if (v.is_double()) {
    d = v.get_double();
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

Result<bj::object> DecodeJsonSegment(std::string_view segment, size_t max_bytes) {
  auto text = Base64UrlDecode(segment);
  if (!text) return Reject("malformed encoding");
  json::ParseLimits limits;
  limits.max_bytes = max_bytes;
  limits.max_depth = 32;
  auto parsed = json::Parse(*text, limits);
  if (!parsed.ok() || !parsed->is_object()) return Reject("malformed JSON");
  return std::move(parsed->get_object());
}

}  // namespace

JwtVerifier::JwtVerifier(JwtConfig config, std::vector<std::shared_ptr<const Key>> keys,
                         bool pinned)
    : config_(std::move(config)), keys_(std::move(keys)), pinned_(pinned) {}

size_t JwtVerifier::key_count() const { return keys_.size(); }

Result<JwtVerifier> JwtVerifier::FromJwks(JwtConfig config, std::string_view jwks_json) {
  if (Status s = CheckConfig(config); !s.ok()) return s.error();
  json::ParseLimits limits;
  limits.max_bytes = kMaxJwksBytes;
  limits.max_depth = 16;
  auto parsed = json::Parse(jwks_json, limits);
  if (!parsed.ok()) return ConfigError("JWKS is not valid JSON: " + parsed.error().message);
  const bj::value* keys = parsed->is_object() ? parsed->get_object().if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array()) return ConfigError("JWKS has no \"keys\" array");
  if (keys->get_array().size() > kMaxJwksKeys) return ConfigError("JWKS has too many keys");
  std::vector<std::shared_ptr<const Key>> loaded;
  std::set<std::string> kids;
  size_t index = 0;
  for (const bj::value& jwk : keys->get_array()) {
    auto key = LoadJwk(jwk, index++, config.min_rsa_bits);
    if (!key.ok()) return std::move(key).error();
    if (!*key || !AlgAllowed(config, (*key)->type)) continue;
    if ((*key)->kid && !kids.insert(*(*key)->kid).second) {
      return ConfigError("JWKS has two keys with the same \"kid\"");
    }
    loaded.push_back(std::move(*key));
  }
  if (loaded.empty()) return ConfigError("JWKS has no usable signing key");
  return JwtVerifier(std::move(config), std::move(loaded), /*pinned=*/false);
}

Result<JwtVerifier> JwtVerifier::FromPem(JwtConfig config, std::string_view pem) {
  if (Status s = CheckConfig(config); !s.ok()) return s.error();
  if (pem.size() > (1 << 16)) return ConfigError("PEM key is too large");
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  PkeyPtr pkey(bio != nullptr ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr);
  BIO_free(bio);
  ERR_clear_error();
  if (!pkey) return ConfigError("not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  auto key = std::make_shared<Key>();
  key->pkey = std::move(pkey);
  if (Status s = ClassifyKey(key->pkey.get(), config.min_rsa_bits, &key->type); !s.ok()) return s.error();
  if (!AlgAllowed(config, key->type)) {
    return ConfigError("the PEM key's type matches none of the configured algorithms");
  }
  std::vector<std::shared_ptr<const Key>> keys;
  keys.push_back(std::move(key));
  return JwtVerifier(std::move(config), std::move(keys), /*pinned=*/true);
}

namespace {

// "JWT" or "at+jwt", ASCII case-insensitive, optionally prefixed "application/".
bool AccessTokenType(std::string_view typ) {
  constexpr std::string_view kApplication = "application/";
  if (typ.size() > kApplication.size() &&
      EqualsIgnoreCase(typ.substr(0, kApplication.size()), kApplication)) {
    typ.remove_prefix(kApplication.size());
  }
  return EqualsIgnoreCase(typ, "jwt") || EqualsIgnoreCase(typ, "at+jwt");
}

}  // namespace

Result<JwtClaims> JwtVerifier::Verify(std::string_view token,
                                      std::chrono::system_clock::time_point now) const {
  // Size first: nothing below runs on an oversized input.
  if (token.size() > config_.max_token_bytes) return Reject("too large");
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Reject("not a compact JWS");
  }
  std::string_view header_b64 = token.substr(0, dot1);
  std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view signature_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty() || signature_b64.empty()) {
    return Reject("unsigned or empty segment");
  }

  auto header = DecodeJsonSegment(header_b64, config_.max_token_bytes);
  if (!header.ok()) return std::move(header).error();
  auto alg = StringMember(*header, "alg");
  if (!alg) return Reject("missing alg");
  std::string lower_alg(*alg);
  std::transform(lower_alg.begin(), lower_alg.end(), lower_alg.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  if (lower_alg == "none") return Reject("unsecured token");
  if (lower_alg.rfind("hs", 0) == 0) return Reject("symmetric algorithm");
  std::optional<KeyType> type = KeyTypeForAlg(*alg);
  if (!type || std::find(config_.algorithms.begin(), config_.algorithms.end(), *alg) ==
                   config_.algorithms.end()) {
    return Reject("algorithm not allowed");
  }
  if (header->contains("crit")) return Reject("unsupported critical header");
  // RFC 8725 3.11 / RFC 9068: when the issuer types its tokens, only an access token
  // ("JWT", "at+jwt", any casing, "application/" optional per RFC 7515 4.1.9) is one;
  // an ID token, logout token or DPoP proof of the same issuer is not.
  if (const bj::value* typ = header->if_contains("typ"); typ != nullptr) {
    if (!typ->is_string() || !AccessTokenType(typ->get_string())) {
      return Reject("token type not accepted");
    }
  }
  // "jku", "x5u", "jwk" and "x5c" are deliberately never read.

  const Key* key = nullptr;
  const bj::value* kid = header->if_contains("kid");
  if (kid != nullptr && !kid->is_string()) return Reject("malformed kid");
  if (pinned_) {
    key = keys_.front().get();
  } else if (kid != nullptr) {
    std::string_view wanted(kid->get_string());
    for (const auto& k : keys_) {
      if (k->kid && *k->kid == wanted) {
        key = k.get();
        break;
      }
    }
    if (key == nullptr) return Reject("unknown key");
  } else {
    if (keys_.size() != 1) return Reject("no kid and several keys");
    key = keys_.front().get();
  }
  if (key->type != *type) return Reject("key type does not match algorithm");
  if (key->alg && *key->alg != *alg && !(*type == KeyType::kEd25519 && *key->alg == "Ed25519")) {
    return Reject("key algorithm does not match");
  }

  auto signature = Base64UrlDecode(signature_b64);
  if (!signature) return Reject("malformed encoding");
  if (!VerifySignature(*key, token.substr(0, dot2), *signature)) return Reject("bad signature");

  auto payload = DecodeJsonSegment(payload_b64, config_.max_token_bytes);
  if (!payload.ok()) return std::move(payload).error();

  auto iss = StringMember(*payload, "iss");
  if (!iss || *iss != config_.issuer) return Reject("wrong issuer");

  const bj::value* aud = payload->if_contains("aud");
  bool audience_ok = false;
  if (aud != nullptr && aud->is_string()) {
    audience_ok = aud->get_string() == config_.audience;
  } else if (aud != nullptr && aud->is_array()) {
    for (const bj::value& a : aud->get_array()) {
      if (a.is_string() && a.get_string() == config_.audience) audience_ok = true;
    }
  }
  if (!audience_ok) return Reject("wrong audience");

  const double now_s =
      std::chrono::duration_cast<std::chrono::duration<double>>(now.time_since_epoch()).count();
  const double skew_s = static_cast<double>(config_.skew.count());
  const bj::value* exp_value = payload->if_contains("exp");
  std::optional<double> exp = exp_value ? NumericDate(*exp_value) : std::nullopt;
  if (!exp) return Reject("missing exp");
  if (!(now_s < *exp + skew_s)) return Reject("expired");
  if (const bj::value* nbf_value = payload->if_contains("nbf")) {
    std::optional<double> nbf = NumericDate(*nbf_value);
    if (!nbf || !(now_s >= *nbf - skew_s)) return Reject("not yet valid");
  }
  if (const bj::value* iat_value = payload->if_contains("iat")) {
    std::optional<double> iat = NumericDate(*iat_value);
    if (!iat || *iat > now_s + skew_s) return Reject("issued in the future");
  }
  auto sub = StringMember(*payload, "sub");
  if (!sub || sub->empty()) return Reject("missing sub");

  JwtClaims claims;
  claims.subject = std::string(*sub);
  claims.issuer = std::string(*iss);
  if (auto email = StringMember(*payload, "email")) claims.email = std::string(*email);
  double exp_clamped = std::min(std::floor(*exp), kMaxNumericDate);
  claims.expires_at = std::chrono::system_clock::time_point(std::chrono::duration_cast<
      std::chrono::system_clock::duration>(
      std::chrono::seconds(static_cast<int64_t>(exp_clamped))));
  claims.payload = std::move(*payload);
  return claims;
}

}  // namespace rampart::crypto
