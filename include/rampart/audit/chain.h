// The audit hash chain (spec/security.md section 7): each event stores the hash of the
// previous one, so deleting, reordering or altering any event breaks the chain.
//
// hash = hex SHA-256 over a length-prefixed encoding of prev_hash, seq, time, org_id,
// actor, action, target, outcome, source_ip, user_agent and details. The first event's
// prev_hash is kGenesisHash.
#pragma once

#include <cstdint>
#include <string>

#include "rampart/core/result.h"
#include "rampart/store/store.h"

namespace rampart::audit {

inline constexpr const char* kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The hash `event` must carry, given its fields and prev_hash (event.hash is ignored).
std::string EventHash(const store::AuditEvent& event);

struct VerifyReport {
  bool intact = true;
  int64_t events = 0;        // events checked
  int64_t first_bad_seq = 0;  // when !intact
  std::string reason;         // when !intact: "hash mismatch", "broken link", "gap in sequence"
};

// Walks every event in seq order and checks hashes, links and that seq has no gaps.
Result<VerifyReport> Verify(store::Store& store);

}  // namespace rampart::audit
