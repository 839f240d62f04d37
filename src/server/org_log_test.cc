#include "rampart/server/org_log.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace rampart::server {
namespace {

namespace bj = boost::json;

bj::object Line(std::string org, std::string event, std::string msg, std::string level = "warn") {
  return bj::object{{"level", level}, {"msg", msg}, {"org", org}, {"event", event},
                    {"code", "internal"}, {"fields", bj::object{{"secret_field", "s3cr3t"}}}};
}

TEST(OrgLogRing, KeepsOnlyTheFiveFieldsOfAnOrgsLines) {
  OrgLogRing ring;
  ring.Observe(Line("org_a", "request.failed", "getRun failed: internal"), 1000);
  auto records = ring.Recent("org_a", 10);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].time_ms, 1000);
  EXPECT_EQ(records[0].level, "warn");
  EXPECT_EQ(records[0].event, "request.failed");
  EXPECT_EQ(records[0].code, "internal");
  EXPECT_EQ(records[0].message, "getRun failed: internal");
  // Another org sees nothing of it.
  EXPECT_TRUE(ring.Recent("org_b", 10).empty());
}

TEST(OrgLogRing, LinesWithoutAnOrgOrOfARunAreNeverKept) {
  OrgLogRing ring;
  ring.Observe(bj::object{{"level", "info"}, {"msg", "listening"}}, 1);
  ring.Observe(bj::object{{"level", "info"}, {"msg", "no event"}, {"org", "org_a"}}, 2);
  // A run's line (what a workflow's log.write wrote: possibly run input) even with an org.
  bj::object run_line = Line("org_a", "log", "customer email is a@b.test");
  run_line["run_id"] = "run_1";
  ring.Observe(run_line, 3);
  // Not strings: ignored.
  ring.Observe(bj::object{{"org", 7}, {"event", "x"}, {"msg", "m"}}, 4);
  EXPECT_TRUE(ring.Recent("org_a", 10).empty());
}

TEST(OrgLogRing, CredentialShapedWordsAreMaskedAndMessagesBounded) {
  OrgLogRing ring;
  const std::string key = "rpk_" + std::string(43, 'A') + "abcdef";
  const std::string grant = "rps_" + std::string(49, 'z');
  ring.Observe(Line("org_a", "request.failed",
                    "used " + key + ", then x" + grant + "; secret whsec_aGVsbG8=+/ end"),
               1);
  auto records = ring.Recent("org_a", 1);
  ASSERT_EQ(records.size(), 1u);
  const std::string& m = records[0].message;
  EXPECT_EQ(m.find(key), std::string::npos);
  EXPECT_EQ(m.find(grant.substr(4)), std::string::npos);
  EXPECT_EQ(m.find("aGVsbG8"), std::string::npos);
  EXPECT_EQ(m, "used rpk_***, then xrps_***; secret whsec_*** end");

  std::string long_message(2000, 'x');
  long_message[OrgLogRing::kMaxMessageBytes - 1] = '\xc3';  // a 2-byte character across the cut
  long_message[OrgLogRing::kMaxMessageBytes] = '\xa9';
  ring.Observe(Line("org_a", "e", long_message), 2);
  records = ring.Recent("org_a", 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].message.size(), OrgLogRing::kMaxMessageBytes - 1);
  // An unknown level is info; an over-long event is cut.
  ring.Observe(Line("org_a", std::string(500, 'e'), "m", "shout"), 3);
  records = ring.Recent("org_a", 1);
  EXPECT_EQ(records[0].level, "info");
  EXPECT_EQ(records[0].event.size(), 64u);
}

TEST(OrgLogRing, BoundedPerOrgAndInOrgs) {
  OrgLogRing ring(/*per_org=*/3, /*max_orgs=*/2);
  for (int i = 0; i < 10; ++i) ring.Observe(Line("org_a", "e", std::to_string(i)), i);
  auto records = ring.Recent("org_a", 100);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].message, "9");  // newest first
  EXPECT_EQ(records[2].message, "7");
  EXPECT_EQ(ring.Recent("org_a", 2).size(), 2u);
  ring.Observe(Line("org_b", "e", "b"), 20);
  ring.Observe(Line("org_c", "e", "c"), 21);  // the org written least recently goes
  EXPECT_TRUE(ring.Recent("org_a", 10).empty());
  EXPECT_EQ(ring.Recent("org_b", 10).size(), 1u);
  EXPECT_EQ(ring.Recent("org_c", 10).size(), 1u);
  ring.Observe(Line("org_b", "e", "b2"), 22);  // org_b seen first, written last
  ring.Observe(Line("org_d", "e", "d"), 23);
  EXPECT_TRUE(ring.Recent("org_c", 10).empty());
  EXPECT_EQ(ring.Recent("org_b", 10).size(), 2u);
  EXPECT_EQ(ring.size(), 3u);
}

