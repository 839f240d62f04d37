// In-process tests of the CLI commands: exit codes and output channels.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include <sqlite3.h>

#include "cli/data_dir.h"
#include "rampart/audit/checkpoint.h"
#include "rampart/audit/retention.h"
#include "rampart/cli/commands.h"
#include "rampart/core/clock.h"
#include "rampart/crypto/password.h"
#include "rampart/store/sqlite_backup.h"
#include "rampart/store/store.h"
#include "store/migrations.h"

namespace rampart::cli {
namespace {

const std::string kWorkflows = std::string(RAMPART_SOURCE_DIR) + "/tests/workflows/";

struct Captured {
  int code;
  std::string out;
  std::string err;
};

std::string Slurp(std::FILE* f) {
  std::rewind(f);
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

template <typename F>
Captured Capture(F f) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  int code = f(out, err);
  return {code, Slurp(out), Slurp(err)};
}

TEST(CliRunTest, JsonPrintsOnlyTheRunRecord) {
  RunOptions o;
  o.file = kWorkflows + "set_basic.yaml";
  o.input = kWorkflows + "set_basic.input.json";
  o.json = true;
  auto c = Capture([&](auto out, auto err) { return cli::Run(o, out, err); });
  EXPECT_EQ(c.code, kExitOk);
  ASSERT_FALSE(c.out.empty());
  EXPECT_EQ(c.out.front(), '{');
  EXPECT_EQ(c.out.find('\n'), c.out.size() - 1);  // one line, the record
  EXPECT_NE(c.out.find("\"status\":\"succeeded\""), std::string::npos);
}

TEST(CliRunTest, FailedRunExitsOne) {
  RunOptions o;
  o.file = kWorkflows + "div_zero.yaml";
  o.input = kWorkflows + "div_zero.input.json";
  auto c = Capture([&](auto out, auto err) { return cli::Run(o, out, err); });
  EXPECT_EQ(c.code, kExitRunFailed);
  EXPECT_NE(c.out.find("division_by_zero"), std::string::npos) << c.out;
}

TEST(CliRunTest, InvalidDefinitionExitsTwoWithOneErrorPerLine) {
  RunOptions o;
  o.file = kWorkflows + "load_bad_header.yaml";
  auto c = Capture([&](auto out, auto err) { return cli::Run(o, out, err); });
  EXPECT_EQ(c.code, kExitInvalid);
  EXPECT_TRUE(c.out.empty());
  EXPECT_NE(c.err.find("/rampart: invalid_definition: "), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("/limits/timeout: limit_exceeded: "), std::string::npos) << c.err;
  EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 5);
}

TEST(CliRunTest, InvalidInputExitsTwo) {
  RunOptions o;
  o.file = kWorkflows + "input_invalid.yaml";
  o.input = kWorkflows + "input_invalid.input.json";
  auto c = Capture([&](auto out, auto err) { return cli::Run(o, out, err); });
  EXPECT_EQ(c.code, kExitInvalid);
  EXPECT_NE(c.err.find("invalid_input"), std::string::npos);
  EXPECT_TRUE(c.out.empty());
}

TEST(CliRunTest, HumanSummaryShowsEachStep) {
  RunOptions o;
  o.file = kWorkflows + "branch_then.yaml";
  o.input = kWorkflows + "branch_then.input.json";
  auto c = Capture([&](auto out, auto err) { return cli::Run(o, out, err); });
  EXPECT_EQ(c.code, kExitOk);
  EXPECT_NE(c.out.find("check"), std::string::npos);
  EXPECT_NE(c.out.find("inputs.amount > 100 -> true"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("large"), std::string::npos);
  EXPECT_NE(c.out.find("status: succeeded"), std::string::npos);
}

// A scratch directory removed with the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rampart-cli-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) != nullptr ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return (path_ / name).string();
  }

 private:
  std::filesystem::path path_;
};

constexpr char kDbQueryWorkflow[] = R"yaml(rampart: 1
id: db-table
steps:
  - id: create
    type: action
    uses: db.query
    with: {sql: "CREATE TABLE IF NOT EXISTS t (x INTEGER)"}
)yaml";

// spec/interfaces.md: the configuration file is read by `run` too; its `data` is the
// data directory unless --data is given.
TEST(CliRunTest, ConfigDataIsTheDataDirectory) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  RunOptions o;
  o.file = tmp.Write("db.yaml", kDbQueryWorkflow);
  o.config = tmp.Write("config.yaml", "data: " + (tmp.path() / "from-config").string() + "\n");
  auto c = Capture([&](auto out, auto err) { return cli::Run(o, out, err); });
  ASSERT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "from-config" / "db" / "local.sqlite"));
}

TEST(CliRunTest, DataFlagWinsOverConfig) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  RunOptions o;
  o.file = tmp.Write("db.yaml", kDbQueryWorkflow);
  o.config = tmp.Write("config.yaml", "data: " + (tmp.path() / "from-config").string() + "\n");
  o.data_dir = (tmp.path() / "from-flag").string();
  auto c = Capture([&](auto out, auto err) { return cli::Run(o, out, err); });
  ASSERT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "from-flag" / "db" / "local.sqlite"));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "from-config"));
}

// `path: code: message`, one a line: a key or value holding a newline or a terminal
// escape (from an untrusted file or input) can neither split a line nor reach the terminal.
TEST(CliRunTest, ErrorLinesEscapeControlCharacters) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  RunOptions o;
  o.file = tmp.Write("wf.yaml", R"(rampart: 1
id: x
inputs: {type: object, additionalProperties: {type: integer}}
steps: [{id: a, type: set, values: {}}]
)");
  o.input = tmp.Write("input.json", R"({"k\u001b[31mRED\nX": "s", "ok": "t"})");
  auto c = Capture([&](auto out, auto err) { return cli::Run(o, out, err); });
  EXPECT_EQ(c.code, kExitInvalid);
  EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 2) << c.err;
  EXPECT_EQ(c.err.find('\x1b'), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("/k\\u001b[31mRED\\u000aX: invalid_input: "), std::string::npos) << c.err;
}

