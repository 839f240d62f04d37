#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>

#include "rampart/store/sqlite_backup.h"
#include "rampart/store/store.h"
#include "store/migrations.h"
#include "store/sqlite_store_internal.h"
#include "store/store_test_util.h"

namespace rampart::store {
namespace {

using testing::ReadWith;
using testing::TempDir;
using testing::WriteWith;
// testing::Test has a Run() member, which hides the type inside fixtures.
using StoredRun = ::rampart::store::Run;

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(bool synchronous_full = false) {
    store_.reset();
    SqliteOptions options;
    options.path = path();
    options.synchronous_full = synchronous_full;
    options.read_connections = 2;
    auto opened = OpenSqliteStore(options);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
  }

  std::string path() const { return dir_.path() + "/rampart.db"; }
  Store& store() { return *store_; }

  // Org A and org B, each with one owner; user "usr_b" belongs to B only.
  void SeedTwoOrgs() {
    Status status = store().Write([](Tx& tx) -> Status {
      for (const char* id : {"a", "b"}) {
        Org org{std::string("org_") + id, std::string("slug-") + id, id, 10, 1};
        if (Status s = tx.InsertOrg(org); !s.ok()) return s;
        User user{std::string("usr_") + id, std::string(id) + "@example.com", "", 1};
        if (Status s = tx.InsertUser(user); !s.ok()) return s;
        if (Status s = tx.UpsertMembership({org.id, user.id, "owner", 1}); !s.ok()) return s;
      }
      return Status::Ok();
    });
    ASSERT_TRUE(status.ok()) << status.error().message;
  }

  static StoredRun MakeRun(std::string org_id, std::string id, std::string workflow_id,
                     std::string status = "queued") {
    StoredRun run;
    run.org_id = std::move(org_id);
    run.id = std::move(id);
    run.workflow_id = std::move(workflow_id);
    run.version = 1;
    run.status = std::move(status);
    run.input = R"({"x":1})";
    run.trigger = R"({"type":"manual"})";
    run.actor = "user:usr_a";
    run.created_at = 100;
    return run;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(SqliteStoreTest, OrgsUsersAndMemberships) {
  SeedTwoOrgs();
  auto org = ReadWith(store(), [](Tx& tx) { return tx.GetOrg("org_a"); });
  ASSERT_TRUE(org.ok());
  ASSERT_TRUE(org->has_value());
  EXPECT_EQ((*org)->slug, "slug-a");
  EXPECT_EQ((*org)->max_concurrent_runs, 10);
  auto by_slug = ReadWith(store(), [](Tx& tx) { return tx.GetOrgBySlug("slug-b"); });
  ASSERT_TRUE(by_slug.ok() && by_slug->has_value());
  EXPECT_EQ((*by_slug)->id, "org_b");
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetOrg("org_x"); })->has_value());
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountOrgs(); }), 2);

  auto user = ReadWith(store(), [](Tx& tx) { return tx.GetUserByEmail("a@example.com"); });
  ASSERT_TRUE(user.ok() && user->has_value());
  EXPECT_EQ((*user)->id, "usr_a");
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.GetUser("usr_b"); })->has_value());

  // usr_a joins B as developer, then is promoted: the upsert changes the role.
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) {
                return tx.UpsertMembership({"org_b", "usr_a", "developer", 5});
              }).ok());
  auto orgs = ReadWith(store(), [](Tx& tx) { return tx.ListOrgsOfUser("usr_a"); });
  ASSERT_TRUE(orgs.ok());
  ASSERT_EQ(orgs->size(), 2u);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountOwners("org_b"); }), 1);
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) {
                return tx.UpsertMembership({"org_b", "usr_a", "owner", 6});
              }).ok());
  auto m = ReadWith(store(), [](Tx& tx) { return tx.GetMembership("org_b", "usr_a"); });
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->role, "owner");
  EXPECT_EQ((*m)->created_at, 5);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountOwners("org_b"); }), 2);

  // Isolation: B's membership of usr_b is absent through A's id.
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetMembership("org_a", "usr_b"); })
                   ->has_value());
  EXPECT_FALSE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteMembership("org_a", "usr_b"); }));
  auto members = ReadWith(store(), [](Tx& tx) { return tx.ListMembers("org_a", {}); });
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->items.size(), 1u);
  EXPECT_EQ(members->items[0].user_id, "usr_a");

  EXPECT_TRUE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteMembership("org_b", "usr_a"); }));
  EXPECT_FALSE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteMembership("org_b", "usr_a"); }));
  EXPECT_EQ(ReadWith(store(), [](Tx& tx) { return tx.ListOrgsOfUser("usr_a"); })->size(), 1u);
}

TEST_F(SqliteStoreTest, ListUsersReturnsEveryUserByCreationThenId) {
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.ListUsers(); })->empty());
  SeedTwoOrgs();  // usr_a and usr_b, both created at 1
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) {
                return tx.InsertUser({.id = "usr_0", .email = "zero@example.com",
                                      .password_hash = "h", .created_at = 0,
                                      .must_change_password = true});
              }).ok());
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.SetUserDisabled("usr_b", true); }).ok());
  auto users = ReadWith(store(), [](Tx& tx) { return tx.ListUsers(); });
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 3u);
  EXPECT_EQ((*users)[0].id, "usr_0");
  EXPECT_EQ((*users)[0].email, "zero@example.com");
  EXPECT_TRUE((*users)[0].must_change_password);
  EXPECT_FALSE((*users)[0].disabled);
  EXPECT_EQ((*users)[1].id, "usr_a");
  EXPECT_EQ((*users)[2].id, "usr_b");
  EXPECT_TRUE((*users)[2].disabled);
}

// GetMemberOrg (auth::AuthorizeOrg's one read): the membership and its org together, and
// nothing for a user of another org, an unknown org or a removed membership.
TEST_F(SqliteStoreTest, MemberOrgReadsTheMembershipWithItsOrg) {
  SeedTwoOrgs();
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) {
                return tx.UpsertMembership({"org_b", "usr_a", "developer", 7});
              }).ok());
  auto got = ReadWith(store(), [](Tx& tx) { return tx.GetMemberOrg("org_b", "usr_a"); });
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->membership.org_id, "org_b");
  EXPECT_EQ((*got)->membership.user_id, "usr_a");
  EXPECT_EQ((*got)->membership.role, "developer");
  EXPECT_EQ((*got)->membership.created_at, 7);
  auto org = ReadWith(store(), [](Tx& tx) { return tx.GetOrg("org_b"); });
  ASSERT_TRUE(org.ok() && org->has_value());
  EXPECT_EQ((*got)->org.id, (*org)->id);
  EXPECT_EQ((*got)->org.slug, (*org)->slug);
  EXPECT_EQ((*got)->org.name, (*org)->name);
  EXPECT_EQ((*got)->org.max_concurrent_runs, (*org)->max_concurrent_runs);
  EXPECT_EQ((*got)->org.created_at, (*org)->created_at);
  EXPECT_EQ((*got)->org.egress, (*org)->egress);

  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetMemberOrg("org_a", "usr_b"); })
                   ->has_value());
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetMemberOrg("org_x", "usr_a"); })
                   ->has_value());
  EXPECT_TRUE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteMembership("org_b", "usr_a"); }));
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetMemberOrg("org_b", "usr_a"); })
                   ->has_value());
}

TEST_F(SqliteStoreTest, Sessions) {
  SeedTwoOrgs();
  Session session{"th1", "usr_a", "csrf1", 10, 10, 1000, false};
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.InsertSession(session); }).ok());
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.TouchSession("th1", 50); }).ok());
  auto got = ReadWith(store(), [](Tx& tx) { return tx.GetSession("th1"); });
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->last_seen_at, 50);
  EXPECT_EQ((*got)->csrf_hash, "csrf1");
  EXPECT_FALSE((*got)->revoked);
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.RevokeSession("th1"); }).ok());
  EXPECT_TRUE((*ReadWith(store(), [](Tx& tx) { return tx.GetSession("th1"); }))->revoked);
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetSession("nope"); })->has_value());
}

// A password change: the hash and the flag are replaced for that user only, and every
// live session of the user (not another user's) is revoked, counted once.
TEST_F(SqliteStoreTest, PasswordChangeAndRevokingAUsersSessions) {
  SeedTwoOrgs();
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) {
                return tx.InsertUser({.id = "usr_c", .email = "c@example.com",
                                      .password_hash = "h0", .created_at = 1,
                                      .must_change_password = true});
              }).ok());
  auto c = ReadWith(store(), [](Tx& tx) { return tx.GetUserByEmail("c@example.com"); });
  ASSERT_TRUE(c.ok() && c->has_value());
  EXPECT_TRUE((*c)->must_change_password);
  EXPECT_FALSE((*ReadWith(store(), [](Tx& tx) { return tx.GetUser("usr_a"); }))->must_change_password);

  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.SetUserPassword("usr_c", "h1", false); })
                  .ok());
  auto changed = ReadWith(store(), [](Tx& tx) { return tx.GetUser("usr_c"); });
  ASSERT_TRUE(changed.ok() && changed->has_value());
  EXPECT_EQ((*changed)->password_hash, "h1");
  EXPECT_FALSE((*changed)->must_change_password);
  EXPECT_EQ((*ReadWith(store(), [](Tx& tx) { return tx.GetUser("usr_a"); }))->password_hash, "");
  Status missing = WriteWith(store(), [](Tx& tx) { return tx.SetUserPassword("usr_x", "h", false); });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) -> Status {
                for (const char* th : {"c1", "c2", "c3"}) {
                  if (Status s = tx.InsertSession({th, "usr_c", "x", 1, 1, 1000, false}); !s.ok()) {
                    return s;
                  }
                }
                if (Status s = tx.RevokeSession("c3"); !s.ok()) return s;
                return tx.InsertSession({"a1", "usr_a", "x", 1, 1, 1000, false});
              }).ok());
  auto revoked = WriteWith(store(), [](Tx& tx) { return tx.RevokeUserSessions("usr_c"); });
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(*revoked, 2);  // c3 was already revoked
  for (const char* th : {"c1", "c2", "c3"}) {
    EXPECT_TRUE((*ReadWith(store(), [&](Tx& tx) { return tx.GetSession(th); }))->revoked) << th;
  }
  EXPECT_FALSE((*ReadWith(store(), [](Tx& tx) { return tx.GetSession("a1"); }))->revoked);
  EXPECT_EQ(*WriteWith(store(), [](Tx& tx) { return tx.RevokeUserSessions("usr_c"); }), 0);
}

// Account lifecycle (POST /v1/users/{user}/disable, DELETE /v1/users/{user}): the flag is
// set and cleared for that user only; every API key the user created is revoked in every
// org (another user's keys, and keys already revoked, are untouched); deleting the user
// removes their memberships and sessions and frees the email, and leaves the key rows
// (revoked) and the other users alone.
TEST_F(SqliteStoreTest, DisablingAndDeletingAUser) {
  SeedTwoOrgs();
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) -> Status {
                if (Status s = tx.UpsertMembership({"org_b", "usr_a", "developer", 2}); !s.ok()) {
                  return s;
                }
                for (auto [id, org, user, revoked] :
                     {std::tuple{"key_a1", "org_a", "usr_a", false},
                      std::tuple{"key_a2", "org_b", "usr_a", false},
                      std::tuple{"key_a3", "org_a", "usr_a", true},
                      std::tuple{"key_b1", "org_b", "usr_b", false}}) {
                  ApiKey key{.id = id, .org_id = org, .user_id = user, .name = "k",
                             .hash = std::string("h_") + id, .hint = "rpk_...", .scope = "read",
                             .created_at = 1, .expires_at = std::nullopt,
                             .last_used_at = std::nullopt,
                             .revoked_at = revoked ? std::optional<Millis>(5) : std::nullopt};
                  if (Status s = tx.InsertApiKey(key); !s.ok()) return s;
                }
                if (Status s = tx.InsertSession({"sa", "usr_a", "x", 1, 1, 1000, false}); !s.ok()) {
                  return s;
                }
                return tx.InsertSession({"sb", "usr_b", "x", 1, 1, 1000, false});
              }).ok());
  EXPECT_FALSE((*ReadWith(store(), [](Tx& tx) { return tx.GetUser("usr_a"); }))->disabled);

  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.SetUserDisabled("usr_a", true); }).ok());
  EXPECT_TRUE((*ReadWith(store(), [](Tx& tx) { return tx.GetUser("usr_a"); }))->disabled);
  EXPECT_TRUE(
      (*ReadWith(store(), [](Tx& tx) { return tx.GetUserByEmail("a@example.com"); }))->disabled);
  EXPECT_FALSE((*ReadWith(store(), [](Tx& tx) { return tx.GetUser("usr_b"); }))->disabled);
  Status missing = WriteWith(store(), [](Tx& tx) { return tx.SetUserDisabled("usr_x", true); });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  auto revoked = WriteWith(store(), [](Tx& tx) { return tx.RevokeUserApiKeys("usr_a", 77); });
  ASSERT_TRUE(revoked.ok());
  EXPECT_EQ(*revoked, 2);
  auto key = [this](const char* hash) {
    return *ReadWith(store(), [&](Tx& tx) { return tx.GetApiKeyByHash(hash); });
  };
  EXPECT_EQ(key("h_key_a1")->revoked_at, std::optional<Millis>(77));
  EXPECT_EQ(key("h_key_a2")->revoked_at, std::optional<Millis>(77));
  EXPECT_EQ(key("h_key_a3")->revoked_at, std::optional<Millis>(5));  // kept
  EXPECT_FALSE(key("h_key_b1")->revoked_at.has_value());
  EXPECT_EQ(*WriteWith(store(), [](Tx& tx) { return tx.RevokeUserApiKeys("usr_a", 78); }), 0);

  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.SetUserDisabled("usr_a", false); }).ok());
  EXPECT_FALSE((*ReadWith(store(), [](Tx& tx) { return tx.GetUser("usr_a"); }))->disabled);

  auto memberships = ReadWith(store(), [](Tx& tx) { return tx.ListMembershipsOfUser("usr_a"); });
  ASSERT_TRUE(memberships.ok());
  ASSERT_EQ(memberships->size(), 2u);
  EXPECT_EQ((*memberships)[0].org_id, "org_a");
  EXPECT_EQ((*memberships)[0].role, "owner");
  EXPECT_EQ((*memberships)[1].org_id, "org_b");
  EXPECT_EQ((*memberships)[1].role, "developer");

  EXPECT_TRUE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteUser("usr_a"); }));
  EXPECT_FALSE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteUser("usr_a"); }));
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetUser("usr_a"); })->has_value());
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.ListMembershipsOfUser("usr_a"); })->empty());
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetSession("sa"); })->has_value());
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.GetSession("sb"); })->has_value());
  EXPECT_TRUE(key("h_key_a1").has_value());  // the revoked row stays
  EXPECT_EQ(ReadWith(store(), [](Tx& tx) { return tx.ListMembershipsOfUser("usr_b"); })->size(),
            1u);
  // The email is free: a new account may take it.
  EXPECT_TRUE(WriteWith(store(), [](Tx& tx) {
                return tx.InsertUser({.id = "usr_a2", .email = "a@example.com",
                                      .password_hash = "", .created_at = 9});
              }).ok());
}

