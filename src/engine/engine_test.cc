#include "rampart/engine/engine.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "rampart/core/json.h"
#include "support/fake_env.h"

namespace rampart::engine {
namespace {

namespace bj = boost::json;

// An action that fails `failures` times with `code`, then succeeds with {"attempt": n}.
class FlakyAction final : public actions::Action {
 public:
  FlakyAction(int failures, ErrorCode code) : failures_(failures), code_(code) {
    auto v = schema::Validator::Compile(bj::parse(R"({"type": "object"})"));
    schema_ = std::move(v).value();
  }
  const schema::Validator& ArgsSchema() const override { return *schema_; }
  Result<bj::value> Execute(const actions::Context& ctx) const override {
    int n = ++calls_;
    last_deadline_ = ctx.deadline;
    if (n <= failures_) return MakeError(code_, "upstream said no (" + std::to_string(n) + ")");
    bj::object out;
    out["attempt"] = n;
    return bj::value(std::move(out));
  }
  mutable std::atomic<int> calls_{0};
  mutable std::chrono::steady_clock::time_point last_deadline_;

 private:
  int failures_;
  ErrorCode code_;
  std::optional<schema::Validator> schema_;
};

struct Harness {
  explicit Harness(int failures, ErrorCode code = ErrorCode::kActionFailed) {
    auto action = std::make_unique<FlakyAction>(failures, code);
    flaky = action.get();
    registry.Register("http.request", std::move(action));
  }
  RunResult Run(const std::string& yaml, bj::value input = bj::object()) {
    loaded = model::LoadDefinition(yaml);
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].message);
    Env env{&clock, &random, &registry, nullptr, nullptr};
    Engine engine(env);
    RunRequest req;
    req.input = std::move(input);
    return engine.Run(*loaded.workflow, std::move(req));
  }
  testing::FakeClock clock;
  testing::FakeRandom random;
  actions::Registry registry;
  FlakyAction* flaky = nullptr;
  model::LoadResult loaded;
};

constexpr const char* kRetrying = R"(
rampart: 1
id: retrying
steps:
  - id: call
    type: action
    uses: http.request
    with: { url: "https://api.example.test" }
    retry: { max_attempts: 3, backoff_s: 2 }
)";

TEST(EngineRetryTest, RetriesUntilSuccessWithBackoff) {
  Harness h(2);
  RunResult r = h.Run(kRetrying);
  ASSERT_TRUE(r.succeeded()) << bj::serialize(r.record);
  const bj::object& step = r.record["steps"].as_array()[0].as_object();
  EXPECT_EQ(step.at("attempts"), bj::value(3));
  EXPECT_EQ(step.at("output").at("attempt"), bj::value(3));
  // Two waits: 2 s and 4 s, each scaled by a jitter in [0.5, 1].
  double slept = std::chrono::duration<double>(h.clock.slept()).count();
  EXPECT_GE(slept, 3.0);
  EXPECT_LE(slept, 6.0);
}

TEST(EngineRetryTest, GivesUpAfterMaxAttempts) {
  Harness h(5);
  RunResult r = h.Run(kRetrying);
  ASSERT_FALSE(r.succeeded());
  EXPECT_EQ(h.flaky->calls_, 3);
  const bj::object& step = r.record["steps"].as_array()[0].as_object();
  EXPECT_EQ(step.at("attempts"), bj::value(3));
  EXPECT_EQ(step.at("error").at("code"), bj::value("action_failed"));
  EXPECT_EQ(r.record["error"].at("step"), bj::value("call"));
}

TEST(EngineRetryTest, NonRetryableErrorsAreNotRetried) {
  Harness h(5, ErrorCode::kSsrfBlocked);
  RunResult r = h.Run(kRetrying);
  ASSERT_FALSE(r.succeeded());
  EXPECT_EQ(h.flaky->calls_, 1);
  EXPECT_EQ(r.error->code, ErrorCode::kSsrfBlocked);
}

TEST(EngineRetryTest, RetryNeverOutlivesTheRunTimeout) {
  Harness h(5);
  RunResult r = h.Run(R"(
rampart: 1
id: retry-timeout
limits: { timeout: 5 }
steps:
  - id: call
    type: action
    uses: http.request
    with: { url: "https://api.example.test" }
    retry: { max_attempts: 10, backoff_s: 4 }
)");
  ASSERT_FALSE(r.succeeded());
  EXPECT_EQ(r.error->code, ErrorCode::kTimeout);
  EXPECT_LE(std::chrono::duration<double>(h.clock.slept()).count(), 5.0);
}