TEST(CliRunTest, SummaryEscapesControlCharactersOfRunData) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  RunOptions o;
  o.file = tmp.Write("wf.yaml", R"(rampart: 1
id: x
steps: [{id: stop, type: fail, message: "{{ inputs.m }}"}]
)");
  o.input = tmp.Write("input.json", R"({"m": "a\u001b]0;pwned\u0007\nstatus: succeeded"})");
  auto c = Capture([&](auto out, auto err) { return cli::Run(o, out, err); });
  EXPECT_EQ(c.code, kExitRunFailed);
  EXPECT_EQ(c.out.find('\x1b'), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find("\nstatus: succeeded"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("status: failed  error: step_failed: a\\u001b]0;pwned\\u0007\\u000astatus"),
            std::string::npos)
      << c.out;
}

TEST(CliValidateTest, ErrorLinesEscapeControlCharacters) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  std::string file = tmp.Write("wf.yaml", "rampart: 1\nid: x\n\"bad\\nkey\\e[2J\": 1\n"
                                          "steps: [{id: a, type: set, values: {}}]\n");
  auto c = Capture([&](auto out, auto err) { return Validate({file}, out, err); });
  EXPECT_EQ(c.code, kExitInvalid);
  EXPECT_EQ(std::count(c.err.begin(), c.err.end(), '\n'), 1) << c.err;
  EXPECT_EQ(c.err.find('\x1b'), std::string::npos) << c.err;
  EXPECT_NE(c.err.find(": /bad\\u000akey\\u001b[2J: invalid_definition: unknown key "
                       "'bad\\u000akey\\u001b[2J'"),
            std::string::npos)
      << c.err;
}

TEST(CliValidateTest, ReportsEveryFile) {
  auto c = Capture([&](auto out, auto err) {
    return Validate({kWorkflows + "set_basic.yaml", kWorkflows + "load_duplicate_id.yaml"}, out, err);
  });
  EXPECT_EQ(c.code, kExitInvalid);
  EXPECT_NE(c.out.find("set_basic.yaml: ok"), std::string::npos);
  EXPECT_NE(c.err.find("load_duplicate_id.yaml: /steps/1/then/0/id: invalid_definition"),
            std::string::npos)
      << c.err;
}


// `rampart audit verify` after audit retention purged a prefix: the retention checkpoint
// is checked with the master key found as serve finds it; without a key the command never
// says intact, and a checkpoint signed by another key is broken.
class CliAuditVerifyTest : public ::testing::Test {
 protected:
  static constexpr int64_t kDay = 86'400'000;

  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    ::unsetenv("RAMPART_MASTER_KEY");
    ::unsetenv("RAMPART_PREVIOUS_MASTER_KEY");
    data_ = tmp_.path().string();
    auto store = store::OpenSqliteStore({.path = data_ + "/rampart.db", .synchronous_full = false});
    ASSERT_TRUE(store.ok());
    const int64_t now = UnixMillis(SystemClock().Now());
    for (int i = 0; i < 10; ++i) {
      Status st = (*store)->Write([&](store::Tx& tx) -> Status {
        store::AuditEvent event;
        event.time = now - (i < 8 ? 60 : 1) * kDay;
        event.actor = "system";
        event.action = "login";
        event.outcome = "success";
        event.details = "{}";
        auto appended = tx.AppendAudit(event);
        return appended.ok() ? Status::Ok() : Status(appended.error());
      });
      ASSERT_TRUE(st.ok());
    }
    store_ = std::move(store).value();
  }
  void TearDown() override { ::unsetenv("RAMPART_MASTER_KEY"); }

  void Purge(const std::string& master_key) {
    audit::AuditRetention retention(*store_, SystemClock(),
                                    {.retention_days = 30,
                                     .checkpoint_key = audit::CheckpointKey(master_key)});
    auto purged = retention.RunOnce();
    ASSERT_TRUE(purged.ok()) << purged.error().message;
    ASSERT_EQ(*purged, 8);
  }

  std::string KeyFile(const std::string& name, const std::string& key) {
    std::string file = tmp_.Write(name, key + "\n");
    std::filesystem::permissions(file, std::filesystem::perms::owner_read |
                                           std::filesystem::perms::owner_write);
    return file;
  }

  Captured Verify(AuditVerifyOptions options) {
    if (options.data_dir.empty()) options.data_dir = data_;
    return Capture([&](auto out, auto err) { return AuditVerify(options, out, err); });
  }

  TempDir tmp_;
  std::string data_;
  std::unique_ptr<store::Store> store_;
  const std::string key_ = "the master key of this test, 32+ characters";
  const std::string other_key_ = "another master key, at least 32 characters";
};

TEST_F(CliAuditVerifyTest, WithoutACheckpointNoKeyIsNeeded) {
  auto c = Verify({});
  EXPECT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_NE(c.out.find("audit chain intact: 10 events"), std::string::npos) << c.out;
}

TEST_F(CliAuditVerifyTest, ACheckpointVerifiesWithTheMasterKeyOfEachSource) {
  Purge(key_);
  // Config master_key_file.
  std::string config = tmp_.Write("config.yaml", "master_key_file: " + KeyFile("k", key_) + "\n");
  auto c = Verify({.config = config});
  EXPECT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_NE(c.out.find("audit chain intact: 3 events, from the retention checkpoint at event 8"),
            std::string::npos)
      << c.out;
  // The config's data directory when --data is not given.
  std::string config_with_data = tmp_.Write(
      "config2.yaml", "data: " + data_ + "\nmaster_key_file: " + KeyFile("k2", key_) + "\n");
  c = Capture([&](auto out, auto err) {
    return AuditVerify({.config = config_with_data}, out, err);
  });
  EXPECT_EQ(c.code, kExitOk) << c.out << c.err;
  // RAMPART_MASTER_KEY.
  ::setenv("RAMPART_MASTER_KEY", key_.c_str(), 1);
  EXPECT_EQ(Verify({}).code, kExitOk);
  ::unsetenv("RAMPART_MASTER_KEY");
  // <data>/master.key, as serve generates it.
  KeyFile("master.key", key_);
  EXPECT_EQ(Verify({}).code, kExitOk);
}