// A user row written without the column (as every row before the migration) is not
// flagged: the column defaults to 0.
TEST_F(SqliteStoreTest, UsersFromBeforeTheMustChangeMigrationAreNotFlagged) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "INSERT INTO users (id, email, password_hash, created_at) "
                         "VALUES ('usr_old', 'old@example.com', 'h', 1)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  Open();
  auto old = ReadWith(store(), [](Tx& tx) { return tx.GetUser("usr_old"); });
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_FALSE((*old)->must_change_password);
}

TEST_F(SqliteStoreTest, OrgEgressRulesAreStoredPerOrgAndSurviveReopen) {
  SeedTwoOrgs();
  // A new org, and every org from before the egress migration, has no rules.
  auto a = ReadWith(store(), [](Tx& tx) { return tx.GetOrg("org_a"); });
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->egress, "{}");
  Org changed = **a;
  changed.egress = R"({"deny_domains":["evil.test"]})";
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.UpdateOrg(changed); }).ok());
  Open();  // a restart
  auto again = ReadWith(store(), [](Tx& tx) { return tx.GetOrg("org_a"); });
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->egress, R"({"deny_domains":["evil.test"]})");
  auto by_slug = ReadWith(store(), [](Tx& tx) { return tx.GetOrgBySlug("slug-a"); });
  ASSERT_TRUE(by_slug.ok() && by_slug->has_value());
  EXPECT_EQ((*by_slug)->egress, (*again)->egress);
  auto listed = ReadWith(store(), [](Tx& tx) { return tx.ListOrgsOfUser("usr_a"); });
  ASSERT_TRUE(listed.ok() && listed->size() == 1u);
  EXPECT_EQ((*listed)[0].egress, (*again)->egress);
  // The other org is untouched.
  auto b = ReadWith(store(), [](Tx& tx) { return tx.GetOrg("org_b"); });
  ASSERT_TRUE(b.ok() && b->has_value());
  EXPECT_EQ((*b)->egress, "{}");
}

// SqliteOptions::before_migrating: asked once, with the file's version, before a store
// older than this binary changes; its refusal leaves the file as it was (the CLI refuses to
// migrate under a running older serve). Not asked for a store at this binary's version.
TEST_F(SqliteStoreTest, BeforeMigratingIsAskedOnceAndItsRefusalChangesNothing) {
  store_.reset();
  for (const std::string& file : {path(), path() + "-wal", path() + "-shm"}) {
    std::remove(file.c_str());
  }
  const int older = LatestSchemaVersion() - 2;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_TRUE(ApplyMigrationsUpToForTest(db, older).ok());
  sqlite3_close(db);
  auto version = [&] {
    sqlite3* conn = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path().c_str(), &conn, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    int v = -1;
    if (sqlite3_prepare_v2(conn, "PRAGMA user_version", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      v = sqlite3_column_int(stmt, 0);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(conn);
    return v;
  };
  std::vector<int> asked;
  SqliteOptions options;
  options.path = path();
  options.synchronous_full = false;
  options.read_connections = 1;
  options.before_migrating = [&](int from) -> Status {
    asked.push_back(from);
    return MakeError(ErrorCode::kConflict, "not now");
  };
  auto refused = OpenSqliteStore(options);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_EQ(refused.error().message, "not now");
  EXPECT_EQ(asked, std::vector<int>{older});
  EXPECT_EQ(version(), older);
  // Allowed: every step is applied, and it is asked once, not once per step.
  asked.clear();
  options.before_migrating = [&](int from) -> Status {
    asked.push_back(from);
    return Status::Ok();
  };
  auto opened = OpenSqliteStore(options);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  opened->reset();
  EXPECT_EQ(asked, std::vector<int>{older});
  EXPECT_EQ(version(), LatestSchemaVersion());
  // A current store is opened without asking.
  asked.clear();
  opened = OpenSqliteStore(options);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_TRUE(asked.empty());
}

TEST_F(SqliteStoreTest, OrgsFromBeforeTheEgressMigrationHaveNoRules) {
  store_.reset();
  for (const std::string& file : {path(), path() + "-wal", path() + "-shm"}) {
    std::remove(file.c_str());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_TRUE(ApplyMigrationsUpToForTest(db, 13).ok());
  ASSERT_EQ(sqlite3_exec(db,
                         "INSERT INTO orgs (id, slug, name, max_concurrent_runs, created_at) "
                         "VALUES ('org_old', 'old', 'Old', 10, 1)",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  Open();
  auto old = ReadWith(store(), [](Tx& tx) { return tx.GetOrg("org_old"); });
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ((*old)->egress, "{}");
}

// A database from before migration 18: the live versions that have a schedule trigger
// are marked scheduled by the migration (a draft's, or an older version's, do not
// count), so the scheduler keeps firing them after the upgrade.
TEST_F(SqliteStoreTest, LiveSchedulesFromBeforeTheScheduledMigrationAreMarked) {
  store_.reset();
  for (const std::string& file : {path(), path() + "-wal", path() + "-shm"}) {
    std::remove(file.c_str());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_TRUE(ApplyMigrationsUpToForTest(db, 17).ok());
  const std::string cron = R"({"triggers": [{"type": "webhook"}, {"type": "schedule", "cron": "* * * * *"}]})";
  const std::string hook = R"({"triggers": [{"type": "webhook"}]})";
  struct Row {
    const char* id;
    int live;
    std::vector<std::string> versions;  // definitions of versions 1..n
  };
  const Row rows[] = {{"sched", 1, {cron}},
                      {"hook", 1, {hook}},
                      {"draft", 0, {cron}},
                      {"old", 2, {cron, hook}},
                      {"new", 2, {hook, cron}},
                      {"notriggers", 1, {"{}"}},
                      {"broken", 1, {"not json"}}};
  std::string sql =
      "INSERT INTO orgs (id, slug, name, max_concurrent_runs, created_at) "
      "VALUES ('org_a', 'a', 'A', 10, 1);";
  for (const Row& r : rows) {
    sql += "INSERT INTO workflows (org_id, id, name, visibility, latest_version, live_version, "
           "created_at, updated_at) VALUES ('org_a', '" + std::string(r.id) + "', 'n', 'private', " +
           std::to_string(r.versions.size()) + ", " + std::to_string(r.live) + ", 1, 1);";
    for (size_t v = 0; v < r.versions.size(); ++v) {
      sql += "INSERT INTO workflow_versions (org_id, workflow_id, version, definition, source, "
             "created_by, created_at) VALUES ('org_a', '" + std::string(r.id) + "', " +
             std::to_string(v + 1) + ", '" + r.versions[v] + "', '', 'user:u', 1);";
    }
  }
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  Open();
  auto listed = ReadWith(store(), [](Tx& tx) { return tx.ListScheduledWorkflows("", "", 100); });
  ASSERT_TRUE(listed.ok());
  std::vector<std::string> ids;
  for (const LiveWorkflow& w : *listed) ids.push_back(w.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"new", "sched"}));
}

// Every creation of a workflow id is its own generation (never 0, kept by updates), and a
// delete takes what belonged to that creation with it: trigger URLs, disabled hook
// endpoints, schedule state. Runs are history and keep the generation they started under.
TEST_F(SqliteStoreTest, EachCreationOfAWorkflowIdIsANewGenerationAndItsDeleteTakesItsUrls) {
  SeedTwoOrgs();
  auto create = [&] {
    EXPECT_TRUE(WriteWith(store(), [&](Tx& tx) {
                  // The caller's generation is not the store's to take.
                  Workflow wf{"org_a", "w", "W", "org", 1, 1, 10, 10, false, 12345};
                  return tx.InsertWorkflow(wf);
                }).ok());
    auto got = ReadWith(store(), [](Tx& tx) { return tx.GetWorkflow("org_a", "w"); });
    EXPECT_TRUE(got.ok() && got->has_value());
    return got.ok() && got->has_value() ? (*got)->generation : int64_t{0};
  };
  const int64_t first = create();
  EXPECT_GT(first, 0);
  EXPECT_NE(first, 12345);
  Workflow updated{"org_a", "w", "W2", "private", 2, 1, 10, 20, false, 0};
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.UpdateWorkflow(updated); }).ok());
  EXPECT_EQ((*ReadWith(store(), [](Tx& tx) { return tx.GetWorkflow("org_a", "w"); }))->generation,
            first);
  StoredRun run = MakeRun("org_a", "run_1", "w");
  run.workflow_generation = first;
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) -> Status {
                if (Status s = tx.InsertRun(run); !s.ok()) return s;
                if (Status s = tx.InsertWebhook({"org_a", "hk_1", "w", "h1", 10, std::nullopt, 0,
                                                 std::nullopt});
                    !s.ok()) {
                  return s;
                }
                if (Status s = tx.SetHookEndpointDisabled("org_a", "w", "https://gone.test/", true, 10);
                    !s.ok()) {
                  return s;
                }
                return tx.PutScheduleLastFired("org_a", "w", 60000);
              }).ok());
  ASSERT_TRUE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteWorkflow("org_a", "w"); }));
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetWebhook("org_a", "hk_1"); })->has_value());
  EXPECT_FALSE(*ReadWith(store(), [](Tx& tx) {
    return tx.HookEndpointDisabled("org_a", "w", "https://gone.test/");
  }));
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetScheduleLastFired("org_a", "w"); })
                   ->has_value());
  const int64_t second = create();
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
  auto kept = ReadWith(store(), [](Tx& tx) { return tx.GetRun("org_a", "run_1"); });
  ASSERT_TRUE(kept.ok() && kept->has_value());
  EXPECT_EQ((*kept)->workflow_generation, first);
}

