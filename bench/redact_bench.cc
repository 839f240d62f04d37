// Secret scanning: Redact throughput over a 1 MiB run-record-like text, ScrubJson over a
// typical 5-step run record (~4 KB), and the per-run cost of building the matcher.
// Compare the per-record figures with the engine's per-run time (bench/engine_bench.cc).
#include <benchmark/benchmark.h>

#include <boost/json/value.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "rampart/core/json.h"
#include "rampart/redact/redact.h"

namespace {

using rampart::redact::Policy;
using rampart::redact::SecretSet;

std::string SecretNumber(int i) {
  // Token-like secrets of 24..40 bytes, as API keys and passwords are.
  std::string s = "sk_live_" + std::to_string(1000003 * (i + 1)) + "_Qx9";
  while (s.size() < static_cast<size_t>(24 + i % 17)) s += static_cast<char>('a' + (s.size() * 7 + i) % 26);
  return s;
}

void AddSecrets(SecretSet& set, int count) {
  for (int i = 0; i < count; ++i) set.Add(SecretNumber(i));
}

// One step record as the engine writes it.
std::string StepRecord(int i) {
  return R"({"id":"step-)" + std::to_string(i) +
         R"(","uses":"http.request","status":"succeeded","attempts":1,)"
         R"("started_at":"2030-01-01T00:00:00.000Z","finished_at":"2030-01-01T00:00:00.120Z",)"
         R"("input":{"method":"POST","url":"https://api.example.test/v1/orders/A-1042/items",)"
         R"("headers":{"content-type":"application/json","x-request-id":"3f2a9c1e-7b44-4d1a"},)"
         R"("body":{"sku":"x1","qty":2,"price":10.5,"note":"priority delivery, leave at door"}},)"
         R"("output":{"status":200,"headers":{"content-type":"application/json","etag":"W/\"a1b2\""},)"
         R"("body":{"ok":true,"order":{"id":"A-1042","items":[{"sku":"x1","qty":2},{"sku":"y2","qty":1}],)"
         R"("customer":{"name":"Ada Lovelace","email":"ada@example.com","city":"Paris"}},)"
         R"("message":"Order accepted and queued for fulfilment; tracking number follows by email"}}})";
}

std::string RunRecord(int steps) {
  std::string s = R"({"id":"r_01HZX3","workflow":"order-sync","status":"succeeded",)"
                  R"("inputs":{"order_id":"A-1042","amount":150,"currency":"EUR"},"steps":[)";
  for (int i = 0; i < steps; ++i) {
    if (i) s += ',';
    s += StepRecord(i);
  }
  s += R"(],"output":{"ok":true}})";
  return s;
}

const std::string& MiBText() {
  static const std::string text = [] {
    std::string s;
    int i = 0;
    while (s.size() < (1u << 20)) s += StepRecord(i++) + "\n";
    s.resize(1u << 20);
    return s;
  }();
  return text;
}

void BM_RedactMiB(benchmark::State& state) {
  SecretSet set;
  AddSecrets(set, static_cast<int>(state.range(0)));
  const std::string& text = MiBText();
  for (auto _ : state) {
    bool found = false;
    std::string out = set.Redact(text, &found);
    benchmark::DoNotOptimize(out);
    if (found) state.SkipWithError("unexpected match");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["patterns"] = static_cast<double>(set.PatternsForTest().size());
}
BENCHMARK(BM_RedactMiB)->Arg(1)->Arg(10)->Arg(100)->Unit(benchmark::kMicrosecond);

// The same text with a secret planted every 4 KB (the replacement path).
void BM_RedactMiBWithMatches(benchmark::State& state) {
  SecretSet set;
  AddSecrets(set, static_cast<int>(state.range(0)));
  std::string text = MiBText();
  for (size_t at = 2048, i = 0; at + 64 < text.size(); at += 4096, ++i) {
    std::string s = SecretNumber(static_cast<int>(i % state.range(0)));
    text.replace(at, s.size(), s);
  }
  for (auto _ : state) {
    std::string out = set.Redact(text);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_RedactMiBWithMatches)->Arg(10)->Arg(100)->Unit(benchmark::kMicrosecond);

const boost::json::value& Record() {
  static const boost::json::value v = [] {
    auto r = rampart::json::Parse(RunRecord(5));
    if (!r.ok()) std::abort();
    return std::move(r).value();
  }();
  return v;
}

// The common case: a clean 5-step record, checked in place (nothing to change).
void BM_ScrubRecordInPlace(benchmark::State& state) {
  SecretSet set;
  AddSecrets(set, static_cast<int>(state.range(0)));
  boost::json::value v = Record();
  for (auto _ : state) {
    bool found = false;
    auto st = rampart::redact::ScrubJsonInPlace(v, set, Policy::kRedact, &found);
    benchmark::DoNotOptimize(found);
    if (!st.ok() || found) state.SkipWithError("unexpected match");
  }
  state.counters["record_bytes"] = static_cast<double>(rampart::json::Serialize(v).size());
}
BENCHMARK(BM_ScrubRecordInPlace)->Arg(1)->Arg(3)->Arg(10)->Arg(100);

// ScrubJson on a copy (what a caller pays when it must keep the original).
void BM_ScrubRecordCopy(benchmark::State& state) {
  SecretSet set;
  AddSecrets(set, static_cast<int>(state.range(0)));
  const boost::json::value& v = Record();
  for (auto _ : state) {
    auto r = rampart::redact::ScrubJson(v, set, Policy::kRedact);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ScrubRecordCopy)->Arg(3);

// A record where one step output echoes a secret (redaction rewrites strings).
void BM_ScrubRecordWithLeak(benchmark::State& state) {
  SecretSet set;
  AddSecrets(set, 3);
  boost::json::value base = Record();
  base.at("steps").at(2).at("output").at("body").at("message") =
      "echo: Basic " + std::string("dXNlcjo") + "x " + SecretNumber(1);
  for (auto _ : state) {
    state.PauseTiming();
    boost::json::value v = base;
    state.ResumeTiming();
    auto st = rampart::redact::ScrubJsonInPlace(v, set, Policy::kRedact);
    benchmark::DoNotOptimize(v);
    (void)st;
  }
}
BENCHMARK(BM_ScrubRecordWithLeak);

// Per-run setup: register N secrets and compile the matcher (first scan).
void BM_BuildSet(benchmark::State& state) {
  for (auto _ : state) {
    SecretSet set;
    AddSecrets(set, static_cast<int>(state.range(0)));
    benchmark::DoNotOptimize(set.Contains("x"));
  }
}
BENCHMARK(BM_BuildSet)->Arg(1)->Arg(3)->Arg(10)->Arg(100)->Unit(benchmark::kMicrosecond);

// An empty set: the cost the engine pays for runs that use no secret.
void BM_ScrubRecordNoSecrets(benchmark::State& state) {
  SecretSet set;
  boost::json::value v = Record();
  for (auto _ : state) {
    auto st = rampart::redact::ScrubJsonInPlace(v, set, Policy::kRedact);
    benchmark::DoNotOptimize(st);
  }
}
BENCHMARK(BM_ScrubRecordNoSecrets);

}  // namespace

BENCHMARK_MAIN();
