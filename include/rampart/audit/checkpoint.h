// The retention checkpoint of the audit chain (ASVS V14.2.4): when audit retention purges
// the oldest events (audit/retention.h), the chain no longer starts at the genesis hash.
// The checkpoint records where it now starts - the seq and hash of the last purged event
// - and the time of the purge, authenticated with an HMAC-SHA256 under a key derived from
// the master key, so that `rampart audit verify` can tell a purge from a deletion:
//
//   key = HKDF-SHA256(ikm = master key material, salt = "rampart",
//                     info = "rampart audit checkpoint v1"), 32 bytes
//   mac = HMAC-SHA256(key, "rampart-audit-checkpoint-v1" | seq | hash | time)
//         every field length-prefixed (4 bytes big-endian), numbers in decimal
//
// Stored in settings under kCheckpointSettingKey as the text
//   v1:<seq>:<hash, 64 hex>:<time, unix ms>:<mac, 64 hex>
// The store's delete trigger reads the seq from it with core string functions (the store
// runs with trusted_schema off, which refuses JSON functions in triggers;
// store/migrations.cc): only events at or before it can be deleted.
//
// Thread-safety: plain functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::audit {

inline constexpr const char* kCheckpointSettingKey = "audit.checkpoint";

// The 32-byte checkpoint key of a master key (the material as the keyring takes it).
std::string CheckpointKey(std::string_view master_key_material);

struct Checkpoint {
  int64_t seq = 0;       // the last purged event
  std::string hash;      // its hash (hex): the prev_hash of the first kept event
  int64_t time = 0;      // when the purge ran (Unix ms)
  std::string mac;       // hex HMAC-SHA256 over the three above
};

// A checkpoint of (seq, hash, time) with its MAC under `key`.
Checkpoint SignCheckpoint(int64_t seq, std::string hash, int64_t time, std::string_view key);
// True when the MAC matches under `key` (constant-time comparison).
bool CheckpointMacValid(const Checkpoint& checkpoint, std::string_view key);
// The index in `keys` of the first key the checkpoint's MAC verifies under; nullopt when
// none does (forged, altered, or made with a master key not given).
std::optional<size_t> CheckpointSignedBy(const Checkpoint& checkpoint,
                                         const std::vector<std::string>& keys);

std::string FormatCheckpoint(const Checkpoint& checkpoint);
// Strict: "v1", seq >= 1 and time >= 0 in canonical decimal, hash and mac 64 lower-case
// hex characters; nullopt on anything else.
std::optional<Checkpoint> ParseCheckpoint(std::string_view text);

}  // namespace rampart::audit