// A database from before migration 20: each workflow gets a generation, each run its
// workflow's when it is not older than the workflow row (else 0: a deleted workflow's of
// the same id, as is a run whose workflow is gone), and trigger URLs and disabled hook
// endpoints older than their workflow row (or without one) are removed.
TEST_F(SqliteStoreTest, TheGenerationMigrationTellsADeletedWorkflowsRunsAndUrlsApart) {
  store_.reset();
  for (const std::string& file : {path(), path() + "-wal", path() + "-shm"}) {
    std::remove(file.c_str());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_TRUE(ApplyMigrationsUpToForTest(db, 19).ok());
  std::string sql =
      "INSERT INTO orgs (id, slug, name, max_concurrent_runs, created_at) "
      "VALUES ('org_a', 'a', 'A', 10, 1);"
      "INSERT INTO workflows (org_id, id, name, visibility, latest_version, live_version, "
      "created_at, updated_at) VALUES ('org_a', 'kept', 'k', 'org', 1, 1, 100, 100);";
  for (const auto& [id, workflow, created] :
       {std::tuple{"run_before", "kept", 50}, {"run_at", "kept", 100}, {"run_after", "kept", 150},
        {"run_orphan", "gone", 150}}) {
    sql += std::string("INSERT INTO runs (org_id, id, workflow_id, version, status, input_json, "
                       "trigger_json, record_json, error_code, actor, created_at, started_at, "
                       "finished_at, attempts, cancel_requested, wake_at) VALUES ('org_a', '") +
           id + "', '" + workflow + "', 1, 'succeeded', '{}', '{}', '{}', '', 'x', " +
           std::to_string(created) + ", 0, 200, 1, 0, 0);";
  }
  for (const auto& [id, workflow, created] :
       {std::tuple{"hk_old", "kept", 50}, {"hk_new", "kept", 150}, {"hk_gone", "gone", 150}}) {
    sql += std::string("INSERT INTO webhooks (org_id, id, workflow_id, token_hash, created_at) "
                       "VALUES ('org_a', '") + id + "', '" + workflow + "', '" + id + "', " +
           std::to_string(created) + ");";
  }
  for (const auto& [workflow, url, at] :
       {std::tuple{"kept", "https://old.test/", 50}, {"kept", "https://new.test/", 150},
        {"gone", "https://new.test/", 150}}) {
    sql += std::string("INSERT INTO hook_endpoints_disabled (org_id, workflow_id, url, "
                       "disabled_at) VALUES ('org_a', '") + workflow + "', '" + url + "', " +
           std::to_string(at) + ");";
  }
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  Open();
  auto kept = ReadWith(store(), [](Tx& tx) { return tx.GetWorkflow("org_a", "kept"); });
  ASSERT_TRUE(kept.ok() && kept->has_value());
  const int64_t generation = (*kept)->generation;
  EXPECT_GT(generation, 0);
  for (const auto& [id, expected] : {std::pair{"run_before", int64_t{0}}, {"run_at", generation},
                                     {"run_after", generation}, {"run_orphan", int64_t{0}}}) {
    auto run = ReadWith(store(), [&](Tx& tx) { return tx.GetRun("org_a", id); });
    ASSERT_TRUE(run.ok() && run->has_value()) << id;
    EXPECT_EQ((*run)->workflow_generation, expected) << id;
  }
  for (const auto& [id, exists] : {std::pair{"hk_old", false}, {"hk_new", true}, {"hk_gone", false}}) {
    EXPECT_EQ(ReadWith(store(), [&](Tx& tx) { return tx.GetWebhook("org_a", id); })->has_value(),
              exists)
        << id;
  }
  for (const auto& [workflow, url, disabled] :
       {std::tuple{"kept", "https://old.test/", false}, {"kept", "https://new.test/", true},
        {"gone", "https://new.test/", false}}) {
    EXPECT_EQ(*ReadWith(store(), [&](Tx& tx) { return tx.HookEndpointDisabled("org_a", workflow, url); }),
              disabled)
        << workflow << " " << url;
  }
}

TEST_F(SqliteStoreTest, ApiKeysAndIsolation) {
  SeedTwoOrgs();
  ApiKey key{"key_1", "org_a", "usr_a", "ci", "hash1", "rpk_ab...yz", "read", 10,
             std::optional<Millis>(500), std::nullopt, std::nullopt};
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.InsertApiKey(key); }).ok());
  auto by_hash = ReadWith(store(), [](Tx& tx) { return tx.GetApiKeyByHash("hash1"); });
  ASSERT_TRUE(by_hash.ok() && by_hash->has_value());
  EXPECT_EQ((*by_hash)->expires_at, std::optional<Millis>(500));
  EXPECT_FALSE((*by_hash)->last_used_at.has_value());
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountActiveApiKeys("org_a", 100); }), 1);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountActiveApiKeys("org_a", 500); }), 0);

  // Through B's id the key does not exist.
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetApiKey("org_b", "key_1"); })
                   ->has_value());
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.ListApiKeys("org_b", {}); })
                  ->items.empty());
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountActiveApiKeys("org_b", 0); }), 0);
  EXPECT_FALSE(*WriteWith(store(), [](Tx& tx) { return tx.RevokeApiKey("org_b", "key_1", 7); }));

  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.TouchApiKey("key_1", 20); }).ok());
  EXPECT_TRUE(*WriteWith(store(), [](Tx& tx) { return tx.RevokeApiKey("org_a", "key_1", 30); }));
  EXPECT_FALSE(*WriteWith(store(), [](Tx& tx) { return tx.RevokeApiKey("org_a", "key_1", 31); }));
  auto got = ReadWith(store(), [](Tx& tx) { return tx.GetApiKey("org_a", "key_1"); });
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->last_used_at, std::optional<Millis>(20));
  EXPECT_EQ((*got)->revoked_at, std::optional<Millis>(30));
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountActiveApiKeys("org_a", 0); }), 0);
}

TEST_F(SqliteStoreTest, SupportGrantsAndIsolation) {
  SeedTwoOrgs();
  auto grant = [](std::string id, std::string hash, Millis created, Millis expires) {
    return SupportGrant{"org_a", std::move(id), std::move(hash), "usr_a", "ticket 42",
                        created, expires, std::nullopt};
  };
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) -> Status {
                for (int i = 0; i < 5; ++i) {
                  auto g = grant("sgr_" + std::to_string(i), "h" + std::to_string(i), 10 + i,
                                 1000 + i);
                  if (Status s = tx.InsertSupportGrant(g); !s.ok()) return s;
                }
                return Status::Ok();
              }).ok());
  // The hash is unique across orgs: a copied row cannot shadow a grant of another org.
  SupportGrant copy = grant("sgr_x", "h0", 1, 2);
  copy.org_id = "org_b";
  auto duplicate = WriteWith(store(), [&](Tx& tx) { return tx.InsertSupportGrant(copy); });
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code, ErrorCode::kConflict);

  auto by_hash = ReadWith(store(), [](Tx& tx) { return tx.GetSupportGrantByHash("h3"); });
  ASSERT_TRUE(by_hash.ok() && by_hash->has_value());
  EXPECT_EQ((*by_hash)->id, "sgr_3");
  EXPECT_EQ((*by_hash)->org_id, "org_a");
  EXPECT_EQ((*by_hash)->reason, "ticket 42");
  EXPECT_EQ((*by_hash)->expires_at, 1003);
  EXPECT_FALSE((*by_hash)->revoked_at.has_value());
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetSupportGrantByHash("nope"); })
                   ->has_value());

  // Paged by (created_at, id), every page following the previous one.
  std::vector<std::string> seen;
  PageRequest page{.after = "", .limit = 2};
  for (int pages = 0; pages < 10; ++pages) {
    auto got = ReadWith(store(), [&](Tx& tx) { return tx.ListSupportGrants("org_a", page); });
    ASSERT_TRUE(got.ok());
    for (const auto& g : got->items) seen.push_back(g.id);
    if (got->next.empty()) break;
    page.after = got->next;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"sgr_0", "sgr_1", "sgr_2", "sgr_3", "sgr_4"}));
  auto bad = ReadWith(store(), [](Tx& tx) { return tx.ListSupportGrants("org_a", {"k.1.00", 2}); });
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);

  // Active: neither revoked nor expired at `now`.
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountActiveSupportGrants("org_a", 999); }), 5);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountActiveSupportGrants("org_a", 1002); }), 2);

  // Through B's id the grants do not exist.
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetSupportGrant("org_b", "sgr_1"); })
                   ->has_value());
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.ListSupportGrants("org_b", {}); })
                  ->items.empty());
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountActiveSupportGrants("org_b", 0); }), 0);
  EXPECT_FALSE(
      *WriteWith(store(), [](Tx& tx) { return tx.RevokeSupportGrant("org_b", "sgr_1", 7); }));
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetSupportGrant("org_a", "sgr_1"); })
                   ->value()
                   .revoked_at.has_value());

  EXPECT_TRUE(
      *WriteWith(store(), [](Tx& tx) { return tx.RevokeSupportGrant("org_a", "sgr_1", 30); }));
  EXPECT_FALSE(
      *WriteWith(store(), [](Tx& tx) { return tx.RevokeSupportGrant("org_a", "sgr_1", 31); }));
  auto revoked = ReadWith(store(), [](Tx& tx) { return tx.GetSupportGrant("org_a", "sgr_1"); });
  ASSERT_TRUE(revoked.ok() && revoked->has_value());
  EXPECT_EQ((*revoked)->revoked_at, std::optional<Millis>(30));
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountActiveSupportGrants("org_a", 999); }), 4);
}

TEST_F(SqliteStoreTest, RunCountsByStatusOfOneOrg) {
  SeedTwoOrgs();
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) -> Status {
                for (auto [org, id, status] :
                     {std::tuple{"org_a", "r1", "queued"}, std::tuple{"org_a", "r2", "queued"},
                      std::tuple{"org_a", "r3", "failed"}, std::tuple{"org_b", "r4", "running"},
                      std::tuple{"org_b", "r5", "queued"}}) {
                  if (Status s = tx.InsertRun(MakeRun(org, id, "w", status)); !s.ok()) return s;
                }
                return Status::Ok();
              }).ok());
  using Counts = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountOrgRunsByStatus("org_a"); }),
            (Counts{{"failed", 1}, {"queued", 2}}));
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountOrgRunsByStatus("org_b"); }),
            (Counts{{"queued", 1}, {"running", 1}}));
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.CountOrgRunsByStatus("org_c"); })->empty());
}

TEST_F(SqliteStoreTest, WorkflowsVersionsAndIsolation) {
  SeedTwoOrgs();
  Workflow wf{"org_a", "deploy", "Deploy", "private", 1, 0, 10, 10};
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) -> Status {
                if (Status s = tx.InsertWorkflow(wf); !s.ok()) return s;
                for (int v = 1; v <= 3; ++v) {
                  Status s = tx.InsertWorkflowVersion(
                      {"org_a", "deploy", v, "{\"v\":" + std::to_string(v) + "}", "src", "me", v});
                  if (!s.ok()) return s;
                }
                return Status::Ok();
              }).ok());
  wf.live_version = 2;
  wf.latest_version = 3;
  wf.updated_at = 99;
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.UpdateWorkflow(wf); }).ok());
  auto got = ReadWith(store(), [](Tx& tx) { return tx.GetWorkflow("org_a", "deploy"); });
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->live_version, 2);
  EXPECT_EQ((*got)->updated_at, 99);
  EXPECT_EQ((*got)->created_at, 10);
  auto v2 = ReadWith(store(), [](Tx& tx) { return tx.GetWorkflowVersion("org_a", "deploy", 2); });
  ASSERT_TRUE(v2.ok() && v2->has_value());
  EXPECT_EQ((*v2)->definition, "{\"v\":2}");

  // Org B sees none of it, cannot update or delete it.
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetWorkflow("org_b", "deploy"); })
                   ->has_value());
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) {
                 return tx.GetWorkflowVersion("org_b", "deploy", 2);
               })->has_value());
  EXPECT_TRUE(
      ReadWith(store(), [](Tx& tx) { return tx.ListWorkflows("org_b", {}, {}); })->items.empty());
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) {
                return tx.ListWorkflowVersions("org_b", "deploy", {});
              })->items.empty());
  Workflow stolen = wf;
  stolen.org_id = "org_b";
  Status update = WriteWith(store(), [&](Tx& tx) { return tx.UpdateWorkflow(stolen); });
  ASSERT_FALSE(update.ok());
  EXPECT_EQ(update.error().code, ErrorCode::kNotFound);
  EXPECT_FALSE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteWorkflow("org_b", "deploy"); }));
  // The same workflow id in another org is a different workflow.
  Workflow other{"org_b", "deploy", "B's", "private", 1, 0, 1, 1};
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.InsertWorkflow(other); }).ok());
  EXPECT_EQ((*ReadWith(store(), [](Tx& tx) { return tx.GetWorkflow("org_a", "deploy"); }))->name,
            "Deploy");

  // Deleting removes the versions too, not the other org's workflow.
  EXPECT_TRUE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteWorkflow("org_a", "deploy"); }));
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) {
                 return tx.GetWorkflowVersion("org_a", "deploy", 1);
               })->has_value());
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.GetWorkflow("org_b", "deploy"); })
                  ->has_value());
}

