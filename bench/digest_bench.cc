// Digests on the request path: the SHA-256 of an API key (every authenticated request),
// of an audit event (every sensitive act and every run), and the HMAC-SHA256 of a
// webhook body (every signed delivery, forgeries included).
//   BM_Sha256Hex/N: crypto::Sha256Hex of N bytes; items/s = digests/s.
//   BM_HmacSha256/N: crypto::HmacSha256 with a 32-byte key over N bytes.
#include <benchmark/benchmark.h>

#include <string>

#include "rampart/crypto/crypto.h"

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

}  // namespace

BENCHMARK_MAIN();
