// The audit hash chain (spec/security.md section 7): each event stores the hash of the
// previous one, so deleting, reordering or altering any event breaks the chain.
//
// hash = hex SHA-256 over a length-prefixed encoding of prev_hash, seq, time, org_id,
// actor, action, target, outcome, source_ip, user_agent and details. The first event's
// prev_hash is kGenesisHash.
#pragma once

#include <functional>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/result.h"
#include "rampart/store/store.h"

namespace rampart::audit {

inline constexpr const char* kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The setting under which the store records the chain's head, "<seq>:<hash>" of the last
// event, in the same transaction as each append: deleting events at the end of the chain
// leaves no broken link, but no longer matches the head.
inline constexpr const char* kHeadSettingKey = "audit.head";

struct ChainHead {
  int64_t seq = 0;
  std::string hash;
};
std::string FormatHead(const ChainHead& head);
// nullopt when `text` is not "<seq>:<hash>" with seq >= 1.
std::optional<ChainHead> ParseHead(std::string_view text);

// Appends one event in its own write transaction, for events that belong to no other
// change of the store (failed authentications, security events, decisions taken after a
// request's transaction). Events that go with a change are appended in its transaction.
Status Append(store::Store& store, const store::AuditEvent& event);
// The same without waiting: `done` gets the status once the event is durable (on the
// store's writer thread; see Store::WriteAsync).
void AppendAsync(store::Store& store, store::AuditEvent event, std::function<void(Status)> done);

// The hash `event` must carry, given its fields and prev_hash (event.hash is ignored).
std::string EventHash(const store::AuditEvent& event);

// Why `event` does not continue a chain whose next seq is `expected_seq` and whose last
// hash is `expected_prev`: "gap in sequence", "broken link" or "hash mismatch"; nullptr
// when it does. The one link rule of Verify and of the retention purge.
const char* ChainBreak(const store::AuditEvent& event, int64_t expected_seq,
                       std::string_view expected_prev);

struct VerifyReport {
  bool intact = true;
  int64_t events = 0;        // events checked
  int64_t first_bad_seq = 0;  // when !intact
  // when !intact: "hash mismatch", "broken link", "gap in sequence",
  // "head mismatch (events deleted at the end)", and with a retention checkpoint
  // (audit/checkpoint.h): kCheckpointNeedsKey, "checkpoint malformed", "checkpoint
  // signature invalid (forged or altered checkpoint)", "events deleted beyond the
  // checkpoint (it does not meet the first event)", "no event after the checkpoint".
  std::string reason;
  // when !intact: the first bad event as stored (altered, or the first after a gap, or
  // the first one kept when the checkpoint is bad); nullopt when the bad part is missing
  // events at the end of the chain.
  std::optional<store::AuditEvent> first_bad_event;
  // The retention checkpoint the chain starts from, when there is one (its seq).
  std::optional<int64_t> checkpoint_seq;
};

inline constexpr const char* kCheckpointNeedsKey =
    "the retention checkpoint cannot be checked without the master key";

struct VerifyOptions {
  // Checkpoint keys (CheckpointKey of the current master key, then of previous ones): a
  // checkpoint is accepted when its MAC verifies under one of them. Empty: a chain with a
  // checkpoint is reported not intact (kCheckpointNeedsKey), never intact.
  std::vector<std::string> checkpoint_keys{};
};

// Walks every event in seq order and checks hashes, links, that seq has no gaps, and
// that the recorded head (kHeadSettingKey, when present) is an event of the chain with
// that hash: deleting the last events is detected too. Without a retention checkpoint the
// chain must start at seq 1 from kGenesisHash; with one, its MAC must verify and the
// chain must start at checkpoint.seq + 1 with prev_hash == checkpoint.hash.
Result<VerifyReport> Verify(store::Store& store, const VerifyOptions& options = {});

}  // namespace rampart::audit