// The query plan of `sql` on the test database (the store closed first).
std::string QueryPlanOf(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return "cannot open";
  }
  sqlite3_stmt* stmt = nullptr;
  const std::string explain = std::string("EXPLAIN QUERY PLAN ") + sql;
  std::string plan;
  if (sqlite3_prepare_v2(db, explain.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    plan = std::string("cannot prepare: ") + sqlite3_errmsg(db);
  }
  while (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
    plan += reinterpret_cast<const char*>(sqlite3_column_text(stmt, 3));
    plan += "\n";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return plan;
}

// The steps of that plan, one per line.
std::vector<std::string> QueryPlanSteps(const std::string& path, const char* sql) {
  std::vector<std::string> steps;
  const std::string plan = QueryPlanOf(path, sql);
  size_t from = 0;
  for (size_t nl = plan.find('\n'); nl != std::string::npos; nl = plan.find('\n', from)) {
    steps.push_back(plan.substr(from, nl - from));
    from = nl + 1;
  }
  return steps;
}

// The membership read of every org request (GetMemberOrg) searches by key, never scans.
TEST_F(SqliteStoreTest, MemberOrgIsAnIndexSearch) {
  SeedTwoOrgs();
  store_.reset();
  const std::vector<std::string> plan = QueryPlanSteps(path(), kMemberOrgSql);
  ASSERT_FALSE(plan.empty());
  for (const std::string& step : plan) {
    EXPECT_EQ(step.rfind("SEARCH ", 0), 0u) << step;
    // WITHOUT ROWID tables search their primary key; the others its automatic index.
    EXPECT_TRUE(step.find("PRIMARY KEY") != std::string::npos ||
                step.find("sqlite_autoindex_") != std::string::npos)
        << step;
  }
}

TEST_F(SqliteStoreTest, RunsAndIsolation) {
  SeedTwoOrgs();
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) -> Status {
                if (Status s = tx.InsertRun(MakeRun("org_a", "run_1", "w1")); !s.ok()) return s;
                if (Status s = tx.InsertRun(MakeRun("org_a", "run_2", "w2", "running")); !s.ok())
                  return s;
                return tx.InsertRun(MakeRun("org_b", "run_3", "w1"));
              }).ok());
  StoredRun run = ReadWith(store(), [](Tx& tx) { return tx.GetRun("org_a", "run_1"); })->value();
  EXPECT_EQ(run.input, R"({"x":1})");
  EXPECT_EQ(run.trigger, R"({"type":"manual"})");
  EXPECT_EQ(run.record, "");
  run.status = "succeeded";
  run.record = R"({"steps":[]})";
  run.started_at = 110;
  run.finished_at = 120;
  run.attempts = 1;
  run.cancel_requested = true;
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.UpdateRun(run); }).ok());
  StoredRun updated = ReadWith(store(), [](Tx& tx) { return tx.GetRun("org_a", "run_1"); })->value();
  EXPECT_EQ(updated.status, "succeeded");
  EXPECT_EQ(updated.record, R"({"steps":[]})");
  EXPECT_EQ(updated.finished_at, 120);
  EXPECT_EQ(updated.attempts, 1);
  EXPECT_TRUE(updated.cancel_requested);

  // Isolation.
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetRun("org_b", "run_1"); })
                   ->has_value());
  StoredRun stolen = run;
  stolen.org_id = "org_b";
  stolen.status = "cancelled";
  Status update = WriteWith(store(), [&](Tx& tx) { return tx.UpdateRun(stolen); });
  ASSERT_FALSE(update.ok());
  EXPECT_EQ(update.error().code, ErrorCode::kNotFound);
  EXPECT_EQ((*ReadWith(store(), [](Tx& tx) { return tx.GetRun("org_a", "run_1"); }))->status,
            "succeeded");

  auto all_a = ReadWith(store(), [](Tx& tx) { return tx.ListRuns("org_a", {}, {}); });
  ASSERT_EQ(all_a->items.size(), 2u);
  EXPECT_EQ(all_a->items[0].id, "run_2");  // newest first
  auto a_w1 = ReadWith(store(), [](Tx& tx) { return tx.ListRuns("org_a", {"w1", ""}, {}); });
  ASSERT_EQ(a_w1->items.size(), 1u);
  EXPECT_EQ(a_w1->items[0].id, "run_1");
  auto a_running =
      ReadWith(store(), [](Tx& tx) { return tx.ListRuns("org_a", {"", "running"}, {}); });
  ASSERT_EQ(a_running->items.size(), 1u);
  EXPECT_EQ(a_running->items[0].id, "run_2");
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) {
                return tx.ListRuns("org_a", {"w1", "running"}, {});
              })->items.empty());
  auto b = ReadWith(store(), [](Tx& tx) { return tx.ListRuns("org_b", {}, {}); });
  ASSERT_EQ(b->items.size(), 1u);
  EXPECT_EQ(b->items[0].id, "run_3");

  // Across orgs, oldest first.
  auto queued = ReadWith(store(), [](Tx& tx) { return tx.ListRunsByStatus("queued", 10); });
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ((*queued)[0].id, "run_3");
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountRunsByStatus("running"); }), 1);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountRunsByStatus("queued"); }), 1);
}

// Retention: only final runs finished before the cutoff go, oldest finished first, at most
// `limit` per call, with their outbound hook deliveries and attempts; the counts are per
// org. Queued, running and awaiting_approval runs stay whatever their timestamps.
TEST_F(SqliteStoreTest, PurgeFinishedRunsDeletesOnlyOldFinalRunsInBoundedBatches) {
  SeedTwoOrgs();
  struct Row {
    const char* org;
    const char* id;
    const char* status;
    Millis finished_at;
  };
  const Row rows[] = {
      {"org_a", "a_old_ok", "succeeded", 1000},   {"org_a", "a_old_failed", "failed", 2000},
      {"org_a", "a_old_cancel", "cancelled", 3000}, {"org_a", "a_recent", "succeeded", 9000},
      {"org_a", "a_at_cutoff", "failed", 5000},   {"org_a", "a_queued", "queued", 0},
      {"org_a", "a_running", "running", 10},      {"org_a", "a_waiting", "awaiting_approval", 10},
      {"org_b", "b_old_1", "succeeded", 1500},    {"org_b", "b_old_2", "failed", 2500},
      {"org_b", "b_recent", "cancelled", 7000},
  };
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) -> Status {
                for (const Row& row : rows) {
                  StoredRun run = MakeRun(row.org, row.id, "w", row.status);
                  run.finished_at = row.finished_at;
                  if (Status s = tx.InsertRun(run); !s.ok()) return s;
                }
                for (const char* run_id : {"a_old_ok", "a_recent"}) {
                  HookDelivery d{.org_id = "org_a", .id = std::string("msg_") + run_id,
                                 .run_id = run_id, .workflow_id = "w",
                                 .url = "https://hooks.example/x", .secret = "sig",
                                 .event = "run.succeeded", .payload = R"({"output":1})",
                                 .status = "delivered", .attempts = 1, .next_attempt_at = 0,
                                 .created_at = 5, .updated_at = 5};
                  if (Status s = tx.InsertHookDelivery(d); !s.ok()) return s;
                  HookAttempt a{.org_id = "org_a", .delivery_id = d.id, .attempt = 1, .time = 5,
                                .status_code = 200, .latency_ms = 3, .error = ""};
                  if (Status s = tx.InsertHookAttempt(a); !s.ok()) return s;
                }
                return Status::Ok();
              }).ok());

  using Counts = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.PurgeFinishedRuns(5000, 0); })->empty());
  // A batch of 2: the two runs that finished first (org_a's at 1000, org_b's at 1500).
  EXPECT_EQ(*WriteWith(store(), [](Tx& tx) { return tx.PurgeFinishedRuns(5000, 2); }),
            (Counts{{"org_a", 1}, {"org_b", 1}}));
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetRun("org_a", "a_old_ok"); })->has_value());
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetRun("org_b", "b_old_1"); })->has_value());
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.GetRun("org_a", "a_old_failed"); })->has_value());
  // The purged run's hook delivery (its payload is run data) and attempts went with it.
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetHookDelivery("org_a", "msg_a_old_ok"); })
                   ->has_value());
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.ListHookAttempts("org_a", "msg_a_old_ok"); })
                  ->empty());

  EXPECT_EQ(*WriteWith(store(), [](Tx& tx) { return tx.PurgeFinishedRuns(5000, 10); }),
            (Counts{{"org_a", 2}, {"org_b", 1}}));
  EXPECT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.PurgeFinishedRuns(5000, 10); })->empty());

  for (const char* kept : {"a_recent", "a_at_cutoff", "a_queued", "a_running", "a_waiting"}) {
    EXPECT_TRUE(ReadWith(store(), [&](Tx& tx) { return tx.GetRun("org_a", kept); })->has_value())
        << kept;
  }
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.GetRun("org_b", "b_recent"); })->has_value());
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.GetHookDelivery("org_a", "msg_a_recent"); })
                  ->has_value());
  EXPECT_EQ(ReadWith(store(), [](Tx& tx) { return tx.ListHookAttempts("org_a", "msg_a_recent"); })
                ->size(),
            1u);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountOrgRunsByStatus("org_a"); }),
            (Counts{{"awaiting_approval", 1}, {"failed", 1}, {"queued", 1}, {"running", 1},
                    {"succeeded", 1}}));
}

// The sweep's selection reads an index, never the whole runs table.
TEST_F(SqliteStoreTest, PurgeFinishedRunsSelectionUsesAnIndex) {
  store_.reset();
  const std::string plan = QueryPlanOf(path(), kPurgeableRunsSqlForTest);
  EXPECT_NE(plan.find("INDEX runs_final_by_finished"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;  // no sort step
}

// Recovery's selection (queued, then running runs) and the unfinished counts read the
// partial index runs_unfinished, in seq order without a sort; runs_by_status is gone.
TEST_F(SqliteStoreTest, UnfinishedRunsSelectionUsesThePartialIndex) {
  store_.reset();
  const std::string list = QueryPlanOf(path(), kUnfinishedRunsSqlForTest);
  EXPECT_NE(list.find("INDEX runs_unfinished (status=?)"), std::string::npos) << list;
  EXPECT_EQ(list.find("TEMP B-TREE"), std::string::npos) << list;
  const std::string count = QueryPlanOf(path(), kCountUnfinishedRunsSqlForTest);
  EXPECT_NE(count.find("INDEX runs_unfinished (status=?)"), std::string::npos) << count;
  const std::string old_index =
      QueryPlanOf(path(), "SELECT seq FROM runs INDEXED BY runs_by_status WHERE status = 'x'");
  EXPECT_NE(old_index.find("no such index"), std::string::npos) << old_index;
}

// The approval wake-up scan reads runs_to_wake, due runs only and without a sort (until
// migration 16 the planner took runs_by_status: every awaiting run, then a sort).
TEST_F(SqliteStoreTest, RunsToWakeSelectionUsesItsPartialIndex) {
  store_.reset();
  const std::string plan = QueryPlanOf(path(), kRunsToWakeSqlForTest);
  EXPECT_NE(plan.find("INDEX runs_to_wake (wake_at>? AND wake_at<?)"), std::string::npos) << plan;
  EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos) << plan;
}

// The entries of one index, counted from its pages (dbstat: every cell of an index
// b-tree, interior or leaf, is one entry); -1 when that cannot be read.
int64_t IndexEntries(const std::string& path, const char* index) {
  sqlite3* db = nullptr;
  int64_t n = -1;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "SELECT coalesce(sum(ncell), 0) FROM dbstat WHERE name = ?", -1,
                         &stmt, nullptr) == SQLITE_OK &&
      sqlite3_bind_text(stmt, 1, index, -1, SQLITE_STATIC) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    n = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

// A run enters runs_unfinished only while finished_at = 0: a run committed final at once
// (the hot path) never does, and its final update takes a run out.
TEST_F(SqliteStoreTest, OnlyUnfinishedRunsEnterTheRecoveryIndex) {
  SeedTwoOrgs();
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) -> Status {
                StoredRun done = MakeRun("org_a", "run_done", "wf", "succeeded");
                done.finished_at = 500;
                if (Status s = tx.InsertRun(done); !s.ok()) return s;
                if (Status s = tx.InsertRun(MakeRun("org_a", "run_q", "wf")); !s.ok()) return s;
                StoredRun waiting = MakeRun("org_a", "run_w", "wf", "awaiting_approval");
                if (Status s = tx.InsertRun(waiting); !s.ok()) return s;
                return tx.InsertRun(MakeRun("org_a", "run_r", "wf", "running"));
              }).ok());
  EXPECT_EQ(IndexEntries(path(), "runs_unfinished"), 3);
  EXPECT_EQ(IndexEntries(path(), "runs_by_org"), 4);  // the counting itself works
  StoredRun finished = MakeRun("org_a", "run_r", "wf", "failed");
  finished.finished_at = 700;
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.UpdateRun(finished); }).ok());
  EXPECT_EQ(IndexEntries(path(), "runs_unfinished"), 2);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountRunsByStatus("running"); }), 0);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountRunsByStatus("failed"); }), 1);
}