TEST_F(CliAuditVerifyTest, WithoutTheMasterKeyACheckpointIsNeverIntact) {
  Purge(key_);
  auto c = Verify({});
  EXPECT_EQ(c.code, kExitRunFailed) << c.out << c.err;
  EXPECT_EQ(c.out.find("intact"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("cannot be checked without the master key"), std::string::npos) << c.out;
}

TEST_F(CliAuditVerifyTest, ACheckpointOfAnotherMasterKeyIsBroken) {
  Purge(other_key_);
  ::setenv("RAMPART_MASTER_KEY", key_.c_str(), 1);
  auto c = Verify({});
  EXPECT_EQ(c.code, kExitRunFailed) << c.out << c.err;
  EXPECT_NE(c.out.find("BROKEN at event 9: checkpoint signature invalid"), std::string::npos)
      << c.out;
  EXPECT_NE(c.out.find("first bad event: {"), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find(key_), std::string::npos);
  EXPECT_EQ(c.out.find(other_key_), std::string::npos);
  // The replaced key, given as a previous one, is accepted.
  std::string config = tmp_.Write("config.yaml",
                                  "previous_master_key_files: [" + KeyFile("old", other_key_) + "]\n");
  EXPECT_EQ(Verify({.config = config}).code, kExitOk);
}

TEST_F(CliAuditVerifyTest, NoStoreIsInvalid) {
  EXPECT_EQ(Verify({.data_dir = data_ + "/nothing"}).code, kExitInvalid);
}

// `rampart backup` and `rampart restore` on the store of CliAuditVerifyTest (10 events).
class CliBackupTest : public CliAuditVerifyTest {
 protected:
  Captured Backup(BackupOptions options) {
    if (options.data_dir.empty()) options.data_dir = data_;
    return Capture([&](auto out, auto err) { return cli::Backup(options, out, err); });
  }
  Captured Restore(RestoreOptions options) {
    return Capture([&](auto out, auto err) { return cli::Restore(options, out, err); });
  }
  static std::vector<std::string> Names(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }
  static unsigned Mode(const std::string& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
    return info.st_mode & 0777;
  }
  std::string NewDir(const std::string& name) {
    std::filesystem::create_directory(tmp_.path() / name);
    return (tmp_.path() / name).string();
  }
};

TEST_F(CliBackupTest, WritesAnOwnerOnlySnapshotAndAuditsIt) {
  const std::string dir = NewDir("backups");
  const std::string file = dir + "/one.db";
  auto c = Backup({.output = file});
  ASSERT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_EQ(Names(dir), std::vector<std::string>{"one.db"});  // no temporary file left
  EXPECT_EQ(Mode(file), 0600u);
  EXPECT_NE(c.out.find("backup written: " + file + " ("), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("audit head seq 10 hash "), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("the master key is not in the backup"), std::string::npos) << c.out;
  // The event after the snapshot names it: its head and size.
  auto events = store_->Read([&](store::Tx& tx) -> Status {
    auto all = tx.ListAllAudit(10, 10);
    if (!all.ok()) return all.error();
    EXPECT_EQ(all->size(), 1u);
    if (all->size() != 1) return Status::Ok();
    EXPECT_EQ((*all)[0].action, "backup.create");
    EXPECT_NE((*all)[0].details.find("\"audit_head_seq\":10"), std::string::npos);
    EXPECT_NE((*all)[0].details.find(file), std::string::npos);
    return Status::Ok();
  });
  EXPECT_TRUE(events.ok());
  // --json: one object.
  auto j = Backup({.output = dir + "/two.db", .json = true});
  ASSERT_EQ(j.code, kExitOk) << j.out << j.err;
  auto parsed = boost::json::parse(j.out);
  const auto& o = parsed.as_object();
  EXPECT_EQ(o.at("path").as_string(), dir + "/two.db");
  EXPECT_EQ(o.at("bytes").to_number<int64_t>(),
            static_cast<int64_t>(std::filesystem::file_size(dir + "/two.db")));
  EXPECT_EQ(o.at("audit_head").at("seq").to_number<int64_t>(), 11);
  EXPECT_EQ(o.at("audit_head").at("hash").as_string().size(), 64u);
  EXPECT_EQ(o.at("audit_event_seq").to_number<int64_t>(), 12);
  EXPECT_FALSE(o.at("master_key_included").as_bool());
  EXPECT_GT(o.at("schema_version").to_number<int64_t>(), 0);
}

TEST_F(CliBackupTest, NeverOverwritesAndLeavesNothingOnFailure) {
  const std::string dir = NewDir("backups");
  const std::string existing = tmp_.Write("backups/existing.db", "keep me");
  auto c = Backup({.output = existing});
  EXPECT_EQ(c.code, kExitInvalid) << c.out << c.err;
  EXPECT_NE(c.err.find("exists"), std::string::npos) << c.err;
  std::ifstream in(existing);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "keep me");
  // No store: usage, and no file made.
  c = Backup({.data_dir = data_ + "/nothing", .output = dir + "/x.db"});
  EXPECT_EQ(c.code, kExitInvalid) << c.out << c.err;
  EXPECT_FALSE(std::filesystem::exists(data_ + "/nothing/rampart.db"));
  // A directory that does not exist: the backup fails.
  c = Backup({.output = dir + "/missing/x.db"});
  EXPECT_EQ(c.code, kExitRunFailed) << c.out << c.err;
  EXPECT_EQ(Names(dir), std::vector<std::string>{"existing.db"});
  // A damaged store: the copy fails its integrity check, and neither it nor the
  // reserved name stays.
  const std::string good = dir + "/good.db";
  ASSERT_EQ(Backup({.output = good}).code, kExitOk);
  const std::string damaged = NewDir("damaged");
  std::filesystem::copy_file(good, damaged + "/rampart.db");
  std::filesystem::remove(good);
  {
    std::FILE* f = std::fopen((damaged + "/rampart.db").c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 4096, SEEK_SET);
    for (int i = 0; i < 4 * 4096; ++i) std::fputc((i * 131 + 7) & 0xff, f);
    std::fclose(f);
  }
  c = Backup({.data_dir = damaged, .output = dir + "/from-damaged.db"});
  EXPECT_EQ(c.code, kExitRunFailed) << c.out << c.err;
  EXPECT_NE(c.err.find("backup failed, nothing written"), std::string::npos) << c.err;
  EXPECT_EQ(Names(dir), std::vector<std::string>{"existing.db"});
}

