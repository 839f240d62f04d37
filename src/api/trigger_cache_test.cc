#include "api/trigger_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace rampart::api::internal {
namespace {

using std::chrono::milliseconds;
using Cache = TriggerCache<std::string>;

const Cache::TimePoint kT0 = Cache::TimePoint(std::chrono::hours(1));

std::shared_ptr<const std::string> V(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

TEST(TriggerCache, FindsWhatWasInserted) {
  Cache cache(8, milliseconds(60000));
  EXPECT_EQ(cache.Find("k", kT0), nullptr);
  ASSERT_TRUE(cache.Insert("k", "org_a", V("v"), cache.Generation(), kT0));
  auto found = cache.Find("k", kT0 + milliseconds(10));
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(*found, "v");
  // Replacing keeps one entry.
  ASSERT_TRUE(cache.Insert("k", "org_a", V("w"), cache.Generation(), kT0));
  EXPECT_EQ(*cache.Find("k", kT0), "w");
  EXPECT_EQ(cache.size(), 1u);
}

TEST(TriggerCache, InvalidateOrgDropsOnlyThatOrg) {
  Cache cache(8, milliseconds(60000));
  cache.Insert("a1", "org_a", V("a1"), cache.Generation(), kT0);
  cache.Insert("a2", "org_a", V("a2"), cache.Generation(), kT0);
  cache.Insert("b1", "org_b", V("b1"), cache.Generation(), kT0);
  cache.InvalidateOrg("org_a");
  EXPECT_EQ(cache.Find("a1", kT0), nullptr);
  EXPECT_EQ(cache.Find("a2", kT0), nullptr);
  ASSERT_NE(cache.Find("b1", kT0), nullptr);
  EXPECT_EQ(cache.size(), 1u);
}

// A lookup whose store read may predate an invalidating commit must not cache what it read.
TEST(TriggerCache, InsertAfterAnInvalidationSinceTheReadIsDropped) {
  Cache cache(8, milliseconds(60000));
  const uint64_t before_read = cache.Generation();
  cache.InvalidateOrg("org_other");  // any org: the read could have seen any state
  EXPECT_FALSE(cache.Insert("k", "org_a", V("stale"), before_read, kT0));
  EXPECT_EQ(cache.Find("k", kT0), nullptr);
  EXPECT_TRUE(cache.Insert("k", "org_a", V("fresh"), cache.Generation(), kT0));
}

TEST(TriggerCache, EntriesExpire) {
  Cache cache(8, milliseconds(1000));
  cache.Insert("k", "org_a", V("v"), cache.Generation(), kT0);
  EXPECT_NE(cache.Find("k", kT0 + milliseconds(999)), nullptr);
  EXPECT_EQ(cache.Find("k", kT0 + milliseconds(1000)), nullptr);
  EXPECT_EQ(cache.size(), 0u);
  // A clock that went backwards does not extend an entry's life either.
  cache.Insert("k", "org_a", V("v"), cache.Generation(), kT0);
  EXPECT_EQ(cache.Find("k", kT0 - milliseconds(1)), nullptr);
}

TEST(TriggerCache, BoundedLeastRecentlyUsedFirst) {
  Cache cache(3, milliseconds(60000));
  for (const char* k : {"a", "b", "c"}) cache.Insert(k, "org", V(k), cache.Generation(), kT0);
  ASSERT_NE(cache.Find("a", kT0), nullptr);  // "b" is now the least recently used
  cache.Insert("d", "org", V("d"), cache.Generation(), kT0);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.Find("b", kT0), nullptr);
  EXPECT_NE(cache.Find("a", kT0), nullptr);
  EXPECT_NE(cache.Find("c", kT0), nullptr);
  EXPECT_NE(cache.Find("d", kT0), nullptr);
  for (int i = 0; i < 100; ++i) {
    cache.Insert("x" + std::to_string(i), "org", V("x"), cache.Generation(), kT0);
  }
  EXPECT_EQ(cache.size(), 3u);
}

TEST(TriggerCache, EvictedValuesLiveOnlyWhileHeld) {
  Cache cache(1, milliseconds(60000));
  cache.Insert("a", "org", V("a"), cache.Generation(), kT0);
  std::weak_ptr<const std::string> weak = cache.Find("a", kT0);
  ASSERT_FALSE(weak.expired());
  cache.Insert("b", "org", V("b"), cache.Generation(), kT0);
  EXPECT_TRUE(weak.expired());
}

TEST(TriggerCache, CapacityZeroCachesNothing) {
  Cache cache(0, milliseconds(60000));
  EXPECT_FALSE(cache.Insert("k", "org", V("v"), cache.Generation(), kT0));
  EXPECT_EQ(cache.Find("k", kT0), nullptr);
}

TEST(TriggerCache, EraseDropsOneKey) {
  Cache cache(8, milliseconds(60000));
  cache.Insert("a", "org", V("a"), cache.Generation(), kT0);
  cache.Insert("b", "org", V("b"), cache.Generation(), kT0);
  cache.Erase("a");
  cache.Erase("missing");
  EXPECT_EQ(cache.Find("a", kT0), nullptr);
  EXPECT_NE(cache.Find("b", kT0), nullptr);
}

}  // namespace
}  // namespace rampart::api::internal