// The records of all orgs together are bounded: past the cap, the least recently written
// org loses its oldest records first (and the org itself once it has none left).
TEST(OrgLogRing, AGlobalCapEvictsTheLeastRecentlyWrittenOrgsOldestRecords) {
  OrgLogRing ring(/*per_org=*/5, /*max_orgs=*/100, /*max_records=*/10);
  for (int i = 0; i < 5; ++i) ring.Observe(Line("org_a", "e", "a" + std::to_string(i)), i);
  for (int i = 0; i < 5; ++i) ring.Observe(Line("org_b", "e", "b" + std::to_string(i)), i);
  EXPECT_EQ(ring.size(), 10u);
  // org_a written again: its own ring drops a0, nothing else goes.
  ring.Observe(Line("org_a", "e", "a5"), 10);
  EXPECT_EQ(ring.size(), 10u);
  EXPECT_EQ(ring.Recent("org_b", 10).size(), 5u);
  // A new org over the cap: org_b (written least recently) loses b0, not org_a a1.
  ring.Observe(Line("org_c", "e", "c0"), 11);
  EXPECT_EQ(ring.size(), 10u);
  auto b = ring.Recent("org_b", 10);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_EQ(b.back().message, "b1");
  EXPECT_EQ(ring.Recent("org_a", 10).size(), 5u);
  // org_b drained entirely before org_a loses anything.
  for (int i = 1; i < 5; ++i) ring.Observe(Line("org_c", "e", "c" + std::to_string(i)), 11 + i);
  EXPECT_TRUE(ring.Recent("org_b", 10).empty());
  EXPECT_EQ(ring.Recent("org_a", 10).size(), 5u);
  EXPECT_EQ(ring.Recent("org_c", 10).size(), 5u);
  EXPECT_EQ(ring.size(), 10u);
}

TEST(OrgLogRing, ManyOrgsStayUnderTheGlobalCap) {
  constexpr size_t kPerOrg = 50;
  constexpr size_t kCap = 1000;
  OrgLogRing ring(kPerOrg, /*max_orgs=*/10'000, kCap);
  int64_t t = 0;
  for (int org = 0; org < 2000; ++org) {
    for (size_t i = 0; i < kPerOrg; ++i) {
      ring.Observe(Line("org_" + std::to_string(org), "e", std::to_string(i)), ++t);
    }
    ASSERT_LE(ring.size(), kCap);
  }
  EXPECT_EQ(ring.size(), kCap);
  // The most recent orgs keep all their records, newest first; the oldest have none.
  for (int org = 1999; org > 1999 - static_cast<int>(kCap / kPerOrg); --org) {
    auto records = ring.Recent("org_" + std::to_string(org), 1000);
    ASSERT_EQ(records.size(), kPerOrg) << org;
    EXPECT_EQ(records.front().message, std::to_string(kPerOrg - 1));
  }
  EXPECT_TRUE(ring.Recent("org_0", 1000).empty());
  EXPECT_TRUE(ring.Recent("org_1979", 1000).empty());

  // The default bound: far below 500 records for each of 10,000 orgs.
  EXPECT_LT(OrgLogRing::kDefaultMaxRecords, size_t{500} * 10'000);
}

TEST(OrgLogRing, ConcurrentWritersAndReaders) {
  OrgLogRing ring(/*per_org=*/50);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&ring, t] {
      for (int i = 0; i < 500; ++i) {
        ring.Observe(Line("org_" + std::to_string(t % 2), "e", "m"), i);
        (void)ring.Recent("org_0", 10);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ring.Recent("org_0", 1000).size(), 50u);
  EXPECT_EQ(ring.Recent("org_1", 1000).size(), 50u);
}

}  // namespace
}  // namespace rampart::server
