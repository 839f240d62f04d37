#include "rampart/audit/chain.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <future>
#include <memory>
#include <string>
#include <vector>

#include "rampart/store/store.h"
#include "store/store_test_util.h"

namespace rampart::audit {
namespace {

using store::AuditEvent;
using store::testing::ReadWith;
using store::testing::TempDir;
using store::testing::WriteWith;

class AuditChainTest : public ::testing::Test {
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

  static AuditEvent MakeEvent(int i) {
    AuditEvent event;
    event.time = 1000 + i;
    event.org_id = i % 2 == 0 ? "org_a" : "org_b";
    event.actor = "user:usr_" + std::to_string(i);
    event.action = "api_key.create";
    event.target = "key_" + std::to_string(i);
    event.outcome = "success";
    event.source_ip = "192.0.2.1";
    event.user_agent = "test";
    event.details = R"({"n":)" + std::to_string(i) + "}";
    return event;
  }

  void AppendEvents(int count) {
    for (int i = 1; i <= count; ++i) {
      auto appended = WriteWith(*store_, [&](store::Tx& tx) { return tx.AppendAudit(MakeEvent(i)); });
      ASSERT_TRUE(appended.ok()) << appended.error().message;
      ASSERT_EQ(appended->seq, i);
    }
  }

  VerifyReport VerifyOk() {
    auto report = Verify(*store_);
    EXPECT_TRUE(report.ok());
    return report.ok() ? *report : VerifyReport{};
  }

  // Closes the store, runs `sql` on the file directly (as an attacker with file access
  // would), reopens. Returns SQLite's result code.
  int Tamper(const std::string& sql, bool drop_triggers = true) {
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

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(AuditChainTest, EmptyChainIsIntact) {
  VerifyReport report = VerifyOk();
  EXPECT_TRUE(report.intact);
  EXPECT_EQ(report.events, 0);
}

TEST_F(AuditChainTest, AppendChainsEventsAndVerifies) {
  AppendEvents(100);
  auto events = ReadWith(*store_, [](store::Tx& tx) { return tx.ListAllAudit(0, 1000); });
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 100u);
  EXPECT_EQ((*events)[0].prev_hash, kGenesisHash);
  EXPECT_EQ((*events)[1].prev_hash, (*events)[0].hash);
  EXPECT_EQ((*events)[0].hash, EventHash((*events)[0]));
  EXPECT_EQ((*events)[0].hash.size(), 64u);
  auto head = ReadWith(*store_, [](store::Tx& tx) { return tx.GetSetting(kHeadSettingKey); });
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ(**head, "100:" + (*events)[99].hash);

  auto org_a = ReadWith(*store_, [](store::Tx& tx) { return tx.ListAudit("org_a", 10, 5); });
  ASSERT_EQ(org_a->size(), 5u);
  EXPECT_EQ((*org_a)[0].seq, 12);
  for (const AuditEvent& event : *org_a) EXPECT_EQ(event.org_id, "org_a");

  VerifyReport report = VerifyOk();
  EXPECT_TRUE(report.intact) << report.reason;
  EXPECT_EQ(report.events, 100);
}

TEST_F(AuditChainTest, ChainSurvivesReopen) {
  AppendEvents(3);
  Open();
  auto appended = WriteWith(*store_, [](store::Tx& tx) { return tx.AppendAudit(MakeEvent(4)); });
  ASSERT_TRUE(appended.ok());
  EXPECT_EQ(appended->seq, 4);
  EXPECT_TRUE(VerifyOk().intact);
}

// One group commit: the writer is held by a first job while the others queue, so they
// share a transaction. Jobs that append and then fail are rolled back to their savepoint,
// and the chain (seq, links and the recorded head) continues from the last job that
// stayed, both in that transaction and in the next one.
TEST_F(AuditChainTest, RolledBackJobsInAGroupLeaveNoTraceInTheChain) {
  AppendEvents(2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> holding;
  store_->WriteAsync([&](store::Tx&) -> Status {
    holding.set_value();
    released.wait();
    return Status::Ok();
  }, [](Status) {});
  holding.get_future().wait();
  std::vector<std::future<Status>> results;
  for (int i = 3; i <= 12; ++i) {
    auto done = std::make_shared<std::promise<Status>>();
    results.push_back(done->get_future());
    const bool fail = i % 3 == 0;
    store_->WriteAsync([i, fail](store::Tx& tx) -> Status {
      auto appended = tx.AppendAudit(MakeEvent(i));
      if (!appended.ok()) return appended.error();
      if (fail) return MakeError(ErrorCode::kConflict, "this job fails after its append");
      return Status::Ok();
    }, [done](Status status) { done->set_value(std::move(status)); });
  }
  release.set_value();
  int kept = 0;
  for (size_t k = 0; k < results.size(); ++k) {
    Status status = results[k].get();
    const int i = static_cast<int>(k) + 3;
    EXPECT_EQ(status.ok(), i % 3 != 0) << i;
    if (status.ok()) ++kept;
  }
  auto events = ReadWith(*store_, [](store::Tx& tx) { return tx.ListAllAudit(0, 1000); });
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), static_cast<size_t>(2 + kept));
  for (size_t k = 0; k < events->size(); ++k) {
    EXPECT_EQ((*events)[k].seq, static_cast<int64_t>(k) + 1);
    EXPECT_EQ((*events)[k].details.find("\"n\":3}"), std::string::npos);  // i = 3 failed
  }
  auto head = ReadWith(*store_, [](store::Tx& tx) { return tx.GetSetting(kHeadSettingKey); });
  ASSERT_TRUE(head.ok() && head->has_value());
  EXPECT_EQ(**head, std::to_string(events->size()) + ":" + events->back().hash);
  EXPECT_TRUE(VerifyOk().intact);
  // The next transaction continues the chain from there.
  auto appended = WriteWith(*store_, [](store::Tx& tx) { return tx.AppendAudit(MakeEvent(99)); });
  ASSERT_TRUE(appended.ok());
  EXPECT_EQ(appended->seq, static_cast<int64_t>(events->size()) + 1);
  EXPECT_EQ(appended->prev_hash, events->back().hash);
  EXPECT_TRUE(VerifyOk().intact);
}

TEST_F(AuditChainTest, AlteredEventIsAHashMismatch) {
  AppendEvents(100);
  ASSERT_EQ(Tamper("UPDATE audit_events SET actor = 'user:someone_else' WHERE seq = 50"), SQLITE_OK);
  VerifyReport report = VerifyOk();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_bad_seq, 50);
  EXPECT_EQ(report.reason, "hash mismatch");
}

TEST_F(AuditChainTest, DeletedMiddleEventIsAGap) {
  AppendEvents(100);
  ASSERT_EQ(Tamper("DELETE FROM audit_events WHERE seq = 50"), SQLITE_OK);
  VerifyReport report = VerifyOk();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_bad_seq, 51);
  EXPECT_EQ(report.reason, "gap in sequence");
}

