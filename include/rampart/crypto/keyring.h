// The keyring: envelope encryption of connector secrets (spec/security.md section 1).
//
//   master key material (0600 file, env RAMPART_MASTER_KEY or stdin; never argv)
//     -> KEK = HKDF-SHA256(ikm = material, salt = "rampart", info = "rampart kek v1"), 32 bytes
//   per org, per version: a data key (32 random bytes), stored only wrapped by the KEK:
//     wrapped = AES-256-GCM(KEK, data key, AD = "dek" | org id | version)
//   per secret field: sealed = version (4 bytes, big-endian) || nonce (12) || ciphertext || tag (16)
//     AD = "sec" | org id | connector id | field | version
// Every AD component is length-prefixed (4 bytes big-endian), so no two (org, connector,
// field) triples share an AD: a sealed value copied to another row, field, connector or
// org fails to decrypt, and so does a value whose version prefix was changed.
//
// Rotation adds a data key version to an org; new encryptions use the newest version and
// every older version keeps decrypting, so re-encryption (rampart keys rotate) can move
// secrets over while the server runs.
//
// Master key replacement: every wrapped data key records the id of the KEK that wrapped
// it (the master key id: hex of the first 8 bytes of SHA-256(KEK); public: it names a
// key and lets nobody test a guess any faster than a wrapped key does). A Keyring has one current master key, which
// wraps every new data key, and optionally previous ones, which only unwrap data keys
// carrying their id. Rewrap() moves a wrapped data key under the current KEK; the data
// key itself - and so every sealed secret - does not change. A data key without an id
// (written before ids existed) belongs to the current key; when that does not open it,
// the previous keys are tried (an upgrade and a master key change in one restart).
//
// Errors never contain plaintext, keys or ciphertext. A wrong master key (a data key that
// does not unwrap) and any altered or misplaced sealed value both answer
//   kInternal "cannot decrypt: wrong master key or corrupted data".
// A data key whose master key id is neither the current nor a previous key's answers
//   kInternal "cannot decrypt: wrong master key or corrupted data (a data key is wrapped
//   by master key <id>, which is not configured; add it to previous_master_key_files)"
// naming the id, never a key.
//
// Thread-safety: a Keyring is thread-safe. Unwrapped data keys are cached in memory and
// wiped (OPENSSL_cleanse) when the Keyring is destroyed, like the KEK.
//
// Transactions: creating an org's first data key (the first Encrypt of an org) and
// Rotate() write through the KeyStore, which for the SQLite store is a Store::Write of its
// own - so they must not be called from inside a Store::Write function. Encrypt of an org
// that already has a key and Decrypt only read.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/clock.h"
#include "rampart/core/result.h"

namespace rampart::crypto {

inline constexpr size_t kSealedHeaderBytes = 4;  // the key version prefix

// A data key as persisted: never the key itself, only its wrapped form.
struct WrappedDataKey {
  std::string org_id;
  uint32_t version = 0;
  std::string wrapped;  // nonce || ciphertext || tag
  int64_t created_at = 0;  // Unix millis
  std::string kek_id;      // master key id of the KEK that wrapped it; "" when not recorded
};

// Where wrapped data keys live (implemented over the store by api::StoreKeyStore).
class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // Every key of the org, any order.
  virtual Result<std::vector<WrappedDataKey>> ListDataKeys(std::string_view org_id) = 0;
  // Durable before it returns; kConflict when (org_id, version) exists already.
  virtual Status InsertDataKey(const WrappedDataKey& key) = 0;
};

// Whether `error` is the keyring's refusal to open a data key: the master key (or one of
// the previous ones) is not the one that wrapped it, or the data is corrupted.
bool IsCannotDecrypt(const Error& error);

class Keyring {
 public:
  // `master_key_material` must not be empty (callers require >= 32 characters). `keys`,
  // `random` and `clock` must outlive the Keyring.
  Keyring(std::string master_key_material, KeyStore& keys, Random& random,
          Clock& clock = SystemClock());
  // With previous master keys (each non-empty): they unwrap the data keys wrapped by
  // them and are never used to wrap. One equal to the current key (or another previous
  // one) is ignored. Every material string is wiped after the KEKs are derived.
  Keyring(std::string master_key_material, std::vector<std::string> previous_master_keys,
          KeyStore& keys, Random& random, Clock& clock = SystemClock());
  ~Keyring();
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;

