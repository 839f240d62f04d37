// The keyring (spec/security.md section 1): envelope encryption, binding of every sealed
// value to its owner, fail-closed behaviour with a wrong master key, rotation and
// re-encryption while readers keep decrypting.
#include "rampart/crypto/keyring.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rampart/api/connectors.h"
#include "rampart/crypto/aead.h"
#include "rampart/store/store.h"
#include "store/store_test_util.h"

namespace rampart::crypto {
namespace {

constexpr const char* kMaster = "test-master-key-0123456789abcdefghijklmnop";
constexpr const char* kCannotDecrypt = "cannot decrypt: wrong master key or corrupted data";

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
  auto opened = wrong.Decrypt("org_a", "acme", "token", sealed);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
  EXPECT_EQ(opened.error().message, kCannotDecrypt);
  EXPECT_EQ(opened.error().message.find("s3cr3t"), std::string::npos);
  // Encrypting with it fails too (it never silently adds a key it could read alone).
  auto sealed_again = wrong.Encrypt("org_a", "acme", "token", "new");
  ASSERT_FALSE(sealed_again.ok());
  EXPECT_EQ(sealed_again.error().message, kCannotDecrypt);
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
