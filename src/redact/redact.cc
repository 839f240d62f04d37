#include "rampart/redact/redact.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <unordered_set>

#include "rampart/core/json.h"
#include "redact/forms.h"
#include "redact/matcher.h"

namespace rampart::redact {

namespace bj = boost::json;

std::optional<Policy> ParsePolicy(std::string_view name) {
  if (name == "redact") return Policy::kRedact;
  if (name == "block") return Policy::kBlock;
  return std::nullopt;
}

std::string_view PolicyName(Policy policy) {
  return policy == Policy::kBlock ? "block" : "redact";
}

struct SnapshotAccess {
  static std::shared_ptr<const Matcher> Get(const SecretSet& set) { return set.Snapshot(); }
};

SecretSet::SecretSet() = default;
SecretSet::~SecretSet() = default;

void SecretSet::Add(std::string_view secret) {
  if (secret.empty()) return;
  std::lock_guard lock(mu_);
  if (std::find(secrets_.begin(), secrets_.end(), secret) != secrets_.end()) return;
  secrets_.emplace_back(secret);
  matcher_.reset();
}

size_t SecretSet::size() const {
  std::lock_guard lock(mu_);
  return secrets_.size();
}

std::shared_ptr<const Matcher> SecretSet::Snapshot() const {
  std::lock_guard lock(mu_);
  if (!matcher_) {
    std::vector<Pattern> patterns;
    for (const auto& s : secrets_) {
      if (s.size() < kMinSecretLength) continue;
      auto forms = DerivedForms(s);
      patterns.insert(patterns.end(), std::make_move_iterator(forms.begin()),
                      std::make_move_iterator(forms.end()));
    }
    matcher_ = std::make_shared<const Matcher>(std::move(patterns), secrets_);
  }
  return matcher_;
}

std::vector<std::string> SecretSet::PatternsForTest() const { return Snapshot()->patterns(); }

bool SecretSet::Contains(std::string_view text) const { return Snapshot()->Contains(text); }

std::string SecretSet::Redact(std::string_view text, bool* found) const {
  std::string out;
  bool hit = Snapshot()->Redact(text, &out);
  if (found) *found = hit;
  return hit ? out : std::string(text);
}

namespace {

bool NumberMatches(const Matcher& m, const bj::value& v) {
  return m.numbers_matter() && m.Contains(json::Serialize(v));
}

bool AnyMatch(const Matcher& m, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::string: return m.Contains(v.get_string());
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_: return NumberMatches(m, v);
    case bj::kind::array:
      for (const auto& item : v.get_array()) {
        if (AnyMatch(m, item)) return true;
      }
      return false;
    case bj::kind::object:
      for (const auto& kv : v.get_object()) {
        if (m.Contains(kv.key()) || AnyMatch(m, kv.value())) return true;
      }
      return false;
    default: return false;
  }
}

// Redacts in place; returns whether anything changed.
bool RedactValue(const Matcher& m, bj::value& v) {
  switch (v.kind()) {
    case bj::kind::string: {
      std::string out;
      if (!m.Redact(v.get_string(), &out)) return false;
      v.get_string() = out;
      return true;
    }
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_:
      if (!NumberMatches(m, v)) return false;
      v = bj::string(kRedactedText);
      return true;
    case bj::kind::array: {
      bool changed = false;
      for (auto& item : v.get_array()) changed |= RedactValue(m, item);
      return changed;
    }
    case bj::kind::object: {
      bj::object& obj = v.get_object();
      bool changed = false;
      bool key_hit = false;
      for (auto& kv : obj) {
        changed |= RedactValue(m, kv.value());
        if (!key_hit && m.Contains(kv.key())) key_hit = true;
      }
      if (!key_hit) return changed;
      // Rebuild with redacted keys, in order. A redacted key that collides with another
      // key gets "~N", avoiding every key that was kept as it was.
      std::vector<std::string> keys;
      std::vector<bool> redacted;
      keys.reserve(obj.size());
      std::unordered_set<std::string> taken;
      for (auto& kv : obj) {
        std::string key;
        bool hit = m.Redact(kv.key(), &key);
        if (!hit) {
          key = std::string(kv.key());
          taken.insert(key);
        }
        keys.push_back(std::move(key));
        redacted.push_back(hit);
      }
      bj::object rebuilt(obj.storage());
      rebuilt.reserve(obj.size());
      size_t i = 0;
      for (auto& kv : obj) {
        std::string key = std::move(keys[i]);
        if (redacted[i] && taken.count(key) != 0) {
          for (size_t n = 2;; ++n) {
            std::string candidate = key + "~" + std::to_string(n);
            if (taken.count(candidate) == 0) {
              key = std::move(candidate);
              break;
            }
          }
        }
        if (redacted[i]) taken.insert(key);
        rebuilt.emplace(key, std::move(kv.value()));
        ++i;
      }
      obj = std::move(rebuilt);
      return true;
    }
    default: return false;
  }
}

}  // namespace

Status ScrubJsonInPlace(bj::value& v, const SecretSet& secrets, Policy policy, bool* found,
                        std::string_view subject) {
  if (found) *found = false;
  auto matcher = SnapshotAccess::Get(secrets);
  if (matcher->empty()) return Status::Ok();
  if (policy == Policy::kBlock) {
    if (!AnyMatch(*matcher, v)) return Status::Ok();
    if (found) *found = true;
    return MakeError(ErrorCode::kSecretExposure, std::string(subject) + " contains a secret value");
  }
  bool hit = RedactValue(*matcher, v);
  if (found) *found = hit;
  return Status::Ok();
}

Result<bj::value> ScrubJson(const bj::value& v, const SecretSet& secrets, Policy policy,
                            std::string_view subject) {
  auto matcher = SnapshotAccess::Get(secrets);
  if (matcher->empty() || !AnyMatch(*matcher, v)) return v;
  if (policy == Policy::kBlock) {
    return MakeError(ErrorCode::kSecretExposure, std::string(subject) + " contains a secret value");
  }
  bj::value copy = v;
  RedactValue(*matcher, copy);
  return copy;
}

bool ContainsInJson(const bj::value& v, const SecretSet& secrets) {
  auto matcher = SnapshotAccess::Get(secrets);
  return !matcher->empty() && AnyMatch(*matcher, v);
}

Error ScrubError(Error error, const SecretSet& secrets) {
  auto matcher = SnapshotAccess::Get(secrets);
  std::string out;
  if (matcher->Redact(error.message, &out)) error.message = std::move(out);
  return error;
}

void RedactingLogSink::Write(const bj::object& line) {
  auto matcher = SnapshotAccess::Get(secrets_);
  bool hit = false;
  if (!matcher->empty()) {
    for (const auto& kv : line) {
      if (matcher->Contains(kv.key()) || AnyMatch(*matcher, kv.value())) {
        hit = true;
        break;
      }
    }
  }
  if (!hit) {
    inner_.Write(line);
    return;
  }
  bj::value copy(line);
  RedactValue(*matcher, copy);
  inner_.Write(copy.get_object());
}

}  // namespace rampart::redact
