// The SQLite store: durable inserts through Write() (group commit) with 1, 8 and 32
// concurrent writers, through WriteAsync() from one thread with 1, 8 and 32 writes in
// flight, point reads through Read(), and the first page of ListRuns for an owner (every
// run) and for developers (RunFilter::visible_to: runs of private workflows of others are
// skipped inside the query).
//   BM_QuotaCount: the per-org quota counts (workflows, versions, connectors).
//   BM_PurgeFinishedRuns: the retention sweep's write transaction (500 runs per commit).
//   BM_AuditPurge: audit retention's write transaction (1000 events per commit, checked,
//     checkpointed, deleted, audited); BM_AuditVerify: `rampart audit verify` of a chain
//     that starts at a retention checkpoint.
//   BM_SessionAuthReads/0: the reads that authenticate a session cookie before
//     must_change_password (the session row); /1: since (the session row and its user's).
//
// The database lives in $RAMPART_BENCH_DIR (default: a fresh directory under /tmp), so
// the fsync cost is that of the filesystem there; the numbers are items/s across all
// threads (real time).
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "rampart/audit/chain.h"
#include "rampart/audit/checkpoint.h"
#include "rampart/audit/retention.h"
#include "rampart/store/store.h"
#include "store/sqlite_store_internal.h"

