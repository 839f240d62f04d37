// db.query: what runs, and every way around the statement allowlist we know of, each
// refused by SQLite's authorizer with statement_not_allowed.
#include "actions/db/db_query.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "rampart/actions/action.h"

namespace rampart::actions {
namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;

class TestClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  void SleepFor(std::chrono::nanoseconds) override {}
};

class DbQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("rampart_db_query_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    action_ = MakeDbQuery(std::make_shared<db::FileDatabaseProvider>(dir_.string()));
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result<bj::value> Run(const Action& action, const bj::value& args, std::string_view org = "",
                        std::chrono::milliseconds budget = std::chrono::seconds(30)) {
    std::vector<schema::ValidationError> errors;
    if (!action.ArgsSchema().Validate(args, &errors)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "args: " + (errors.empty() ? std::string() : errors.front().message));
    }
    Context ctx{args,   "wf",    "run_1", "step", "", std::chrono::steady_clock::now() + budget,
                clock_, nullptr, nullptr, org};
    return action.Execute(ctx);
  }
  Result<bj::value> Q(std::string_view sql, bj::value params = nullptr, std::string_view org = "") {
    bj::object args;
    args["sql"] = sql;
    if (!params.is_null()) args["params"] = std::move(params);
    return Run(*action_, bj::value(std::move(args)), org);
  }
  Result<bj::value> QJson(const char* json_args) { return Run(*action_, bj::parse(json_args)); }
  bj::value Ok(std::string_view sql, bj::value params = nullptr, std::string_view org = "") {
    auto r = Q(sql, std::move(params), org);
    EXPECT_TRUE(r.ok()) << sql << ": " << (r.ok() ? "" : r.error().message);
    return r.ok() ? *r : bj::value();
  }
  int64_t Count(std::string_view table = "t") {
    bj::value v = Ok("SELECT count(*) AS n FROM " + std::string(table));
    return v.at("rows").at(0).at("n").as_int64();
  }
  void MakeTable() {
    Ok("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, data TEXT)");
    Ok("INSERT INTO t (name, score) VALUES (?, ?)", bj::array{"a", 1.5});
    Ok("INSERT INTO t (name, score) VALUES (?, ?)", bj::array{"b", 2});
  }

  fs::path dir_;
  TestClock clock_;
  std::unique_ptr<Action> action_;
};

// --- what works ---------------------------------------------------------------

TEST_F(DbQueryTest, CreateInsertUpdateDeleteSelect) {
  bj::value created = Ok(
      "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, score REAL, data TEXT)");
  EXPECT_EQ(created, bj::parse(R"({"changes": 0})"));
  bj::value ins = Ok("INSERT INTO t (name, score) VALUES (?, ?)", bj::array{"a", 1.5});
  EXPECT_EQ(ins, bj::parse(R"({"changes": 1, "last_insert_rowid": 1})"));
  Ok("INSERT INTO t (name, score) VALUES (:name, :score)", bj::object{{"name", "b"}, {"score", 3}});
  bj::value upd = Ok("UPDATE t SET score = score * 2 WHERE name = @n", bj::object{{"n", "b"}});
  EXPECT_EQ(upd.at("changes"), 1);
  bj::value sel = Ok("SELECT id, name, score FROM t ORDER BY id");
  EXPECT_EQ(
      sel,
      bj::parse(
          R"({"rows": [{"id": 1, "name": "a", "score": 1.5}, {"id": 2, "name": "b", "score": 6.0}],
                               "row_count": 2, "truncated": false})"));
  bj::value del = Ok("DELETE FROM t WHERE id = ?1", bj::array{1});
  EXPECT_EQ(del.at("changes"), 1);
  EXPECT_EQ(Count(), 1);
  // A CTE in front of a DELETE is still a DELETE, which is allowed.
  bj::value cte = Ok("WITH old AS (SELECT id FROM t WHERE score > ?) DELETE FROM t WHERE id IN old",
                     bj::array{5});
  EXPECT_EQ(cte.at("changes"), 1);
  EXPECT_EQ(Count(), 0);
}

