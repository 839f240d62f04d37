// Audit retention (ASVS V14.2.4): the sweep purges a prefix of the chain behind a signed
// checkpoint, and every other way of removing events - a raw DELETE, deleting past the
// checkpoint, forging or altering the checkpoint, a checkpoint signed by another master
// key - is refused by the store or reported broken by Verify.
#include "rampart/audit/retention.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "rampart/audit/chain.h"
#include "rampart/audit/checkpoint.h"
#include "rampart/core/json.h"
#include "rampart/store/store.h"
#include "store/store_test_util.h"

namespace rampart::audit {
namespace {

using store::AuditEvent;
using store::testing::ReadWith;
using store::testing::TempDir;
using store::testing::WriteWith;

constexpr int64_t kDay = 86'400'000;
// 2030-01-01T00:00:00Z.
constexpr int64_t kNow = 1'893'456'000'000;

class SetClock final : public Clock {
 public:
  explicit SetClock(int64_t now_ms) : now_ms_(now_ms) {}
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms_));
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(now_ms_));
  }
  void SleepFor(std::chrono::nanoseconds) override {}
  void Set(int64_t now_ms) { now_ms_ = now_ms; }

 private:
  int64_t now_ms_;
};

const std::string kMasterKey = "a master key of at least thirty-two characters";
const std::string kOtherMasterKey = "another master key, also at least 32 characters";

class AuditRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    store_.reset();
    store::SqliteOptions options;
    options.path = path();
    options.synchronous_full = false;
    auto opened = store::OpenSqliteStore(options);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }

  std::string path() const { return dir_.path() + "/rampart.db"; }

  // Appends one event per time, in order.
  void AppendAt(const std::vector<int64_t>& times) {
    for (int64_t time : times) {
      AuditEvent event;
      event.time = time;
      event.org_id = "org_a";
      event.actor = "user:usr_a";
      event.action = "login";
      event.outcome = "success";
      event.details = "{}";
      auto appended = WriteWith(*store_, [&](store::Tx& tx) { return tx.AppendAudit(event); });
      ASSERT_TRUE(appended.ok()) << appended.error().message;
    }
  }
  // `count` events, `age_days` old at kNow.
  void AppendOld(int count, int age_days) {
    AppendAt(std::vector<int64_t>(static_cast<size_t>(count), kNow - age_days * kDay));
  }

  AuditRetentionOptions Options(int batch = 1000) {
    AuditRetentionOptions options;
    options.retention_days = 30;
    options.batch = batch;
    options.checkpoint_key = CheckpointKey(kMasterKey);
    return options;
  }

  Result<int64_t> Sweep(AuditRetentionOptions options) {
    AuditRetention retention(*store_, clock_, std::move(options));
    return retention.RunOnce();
  }

  VerifyReport VerifyWith(std::vector<std::string> keys) {
    auto report = Verify(*store_, {.checkpoint_keys = std::move(keys)});
    EXPECT_TRUE(report.ok());
    return report.ok() ? *report : VerifyReport{};
  }
  VerifyReport VerifyWithKey() { return VerifyWith({CheckpointKey(kMasterKey)}); }

  std::vector<AuditEvent> Events() {
    auto events = ReadWith(*store_, [](store::Tx& tx) { return tx.ListAllAudit(0, 100000); });
    EXPECT_TRUE(events.ok());
    return events.ok() ? *events : std::vector<AuditEvent>{};
  }

  std::optional<std::string> Setting(const char* key) {
    auto value = ReadWith(*store_, [&](store::Tx& tx) { return tx.GetSetting(key); });
    EXPECT_TRUE(value.ok());
    return value.ok() ? *value : std::nullopt;
  }
  void PutSetting(const char* key, const std::string& value) {
    ASSERT_TRUE(WriteWith(*store_, [&](store::Tx& tx) { return tx.PutSetting(key, value); }).ok());
  }
  Checkpoint StoredCheckpoint() {
    auto text = Setting(kCheckpointSettingKey);
    EXPECT_TRUE(text.has_value());
    auto checkpoint = ParseCheckpoint(text.value_or(""));
    EXPECT_TRUE(checkpoint.has_value());
    return checkpoint.value_or(Checkpoint{});
  }

  // Closes the store, runs `sql` on the file directly (as an attacker with file access
  // would), reopens. Returns SQLite's result code.
  int Tamper(const std::string& sql, bool drop_triggers) {
    store_.reset();
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    if (drop_triggers) {
      EXPECT_EQ(sqlite3_exec(db,
                             "DROP TRIGGER audit_events_no_update;"
                             "DROP TRIGGER audit_events_no_delete;",
                             nullptr, nullptr, nullptr),
                SQLITE_OK);
    }
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    sqlite3_close(db);
    Open();
    return rc;
  }

  // 50 events 40 days old, then 5 from yesterday; the sweep purges the 50.
  void PurgeFifty() {
    AppendOld(50, 40);
    AppendOld(5, 1);
    auto purged = Sweep(Options());
    ASSERT_TRUE(purged.ok()) << purged.error().message;
    ASSERT_EQ(*purged, 50);
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  SetClock clock_{kNow};
};