  // Seals `plaintext` for (org, connector, field) under the org's newest data key,
  // creating version 1 when the org has none. kInternal when the org's keys cannot be
  // unwrapped (wrong master key) or the key store fails.
  Result<std::string> Encrypt(std::string_view org_id, std::string_view connector_id,
                              std::string_view field, std::string_view plaintext);

  // Opens a value sealed by Encrypt for exactly this (org, connector, field). Anything
  // else - other owner, altered byte, unknown version, wrong master key - is kInternal
  // "cannot decrypt: wrong master key or corrupted data".
  Result<std::string> Decrypt(std::string_view org_id, std::string_view connector_id,
                              std::string_view field, std::string_view sealed);

  // Adds a data key version to the org (the newest + 1, or 1) and makes it the one new
  // encryptions use. Returns the new version.
  Result<uint32_t> Rotate(std::string_view org_id);

  // The version new encryptions of the org use (creating version 1 if needed).
  Result<uint32_t> CurrentVersion(std::string_view org_id);

  // Unwraps every data key of the org: kInternal with the message above when the master
  // key is not the one they were wrapped with. Used at start-up to fail closed early.
  Status CheckOrg(std::string_view org_id);

  // The key version of a sealed value (its first 4 bytes); kInternal when too short.
  static Result<uint32_t> VersionOf(std::string_view sealed);

  // The id of the current master key (16 lower-case hex characters), and of the
  // previous ones in the order given (duplicates dropped).
  const std::string& master_key_id() const { return kek_id_; }
  std::vector<std::string> previous_master_key_ids() const;

  // `key` re-wrapped under the current master key: the same org, version and data key,
  // a fresh nonce, kek_id = master_key_id(). Reads and writes nothing (callers persist
  // it, e.g. in their own transaction). kInternal naming the key id when the master key
  // that wrapped it is not configured, the message above when it does not unwrap.
  Result<WrappedDataKey> Rewrap(const WrappedDataKey& key) const;

  // How long the newest version of an org is trusted before the key store is asked
  // again (another process may have rotated). Default 30 s.
  void set_refresh_interval(std::chrono::milliseconds interval) { refresh_interval_ = interval; }

 private:
  struct SecretKey;
  struct OrgKeys {
    std::map<uint32_t, std::shared_ptr<const SecretKey>> keys;
    uint32_t newest = 0;
    std::chrono::steady_clock::time_point loaded_at;
  };

  struct Kek {
    std::string id;
    std::unique_ptr<SecretKey> key;
  };
  static std::string KekId(const SecretKey& kek);
  // Unwraps a stored data key with the KEK its kek_id names (see the class comment).
  Result<std::shared_ptr<SecretKey>> Unwrap(const WrappedDataKey& key) const;
  // Wraps a data key under the current KEK.
  Result<WrappedDataKey> Wrap(const std::string& org_id, uint32_t version,
                              const SecretKey& key) const;
  // Reads the org's keys from the key store and unwraps them; caller holds mutex_.
  Status LoadLocked(const std::string& org_id);
  // Creates and persists version `version`; caller holds mutex_.
  Status CreateLocked(const std::string& org_id, uint32_t version);
  Result<std::shared_ptr<const SecretKey>> Find(std::string_view org_id, uint32_t version);
  Result<std::pair<uint32_t, std::shared_ptr<const SecretKey>>> Newest(std::string_view org_id);

  // Immutable after construction: read without the mutex.
  std::unique_ptr<SecretKey> kek_;
  std::string kek_id_;
  std::vector<Kek> previous_;
  KeyStore& store_;
  Random& random_;  // data keys
  // Nonces: drawn from `random_` in blocks (one CSPRNG call per 340 nonces instead of
  // one per encryption); the block is discarded in a forked child.
  class NonceSource;
  std::unique_ptr<NonceSource> nonces_;
  Clock& clock_;
  std::chrono::milliseconds refresh_interval_{30000};
  std::shared_mutex mutex_;
  std::map<std::string, OrgKeys, std::less<>> orgs_;  // guarded by mutex_
};

}  // namespace rampart::crypto
