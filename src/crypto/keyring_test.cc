// The keyring (spec/security.md section 1): envelope encryption, binding of every sealed
// value to its owner, fail-closed behaviour with a wrong master key, rotation and
// re-encryption while readers keep decrypting.
#include "rampart/crypto/keyring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <set>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rampart/api/connectors.h"
#include "rampart/crypto/aead.h"
#include "rampart/store/store.h"
#include "store/store_test_util.h"
#include "support/fake_env.h"

namespace rampart::crypto {
namespace {

constexpr const char* kMaster = "test-master-key-0123456789abcdefghijklmnop";
constexpr const char* kCannotDecrypt = "cannot decrypt: wrong master key or corrupted data";

// A data key whose master key id is not configured: the generic message plus the id.
std::string MissingKeyMessage(const std::string& id) {
  return std::string(kCannotDecrypt) + " (a data key is wrapped by master key " + id +
         ", which is not configured; add it to previous_master_key_files)";
}

class MemKeyStore final : public KeyStore {
 public:
  Result<std::vector<WrappedDataKey>> ListDataKeys(std::string_view org_id) override {
    std::lock_guard lock(mutex_);
    std::vector<WrappedDataKey> out;
    for (const auto& [k, v] : keys_) {
      if (k.first == org_id) out.push_back(v);
    }
    return out;
  }
  Status InsertDataKey(const WrappedDataKey& key) override {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = keys_.emplace(std::make_pair(key.org_id, key.version), key);
    if (!inserted) return MakeError(ErrorCode::kConflict, "exists");
    return Status::Ok();
  }
  std::map<std::pair<std::string, uint32_t>, WrappedDataKey> keys_;
  std::mutex mutex_;
};

TEST(KeyringTest, RoundTripAndFormat) {
  MemKeyStore store;
  Keyring keyring(kMaster, store, SystemRandom());
  for (std::string plaintext : {std::string(), std::string("s3cr3t"), std::string(5000, 'x')}) {
    auto sealed = keyring.Encrypt("org_a", "acme", "token", plaintext);
    ASSERT_TRUE(sealed.ok()) << sealed.error().message;
    EXPECT_EQ(sealed->size(), 4 + 12 + plaintext.size() + 16);
    EXPECT_EQ(*Keyring::VersionOf(*sealed), 1u);
    auto opened = keyring.Decrypt("org_a", "acme", "token", *sealed);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(*opened, plaintext);
  }
  // Fresh nonces: the same plaintext never seals to the same bytes.
  EXPECT_NE(*keyring.Encrypt("org_a", "acme", "token", "same"),
            *keyring.Encrypt("org_a", "acme", "token", "same"));
  // One data key per org, stored wrapped (never the raw key).
  ASSERT_EQ(store.keys_.size(), 1u);
  EXPECT_EQ(store.keys_.begin()->second.wrapped.size(), 12 + 32 + 16u);
}

TEST(KeyringTest, SealedValueIsBoundToOrgConnectorAndField) {
  MemKeyStore store;
  Keyring keyring(kMaster, store, SystemRandom());
  ASSERT_TRUE(keyring.Encrypt("org_b", "x", "y", "other org's key").ok());
  auto sealed = keyring.Encrypt("org_a", "acme", "token", "s3cr3t");
  ASSERT_TRUE(sealed.ok());
  struct Owner {
    const char* org;
    const char* connector;
    const char* field;
  };
  for (Owner o : {Owner{"org_a", "acme", "password"}, Owner{"org_a", "other", "token"},
                  Owner{"org_b", "acme", "token"}, Owner{"org_a", "acm", "etoken"},
                  Owner{"org_aa", "cme", "token"}, Owner{"org_", "aacme", "token"}}) {
    auto opened = keyring.Decrypt(o.org, o.connector, o.field, *sealed);
    ASSERT_FALSE(opened.ok()) << o.org << "/" << o.connector << "/" << o.field;
    EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
    EXPECT_EQ(opened.error().message, kCannotDecrypt);
  }
}

TEST(KeyringTest, AnyFlippedBitFails) {
  MemKeyStore store;
  Keyring keyring(kMaster, store, SystemRandom());
  ASSERT_TRUE(keyring.Rotate("org_a").ok());  // versions 1 and 2 exist: a flipped version
  ASSERT_TRUE(keyring.Rotate("org_a").ok());  // bit may name another real key
  auto sealed = keyring.Encrypt("org_a", "acme", "token", "s3cr3t-value");
  ASSERT_TRUE(sealed.ok());
  for (size_t i = 0; i < sealed->size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = *sealed;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      auto opened = keyring.Decrypt("org_a", "acme", "token", bad);
      ASSERT_FALSE(opened.ok()) << "byte " << i << " bit " << bit;
      EXPECT_EQ(opened.error().message, kCannotDecrypt);
    }
  }
  // Truncated and extended values fail too.
  EXPECT_FALSE(keyring.Decrypt("org_a", "acme", "token", sealed->substr(0, 10)).ok());
  EXPECT_FALSE(keyring.Decrypt("org_a", "acme", "token", *sealed + "x").ok());
  EXPECT_FALSE(keyring.Decrypt("org_a", "acme", "token", "").ok());
}

TEST(KeyringTest, WrongMasterKeyFailsClosed) {
  MemKeyStore store;
  std::string sealed;
  {
    Keyring keyring(kMaster, store, SystemRandom());
    sealed = *keyring.Encrypt("org_a", "acme", "token", "s3cr3t-plaintext");
  }
  Keyring wrong("another-master-key-0123456789abcdefghijkl", store, SystemRandom());
  // The data key records which master key wrapped it: the message names that key's id.
  const std::string wanted = MissingKeyMessage(store.keys_.begin()->second.kek_id);
  auto opened = wrong.Decrypt("org_a", "acme", "token", sealed);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
  EXPECT_EQ(opened.error().message, wanted);
  EXPECT_EQ(opened.error().message.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(opened.error().message.find("master-key-0123"), std::string::npos);
  // Encrypting with it fails too (it never silently adds a key it could read alone).
  auto sealed_again = wrong.Encrypt("org_a", "acme", "token", "new");
  ASSERT_FALSE(sealed_again.ok());
  EXPECT_EQ(sealed_again.error().message, wanted);
  EXPECT_FALSE(wrong.CheckOrg("org_a").ok());
  EXPECT_FALSE(wrong.Rotate("org_a").ok());
  EXPECT_EQ(store.keys_.size(), 1u);
  // The right key still works.
  Keyring right(kMaster, store, SystemRandom());
  EXPECT_TRUE(right.CheckOrg("org_a").ok());
  EXPECT_EQ(*right.Decrypt("org_a", "acme", "token", sealed), "s3cr3t-plaintext");
}

TEST(KeyringTest, WrappedKeyIsBoundToOrgAndVersion) {
  MemKeyStore store;
  Keyring keyring(kMaster, store, SystemRandom());
  ASSERT_TRUE(keyring.Encrypt("org_a", "c", "f", "v").ok());
  // Org B's "data key" is a copy of org A's wrapped key: it must not unwrap.
  WrappedDataKey copy = store.keys_.begin()->second;
  copy.org_id = "org_b";
  ASSERT_TRUE(store.InsertDataKey(copy).ok());
  Keyring other(kMaster, store, SystemRandom());
  EXPECT_EQ(other.CheckOrg("org_b").error().message, kCannotDecrypt);
  EXPECT_TRUE(other.CheckOrg("org_a").ok());
}

TEST(KeyringTest, RotationKeepsOldVersionsDecrypting) {
  MemKeyStore store;
  Keyring keyring(kMaster, store, SystemRandom());
  auto v1 = keyring.Encrypt("org_a", "acme", "token", "one");
  ASSERT_TRUE(v1.ok());
  auto version = keyring.Rotate("org_a");
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, 2u);
  auto v2 = keyring.Encrypt("org_a", "acme", "token", "two");
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(*Keyring::VersionOf(*v2), 2u);
  EXPECT_EQ(*keyring.Decrypt("org_a", "acme", "token", *v1), "one");
  EXPECT_EQ(*keyring.Decrypt("org_a", "acme", "token", *v2), "two");
  // Another process (a second keyring on the same store) learns the new version when it
  // meets a value sealed under it, and old values keep opening there too.
  Keyring server(kMaster, store, SystemRandom());
  EXPECT_EQ(*server.Decrypt("org_a", "acme", "token", *v2), "two");
  EXPECT_EQ(*server.Decrypt("org_a", "acme", "token", *v1), "one");
  EXPECT_EQ(*server.CurrentVersion("org_a"), 2u);
  // Rotation of one org leaves the others alone.
  EXPECT_EQ(*keyring.CurrentVersion("org_b"), 1u);
}

// ----- Master key replacement (ASVS V11.2.2, V13.3.4) -----

constexpr const char* kNewMaster = "new-master-key-0123456789abcdefghijklmnopq";
constexpr const char* kOtherMaster = "other-master-key-0123456789abcdefghijklmno";

// Seals one secret per org with a keyring on kMaster (org_a with two data key versions).
std::map<std::string, std::string> SealUnderOldKey(MemKeyStore& store) {
  Keyring old(kMaster, store, SystemRandom());
  std::map<std::string, std::string> sealed;
  sealed["org_a/v1"] = *old.Encrypt("org_a", "acme", "token", "secret-a-1");
  EXPECT_TRUE(old.Rotate("org_a").ok());
  sealed["org_a/v2"] = *old.Encrypt("org_a", "acme", "token", "secret-a-2");
  sealed["org_b/v1"] = *old.Encrypt("org_b", "acme", "token", "secret-b-1");
  return sealed;
}

TEST(KeyringTest, MasterKeyIdIsRecordedWithEveryWrappedKey) {
  MemKeyStore store;
  Keyring keyring(kMaster, store, SystemRandom());
  const std::string id = keyring.master_key_id();
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  // Stable for the same material, different for another, and never the material itself.
  EXPECT_EQ(Keyring(kMaster, store, SystemRandom()).master_key_id(), id);
  EXPECT_NE(Keyring(kNewMaster, store, SystemRandom()).master_key_id(), id);
  EXPECT_EQ(std::string(kMaster).find(id), std::string::npos);
  ASSERT_TRUE(keyring.Encrypt("org_a", "c", "f", "v").ok());
  ASSERT_TRUE(keyring.Rotate("org_a").ok());
  ASSERT_TRUE(keyring.Encrypt("org_b", "c", "f", "v").ok());
  ASSERT_EQ(store.keys_.size(), 3u);
  for (const auto& [k, key] : store.keys_) EXPECT_EQ(key.kek_id, id) << k.first << k.second;
}

TEST(KeyringTest, PreviousMasterKeyUnwrapsByIdAndNewKeysUseTheCurrentOne) {
  MemKeyStore store;
  auto sealed = SealUnderOldKey(store);
  const std::string old_id = Keyring(kMaster, store, SystemRandom()).master_key_id();

  Keyring keyring(kNewMaster, {kMaster, kNewMaster, kMaster}, store, SystemRandom());
  EXPECT_NE(keyring.master_key_id(), old_id);
  EXPECT_EQ(keyring.previous_master_key_ids(), std::vector<std::string>{old_id});
  EXPECT_TRUE(keyring.CheckOrg("org_a").ok());
  EXPECT_EQ(*keyring.Decrypt("org_a", "acme", "token", sealed["org_a/v1"]), "secret-a-1");
  EXPECT_EQ(*keyring.Decrypt("org_a", "acme", "token", sealed["org_a/v2"]), "secret-a-2");
  EXPECT_EQ(*keyring.Decrypt("org_b", "acme", "token", sealed["org_b/v1"]), "secret-b-1");

  // New data keys (a rotation, a new org) are wrapped by the current key only: a keyring
  // holding only the new key opens them.
  ASSERT_EQ(*keyring.Rotate("org_a"), 3u);
  auto v3 = keyring.Encrypt("org_a", "acme", "token", "secret-a-3");
  auto c1 = keyring.Encrypt("org_c", "acme", "token", "secret-c-1");
  ASSERT_TRUE(v3.ok() && c1.ok());
  EXPECT_EQ(store.keys_.at({"org_a", 3}).kek_id, keyring.master_key_id());
  EXPECT_EQ(store.keys_.at({"org_c", 1}).kek_id, keyring.master_key_id());
  EXPECT_EQ(store.keys_.at({"org_a", 1}).kek_id, old_id);  // untouched until a rewrap
  Keyring only_new(kNewMaster, store, SystemRandom());
  EXPECT_EQ(*only_new.Decrypt("org_c", "acme", "token", *c1), "secret-c-1");
  EXPECT_TRUE(only_new.CheckOrg("org_c").ok());

  // The id chooses the key: a row claiming the current key's id but wrapped by the old
  // one does not open (no silent fallback to another key).
  WrappedDataKey lying = store.keys_.at({"org_b", 1});
  lying.kek_id = keyring.master_key_id();
  auto relabeled = keyring.Rewrap(lying);
  ASSERT_FALSE(relabeled.ok());
  EXPECT_EQ(relabeled.error().message, kCannotDecrypt);
  store.keys_.at({"org_b", 1}).kek_id = keyring.master_key_id();
  Keyring fresh(kNewMaster, {kMaster}, store, SystemRandom());
  EXPECT_EQ(fresh.CheckOrg("org_b").error().message, kCannotDecrypt);
  EXPECT_FALSE(fresh.Decrypt("org_b", "acme", "token", sealed["org_b/v1"]).ok());
}

TEST(KeyringTest, DataKeyOfAnUnconfiguredMasterKeyFailsNamingItsIdNeverAKey) {
  MemKeyStore store;
  auto sealed = SealUnderOldKey(store);
  const std::string old_id = Keyring(kMaster, store, SystemRandom()).master_key_id();
  // Forgotten previous key, and a wrong one (another key with another id).
  for (std::vector<std::string> previous :
       {std::vector<std::string>{}, std::vector<std::string>{kOtherMaster}}) {
    Keyring keyring(kNewMaster, previous, store, SystemRandom());
    for (const Error& e :
         {keyring.CheckOrg("org_a").error(),
          keyring.Decrypt("org_a", "acme", "token", sealed["org_a/v1"]).error(),
          keyring.Encrypt("org_b", "acme", "token", "new").error(),
          keyring.Rotate("org_b").error(),
          keyring.Rewrap(store.keys_.at({"org_b", 1})).error()}) {
      EXPECT_EQ(e.code, ErrorCode::kInternal);
      EXPECT_EQ(e.message, MissingKeyMessage(old_id));
      for (const char* material : {kMaster, kNewMaster, kOtherMaster}) {
        EXPECT_EQ(e.message.find(material), std::string::npos);
      }
      EXPECT_EQ(e.message.find("secret-"), std::string::npos);
    }
  }
  // Nothing was added for an org whose keys could not be read.
  EXPECT_EQ(store.keys_.size(), 3u);
  // An id that is not one (the store is not trusted to write text into messages or
  // logs) is not echoed.
  store.keys_.at({"org_b", 1}).kek_id = "x\n{\"level\":\"error\"}";
  Keyring keyring(kNewMaster, {kMaster}, store, SystemRandom());
  EXPECT_EQ(keyring.CheckOrg("org_b").error().message, kCannotDecrypt);
}

TEST(KeyringTest, DataKeysWithoutAnIdBelongToTheCurrentKeyThenThePreviousOnes) {
  MemKeyStore store;
  auto sealed = SealUnderOldKey(store);
  for (auto& [k, key] : store.keys_) key.kek_id.clear();  // rows from before ids existed
  {
    Keyring same(kMaster, store, SystemRandom());
    EXPECT_TRUE(same.CheckOrg("org_a").ok());
    EXPECT_EQ(*same.Decrypt("org_b", "acme", "token", sealed["org_b/v1"]), "secret-b-1");
  }
  {
    // Upgrade and master key change in the same restart: the previous key opens them.
    Keyring changed(kNewMaster, {kMaster}, store, SystemRandom());
    EXPECT_EQ(*changed.Decrypt("org_a", "acme", "token", sealed["org_a/v2"]), "secret-a-2");
    auto moved = changed.Rewrap(store.keys_.at({"org_a", 1}));
    ASSERT_TRUE(moved.ok()) << moved.error().message;
    EXPECT_EQ(moved->kek_id, changed.master_key_id());
  }
  // No configured key opens them: the generic message (there is no id to name).
  Keyring wrong(kNewMaster, {kOtherMaster}, store, SystemRandom());
  EXPECT_EQ(wrong.CheckOrg("org_a").error().message, kCannotDecrypt);
}

TEST(KeyringTest, RewrapMovesTheWrappingNeverTheDataKey) {
  MemKeyStore store;
  auto sealed = SealUnderOldKey(store);
  Keyring keyring(kNewMaster, {kMaster}, store, SystemRandom());
  // A reader that has the old wrapping cached keeps working across the rewrap.
  EXPECT_EQ(*keyring.Decrypt("org_a", "acme", "token", sealed["org_a/v1"]), "secret-a-1");
  // So does a server still running on the old key alone (not restarted yet): the data
  // keys it has unwrapped stay valid even when it reloads the org's rewrapped rows.
  rampart::testing::ManualClock clock(std::chrono::system_clock::now());
  Keyring not_restarted(kMaster, store, SystemRandom(), clock);
  not_restarted.set_refresh_interval(std::chrono::milliseconds(1));
  ASSERT_TRUE(not_restarted.CheckOrg("org_a").ok());
  for (auto& [k, key] : store.keys_) {
    auto moved = keyring.Rewrap(key);
    ASSERT_TRUE(moved.ok()) << moved.error().message;
    EXPECT_EQ(moved->org_id, key.org_id);
    EXPECT_EQ(moved->version, key.version);
    EXPECT_EQ(moved->created_at, key.created_at);
    EXPECT_EQ(moved->kek_id, keyring.master_key_id());
    EXPECT_NE(moved->wrapped, key.wrapped);
    EXPECT_EQ(moved->wrapped.size(), key.wrapped.size());
    // Idempotent: rewrapping a key already under the current master key keeps it there.
    auto again = keyring.Rewrap(*moved);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->kek_id, keyring.master_key_id());
    key = *moved;
  }
  clock.Advance(std::chrono::seconds(1));
  auto still = not_restarted.Encrypt("org_a", "acme", "token", "after");  // reloads org_a
  ASSERT_TRUE(still.ok()) << still.error().message;
  EXPECT_EQ(*not_restarted.Decrypt("org_a", "acme", "token", sealed["org_a/v1"]), "secret-a-1");
  EXPECT_EQ(*keyring.Decrypt("org_a", "acme", "token", *still), "after");
  // But it cannot open an org it had not unwrapped before the rewrap.
  EXPECT_FALSE(not_restarted.CheckOrg("org_b").ok());
  // The old master key is no longer needed; it alone no longer opens anything.
  Keyring only_new(kNewMaster, store, SystemRandom());
  EXPECT_EQ(*only_new.Decrypt("org_a", "acme", "token", sealed["org_a/v1"]), "secret-a-1");
  EXPECT_EQ(*only_new.Decrypt("org_a", "acme", "token", sealed["org_a/v2"]), "secret-a-2");
  EXPECT_EQ(*only_new.Decrypt("org_b", "acme", "token", sealed["org_b/v1"]), "secret-b-1");
  EXPECT_EQ(*keyring.Decrypt("org_a", "acme", "token", sealed["org_a/v2"]), "secret-a-2");
  Keyring only_old(kMaster, store, SystemRandom());
  auto refused = only_old.Decrypt("org_a", "acme", "token", sealed["org_a/v1"]);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message, MissingKeyMessage(keyring.master_key_id()));
  // A moved wrapping stays bound to its org and version.
  WrappedDataKey moved_copy = store.keys_.at({"org_a", 1});
  moved_copy.version = 2;
  EXPECT_EQ(keyring.Rewrap(moved_copy).error().message, kCannotDecrypt);
}