TEST_F(AuditRetentionTest, PurgesTheOldPrefixBehindASignedCheckpointAndStaysVerifiable) {
  PurgeFifty();
  std::vector<AuditEvent> events = Events();
  ASSERT_EQ(events.size(), 6u);  // the 5 recent ones and audit.purged
  EXPECT_EQ(events.front().seq, 51);
  const Checkpoint checkpoint = StoredCheckpoint();
  EXPECT_EQ(checkpoint.seq, 50);
  EXPECT_EQ(checkpoint.hash, events.front().prev_hash);
  EXPECT_EQ(checkpoint.time, kNow);

  const AuditEvent& purged = events.back();
  EXPECT_EQ(purged.seq, 56);
  EXPECT_EQ(purged.action, "audit.purged");
  EXPECT_EQ(purged.actor, "system");
  EXPECT_EQ(purged.org_id, "");
  auto details = json::Parse(purged.details);
  ASSERT_TRUE(details.ok());
  const auto& d = details->as_object();
  EXPECT_EQ(d.size(), 3u);  // count, cutoff, checkpoint_seq: no event contents
  EXPECT_EQ(d.at("count").as_int64(), 50);
  EXPECT_EQ(d.at("checkpoint_seq").as_int64(), 50);
  EXPECT_EQ(d.at("cutoff").as_string(), "2029-12-02T00:00:00.000Z");

  VerifyReport report = VerifyWithKey();
  EXPECT_TRUE(report.intact) << report.reason;
  EXPECT_EQ(report.events, 6);
  EXPECT_EQ(report.checkpoint_seq, 50);

  // Nothing more is due: a second sweep purges nothing and changes nothing.
  auto again = Sweep(Options());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(Events().size(), 6u);
}

TEST_F(AuditRetentionTest, BatchesAreBoundedAndEachOneIsACheckpointAndAnEvent) {
  AppendOld(50, 40);
  auto purged = Sweep(Options(/*batch=*/7));
  ASSERT_TRUE(purged.ok()) << purged.error().message;
  EXPECT_EQ(*purged, 50);
  // 7 batches of 7 and one of 1, each appending its audit.purged event.
  std::vector<AuditEvent> events = Events();
  ASSERT_EQ(events.size(), 8u);
  for (const AuditEvent& event : events) EXPECT_EQ(event.action, "audit.purged");
  EXPECT_EQ(StoredCheckpoint().seq, 50);
  VerifyReport report = VerifyWithKey();
  EXPECT_TRUE(report.intact) << report.reason;
}

TEST_F(AuditRetentionTest, VerifyWithoutTheMasterKeyNeverClaimsIntact) {
  PurgeFifty();
  VerifyReport report = VerifyWith({});
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.reason, kCheckpointNeedsKey);
  EXPECT_EQ(report.first_bad_seq, 51);
}

TEST_F(AuditRetentionTest, RawDeleteOutsideAPurgeStillAborts) {
  AppendOld(5, 40);
  // Before any purge: nothing may be deleted.
  EXPECT_NE(Tamper("DELETE FROM audit_events WHERE seq = 1", false), SQLITE_OK);
  // A writer that records its own checkpoint setting first widens the trigger only when
  // the value starts "v1:<digits>"; anything else covers nothing.
  for (const char* value : {"v1:x999:", "v2:999:", "999", "v1:-999:", ":v1:999:", "V1:999:"}) {
    EXPECT_NE(Tamper(std::string("BEGIN; INSERT OR REPLACE INTO settings VALUES "
                                 "('audit.checkpoint', '") +
                         value + "'); DELETE FROM audit_events WHERE seq = 1; COMMIT;",
                     false),
              SQLITE_OK)
        << value;
  }
  EXPECT_EQ(Events().size(), 5u);
  EXPECT_TRUE(VerifyWithKey().intact);
}