// A database from before migration 16 with runs in every status: after the upgrade,
// recovery lists the same queued and running (and awaiting_approval) runs in the same
// order, and every status still lists. A row that broke the rule (an unfinished run with
// a finished_at) is repaired by the migration, so recovery still finds it.
TEST_F(SqliteStoreTest, RecoveryListsTheSameRunsAfterTheUnfinishedIndexMigration) {
  store_.reset();
  for (const std::string& file : {path(), path() + "-wal", path() + "-shm"}) {
    std::remove(file.c_str());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_TRUE(ApplyMigrationsUpToForTest(db, 15).ok());
  const char* const kStatuses[] = {"queued",    "running", "awaiting_approval",
                                   "succeeded", "failed",  "cancelled"};
  std::string insert;
  for (int i = 0; i < 18; ++i) {
    const int k = i % 6;
    // Final runs finished; i = 12 (queued) and 13 (running) break the rule.
    const int finished_at = k >= 3 || i == 12 || i == 13 ? 2000 + i : 0;
    insert += "INSERT INTO runs (org_id, id, workflow_id, version, status, input_json, "
              "trigger_json, record_json, error_code, actor, created_at, started_at, "
              "finished_at, attempts, cancel_requested) VALUES ('org_a', 'run_" +
              std::to_string(i) + "', 'wf', 1, '" + kStatuses[k] + "', '{}', '{}', '', '', "
              "'user:usr_a', 100, 0, " + std::to_string(finished_at) + ", 0, 0);";
  }
  ASSERT_EQ(sqlite3_exec(db, insert.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
  Open();
  for (int k = 0; k < 6; ++k) {
    auto runs = ReadWith(store(), [&](Tx& tx) { return tx.ListRunsByStatus(kStatuses[k], 10); });
    ASSERT_TRUE(runs.ok());
    ASSERT_EQ(runs->size(), 3u) << kStatuses[k];
    for (int j = 0; j < 3; ++j) {
      EXPECT_EQ((*runs)[j].id, "run_" + std::to_string(k + 6 * j)) << kStatuses[k];
      EXPECT_EQ((*runs)[j].finished_at == 0, k < 3) << (*runs)[j].id;
    }
    EXPECT_EQ(*ReadWith(store(), [&](Tx& tx) { return tx.CountRunsByStatus(kStatuses[k]); }), 3)
        << kStatuses[k];
  }
  // Final runs keep their finished_at.
  EXPECT_EQ((*ReadWith(store(), [](Tx& tx) { return tx.GetRun("org_a", "run_15"); }))->finished_at,
            2015);
}

// A database from before migration 17 holding delivery ids reserved without a run (their
// requests died before the run was stored) and ids recorded with their runs: the upgrade
// forgets the former, so their senders may retry, and keeps the latter as replays.
TEST_F(SqliteStoreTest, DeliveryIdsWithoutARunAreForgottenByTheUpgrade) {
  store_.reset();
  for (const std::string& file : {path(), path() + "-wal", path() + "-shm"}) {
    std::remove(file.c_str());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_TRUE(ApplyMigrationsUpToForTest(db, 16).ok());
  const char* kRows =
      "INSERT INTO orgs (id, slug, name, max_concurrent_runs, created_at) "
      "VALUES ('org_a', 'a', 'A', 10, 1);"
      "INSERT INTO workflows (org_id, id, name, visibility, latest_version, live_version, "
      "created_at, updated_at) VALUES ('org_a', 'wf', 'wf', 'org', 1, 1, 1, 1);"
      "INSERT INTO webhooks (org_id, id, workflow_id, token_hash, created_at) "
      "VALUES ('org_a', 'hk_1', 'wf', 'h1', 1);"
      "INSERT INTO webhook_deliveries (org_id, hook_id, delivery_id, seen_at, run_id) VALUES "
      "('org_a', 'hk_1', 'dead', 10, NULL), ('org_a', 'hk_1', 'done', 10, 'run_1');";
  ASSERT_EQ(sqlite3_exec(db, kRows, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  Open();
  EXPECT_FALSE(*ReadWith(store(), [](Tx& tx) { return tx.WebhookDeliverySeen("org_a", "hk_1", "dead"); }));
  EXPECT_TRUE(*ReadWith(store(), [](Tx& tx) { return tx.WebhookDeliverySeen("org_a", "hk_1", "done"); }));
  auto retried = WriteWith(store(), [](Tx& tx) {
    return tx.RecordWebhookDelivery("org_a", "hk_1", "dead", 20, "run_2");
  });
  ASSERT_TRUE(retried.ok());
  EXPECT_TRUE(*retried);
}

// Every status lists through ListRunsByStatus, in seq order.
TEST_F(SqliteStoreTest, ListRunsByStatusListsEveryStatus) {
  const char* const kStatuses[] = {"queued", "running", "awaiting_approval", "succeeded",
                                   "failed", "cancelled"};
  SeedTwoOrgs();
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) -> Status {
                for (int i = 0; i < 12; ++i) {
                  StoredRun r = MakeRun("org_a", "run_" + std::to_string(i), "wf", kStatuses[i % 6]);
                  r.finished_at = i % 6 >= 3 ? 2000 + i : 0;
                  if (Status s = tx.InsertRun(r); !s.ok()) return s;
                }
                return Status::Ok();
              }).ok());
  for (int k = 0; k < 6; ++k) {
    auto runs = ReadWith(store(), [&](Tx& tx) { return tx.ListRunsByStatus(kStatuses[k], 10); });
    ASSERT_TRUE(runs.ok());
    ASSERT_EQ(runs->size(), 2u) << kStatuses[k];
    EXPECT_EQ((*runs)[0].id, "run_" + std::to_string(k));
    EXPECT_EQ((*runs)[1].id, "run_" + std::to_string(k + 6));
  }
}

TEST_F(SqliteStoreTest, SettingsPutGetDelete) {
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.PutSetting("k", "v1"); }).ok());
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.PutSetting("k", "v2"); }).ok());
  EXPECT_EQ(**ReadWith(store(), [](Tx& tx) { return tx.GetSetting("k"); }), "v2");
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.DeleteSetting("k"); }).ok());
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetSetting("k"); })->has_value());
}

TEST_F(SqliteStoreTest, AuditForwardPositionIsPerDestinationAndNeverMovesBack) {
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.AuditHeadSeq(); }), 0);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.GetAuditForwardedSeq("d1"); }), 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WriteWith(store(), [](Tx& tx) -> Status {
                  AuditEvent e;
                  e.time = 1;
                  e.actor = "anonymous";
                  e.action = "login_failed";
                  e.outcome = "failure";
                  auto appended = tx.AppendAudit(e);
                  return appended.ok() ? Status::Ok() : Status(appended.error());
                }).ok());
  }
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.AuditHeadSeq(); }), 3);
  for (int64_t seq : {2, 1}) {  // an older acknowledgement does not move it back
    ASSERT_TRUE(
        WriteWith(store(), [seq](Tx& tx) { return tx.AdvanceAuditForwardedSeq("d1", seq, 7); })
            .ok());
  }
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.GetAuditForwardedSeq("d1"); }), 2);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.GetAuditForwardedSeq("d2"); }), 0);
  Open();  // durable
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.GetAuditForwardedSeq("d1"); }), 2);
}

TEST_F(SqliteStoreTest, ScheduledWorkflowsAndScheduleState) {
  SeedTwoOrgs();
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) -> Status {
                for (Workflow wf : {Workflow{"org_b", "w1", "w1", "private", 2, 2, 1, 1, true},
                                    Workflow{"org_a", "w2", "w2", "private", 3, 1, 1, 1, true},
                                    Workflow{"org_a", "w3", "w3", "private", 1, 1, 1, 1, true},
                                    Workflow{"org_a", "plain", "p", "private", 1, 1, 1, 1},
                                    Workflow{"org_a", "draft", "d", "private", 1, 0, 1, 1}}) {
                  if (Status s = tx.InsertWorkflow(wf); !s.ok()) return s;
                }
                return Status::Ok();
              }).ok());
  auto list = [this](std::string org, std::string id, int limit) {
    return ReadWith(store(), [&](Tx& tx) { return tx.ListScheduledWorkflows(org, id, limit); });
  };
  auto live = list("", "", 100);
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 3u);  // across orgs, scheduled and published only, by (org, id)
  EXPECT_EQ((*live)[0].org_id, "org_a");
  EXPECT_EQ((*live)[0].id, "w2");
  EXPECT_EQ((*live)[0].live_version, 1);
  EXPECT_EQ((*live)[1].id, "w3");
  EXPECT_EQ((*live)[2].org_id, "org_b");
  EXPECT_EQ((*live)[2].live_version, 2);
  // Pages of one, from the last row seen.
  auto first = list("", "", 1);
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].id, "w2");
  auto second = list("org_a", "w2", 1);
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].id, "w3");
  auto third = list("org_a", "w3", 5);
  ASSERT_EQ(third->size(), 1u);
  EXPECT_EQ((*third)[0].org_id, "org_b");
  EXPECT_TRUE(list("org_b", "w1", 5)->empty());
  // The flag is written by UpdateWorkflow too and read back.
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) -> Status {
                auto w = tx.GetWorkflow("org_a", "w3");
                if (!w.ok()) return w.error();
                EXPECT_TRUE((*w)->scheduled);
                Workflow updated = **w;
                updated.scheduled = false;
                return tx.UpdateWorkflow(updated);
              }).ok());
  EXPECT_EQ(list("", "", 100)->size(), 2u);

  auto last_fired = [this](const char* org) {
    return ReadWith(store(), [org](Tx& tx) { return tx.GetScheduleLastFired(org, "w2"); });
  };
  EXPECT_FALSE(last_fired("org_a")->has_value());
  for (Millis t : {5, 9}) {
    ASSERT_TRUE(
        WriteWith(store(), [t](Tx& tx) { return tx.PutScheduleLastFired("org_a", "w2", t); })
            .ok());
  }
  EXPECT_EQ(**last_fired("org_a"), 9);
  EXPECT_FALSE(last_fired("org_b")->has_value());  // org isolation

  // Deleting the workflow deletes its schedule state (a workflow created again under the
  // id is a new schedule).
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) -> Status {
                auto deleted = tx.DeleteWorkflow("org_a", "w2");
                if (!deleted.ok()) return deleted.error();
                return Status::Ok();
              }).ok());
  EXPECT_FALSE(last_fired("org_a")->has_value());
}

TEST_F(SqliteStoreTest, UniqueViolationsAreConflictsWithGenericMessages) {
  SeedTwoOrgs();
  auto expect_conflict = [&](const std::function<Status(Tx&)>& fn) {
    Status status = store().Write(fn);
    ASSERT_FALSE(status.ok());
    EXPECT_EQ(status.error().code, ErrorCode::kConflict);
    EXPECT_EQ(status.error().message.find("UNIQUE"), std::string::npos);
    EXPECT_EQ(status.error().message.find("INSERT"), std::string::npos);
  };
  expect_conflict([](Tx& tx) { return tx.InsertOrg({"org_c", "slug-a", "dup slug", 1, 1}); });
  expect_conflict([](Tx& tx) { return tx.InsertOrg({"org_a", "slug-c", "dup id", 1, 1}); });
  expect_conflict([](Tx& tx) { return tx.InsertUser({"usr_c", "a@example.com", "", 1}); });
  ApiKey key{"key_1", "org_a", "usr_a", "n", "h", "hint", "read", 1, {}, {}, {}};
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.InsertApiKey(key); }).ok());
  key.id = "key_2";
  expect_conflict([&](Tx& tx) { return tx.InsertApiKey(key); });
  Workflow wf{"org_a", "w", "W", "private", 1, 0, 1, 1};
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.InsertWorkflow(wf); }).ok());
  expect_conflict([&](Tx& tx) { return tx.InsertWorkflow(wf); });
  WorkflowVersion version{"org_a", "w", 1, "{}", "", "me", 1};
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.InsertWorkflowVersion(version); }).ok());
  expect_conflict([&](Tx& tx) { return tx.InsertWorkflowVersion(version); });
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.InsertRun(MakeRun("org_a", "r", "w")); })
                  .ok());
  // Run ids are global: even another org cannot reuse one.
  expect_conflict([](Tx& tx) { return tx.InsertRun(MakeRun("org_b", "r", "w")); });
  // Nothing of the failed writes landed.
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountOrgs(); }), 2);
}