// What `rampart backup` killed mid-copy (SIGKILL: nothing could clean up) leaves: its
// reservation of FILE (the mark and its pid, unlocked now that the process is gone), the
// partial copy and its journal under temporary names. A rerun takes the reservation over,
// removes those temporaries and writes a complete backup that restores.
TEST_F(CliBackupTest, ARerunAfterAKilledBackupReplacesWhatItLeft) {
  const std::string dir = NewDir("backups");
  const std::string file = dir + "/b.db";
  tmp_.Write("backups/b.db", "rampart backup in progress, pid 2147483646\n");
  ::chmod(file.c_str(), 0600);
  tmp_.Write("backups/.b.db.tmp-0123456789ab", "SQLite format 3 partial");
  tmp_.Write("backups/.b.db.tmp-0123456789ab-journal", "journal");
  tmp_.Write("backups/.b.db.tmp-ba9876543210", "rampart backup in progress, pid 2147483646\n");
  tmp_.Write("backups/.other.db.tmp-0123456789ab", "another output's");
  auto c = Backup({.output = file});
  ASSERT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_EQ(Names(dir), (std::vector<std::string>{".other.db.tmp-0123456789ab", "b.db"}));
  EXPECT_EQ(Mode(file), 0600u);
  const std::string target = (tmp_.path() / "restored").string();
  auto r = Restore({.data_dir = target, .backup = file});
  ASSERT_EQ(r.code, kExitOk) << r.out << r.err;
  // The finished backup is a file like any other now: never overwritten.
  c = Backup({.output = file});
  EXPECT_EQ(c.code, kExitInvalid) << c.out << c.err;
  EXPECT_NE(c.err.find("exists"), std::string::npos) << c.err;
}

// A backup to the same FILE that is still running holds its reservation and its copy
// locked (flock): a second one is refused and touches neither. A file that merely looks
// empty or is not ours is never taken over.
TEST_F(CliBackupTest, ALiveBackupToTheSameFileIsRefusedAndKeepsItsFiles) {
  const std::string dir = NewDir("backups");
  const std::string file = dir + "/b.db";
  const std::string mark = "rampart backup in progress, pid " + std::to_string(::getpid()) + "\n";
  tmp_.Write("backups/b.db", mark);
  const std::string temp = tmp_.Write("backups/.b.db.tmp-0123456789ab", "SQLite format 3 partial");
  const int held = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  const int held_temp = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(held, 0);
  ASSERT_GE(held_temp, 0);
  ASSERT_EQ(::flock(held, LOCK_EX | LOCK_NB), 0);
  ASSERT_EQ(::flock(held_temp, LOCK_EX | LOCK_NB), 0);
  auto c = Backup({.output = file});
  EXPECT_EQ(c.code, kExitInvalid) << c.out << c.err;
  EXPECT_NE(c.err.find("another rampart backup to " + file + " is in progress"),
            std::string::npos)
      << c.err;
  EXPECT_EQ(Names(dir), (std::vector<std::string>{".b.db.tmp-0123456789ab", "b.db"}));
  {
    std::ifstream in(file);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), mark);
  }
  // Once that backup is gone (its locks with it), a rerun replaces what it left.
  ::close(held_temp);
  ::close(held);
  c = Backup({.output = file});
  ASSERT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_EQ(Names(dir), std::vector<std::string>{"b.db"});
  // An empty file (as an older rampart's killed backup left) or other text: exists.
  const std::string empty = tmp_.Write("backups/empty.db", "");
  ::chmod(empty.c_str(), 0600);
  c = Backup({.output = empty});
  EXPECT_EQ(c.code, kExitInvalid) << c.out << c.err;
  EXPECT_NE(c.err.find("exists"), std::string::npos) << c.err;
  EXPECT_EQ(std::filesystem::file_size(empty), 0u);
}

