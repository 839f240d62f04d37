// Crash durability of the run service: a child process (this binary, re-executed with
// RAMPART_DURABILITY_CHILD=<dir>) submits a burst of runs whose single step has a side
// effect, and is killed with SIGKILL in the middle. The parent then recovers the same
// database and checks the promises of runs.h: every accepted run is stored, every run
// ends succeeded or failed `interrupted`, and no side effect happens twice.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "rampart/runs/runs.h"
#include "runs/test_util.h"

namespace rampart::runs {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;

constexpr const char* kChildEnv = "RAMPART_DURABILITY_CHILD";
constexpr int kSubmitters = 8;
constexpr int kRunsPerSubmitter = 25;

constexpr const char* kEffectWorkflow = R"(
rampart: 1
id: effect
steps:
  - { id: act, type: action, uses: webhook.send, with: { url: "https://hooks.example.test", payload: {} } }
)";

// Appends one line with a single write(2) on an O_APPEND|O_SYNC descriptor: lines of
// concurrent writers never interleave, and a line is on disk once write returns.
void AppendLine(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_SYNC | O_CLOEXEC, 0600);
  RAMPART_CHECK(fd >= 0);
  std::string text = line + "\n";
  RAMPART_CHECK(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
}

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Side-effect free: submitted with may_run_inline by other submitters of the child (org
// org_b), executed inline and committed once, final. A crash can leave such a run only
// succeeded (committed) or absent (never acknowledged), never queued, running or
// interrupted.
constexpr const char* kPureWorkflow = R"(
rampart: 1
id: pure
steps:
  - { id: a, type: set, values: { v: "{{ inputs.n * 2 }}" } }
  - { id: r, type: respond, status: 200, body: { v: "{{ steps.a.v }}" } }
)";

// The side effect: "<run_id>" appended to <dir>/begins, 20 ms of "work", then "<run_id> <pid>" appended to <dir>/effects.
actions::Registry EffectRegistry(const std::string& dir) {
  actions::Registry registry;
  registry.Register("webhook.send",
                    std::make_unique<testing::FuncAction>([dir](const actions::Context& ctx) {
                      AppendLine(dir + "/begins", std::string(ctx.run_id));
                      std::this_thread::sleep_for(20ms);
                      AppendLine(dir + "/effects",
                                 std::string(ctx.run_id) + " " + std::to_string(::getpid()));
                      return Result<bj::value>(bj::value(nullptr));
                    }));
  return registry;
}

std::unique_ptr<store::Store> OpenDurable(const std::string& dir) {
  store::SqliteOptions options;
  options.path = dir + "/rampart.db";
  options.synchronous_full = true;
  auto opened = store::OpenSqliteStore(options);
  RAMPART_CHECK(opened.ok());
  testing::RefuseUnfinishedRunsWithFinishedAt(dir);
  return std::move(*opened);
}

// The child's body: never returns normally (the parent kills it).
TEST(RunsDurability, Child) {
  const char* dir_env = std::getenv(kChildEnv);
  if (!dir_env) GTEST_SKIP() << "runs only as the child of RunsDurability.KillNineMidBurst";
  const std::string dir = dir_env;
  auto store = OpenDurable(dir);
  actions::Registry registry = EffectRegistry(dir);
  RunEnvironment env;
  env.actions = &registry;
  RunService service(*store, env, {.workers = 2});
  ASSERT_TRUE(service.Start().ok());
  std::vector<std::thread> submitters;
  for (int t = 0; t < kSubmitters; ++t) {
    submitters.emplace_back([&] {
      for (int i = 0; i < kRunsPerSubmitter; ++i) {
        Submission s;
        s.org_id = "org_a";
        s.workflow_id = "effect";
        s.version = 1;
        s.actor = "user:usr_test";
        auto run = service.Submit(std::move(s));
        // Only what Submit acknowledged counts as accepted.
        if (run.ok()) AppendLine(dir + "/accepted", run->id);
      }
    });
  }
  for (int t = 0; t < 2; ++t) {
    submitters.emplace_back([&] {
      const auto until = std::chrono::steady_clock::now() + 30s;
      for (int i = 0; std::chrono::steady_clock::now() < until; ++i) {
        Submission s;
        s.org_id = "org_b";
        s.workflow_id = "pure";
        s.version = 1;
        s.actor = "user:usr_test";
        s.input = bj::object{{"n", i}};
        s.may_run_inline = true;
        auto run = service.Submit(std::move(s));
        if (run.ok()) AppendLine(dir + "/accepted-pure", run->id + " " + run->status);
      }
    });
  }
  for (auto& t : submitters) t.join();
  std::this_thread::sleep_for(60s);  // the parent kills us long before
  FAIL() << "the parent did not kill the child";
}