TEST_F(AuditRetentionTest, RawDeleteAfterAPurgeStillAbortsPastTheCheckpoint) {
  PurgeFifty();
  EXPECT_NE(Tamper("DELETE FROM audit_events WHERE seq = 51", false), SQLITE_OK);
  EXPECT_NE(Tamper("DELETE FROM audit_events WHERE seq = 56", false), SQLITE_OK);
  EXPECT_NE(Tamper("DELETE FROM audit_events", false), SQLITE_OK);
  EXPECT_EQ(Events().size(), 6u);
  EXPECT_TRUE(VerifyWithKey().intact);
}

TEST_F(AuditRetentionTest, StoreRefusesDeletingPastTheCheckpoint) {
  PurgeFifty();
  auto deleted = WriteWith(*store_, [](store::Tx& tx) { return tx.DeleteAuditThrough(51); });
  EXPECT_FALSE(deleted.ok());
  EXPECT_EQ(Events().size(), 6u);
}

TEST_F(AuditRetentionTest, DeletingEventsAfterAPurgeIsBroken) {
  PurgeFifty();
  ASSERT_EQ(Tamper("DELETE FROM audit_events WHERE seq <= 52", true), SQLITE_OK);
  VerifyReport report = VerifyWithKey();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.reason, "events deleted beyond the checkpoint (it does not meet the first event)");
  EXPECT_EQ(report.first_bad_seq, 53);
  ASSERT_TRUE(report.first_bad_event.has_value());
  EXPECT_EQ(report.first_bad_event->seq, 53);
}

TEST_F(AuditRetentionTest, DeletingEverythingAfterTheCheckpointIsBroken) {
  PurgeFifty();
  ASSERT_EQ(Tamper("DELETE FROM audit_events; DELETE FROM settings WHERE key = 'audit.head'", true),
            SQLITE_OK);
  VerifyReport report = VerifyWithKey();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.reason, "no event after the checkpoint");
}

TEST_F(AuditRetentionTest, ForgedCheckpointWithADeletionIsBroken) {
  AppendOld(20, 40);
  const std::vector<AuditEvent> events = Events();
  // Someone with write access to the file records a checkpoint, which the trigger honours,
  // and deletes behind it; without the master key they cannot sign it.
  Checkpoint forged = SignCheckpoint(10, events[9].hash, kNow, "a guessed key");
  ASSERT_EQ(Tamper("BEGIN; INSERT OR REPLACE INTO settings VALUES ('audit.checkpoint', '" +
                       FormatCheckpoint(forged) +
                       "'); DELETE FROM audit_events WHERE seq <= 10; COMMIT;",
                   false),
            SQLITE_OK);
  EXPECT_EQ(Events().size(), 10u);
  VerifyReport report = VerifyWithKey();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.reason, "checkpoint signature invalid (forged or altered checkpoint)");
  EXPECT_EQ(report.first_bad_seq, 11);
}

TEST_F(AuditRetentionTest, DeletedPrefixWithoutACheckpointIsBroken) {
  AppendOld(20, 40);
  ASSERT_EQ(Tamper("DELETE FROM audit_events WHERE seq <= 10", true), SQLITE_OK);
  VerifyReport report = VerifyWithKey();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.reason, "gap in sequence");
  EXPECT_EQ(report.first_bad_seq, 11);
}

TEST_F(AuditRetentionTest, RemovedCheckpointIsBroken) {
  PurgeFifty();
  ASSERT_EQ(Tamper("DELETE FROM settings WHERE key = 'audit.checkpoint'", true), SQLITE_OK);
  VerifyReport report = VerifyWithKey();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.reason, "gap in sequence");
  EXPECT_EQ(report.first_bad_seq, 51);
}

TEST_F(AuditRetentionTest, AlteredCheckpointIsBroken) {
  PurgeFifty();
  const Checkpoint good = StoredCheckpoint();
  const std::vector<AuditEvent> events = Events();
  auto expect_broken = [&](const Checkpoint& altered, const char* what) {
    PutSetting(kCheckpointSettingKey, FormatCheckpoint(altered));
    VerifyReport report = VerifyWithKey();
    EXPECT_FALSE(report.intact) << what;
    EXPECT_EQ(report.reason, "checkpoint signature invalid (forged or altered checkpoint)") << what;
    EXPECT_EQ(report.first_bad_seq, 51) << what;
  };
  Checkpoint c = good;
  c.hash[0] = c.hash[0] == 'a' ? 'b' : 'a';
  expect_broken(c, "hash");
  c = good;
  c.seq = 49;
  expect_broken(c, "seq");
  c = good;
  c.time += 1;
  expect_broken(c, "time");
  c = good;
  c.mac[63] = c.mac[63] == '0' ? '1' : '0';
  expect_broken(c, "mac");

  PutSetting(kCheckpointSettingKey, "v1:50:" + good.hash);
  VerifyReport report = VerifyWithKey();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.reason, "checkpoint malformed");

  PutSetting(kCheckpointSettingKey, FormatCheckpoint(good));
  EXPECT_TRUE(VerifyWithKey().intact);
}