// Re-encryption over the real store while readers (another Keyring, as the server would
// be) decrypt every secret in a loop: no reader ever fails, nothing is lost, and at the
// end every secret is on the newest version. Running it again is safe.
TEST(KeyringTest, ReencryptionMovesEverythingWhileReadersKeepDecrypting) {
  store::testing::TempDir dir;
  auto opened = store::OpenSqliteStore({.path = dir.path() + "/rampart.db",
                                        .synchronous_full = false});
  ASSERT_TRUE(opened.ok());
  store::Store& st = **opened;
  const std::vector<std::string> orgs = {"org_a", "org_b"};
  ASSERT_TRUE(st.Write([&](store::Tx& tx) -> Status {
                  for (const auto& org : orgs) {
                    if (Status s = tx.InsertOrg({org, org + "-slug", org, 10, 1}); !s.ok()) {
                      return s;
                    }
                  }
                  return Status::Ok();
                }).ok());
  api::StoreKeyStore keys(st);
  Keyring cli(kMaster, keys, SystemRandom());
  Keyring server(kMaster, keys, SystemRandom());
  std::map<std::tuple<std::string, std::string, std::string>, std::string> expected;
  for (const auto& org : orgs) {
    for (int c = 0; c < 25; ++c) {
      const std::string id = "conn-" + std::to_string(c);
      std::vector<store::ConnectorSecret> sealed;
      for (const char* field : {"token", "extra"}) {
        const std::string value = org + "/" + id + "/" + field + "/secret";
        expected[{org, id, field}] = value;
        auto s = server.Encrypt(org, id, field, value);
        ASSERT_TRUE(s.ok());
        sealed.push_back({org, id, field, *s, *Keyring::VersionOf(*s), 1});
      }
      ASSERT_TRUE(st.Write([&](store::Tx& tx) -> Status {
                      store::Connector conn;
                      conn.org_id = org;
                      conn.id = id;
                      conn.type = "custom";
                      if (Status s = tx.InsertConnector(conn); !s.ok()) return s;
                      for (const auto& s : sealed) {
                        if (Status p = tx.PutConnectorSecret(s); !p.ok()) return p;
                      }
                      return Status::Ok();
                    }).ok());
    }
  }

  std::atomic<bool> stop{false};
  std::atomic<int64_t> reads{0};
  std::atomic<int64_t> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        Status status = st.Read([&](store::Tx& tx) -> Status {
          int64_t seen = 0;
          for (const auto& org : orgs) {
            for (int c = 0; c < 25; ++c) {
              const std::string id = "conn-" + std::to_string(c);
              auto secrets = tx.ListConnectorSecrets(org, id);
              if (!secrets.ok()) return secrets.error();
              for (const auto& s : *secrets) {
                auto plain = server.Decrypt(org, id, s.field, s.sealed);
                if (!plain.ok() || *plain != expected[{org, id, s.field}]) ++failures;
                ++seen;
              }
            }
          }
          if (seen != static_cast<int64_t>(expected.size())) ++failures;
          return Status::Ok();
        });
        if (!status.ok()) ++failures;
        ++reads;
      }
    });
  }
  for (int round = 0; round < 2; ++round) {
    auto stats = api::RotateAllKeys(st, cli, /*batch_size=*/7);
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    EXPECT_EQ(stats->orgs, 2);
    EXPECT_EQ(stats->rotated, 2);
    EXPECT_EQ(stats->reencrypted, static_cast<int64_t>(expected.size()));
  }
  // Nothing left to do: a further pass moves nothing.
  auto again = api::ReencryptSecrets(st, cli, 7);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->reencrypted, 0);
  while (reads.load() < 10) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);

  // Everything is on version 3 (1 + two rotations) and decrypts to what was stored.
  ASSERT_TRUE(st.Read([&](store::Tx& tx) -> Status {
                  size_t count = 0;
                  for (const auto& org : orgs) {
                    auto stale = tx.ListSecretsBelowVersion(org, 3, 1000);
                    EXPECT_TRUE(stale.ok() && stale->empty());
                    for (int c = 0; c < 25; ++c) {
                      const std::string id = "conn-" + std::to_string(c);
                      auto secrets = tx.ListConnectorSecrets(org, id);
                      EXPECT_TRUE(secrets.ok());
                      for (const auto& s : *secrets) {
                        EXPECT_EQ(s.key_version, 3);
                        EXPECT_EQ(*Keyring::VersionOf(s.sealed), 3u);
                        Keyring fresh(kMaster, keys, SystemRandom());
                        EXPECT_EQ(*fresh.Decrypt(org, id, s.field, s.sealed),
                                  (expected[{org, id, s.field}]));
                        ++count;
                      }
                    }
                  }
                  EXPECT_EQ(count, expected.size());
                  return Status::Ok();
                }).ok());
}

}  // namespace
}  // namespace rampart::crypto