TEST_F(SqliteStoreTest, ForeignKeysAreEnforced) {
  Status status = WriteWith(store(), [](Tx& tx) {
    return tx.UpsertMembership({"org_missing", "usr_missing", "owner", 1});
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kConflict);
}

// Walks a list page by page and returns the ids in order; fails on a repeated cursor.
template <typename T, typename List, typename Id>
std::vector<std::string> WalkPages(Store& store, int limit, List list, Id id) {
  std::vector<std::string> ids;
  PageRequest request;
  request.limit = limit;
  for (int pages = 0; pages < 1000; ++pages) {
    auto page = ReadWith(store, [&](Tx& tx) { return list(tx, request); });
    EXPECT_TRUE(page.ok());
    if (!page.ok()) return ids;
    EXPECT_LE(static_cast<int>(page->items.size()), std::clamp(limit, 1, 200));
    for (const T& item : page->items) ids.push_back(id(item));
    if (page->next.empty()) return ids;
    request.after = page->next;
  }
  ADD_FAILURE() << "pagination does not end";
  return ids;
}

TEST_F(SqliteStoreTest, PaginationVisitsEveryItemOnce) {
  SeedTwoOrgs();
  constexpr int kCount = 7;
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) -> Status {
                for (int i = 0; i < kCount; ++i) {
                  const std::string n = std::to_string(i);
                  if (Status s = tx.InsertUser({"usr_m" + n, n + "@m.example", "", 1}); !s.ok())
                    return s;
                  if (Status s = tx.UpsertMembership({"org_a", "usr_m" + n, "developer", 1});
                      !s.ok())
                    return s;
                  // Same created_at for several keys: the id breaks the tie.
                  ApiKey key{"key_" + n, "org_a", "usr_a", n, "hash" + n, "", "read", i / 3,
                             {}, {}, {}};
                  if (Status s = tx.InsertApiKey(key); !s.ok()) return s;
                  if (Status s = tx.InsertWorkflow({"org_a", "wf" + n, n, "private", 1, 0, 1, 1});
                      !s.ok())
                    return s;
                  if (Status s = tx.InsertWorkflowVersion({"org_a", "wf0", i + 1, "{}", "", "", 1});
                      !s.ok())
                    return s;
                  if (Status s = tx.InsertRun(MakeRun("org_a", "run_" + n, "wf0")); !s.ok())
                    return s;
                }
                // Noise in the other org.
                if (Status s = tx.InsertRun(MakeRun("org_b", "run_b", "wf0")); !s.ok()) return s;
                return tx.InsertWorkflow({"org_b", "wf_b", "b", "private", 1, 0, 1, 1});
              }).ok());

  for (int limit : {1, 2, 200, 0, 1000}) {
    SCOPED_TRACE(limit);
    auto members = WalkPages<Membership>(
        store(), limit, [](Tx& tx, const PageRequest& p) { return tx.ListMembers("org_a", p); },
        [](const Membership& m) { return m.user_id; });
    EXPECT_EQ(members.size(), kCount + 1u);  // + the owner usr_a
    EXPECT_TRUE(std::is_sorted(members.begin(), members.end()));
    EXPECT_EQ(std::set<std::string>(members.begin(), members.end()).size(), members.size());

    auto keys = WalkPages<ApiKey>(
        store(), limit, [](Tx& tx, const PageRequest& p) { return tx.ListApiKeys("org_a", p); },
        [](const ApiKey& k) { return k.id; });
    EXPECT_EQ(keys, (std::vector<std::string>{"key_0", "key_1", "key_2", "key_3", "key_4",
                                              "key_5", "key_6"}));

    auto workflows = WalkPages<Workflow>(
        store(), limit,
        [](Tx& tx, const PageRequest& p) { return tx.ListWorkflows("org_a", {}, p); },
        [](const Workflow& w) { return w.id; });
    EXPECT_EQ(workflows.size(), static_cast<size_t>(kCount));
    EXPECT_TRUE(std::is_sorted(workflows.begin(), workflows.end()));

    auto versions = WalkPages<WorkflowVersion>(
        store(), limit,
        [](Tx& tx, const PageRequest& p) { return tx.ListWorkflowVersions("org_a", "wf0", p); },
        [](const WorkflowVersion& v) { return std::to_string(v.version); });
    EXPECT_EQ(versions, (std::vector<std::string>{"7", "6", "5", "4", "3", "2", "1"}));

    auto runs = WalkPages<StoredRun>(
        store(), limit,
        [](Tx& tx, const PageRequest& p) { return tx.ListRuns("org_a", {"wf0", "queued"}, p); },
        [](const StoredRun& r) { return r.id; });
    EXPECT_EQ(runs, (std::vector<std::string>{"run_6", "run_5", "run_4", "run_3", "run_2",
                                              "run_1", "run_0"}));
  }

  // A garbage cursor is kInvalidArgument "invalid cursor", for every list.
  for (std::string bad : std::vector<std::string>{"garbage", "m.", "m.zz", "m.abc", "w.0g", "k.1", "k.x.00", "v.0",
                          "v.-3", "r.abc", "r.99999999999999999999", "r.1.", ".", "r",
                          std::string("r.\0", 3)}) {
    SCOPED_TRACE(bad);
    PageRequest request{bad, 10};
    auto check = [&](auto result) {
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
      EXPECT_EQ(result.error().message, "invalid cursor");
    };
    check(ReadWith(store(), [&](Tx& tx) { return tx.ListMembers("org_a", request); }));
    check(ReadWith(store(), [&](Tx& tx) { return tx.ListApiKeys("org_a", request); }));
    check(ReadWith(store(), [&](Tx& tx) { return tx.ListWorkflows("org_a", {}, request); }));
    check(ReadWith(store(), [&](Tx& tx) { return tx.ListWorkflowVersions("org_a", "wf0", request); }));
    check(ReadWith(store(), [&](Tx& tx) { return tx.ListRuns("org_a", {}, request); }));
  }
  // A cursor of one list is garbage to another.
  auto cross = ReadWith(store(), [&](Tx& tx) { return tx.ListMembers("org_a", {"r.5", 1}); });
  ASSERT_FALSE(cross.ok());
  EXPECT_EQ(cross.error().code, ErrorCode::kInvalidArgument);
}

TEST_F(SqliteStoreTest, ConcurrentWritersAllLandInGroups) {
  Open(/*synchronous_full=*/true);
  SeedTwoOrgs();
  constexpr int kThreads = 32;
  constexpr int kWritesPerThread = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        const std::string id = "run_" + std::to_string(t) + "_" + std::to_string(i);
        Status status = store().Write([&](Tx& tx) { return tx.InsertRun(MakeRun("org_a", id, "w")); });
        if (!status.ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountRunsByStatus("queued"); }),
            kThreads * kWritesPerThread);
  GroupCommitStats stats = GroupCommitStatsForTest(store());
  EXPECT_EQ(stats.jobs, kThreads * kWritesPerThread + 1);  // + SeedTwoOrgs
  EXPECT_GT(stats.grouped_commits, 0);
  EXPECT_LT(stats.commits, stats.jobs);
  std::printf("[ stats    ] %lld writes in %lld commits (%lld grouped, largest %lld)\n",
              static_cast<long long>(stats.jobs), static_cast<long long>(stats.commits),
              static_cast<long long>(stats.grouped_commits),
              static_cast<long long>(stats.largest_group));
}

TEST_F(SqliteStoreTest, FailingWriterInAGroupIsRolledBackAlone) {
  SeedTwoOrgs();
  // Hold the writer thread inside a first job so the next ones queue up and run as one
  // group: 0..kJobs-1, where job kFailing inserts a run and then fails, and job kThrowing
  // inserts a run and throws.
  constexpr int kJobs = 9;
  constexpr int kFailing = 4;
  constexpr int kThrowing = 6;
  std::atomic<bool> release{false};
  std::atomic<bool> blocking{false};
  std::thread blocker([&] {
    Status status = store().Write([&](Tx&) {
      blocking.store(true);
      while (!release.load()) std::this_thread::yield();
      return Status::Ok();
    });
    EXPECT_TRUE(status.ok());
  });
  while (!blocking.load()) std::this_thread::yield();
  const GroupCommitStats before = GroupCommitStatsForTest(store());
  std::vector<Status> results(kJobs);
  std::vector<std::thread> writers;
  for (int i = 0; i < kJobs; ++i) {
    writers.emplace_back([&, i] {
      results[i] = store().Write([i](Tx& tx) -> Status {
        Status inserted = tx.InsertRun(MakeRun("org_a", "run_" + std::to_string(i), "w"));
        if (!inserted.ok()) return inserted;
        if (i == kFailing) return MakeError(ErrorCode::kInvalidArgument, "changed my mind");
        if (i == kThrowing) throw std::runtime_error("boom");
        return Status::Ok();
      });
    });
    // Queue them in order.
    while (QueuedWritesForTest(store()) != static_cast<size_t>(i + 1)) std::this_thread::yield();
  }
  release.store(true);
  blocker.join();
  for (auto& writer : writers) writer.join();

  for (int i = 0; i < kJobs; ++i) {
    SCOPED_TRACE(i);
    auto run = ReadWith(store(), [i](Tx& tx) { return tx.GetRun("org_a", "run_" + std::to_string(i)); });
    if (i == kFailing) {
      ASSERT_FALSE(results[i].ok());
      EXPECT_EQ(results[i].error().code, ErrorCode::kInvalidArgument);
      EXPECT_FALSE(run->has_value());
    } else if (i == kThrowing) {
      ASSERT_FALSE(results[i].ok());
      EXPECT_EQ(results[i].error().code, ErrorCode::kInternal);
      EXPECT_FALSE(run->has_value());
    } else {
      EXPECT_TRUE(results[i].ok());
      EXPECT_TRUE(run->has_value());
    }
  }
  const GroupCommitStats after = GroupCommitStatsForTest(store());
  EXPECT_EQ(after.commits - before.commits, 2);  // the blocker's group, then all nine
  EXPECT_EQ(after.largest_group, kJobs);
  EXPECT_GE(after.grouped_commits, 1);
}

// Counts completions and lets the test wait for a number of them.
struct Completions {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<Status> statuses;  // in completion order
  std::function<void(Status)> Callback() {
    return [this](Status status) {
      std::lock_guard lock(mu);
      statuses.push_back(std::move(status));
      cv.notify_all();
    };
  }
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [&] { return statuses.size() >= n; });
  }
  size_t count() {
    std::lock_guard lock(mu);
    return statuses.size();
  }
};

// Whether a brand-new connection (not one of the store's) sees run `id` of org_a.
bool VisibleToAFreshConnection(const std::string& path, const std::string& id) {
  sqlite3* db = nullptr;
  bool found = false;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM runs WHERE org_id = 'org_a' AND id = ?", -1,
                           &stmt, nullptr) == SQLITE_OK) {
      sqlite3_bind_text(stmt, 1, id.c_str(), -1, SQLITE_TRANSIENT);
      found = sqlite3_step(stmt) == SQLITE_ROW && sqlite3_column_int(stmt, 0) == 1;
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return found;
}

TEST_F(SqliteStoreTest, WriteAsyncCompletesOnlyOnceTheCommitIsDurable) {
  Open(/*synchronous_full=*/true);
  SeedTwoOrgs();
  constexpr int kWrites = 20;
  std::atomic<int> visible{0};
  std::atomic<int> ok{0};
  Completions completions;
  for (int i = 0; i < kWrites; ++i) {
    const std::string id = "run_async_" + std::to_string(i);
    store().WriteAsync([id](Tx& tx) { return tx.InsertRun(MakeRun("org_a", id, "w")); },
                       [&, id, done = completions.Callback()](Status status) {
                         if (status.ok()) ok.fetch_add(1);
                         // Committed before the completion: another connection sees it.
                         if (VisibleToAFreshConnection(path(), id)) visible.fetch_add(1);
                         done(std::move(status));
                       });
  }
  ASSERT_TRUE(completions.WaitFor(kWrites));
  EXPECT_EQ(ok.load(), kWrites);
  EXPECT_EQ(visible.load(), kWrites);
  // Exactly once each.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(completions.count(), static_cast<size_t>(kWrites));
}

TEST_F(SqliteStoreTest, ConcurrentWriteAsyncCallsShareOneCommit) {
  SeedTwoOrgs();
  // Hold the writer thread inside a first job so the asynchronous ones queue up.
  std::atomic<bool> release{false};
  std::atomic<bool> blocking{false};
  Completions blocker_done;
  store().WriteAsync(
      [&](Tx&) {
        blocking.store(true);
        while (!release.load()) std::this_thread::yield();
        return Status::Ok();
      },
      blocker_done.Callback());
  while (!blocking.load()) std::this_thread::yield();
  const GroupCommitStats before = GroupCommitStatsForTest(store());

  constexpr int kThreads = 4;
  constexpr int kPerThread = 25;
  Completions completions;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "run_" + std::to_string(t) + "_" + std::to_string(i);
        // Returns at once although the writer is busy.
        store().WriteAsync([id](Tx& tx) { return tx.InsertRun(MakeRun("org_a", id, "w")); },
                           completions.Callback());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(QueuedWritesForTest(store()), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(completions.count(), 0u);  // nothing committed yet, nothing completed
  release.store(true);
  ASSERT_TRUE(blocker_done.WaitFor(1));
  ASSERT_TRUE(completions.WaitFor(kThreads * kPerThread));
  for (const Status& status : completions.statuses) EXPECT_TRUE(status.ok());
  const GroupCommitStats after = GroupCommitStatsForTest(store());
  EXPECT_EQ(after.commits - before.commits, 2);  // the blocker, then all of them together
  EXPECT_EQ(after.largest_group, kThreads * kPerThread);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountRunsByStatus("queued"); }),
            kThreads * kPerThread);
}

TEST_F(SqliteStoreTest, FailingAsyncJobIsRolledBackAloneAndAThrowingCompletionIsHarmless) {
  SeedTwoOrgs();
  std::atomic<bool> release{false};
  std::atomic<bool> blocking{false};
  store().WriteAsync(
      [&](Tx&) {
        blocking.store(true);
        while (!release.load()) std::this_thread::yield();
        return Status::Ok();
      },
      [](Status) { throw std::runtime_error("a completion that throws"); });
  while (!blocking.load()) std::this_thread::yield();
  constexpr int kJobs = 6;
  constexpr int kFailing = 2;
  constexpr int kThrowing = 4;
  std::vector<Status> results(kJobs);
  Completions completions;
  for (int i = 0; i < kJobs; ++i) {
    store().WriteAsync(
        [i](Tx& tx) -> Status {
          Status inserted = tx.InsertRun(MakeRun("org_a", "run_" + std::to_string(i), "w"));
          if (!inserted.ok()) return inserted;
          if (i == kFailing) return MakeError(ErrorCode::kInvalidArgument, "changed my mind");
          if (i == kThrowing) throw std::runtime_error("boom");
          return Status::Ok();
        },
        [&, i, done = completions.Callback()](Status status) {
          results[i] = status;
          done(status);
          if (i == 0) throw std::runtime_error("this completion throws too");
        });
  }
  const GroupCommitStats before = GroupCommitStatsForTest(store());
  release.store(true);
  ASSERT_TRUE(completions.WaitFor(kJobs));
  for (int i = 0; i < kJobs; ++i) {
    SCOPED_TRACE(i);
    auto run =
        ReadWith(store(), [i](Tx& tx) { return tx.GetRun("org_a", "run_" + std::to_string(i)); });
    if (i == kFailing || i == kThrowing) {
      ASSERT_FALSE(results[i].ok());
      EXPECT_EQ(results[i].error().code,
                i == kFailing ? ErrorCode::kInvalidArgument : ErrorCode::kInternal);
      EXPECT_FALSE(run->has_value());
    } else {
      EXPECT_TRUE(results[i].ok());
      EXPECT_TRUE(run->has_value());
    }
  }
  const GroupCommitStats after = GroupCommitStatsForTest(store());
  EXPECT_GE(after.commits - before.commits, 1);
  // The writer thread survived the throwing completions.
  EXPECT_TRUE(store().Write([](Tx& tx) { return tx.PutSetting("after", "yes"); }).ok());
}

