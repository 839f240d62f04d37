// An in-memory cache of resolved webhook triggers (POST /hooks/{token}), keyed by the
// SHA-256 of the URL token, so that a request to a known trigger - forged or genuine - is
// checked without a store transaction. Internal to rampart_api.
//
// A stale entry must never accept a rotated token or an old secret:
//   - Every change that alters what a token resolves to (trigger URL rotate and delete,
//     publish, workflow delete, connector update and delete) calls InvalidateOrg once its
//     commit is done and before its response is sent, so a request sent after that
//     response resolves from the store.
//   - A lookup that missed takes Generation() *before* its read transaction and passes it
//     to Insert, which drops the entry when any invalidation happened in between (the
//     read may have seen the state from before that commit).
//   - Entries expire after `max_age`: the bound on staleness from writers outside this
//     process (nothing in Rampart changes triggers from another process; `rampart keys
//     rotate` re-encrypts secrets but never changes a plaintext, and older data key
//     versions keep decrypting).
//   - At most `capacity` entries; the least recently used is evicted first. Capacity 0
//     disables the cache (every lookup misses, Insert keeps nothing).
// Values are shared, immutable snapshots: an evicted value lives on only while a request
// that found it still holds it. T should not hold plaintext secrets (the webhook receiver
// keeps the connector's sealed secret and decrypts it per request).
//
// Thread-safety: every method is thread-safe (one mutex; entries are few and operations
// O(1) except InvalidateOrg, which is O(entries) and rare).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace rampart::api::internal {

template <class T>
class TriggerCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  TriggerCache(size_t capacity, std::chrono::milliseconds max_age)
      : capacity_(capacity), max_age_(max_age) {}

  // The value cached for `key`, or null (absent or expired; an expired entry is dropped).
  std::shared_ptr<const T> Find(const std::string& key, TimePoint now) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    if (now - it->second.loaded_at >= max_age_ || now < it->second.loaded_at) {
      EraseLocked(it);
      return nullptr;
    }
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second.value;
  }

  // Increases with every invalidation.
  uint64_t Generation() const {
    std::lock_guard lock(mu_);
    return generation_;
  }

  // Caches `value` for `key` (replacing any entry), unless an invalidation happened since
  // `generation` was read. Returns whether it was kept.
  bool Insert(const std::string& key, std::string org, std::shared_ptr<const T> value,
              uint64_t generation, TimePoint now) {
    std::lock_guard lock(mu_);
    if (generation != generation_ || capacity_ == 0 || value == nullptr) return false;
    if (auto it = entries_.find(key); it != entries_.end()) EraseLocked(it);
    while (entries_.size() >= capacity_) EraseLocked(entries_.find(lru_.back()));
    lru_.push_front(key);
    entries_.emplace(key, Entry{std::move(org), std::move(value), now, lru_.begin()});
    return true;
  }

  // Drops the entry of `key`, if any.
  void Erase(const std::string& key) {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(key); it != entries_.end()) EraseLocked(it);
  }

  // Drops every entry of `org` and starts a new generation.
  void InvalidateOrg(std::string_view org) {
    std::lock_guard lock(mu_);
    ++generation_;
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto next = std::next(it);
      if (it->second.org == org) EraseLocked(it);
      it = next;
    }
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
  }

 private:
  struct Entry {
    std::string org;
    std::shared_ptr<const T> value;
    TimePoint loaded_at;
    std::list<std::string>::iterator lru;
  };
  using Map = std::unordered_map<std::string, Entry>;

  void EraseLocked(typename Map::iterator it) {
    lru_.erase(it->second.lru);
    entries_.erase(it);
  }

  const size_t capacity_;
  const std::chrono::milliseconds max_age_;
  mutable std::mutex mu_;
  Map entries_;                 // guarded by mu_
  std::list<std::string> lru_;  // keys, most recently used first; guarded by mu_
  uint64_t generation_ = 0;     // guarded by mu_
};

}  // namespace rampart::api::internal
