// Keyring throughput (issue: connectors, encrypted secrets).
//   BM_KeyringEncrypt/1024: Keyring::Encrypt of a 1 KiB value (cached data key: AD build,
//                           fresh nonce, AES-256-GCM seal, version prefix); items/s = ops/s.
//   BM_KeyringDecrypt/1024: Keyring::Decrypt of the same.
//   BM_AeadSeal/1024, BM_AeadOpen/1024: the bare crypto::Seal/Open underneath (no keyring).
//   BM_KeyringRewrap: Keyring::Rewrap of one data key wrapped by a previous master key
//                     (`rampart keys rewrap` per key, without the store): unwrap with the
//                     KEK its id names, re-seal under the current KEK.
// Compare with `openssl speed -evp aes-256-gcm -bytes 1024` (bench/keyring_compare.sh).
#include <benchmark/benchmark.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "rampart/core/clock.h"
#include "rampart/crypto/aead.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/keyring.h"

namespace {

using rampart::Result;
using rampart::Status;
using rampart::crypto::Keyring;
using rampart::crypto::KeyStore;
using rampart::crypto::WrappedDataKey;

class MemKeyStore final : public KeyStore {
 public:
  Result<std::vector<WrappedDataKey>> ListDataKeys(std::string_view org_id) override {
    std::lock_guard lock(mutex_);
    std::vector<WrappedDataKey> out;
    for (const auto& k : keys_) {
      if (k.org_id == org_id) out.push_back(k);
    }
    return out;
  }
  Status InsertDataKey(const WrappedDataKey& key) override {
    std::lock_guard lock(mutex_);
    keys_.push_back(key);
    return Status::Ok();
  }
  WrappedDataKey First() {
    std::lock_guard lock(mutex_);
    return keys_.front();
  }

 private:
  std::mutex mutex_;
  std::vector<WrappedDataKey> keys_;
};

constexpr const char* kMaster = "bench-master-key-0123456789abcdefghijklmnop";

void BM_KeyringEncrypt(benchmark::State& state) {
  MemKeyStore store;
  Keyring keyring(kMaster, store, rampart::SystemRandom());
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  for (auto _ : state) {
    auto sealed = keyring.Encrypt("org_0123456789abcdefghij", "acme", "token", value);
    benchmark::DoNotOptimize(sealed);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_KeyringEncrypt)->Arg(1024)->ThreadRange(1, 2);

void BM_KeyringDecrypt(benchmark::State& state) {
  MemKeyStore store;
  Keyring keyring(kMaster, store, rampart::SystemRandom());
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  const std::string sealed = *keyring.Encrypt("org_0123456789abcdefghij", "acme", "token", value);
  for (auto _ : state) {
    auto plain = keyring.Decrypt("org_0123456789abcdefghij", "acme", "token", sealed);
    benchmark::DoNotOptimize(plain);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_KeyringDecrypt)->Arg(1024)->ThreadRange(1, 2);

void BM_KeyringRewrap(benchmark::State& state) {
  MemKeyStore store;
  WrappedDataKey old_key;
  {
    Keyring old(kMaster, store, rampart::SystemRandom());
    (void)old.Encrypt("org_0123456789abcdefghij", "acme", "token", "v");
    old_key = store.First();
  }
  Keyring keyring("bench-new-master-key-0123456789abcdefghijk", {kMaster}, store,
                  rampart::SystemRandom());
  for (auto _ : state) {
    auto moved = keyring.Rewrap(old_key);
    benchmark::DoNotOptimize(moved);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeyringRewrap);

void BM_AeadSeal(benchmark::State& state) {
  const std::string key(32, 'k');
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  for (auto _ : state) {
    auto sealed = rampart::crypto::Seal(key, value, "ad", rampart::SystemRandom());
    benchmark::DoNotOptimize(sealed);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AeadSeal)->Arg(1024);

void BM_AeadOpen(benchmark::State& state) {
  const std::string key(32, 'k');
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  const std::string sealed = *rampart::crypto::Seal(key, value, "ad", rampart::SystemRandom());
  for (auto _ : state) {
    auto plain = rampart::crypto::Open(key, sealed, "ad");
    benchmark::DoNotOptimize(plain);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_AeadOpen)->Arg(1024);

}  // namespace

BENCHMARK_MAIN();
