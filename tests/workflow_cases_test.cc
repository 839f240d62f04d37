// Declarative engine tests (DuckDB sqllogictest style): every tests/workflows/NAME.yaml
// is loaded and run with NAME.input.json (default {}), and the result compared with
// NAME.expected.json:
//   - a run record: compared whole, except the timing fields (duration_ms, started_at,
//     finished_at), which are removed from both sides;
//   - {"load_errors": [{"path", "code", "message"?}]}: the definition must be rejected
//     with exactly these errors (message compared when given);
//   - {"input_errors": [{"path", "keyword"?}]}: the input must be rejected before a run.
// Files named NAME.child.yaml are children for `workflow` steps, not cases.
// NAME.options.json may set {"tick_ms": N} (the fake clock's advance per reading).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>

#include "rampart/actions/action.h"
#include "rampart/core/json.h"
#include "rampart/engine/engine.h"
#include "rampart/engine/local.h"
#include "support/fake_env.h"

namespace rampart {
namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;

const fs::path kDir = fs::path(RAMPART_SOURCE_DIR) / "tests" / "workflows";

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void StripTiming(bj::value& v) {
  if (auto* o = v.if_object()) {
    o->erase("duration_ms");
    o->erase("started_at");
    o->erase("finished_at");
    for (auto& kv : *o) StripTiming(kv.value());
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) StripTiming(e);
  }
}

class RecordingSink final : public actions::LogSink {
 public:
  void Write(const bj::object& line) override { lines.push_back(line); }
  std::vector<bj::object> lines;
};

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kDir)) {
    std::string name = e.path().filename().string();
    if (e.path().extension() != ".yaml" || name.ends_with(".child.yaml")) continue;
    names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

class WorkflowCase : public ::testing::TestWithParam<std::string> {};

TEST_P(WorkflowCase, MatchesExpected) {
  const std::string name = GetParam();
  const fs::path expected_path = kDir / (name + ".expected.json");
  const bool have_expected = fs::exists(expected_path);
  EXPECT_TRUE(have_expected) << "missing " << expected_path;
  auto expected = json::Parse(have_expected ? ReadAll(expected_path) : "{}");
  ASSERT_TRUE(expected.ok()) << expected.error().message;

  model::LoadResult loaded = model::LoadDefinition(ReadAll(kDir / (name + ".yaml")));
  if (const bj::value* want = expected->as_object().if_contains("load_errors")) {
    ASSERT_FALSE(loaded.ok()) << "definition was expected to be rejected";
    const bj::array& w = want->as_array();
    ASSERT_EQ(loaded.errors.size(), w.size()) << [&] {
      std::string all;
      for (auto& e : loaded.errors) all += e.path + ": " + std::string(ErrorCodeName(e.code)) + ": " + e.message + "\n";
      return all;
    }();
    for (size_t i = 0; i < w.size(); ++i) {
      const bj::object& we = w[i].as_object();
      EXPECT_EQ(loaded.errors[i].path, we.at("path").as_string()) << i;
      EXPECT_EQ(ErrorCodeName(loaded.errors[i].code), we.at("code").as_string()) << i;
      if (const bj::value* m = we.if_contains("message")) {
        EXPECT_EQ(loaded.errors[i].message, m->as_string()) << i;
      }
    }
    return;
  }
  ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].path + ": " + loaded.errors[0].message);

  bj::value input = bj::object();
  if (fs::exists(kDir / (name + ".input.json"))) {
    auto in = json::Parse(ReadAll(kDir / (name + ".input.json")));
    ASSERT_TRUE(in.ok());
    input = std::move(in).value();
  }
  int64_t tick_ms = 0;
  if (fs::exists(kDir / (name + ".options.json"))) {
    auto opts = json::Parse(ReadAll(kDir / (name + ".options.json")));
    ASSERT_TRUE(opts.ok());
    if (auto* t = opts->as_object().if_contains("tick_ms")) tick_ms = t->to_number<int64_t>();
  }
  testing::FakeClock clock{std::chrono::milliseconds(tick_ms)};
  testing::FakeRandom random;
  actions::Registry registry = actions::BuiltinRegistry();
  engine::DirectoryWorkflowSource children(kDir / "children");
  RecordingSink sink;
  engine::Env env{&clock, &random, &registry, &children, &sink};
  engine::Engine engine(env);

  if (const bj::value* want = expected->as_object().if_contains("input_errors")) {
    auto errors = engine.ValidateInput(*loaded.workflow, input);
    ASSERT_EQ(errors.size(), want->as_array().size());
    for (size_t i = 0; i < errors.size(); ++i) {
      const bj::object& we = want->as_array()[i].as_object();
      EXPECT_EQ(errors[i].instance_path, we.at("path").as_string());
      if (auto* k = we.if_contains("keyword")) {
        EXPECT_EQ(errors[i].keyword, k->as_string());
      }
    }
    return;
  }

  engine::RunRequest req;
  req.input = input;
  req.run_id = "run_test";
  engine::RunResult result = engine.Run(*loaded.workflow, std::move(req));
  bj::value actual(result.record);
  StripTiming(actual);
  bj::value want = *expected;
  StripTiming(want);
  if (std::getenv("RAMPART_PRINT_ACTUAL")) {
    std::printf("%s\n", bj::serialize(actual).c_str());
  }
  EXPECT_EQ(actual, want) << "actual:   " << bj::serialize(actual)
                          << "\nexpected: " << bj::serialize(want);
}

INSTANTIATE_TEST_SUITE_P(Workflows, WorkflowCase, ::testing::ValuesIn(CaseNames()),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return param_info.param;
                         });

TEST(WorkflowCasesTest, HasAtLeastFortyCases) { EXPECT_GE(CaseNames().size(), 40u); }

}  // namespace
}  // namespace rampart
