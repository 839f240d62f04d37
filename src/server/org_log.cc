#include "rampart/server/org_log.h"

#include <algorithm>
#include <array>

namespace rampart::server {
namespace {

constexpr size_t kMaxShortField = 64;

bool IsBase62(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// The prefixes of Rampart's bearer credentials and webhook secrets (crypto/tokens.h).
constexpr std::array<std::string_view, 7> kCredentialPrefixes = {
    "rpk_", "rps_", "rpt_", "rss_", "rwh_", "csr_", "whsec_"};

std::string_view StringMember(const boost::json::object& line, std::string_view key) {
  const boost::json::value* v = line.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return v->get_string();
}

}  // namespace

std::string OrgLogRing::Sanitize(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  size_t i = 0;
  while (i < text.size()) {
    bool masked = false;
    for (std::string_view prefix : kCredentialPrefixes) {
      // Anywhere, even glued to a word: a token pasted into text need not stand alone.
      if (text.substr(i, prefix.size()) == prefix) {
        size_t end = i + prefix.size();
        // whsec_ secrets are base64: take every character a token can hold.
        while (end < text.size() && (IsBase62(text[end]) || text[end] == '+' ||
                                     text[end] == '/' || text[end] == '=' || text[end] == '_' ||
                                     text[end] == '-')) {
          ++end;
        }
        out += prefix;
        out += "***";
        i = end;
        masked = true;
        break;
      }
    }
    if (!masked) out += text[i++];
  }
  if (out.size() > max_bytes) {
    size_t cut = max_bytes;
    // Back off to the start of a UTF-8 character.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  return out;
}

void OrgLogRing::Observe(const boost::json::object& line, int64_t time_ms) {
  std::string_view org = StringMember(line, "org");
  std::string_view event = StringMember(line, "event");
  if (org.empty() || event.empty() || line.contains("run_id") || org.size() > kMaxShortField) {
    return;
  }
  OrgLogRecord record;
  record.time_ms = time_ms;
  std::string_view level = StringMember(line, "level");
  record.level = (level == "debug" || level == "warn" || level == "error") ? level : "info";
  record.event = Sanitize(event, kMaxShortField);
  record.code = Sanitize(StringMember(line, "code"), kMaxShortField);
  record.message = Sanitize(StringMember(line, "msg"), kMaxMessageBytes);

  std::lock_guard lock(mu_);
  auto it = rings_.find(std::string(org));
  if (it == rings_.end()) {
    while (!written_.empty() && rings_.size() >= max_orgs_) {
      auto oldest = rings_.find(written_.front());
      records_ -= oldest->second.records.size();
      rings_.erase(oldest);
      written_.pop_front();
    }
    if (max_orgs_ == 0) return;
    it = rings_.emplace(std::string(org), Ring()).first;
    it->second.written = written_.emplace(written_.end(), org);
  } else {
    written_.splice(written_.end(), written_, it->second.written);  // now the newest
  }
  std::deque<OrgLogRecord>& ring = it->second.records;
  ring.push_back(std::move(record));
  ++records_;
  while (ring.size() > per_org_) {
    ring.pop_front();
    --records_;
  }
  while (records_ > max_records_) EvictOldest();
}

void OrgLogRing::EvictOldest() {
  auto it = rings_.find(written_.front());
  std::deque<OrgLogRecord>& ring = it->second.records;
  if (!ring.empty()) {
    ring.pop_front();
    --records_;
  }
  if (ring.empty()) {
    rings_.erase(it);
    written_.pop_front();
  }
}

size_t OrgLogRing::size() const {
  std::lock_guard lock(mu_);
  return records_;
}

std::vector<OrgLogRecord> OrgLogRing::Recent(std::string_view org_id, size_t limit) const {
  std::vector<OrgLogRecord> out;
  std::lock_guard lock(mu_);
  auto it = rings_.find(std::string(org_id));
  if (it == rings_.end()) return out;
  const std::deque<OrgLogRecord>& ring = it->second.records;
  for (auto r = ring.rbegin(); r != ring.rend() && out.size() < limit; ++r) out.push_back(*r);
  return out;
}

}  // namespace rampart::server
