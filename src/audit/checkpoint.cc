#include "rampart/audit/checkpoint.h"

#include <charconv>
#include <system_error>

#include "rampart/crypto/crypto.h"

namespace rampart::audit {
namespace {

constexpr std::string_view kLabel = "rampart-audit-checkpoint-v1";

void AppendField(std::string& out, std::string_view field) {
  const auto size = static_cast<uint32_t>(field.size());
  out += static_cast<char>(size >> 24);
  out += static_cast<char>(size >> 16);
  out += static_cast<char>(size >> 8);
  out += static_cast<char>(size);
  out.append(field);
}

std::string MacHex(int64_t seq, std::string_view hash, int64_t time, std::string_view key) {
  std::string message;
  AppendField(message, kLabel);
  AppendField(message, std::to_string(seq));
  AppendField(message, hash);
  AppendField(message, std::to_string(time));
  return crypto::HexEncode(crypto::DigestBytes(crypto::HmacSha256(key, message)));
}

bool IsLowerHex64(std::string_view text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

// Canonical non-negative decimal: digits only, no leading zero (but "0").
bool ParseDecimal(std::string_view text, int64_t& out) {
  if (text.empty() || text.size() > 18 || (text.size() > 1 && text[0] == '0')) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && out >= 0;
}

}  // namespace

std::string CheckpointKey(std::string_view master_key_material) {
  return crypto::HkdfSha256(master_key_material, "rampart", "rampart audit checkpoint v1", 32);
}

Checkpoint SignCheckpoint(int64_t seq, std::string hash, int64_t time, std::string_view key) {
  Checkpoint checkpoint;
  checkpoint.seq = seq;
  checkpoint.hash = std::move(hash);
  checkpoint.time = time;
  checkpoint.mac = MacHex(checkpoint.seq, checkpoint.hash, checkpoint.time, key);
  return checkpoint;
}

bool CheckpointMacValid(const Checkpoint& checkpoint, std::string_view key) {
  return crypto::ConstantTimeEqual(MacHex(checkpoint.seq, checkpoint.hash, checkpoint.time, key),
                                   checkpoint.mac);
}

std::optional<size_t> CheckpointSignedBy(const Checkpoint& checkpoint,
                                         const std::vector<std::string>& keys) {
  for (size_t i = 0; i < keys.size(); ++i) {
    if (CheckpointMacValid(checkpoint, keys[i])) return i;
  }
  return std::nullopt;
}

std::string FormatCheckpoint(const Checkpoint& checkpoint) {
  return "v1:" + std::to_string(checkpoint.seq) + ":" + checkpoint.hash + ":" +
         std::to_string(checkpoint.time) + ":" + checkpoint.mac;
}

std::optional<Checkpoint> ParseCheckpoint(std::string_view text) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t colon = text.find(':');
    parts.push_back(text.substr(0, colon));
    if (colon == std::string_view::npos) break;
    text.remove_prefix(colon + 1);
  }
  if (parts.size() != 5 || parts[0] != "v1") return std::nullopt;
  Checkpoint checkpoint;
  if (!ParseDecimal(parts[1], checkpoint.seq) || checkpoint.seq < 1 ||
      !ParseDecimal(parts[3], checkpoint.time) || !IsLowerHex64(parts[2]) ||
      !IsLowerHex64(parts[4])) {
    return std::nullopt;
  }
  checkpoint.hash = std::string(parts[2]);
  checkpoint.mac = std::string(parts[4]);
  return checkpoint;
}

}  // namespace rampart::audit