TEST(EngineTest, StepTimeoutBoundsTheActionDeadline) {
  Harness h(0);
  RunResult r = h.Run(R"(
rampart: 1
id: step-timeout
steps:
  - id: call
    type: action
    uses: http.request
    with: { url: "https://api.example.test" }
    timeout: 3
)");
  ASSERT_TRUE(r.succeeded());
  auto budget = h.flaky->last_deadline_ - h.clock.Monotonic();
  EXPECT_LE(std::chrono::duration<double>(budget).count(), 3.0);
}

TEST(EngineTest, CancellationStopsBeforeTheNextStep) {
  auto loaded = model::LoadDefinition(R"(
rampart: 1
id: cancel
steps:
  - { id: a, type: set, values: {} }
)");
  ASSERT_TRUE(loaded.ok());
  testing::FakeClock clock;
  testing::FakeRandom random;
  Engine engine(Env{&clock, &random, nullptr, nullptr, nullptr});
  std::atomic<bool> cancel{true};
  RunRequest req;
  req.cancel = &cancel;
  RunResult r = engine.Run(*loaded.workflow, std::move(req));
  EXPECT_EQ(r.status, "cancelled");
  EXPECT_EQ(r.record["status"], bj::value("cancelled"));
  EXPECT_EQ(r.error->code, ErrorCode::kCancelled);
}

// An inline run (on a caller's thread) stops before the first step that would start
// at or after yield_at, marked yielded, so the caller can hand it to a worker; before it,
// nothing changes.
TEST(EngineTest, YieldAtStopsBeforeTheNextStepAndSaysSo) {
  auto loaded = model::LoadDefinition(R"(
rampart: 1
id: long
steps:
  - id: loop
    type: for_each
    items: "{{ inputs.items }}"
    do:
      - { id: double, type: set, values: { v: "{{ item * 2 }}" } }
)");
  ASSERT_TRUE(loaded.ok()) << loaded.errors[0].message;
  bj::array items;
  for (int i = 0; i < 100; ++i) items.push_back(i);
  const bj::value input = {{"items", items}};
  {
    testing::FakeClock clock(std::chrono::milliseconds(1));  // every reading: +1 ms
    testing::FakeRandom random;
    Engine engine(Env{&clock, &random, nullptr, nullptr, nullptr});
    RunRequest req;
    req.input = input;
    req.yield_at = clock.Monotonic() + std::chrono::milliseconds(20);
    RunResult r = engine.Run(*loaded.workflow, std::move(req));
    EXPECT_TRUE(r.yielded);
    EXPECT_NE(r.status, "succeeded");
    // Stopped part-way through the loop: fewer than its 100 iterations were recorded.
    EXPECT_LT(r.record["steps"].as_array().size(), 101u);
    EXPECT_GT(r.record["steps"].as_array().size(), 1u);
  }
  {
    testing::FakeClock clock(std::chrono::milliseconds(1));
    testing::FakeRandom random;
    Engine engine(Env{&clock, &random, nullptr, nullptr, nullptr});
    RunRequest req;
    req.input = input;
    req.yield_at = clock.Monotonic() + std::chrono::seconds(10);
    RunResult r = engine.Run(*loaded.workflow, std::move(req));
    EXPECT_FALSE(r.yielded);
    EXPECT_EQ(r.status, "succeeded");
  }
}

TEST(EngineTest, InvalidInputFailsBeforeAnyStep) {
  auto loaded = model::LoadDefinition(R"(
rampart: 1
id: strict
inputs: { type: object, properties: { n: { type: integer } }, required: [n] }
steps:
  - { id: a, type: set, values: {} }
)");
  ASSERT_TRUE(loaded.ok());
  Engine engine(Env{});
  RunRequest req;
  req.input = bj::parse(R"({"n": "seven"})");
  RunResult r = engine.Run(*loaded.workflow, std::move(req));
  EXPECT_EQ(r.error->code, ErrorCode::kInvalidInput);
  EXPECT_TRUE(r.record["steps"].as_array().empty());
}

