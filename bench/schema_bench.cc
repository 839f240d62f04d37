// JSON Schema validation throughput on a representative object schema (bench/data/, the
// same files bench/js/schema_bench.js gives ajv). items_per_second = validations/s of wall
// time (as ajv is timed), one thread.
//   BM_SchemaValid:             valid instance, Validate(instance) -> bool
//   BM_SchemaInvalid:           invalid instance, stops at the first error (like ajv with
//                               allErrors: false)
//   BM_SchemaInvalidAllErrors:  invalid instance, every error collected with its paths and
//                               message (what Rampart's engine does for workflow inputs)
//   BM_SchemaCompile:           compiling the schema
// The data folder is RAMPART_BENCH_DATA_DIR, or the SCHEMA_BENCH_DATA environment variable.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "rampart/core/json.h"
#include "rampart/schema/schema.h"

namespace {

namespace bj = boost::json;

bj::value Load(const char* name) {
  const char* env = std::getenv("SCHEMA_BENCH_DATA");
  std::string dir = env != nullptr ? env : RAMPART_BENCH_DATA_DIR;
  std::ifstream in(dir + "/" + name, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto v = rampart::json::Parse(text);
  if (!v.ok()) {
    std::fprintf(stderr, "cannot load %s/%s: %s\n", dir.c_str(), name, v.error().message.c_str());
    std::abort();
  }
  return std::move(v).value();
}

struct Fixture {
  bj::value schema = Load("schema_bench_schema.json");
  bj::value valid = Load("schema_bench_valid.json");
  bj::value invalid = Load("schema_bench_invalid.json");
  rampart::schema::Validator validator = [this] {
    auto v = rampart::schema::Validator::Compile(schema);
    if (!v.ok()) {
      std::fprintf(stderr, "schema does not compile: %s\n", v.error().message.c_str());
      std::abort();
    }
    return std::move(v).value();
  }();
};

const Fixture& Data() {
  static const Fixture fixture;
  return fixture;
}

void BM_SchemaValid(benchmark::State& state) {
  const Fixture& f = Data();
  if (!f.validator.Validate(f.valid)) state.SkipWithError("valid instance rejected");
  for (auto _ : state) benchmark::DoNotOptimize(f.validator.Validate(f.valid));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SchemaValid)->UseRealTime();

void BM_SchemaInvalid(benchmark::State& state) {
  const Fixture& f = Data();
  if (f.validator.Validate(f.invalid)) state.SkipWithError("invalid instance accepted");
  for (auto _ : state) benchmark::DoNotOptimize(f.validator.Validate(f.invalid));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SchemaInvalid)->UseRealTime();

void BM_SchemaInvalidAllErrors(benchmark::State& state) {
  const Fixture& f = Data();
  std::vector<rampart::schema::ValidationError> errors;
  for (auto _ : state) {
    errors.clear();
    benchmark::DoNotOptimize(f.validator.Validate(f.invalid, &errors));
  }
  if (errors.size() != 2) state.SkipWithError("expected 2 errors");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SchemaInvalidAllErrors)->UseRealTime();

void BM_SchemaCompile(benchmark::State& state) {
  const Fixture& f = Data();
  for (auto _ : state) benchmark::DoNotOptimize(rampart::schema::Validator::Compile(f.schema).ok());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SchemaCompile)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