namespace rampart::crypto {
namespace {

// The store of the rewrap tests: orgs, each with connectors whose secrets were sealed
// under kMaster (and org_a with a second data key version).
class RewrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::OpenSqliteStore({.path = dir_.path() + "/rampart.db",
                                          .synchronous_full = false});
    ASSERT_TRUE(opened.ok());
    store_ = std::move(opened).value();
    keys_ = std::make_unique<api::StoreKeyStore>(*store_);
  }
  store::Store& st() { return *store_; }
  void Seed(const std::vector<std::string>& orgs, const char* master) {
    Keyring keyring(master, *keys_, SystemRandom());
    ASSERT_TRUE(st().Write([&](store::Tx& tx) -> Status {
                    for (const auto& org : orgs) {
                      if (Status s = tx.InsertOrg({org, org + "-slug", org, 10, 1}); !s.ok()) {
                        return s;
                      }
                    }
                    return Status::Ok();
                  }).ok());
    for (const auto& org : orgs) {
      for (int c = 0; c < 6; ++c) {
        if (c == 3) {
          ASSERT_TRUE(keyring.Rotate(org).ok());
        }
        const std::string id = "conn-" + std::to_string(c);
        const std::string value = org + "/" + id + "/secret-value";
        expected_[{org, id}] = value;
        auto sealed = keyring.Encrypt(org, id, "token", value);
        ASSERT_TRUE(sealed.ok());
        ASSERT_TRUE(st().Write([&](store::Tx& tx) -> Status {
                        store::Connector conn;
                        conn.org_id = org;
                        conn.id = id;
                        conn.type = "custom";
                        if (Status s = tx.InsertConnector(conn); !s.ok()) return s;
                        return tx.PutConnectorSecret(
                            {org, id, "token", *sealed, *Keyring::VersionOf(*sealed), 1});
                      }).ok());
      }
    }
  }
  // kek_id of every data key, by (org, version).
  std::map<std::pair<std::string, int64_t>, std::string> KekIds() {
    std::map<std::pair<std::string, int64_t>, std::string> out;
    EXPECT_TRUE(st().Read([&](store::Tx& tx) -> Status {
                    auto orgs = tx.ListOrgIds();
                    if (!orgs.ok()) return orgs.error();
                    for (const auto& org : *orgs) {
                      auto keys = tx.ListDataKeys(org);
                      if (!keys.ok()) return keys.error();
                      for (const auto& k : *keys) out[{org, k.version}] = k.kek_id;
                    }
                    return Status::Ok();
                  }).ok());
    return out;
  }
  // Decrypts every secret with `keyring`; the number that failed or differ.
  int64_t DecryptAll(Keyring& keyring) {
    int64_t bad = 0;
    Status status = st().Read([&](store::Tx& tx) -> Status {
      for (const auto& [owner, value] : expected_) {
        auto secrets = tx.ListConnectorSecrets(owner.first, owner.second);
        if (!secrets.ok()) return secrets.error();
        if (secrets->size() != 1) ++bad;
        for (const auto& s : *secrets) {
          auto plain = keyring.Decrypt(owner.first, owner.second, s.field, s.sealed);
          if (!plain.ok() || *plain != value) ++bad;
        }
      }
      return Status::Ok();
    });
    return status.ok() ? bad : -1;
  }
  std::vector<store::AuditEvent> RewrapEvents() {
    std::vector<store::AuditEvent> out;
    EXPECT_TRUE(st().Read([&](store::Tx& tx) -> Status {
                    auto all = tx.ListAllAudit(0, 10000);
                    if (!all.ok()) return all.error();
                    for (auto& e : *all) {
                      if (e.action == "master_key.rewrap") out.push_back(std::move(e));
                    }
                    return Status::Ok();
                  }).ok());
    return out;
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<api::StoreKeyStore> keys_;
  std::map<std::pair<std::string, std::string>, std::string> expected_;
};

// The rewrap over the real store, in small batches, while a server-like keyring (new key
// current, old key previous) decrypts every secret in a loop, and fresh keyrings (nothing
// cached: they read whatever wrapping is stored at that moment) do too.
TEST_F(RewrapTest, MovesEveryDataKeyWhileReadersKeepDecrypting) {
  const std::vector<std::string> orgs = {"org_a", "org_b", "org_c"};
  Seed(orgs, kMaster);
  const std::string old_id = Keyring(kMaster, *keys_, SystemRandom()).master_key_id();
  Keyring server(kNewMaster, {kMaster}, *keys_, SystemRandom());
  ASSERT_EQ(DecryptAll(server), 0);

  std::atomic<bool> stop{false};
  std::atomic<int64_t> rounds{0};
  std::atomic<int64_t> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&, t] {
      while (!stop.load()) {
        if (t == 0) {
          if (DecryptAll(server) != 0) ++failures;
        } else {
          Keyring fresh(kNewMaster, {kMaster}, *keys_, SystemRandom());
          if (DecryptAll(fresh) != 0) ++failures;
        }
        ++rounds;
      }
    });
  }
  Keyring cli(kNewMaster, {kMaster}, *keys_, SystemRandom());
  auto stats = api::RewrapDataKeys(st(), cli, SystemClock(), /*batch_size=*/2);
  while (rounds.load() < 6) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(stats->rewrapped, 6);  // 3 orgs x 2 versions
  EXPECT_EQ(stats->orgs, 3);
  EXPECT_EQ(stats->batches, 3);
  EXPECT_EQ(stats->from, (std::map<std::string, int64_t>{{old_id, 6}}));
  for (const auto& [key, id] : KekIds()) EXPECT_EQ(id, cli.master_key_id()) << key.first;

  // Idempotent: a second run has nothing to do and writes nothing.
  const auto events = RewrapEvents();
  auto again = api::RewrapDataKeys(st(), cli, SystemClock(), 2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->rewrapped, 0);
  EXPECT_EQ(RewrapEvents().size(), events.size());

  // The old key is no longer needed, and no longer enough.
  Keyring only_new(kNewMaster, *keys_, SystemRandom());
  EXPECT_EQ(DecryptAll(only_new), 0);
  Keyring only_old(kMaster, *keys_, SystemRandom());
  EXPECT_EQ(only_old.CheckOrg("org_a").error().message, MissingKeyMessage(cli.master_key_id()));

  // Audited per org and batch: counts and key ids, never key material.
  int64_t audited = 0;
  std::set<std::string> audited_orgs;
  for (const auto& e : events) {
    audited_orgs.insert(e.org_id);
    EXPECT_EQ(e.outcome, "success");
    auto details = boost::json::parse(e.details).as_object();
    audited += details.at("rewrapped").as_int64();
    EXPECT_EQ(details.at("to_master_key").as_string(), cli.master_key_id());
    EXPECT_EQ(details.at("from_master_keys").as_array(), boost::json::array{old_id.c_str()});
    for (const char* material : {kMaster, kNewMaster}) {
      EXPECT_EQ(e.details.find(material), std::string::npos);
    }
  }
  EXPECT_EQ(audited, 6);
  EXPECT_EQ(audited_orgs, (std::set<std::string>{"org_a", "org_b", "org_c"}));
}

