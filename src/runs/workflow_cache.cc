// WorkflowCache: stored versions are immutable while their workflow lives, so a loaded
// Workflow can be shared by every run of that (org, workflow, version) whose stored
// definition text is the one it was loaded from. Loading
// (parse + validation + expression compilation) costs far more than a store lookup, which
// is why the cache exists at all.
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "rampart/runs/runs.h"

namespace rampart::runs {

class WorkflowCache::Impl {
 public:
  Impl(store::Store& store, size_t capacity) : store_(store), capacity_(capacity ? capacity : 1) {}

  // With a `generation`, only that generation's version (0, a deleted workflow's run of
  // before migration 20, matches no row).
  Result<std::shared_ptr<const model::Workflow>> Get(
      std::string_view org_id, std::string_view workflow_id, int version,
      std::optional<int64_t> generation = std::nullopt) {
    // Never served by key alone: the entry may be a deleted workflow's version of the
    // same number (a public endpoint ran a deleted public definition after its id was
    // re-created private; a worker ran a deleted definition's steps).
    std::optional<store::WorkflowVersion> stored;
    Status read = store_.Read([&](store::Tx& tx) -> Status {
      if (generation.has_value()) {
        auto row = tx.GetWorkflow(org_id, workflow_id);
        if (!row.ok()) return row.error();
        if (!*row || (*row)->generation != generation) return Status::Ok();
      }
      auto v = tx.GetWorkflowVersion(org_id, workflow_id, version);
      if (!v.ok()) return v.error();
      stored = std::move(*v);
      return Status::Ok();
    });
    if (!read.ok()) return read.error();
    if (!stored) {
      return MakeError(ErrorCode::kNotFound, "workflow " + std::string(workflow_id) + " version " +
                                                 std::to_string(version) + " not found");
    }
    return Get(*stored);
  }

  Result<std::shared_ptr<const model::Workflow>> Get(const store::WorkflowVersion& stored) {
    std::string key = Key(stored.org_id, stored.workflow_id, stored.version);
    {
      std::lock_guard lock(mu_);
      if (auto it = index_.find(key); it != index_.end() && it->second->definition == stored.definition) {
        lru_.splice(lru_.begin(), lru_, it->second);
        return it->second->workflow;
      }
    }
    // Load outside the lock: a slow load must not block hits for other workflows. Two
    // threads missing the same key at once both load; the last insert wins.
    model::LoadResult loaded = model::LoadDefinition(stored.definition, model::Format::kAuto);
    if (!loaded.ok()) {
      const auto& e = loaded.errors.front();
      return MakeError(ErrorCode::kInvalidDefinition,
                       "workflow " + stored.workflow_id + " version " +
                           std::to_string(stored.version) + " does not load: " + e.path + ": " +
                           e.message);
    }
    std::lock_guard lock(mu_);
    if (auto it = index_.find(key); it != index_.end()) {
      lru_.erase(it->second);
      index_.erase(it);
    }
    lru_.push_front(Entry{key, stored.definition, loaded.workflow});
    index_.emplace(std::move(key), lru_.begin());
    while (lru_.size() > capacity_) {
      index_.erase(lru_.back().key);
      lru_.pop_back();
    }
    return loaded.workflow;
  }

 private:
  // NUL cannot occur in ids, so the key is unambiguous.
  static std::string Key(std::string_view org_id, std::string_view workflow_id, int version) {
    std::string key;
    key.reserve(org_id.size() + workflow_id.size() + 16);
    key.append(org_id).push_back('\0');
    key.append(workflow_id).push_back('\0');
    key.append(std::to_string(version));
    return key;
  }

  struct Entry {
    std::string key;
    std::string definition;  // what it was loaded from, to detect a re-created workflow
    std::shared_ptr<const model::Workflow> workflow;
  };

  store::Store& store_;
  const size_t capacity_;
  std::mutex mu_;
  std::list<Entry> lru_;                                            // GUARDED_BY(mu_), most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;  // GUARDED_BY(mu_)
};

WorkflowCache::WorkflowCache(store::Store& store, size_t capacity)
    : impl_(std::make_unique<Impl>(store, capacity)) {}

WorkflowCache::~WorkflowCache() = default;

Result<std::shared_ptr<const model::Workflow>> WorkflowCache::Get(std::string_view org_id,
                                                                  std::string_view workflow_id,
                                                                  int version,
                                                                  std::optional<int64_t> generation) {
  return impl_->Get(org_id, workflow_id, version, generation);
}

Result<std::shared_ptr<const model::Workflow>> WorkflowCache::GetForRun(const store::Run& run) {
  return impl_->Get(run.org_id, run.workflow_id, run.version, run.workflow_generation);
}

Result<std::shared_ptr<const model::Workflow>> WorkflowCache::Get(const store::WorkflowVersion& stored) {
  return impl_->Get(stored);
}

}  // namespace rampart::runs