TEST(EngineTest, ConcurrentRunsOfOneWorkflowAreIndependent) {
  auto loaded = model::LoadDefinition(R"(
rampart: 1
id: concurrent
steps:
  - id: loop
    type: for_each
    items: "{{ inputs.list }}"
    do:
      - { id: sq, type: set, values: { v: "{{ item * item }}" } }
output: "{{ steps.loop.output | map('v') | sum }}"
)");
  ASSERT_TRUE(loaded.ok());
  Engine engine(Env{});
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        RunRequest req;
        req.input = bj::parse("{\"list\": [" + std::to_string(t) + ", " + std::to_string(i) + "]}");
        RunResult r = engine.Run(*loaded.workflow, std::move(req));
        if (!r.succeeded() || r.record["output"].to_number<int64_t>() != t * t + i * i) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, 0);
}

TEST(EngineTest, RunIdsAreUniqueAndWellFormed) {
  std::set<std::string> ids;
  const auto now = std::chrono::system_clock::now();
  for (int i = 0; i < 1000; ++i) {
    // All in the same millisecond: the 80 random bits alone keep them apart.
    std::string id = NewRunId(SystemRandom(), now);
    ASSERT_EQ(id.size(), 4u + 26u) << id;
    ASSERT_EQ(id.rfind("run_", 0), 0u);
    ASSERT_EQ(id.find_first_not_of("234567abcdefghijklmnopqrstuvwxyz", 4), std::string::npos) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(EngineTest, RunIdsSortInTheOrderOfTheirCreation) {
  // From 1970 to the end of system_clock's range (year 2262), a later millisecond gives
  // a greater id whatever the random bits are.
  class Fixed final : public Random {
   public:
    explicit Fixed(uint8_t fill) : fill_(fill) {}
    void Fill(uint8_t* out, size_t n) override { std::memset(out, fill_, n); }
   private:
    uint8_t fill_;
  };
  Fixed high(0xff), low(0x00);
  const int64_t stamps[] = {0,
                            1,
                            2,
                            999,
                            1'000,
                            int64_t{1} << 40,
                            1'764'000'000'000,
                            1'764'000'000'001,
                            4'102'444'800'000,  // 2100-01-01
                            (int64_t{1} << 43) - 1,
                            int64_t{1} << 43};
  std::string previous;
  for (int64_t ms : stamps) {
    const std::chrono::system_clock::time_point t{std::chrono::milliseconds(ms)};
    const std::string smallest = NewRunId(low, t);
    const std::string largest = NewRunId(high, t);
    EXPECT_LT(smallest, largest) << ms;
    if (!previous.empty()) {
      EXPECT_LT(previous, smallest) << ms;
    }
    previous = largest;
  }
}

}  // namespace
}  // namespace rampart::engine

namespace rampart::engine {
namespace {

TEST(EngineLimitsTest, NestedLoopsStopAtTheStepExecutionCap) {
  // 100 x 100 x 100 iterations would be 1,000,000 step executions.
  auto loaded = model::LoadDefinition(R"(
rampart: 1
id: nested-loops
steps:
  - id: a
    type: for_each
    items: "{{ inputs.hundred }}"
    do:
      - id: b
        type: for_each
        items: "{{ inputs.hundred }}"
        do:
          - id: c
            type: for_each
            items: "{{ inputs.hundred }}"
            do:
              - { id: leaf, type: set, values: { v: 1 } }
)");
  ASSERT_TRUE(loaded.ok());
  testing::FakeClock clock;
  testing::FakeRandom random;
  Engine engine(Env{&clock, &random, nullptr, nullptr, nullptr});
  RunRequest req;
  bj::array hundred;
  for (int i = 0; i < 100; ++i) hundred.push_back(i);
  req.input = bj::object{{"hundred", hundred}};
  RunResult r = engine.Run(*loaded.workflow, std::move(req));
  ASSERT_FALSE(r.succeeded());
  EXPECT_EQ(r.error->code, ErrorCode::kLimitExceeded);
  EXPECT_LE(r.record["steps"].as_array().size(), model::kMaxStepExecutions + 1);
}

}  // namespace
}  // namespace rampart::engine

