// Digests on the request path: the SHA-256 of an API key (every authenticated request),
// of an audit event (every sensitive act and every run), and the HMAC-SHA256 of a
// webhook body (every signed delivery, forgeries included).
//   BM_Sha256Hex/N: crypto::Sha256Hex of N bytes; items/s = digests/s.
//   BM_HmacSha256/N: crypto::HmacSha256 with a 32-byte key over N bytes.
// And the Argon2id work off the request path, on the password workers:
//   BM_PasswordLogin: crypto::VerifyPassword (a login).
//   BM_PasswordChange: VerifyPassword of the current password + HashPassword of the new
//     one (POST /v1/auth/password); items/s = changes/s per worker thread.
#include <benchmark/benchmark.h>

#include <string>

#include "rampart/core/clock.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/password.h"

namespace {

void BM_Sha256Hex(benchmark::State& state) {
  const std::string data(static_cast<size_t>(state.range(0)), 'k');
  for (auto _ : state) benchmark::DoNotOptimize(rampart::crypto::Sha256Hex(data));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_Sha256Hex)->Arg(48)->Arg(512)->Arg(4096);

void BM_HmacSha256(benchmark::State& state) {
  const std::string key(32, 's');
  const std::string data(static_cast<size_t>(state.range(0)), 'b');
  for (auto _ : state) benchmark::DoNotOptimize(rampart::crypto::HmacSha256(key, data));
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_HmacSha256)->Arg(48)->Arg(512)->Arg(4096);

const std::string& StoredHash() {
  static const std::string hash =
      rampart::crypto::HashPassword("correct horse battery staple", rampart::SystemRandom())
          .value();
  return hash;
}

void BM_PasswordLogin(benchmark::State& state) {
  const std::string& hash = StoredHash();
  for (auto _ : state) {
    if (!rampart::crypto::VerifyPassword(hash, "correct horse battery staple")) {
      state.SkipWithError("verify failed");
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PasswordLogin)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PasswordChange(benchmark::State& state) {
  const std::string& hash = StoredHash();
  for (auto _ : state) {
    if (!rampart::crypto::VerifyPassword(hash, "correct horse battery staple")) {
      state.SkipWithError("verify failed");
    }
    auto next = rampart::crypto::HashPassword("a brand new passphrase", rampart::SystemRandom());
    if (!next.ok()) state.SkipWithError("hash failed");
    benchmark::DoNotOptimize(next);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PasswordChange)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