TEST_F(AuditRetentionTest, CheckpointSignedWithAnotherMasterKeyIsBroken) {
  AppendOld(50, 40);
  AuditRetentionOptions options = Options();
  options.checkpoint_key = CheckpointKey(kOtherMasterKey);
  ASSERT_TRUE(Sweep(options).ok());
  VerifyReport report = VerifyWithKey();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.reason, "checkpoint signature invalid (forged or altered checkpoint)");
  // And the sweep of the real key refuses to build on it.
  AppendOld(1, 40);
  auto swept = Sweep(Options());
  ASSERT_FALSE(swept.ok());
  EXPECT_EQ(swept.error().code, ErrorCode::kInternal);
}

TEST_F(AuditRetentionTest, AValidlySignedCheckpointThatDoesNotMeetTheChainIsBroken) {
  PurgeFifty();
  const Checkpoint good = StoredCheckpoint();
  // Even someone holding the key cannot move the start without it showing.
  PutSetting(kCheckpointSettingKey,
             FormatCheckpoint(SignCheckpoint(49, good.hash, good.time, CheckpointKey(kMasterKey))));
  VerifyReport report = VerifyWithKey();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.reason, "events deleted beyond the checkpoint (it does not meet the first event)");
}

TEST_F(AuditRetentionTest, MaxPurgeSeqBoundsThePurge) {
  AppendOld(50, 40);
  AuditRetentionOptions options = Options();
  options.max_purge_seq = [] { return std::optional<int64_t>(20); };
  auto purged = Sweep(options);
  ASSERT_TRUE(purged.ok()) << purged.error().message;
  EXPECT_EQ(*purged, 20);
  EXPECT_EQ(Events().front().seq, 21);

  // Nothing acknowledged yet: nothing purged.
  options.max_purge_seq = [] { return std::optional<int64_t>(); };
  purged = Sweep(options);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 0);
  EXPECT_EQ(Events().front().seq, 21);

  options.max_purge_seq = [] { return std::optional<int64_t>(1000); };
  purged = Sweep(options);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 30);  // 21..50; the audit.purged event (51) is recent
  EXPECT_EQ(Events().front().seq, 51);
  EXPECT_TRUE(VerifyWithKey().intact);
}

TEST_F(AuditRetentionTest, OnlyAPrefixGoesAndNothingNewerThanTheCutoff) {
  // The clock jumped far ahead for event 4, then back: events 5..6 are old again, but
  // they come after an event that is not due, so they stay (never a hole).
  const int64_t far = kNow + 36500 * kDay;
  AppendAt({kNow - 40 * kDay, kNow - 40 * kDay, kNow - 40 * kDay, far, kNow - 40 * kDay,
            kNow - 40 * kDay});
  clock_.Set(kNow);
  auto purged = Sweep(Options());
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 3);
  EXPECT_EQ(Events().front().seq, 4);

  // A clock far in the future purges what is before its cutoff, nothing newer than it.
  clock_.Set(far + 10 * kDay);
  purged = Sweep(Options());
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 0);  // event 4 is 10 days old at that clock: the prefix stops there
  for (const AuditEvent& event : Events()) EXPECT_TRUE(event.seq >= 4) << event.seq;
  EXPECT_TRUE(VerifyWithKey().intact);
}

TEST_F(AuditRetentionTest, RestartKeepsTheCheckpointAndTheNextPurgeContinuesFromIt) {
  PurgeFifty();
  const std::string before = Setting(kCheckpointSettingKey).value_or("");
  Open();
  EXPECT_EQ(Setting(kCheckpointSettingKey).value_or(""), before);
  EXPECT_TRUE(VerifyWithKey().intact);

  // 40 days later the rest is due too, including the first audit.purged event.
  clock_.Set(kNow + 40 * kDay);
  auto purged = Sweep(Options());
  ASSERT_TRUE(purged.ok()) << purged.error().message;
  EXPECT_EQ(*purged, 6);
  EXPECT_EQ(StoredCheckpoint().seq, 56);
  std::vector<AuditEvent> events = Events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events.front().seq, 57);
  EXPECT_TRUE(VerifyWithKey().intact);
  // An append after restart continues the chain.
  Open();
  AppendOld(1, 0);
  VerifyReport report = VerifyWithKey();
  EXPECT_TRUE(report.intact) << report.reason;
  EXPECT_EQ(report.events, 2);
}

