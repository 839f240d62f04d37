#include "rampart/audit/retention.h"

#include <boost/json/object.hpp>
#include <algorithm>
#include <limits>
#include <utility>

#include "rampart/audit/chain.h"
#include "rampart/audit/checkpoint.h"
#include "rampart/core/json.h"

namespace rampart::audit {
namespace {

constexpr int kMaxBatch = 1000;

Error ChainBroken(int64_t seq) {
  return MakeError(ErrorCode::kInternal,
                   "audit retention: the audit chain is broken at event " + std::to_string(seq) +
                       "; nothing purged (run `rampart audit verify`)");
}

}  // namespace

AuditRetention::AuditRetention(store::Store& store, Clock& clock, AuditRetentionOptions options)
    : store_(store), clock_(clock), options_(std::move(options)), periodic_(options_.interval) {}

AuditRetention::~AuditRetention() { Stop(); }

void AuditRetention::Start() {
  if (options_.retention_days <= 0) return;
  periodic_.Start([this] {
    auto swept = RunOnce();
    if (!swept.ok() && options_.on_error) options_.on_error(swept.error());
  });
}

void AuditRetention::Stop() { periodic_.Stop(); }

Result<int64_t> AuditRetention::RunOnce() {
  if (options_.retention_days <= 0) return int64_t{0};
  if (options_.checkpoint_key.empty()) {
    return MakeError(ErrorCode::kInternal, "audit retention needs the master key");
  }
  const auto now = clock_.Now();
  const auto cutoff = now - std::chrono::hours(24) * options_.retention_days;
  const int64_t now_ms = UnixMillis(now);
  const int64_t cutoff_ms = UnixMillis(cutoff);
  const std::string cutoff_text = FormatRfc3339(cutoff);
  // Events the collector has not acknowledged are never purged.
  int64_t bound = std::numeric_limits<int64_t>::max();
  if (options_.max_purge_seq) bound = options_.max_purge_seq().value_or(0);
  std::vector<std::string> keys{options_.checkpoint_key};
  keys.insert(keys.end(), options_.previous_checkpoint_keys.begin(),
              options_.previous_checkpoint_keys.end());
  const int batch = std::clamp(options_.batch, 1, kMaxBatch);
  int64_t total = 0;
  for (;;) {
    if (periodic_.stopping()) break;
    int64_t purged = 0;
    Status written = store_.Write([&](store::Tx& tx) -> Status {
      purged = 0;
      auto text = tx.GetSetting(kCheckpointSettingKey);
      if (!text.ok()) return text.error();
      std::optional<Checkpoint> checkpoint;
      bool resign = false;
      if (text->has_value()) {
        checkpoint = ParseCheckpoint(**text);
        if (!checkpoint) {
          return MakeError(ErrorCode::kInternal,
                           "audit retention: the retention checkpoint is malformed; nothing "
                           "purged (run `rampart audit verify`)");
        }
        const std::optional<size_t> signer = CheckpointSignedBy(*checkpoint, keys);
        if (!signer) {
          return MakeError(ErrorCode::kInternal,
                           "audit retention: the retention checkpoint does not verify with the "
                           "master key; nothing purged (run `rampart audit verify`)");
        }
        resign = *signer != 0;
      }
      int64_t expected_seq = checkpoint ? checkpoint->seq + 1 : 1;
      std::string expected_prev = checkpoint ? checkpoint->hash : kGenesisHash;
      // One more than a batch: the first event kept must link to the last one purged.
      auto events = tx.ListAllAudit(expected_seq - 1, batch + 1);
      if (!events.ok()) return events.error();
      size_t due = 0;
      for (; due < events->size() && due < static_cast<size_t>(batch); ++due) {
        const store::AuditEvent& event = (*events)[due];
        // The first event not due ends the prefix: never a hole in the chain, whatever
        // the times of later events say.
        if (event.time >= cutoff_ms || event.seq > bound) break;
        if (ChainBreak(event, expected_seq, expected_prev)) return ChainBroken(event.seq);
        expected_prev = event.hash;
        ++expected_seq;
      }
      if (due == 0) {
        if (resign) {
          // Made with a previous master key: signed again with the current one, so the
          // previous key can be retired.
          return tx.PutSetting(kCheckpointSettingKey,
                               FormatCheckpoint(SignCheckpoint(checkpoint->seq, checkpoint->hash,
                                                               checkpoint->time,
                                                               options_.checkpoint_key)));
        }
        return Status::Ok();
      }
      if (due < events->size()) {
        const store::AuditEvent& kept = (*events)[due];
        if (kept.seq != expected_seq || kept.prev_hash != expected_prev) {
          return ChainBroken(kept.seq);
        }
      }
      const store::AuditEvent& last = (*events)[due - 1];
      // The checkpoint first: the store's trigger refuses deleting what it does not cover.
      Status put = tx.PutSetting(
          kCheckpointSettingKey,
          FormatCheckpoint(SignCheckpoint(last.seq, last.hash, now_ms, options_.checkpoint_key)));
      if (!put.ok()) return put;
      auto deleted = tx.DeleteAuditThrough(last.seq);
      if (!deleted.ok()) return deleted.error();
      if (*deleted != static_cast<int64_t>(due)) {
        // Events at or before the old checkpoint were still there: not a state the purge
        // made; leave it for `rampart audit verify` (rolled back).
        return ChainBroken(last.seq);
      }
      store::AuditEvent event;
      event.time = now_ms;
      event.actor = "system";
      event.action = "audit.purged";
      event.outcome = "success";
      event.details = json::Serialize(boost::json::object{{"count", static_cast<int64_t>(due)},
                                                          {"cutoff", cutoff_text},
                                                          {"checkpoint_seq", last.seq}});
      auto appended = tx.AppendAudit(std::move(event));
      if (!appended.ok()) return appended.error();
      purged = static_cast<int64_t>(due);
      return Status::Ok();
    });
    if (!written.ok()) return written.error();
    total += purged;
    if (purged < batch) break;
  }
  return total;
}

}  // namespace rampart::audit
