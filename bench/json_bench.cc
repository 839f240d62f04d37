// Serializing a run record: every durable run serializes its record once on the inline
// path (ExecuteInline, src/runs/run_service.cc). The record is the real one of
// bench/server/workflow.yaml run with bench/server/input.json (GET /v1/orgs/{org}/runs/{id}).
#include <benchmark/benchmark.h>

#include <boost/json/value.hpp>
#include <string>

#include "rampart/core/json.h"

namespace {

constexpr const char* kRunRecord =
    R"({"run_id":"run_2al6ulntyx7kxukjxmloldula2","workflow":"bench-order","version":1,)"
    R"("status":"succeeded","input":{"order_id":"A-1001","customer":"Ada Lovelace","amount":49.5,)"
    R"("qty":3,"country":"GB"},"output":{"total":178.2,"tier":"large"},"error":null,)"
    R"("started_at":"2026-12-06T21:33:14.103Z","finished_at":"2026-12-06T21:33:14.103Z",)"
    R"("duration_ms":0.132256,"steps":[{"path":"price","id":"price","type":"set","output":)"
    R"({"subtotal":148.5,"tax":29.700000000000003,"customer":"ada lovelace"},"status":"succeeded",)"
    R"("duration_ms":0.02696},{"path":"check","id":"check","type":"branch","decision":)"
    R"({"expression":"steps.price.output.subtotal + steps.price.output.tax > 100","result":true,)"
    R"("values":{"steps.price.output.subtotal":148.5,"steps.price.output.tax":29.700000000000003}},)"
    R"("branch":"then","status":"succeeded","duration_ms":0.034901,"output":{"tier":"large",)"
    R"("review":true}},{"path":"large","id":"large","type":"set","output":{"tier":"large",)"
    R"("review":true},"status":"succeeded","duration_ms":0.001663},{"path":"summary",)"
    R"("id":"summary","type":"set","output":{"order":"A-1001","total":178.2,"tier":"large",)"
    R"("label":"Order A-1001 for ada lovelace"},"status":"succeeded","duration_ms":0.036374},)"
    R"({"path":"reply","id":"reply","type":"respond","output":{"status":200,"body":)"
    R"({"order":"A-1001","total":178.2,"tier":"large"}},"status":"succeeded",)"
    R"("duration_ms":0.003605}]})";

const boost::json::object& RunRecord() {
  static const boost::json::value record = *rampart::json::Parse(kRunRecord);
  return record.get_object();
}

// What ExecuteInline does with the finished record.
void BM_SerializeRunRecord(benchmark::State& state) {
  const boost::json::object& record = RunRecord();
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = rampart::json::Serialize(record);
    bytes += text.size();
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_SerializeRunRecord);

// The record's kinds of doubles (step durations, money amounts, a sum with a long tail).
void BM_SerializeDoubles(benchmark::State& state) {
  const boost::json::array values = {0.132256, 0.02696,  0.034901, 0.001663, 0.036374,
                                     0.003605, 49.5,     148.5,    178.2,    29.700000000000003,
                                     12345.0,  1e-7,     0.1 + 0.2};
  for (auto _ : state) {
    std::string text = rampart::json::Serialize(values);
    benchmark::DoNotOptimize(text);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * values.size()));
}
BENCHMARK(BM_SerializeDoubles);

}  // namespace

BENCHMARK_MAIN();