TEST_F(CliBackupTest, RestoreInstallsAStoreThatVerifies) {
  const std::string file = NewDir("backups") + "/b.db";
  ASSERT_EQ(Backup({.output = file}).code, kExitOk);
  const std::string target = (tmp_.path() / "restored").string();  // created by restore
  auto c = Restore({.data_dir = target, .backup = file});
  ASSERT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_NE(c.out.find("audit head seq 10"), std::string::npos) << c.out;
  EXPECT_EQ(Names(target), std::vector<std::string>{"rampart.db"});
  EXPECT_EQ(Mode(target + "/rampart.db"), 0600u);
  EXPECT_EQ(Mode(target), 0700u);
  auto v = Verify({.data_dir = target});
  EXPECT_EQ(v.code, kExitOk) << v.out << v.err;
  EXPECT_NE(v.out.find("audit chain intact: 10 events"), std::string::npos) << v.out;
  // A directory that holds a store is refused, the store untouched.
  const auto before = std::filesystem::file_size(target + "/rampart.db");
  c = Restore({.data_dir = target, .backup = file});
  EXPECT_EQ(c.code, kExitInvalid) << c.out << c.err;
  EXPECT_NE(c.err.find("holds a store already"), std::string::npos) << c.err;
  EXPECT_EQ(std::filesystem::file_size(target + "/rampart.db"), before);
  c = Restore({.data_dir = data_, .backup = file});
  EXPECT_EQ(c.code, kExitInvalid) << c.out << c.err;
  // A refusal changes nothing in the directory, its mode included.
  const std::string loose = NewDir("loose");
  tmp_.Write("loose/rampart.db-wal", "");
  ::chmod(loose.c_str(), 0755);
  c = Restore({.data_dir = loose, .backup = file});
  EXPECT_EQ(c.code, kExitInvalid) << c.out << c.err;
  EXPECT_NE(c.err.find("holds a store already (rampart.db-wal)"), std::string::npos) << c.err;
  EXPECT_EQ(Mode(loose), 0755u);
  EXPECT_EQ(Names(loose), std::vector<std::string>{"rampart.db-wal"});
  // A missing backup file is a usage error.
  c = Restore({.data_dir = NewDir("empty"), .backup = file + ".none"});
  EXPECT_EQ(c.code, kExitInvalid) << c.out << c.err;
}

// A restore killed mid-copy leaves its temporary copy in the data directory (nothing is
// installed). The next restore into it (under the directory's flock, so no restore of its
// own is alive) removes it; an unrelated file stays.
TEST_F(CliBackupTest, ARestoreAfterAKilledOneRemovesWhatItLeft) {
  const std::string file = NewDir("backups") + "/b.db";
  ASSERT_EQ(Backup({.output = file}).code, kExitOk);
  const std::string target = NewDir("target");
  tmp_.Write("target/.rampart.db.restore.tmp-0123456789ab", "SQLite format 3 partial");
  tmp_.Write("target/.rampart.db.restore.tmp-0123456789ab-journal", "journal");
  tmp_.Write("target/notes.txt", "the operator's");
  auto c = Restore({.data_dir = target, .backup = file});
  ASSERT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_EQ(Names(target), (std::vector<std::string>{"notes.txt", "rampart.db"}));
}

TEST_F(CliBackupTest, RestoreRefusesALockedDirectoryAndADamagedBackup) {
  const std::string file = NewDir("backups") + "/b.db";
  ASSERT_EQ(Backup({.output = file}).code, kExitOk);
  // A data directory a running serve holds (its flock).
  const std::string locked = NewDir("locked");
  const int fd = ::open(locked.c_str(), O_RDONLY | O_DIRECTORY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX | LOCK_NB), 0);
  auto c = Restore({.data_dir = locked, .backup = file});
  ::close(fd);
  EXPECT_EQ(c.code, kExitInvalid) << c.out << c.err;
  EXPECT_NE(c.err.find("in use by a running rampart serve"), std::string::npos) << c.err;
  EXPECT_TRUE(Names(locked).empty());
  // A truncated backup: refused, nothing left in the directory.
  const std::string truncated = tmp_.path().string() + "/backups/truncated.db";
  std::filesystem::copy_file(file, truncated);
  std::filesystem::resize_file(truncated, std::filesystem::file_size(file) / 2);
  const std::string target = NewDir("target");
  c = Restore({.data_dir = target, .backup = truncated});
  EXPECT_EQ(c.code, kExitRunFailed) << c.out << c.err;
  EXPECT_NE(c.err.find("integrity check failed"), std::string::npos) << c.err;
  EXPECT_TRUE(Names(target).empty());
  // Not a database at all.
  c = Restore({.data_dir = target, .backup = tmp_.Write("backups/text.db", "hello")});
  EXPECT_EQ(c.code, kExitRunFailed) << c.out << c.err;
  EXPECT_TRUE(Names(target).empty());
}

