#include "rampart/audit/chain.h"

#include <charconv>
#include <string_view>

#include "rampart/audit/checkpoint.h"
#include "rampart/crypto/crypto.h"

namespace rampart::audit {
namespace {

void AppendField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
  out += '\n';
}

}  // namespace

std::string FormatHead(const ChainHead& head) {
  return std::to_string(head.seq) + ":" + head.hash;
}

std::optional<ChainHead> ParseHead(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  ChainHead head;
  const char* end = text.data() + colon;
  auto [ptr, ec] = std::from_chars(text.data(), end, head.seq);
  if (ec != std::errc() || ptr != end || head.seq < 1) return std::nullopt;
  head.hash = std::string(text.substr(colon + 1));
  return head;
}

std::string EventHash(const store::AuditEvent& event) {
  std::string canonical;
  canonical.reserve(256 + event.details.size());
  AppendField(canonical, "rampart-audit-v1");
  AppendField(canonical, event.prev_hash);
  AppendField(canonical, std::to_string(event.seq));
  AppendField(canonical, std::to_string(event.time));
  AppendField(canonical, event.org_id);
  AppendField(canonical, event.actor);
  AppendField(canonical, event.action);
  AppendField(canonical, event.target);
  AppendField(canonical, event.outcome);
  AppendField(canonical, event.source_ip);
  AppendField(canonical, event.user_agent);
  AppendField(canonical, event.details);
  return crypto::Sha256Hex(canonical);
}

Status Append(store::Store& store, const store::AuditEvent& event) {
  return store.Write([&](store::Tx& tx) -> Status {
    auto appended = tx.AppendAudit(event);
    if (!appended.ok()) return appended.error();
    return Status::Ok();
  });
}

void AppendAsync(store::Store& store, store::AuditEvent event, std::function<void(Status)> done) {
  store.WriteAsync(
      [event = std::move(event)](store::Tx& tx) -> Status {
        auto appended = tx.AppendAudit(event);
        if (!appended.ok()) return appended.error();
        return Status::Ok();
      },
      std::move(done));
}

const char* ChainBreak(const store::AuditEvent& event, int64_t expected_seq,
                       std::string_view expected_prev) {
  if (event.seq != expected_seq) return "gap in sequence";
  if (event.prev_hash != expected_prev) return "broken link";
  if (EventHash(event) != event.hash) return "hash mismatch";
  return nullptr;
}

Result<VerifyReport> Verify(store::Store& store, const VerifyOptions& options) {
  VerifyReport report;
  std::string expected_prev = kGenesisHash;
  int64_t expected_seq = 1;
  int64_t after = 0;
  // The head and the checkpoint are read in the snapshot of the first batch: events
  // appended (or purged) while the walk runs come after it, so the head must be found
  // among the events walked.
  bool first_batch = true;
  std::optional<ChainHead> head;
  std::optional<std::string> checkpoint_text;
  bool head_seen = false;
  constexpr int kBatch = 1000;
  constexpr const char* kHeadMismatch = "head mismatch (events deleted at the end)";
  while (true) {
    std::vector<store::AuditEvent> batch;
    const bool reading_first = first_batch;
    Status status = store.Read([&](store::Tx& tx) -> Status {
      if (first_batch) {
        auto text = tx.GetSetting(kHeadSettingKey);
        if (!text.ok()) return text.error();
        if (text->has_value()) {
          head = ParseHead(**text);
          // A head that does not parse was written by someone else than the store.
          if (!head) head = ChainHead{0, ""};
        }
        auto checkpoint = tx.GetSetting(kCheckpointSettingKey);
        if (!checkpoint.ok()) return checkpoint.error();
        checkpoint_text = std::move(checkpoint).value();
        first_batch = false;
      }
      auto events = tx.ListAllAudit(after, kBatch);
      if (!events.ok()) return events.error();
      batch = std::move(events).value();
      return Status::Ok();
    });
    if (!status.ok()) return status.error();
    if (head && head->seq == 0) {
      report.intact = false;
      report.reason = kHeadMismatch;
      return report;
    }
    if (reading_first && checkpoint_text) {
      // The chain starts where the last purge left it; every way the checkpoint can fail
      // reports the first event kept (its link to the purged part cannot be trusted).
      auto fail_checkpoint = [&](const char* reason) {
        report.intact = false;
        report.reason = reason;
        if (!batch.empty()) {
          report.first_bad_seq = batch.front().seq;
          report.first_bad_event = batch.front();
        }
      };
      const std::optional<Checkpoint> checkpoint = ParseCheckpoint(*checkpoint_text);
      if (!checkpoint) {
        fail_checkpoint("checkpoint malformed");
        return report;
      }
      report.checkpoint_seq = checkpoint->seq;
      if (options.checkpoint_keys.empty()) {
        fail_checkpoint(kCheckpointNeedsKey);
        return report;
      }
      if (!CheckpointSignedBy(*checkpoint, options.checkpoint_keys)) {
        fail_checkpoint("checkpoint signature invalid (forged or altered checkpoint)");
        return report;
      }
      // A purge always appends its audit.purged event after the checkpoint.
      if (batch.empty()) {
        report.intact = false;
        report.first_bad_seq = checkpoint->seq + 1;
        report.reason = "no event after the checkpoint";
        return report;
      }
      if (batch.front().seq != checkpoint->seq + 1 ||
          batch.front().prev_hash != checkpoint->hash) {
        fail_checkpoint("events deleted beyond the checkpoint (it does not meet the first event)");
        return report;
      }
      expected_seq = checkpoint->seq + 1;
      expected_prev = checkpoint->hash;
    }
    for (const store::AuditEvent& event : batch) {
      auto fail = [&](const char* reason) {
        report.intact = false;
        report.first_bad_seq = event.seq;
        report.reason = reason;
        report.first_bad_event = event;
      };
      // A deleted event leaves a gap: the first event after it is reported.
      if (const char* broken = ChainBreak(event, expected_seq, expected_prev)) {
        fail(broken);
      } else if (head && event.seq == head->seq) {
        if (event.hash != head->hash) fail(kHeadMismatch);
        head_seen = true;
      }
      if (!report.intact) return report;
      ++report.events;
      expected_prev = event.hash;
      expected_seq = event.seq + 1;
      after = event.seq;
    }
    if (static_cast<int>(batch.size()) < kBatch) {
      if (head && !head_seen) {
        // The head names an event past the end of the chain: the tail was deleted.
        report.intact = false;
        report.first_bad_seq = expected_seq;
        report.reason = kHeadMismatch;
      }
      break;
    }
  }
  return report;
}

}  // namespace rampart::audit
