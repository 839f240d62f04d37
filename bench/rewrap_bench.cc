// `rampart keys rewrap` without the process: api::RewrapDataKeys over a real SQLite store
// (synchronous=FULL, as `rampart keys rewrap` opens it) holding kOrgs orgs with two data
// keys each, all wrapped by the previous master key, in batches of 100 (the CLI's).
// Each iteration restores the old wrappings first (not timed), so every iteration moves
// all 2 x kOrgs keys. items/s = data keys re-wrapped per second, commits included.
//
// The database lives in $RAMPART_BENCH_DIR (default: a fresh directory under /tmp).
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "rampart/api/connectors.h"
#include "rampart/core/clock.h"
#include "rampart/crypto/keyring.h"
#include "rampart/store/store.h"

namespace {

using rampart::Status;
namespace store = rampart::store;

constexpr int kOrgs = 2000;
constexpr const char* kOld = "bench-old-master-key-0123456789abcdefghijk";
constexpr const char* kNew = "bench-new-master-key-0123456789abcdefghijk";

void BM_RewrapDataKeys(benchmark::State& state) {
  const char* env = ::getenv("RAMPART_BENCH_DIR");
  std::string dir = env != nullptr ? env : "/tmp/rampart_rewrap_benchXXXXXX";
  if (env == nullptr && ::mkdtemp(dir.data()) == nullptr) {
    state.SkipWithError("mkdtemp");
    return;
  }
  const std::string path = dir + "/rewrap.db";
  std::filesystem::remove(path);
  auto opened = store::OpenSqliteStore({.path = path, .synchronous_full = true});
  if (!opened.ok()) {
    state.SkipWithError("open");
    return;
  }
  store::Store& st = **opened;
  (void)st.Write([&](store::Tx& tx) -> Status {
    for (int i = 0; i < kOrgs; ++i) {
      const std::string id = "org_" + std::to_string(i);
      if (Status s = tx.InsertOrg({id, id, id, 10, 1}); !s.ok()) return s;
    }
    return Status::Ok();
  });
  rampart::api::StoreKeyStore keys(st);
  {
    rampart::crypto::Keyring old(kOld, keys, rampart::SystemRandom());
    for (int i = 0; i < kOrgs; ++i) {
      const std::string id = "org_" + std::to_string(i);
      (void)old.CurrentVersion(id);  // version 1
      (void)old.Rotate(id);          // version 2
    }
  }
  std::vector<store::DataKey> original;
  (void)st.Read([&](store::Tx& tx) -> Status {
    auto listed = tx.ListDataKeysNotWrappedBy("none", 1 << 30);
    if (listed.ok()) original = std::move(listed).value();
    return Status::Ok();
  });
  rampart::crypto::Keyring keyring(kNew, {kOld}, keys, rampart::SystemRandom());
  int64_t moved = 0;
  for (auto _ : state) {
    state.PauseTiming();
    (void)st.Write([&](store::Tx& tx) -> Status {
      for (const auto& k : original) {
        if (Status s = tx.UpdateDataKeyWrapping(k); !s.ok()) return s;
      }
      return Status::Ok();
    });
    state.ResumeTiming();
    auto stats = rampart::api::RewrapDataKeys(st, keyring, rampart::SystemClock(), 100);
    if (!stats.ok() || stats->rewrapped != 2 * kOrgs) {
      state.SkipWithError("rewrap failed");
      break;
    }
    moved += stats->rewrapped;
  }
  state.SetItemsProcessed(moved);
  opened->reset();
  if (env == nullptr) std::filesystem::remove_all(dir);
}
BENCHMARK(BM_RewrapDataKeys)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2);

}  // namespace

BENCHMARK_MAIN();