TEST_F(AuditRetentionTest, ABrokenChainIsNeverPurged) {
  AppendOld(10, 40);
  ASSERT_EQ(Tamper("UPDATE audit_events SET outcome = 'failure' WHERE seq = 3", true), SQLITE_OK);
  auto swept = Sweep(Options());
  ASSERT_FALSE(swept.ok());
  EXPECT_EQ(swept.error().code, ErrorCode::kInternal);
  EXPECT_NE(swept.error().message.find("broken at event 3"), std::string::npos);
  EXPECT_EQ(Events().size(), 10u);
  EXPECT_FALSE(Setting(kCheckpointSettingKey).has_value());
}

TEST_F(AuditRetentionTest, ACheckpointOfAPreviousMasterKeyIsAcceptedAndReSigned) {
  AppendOld(50, 40);
  AuditRetentionOptions old_key = Options();
  old_key.checkpoint_key = CheckpointKey(kOtherMasterKey);
  ASSERT_TRUE(Sweep(old_key).ok());
  // The master key was replaced: the old one is a previous key now.
  AuditRetentionOptions options = Options();
  options.previous_checkpoint_keys = {CheckpointKey(kOtherMasterKey)};
  auto swept = Sweep(options);
  ASSERT_TRUE(swept.ok()) << swept.error().message;
  EXPECT_EQ(*swept, 0);
  VerifyReport report = VerifyWithKey();
  EXPECT_TRUE(report.intact) << report.reason;
}

TEST_F(AuditRetentionTest, OffOrWithoutAKeyPurgesNothing) {
  AppendOld(5, 40);
  AuditRetentionOptions off = Options();
  off.retention_days = 0;
  auto swept = Sweep(off);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(*swept, 0);
  AuditRetentionOptions keyless = Options();
  keyless.checkpoint_key.clear();
  EXPECT_FALSE(Sweep(keyless).ok());
  EXPECT_EQ(Events().size(), 5u);
}

TEST_F(AuditRetentionTest, ListAuditAfterAPurgedSeqStartsAtTheOldestKept) {
  PurgeFifty();
  auto listed = ReadWith(*store_, [](store::Tx& tx) { return tx.ListAudit("org_a", 10, 3); });
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ(listed->front().seq, 51);
}

TEST(AuditCheckpointTest, FormatParseAndMac) {
  const std::string key = CheckpointKey(kMasterKey);
  EXPECT_EQ(key.size(), 32u);
  EXPECT_NE(key, CheckpointKey(kOtherMasterKey));
  const Checkpoint c = SignCheckpoint(7, std::string(64, 'a'), 123, key);
  auto parsed = ParseCheckpoint(FormatCheckpoint(c));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->seq, 7);
  EXPECT_EQ(parsed->hash, c.hash);
  EXPECT_EQ(parsed->time, 123);
  EXPECT_EQ(parsed->mac, c.mac);
  EXPECT_TRUE(CheckpointMacValid(*parsed, key));
  EXPECT_FALSE(CheckpointMacValid(*parsed, CheckpointKey(kOtherMasterKey)));
  EXPECT_EQ(FormatCheckpoint(c), "v1:7:" + c.hash + ":123:" + c.mac);
  const std::string h(64, 'a');
  for (const std::string& bad : std::vector<std::string>{
           "", "v1", "v1::::", "v2:7:" + h + ":1:" + h, "v1:0:" + h + ":1:" + h,
           "v1:07:" + h + ":1:" + h, "v1:-7:" + h + ":1:" + h, "v1:+7:" + h + ":1:" + h,
           "v1:7:ab:1:" + h, "v1:7:" + h + ":-1:" + h, "v1:7:" + h + ": 1:" + h,
           "v1:7:" + h + ":1:" + std::string(64, 'A'), "v1:7:" + h + ":1:" + h + ":",
           "v1:7:" + h + ":1:" + h + "0", "v1:99999999999999999999:" + h + ":1:" + h}) {
    EXPECT_FALSE(ParseCheckpoint(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace rampart::audit
