// Fuzzes the definition loader (YAML and JSON) and, when a definition loads, runs it
// once with a deterministic clock whose every reading advances 1 ms, so any run ends by
// its timeout. A crash, sanitizer report, hang or abort is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "rampart/actions/action.h"
#include "rampart/engine/engine.h"
#include "rampart/model/workflow.h"
#include "support/fake_env.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  rampart::model::LoadResult loaded = rampart::model::LoadDefinition(text);
  if (!loaded.ok()) {
    if (loaded.errors.empty()) __builtin_trap();  // rejected without saying why
    return 0;
  }
  static const rampart::actions::Registry registry = rampart::actions::BuiltinRegistry();
  rampart::testing::FakeClock clock{std::chrono::milliseconds(1)};
  rampart::testing::FakeRandom random;
  rampart::engine::Env env{&clock, &random, &registry, nullptr, nullptr};
  rampart::engine::Engine engine(env);
  rampart::engine::RunRequest req;
  auto result = engine.Run(*loaded.workflow, std::move(req));
  if (result.status.empty()) __builtin_trap();
  return 0;
}
