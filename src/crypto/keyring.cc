#include "rampart/crypto/keyring.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <mutex>
#include <utility>

#include "rampart/core/check.h"
#include "rampart/crypto/aead.h"
#include "rampart/crypto/crypto.h"

namespace rampart::crypto {

struct Keyring::SecretKey {
  std::array<uint8_t, kAeadKeyBytes> bytes{};
  SecretKey() = default;
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  ~SecretKey() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

// Random bytes for nonces, fetched from the injected Random in 4 KiB blocks. Nonces are
// public, so holding future ones in memory costs nothing; what matters is that every
// nonce is fresh CSPRNG output used once, which the block discipline keeps.
class Keyring::NonceSource final : public Random {
 public:
  explicit NonceSource(Random& source) : source_(source) {}
  void Fill(uint8_t* out, size_t size) override {
    std::lock_guard lock(mutex_);
    block_.Fill(source_, out, size);
  }

 private:
  Random& source_;
  std::mutex mutex_;
  RandomBlock block_{4096};  // guarded by mutex_
};

namespace {

constexpr std::string_view kKekInfo = "rampart kek v1";
constexpr std::string_view kKekSalt = "rampart";

constexpr std::string_view kCannotDecrypt = "cannot decrypt: wrong master key or corrupted data";

Error CannotDecrypt() { return MakeError(ErrorCode::kInternal, std::string(kCannotDecrypt)); }

constexpr size_t kKekIdBytes = 8;  // 16 hex characters

bool WellFormedKekId(std::string_view id) {
  return id.size() == 2 * kKekIdBytes &&
         id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// The id is derived from the KEK, never stored with it: it names a key for operators.
// Only a well-formed id is echoed (the store is not trusted to put text in messages).
Error MasterKeyNotConfigured(std::string_view id) {
  if (!WellFormedKekId(id)) return CannotDecrypt();
  return MakeError(ErrorCode::kInternal,
                   std::string(kCannotDecrypt) + " (a data key is wrapped by master key " +
                       std::string(id) +
                       ", which is not configured; add it to previous_master_key_files)");
}

void AppendU32(std::string& out, uint32_t v) {
  out += static_cast<char>(v >> 24);
  out += static_cast<char>(v >> 16);
  out += static_cast<char>(v >> 8);
  out += static_cast<char>(v);
}

void AppendField(std::string& out, std::string_view field) {
  AppendU32(out, static_cast<uint32_t>(field.size()));
  out.append(field);
}

std::string WrapAd(std::string_view org_id, uint32_t version) {
  std::string ad = "dek";
  AppendField(ad, org_id);
  AppendU32(ad, version);
  return ad;
}

std::string SecretAd(std::string_view org_id, std::string_view connector_id,
                     std::string_view field, uint32_t version) {
  std::string ad;
  ad.reserve(3 + 16 + org_id.size() + connector_id.size() + field.size());
  ad = "sec";
  AppendField(ad, org_id);
  AppendField(ad, connector_id);
  AppendField(ad, field);
  AppendU32(ad, version);
  return ad;
}

// The KEK: HKDF-SHA256 (RFC 5869) of the master key material, written straight into the
// locked key buffer; the temporary copy is wiped.
void DeriveKek(std::string_view material, uint8_t* out, size_t out_size) {
  std::string derived = HkdfSha256(material, kKekSalt, kKekInfo, out_size);
  std::copy(derived.begin(), derived.end(), out);
  OPENSSL_cleanse(derived.data(), derived.size());
}

}  // namespace

Keyring::Keyring(std::string master_key_material, KeyStore& keys, Random& random, Clock& clock)
    : Keyring(std::move(master_key_material), {}, keys, random, clock) {}

Keyring::Keyring(std::string master_key_material, std::vector<std::string> previous_master_keys,
                 KeyStore& keys, Random& random, Clock& clock)
    : kek_(std::make_unique<SecretKey>()),
      store_(keys),
      random_(random),
      nonces_(std::make_unique<NonceSource>(random)),
      clock_(clock) {
  RAMPART_CHECK(!master_key_material.empty());
  DeriveKek(master_key_material, kek_->bytes.data(), kek_->bytes.size());
  OPENSSL_cleanse(master_key_material.data(), master_key_material.size());
  kek_id_ = KekId(*kek_);
  for (std::string& material : previous_master_keys) {
    RAMPART_CHECK(!material.empty());
    auto kek = std::make_unique<SecretKey>();
    DeriveKek(material, kek->bytes.data(), kek->bytes.size());
    OPENSSL_cleanse(material.data(), material.size());
    std::string id = KekId(*kek);
    const bool known = id == kek_id_ || std::any_of(previous_.begin(), previous_.end(),
                                                    [&](const Kek& k) { return k.id == id; });
    if (!known) previous_.push_back({std::move(id), std::move(kek)});
  }
}

Keyring::~Keyring() = default;  // SecretKey destructors wipe every key

std::string Keyring::KekId(const SecretKey& kek) {
  const Digest digest = Sha256(kek.view());
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), kKekIdBytes));
}