TEST_F(DbQueryTest, ParametersOfEveryJsonType) {
  Ok("CREATE TABLE v (s, i, f, b, n, o, a)");
  Ok("INSERT INTO v VALUES (?, ?, ?, ?, ?, ?, ?)",
     bj::parse(
         R"(["it's \"x\"; DROP TABLE v; --", -9007199254740993, 0.25, true, null, {"k": [1, 2]}, [1, "two"]])"));
  bj::value r =
      Ok("SELECT s, i, f, b, n, typeof(n) AS tn, o, a, json_extract(o, '$.k[1]') AS k FROM v");
  EXPECT_EQ(r.at("rows").at(0),
            bj::parse(R"({"s": "it's \"x\"; DROP TABLE v; --", "i": -9007199254740993,
      "f": 0.25, "b": 1, "n": null, "tn": "null", "o": "{\"k\":[1,2]}", "a": "[1,\"two\"]", "k": 2})"));
  EXPECT_EQ(Count("v"), 1);
  // Integers beyond int64 are refused rather than rounded.
  auto big = Q("SELECT ?", bj::array{bj::value(std::numeric_limits<uint64_t>::max())});
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(DbQueryTest, ParameterMismatchesAreInvalidArguments) {
  MakeTable();
  for (auto [sql, params] : std::vector<std::pair<std::string, bj::value>>{
           {"SELECT * FROM t WHERE id = ?", nullptr},
           {"SELECT * FROM t WHERE id = ?", bj::array{}},
           {"SELECT * FROM t WHERE id = ?", bj::array{1, 2}},
           {"SELECT * FROM t WHERE id = :id", bj::array{1}},
           {"SELECT * FROM t WHERE id = ?", bj::object{{"id", 1}}},
           {"SELECT * FROM t WHERE id = :id", bj::object{{"di", 1}}},
           {"SELECT * FROM t WHERE id = :id", bj::object{{"id", 1}, {"extra", 2}}},
           {"SELECT 1", bj::array{1}},
       }) {
    auto r = Q(sql, params);
    ASSERT_FALSE(r.ok()) << sql << " " << bj::serialize(params);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << sql << ": " << r.error().message;
  }
}

TEST_F(DbQueryTest, CreateTableAsSelectIsAllowed) {
  MakeTable();
  EXPECT_EQ(Ok("CREATE TABLE copy AS SELECT name, score FROM t WHERE score > ?", bj::array{1}),
            bj::parse(R"({"changes": 0})"));
  EXPECT_EQ(Count("copy"), 2);
  Ok("CREATE TABLE IF NOT EXISTS copy (x)");
}

TEST_F(DbQueryTest, AutoincrementReturningAndUpsert) {
  Ok("CREATE TABLE s (id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT UNIQUE, n INTEGER)");
  bj::value r = Ok("INSERT INTO s (k, n) VALUES (?, 1) RETURNING id, k", bj::array{"x"});
  EXPECT_EQ(
      r,
      bj::parse(
          R"({"changes": 1, "last_insert_rowid": 1, "rows": [{"id": 1, "k": "x"}], "row_count": 1, "truncated": false})"));
  Ok("INSERT INTO s (k, n) VALUES (?, 1) ON CONFLICT (k) DO UPDATE SET n = n + 1", bj::array{"x"});
  EXPECT_EQ(Ok("SELECT n FROM s").at("rows").at(0).at("n"), 2);
  Ok("REPLACE INTO s (k, n) VALUES ('y', 5)");
  EXPECT_EQ(Count("s"), 2);
  // Reading sqlite_sequence (and the schema) is fine; writing it is not.
  EXPECT_EQ(Ok("SELECT seq FROM sqlite_sequence WHERE name = 's'").at("rows").at(0).at("seq"), 3);
}

TEST_F(DbQueryTest, ValuesComeBackTyped) {
  bj::value r =
      Ok("SELECT x'00ff10' AS b, 1e999 AS inf, NULL AS n, 'é' AS s, 9223372036854775807 AS big, "
         "json_object('a', 1) AS j");
  EXPECT_EQ(
      r.at("rows").at(0),
      bj::parse(
          R"({"b": "00ff10", "inf": null, "n": null, "s": "é", "big": 9223372036854775807, "j": "{\"a\":1}"})"));
}

TEST_F(DbQueryTest, TrailingCommentsAndSemicolonsAreOneStatement) {
  EXPECT_EQ(Ok("SELECT 1 AS one; -- done\n /* really */ ;  ").at("rows").at(0).at("one"), 1);
  auto empty = Q("-- nothing here");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, ErrorCode::kInvalidArgument);
  auto syntax = Q("SELEKT 1");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(DbQueryTest, CommonFunctionsAndJsonTablesWork) {
  bj::value r =
      Ok("SELECT sum(value) AS s, count(*) AS n, max(length(json_quote(value))) AS l FROM "
         "json_each(?)",
         bj::array{bj::array{1, 2, 3}});
  EXPECT_EQ(r.at("rows").at(0), bj::parse(R"({"s": 6, "n": 3, "l": 1})"));
  bj::value t = Ok("SELECT count(*) AS n FROM json_tree(:doc)",
                   bj::object{{"doc", bj::object{{"a", bj::array{1, 2}}}}});
  EXPECT_EQ(t.at("rows").at(0).at("n"), 4);
  bj::value f = Ok(
      "SELECT upper(substr('abc', 2)) AS u, typeof(date('now')) AS d, strftime('%Y', '2024-05-01') "
      "AS y, "
      "coalesce(NULL, 7) AS c, printf('%05d', 42) AS p, abs(-3) AS a, row_number() OVER () AS w");
  EXPECT_EQ(
      f.at("rows").at(0),
      bj::parse(R"({"u": "BC", "d": "text", "y": "2024", "c": 7, "p": "00042", "a": 3, "w": 1})"));
}

TEST_F(DbQueryTest, ATableCannotCarryADisallowedFunction) {
  // Expressions stored in the schema (CHECK, DEFAULT, generated columns) go through the
  // same function allowlist, whether SQLite checks them at CREATE or at first use.
  for (const char* sql : {"CREATE TABLE x1 (a CHECK (load_extension('/tmp/evil.so') IS NULL))",
                          "CREATE TABLE x2 (a, b AS (load_extension('/tmp/evil.so')))"}) {
    auto created = Q(sql);
    if (!created.ok()) {
      EXPECT_EQ(created.error().code, ErrorCode::kStatementNotAllowed)
          << sql << ": " << created.error().message;
      continue;
    }
    const std::string table = std::string(sql).substr(13, 2);
    auto used = Q("INSERT INTO " + table + " (a) VALUES (1)");
    ASSERT_FALSE(used.ok()) << sql;
    EXPECT_NE(used.error().code, ErrorCode::kInternal) << used.error().message;
  }
}

// --- what is refused ---------------------------------------------------------------

struct Attack {
  const char* name;
  std::string sql;
};

TEST_F(DbQueryTest, EveryDisallowedStatementIsRefusedByTheEngine) {
  MakeTable();
  Ok("CREATE TABLE s (id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT)");
  Ok("INSERT INTO s (k) VALUES ('a')");
  const std::string outside = (dir_ / "outside.db").string();
  const std::vector<Attack> attacks = {
      {"stacked DROP", "SELECT 1; DROP TABLE t"},
      {"stacked SELECT", "SELECT 1; SELECT 2"},
      {"stacked after comment", "SELECT 1; /* x */ DELETE FROM t"},
      {"stacked garbage", "SELECT 1; this is not sql"},
      {"attach", "ATTACH DATABASE '" + outside + "' AS x"},
      {"attach memory", "ATTACH ':memory:' AS m"},
      {"detach", "DETACH DATABASE main"},
      {"pragma", "PRAGMA table_info(t)"},
      {"pragma set", "PRAGMA writable_schema = ON"},
      {"pragma journal", "PRAGMA journal_mode = DELETE"},
      {"pragma tvf", "SELECT * FROM pragma_table_info('t')"},
      {"pragma tvf list", "SELECT name FROM pragma_function_list"},
      {"pragma tvf in subquery", "SELECT (SELECT count(*) FROM pragma_database_list) AS n"},
      {"pragma tvf in insert", "INSERT INTO t (name) SELECT name FROM pragma_table_info('t')"},
      {"vacuum into", "VACUUM INTO '" + outside + "'"},
      {"vacuum", "VACUUM"},
      {"load_extension", "SELECT load_extension('/tmp/evil.so')"},
      {"load_extension in where", "DELETE FROM t WHERE load_extension('/tmp/evil.so') IS NULL"},
      {"internal function", "SELECT sqlite_compileoption_get(0)"},
      {"drop table", "DROP TABLE t"},
      {"drop table if exists", "DROP TABLE IF EXISTS nope"},
      {"alter add", "ALTER TABLE t ADD COLUMN z"},
      {"alter rename", "ALTER TABLE t RENAME TO u"},
      {"insert sqlite_master",
       "INSERT INTO sqlite_master VALUES ('table', 'x', 'x', 0, 'CREATE TABLE x(a)')"},
      {"update sqlite_schema",
       "UPDATE sqlite_schema SET sql = 'CREATE TABLE t(a)' WHERE name = 't'"},
      {"delete sqlite_master", "DELETE FROM sqlite_master"},
      {"insert sqlite_sequence", "INSERT INTO sqlite_sequence (name, seq) VALUES ('s', 100)"},
      {"update sqlite_sequence", "UPDATE sqlite_sequence SET seq = 0"},
      {"create sqlite_ table", "CREATE TABLE sqlite_evil (a)"},
      {"cte load_extension",
       "WITH x AS (SELECT load_extension('/tmp/evil.so') AS v) DELETE FROM t WHERE id IN (SELECT v "
       "FROM x)"},
      {"cte pragma", "WITH x AS (SELECT name FROM pragma_table_info('t')) SELECT * FROM x"},
      {"cte write sqlite_master",
       "WITH x AS (SELECT 1) UPDATE sqlite_master SET sql = '' WHERE 1 IN x"},
      {"create trigger", "CREATE TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t; END"},
      {"create temp trigger", "CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t; END"},
      {"create view", "CREATE VIEW v AS SELECT * FROM t"},
      {"create temp view", "CREATE TEMP VIEW v AS SELECT * FROM t"},
      {"create index", "CREATE INDEX i ON t (score)"},
      {"create unique index", "CREATE UNIQUE INDEX i ON t (score)"},
      {"create temp table", "CREATE TEMP TABLE tt (a)"},
      {"create temp table as", "CREATE TEMP TABLE tt AS SELECT 1"},
      {"create virtual table", "CREATE VIRTUAL TABLE vt USING json_each"},
      {"begin", "BEGIN"},
      {"commit", "COMMIT"},
      {"savepoint", "SAVEPOINT sp"},
      {"release", "RELEASE sp"},
      {"reindex", "REINDEX"},
      {"analyze", "ANALYZE"},
      {"explain", "EXPLAIN SELECT * FROM t"},
      {"explain query plan", "EXPLAIN QUERY PLAN SELECT * FROM t"},
  };
  for (const Attack& a : attacks) {
    auto r = Q(a.sql);
    ASSERT_FALSE(r.ok()) << a.name;
    EXPECT_EQ(r.error().code, ErrorCode::kStatementNotAllowed)
        << a.name << ": " << r.error().message;
  }
  // Nothing happened: the tables, their rows and the schema are as they were.
  EXPECT_EQ(Count(), 2);
  EXPECT_EQ(Count("s"), 1);
  EXPECT_EQ(
      Ok("SELECT group_concat(name, ',') AS n FROM (SELECT name FROM sqlite_schema ORDER BY name)")
          .at("rows")
          .at(0)
          .at("n"),
      "s,sqlite_autoindex_t_1,sqlite_sequence,t");
  EXPECT_EQ(Ok("SELECT seq FROM sqlite_sequence").at("rows").at(0).at("seq"), 1);
  EXPECT_FALSE(fs::exists(outside));
}

TEST_F(DbQueryTest, ACteCannotHideAWrite) {
  MakeTable();
  // SQLite's grammar only admits SELECT inside WITH; anything else fails to compile.
  for (const char* sql : {"WITH x AS (DELETE FROM t RETURNING id) SELECT * FROM x",
                          "WITH x AS (DROP TABLE t) SELECT 1"}) {
    auto r = Q(sql);
    ASSERT_FALSE(r.ok()) << sql;
    EXPECT_TRUE(r.error().code == ErrorCode::kInvalidArgument ||
                r.error().code == ErrorCode::kStatementNotAllowed)
        << sql;
  }
  EXPECT_EQ(Count(), 2);
}

// --- limits ----------------------------------------------------------------------------

TEST_F(DbQueryTest, ALongQueryIsStoppedByTheProgressHandler) {
  const auto start = std::chrono::steady_clock::now();
  auto r = QJson(
      R"({"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT count(*) FROM c",
                 "timeout": 0.2})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTimeout) << r.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));

  // A write cut off by the time limit leaves nothing behind.
  Ok("CREATE TABLE n (x)");
  auto w = QJson(
      R"({"sql": "INSERT INTO n WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) SELECT x FROM c",
                 "timeout": 0.2})");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, ErrorCode::kTimeout);
  EXPECT_EQ(Count("n"), 0);

  // The step's own deadline counts too.
  bj::value args = bj::parse(
      R"({"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"})");
  auto d = Run(*action_, args, "", std::chrono::milliseconds(200));
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, ErrorCode::kTimeout);
}

