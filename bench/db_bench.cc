// db.query through the action (schema validation, authorizer, prepare, bind, step, JSON
// output) against a plain sqlite3 prepare/bind/step with the same statement on the same
// kind of database, in the same run: inserts/s and point and range selects/s.
//
// The databases live in $RAMPART_BENCH_DIR (default: a fresh directory under /tmp);
// WAL, synchronous=NORMAL (what the action opens with).
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "actions/db/db_query.h"
#include "rampart/actions/action.h"

namespace {

using namespace rampart;
namespace bj = boost::json;

class BenchClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  void SleepFor(std::chrono::nanoseconds) override {}
};

std::string BenchDir() {
  static const std::string dir = [] {
    const char* env = getenv("RAMPART_BENCH_DIR");
    std::string d = env ? env : "/tmp/rampart_db_bench_" + std::to_string(getpid());
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

struct Fixture {
  Fixture()
      : action(
            actions::MakeDbQuery(std::make_shared<actions::db::FileDatabaseProvider>(BenchDir()))) {
    Must(Run(bj::parse(
        R"j({"sql": "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount REAL, status TEXT)"})j")));
    for (int i = 0; i < 1000; ++i) Must(Insert(i));
  }
  Result<bj::value> Run(const bj::value& args) {
    std::vector<schema::ValidationError> errors;
    if (!action->ArgsSchema().Validate(args, &errors))
      return MakeError(ErrorCode::kInvalidArgument, "args");
    actions::Context ctx{args,    "bench",
                         "run_1", "q",
                         "",      std::chrono::steady_clock::now() + std::chrono::seconds(30),
                         clock,   nullptr,
                         nullptr, "org_bench"};
    return action->Execute(ctx);
  }
  Result<bj::value> Insert(int64_t i) {
    bj::object args;
    args["sql"] =
        "INSERT INTO orders (customer, amount, status) VALUES (:customer, :amount, :status)";
    args["params"] = bj::object{{"customer", "c-" + std::to_string(i % 97)},
                                {"amount", 10.5 + static_cast<double>(i % 100)},
                                {"status", "new"}};
    return Run(bj::value(std::move(args)));
  }
  static void Must(const Result<bj::value>& r) {
    if (!r.ok()) {
      fprintf(stderr, "db_bench: %s\n", r.error().message.c_str());
      abort();
    }
  }
  BenchClock clock;
  std::unique_ptr<actions::Action> action;
};

Fixture& F() {
  static auto* f = new Fixture();
  return *f;
}

void BM_ActionInsert(benchmark::State& state) {
  Fixture& f = F();
  int64_t i = 0;
  for (auto _ : state) {
    auto r = f.Insert(i++);
    if (!r.ok()) state.SkipWithError("insert failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ActionInsert)->UseRealTime();

void BM_ActionSelectPoint(benchmark::State& state) {
  Fixture& f = F();
  int64_t i = 0;
  for (auto _ : state) {
    bj::value args = {{"sql", "SELECT id, customer, amount, status FROM orders WHERE id = ?"},
                      {"params", bj::array{1 + (i++ % 1000)}}};
    auto r = f.Run(args);
    if (!r.ok()) state.SkipWithError("select failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ActionSelectPoint)->UseRealTime();

void BM_ActionSelect100Rows(benchmark::State& state) {
  Fixture& f = F();
  for (auto _ : state) {
    bj::value args = {
        {"sql", "SELECT id, customer, amount, status FROM orders WHERE id BETWEEN ? AND ?"},
        {"params", bj::array{100, 199}}};
    auto r = f.Run(args);
    if (!r.ok()) state.SkipWithError("select failed");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ActionSelect100Rows)->UseRealTime();

void BM_ActionRejected(benchmark::State& state) {
  Fixture& f = F();
  bj::value args = {{"sql", "SELECT * FROM pragma_table_info('orders')"}};
  for (auto _ : state) {
    auto r = f.Run(args);
    if (r.ok()) state.SkipWithError("not rejected");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ActionRejected)->UseRealTime();

// Baseline: the same statements through bare sqlite3 (prepared each time, like the action).
sqlite3* RawDb() {
  static sqlite3* db = [] {
    sqlite3* d = nullptr;
    sqlite3_open((BenchDir() + "/raw.sqlite").c_str(), &d);
    sqlite3_exec(
        d,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE IF NOT EXISTS orders (id "
        "INTEGER PRIMARY KEY, customer TEXT NOT NULL, amount REAL, status TEXT)",
        nullptr, nullptr, nullptr);
    return d;
  }();
  return db;
}

void BM_RawInsert(benchmark::State& state) {
  sqlite3* db = RawDb();
  int64_t i = 0;
  for (auto _ : state) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v3(
        db, "INSERT INTO orders (customer, amount, status) VALUES (:customer, :amount, :status)",
        -1, 0, &s, nullptr);
    std::string c = "c-" + std::to_string(i % 97);
    sqlite3_bind_text(s, 1, c.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 2, 10.5 + static_cast<double>(i % 100));
    sqlite3_bind_text(s, 3, "new", -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) state.SkipWithError("insert failed");
    sqlite3_finalize(s);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawInsert)->UseRealTime();

void BM_RawSelectPoint(benchmark::State& state) {
  sqlite3* db = RawDb();
  int64_t i = 0;
  for (auto _ : state) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v3(db, "SELECT id, customer, amount, status FROM orders WHERE id = ?", -1, 0,
                       &s, nullptr);
    sqlite3_bind_int64(s, 1, 1 + (i++ % 1000));
    while (sqlite3_step(s) == SQLITE_ROW) benchmark::DoNotOptimize(sqlite3_column_text(s, 1));
    sqlite3_finalize(s);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RawSelectPoint)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