std::vector<std::string> Keyring::previous_master_key_ids() const {
  std::vector<std::string> ids;
  for (const Kek& k : previous_) ids.push_back(k.id);
  return ids;
}

Result<std::shared_ptr<Keyring::SecretKey>> Keyring::Unwrap(const WrappedDataKey& w) const {
  if (w.version == 0) return CannotDecrypt();
  const std::string ad = WrapAd(w.org_id, w.version);
  // The KEKs to try: the one the id names; without an id, the current one, then the
  // previous ones (GCM's tag tells a wrong key from the right one).
  std::vector<const SecretKey*> candidates;
  if (w.kek_id.empty()) {
    candidates.push_back(kek_.get());
    for (const Kek& k : previous_) candidates.push_back(k.key.get());
  } else if (w.kek_id == kek_id_) {
    candidates.push_back(kek_.get());
  } else {
    for (const Kek& k : previous_) {
      if (k.id == w.kek_id) candidates.push_back(k.key.get());
    }
    if (candidates.empty()) return MasterKeyNotConfigured(w.kek_id);
  }
  for (const SecretKey* kek : candidates) {
    auto opened = Open(kek->view(), w.wrapped, ad);
    if (!opened.ok()) continue;
    if (opened->size() != kAeadKeyBytes) {
      OPENSSL_cleanse(opened->data(), opened->size());
      return CannotDecrypt();
    }
    auto key = std::make_shared<SecretKey>();
    std::copy(opened->begin(), opened->end(), reinterpret_cast<char*>(key->bytes.data()));
    OPENSSL_cleanse(opened->data(), opened->size());
    return key;
  }
  return CannotDecrypt();
}

Result<WrappedDataKey> Keyring::Wrap(const std::string& org_id, uint32_t version,
                                     const SecretKey& key) const {
  auto wrapped = Seal(kek_->view(), key.view(), WrapAd(org_id, version), *nonces_);
  if (!wrapped.ok()) return wrapped.error();
  return WrappedDataKey{org_id, version, std::move(wrapped).value(),
                        std::chrono::duration_cast<std::chrono::milliseconds>(
                            clock_.Now().time_since_epoch())
                            .count(),
                        kek_id_};
}

Result<WrappedDataKey> Keyring::Rewrap(const WrappedDataKey& key) const {
  auto unwrapped = Unwrap(key);
  if (!unwrapped.ok()) return unwrapped.error();
  auto moved = Wrap(key.org_id, key.version, **unwrapped);
  if (!moved.ok()) return moved.error();
  moved->created_at = key.created_at;
  return moved;
}

Result<uint32_t> Keyring::VersionOf(std::string_view sealed) {
  if (sealed.size() < kSealedHeaderBytes + kAeadOverheadBytes) return CannotDecrypt();
  const auto* p = reinterpret_cast<const uint8_t*>(sealed.data());
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | static_cast<uint32_t>(p[3]);
}

Status Keyring::LoadLocked(const std::string& org_id) {
  auto listed = store_.ListDataKeys(org_id);
  if (!listed.ok()) return listed.error();
  OrgKeys loaded;
  const auto cached = orgs_.find(org_id);
  for (const WrappedDataKey& w : *listed) {
    if (w.org_id != org_id || w.version == 0) return CannotDecrypt();
    // A version already unwrapped (and authenticated) here stays valid whatever its
    // wrapping became since: a rewrap under a master key this process does not hold
    // (its operator has not restarted it yet) must not stop it.
    if (cached != orgs_.end() && cached->second.keys.count(w.version) != 0) {
      loaded.newest = std::max(loaded.newest, w.version);
      continue;
    }
    auto key = Unwrap(w);
    if (!key.ok()) return key.error();
    loaded.newest = std::max(loaded.newest, w.version);
    loaded.keys.emplace(w.version, std::move(key).value());
  }
  // Merge, never replace: keys are never deleted, and a caller inside an older read
  // snapshot must not make the cache forget a version this process already created.
  OrgKeys& org = orgs_[org_id];
  for (auto& [version, key] : loaded.keys) org.keys.try_emplace(version, std::move(key));
  org.newest = std::max(org.newest, loaded.newest);
  org.loaded_at = clock_.Monotonic();
  return Status::Ok();
}

Status Keyring::CreateLocked(const std::string& org_id, uint32_t version) {
  auto key = std::make_shared<SecretKey>();
  random_.Fill(key->bytes.data(), key->bytes.size());
  auto row = Wrap(org_id, version, *key);
  if (!row.ok()) return row.error();
  Status inserted = store_.InsertDataKey(*row);
  if (!inserted.ok()) {
    // Another process created this version first: take the stored keys instead.
    if (inserted.error().code == ErrorCode::kConflict) return LoadLocked(org_id);
    return inserted;
  }
  OrgKeys& org = orgs_[org_id];
  org.keys[version] = std::move(key);
  org.newest = std::max(org.newest, version);
  return Status::Ok();
}