namespace {

using rampart::Status;
using rampart::store::Run;
using rampart::store::Store;
using rampart::store::Tx;

constexpr int kPreloadedRuns = 10000;

std::unique_ptr<Store> full_store;    // synchronous=FULL: every commit fsynced
std::unique_ptr<Store> normal_store;  // synchronous=NORMAL: for comparison
std::atomic<int64_t> next_run{0};

Run MakeRun(const std::string& id) {
  Run run;
  run.org_id = "org_bench";
  run.id = id;
  run.workflow_id = "deploy";
  run.version = 3;
  run.status = "queued";
  run.input = R"({"order_id":"A-1042","amount":150,"currency":"EUR","tags":["new","eu"]})";
  run.trigger = R"({"type":"webhook","received_at":"2026-01-01T00:00:00.000Z"})";
  run.actor = "key:key_0123456789";
  run.created_at = 1767225600000;
  return run;
}

void InsertRuns(benchmark::State& state, Store& store) {
  for (auto _ : state) {
    const std::string id = "run_" + std::to_string(next_run.fetch_add(1));
    Status status = store.Write([&](Tx& tx) { return tx.InsertRun(MakeRun(id)); });
    if (!status.ok()) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_InsertRunFull(benchmark::State& state) { InsertRuns(state, *full_store); }
BENCHMARK(BM_InsertRunFull)->Threads(1)->Threads(8)->Threads(32)->UseRealTime();

void BM_InsertRunNormal(benchmark::State& state) { InsertRuns(state, *normal_store); }
BENCHMARK(BM_InsertRunNormal)->Threads(1)->Threads(8)->Threads(32)->UseRealTime();

// One thread keeps up to state.range(0) WriteAsync() calls in flight (as one server
// thread answering that many requests would), instead of parking one thread per write:
// the grouping comes from the window, not from the number of threads.
void BM_InsertRunAsyncFull(benchmark::State& state) {
  const int64_t window = state.range(0);
  std::mutex mu;
  std::condition_variable cv;
  int64_t in_flight = 0;
  std::atomic<bool> failed{false};
  for (auto _ : state) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    const std::string id = "run_" + std::to_string(next_run.fetch_add(1));
    full_store->WriteAsync([id](Tx& tx) { return tx.InsertRun(MakeRun(id)); },
                           [&](Status status) {
                             if (!status.ok()) failed.store(true);
                             std::lock_guard lock(mu);
                             --in_flight;
                             cv.notify_one();
                           });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return in_flight == 0; });
  if (failed.load()) state.SkipWithError("write failed");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_InsertRunAsyncFull)->Arg(1)->Arg(8)->Arg(32)->UseRealTime();

void BM_GetRun(benchmark::State& state) {
  std::mt19937 random(static_cast<unsigned>(state.thread_index()));
  std::uniform_int_distribution<int> pick(0, kPreloadedRuns - 1);
  for (auto _ : state) {
    const std::string id = "pre_" + std::to_string(pick(random));
    Status status = full_store->Read([&](Tx& tx) -> Status {
      auto run = tx.GetRun("org_bench", id);
      if (!run.ok()) return run.error();
      benchmark::DoNotOptimize(run->has_value());
      return Status::Ok();
    });
    if (!status.ok()) state.SkipWithError("read failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GetRun)->Threads(1)->Threads(4)->UseRealTime();

// A page of 50 runs, newest first. Arg 0: an owner (no visibility filter); 1: usr_dev, who
// sees 2 of every 3 preloaded runs (an org workflow and their own private one); 2: another
// developer, who sees 1 in 3; 3: usr_dev asking for the runs of usr_owner's private
// workflow, which are all skipped (the query reads every run of that workflow, 3,333 here,
// to answer an empty page: the worst case).
void BM_ListRunsPage(benchmark::State& state) {
  rampart::store::RunFilter filter;
  if (state.range(0) == 1 || state.range(0) == 3) filter.visible_to = "usr_dev";
  if (state.range(0) == 2) filter.visible_to = "usr_other";
  if (state.range(0) == 3) filter.workflow_id = "payroll";
  const size_t expected = state.range(0) == 3 ? 0 : 50;
  for (auto _ : state) {
    Status status = full_store->Read([&](Tx& tx) -> Status {
      auto page = tx.ListRuns("org_bench", filter, {.after = "", .limit = 50});
      if (!page.ok()) return page.error();
      if (page->items.size() != expected) {
        return rampart::MakeError(rampart::ErrorCode::kInternal, "unexpected page size");
      }
      benchmark::DoNotOptimize(page->items.data());
      return Status::Ok();
    });
    if (!status.ok()) state.SkipWithError("read failed");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(expected));
}
BENCHMARK(BM_ListRunsPage)->Arg(0)->Arg(1)->Arg(2)->Arg(3)->UseRealTime();

constexpr int kPreloadedUsers = 1000;

void BM_SessionAuthReads(benchmark::State& state) {
  const bool read_user = state.range(0) != 0;
  std::mt19937 random(static_cast<unsigned>(state.thread_index()));
  std::uniform_int_distribution<int> pick(0, kPreloadedUsers - 1);
  for (auto _ : state) {
    const std::string n = std::to_string(pick(random));
    Status status = full_store->Read([&](Tx& tx) -> Status {
      auto session = tx.GetSession("sess_" + n);
      if (!session.ok()) return session.error();
      if (!session->has_value()) return rampart::MakeError(rampart::ErrorCode::kInternal, "no row");
      if (read_user) {
        auto user = tx.GetUser((*session)->user_id);
        if (!user.ok()) return user.error();
        benchmark::DoNotOptimize((*user)->must_change_password);
      }
      return Status::Ok();
    });
    if (!status.ok()) state.SkipWithError("read failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SessionAuthReads)->Arg(0)->Arg(1)->Threads(1)->Threads(4)->UseRealTime();

// A page of 50 workflows, by id, in org_wf (3,000 workflows cycling through org-visible,
// usr_owner's private and usr_dev's private). Arg 0: an owner (no visibility filter); 1:
// usr_dev, who sees 2 in 3; 2: another developer, who sees 1 in 3; 3: usr_dev in
// org_wf_hidden, whose 3,000 workflows are all usr_owner's private ones (the query reads
// every one to answer an empty page: the worst case).
constexpr int kPreloadedWorkflows = 3000;

void BM_ListWorkflowsPage(benchmark::State& state) {
  rampart::store::WorkflowFilter filter;
  if (state.range(0) == 1 || state.range(0) == 3) filter.visible_to = "usr_dev";
  if (state.range(0) == 2) filter.visible_to = "usr_other";
  const std::string org = state.range(0) == 3 ? "org_wf_hidden" : "org_wf";
  const size_t expected = state.range(0) == 3 ? 0 : 50;
  for (auto _ : state) {
    Status status = full_store->Read([&](Tx& tx) -> Status {
      auto page = tx.ListWorkflows(org, filter, {.after = "", .limit = 50});
      if (!page.ok()) return page.error();
      if (page->items.size() != expected) {
        return rampart::MakeError(rampart::ErrorCode::kInternal, "unexpected page size");
      }
      benchmark::DoNotOptimize(page->items.data());
      return Status::Ok();
    });
    if (!status.ok()) state.SkipWithError("read failed");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(expected));
}
BENCHMARK(BM_ListWorkflowsPage)->Arg(0)->Arg(1)->Arg(2)->Arg(3)->UseRealTime();

// The quota counts a create runs in its write transaction, at 3x the default quotas:
// Arg 0: CountWorkflows of org_wf (3,000 workflows); 1: CountWorkflowVersions of
// org_wf/wf00000 (3,000 versions); 2: CountConnectors of org_wf (1,500 connectors).
void BM_QuotaCount(benchmark::State& state) {
  const int64_t expected = state.range(0) == 2 ? 1500 : 3000;
  for (auto _ : state) {
    Status status = full_store->Read([&](Tx& tx) -> Status {
      auto n = state.range(0) == 0   ? tx.CountWorkflows("org_wf")
               : state.range(0) == 1 ? tx.CountWorkflowVersions("org_wf", "wf00000")
                                     : tx.CountConnectors("org_wf");
      if (!n.ok()) return n.error();
      if (*n != expected) return rampart::MakeError(rampart::ErrorCode::kInternal, "count");
      return Status::Ok();
    });
    if (!status.ok()) state.SkipWithError("read failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_QuotaCount)->Arg(0)->Arg(1)->Arg(2)->UseRealTime();
// Run retention: one write transaction (synchronous=FULL) deleting a batch of 500 final
// runs (each with a 1 KiB record) past the cutoff, as the sweep commits it. The table also
// holds the 10,000 preloaded queued runs and 10,000 recent final runs, which the partial
// index runs_final_by_finished keeps out of the selection. Items: runs deleted.
constexpr int kPurgeBatch = 500;

void BM_PurgeFinishedRuns(benchmark::State& state) {
  static bool recent_loaded = false;
  if (!recent_loaded) {
    Status loaded = full_store->Write([](Tx& tx) -> Status {
      for (int i = 0; i < 10000; ++i) {
        Run run = MakeRun("recent_" + std::to_string(i));
        run.status = "succeeded";
        run.finished_at = 1LL << 45;
        if (Status s = tx.InsertRun(run); !s.ok()) return s;
      }
      return Status::Ok();
    });
    if (!loaded.ok()) state.SkipWithError("preload failed");
    recent_loaded = true;
  }
  const std::string record(1024, 'r');
  for (auto _ : state) {
    state.PauseTiming();
    Status inserted = full_store->Write([&](Tx& tx) -> Status {
      for (int i = 0; i < kPurgeBatch; ++i) {
        Run run = MakeRun("old_" + std::to_string(next_run.fetch_add(1)));
        run.status = i % 3 == 0 ? "failed" : "succeeded";
        run.record = record;
        run.finished_at = 1000 + i;
        if (Status s = tx.InsertRun(run); !s.ok()) return s;
      }
      return Status::Ok();
    });
    if (!inserted.ok()) state.SkipWithError("insert failed");
    state.ResumeTiming();
    int64_t deleted = 0;
    Status purged = full_store->Write([&](Tx& tx) -> Status {
      auto counts = tx.PurgeFinishedRuns(1'000'000, kPurgeBatch);
      if (!counts.ok()) return counts.error();
      for (const auto& [org, n] : *counts) deleted += n;
      return Status::Ok();
    });
    if (!purged.ok() || deleted != kPurgeBatch) state.SkipWithError("purge failed");
  }
  state.SetItemsProcessed(state.iterations() * kPurgeBatch);
}
BENCHMARK(BM_PurgeFinishedRuns)->UseRealTime();

// Audit retention: one sweep batch (synchronous=FULL) of 1000 events 40 days old, each
// with the size of a typical event (about 300 bytes). The clock moves 100 days per
// iteration, so the previous batch's audit.purged event is due too. Items: events purged.
class SteppedClock final : public rampart::Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms));
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  void SleepFor(std::chrono::nanoseconds) override {}
  int64_t now_ms = 1'767'225'600'000;
};

constexpr int64_t kDayMs = 86'400'000;
const std::string kBenchMasterKey = "a benchmark master key of 32+ characters";

void BM_AuditPurge(benchmark::State& state) {
  // One clock for every run of the benchmark (repetitions included): the chain's times
  // only move forward.
  static SteppedClock clock;
  rampart::audit::AuditRetentionOptions options;
  options.retention_days = 30;
  options.checkpoint_key = rampart::audit::CheckpointKey(kBenchMasterKey);
  int64_t purged_total = 0;
  for (auto _ : state) {
    state.PauseTiming();
    clock.now_ms += 100 * kDayMs;
    Status appended = full_store->Write([&](Tx& tx) -> Status {
      for (int i = 0; i < 1000; ++i) {
        rampart::store::AuditEvent event;
        event.time = clock.now_ms - 40 * kDayMs;
        event.org_id = "org_bench";
        event.actor = "key:key_0123456789";
        event.action = "run.start";
        event.target = "run_" + std::to_string(i);
        event.outcome = "success";
        event.source_ip = "192.0.2.10";
        event.user_agent = "curl/8.5.0";
        event.details = R"({"workflow_id":"deploy","version":3,"trigger":"webhook"})";
        auto done = tx.AppendAudit(std::move(event));
        if (!done.ok()) return done.error();
      }
      return Status::Ok();
    });
    rampart::audit::AuditRetention retention(*full_store, clock, options);
    state.ResumeTiming();
    if (!appended.ok()) {
      state.SkipWithError("append failed");
      break;
    }
    auto purged = retention.RunOnce();
    if (!purged.ok() || *purged < 1000) {
      state.SkipWithError("purge failed");
      break;
    }
    purged_total += *purged;
  }
  state.SetItemsProcessed(purged_total);
}
BENCHMARK(BM_AuditPurge)->UseRealTime();

// Verify of a chain of 20,000 events after a purge (the checkpoint's MAC, then every
// event's hash and link). Items: events verified.
void BM_AuditVerify(benchmark::State& state) {
  static bool loaded = false;
  if (!loaded) {
    for (int batch = 0; batch < 20; ++batch) {
      Status appended = normal_store->Write([&](Tx& tx) -> Status {
        for (int i = 0; i < 1000; ++i) {
          rampart::store::AuditEvent event;
          event.time = batch < 2 ? 1000 : 1'767'225'600'000;
          event.org_id = "org_bench";
          event.actor = "key:key_0123456789";
          event.action = "run.start";
          event.target = "run_" + std::to_string(i);
          event.outcome = "success";
          event.details = R"({"workflow_id":"deploy","version":3,"trigger":"webhook"})";
          auto done = tx.AppendAudit(std::move(event));
          if (!done.ok()) return done.error();
        }
        return Status::Ok();
      });
      if (!appended.ok()) state.SkipWithError("append failed");
    }
    SteppedClock clock;
    rampart::audit::AuditRetention retention(
        *normal_store, clock,
        {.retention_days = 30,
         .checkpoint_key = rampart::audit::CheckpointKey(kBenchMasterKey)});
    auto purged = retention.RunOnce();
    if (!purged.ok() || *purged != 2000) state.SkipWithError("purge failed");
    loaded = true;
  }
  const rampart::audit::VerifyOptions options{
      .checkpoint_keys = {rampart::audit::CheckpointKey(kBenchMasterKey)}};
  int64_t events = 0;
  for (auto _ : state) {
    auto report = rampart::audit::Verify(*normal_store, options);
    if (!report.ok() || !report->intact) state.SkipWithError("verify failed");
    if (report.ok()) events += report->events;
  }
  state.SetItemsProcessed(events);
}
BENCHMARK(BM_AuditVerify)->UseRealTime();

std::unique_ptr<Store> OpenOrDie(const std::string& path, bool synchronous_full) {
  rampart::store::SqliteOptions options;
  options.path = path;
  options.synchronous_full = synchronous_full;
  auto store = rampart::store::OpenSqliteStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "cannot open %s: %s\n", path.c_str(), store.error().message.c_str());
    std::exit(1);
  }
  return std::move(store).value();
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  const char* base = std::getenv("RAMPART_BENCH_DIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/store_bench_XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  full_store = OpenOrDie(pattern + "/full.db", true);
  normal_store = OpenOrDie(pattern + "/normal.db", false);
  Status preloaded = full_store->Write([](Tx& tx) -> Status {
    // Three workflows: "deploy" (org), "payroll" (private, usr_owner's), "mine" (private,
    // usr_dev's); the preloaded runs cycle through them.
    if (Status s = tx.InsertOrg({.id = "org_bench", .slug = "bench", .name = "bench",
                                 .max_concurrent_runs = 10, .created_at = 1});
        !s.ok()) {
      return s;
    }
    const char* const kWorkflows[][3] = {
        {"deploy", "org", "usr_owner"}, {"payroll", "private", "usr_owner"},
        {"mine", "private", "usr_dev"}};
    for (const auto& [id, visibility, creator] : kWorkflows) {
      if (Status s = tx.InsertWorkflow({.org_id = "org_bench", .id = id, .name = id,
                                        .visibility = visibility, .latest_version = 1,
                                        .live_version = 1, .created_at = 1, .updated_at = 1});
          !s.ok()) {
        return s;
      }
      if (Status s = tx.InsertWorkflowVersion({.org_id = "org_bench", .workflow_id = id,
                                               .version = 1, .definition = "{}", .source = "{}",
                                               .created_by = creator, .created_at = 1});
          !s.ok()) {
        return s;
      }
    }
    for (int i = 0; i < kPreloadedRuns; ++i) {
      Run run = MakeRun("pre_" + std::to_string(i));
      run.workflow_id = kWorkflows[i % 3][0];
      if (Status s = tx.InsertRun(run); !s.ok()) return s;
    }
    for (int i = 0; i < kPreloadedUsers; ++i) {
      const std::string n = std::to_string(i);
      rampart::store::User user{.id = "usr_" + n, .email = n + "@bench.test",
                                .password_hash = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2g$YmVuY2g", .created_at = 1};
      if (Status s = tx.InsertUser(user); !s.ok()) return s;
      if (Status s = tx.InsertSession({.token_hash = "sess_" + n, .user_id = user.id,
                                       .csrf_hash = "c", .created_at = 1, .last_seen_at = 1,
                                       .expires_at = 1LL << 50, .revoked = false});
          !s.ok()) {
        return s;
      }
    }
    // The workflow list's orgs (BM_ListWorkflowsPage).
    for (const char* org : {"org_wf", "org_wf_hidden"}) {
      if (Status s = tx.InsertOrg({.id = org, .slug = org + 4, .name = org,
                                   .max_concurrent_runs = 10, .created_at = 1});
          !s.ok()) {
        return s;
      }
      const bool hidden = std::string_view(org) == "org_wf_hidden";
      for (int i = 0; i < kPreloadedWorkflows; ++i) {
        char id[16];
        std::snprintf(id, sizeof id, "wf%05d", i);
        const auto& [unused, visibility, creator] = kWorkflows[hidden ? 1 : i % 3];
        if (Status s = tx.InsertWorkflow({.org_id = org, .id = id, .name = id,
                                          .visibility = visibility, .latest_version = 1,
                                          .live_version = 1, .created_at = 1, .updated_at = 1});
            !s.ok()) {
          return s;
        }
        if (Status s = tx.InsertWorkflowVersion({.org_id = org, .workflow_id = id, .version = 1,
                                                 .definition = "{}", .source = "{}",
                                                 .created_by = creator, .created_at = 1});
            !s.ok()) {
          return s;
        }
      }
    }
    // BM_QuotaCount: 3,000 versions of org_wf/wf00000, 1,500 connectors of org_wf.
    for (int v = 2; v <= 3000; ++v) {
      if (Status s = tx.InsertWorkflowVersion({.org_id = "org_wf", .workflow_id = "wf00000",
                                               .version = v, .definition = "{}", .source = "{}",
                                               .created_by = "usr_owner", .created_at = 1});
          !s.ok()) {
        return s;
      }
    }
    for (int i = 0; i < 1500; ++i) {
      rampart::store::Connector c;
      c.org_id = "org_wf";
      c.id = "c" + std::to_string(i);
      c.type = "bearer";
      if (Status s = tx.InsertConnector(c); !s.ok()) return s;
    }
    return Status::Ok();
  });
  if (!preloaded.ok()) return 1;
  benchmark::RunSpecifiedBenchmarks();
  const auto stats = rampart::store::GroupCommitStatsForTest(*full_store);
  std::printf("FULL store: %lld writes in %lld commits (largest group %lld)\n",
              static_cast<long long>(stats.jobs), static_cast<long long>(stats.commits),
              static_cast<long long>(stats.largest_group));
  full_store.reset();
  normal_store.reset();
  benchmark::Shutdown();
  std::filesystem::remove_all(pattern);
  return 0;
}