// The run record budget (ASVS V15.2.2): what a run records is bounded as a whole, not only
// value by value.
namespace rampart::engine {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// Child workflows by id, for `workflow` steps.
class MapSource final : public WorkflowSource {
 public:
  void Add(const std::string& yaml) {
    model::LoadResult loaded = model::LoadDefinition(yaml);
    ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].message);
    map_[loaded.workflow->id] = loaded.workflow;
  }
  Result<std::shared_ptr<const model::Workflow>> Find(std::string_view id) override {
    auto it = map_.find(std::string(id));
    if (it == map_.end()) return MakeError(ErrorCode::kNotFound, "no such workflow");
    return it->second;
  }

 private:
  std::map<std::string, std::shared_ptr<const model::Workflow>> map_;
};

struct BudgetHarness {
  RunResult Run(const std::string& yaml, bj::value input, size_t budget) {
    model::LoadResult loaded = model::LoadDefinition(yaml);
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].message);
    if (!loaded.ok()) return {};
    Env env{&clock, &random, nullptr, &children, nullptr};
    env.max_run_record_bytes = budget;
    Engine engine(env);
    RunRequest req;
    req.input = std::move(input);
    return engine.Run(*loaded.workflow, std::move(req));
  }
  testing::FakeClock clock;
  testing::FakeRandom random;
  MapSource children;
};

bj::value BigInput(size_t bytes) { return bj::object{{"big", std::string(bytes, 'x')}}; }

// What every run failed by the budget must look like: the code, no value in the message,
// and a record that stayed within (about) the budget.
void ExpectBudgetFailure(const RunResult& r, size_t budget, const std::string& step) {
  ASSERT_FALSE(r.succeeded());
  EXPECT_EQ(r.status, "failed");
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::kLimitExceeded) << r.error->message;
  EXPECT_NE(r.error->message.find("max_run_record_bytes"), std::string::npos) << r.error->message;
  EXPECT_EQ(r.error->message.find("xxxx"), std::string::npos);
  const bj::object& err = r.record.at("error").as_object();
  EXPECT_EQ(err.at("code"), "limit_exceeded");
  if (step.empty()) {
    EXPECT_EQ(err.if_contains("step"), nullptr);
  } else {
    EXPECT_EQ(err.at("step"), bj::value(step));
  }
  EXPECT_EQ(r.record.at("status"), "failed");
  EXPECT_LE(json::Serialize(r.record).size(), budget + budget / 20);
  // The failed step's record is there, failed, without a value.
  bool found = false;
  for (const bj::value& s : r.record.at("steps").as_array()) {
    if (s.at("path") != bj::value(step)) continue;
    found = true;
    EXPECT_EQ(s.at("status"), "failed");
    EXPECT_EQ(s.at("error").at("code"), "limit_exceeded");
    const bj::value* out = s.as_object().if_contains("output");
    EXPECT_TRUE(out == nullptr || out->is_null());
  }
  EXPECT_TRUE(found || step.empty()) << "no record of " << step;
}

constexpr const char* kCopyLoop = R"(
rampart: 1
id: copy-loop
steps:
  - id: loop
    type: for_each
    items: "{{ inputs.items }}"
    do:
      - id: copy
        type: set
        values: { v: "{{ inputs.big }}" }
)";

bj::value LoopInput(size_t bytes, int items) {
  bj::value in = BigInput(bytes);
  bj::array list;
  for (int i = 0; i < items; ++i) list.push_back(i);
  in.as_object()["items"] = std::move(list);
  return in;
}