TEST_F(DbQueryTest, RowsBeyondMaxRowsAreDroppedAndFlagged) {
  auto r = QJson(
      R"({"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50) SELECT x FROM c", "max_rows": 10})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("row_count"), 10);
  EXPECT_EQ(r->at("rows").as_array().size(), 10u);
  EXPECT_EQ(r->at("rows").at(9).at("x"), 10);
  EXPECT_EQ(r->at("truncated"), true);
  auto all = QJson(
      R"({"sql": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 50) SELECT x FROM c", "max_rows": 50})");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->at("row_count"), 50);
  EXPECT_EQ(all->at("truncated"), false);
  // The default cap is 1000.
  auto def =
      Q("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000) SELECT x "
        "FROM c");
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->at("row_count"), 1000);
  EXPECT_EQ(def->at("truncated"), true);
  // A write with RETURNING runs to its end even when its rows are capped.
  Ok("CREATE TABLE n (x)");
  auto w = QJson(
      R"({"sql": "INSERT INTO n WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30) SELECT x FROM c RETURNING x", "max_rows": 5})");
  ASSERT_TRUE(w.ok()) << w.error().message;
  EXPECT_EQ(w->at("changes"), 30);
  EXPECT_EQ(w->at("row_count"), 5);
  EXPECT_EQ(w->at("truncated"), true);
  EXPECT_EQ(Count("n"), 30);
}

