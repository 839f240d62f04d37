// Engine and loader throughput (issue: foundation).
//   BM_RunSetSteps: a 1,000-step workflow of `set` steps with small expressions;
//                   items_per_second = steps/s on one core.
//   BM_LoadDefinition10k: load + validate + compile a 10,000-step definition (YAML and JSON).
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <string>

#include "rampart/engine/engine.h"
#include "rampart/model/workflow.h"

namespace {

namespace bj = boost::json;

std::string SetWorkflowYaml(int n) {
  std::string s = "rampart: 1\nid: bench\nsteps:\n";
  for (int i = 0; i < n; ++i) {
    s += "  - id: s" + std::to_string(i) + "\n    type: set\n    values:\n";
    s += "      total: \"{{ inputs.amount * 1.2 + " + std::to_string(i) + " }}\"\n";
    s += "      ok: \"{{ inputs.status == 'active' }}\"\n";
  }
  return s;
}

// Flow style keeps 10,000 steps under the 1 MiB definition limit.
std::string CompactWorkflowYaml(int n) {
  std::string s = "rampart: 1\nid: bench\nsteps:\n";
  for (int i = 0; i < n; ++i) {
    s += "  - {id: s" + std::to_string(i) + ", type: set, values: {v: \"{{ inputs.a + " +
         std::to_string(i) + " }}\"}}\n";
  }
  return s;
}

std::string SetWorkflowJson(int n) {
  bj::array steps;
  for (int i = 0; i < n; ++i) {
    bj::object values;
    values["v"] = "{{ inputs.a + " + std::to_string(i) + " }}";
    bj::object step;
    step["id"] = "s" + std::to_string(i);
    step["type"] = "set";
    step["values"] = std::move(values);
    steps.push_back(std::move(step));
  }
  bj::object doc;
  doc["rampart"] = 1;
  doc["id"] = "bench";
  doc["steps"] = std::move(steps);
  return bj::serialize(doc);
}

void BM_RunSetSteps(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  auto loaded = rampart::model::LoadDefinition(SetWorkflowYaml(n));
  if (!loaded.ok()) {
    state.SkipWithError(loaded.errors[0].message.c_str());
    return;
  }
  rampart::engine::Engine engine(rampart::engine::Env{});
  const bj::value input = bj::parse(R"({"amount": 150, "status": "active"})");
  for (auto _ : state) {
    rampart::engine::RunRequest req;
    req.input = input;
    req.run_id = "run_bench";
    auto result = engine.Run(*loaded.workflow, std::move(req));
    if (!result.succeeded()) state.SkipWithError("run failed");
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_RunSetSteps)->Arg(1000)->Unit(benchmark::kMillisecond);

// The engine's own cost per step: `set` steps whose values are constants.
void BM_RunConstantSetSteps(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::string yaml = "rampart: 1\nid: bench\nsteps:\n";
  for (int i = 0; i < n; ++i) yaml += "  - {id: s" + std::to_string(i) + ", type: set, values: {v: 1}}\n";
  auto loaded = rampart::model::LoadDefinition(yaml);
  rampart::engine::Engine engine(rampart::engine::Env{});
  for (auto _ : state) {
    rampart::engine::RunRequest req;
    req.run_id = "run_bench";
    auto result = engine.Run(*loaded.workflow, std::move(req));
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_RunConstantSetSteps)->Arg(1000)->Unit(benchmark::kMillisecond);

void BM_LoadDefinition10kYaml(benchmark::State& state) {
  const std::string text = CompactWorkflowYaml(10000);
  state.counters["bytes"] = static_cast<double>(text.size());
  for (auto _ : state) {
    auto loaded = rampart::model::LoadDefinition(text);
    if (!loaded.ok()) state.SkipWithError("load failed");
    benchmark::DoNotOptimize(loaded);
  }
}
BENCHMARK(BM_LoadDefinition10kYaml)->Unit(benchmark::kMillisecond);

void BM_LoadDefinition10kJson(benchmark::State& state) {
  const std::string text = SetWorkflowJson(10000);
  state.counters["bytes"] = static_cast<double>(text.size());
  for (auto _ : state) {
    auto loaded = rampart::model::LoadDefinition(text);
    if (!loaded.ok()) state.SkipWithError("load failed");
    benchmark::DoNotOptimize(loaded);
  }
}
BENCHMARK(BM_LoadDefinition10kJson)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