TEST_F(SqliteStoreTest, CompletionMayWriteAsyncAgainButNotWrite) {
  SeedTwoOrgs();
  constexpr int kChain = 5;
  std::promise<void> finished;
  Status nested_write = Status::Ok();
  std::function<void(int)> step = [&](int i) {
    store().WriteAsync(
        [i](Tx& tx) { return tx.InsertRun(MakeRun("org_a", "chain_" + std::to_string(i), "w")); },
        [&, i](Status status) {
          EXPECT_TRUE(status.ok());
          if (i == 0) {
            // Would wait for this very thread: refused instead of a deadlock.
            nested_write = store().Write([](Tx& tx) { return tx.PutSetting("x", "y"); });
          }
          if (i + 1 < kChain) {
            step(i + 1);
          } else {
            finished.set_value();
          }
        });
  };
  step(0);
  ASSERT_EQ(finished.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  ASSERT_FALSE(nested_write.ok());
  EXPECT_EQ(nested_write.error().code, ErrorCode::kInternal);
  for (int i = 0; i < kChain; ++i) {
    EXPECT_TRUE(ReadWith(store(), [i](Tx& tx) {
                  return tx.GetRun("org_a", "chain_" + std::to_string(i));
                })->has_value());
  }
}

TEST_F(SqliteStoreTest, DestroyingTheStoreCompletesItsPendingWrites) {
  SeedTwoOrgs();
  constexpr int kWrites = 30;
  std::atomic<bool> release{false};
  std::atomic<bool> blocking{false};
  std::atomic<int> ok{0};
  std::atomic<int> completed{0};
  store().WriteAsync(
      [&](Tx&) {
        blocking.store(true);
        while (!release.load()) std::this_thread::yield();
        return Status::Ok();
      },
      [&](Status status) {
        if (status.ok()) ok.fetch_add(1);
        completed.fetch_add(1);
      });
  while (!blocking.load()) std::this_thread::yield();
  Store* closing = store_.get();  // valid in completions: they run before the destructor ends
  for (int i = 0; i < kWrites; ++i) {
    const std::string id = "run_" + std::to_string(i);
    store().WriteAsync([id](Tx& tx) { return tx.InsertRun(MakeRun("org_a", id, "w")); },
                       [&, i, closing](Status status) {
                         if (status.ok()) ok.fetch_add(1);
                         completed.fetch_add(1);
                         // A job queued by a completion while stopping still runs.
                         if (i == kWrites - 1) {
                           closing->WriteAsync(
                               [](Tx& tx) { return tx.InsertRun(MakeRun("org_a", "late", "w")); },
                               [&](Status late) {
                                 if (late.ok()) ok.fetch_add(1);
                                 completed.fetch_add(1);
                               });
                         }
                       });
  }
  // The writer is still held, with every job queued, when destruction begins.
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    release.store(true);
  });
  store_.reset();
  releaser.join();
  EXPECT_EQ(completed.load(), kWrites + 2);
  EXPECT_EQ(ok.load(), kWrites + 2);
  Open();
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountRunsByStatus("queued"); }), kWrites + 1);
}

TEST_F(SqliteStoreTest, NestedWriteFailsInsteadOfDeadlocking) {
  Status inner = Status::Ok();
  Status outer = store().Write([&](Tx&) {
    inner = store().Write([](Tx& tx) { return tx.PutSetting("x", "y"); });
    return Status::Ok();
  });
  EXPECT_TRUE(outer.ok());
  ASSERT_FALSE(inner.ok());
  EXPECT_EQ(inner.error().code, ErrorCode::kInternal);
}

TEST_F(SqliteStoreTest, NestedReadReusesTheSnapshotAndReadTxCannotWrite) {
  SqliteOptions options;
  options.path = dir_.path() + "/one_reader.db";
  options.read_connections = 1;
  auto one = OpenSqliteStore(options);
  ASSERT_TRUE(one.ok());
  Status status = (*one)->Read([&](Tx&) {
    return (*one)->Read([](Tx& tx) { return testing::StatusOf(tx.CountOrgs()); });
  });
  EXPECT_TRUE(status.ok());
  Status write_in_read = store().Read([](Tx& tx) { return tx.PutSetting("k", "v"); });
  ASSERT_FALSE(write_in_read.ok());
  EXPECT_EQ(write_in_read.error().code, ErrorCode::kInternal);
  EXPECT_EQ(write_in_read.error().message, "database error");
}

TEST_F(SqliteStoreTest, DurableAcrossReopenAndMigrationsAreIdempotent) {
  Open(/*synchronous_full=*/true);
  SeedTwoOrgs();
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.InsertRun(MakeRun("org_a", "r1", "w")); })
                  .ok());
  for (int i = 0; i < 2; ++i) {
    Open();
    EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountOrgs(); }), 2);
    EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.GetRun("org_a", "r1"); })->has_value());
  }
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), LatestSchemaVersion());
  sqlite3_finalize(stmt);
  std::string journal;
  sqlite3_exec(
      db, "PRAGMA journal_mode",
      [](void* out, int, char** values, char**) {
        *static_cast<std::string*>(out) = values[0];
        return 0;
      },
      &journal, nullptr);
  EXPECT_EQ(journal, "wal");
  sqlite3_close(db);
}

// Schema 8 records which master key wrapped each data key. Keys written by an older
// binary keep no id ("": they belong to the master key current at the upgrade) until a
// rewrap gives them one; the rewrap's listing finds exactly the keys not yet under a key.
TEST_F(SqliteStoreTest, DataKeysFromBeforeMasterKeyIdsMigrateWithoutAnId) {
  constexpr int kBeforeKekIds = 7;
  store_.reset();
  for (const std::string& file : {path(), path() + "-wal", path() + "-shm"}) {
    std::remove(file.c_str());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  ASSERT_TRUE(ApplyMigrationsUpToForTest(db, kBeforeKekIds).ok());
  ASSERT_EQ(sqlite3_exec(db,
                         "INSERT INTO orgs VALUES ('org_a', 'a', 'a', 10, 1);"
                         "INSERT INTO orgs VALUES ('org_b', 'b', 'b', 10, 1);"
                         "INSERT INTO data_keys VALUES ('org_a', 1, x'0102', 5);"
                         "INSERT INTO data_keys VALUES ('org_b', 1, x'0304', 6);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  Open();
  auto keys = ReadWith(store(), [](Tx& tx) { return tx.ListDataKeys("org_a"); });
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].wrapped, std::string("\x01\x02", 2));
  EXPECT_EQ((*keys)[0].kek_id, "");

  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) {
                return tx.InsertDataKey({"org_a", 2, "w2", 7, "kek-new"});
              }).ok());
  auto pending = ReadWith(store(), [](Tx& tx) { return tx.ListDataKeysNotWrappedBy("kek-new", 10); });
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 2u);
  EXPECT_EQ((*pending)[0].org_id, "org_a");
  EXPECT_EQ((*pending)[0].version, 1);
  EXPECT_EQ((*pending)[1].org_id, "org_b");
  auto limited = ReadWith(store(), [](Tx& tx) { return tx.ListDataKeysNotWrappedBy("kek-new", 1); });
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->size(), 1u);
  auto other = ReadWith(store(), [](Tx& tx) { return tx.ListDataKeysNotWrappedBy("kek-old", 10); });
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->size(), 3u);  // a key under another id is listed too

  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) {
                return tx.UpdateDataKeyWrapping({"org_a", 1, "rewrapped", 0, "kek-new"});
              }).ok());
  keys = ReadWith(store(), [](Tx& tx) { return tx.ListDataKeys("org_a"); });
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ((*keys)[0].wrapped, "rewrapped");
  EXPECT_EQ((*keys)[0].kek_id, "kek-new");
  EXPECT_EQ((*keys)[0].created_at, 5);  // only the wrapping changes
  pending = ReadWith(store(), [](Tx& tx) { return tx.ListDataKeysNotWrappedBy("kek-new", 10); });
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].org_id, "org_b");
  Status missing = WriteWith(store(), [](Tx& tx) {
    return tx.UpdateDataKeyWrapping({"org_a", 9, "x", 0, "kek-new"});
  });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_F(SqliteStoreTest, RefusesANewerSchema) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
  const std::string newer = "PRAGMA user_version = " + std::to_string(LatestSchemaVersion() + 1);
  ASSERT_EQ(sqlite3_exec(db, newer.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto opened = OpenSqliteStore({path()});
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
  EXPECT_EQ(opened.error().message, "database schema is newer than this binary");
}

TEST_F(SqliteStoreTest, DatabaseFilesAreOwnerOnly) {
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.PutSetting("k", "v"); }).ok());
  for (const std::string& file : {path(), path() + "-wal", path() + "-shm"}) {
    struct stat info {};
    ASSERT_EQ(::stat(file.c_str(), &info), 0) << file;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << file;
  }
}

TEST_F(SqliteStoreTest, WebhooksAndDeliveryIds) {
  SeedTwoOrgs();
  Webhook hook{.org_id = "org_a", .id = "hk_1", .workflow_id = "wf", .token_hash = "h1",
               .created_at = 5, .rotated_at = std::nullopt, .use_count = 0,
               .last_used_at = std::nullopt};
  ASSERT_TRUE(WriteWith(store(), [&](Tx& tx) { return tx.InsertWebhook(hook); }).ok());
  Webhook same_hash = hook;
  same_hash.id = "hk_2";
  auto dup = WriteWith(store(), [&](Tx& tx) { return tx.InsertWebhook(same_hash); });
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  auto by_hash = ReadWith(store(), [](Tx& tx) { return tx.GetWebhookByTokenHash("h1"); });
  ASSERT_TRUE(by_hash.ok() && by_hash->has_value());
  EXPECT_EQ((*by_hash)->id, "hk_1");
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetWebhook("org_b", "hk_1"); })
                   ->has_value());  // org isolation
  auto listed = ReadWith(store(), [](Tx& tx) { return tx.ListWebhooks("org_a", "wf", {}); });
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->items.size(), 1u);
  EXPECT_TRUE(ReadWith(store(), [](Tx& tx) { return tx.ListWebhooks("org_a", "other", {}); })
                  ->items.empty());

  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.RotateWebhook("org_a", "hk_1", "h2", 9); })
                  .ok());
  EXPECT_FALSE(ReadWith(store(), [](Tx& tx) { return tx.GetWebhookByTokenHash("h1"); })
                   ->has_value());
  auto rotate_other = WriteWith(store(), [](Tx& tx) { return tx.RotateWebhook("org_b", "hk_1", "h3", 9); });
  ASSERT_FALSE(rotate_other.ok());
  EXPECT_EQ(rotate_other.error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(WriteWith(store(), [](Tx& tx) { return tx.TouchWebhook("org_a", "hk_1", 11); }).ok());
  auto touched = ReadWith(store(), [](Tx& tx) { return tx.GetWebhook("org_a", "hk_1"); });
  EXPECT_EQ((*touched)->use_count, 1);
  EXPECT_EQ((*touched)->last_used_at, 11);
  EXPECT_EQ((*touched)->rotated_at, 9);

  auto record = [&](const char* id, Millis now, const char* run_id) {
    auto r = WriteWith(store(), [&](Tx& tx) {
      return tx.RecordWebhookDelivery("org_a", "hk_1", id, now, run_id);
    });
    return r.ok() && *r;
  };
  EXPECT_TRUE(record("d1", 100, "run_1"));
  EXPECT_FALSE(record("d1", 101, "run_2"));  // a replay, whatever run it would start
  EXPECT_FALSE(record("d1", 900000, "run_2"));  // never taken over while it is kept
  EXPECT_TRUE(*ReadWith(store(), [](Tx& tx) { return tx.WebhookDeliverySeen("org_a", "hk_1", "d1"); }));
  // A delivery id is recorded with its run, never alone.
  auto no_run = WriteWith(store(), [](Tx& tx) {
    return tx.RecordWebhookDelivery("org_a", "hk_1", "d9", 100, "");
  });
  ASSERT_FALSE(no_run.ok());
  EXPECT_EQ(no_run.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(*ReadWith(store(), [](Tx& tx) { return tx.WebhookDeliverySeen("org_a", "hk_1", "d9"); }));
  EXPECT_TRUE(record("d2", 300, "run_3"));
  auto pruned = WriteWith(store(), [](Tx& tx) { return tx.PruneWebhookDeliveries(250, 10); });
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
  EXPECT_FALSE(*ReadWith(store(), [](Tx& tx) { return tx.WebhookDeliverySeen("org_a", "hk_1", "d1"); }));
  EXPECT_TRUE(record("d1", 400, "run_4"));  // pruned: a new delivery again
  EXPECT_TRUE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteWebhook("org_a", "hk_1"); }));
  EXPECT_FALSE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteWebhook("org_a", "hk_1"); }));
  EXPECT_FALSE(*ReadWith(store(), [](Tx& tx) { return tx.WebhookDeliverySeen("org_a", "hk_1", "d2"); }));
}