Result<std::shared_ptr<const Keyring::SecretKey>> Keyring::Find(std::string_view org_id,
                                                                uint32_t version) {
  {
    std::shared_lock lock(mutex_);
    auto org = orgs_.find(org_id);
    if (org != orgs_.end()) {
      auto key = org->second.keys.find(version);
      if (key != org->second.keys.end()) return key->second;
    }
  }
  // A version this process has not seen: another process may have rotated.
  std::unique_lock lock(mutex_);
  const std::string org(org_id);
  auto it = orgs_.find(org);
  if (it == orgs_.end() || !it->second.keys.count(version)) {
    // A master key that is not configured is worth naming; anything else is one message.
    if (Status s = LoadLocked(org); !s.ok()) return s.error();
    it = orgs_.find(org);
  }
  auto key = it->second.keys.find(version);
  if (key == it->second.keys.end()) return CannotDecrypt();
  return key->second;
}

Result<std::pair<uint32_t, std::shared_ptr<const Keyring::SecretKey>>> Keyring::Newest(
    std::string_view org_id) {
  const auto now = clock_.Monotonic();
  {
    std::shared_lock lock(mutex_);
    auto org = orgs_.find(org_id);
    if (org != orgs_.end() && org->second.newest != 0 &&
        now - org->second.loaded_at < refresh_interval_) {
      return std::make_pair(org->second.newest, org->second.keys.at(org->second.newest));
    }
  }
  std::unique_lock lock(mutex_);
  const std::string org(org_id);
  if (Status s = LoadLocked(org); !s.ok()) return s.error();
  if (orgs_[org].newest == 0) {
    if (Status s = CreateLocked(org, 1); !s.ok()) return s.error();
  }
  const OrgKeys& keys = orgs_.at(org);
  if (keys.newest == 0) return CannotDecrypt();
  return std::make_pair(keys.newest, keys.keys.at(keys.newest));
}

Result<std::string> Keyring::Encrypt(std::string_view org_id, std::string_view connector_id,
                                     std::string_view field, std::string_view plaintext) {
  auto newest = Newest(org_id);
  if (!newest.ok()) return newest.error();
  const uint32_t version = newest->first;
  auto sealed = Seal(newest->second->view(), plaintext,
                     SecretAd(org_id, connector_id, field, version), *nonces_);
  if (!sealed.ok()) return sealed.error();
  std::string out;
  out.reserve(kSealedHeaderBytes + sealed->size());
  AppendU32(out, version);
  out.append(*sealed);
  return out;
}

Result<std::string> Keyring::Decrypt(std::string_view org_id, std::string_view connector_id,
                                     std::string_view field, std::string_view sealed) {
  auto version = VersionOf(sealed);
  if (!version.ok()) return version.error();
  auto key = Find(org_id, *version);
  if (!key.ok()) return key.error();
  auto opened = Open((*key)->view(), sealed.substr(kSealedHeaderBytes),
                     SecretAd(org_id, connector_id, field, *version));
  if (!opened.ok()) return CannotDecrypt();
  return opened;
}

Result<uint32_t> Keyring::Rotate(std::string_view org_id) {
  std::unique_lock lock(mutex_);
  const std::string org(org_id);
  // Two attempts: a concurrent rotation elsewhere may take the version first.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (Status s = LoadLocked(org); !s.ok()) return s.error();
    const uint32_t next = orgs_[org].newest + 1;
    auto key = std::make_shared<SecretKey>();
    random_.Fill(key->bytes.data(), key->bytes.size());
    auto row = Wrap(org, next, *key);
    if (!row.ok()) return row.error();
    Status inserted = store_.InsertDataKey(*row);
    if (inserted.ok()) {
      OrgKeys& keys = orgs_[org];
      keys.keys[next] = std::move(key);
      keys.newest = next;
      keys.loaded_at = clock_.Monotonic();
      return next;
    }
    if (inserted.error().code != ErrorCode::kConflict) return inserted.error();
  }
  return MakeError(ErrorCode::kConflict, "concurrent key rotation; try again");
}

Result<uint32_t> Keyring::CurrentVersion(std::string_view org_id) {
  auto newest = Newest(org_id);
  if (!newest.ok()) return newest.error();
  return newest->first;
}

bool IsCannotDecrypt(const Error& error) {
  return error.code == ErrorCode::kInternal && error.message.starts_with(kCannotDecrypt);
}

Status Keyring::CheckOrg(std::string_view org_id) {
  std::unique_lock lock(mutex_);
  return LoadLocked(std::string(org_id));
}

}  // namespace rampart::crypto