TEST_F(AuditChainTest, DeletedLastEventIsAHeadMismatch) {
  AppendEvents(100);
  ASSERT_EQ(Tamper("DELETE FROM audit_events WHERE seq = 100"), SQLITE_OK);
  VerifyReport report = VerifyOk();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_bad_seq, 100);
  EXPECT_EQ(report.reason, "head mismatch (events deleted at the end)");

  // Appending afterwards does not hide the deletion: the chain continues from the head.
  auto appended = WriteWith(*store_, [](store::Tx& tx) { return tx.AppendAudit(MakeEvent(101)); });
  ASSERT_TRUE(appended.ok());
  EXPECT_EQ(appended->seq, 101);
  EXPECT_FALSE(VerifyOk().intact);
}

TEST_F(AuditChainTest, RewrittenTailIsAHeadMismatch) {
  AppendEvents(10);
  // Forge event 10 with a consistent hash: only the head, written alongside, tells.
  auto events = ReadWith(*store_, [](store::Tx& tx) { return tx.ListAllAudit(9, 1); });
  ASSERT_EQ(events->size(), 1u);
  AuditEvent forged = (*events)[0];
  forged.actor = "user:nobody";
  forged.hash = EventHash(forged);
  ASSERT_EQ(Tamper("UPDATE audit_events SET actor = 'user:nobody', hash = '" + forged.hash +
                   "' WHERE seq = 10"),
            SQLITE_OK);
  VerifyReport report = VerifyOk();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.first_bad_seq, 10);
  EXPECT_EQ(report.reason, "head mismatch (events deleted at the end)");
}

TEST_F(AuditChainTest, TriggersRefuseUpdateAndDelete) {
  AppendEvents(5);
  EXPECT_NE(Tamper("UPDATE audit_events SET actor = 'x' WHERE seq = 2", /*drop_triggers=*/false),
            SQLITE_OK);
  EXPECT_NE(Tamper("DELETE FROM audit_events WHERE seq = 5", /*drop_triggers=*/false), SQLITE_OK);
  VerifyReport report = VerifyOk();
  EXPECT_TRUE(report.intact) << report.reason;
  EXPECT_EQ(report.events, 5);
}

TEST_F(AuditChainTest, ManyEventsInOneTransactionAcrossVerifyBatches) {
  // Appends in one transaction chain to each other (2500 > Verify's batch of 1000).
  Status status = store_->Write([](store::Tx& tx) -> Status {
    for (int i = 1; i <= 2500; ++i) {
      auto appended = tx.AppendAudit(MakeEvent(i));
      if (!appended.ok()) return appended.error();
    }
    return Status::Ok();
  });
  ASSERT_TRUE(status.ok());
  VerifyReport report = VerifyOk();
  EXPECT_TRUE(report.intact) << report.reason;
  EXPECT_EQ(report.events, 2500);
}

TEST_F(AuditChainTest, ForeignHeadValueIsAHeadMismatch) {
  AppendEvents(3);
  ASSERT_TRUE(WriteWith(*store_, [](store::Tx& tx) {
                return tx.PutSetting(kHeadSettingKey, "not a head");
              }).ok());
  VerifyReport report = VerifyOk();
  EXPECT_FALSE(report.intact);
  EXPECT_EQ(report.reason, "head mismatch (events deleted at the end)");
}

TEST(AuditHeadTest, FormatAndParse) {
  EXPECT_EQ(FormatHead({12, "ab"}), "12:ab");
  auto head = ParseHead("12:ab");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->seq, 12);
  EXPECT_EQ(head->hash, "ab");
  for (const char* bad : {"", ":", "x:ab", "0:ab", "-1:ab", "12", "1 :ab"}) {
    EXPECT_FALSE(ParseHead(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace rampart::audit