// A batch holding a data key whose master key is not configured commits nothing; the
// batches before it stay committed (each whole), and the error names the missing key id.
TEST_F(RewrapTest, ABatchWithAnUnopenableKeyCommitsNothing) {
  Seed({"org_a", "org_c"}, kMaster);
  Seed({"org_b"}, kOtherMaster);
  const std::string other_id = Keyring(kOtherMaster, *keys_, SystemRandom()).master_key_id();
  const auto before = KekIds();
  Keyring cli(kNewMaster, {kMaster}, *keys_, SystemRandom());
  for (int batch_size : {100, 3}) {
    auto stats = api::RewrapDataKeys(st(), cli, SystemClock(), batch_size);
    ASSERT_FALSE(stats.ok());
    EXPECT_EQ(stats.error().code, ErrorCode::kInternal);
    EXPECT_EQ(stats.error().message, MissingKeyMessage(other_id));
    const auto after = KekIds();
    if (batch_size == 100) {
      EXPECT_EQ(after, before);  // one batch: nothing written
      EXPECT_TRUE(RewrapEvents().empty());
    } else {
      // Ordered by org then version: org_a's two keys and org_b's first key form the
      // first batch - it fails whole, so org_a stays as it was too.
      EXPECT_EQ(after, before);
    }
  }
  // With batches of 2, org_a's batch commits before org_b's fails.
  auto stats = api::RewrapDataKeys(st(), cli, SystemClock(), 2);
  ASSERT_FALSE(stats.ok());
  const auto after = KekIds();
  EXPECT_EQ((after.at({"org_a", 1})), cli.master_key_id());
  EXPECT_EQ((after.at({"org_a", 2})), cli.master_key_id());
  EXPECT_EQ((after.at({"org_b", 1})), other_id);
  EXPECT_EQ((after.at({"org_c", 1})), before.at({"org_c", 1}));
  EXPECT_EQ(RewrapEvents().size(), 1u);
  // Every secret still decrypts with the keys that are configured plus the missing one.
  Keyring all(kNewMaster, {kMaster, kOtherMaster}, *keys_, SystemRandom());
  EXPECT_EQ(DecryptAll(all), 0);
  auto finished = api::RewrapDataKeys(st(), all, SystemClock(), 2);
  ASSERT_TRUE(finished.ok());
  EXPECT_EQ(finished->rewrapped, 4);
  Keyring only_new(kNewMaster, *keys_, SystemRandom());
  EXPECT_EQ(DecryptAll(only_new), 0);
}

}  // namespace
}  // namespace rampart::crypto