TEST_F(DbQueryTest, ArgumentLimits) {
  for (const char* args :
       {R"({"sql": "SELECT 1", "max_rows": 10001})", R"({"sql": "SELECT 1", "max_rows": 0})",
        R"({"sql": "SELECT 1", "timeout": 0})", R"({"sql": "SELECT 1", "timeout": 61})",
        R"({"sql": "SELECT 1", "params": "x"})", R"({"sql": "SELECT 1", "other": 1})", R"({})"}) {
    auto r = QJson(args);
    ASSERT_FALSE(r.ok()) << args;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << args;
  }
  auto big = Q("SELECT zeroblob(2000000) AS z");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code, ErrorCode::kLimitExceeded) << big.error().message;
  auto big_param = Q("SELECT length(?) AS n", bj::array{std::string(2 << 20, 'x')});
  ASSERT_FALSE(big_param.ok());
  EXPECT_EQ(big_param.error().code, ErrorCode::kLimitExceeded) << big_param.error().message;
  auto nul = Q(std::string_view("SELECT 1;\0DROP TABLE t", 22));
  ASSERT_FALSE(nul.ok());
}

// --- where the data lives ------------------------------------------------------------------

TEST_F(DbQueryTest, EachOrgHasItsOwnPrivateFile) {
  Ok("CREATE TABLE mine (x)", nullptr, "org_a");
  Ok("INSERT INTO mine VALUES (1)", nullptr, "org_a");
  auto other = Q("SELECT * FROM mine", nullptr, "org_b");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kInvalidArgument);
  auto local = Q("SELECT * FROM mine");
  ASSERT_FALSE(local.ok());
  for (const char* name : {"org_a.sqlite", "org_a.sqlite-wal", "org_b.sqlite", "local.sqlite"}) {
    struct stat st {};
    ASSERT_EQ(::stat((dir_ / "db" / name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
  struct stat st {};
  ASSERT_EQ(::stat((dir_ / "db").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const std::string& org :
       {std::string("../x"), std::string("a/b"), std::string(".hidden"), std::string(200, 'a')}) {
    auto r = Q("SELECT 1", nullptr, org);
    ASSERT_FALSE(r.ok()) << org;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << org;
  }
  EXPECT_FALSE(fs::exists(dir_ / "x.sqlite"));
}

TEST_F(DbQueryTest, ConcurrentStepsShareOneDatabaseSafely) {
  Ok("CREATE TABLE c (x INTEGER)");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this] {
      for (int i = 0; i < 50; ++i) Ok("INSERT INTO c VALUES (?)", bj::array{i});
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(Count("c"), 200);
}

TEST_F(DbQueryTest, WithoutADataDirectoryItFailsClearly) {
  auto none = MakeDbQuery(nullptr);
  auto r = Run(*none, bj::parse(R"({"sql": "SELECT 1"})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInternal);
  EXPECT_NE(r.error().message.find("data directory"), std::string::npos);

  Registry without = BuiltinRegistry(BuiltinOptions{});
  ASSERT_NE(without.Find("db.query"), nullptr);
  EXPECT_EQ(Run(*without.Find("db.query"), bj::parse(R"({"sql": "SELECT 1"})")).error().code,
            ErrorCode::kInternal);
  BuiltinOptions options;
  options.data_dir = (dir_ / "reg").string();
  Registry with = BuiltinRegistry(options);
  auto ok = Run(*with.Find("db.query"), bj::parse(R"({"sql": "SELECT 1 AS one"})"));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(fs::exists(dir_ / "reg" / "db" / "local.sqlite"));
}

}  // namespace
}  // namespace rampart::actions