TEST(RunsDurability, KillNineMidBurst) {
  if (std::getenv(kChildEnv)) GTEST_SKIP();
  testing::TempDir dir;
  {
    auto store = OpenDurable(dir.path());
    testing::PutOrg(*store, "org_a", 2);
    testing::PutVersion(*store, "org_a", 1, kEffectWorkflow, 1);
    testing::PutOrg(*store, "org_b", 10);
    testing::PutVersion(*store, "org_b", 1, kPureWorkflow, 1);
  }

  // Everything exec needs is built before fork: only async-signal-safe calls after it.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(std::string(kChildEnv) + "=" + dir.path());
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe", filter = "--gtest_filter=RunsDurability.Child";
  char* argv[] = {exe.data(), filter.data(), nullptr};
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::execve(exe.c_str(), argv, envp.data());
    ::_exit(127);
  }

  // Kill once the burst is well under way: many runs accepted, a few done, most not.
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  size_t accepted_at_kill = 0, effects_at_kill = 0, pure_at_kill = 0;
  while (std::chrono::steady_clock::now() < give_up) {
    accepted_at_kill = ReadLines(dir.path() + "/accepted").size();
    effects_at_kill = ReadLines(dir.path() + "/effects").size();
    pure_at_kill = ReadLines(dir.path() + "/accepted-pure").size();
    if (accepted_at_kill >= 60 && effects_at_kill >= 4 && pure_at_kill >= 20) break;
    int status = 0;
    if (::waitpid(child, &status, WNOHANG) == child) FAIL() << "the child exited early";
    std::this_thread::sleep_for(2ms);
  }
  ASSERT_EQ(::kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GE(accepted_at_kill, 60u) << "the child was too slow";

  const std::vector<std::string> accepted = ReadLines(dir.path() + "/accepted");
  const std::set<std::string> child_effects = [&] {
    std::set<std::string> ids;
    for (const auto& line : ReadLines(dir.path() + "/effects")) ids.insert(line.substr(0, line.find(' ')));
    return ids;
  }();

  // Recovery.
  auto store = OpenDurable(dir.path());
  actions::Registry registry = EffectRegistry(dir.path());
  RunEnvironment env;
  env.actions = &registry;
  RunService service(*store, env, {.workers = 2});
  ASSERT_TRUE(service.Start().ok());
  const int64_t interrupted_at_start = service.Stats().failed;
  for (const auto& id : accepted) ASSERT_TRUE(service.Wait("org_a", id, 10s).has_value()) << id;
  // Runs committed but not yet acknowledged when the child died run too: wait for all.
  auto count = [&](const char* s) {
    int64_t n = -1;
    EXPECT_TRUE(store->Read([&](store::Tx& tx) -> Status {
                  auto c = tx.CountRunsByStatus(s);
                  if (!c.ok()) return c.error();
                  n = *c;
                  return Status::Ok();
                }).ok());
    return n;
  };
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((count("queued") > 0 || count("running") > 0) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(count("queued"), 0);
  ASSERT_EQ(count("running"), 0);
  service.Stop(1s);

  // Every effect line, by run id and writer.
  std::map<std::string, int> effects;
  std::set<std::string> parent_effects;
  const std::string parent_pid = std::to_string(::getpid());
  for (const auto& line : ReadLines(dir.path() + "/effects")) {
    std::string id = line.substr(0, line.find(' '));
    ++effects[id];
    if (line.substr(line.find(' ') + 1) == parent_pid) parent_effects.insert(id);
  }
  for (const auto& [id, n] : effects) EXPECT_EQ(n, 1) << id << " had its side effect twice";
  // Stricter than the effect: no action even began twice (a run cut before its effect and
  // then run again would pass the check above).
  std::map<std::string, int> begins;
  for (const auto& id : ReadLines(dir.path() + "/begins")) ++begins[id];
  for (const auto& [id, n] : begins) EXPECT_EQ(n, 1) << id << " was started twice";

  int succeeded = 0, interrupted = 0, recovered = 0;
  for (const auto& id : accepted) {
    std::optional<store::Run> run;
    ASSERT_TRUE(store->Read([&](store::Tx& tx) -> Status {
                  auto r = tx.GetRun("org_a", id);
                  if (!r.ok()) return r.error();
                  run = std::move(*r);
                  return Status::Ok();
                }).ok());
    ASSERT_TRUE(run.has_value()) << "accepted run " << id << " is not in the store";
    if (run->status == "succeeded") {
      ++succeeded;
      EXPECT_EQ(effects[id], 1) << id;
      EXPECT_EQ(run->attempts, 1) << id;
      if (parent_effects.count(id)) {
        ++recovered;  // was queued at the crash, ran once after it
        EXPECT_FALSE(child_effects.count(id)) << id;
      }
    } else {
      ASSERT_EQ(run->status, "failed") << id;
      EXPECT_EQ(run->error_code, "interrupted") << id;
      EXPECT_EQ(bj::parse(run->record).at("error").at("code"), bj::value("interrupted"));
      EXPECT_LE(effects[id], 1) << id;
      EXPECT_FALSE(parent_effects.count(id)) << id << " ran again after being interrupted";
      ++interrupted;
    }
  }
  EXPECT_LE(interrupted, interrupted_at_start);

  // Side-effect-free runs: acknowledged final, stored exactly so; the crash left none of
  // org_b's runs in any other state (queued and running were checked empty above).
  const std::vector<std::string> pure = ReadLines(dir.path() + "/accepted-pure");
  ASSERT_GE(pure.size(), 20u);
  for (const auto& line : pure) {
    const std::string id = line.substr(0, line.find(' '));
    EXPECT_EQ(line.substr(line.find(' ') + 1), "succeeded") << id;
    std::optional<store::Run> run;
    ASSERT_TRUE(store->Read([&](store::Tx& tx) -> Status {
                  auto r = tx.GetRun("org_b", id);
                  if (!r.ok()) return r.error();
                  run = std::move(*r);
                  return Status::Ok();
                }).ok());
    ASSERT_TRUE(run.has_value()) << "acknowledged run " << id << " is not in the store";
    EXPECT_EQ(run->status, "succeeded") << id;
    EXPECT_EQ(run->attempts, 1) << id;
    EXPECT_EQ(bj::parse(run->record).at("status"), bj::value("succeeded")) << id;
  }
  std::vector<store::Run> failed_runs;
  ASSERT_TRUE(store->Read([&](store::Tx& tx) -> Status {
                auto r = tx.ListRunsByStatus("failed", 100000);
                if (!r.ok()) return r.error();
                failed_runs = std::move(*r);
                return Status::Ok();
              }).ok());
  for (const auto& run : failed_runs) EXPECT_NE(run.org_id, "org_b") << run.id << " " << run.error_code;
  std::cerr << "side-effect-free runs acknowledged (inline, final) before the kill: " << pure.size()
            << "\n";
  EXPECT_GT(recovered, 0) << "no run was left queued by the crash";
  EXPECT_GT(succeeded, 0);
  std::cerr << "accepted " << accepted.size() << ", succeeded " << succeeded << " (" << recovered
            << " after recovery), interrupted " << interrupted << "\n";
}

}  // namespace
}  // namespace rampart::runs
