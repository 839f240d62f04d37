// KeepHighestRanked: how a bounded in-memory table makes room at once. Used by the rate
// limiters (webhooks::TokenBuckets, api::SourceLimiter), which halve their table when it
// is full, so the O(n) pass happens once per n/2 new keys rather than once per key.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <iterator>
#include <type_traits>
#include <vector>

namespace rampart {

// Erases from `map` (any map whose values `rank` accepts) all but the `keep` entries whose
// rank(value) is highest; exactly `keep` stay (ties at the cut are kept in map order).
template <class Map, class Rank>
void KeepHighestRanked(Map& map, size_t keep, Rank rank) {
  if (map.size() <= keep) return;
  if (keep == 0) {
    map.clear();
    return;
  }
  using R = std::decay_t<decltype(rank(map.begin()->second))>;
  std::vector<R> ranks;
  ranks.reserve(map.size());
  for (const auto& kv : map) ranks.push_back(rank(kv.second));
  const auto last_kept = ranks.begin() + static_cast<std::ptrdiff_t>(keep - 1);
  std::nth_element(ranks.begin(), last_kept, ranks.end(), std::greater<>());
  const R cut = *last_kept;
  size_t kept_at_cut = static_cast<size_t>(
      std::count(ranks.begin(), std::next(last_kept), cut));
  std::erase_if(map, [&](const auto& kv) {
    const R r = rank(kv.second);
    if (cut < r) return false;
    if (r == cut && kept_at_cut > 0) {
      --kept_at_cut;
      return false;
    }
    return true;
  });
}

}  // namespace rampart