// Idempotency keys of run starts: one winner per (org, principal, key) while the key is
// live, taken over once expired, scoped by org and principal, written only with a run,
// pruned by age.
TEST_F(SqliteStoreTest, RunIdempotencyKeysAreClaimedOncePerScopeUntilTheyExpire) {
  auto claim = [&](const char* org, const char* principal, const char* key, const char* run,
                   Millis created_at, Millis replace_before) {
    RunIdempotencyKey k{.org_id = org, .principal = principal, .key = key,
                        .request_hash = std::string("h-") + run, .run_id = run,
                        .created_at = created_at};
    auto r = WriteWith(store(), [&](Tx& tx) { return tx.ClaimRunIdempotencyKey(k, replace_before); });
    EXPECT_TRUE(r.ok());
    return r.ok() && *r;
  };
  auto get = [&](const char* org, const char* principal, const char* key) {
    auto r = ReadWith(store(), [&](Tx& tx) { return tx.GetRunIdempotencyKey(org, principal, key); });
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::optional<RunIdempotencyKey>();
  };
  EXPECT_FALSE(get("org_a", "key:key_1", "k1").has_value());
  EXPECT_TRUE(claim("org_a", "key:key_1", "k1", "run_1", 1000, 0));
  // Live (created at or after replace_before): the second claim writes nothing.
  EXPECT_FALSE(claim("org_a", "key:key_1", "k1", "run_2", 1500, 1000));
  auto stored = get("org_a", "key:key_1", "k1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->run_id, "run_1");
  EXPECT_EQ(stored->request_hash, "h-run_1");
  EXPECT_EQ(stored->created_at, 1000);
  // Another principal, another org: unrelated keys.
  EXPECT_TRUE(claim("org_a", "user:usr_1", "k1", "run_3", 1500, 0));
  EXPECT_TRUE(claim("org_b", "key:key_1", "k1", "run_4", 1500, 0));
  EXPECT_EQ(get("org_a", "key:key_1", "k1")->run_id, "run_1");
  // Expired (created before replace_before): taken over by the new run.
  EXPECT_TRUE(claim("org_a", "key:key_1", "k1", "run_5", 90000, 1001));
  stored = get("org_a", "key:key_1", "k1");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->run_id, "run_5");
  EXPECT_EQ(stored->created_at, 90000);
  // Never without a run.
  auto no_run = WriteWith(store(), [](Tx& tx) {
    return tx.ClaimRunIdempotencyKey({.org_id = "org_a", .principal = "master", .key = "k9",
                                      .request_hash = "h", .run_id = "", .created_at = 1},
                                     0);
  });
  ASSERT_FALSE(no_run.ok());
  EXPECT_EQ(no_run.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(get("org_a", "master", "k9").has_value());
  // A failed write rolls the claim back with everything else of it.
  auto rolled_back = WriteWith(store(), [](Tx& tx) -> Status {
    auto r = tx.ClaimRunIdempotencyKey({.org_id = "org_a", .principal = "master", .key = "k8",
                                        .request_hash = "h", .run_id = "run_8", .created_at = 1},
                                       0);
    if (!r.ok()) return r.error();
    return MakeError(ErrorCode::kConflict, "the run was refused");
  });
  EXPECT_FALSE(rolled_back.ok());
  EXPECT_FALSE(get("org_a", "master", "k8").has_value());
  // Pruned by age, at most `limit` per call.
  auto pruned = WriteWith(store(), [](Tx& tx) { return tx.PruneRunIdempotencyKeys(2000, 1); });
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
  pruned = WriteWith(store(), [](Tx& tx) { return tx.PruneRunIdempotencyKeys(2000, 10); });
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
  EXPECT_FALSE(get("org_a", "user:usr_1", "k1").has_value());
  EXPECT_FALSE(get("org_b", "key:key_1", "k1").has_value());
  EXPECT_EQ(get("org_a", "key:key_1", "k1")->run_id, "run_5");
}

TEST_F(SqliteStoreTest, PingAndUnopenablePath) {
  EXPECT_TRUE(store().Ping().ok());
  auto missing_dir = OpenSqliteStore({dir_.path() + "/no/such/dir/x.db"});
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.error().code, ErrorCode::kInternal);
}

// The quota counts: per org (and per workflow), and each an index search, never a scan
// of the table (a quota check runs in every create's write transaction).
TEST_F(SqliteStoreTest, QuotaCountsArePerOrgAndIndexSearches) {
  SeedTwoOrgs();
  Status written = store().Write([](Tx& tx) -> Status {
    for (const char* org : {"org_a", "org_b"}) {
      const int n = std::string(org) == "org_a" ? 3 : 1;
      for (int i = 0; i < n; ++i) {
        const std::string id = "wf" + std::to_string(i);
        if (Status s = tx.InsertWorkflow({org, id, id, "org", 1, 0, 1, 1}); !s.ok()) return s;
        for (int v = 1; v <= i + 1; ++v) {
          if (Status s = tx.InsertWorkflowVersion({org, id, v, "{}", "", "usr_a", 1}); !s.ok()) {
            return s;
          }
        }
        Connector c;
        c.org_id = org;
        c.id = "c" + std::to_string(i);
        c.type = "bearer";
        c.options = c.allowed_workflows = c.egress = "{}";
        if (Status s = tx.InsertConnector(c); !s.ok()) return s;
      }
    }
    return Status::Ok();
  });
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountWorkflows("org_a"); }), 3);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountWorkflows("org_b"); }), 1);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountWorkflows("org_none"); }), 0);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountWorkflowVersions("org_a", "wf2"); }),
            3);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountWorkflowVersions("org_b", "wf0"); }),
            1);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountWorkflowVersions("org_b", "wf2"); }),
            0);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountConnectors("org_a"); }), 3);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountConnectors("org_b"); }), 1);
  // Deleting a workflow frees its versions too.
  ASSERT_TRUE(*WriteWith(store(), [](Tx& tx) { return tx.DeleteWorkflow("org_a", "wf2"); }));
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountWorkflows("org_a"); }), 2);
  EXPECT_EQ(*ReadWith(store(), [](Tx& tx) { return tx.CountWorkflowVersions("org_a", "wf2"); }),
            0);

  store_.reset();
  for (const char* sql : {kCountWorkflowsSql, kCountWorkflowVersionsSql, kCountConnectorsSql}) {
    const std::vector<std::string> plan = QueryPlanSteps(path(), sql);
    ASSERT_EQ(plan.size(), 1u) << sql;
    EXPECT_EQ(plan[0].rfind("SEARCH ", 0), 0u) << sql << ": " << plan[0];
    EXPECT_NE(plan[0].find("org_id=?"), std::string::npos) << sql << ": " << plan[0];
  }
}

// rampart backup: the copy is one consistent snapshot even while another connection
// commits between its steps (one page a step here), and a single file without -wal.
TEST_F(SqliteStoreTest, BackupIsAConsistentSnapshotWhileWritersCommit) {
  auto append = [this](int i) {
    return store().Write([i](Tx& tx) -> Status {
      AuditEvent event;
      event.time = i;
      event.actor = "system";
      event.action = "test";
      event.outcome = "success";
      event.details = "{}";
      auto appended = tx.AppendAudit(event);
      return appended.ok() ? Status::Ok() : Status(appended.error());
    });
  };
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(append(i).ok());
  const std::string copy = dir_.path() + "/copy.db";
  std::fclose(std::fopen(copy.c_str(), "w"));
  // Another connection commits between every two steps: none of it is in the copy (a
  // copy restarted by those commits would hold them, or never finish).
  // (Bounded, so that a copy restarted by each commit ends, and fails the checks below.)
  int steps = 0;
  Status copied = BackupSqliteFile(path(), copy,
                                   {.pages_per_step = 1,
                                    .busy_sleep_ms = 1,
                                    .after_step = [&] {
                                      if (++steps <= 2000) {
                                        EXPECT_TRUE(append(1000 + steps).ok());
                                      }
                                    }});
  EXPECT_GT(steps, 10);
  EXPECT_LT(steps, 2000);
  ASSERT_TRUE(copied.ok()) << copied.error().message;
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    EXPECT_NE(::access((copy + suffix).c_str(), F_OK), 0) << suffix;
  }
  auto info = InspectSqliteFile(copy);
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->schema_version, SqliteSchemaVersion());
  EXPECT_EQ(info->audit_head_seq, 200);
  EXPECT_EQ(info->audit_head_hash.size(), 64u);
  // Every event up to the head is there, chained, and the head is the newest one.
  auto opened = OpenSqliteStore({.path = copy, .synchronous_full = false, .read_connections = 1});
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  auto events = ReadWith(**opened, [](Tx& tx) { return tx.ListAllAudit(0, 1'000'000); });
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(static_cast<int64_t>(events->size()), info->audit_head_seq);
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].seq, static_cast<int64_t>(i + 1));
    if (i > 0) {
      EXPECT_EQ((*events)[i].prev_hash, (*events)[i - 1].hash);
    }
  }
  EXPECT_EQ(events->back().hash, info->audit_head_hash);
  auto live = ReadWith(store(), [](Tx& tx) { return tx.AuditHeadSeq(); });
  ASSERT_TRUE(live.ok());
  EXPECT_EQ(*live, 200 + steps);
}

TEST_F(SqliteStoreTest, BackupOfAMissingStoreIsNotFound) {
  const std::string copy = dir_.path() + "/copy.db";
  std::fclose(std::fopen(copy.c_str(), "w"));
  Status copied = BackupSqliteFile(dir_.path() + "/none.db", copy);
  ASSERT_FALSE(copied.ok());
  EXPECT_EQ(copied.error().code, ErrorCode::kNotFound);
  EXPECT_NE(::access((dir_.path() + "/none.db").c_str(), F_OK), 0);
}

// What restore refuses: a truncated or overwritten file, a newer schema, a SQLite file
// that is no store, and a file that is no database.
TEST_F(SqliteStoreTest, InspectRefusesDamagedNewerAndForeignFiles) {
  SeedTwoOrgs();
  const std::string good = dir_.path() + "/good.db";
  std::fclose(std::fopen(good.c_str(), "w"));
  ASSERT_TRUE(BackupSqliteFile(path(), good).ok());
  ASSERT_TRUE(InspectSqliteFile(good).ok());
  const auto size = std::filesystem::file_size(good);
  ASSERT_GT(size, 8 * 4096u);
  auto copy_of_good = [&](const std::string& name) {
    const std::string file = dir_.path() + "/" + name;
    std::filesystem::copy_file(good, file);
    return file;
  };
  auto refused = [](const std::string& file, const std::string& why) {
    auto info = InspectSqliteFile(file);
    if (info.ok()) return ::testing::AssertionFailure() << file << " passed";
    if (info.error().code != ErrorCode::kInvalidArgument ||
        info.error().message.find(why) == std::string::npos) {
      return ::testing::AssertionFailure() << info.error().message;
    }
    return ::testing::AssertionSuccess();
  };
  const std::string truncated = copy_of_good("truncated.db");
  std::filesystem::resize_file(truncated, size / 2);
  EXPECT_TRUE(refused(truncated, "integrity check failed"));
  const std::string overwritten = copy_of_good("overwritten.db");
  {
    std::FILE* f = std::fopen(overwritten.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 4096, SEEK_SET);
    for (int i = 0; i < 4 * 4096; ++i) std::fputc((i * 131 + 7) & 0xff, f);
    std::fclose(f);
  }
  EXPECT_TRUE(refused(overwritten, "integrity check failed"));
  const std::string newer = copy_of_good("newer.db");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(newer.c_str(), &db), SQLITE_OK);
    const std::string sql = "PRAGMA user_version = " + std::to_string(SqliteSchemaVersion() + 1);
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_TRUE(refused(newer, "is newer than this binary"));
  const std::string foreign = dir_.path() + "/foreign.db";
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(foreign.c_str(), &db), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_TRUE(refused(foreign, "not a Rampart store"));
  const std::string text = dir_.path() + "/text.db";
  std::FILE* f = std::fopen(text.c_str(), "w");
  std::fputs("not a database at all, long enough for a header\n", f);
  std::fclose(f);
  EXPECT_TRUE(refused(text, "not a SQLite database"));
}

}  // namespace
}  // namespace rampart::store
