#include "rampart/engine/engine.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstring>
#include <set>
#include <thread>

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
    with: {}
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
    with: {}
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
    with: {}
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
  // Across the whole range a millisecond stamp takes (1970 .. year 10889), a later
  // millisecond gives a greater id whatever the random bits are.
  class Fixed final : public Random {
   public:
    explicit Fixed(uint8_t fill) : fill_(fill) {}
    void Fill(uint8_t* out, size_t n) override { std::memset(out, fill_, n); }
   private:
    uint8_t fill_;
  };
  Fixed high(0xff), low(0x00);
  const int64_t stamps[] = {0, 1, 2, 999, 1'000, 1'764'000'000'000, 1'764'000'000'001,
                            (int64_t{1} << 40), (int64_t{1} << 47) + 5, (int64_t{1} << 48) - 1};
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