// `rampart users`: the operator's break-glass on the store, with or without a server.
// Org "acme" has two owners (owner@ and other@); other@ is also a developer of "beta";
// owner@ holds two sessions and an API key.
class CliUsersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    data_ = tmp_.path().string();
    auto store = store::OpenSqliteStore({.path = data_ + "/rampart.db", .synchronous_full = false});
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    auto hash = crypto::HashPassword(kOldPassword, SystemRandom());
    ASSERT_TRUE(hash.ok());
    Status st = store_->Write([&](store::Tx& tx) -> Status {
      for (auto [id, slug] : {std::pair{"org_acme", "acme"}, std::pair{"org_beta", "beta"}}) {
        Status s = tx.InsertOrg({.id = id, .slug = slug, .name = slug, .created_at = 1});
        if (!s.ok()) return s;
      }
      for (auto [id, email, created_at] : {std::tuple{"usr_owner", "owner@example.com", 1},
                                           std::tuple{"usr_other", "other@example.com", 2}}) {
        if (Status s = tx.InsertUser({.id = id, .email = email, .password_hash = *hash,
                                      .created_at = created_at});
            !s.ok()) {
          return s;
        }
      }
      for (const store::Membership& m :
           {store::Membership{"org_acme", "usr_owner", "owner", 1},
            store::Membership{"org_acme", "usr_other", "owner", 2},
            store::Membership{"org_beta", "usr_other", "developer", 3}}) {
        if (Status s = tx.UpsertMembership(m); !s.ok()) return s;
      }
      const int64_t far = UnixMillis(SystemClock().Now()) + 86'400'000;
      for (const char* session : {"s1", "s2"}) {
        if (Status s = tx.InsertSession({session, "usr_owner", "c", 1, 1, far, false}); !s.ok()) {
          return s;
        }
      }
      if (Status s = tx.InsertSession({"s3", "usr_other", "c", 1, 1, far, false}); !s.ok()) {
        return s;
      }
      return tx.InsertApiKey({.id = "key_1", .org_id = "org_acme", .user_id = "usr_owner",
                              .name = "ci", .hash = "keyhash", .hint = "rpk_...",
                              .scope = "read", .created_at = 1, .expires_at = std::nullopt,
                              .last_used_at = std::nullopt, .revoked_at = std::nullopt});
    });
    ASSERT_TRUE(st.ok()) << st.error().message;
  }

  Captured List(UsersOptions options) {
    if (options.data_dir.empty()) options.data_dir = data_;
    return Capture([&](auto out, auto err) { return UsersList(options, out, err); });
  }
  // `stdin_text` is what --password-stdin reads (nullptr: no --password-stdin).
  Captured Reset(UsersOptions options, const char* stdin_text) {
    if (options.data_dir.empty()) options.data_dir = data_;
    options.password_stdin = stdin_text != nullptr;
    std::FILE* in = std::tmpfile();
    if (stdin_text != nullptr) std::fputs(stdin_text, in);
    std::rewind(in);
    auto c = Capture([&](auto out, auto err) { return UsersResetPassword(options, in, out, err); });
    std::fclose(in);
    return c;
  }
  Captured SetDisabled(UsersOptions options, bool disabled) {
    if (options.data_dir.empty()) options.data_dir = data_;
    return Capture(
        [&](auto out, auto err) { return UsersSetDisabled(options, disabled, out, err); });
  }
  store::User User(const std::string& id) {
    store::User user;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
                  auto u = tx.GetUser(id);
                  if (!u.ok()) return u.error();
                  user = u->value_or(store::User{});
                  return Status::Ok();
                }).ok());
    return user;
  }
  bool SessionRevoked(const std::string& hash) {
    bool revoked = false;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
                  auto s = tx.GetSession(hash);
                  if (!s.ok()) return s.error();
                  revoked = !s->has_value() || (*s)->revoked;
                  return Status::Ok();
                }).ok());
    return revoked;
  }
  bool KeyRevoked() {
    bool revoked = false;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
                  auto k = tx.GetApiKeyByHash("keyhash");
                  if (!k.ok()) return k.error();
                  revoked = (*k)->revoked_at.has_value();
                  return Status::Ok();
                }).ok());
    return revoked;
  }
  std::vector<store::AuditEvent> Audit() {
    std::vector<store::AuditEvent> events;
    EXPECT_TRUE(store_->Read([&](store::Tx& tx) -> Status {
                  auto all = tx.ListAllAudit(0, 100);
                  if (!all.ok()) return all.error();
                  events = std::move(*all);
                  return Status::Ok();
                }).ok());
    return events;
  }
  void ExpectVerifies() {
    auto v =
        Capture([&](auto out, auto err) { return AuditVerify({.data_dir = data_}, out, err); });
    EXPECT_EQ(v.code, kExitOk) << v.out << v.err;
  }

  static constexpr const char* kOldPassword = "the old password, forgotten";
  TempDir tmp_;
  std::string data_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(CliUsersTest, ListShowsEveryUserWithTheirOrgsAndNeverAHash) {
  auto j = List({.json = true});
  ASSERT_EQ(j.code, kExitOk) << j.out << j.err;
  EXPECT_EQ(j.out.find("argon2"), std::string::npos) << j.out;
  EXPECT_EQ(j.out.find("password_hash"), std::string::npos) << j.out;
  auto parsed = boost::json::parse(j.out);
  const auto& users = parsed.as_object().at("users").as_array();
  ASSERT_EQ(users.size(), 2u);
  const auto& owner = users[0].as_object();
  EXPECT_EQ(owner.at("id").as_string(), "usr_owner");
  EXPECT_EQ(owner.at("email").as_string(), "owner@example.com");
  EXPECT_FALSE(owner.at("disabled").as_bool());
  EXPECT_FALSE(owner.at("must_change_password").as_bool());
  EXPECT_EQ(owner.at("created_at").as_string(), FormatRfc3339Millis(1));
  const auto& orgs = users[1].as_object().at("orgs").as_array();
  ASSERT_EQ(orgs.size(), 2u);
  EXPECT_EQ(orgs[0].at("org_id").as_string(), "org_acme");
  EXPECT_EQ(orgs[0].at("slug").as_string(), "acme");
  EXPECT_EQ(orgs[0].at("role").as_string(), "owner");
  EXPECT_EQ(orgs[1].at("slug").as_string(), "beta");
  EXPECT_EQ(orgs[1].at("role").as_string(), "developer");
  // The table: one line per user, with their orgs.
  auto t = List({});
  ASSERT_EQ(t.code, kExitOk) << t.out << t.err;
  EXPECT_EQ(t.out.find("argon2"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("usr_other  other@example.com"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("acme (org_acme) owner, beta (org_beta) developer"), std::string::npos)
      << t.out;
  // Listing writes nothing: the audit stays empty.
  EXPECT_TRUE(Audit().empty());
  EXPECT_EQ(List({.data_dir = data_ + "/nothing"}).code, kExitInvalid);
}

TEST_F(CliUsersTest, ResetPasswordFromStdinEndsSessionsAndIsAudited) {
  const std::string next = "a brand new password 42";
  auto c = Reset({.email = "Owner@Example.com"}, (next + "\n").c_str());
  ASSERT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_EQ(c.out.find(next), std::string::npos);
  EXPECT_EQ(c.err.find(next), std::string::npos);
  EXPECT_NE(c.out.find("2 sessions revoked"), std::string::npos) << c.out;
  const store::User user = User("usr_owner");
  EXPECT_TRUE(crypto::VerifyPassword(user.password_hash, next));
  EXPECT_FALSE(crypto::VerifyPassword(user.password_hash, kOldPassword));
  EXPECT_TRUE(user.must_change_password);
  EXPECT_TRUE(SessionRevoked("s1"));
  EXPECT_TRUE(SessionRevoked("s2"));
  EXPECT_FALSE(SessionRevoked("s3"));  // another user's
  EXPECT_FALSE(KeyRevoked());          // API keys are not derived from the password
  auto events = Audit();
  ASSERT_EQ(events.size(), 1u);  // owner@ is a member of one org
  EXPECT_EQ(events[0].action, "user.password_reset");
  EXPECT_EQ(events[0].actor, "cli");
  EXPECT_EQ(events[0].target, "usr_owner");
  EXPECT_EQ(events[0].org_id, "org_acme");
  EXPECT_EQ(events[0].outcome, "success");
  EXPECT_EQ(events[0].details, R"({"revoked_sessions":2})");
  ExpectVerifies();
}

TEST_F(CliUsersTest, ResetPasswordRefusesWhatTheApiRefuses) {
  const std::string before = User("usr_owner").password_hash;
  // Too short (the API's policy): 1, nothing changed, nothing audited.
  auto c = Reset({.email = "owner@example.com"}, "short\n");
  EXPECT_EQ(c.code, kExitRunFailed) << c.out << c.err;
  EXPECT_NE(c.err.find("at least 12 characters"), std::string::npos) << c.err;
  EXPECT_EQ(c.err.find("short"), std::string::npos) << c.err;
  c = Reset({.email = "owner@example.com"}, (std::string(1025, 'x') + "\n").c_str());
  EXPECT_EQ(c.code, kExitRunFailed) << c.out << c.err;
  c = Reset({.email = "owner@example.com"}, "");
  EXPECT_EQ(c.code, kExitRunFailed) << c.out << c.err;
  EXPECT_EQ(User("usr_owner").password_hash, before);
  EXPECT_FALSE(SessionRevoked("s1"));
  // No such user: 1.
  c = Reset({.email = "nobody@example.com"}, "a brand new password 42\n");
  EXPECT_EQ(c.code, kExitRunFailed) << c.out << c.err;
  EXPECT_NE(c.err.find("no user with the email nobody@example.com"), std::string::npos) << c.err;
  // Usage: no --email, no store.
  EXPECT_EQ(Reset({}, "a brand new password 42\n").code, kExitInvalid);
  EXPECT_EQ(Reset({.data_dir = data_ + "/nothing", .email = "owner@example.com"},
                  "a brand new password 42\n")
                .code,
            kExitInvalid);
  EXPECT_FALSE(std::filesystem::exists(data_ + "/nothing"));
  EXPECT_TRUE(Audit().empty());
}

TEST_F(CliUsersTest, ResetPasswordWithoutStdinPrintsAGeneratedOneOnce) {
  auto c = Reset({.email = "other@example.com"}, nullptr);
  ASSERT_EQ(c.code, kExitOk) << c.out << c.err;
  // stdout is the password alone, one line; what happened goes to stderr.
  ASSERT_FALSE(c.out.empty());
  ASSERT_EQ(c.out.find('\n'), c.out.size() - 1) << c.out;
  const std::string generated = c.out.substr(0, c.out.size() - 1);
  EXPECT_GE(generated.size(), 20u);
  EXPECT_EQ(c.err.find(generated), std::string::npos);
  EXPECT_NE(c.err.find("1 session revoked"), std::string::npos) << c.err;
  const store::User user = User("usr_other");
  EXPECT_TRUE(crypto::VerifyPassword(user.password_hash, generated));
  EXPECT_TRUE(user.must_change_password);
  EXPECT_TRUE(SessionRevoked("s3"));
  // One event in each org of the user; none carries the password.
  auto events = Audit();
  ASSERT_EQ(events.size(), 2u);
  for (const auto& e : events) {
    EXPECT_EQ(e.action, "user.password_reset");
    EXPECT_EQ(e.details.find(generated), std::string::npos);
  }
  // Two resets never give the same password.
  auto again = Reset({.email = "other@example.com"}, nullptr);
  ASSERT_EQ(again.code, kExitOk) << again.err;
  EXPECT_NE(again.out, c.out);
  ExpectVerifies();
}

TEST_F(CliUsersTest, DisableAndEnableAsTheApiDoes) {
  auto c = SetDisabled({.email = "owner@example.com"}, true);
  ASSERT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_TRUE(User("usr_owner").disabled);
  EXPECT_TRUE(SessionRevoked("s1"));
  EXPECT_TRUE(KeyRevoked());
  auto events = Audit();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action, "user.disable");
  EXPECT_EQ(events[0].actor, "cli");
  EXPECT_EQ(events[0].target, "usr_owner");
  EXPECT_EQ(events[0].details, R"({"revoked_sessions":2,"revoked_api_keys":1})");
  c = SetDisabled({.email = "owner@example.com"}, false);
  ASSERT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_FALSE(User("usr_owner").disabled);
  EXPECT_TRUE(KeyRevoked());  // what disabling revoked stays revoked
  events = Audit();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].action, "user.enable");
  EXPECT_EQ(events[1].actor, "cli");
  EXPECT_EQ(SetDisabled({.email = "nobody@example.com"}, false).code, kExitRunFailed);
  EXPECT_EQ(SetDisabled({}, false).code, kExitInvalid);
  EXPECT_EQ(SetDisabled({.data_dir = data_ + "/nothing", .email = "owner@example.com"}, true).code,
            kExitInvalid);
  ExpectVerifies();
}