TEST(EngineBudgetTest, ALoopPastTheBudgetFailsAtTheStepThatWouldCrossIt) {
  // 1 MiB: the 100,000-byte input, then ~100,130 bytes per copy (output + record): nine
  // copies fit (~1,001,000 bytes), the tenth would not (~1,101,000).
  BudgetHarness h;
  RunResult r = h.Run(kCopyLoop, LoopInput(100'000, 20), kMiB);
  ExpectBudgetFailure(r, kMiB, "loop[9].copy");
  const bj::array& steps = r.record.at("steps").as_array();
  ASSERT_EQ(steps.size(), 11u);  // the loop and ten copies
  for (size_t i = 1; i < 10; ++i) {
    EXPECT_EQ(steps[i].at("status"), "succeeded") << i;
    EXPECT_EQ(steps[i].at("output").at("v").as_string().size(), 100'000u) << i;
  }
  EXPECT_EQ(steps[0].at("status"), "failed");
  EXPECT_LE(r.record_bytes, kMiB);
  // The input that fitted is kept.
  EXPECT_EQ(r.record.at("input").at("big").as_string().size(), 100'000u);
}

TEST(EngineBudgetTest, TheAuditScenarioFailsUnderTheDefaultBudget) {
  // for_each over 100 items copying a 900 KB input: ~90 MB of record without the budget.
  BudgetHarness h;
  RunResult r = h.Run(kCopyLoop, LoopInput(900'000, 100), kDefaultMaxRunRecordBytes);
  // 16 MiB: the input and 17 copies fit (~16.2 MB), the 18th would not.
  ExpectBudgetFailure(r, kDefaultMaxRunRecordBytes, "loop[17].copy");
}

TEST(EngineBudgetTest, ARunExactlyAtTheBudgetSucceedsOneByteLessFails) {
  BudgetHarness h;
  RunResult big = h.Run(kCopyLoop, LoopInput(50'000, 8), 256 * kMiB);
  ASSERT_TRUE(big.succeeded()) << big.error->message;
  const size_t n = big.record_bytes;
  // The count follows the serialized record (8 copies, the loop's output, the input).
  const size_t serialized = json::Serialize(big.record).size();
  EXPECT_GT(serialized, 17u * 50'000u);
  EXPECT_GE(n, serialized - serialized / 50);
  EXPECT_LE(n, serialized + serialized / 50);

  RunResult at = h.Run(kCopyLoop, LoopInput(50'000, 8), n);
  EXPECT_TRUE(at.succeeded()) << at.error->message;
  EXPECT_EQ(at.record_bytes, n);
  RunResult under = h.Run(kCopyLoop, LoopInput(50'000, 8), n - 1);
  // The copies fit: the last value to count is the loop's output.
  ExpectBudgetFailure(under, n, "loop");
}

TEST(EngineBudgetTest, TheForEachOutputCounts) {
  // Seven copies of 80,000 bytes fit in 1 MiB with the input (~641,000), but the loop's
  // output repeats them (~560,000 more): the loop fails, not a copy.
  BudgetHarness h;
  RunResult r = h.Run(kCopyLoop, LoopInput(80'000, 7), kMiB);
  ExpectBudgetFailure(r, kMiB, "loop");
  const bj::array& steps = r.record.at("steps").as_array();
  ASSERT_EQ(steps.size(), 8u);
  for (size_t i = 1; i < 8; ++i) EXPECT_EQ(steps[i].at("status"), "succeeded") << i;
}

TEST(EngineBudgetTest, NestedLoopsAreBoundedAsAWhole) {
  constexpr const char* kNested = R"(
rampart: 1
id: nested
steps:
  - id: outer
    type: for_each
    items: "{{ inputs.items }}"
    do:
      - id: inner
        type: for_each
        items: "{{ inputs.items }}"
        do:
          - id: copy
            type: set
            values: { v: "{{ inputs.big }}" }
)";
  BudgetHarness h;
  // 10 x 10 copies of 20,000 bytes, plus the loops' outputs: ~6 MB, fine under 16 MiB.
  RunResult ok = h.Run(kNested, LoopInput(20'000, 10), kDefaultMaxRunRecordBytes);
  ASSERT_TRUE(ok.succeeded()) << ok.error->message;
  EXPECT_GT(ok.record_bytes, 6'000'000u);
  // Under 1 MiB: two inner loops, their copies and outputs (~401,500 bytes each), fit;
  // the ten copies of the third fit too (~1,024,600 bytes with the input), its output not.
  RunResult r = h.Run(kNested, LoopInput(20'000, 10), kMiB);
  ExpectBudgetFailure(r, kMiB, "outer[2].inner");
}

TEST(EngineBudgetTest, ChildRunsCountAgainstTheirParentsBudget) {
  BudgetHarness h;
  h.children.Add(R"(
rampart: 1
id: child
steps:
  - { id: c1, type: set, values: { v: "{{ inputs.big }}" } }
  - { id: c2, type: set, values: { v: "{{ inputs.big }}" } }
  - { id: c3, type: set, values: { v: "{{ inputs.big }}" } }
)");
  // Alone, the child fits in 1 MiB: its 200,000-byte input and three copies (~800,000).
  RunResult alone = h.Run(R"(
rampart: 1
id: child
steps:
  - { id: c1, type: set, values: { v: "{{ inputs.big }}" } }
  - { id: c2, type: set, values: { v: "{{ inputs.big }}" } }
  - { id: c3, type: set, values: { v: "{{ inputs.big }}" } }
)",
                          BigInput(200'000), kMiB);
  ASSERT_TRUE(alone.succeeded()) << alone.error->message;
  // Called by a parent, the parent's input and the step's input come first (~400,000):
  // the child's third copy would pass the budget of the run tree.
  RunResult r = h.Run(R"(
rampart: 1
id: parent
steps:
  - id: call
    type: workflow
    workflow: child
    with: { big: "{{ inputs.big }}" }
)",
                      BigInput(200'000), kMiB);
  ExpectBudgetFailure(r, kMiB, "call");
  ASSERT_EQ(r.children.size(), 1u);
  ExpectBudgetFailure(r.children[0], kMiB, "c3");
  EXPECT_LE(r.record_bytes, kMiB);
}

TEST(EngineBudgetTest, AnInputLargerThanTheBudgetFailsBeforeAnyStep) {
  BudgetHarness h;
  RunResult r = h.Run(kCopyLoop, LoopInput(kMiB + 10, 1), kMiB);
  ExpectBudgetFailure(r, kMiB, "");
  EXPECT_TRUE(r.record.at("input").is_null());
  EXPECT_TRUE(r.record.at("steps").as_array().empty());
}

TEST(EngineBudgetTest, DecisionValuesCount) {
  // Each `if` records the value it read (100,000 bytes): the 10th decision does not fit.
  BudgetHarness h;
  RunResult r = h.Run(R"(
rampart: 1
id: decisions
steps:
  - id: loop
    type: for_each
    items: "{{ inputs.items }}"
    do:
      - id: check
        type: set
        if: "{{ inputs.big != '' }}"
        values: { ok: true }
)",
                      LoopInput(100'000, 20), kMiB);
  ExpectBudgetFailure(r, kMiB, "loop[9].check");
  const bj::array& steps = r.record.at("steps").as_array();
  const bj::object& failed = steps.back().as_object();
  EXPECT_EQ(failed.at("decision").as_object().if_contains("values"), nullptr);
}

}  // namespace
}  // namespace rampart::engine

namespace rampart {
namespace {

// The loader rejects unknown `with` keys from its own table (model::BuiltinActionArgKeys);
// the actions check their arguments with their schemas. The two must agree, or a valid
// argument would be refused at load (or a typo let through to run time). A compiled schema
// does not list its properties: each schema's comment says to add a new key to the table.
// Whether validating `args` reports `keyword` at `instance_path` (additionalProperties
// reports at the unknown property, required at the object).
bool HasErrorAt(const schema::Validator& v, const boost::json::value& args,
                std::string_view keyword, std::string_view instance_path = "") {
  std::vector<schema::ValidationError> errors;
  v.Validate(args, &errors);
  for (const auto& e : errors) {
    if (e.instance_path == instance_path && e.keyword == keyword) return true;
  }
  return false;
}

TEST(EngineActionArgsTest, LoaderKeyTableMatchesEveryBuiltinActionSchema) {
  actions::Registry registry = actions::BuiltinRegistry();
  for (std::string_view name : {"http.request", "webhook.send", "db.query", "log.write"}) {
    SCOPED_TRACE(std::string(name));
    const actions::Action* action = registry.Find(name);
    ASSERT_NE(action, nullptr);
    const model::ActionArgKeys* keys = model::BuiltinActionArgKeys(name);
    ASSERT_NE(keys, nullptr);
    const schema::Validator& schema = action->ArgsSchema();
    for (std::string_view k : keys->allowed) {
      boost::json::object one;
      one[k] = nullptr;
      EXPECT_FALSE(HasErrorAt(schema, one, "additionalProperties", "/" + std::string(k))) << k;
    }
    boost::json::object unknown;
    unknown["not_an_argument"] = nullptr;
    EXPECT_TRUE(HasErrorAt(schema, unknown, "additionalProperties", "/not_an_argument"));
    boost::json::object all_required;
    for (std::string_view k : keys->required) all_required[k] = nullptr;
    EXPECT_FALSE(HasErrorAt(schema, all_required, "required"));
    for (std::string_view k : keys->required) {
      boost::json::object missing_one = all_required;
      missing_one.erase(k);
      EXPECT_TRUE(HasErrorAt(schema, missing_one, "required")) << k;
    }
  }
}

}  // namespace
}  // namespace rampart