// A store one schema step older than this binary, as an older `rampart serve` left it, with
// one user in one org. The commands other than serve migrate it only when no serve holds the
// data directory: an older serve would go on writing to a schema it does not know.
class CliOlderStoreTest : public ::testing::Test {
 protected:
  static constexpr const char* kRefusal =
      "and a running rampart serve holds it; upgrade and restart serve first (it migrates at "
      "start), then run this command";

  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    ::unsetenv("RAMPART_PREVIOUS_MASTER_KEY");
    ::setenv("RAMPART_MASTER_KEY", "the master key of this test, 32+ characters", 1);
    data_ = tmp_.path().string();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    ASSERT_TRUE(store::ApplyMigrationsUpToForTest(db, older_).ok());
    ASSERT_EQ(sqlite3_exec(db,
                           "INSERT INTO orgs (id, slug, name, max_concurrent_runs, created_at) "
                           "VALUES ('org_a', 'a', 'A', 10, 1);"
                           "INSERT INTO users (id, email, password_hash, created_at) "
                           "VALUES ('usr_a', 'a@example.com', 'x', 1);"
                           "INSERT INTO memberships (org_id, user_id, role, created_at) "
                           "VALUES ('org_a', 'usr_a', 'owner', 1);",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  void TearDown() override { ::unsetenv("RAMPART_MASTER_KEY"); }

  std::string db_path() const { return data_ + "/rampart.db"; }
  // One integer from the store, read without migrating it.
  int64_t Query(const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    int64_t value = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      value = sqlite3_column_int64(stmt, 0);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return value;
  }
  int64_t Version() { return Query("PRAGMA user_version"); }
  int64_t AuditEvents() { return Query("SELECT count(*) FROM audit_events"); }
  int64_t Disabled() { return Query("SELECT disabled FROM users WHERE id = 'usr_a'"); }
  // The flock a running `rampart serve` holds on the data directory.
  void HoldAsServe() {
    auto lock = DataDirLock::Take(data_);
    ASSERT_TRUE(lock.ok()) << lock.error().message;
    serve_.emplace(std::move(lock).value());
  }
  Captured Disable() {
    return Capture([&](auto out, auto err) {
      return UsersSetDisabled({.data_dir = data_, .email = "a@example.com"}, true, out, err);
    });
  }

  TempDir tmp_;
  std::string data_;
  const int older_ = store::SqliteSchemaVersion() - 1;
  std::optional<DataDirLock> serve_;
};

TEST_F(CliOlderStoreTest, BesideARunningServeNoCommandMigratesIt) {
  HoldAsServe();
  const int64_t events = AuditEvents();
  const std::string refusal = "the store is at schema " + std::to_string(older_) + " " + kRefusal;
  std::FILE* in = std::tmpfile();
  std::fputs("a new password, long enough\n", in);
  std::rewind(in);
  const std::vector<std::pair<std::string, Captured>> runs = {
      {"users list",
       Capture([&](auto out, auto err) { return UsersList({.data_dir = data_}, out, err); })},
      {"users disable", Disable()},
      {"users reset-password", Capture([&](auto out, auto err) {
         return UsersResetPassword(
             {.data_dir = data_, .email = "a@example.com", .password_stdin = true}, in, out, err);
       })},
      {"keys rotate", Capture([&](auto out, auto err) {
         return KeysRotate({.config = "", .data_dir = data_}, out, err);
       })},
      {"keys rewrap", Capture([&](auto out, auto err) {
         return KeysRewrap({.config = "", .data_dir = data_}, out, err);
       })},
      {"audit verify",
       Capture([&](auto out, auto err) { return AuditVerify({.data_dir = data_}, out, err); })}};
  std::fclose(in);
  for (const auto& [command, c] : runs) {
    EXPECT_EQ(c.code, kExitInvalid) << command << ": " << c.out << c.err;
    EXPECT_NE(c.err.find(refusal), std::string::npos) << command << ": " << c.err;
    EXPECT_TRUE(c.out.empty()) << command << ": " << c.out;
  }
  EXPECT_EQ(Version(), older_);
  EXPECT_EQ(AuditEvents(), events);
  EXPECT_EQ(Disabled(), 0);
  // A backup still copies it, and skips its audit event as before (it never migrates).
  auto b = Capture([&](auto out, auto err) {
    return cli::Backup({.data_dir = data_, .output = data_ + "/backup.db"}, out, err);
  });
  EXPECT_EQ(b.code, kExitOk) << b.out << b.err;
  EXPECT_NE(b.err.find("no backup.create audit event"), std::string::npos) << b.err;
  EXPECT_EQ(Version(), older_);
  EXPECT_EQ(AuditEvents(), events);
}

TEST_F(CliOlderStoreTest, WithoutAServeACommandMigratesItAndWorks) {
  const int64_t events = AuditEvents();
  auto c = Disable();
  EXPECT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_EQ(Version(), store::SqliteSchemaVersion());
  EXPECT_EQ(Disabled(), 1);
  EXPECT_EQ(AuditEvents(), events + 1);  // user.disable in org_a
  // The command held the directory only while it migrated: a serve can start now.
  EXPECT_TRUE(DataDirLock::Take(data_).ok());
}

TEST_F(CliOlderStoreTest, BesideARunningServeACurrentStoreIsOpened) {
  ASSERT_TRUE(store::OpenSqliteStore({.path = db_path(), .read_connections = 1}).ok());
  ASSERT_EQ(Version(), store::SqliteSchemaVersion());
  HoldAsServe();
  const int64_t events = AuditEvents();
  auto c = Disable();
  EXPECT_EQ(c.code, kExitOk) << c.out << c.err;
  EXPECT_EQ(Disabled(), 1);
  EXPECT_EQ(AuditEvents(), events + 1);
  auto v = Capture([&](auto out, auto err) { return AuditVerify({.data_dir = data_}, out, err); });
  EXPECT_EQ(v.code, kExitOk) << v.out << v.err;
}

}  // namespace
}  // namespace rampart::cli
