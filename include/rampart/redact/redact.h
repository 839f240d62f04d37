// Value-based secret redaction (spec/security.md section 1, "Redaction/blocking").
//
// The expression language tracks secret *taint*: a value computed from `secrets.*` is
// replaced as a whole before it enters a run record. This module complements taint with
// a value scan: every secret used by a run is registered in a SecretSet together with
// its common encodings, and any text or JSON about to leave the engine (step output, run
// record, error message, log line, HTTP response, outbound hook payload) is scanned for
// them in one linear pass (an Aho-Corasick automaton over all registered forms).
//
// What is caught, for a secret `s` of at least kMinSecretLength bytes:
//   - `s` itself, anywhere in the text;
//   - standard base64 (padded and unpadded) and base64url (padded and unpadded);
//   - lowercase and uppercase hex;
//   - percent-encoding: RFC 3986 (keeps A-Za-z0-9-._~), WHATWG
//     application/x-www-form-urlencoded (keeps A-Za-z0-9*-._), JavaScript
//     encodeURIComponent (keeps A-Za-z0-9-_.!~*'()), Python urllib.parse.quote with its
//     default safe="/" (keeps A-Za-z0-9-._~/), PHP urlencode (keeps A-Za-z0-9-._) and
//     JavaScript encodeURI (keeps A-Za-z0-9-_.!~*'();,/?:@&=+$#), each with a space as
//     `+` and as `%20`, with uppercase and lowercase hex digits; and each of these
//     encoded a second time when that pass only turns every `%` into `%25`;
//   - JSON string escaping (the text between the quotes of a JSON string literal):
//     short escapes (\n, \t ...) or \u00XX for control characters (either hex case),
//     `/` raw or as `\/`, non-ASCII raw or as \uXXXX (surrogate pairs above U+FFFF),
//     and the escaping applied twice (JSON text inside a JSON string);
//   - base64 of `s` at any byte offset inside a longer base64 text (for example the
//     HTTP Basic credentials `base64("user:" + s)`): the three "phase" encodings of `s`
//     with the characters that also depend on neighbouring bytes dropped, for secrets
//     whose stable part is at least kMinPhaseLength characters (secrets of 5+ bytes).
//     When such a match is found the adjacent base64 characters that carry some bits
//     of the secret are redacted with it.
// Shorter secrets (1..kMinSecretLength-1 bytes) would match almost any text; they are
// only redacted when a whole value (a whole string, a whole number's text, a whole
// error message or log field) equals the secret exactly.
//
// What is NOT caught (by design; taint covers values derived inside the engine):
//   - a slice, a transformation (upper-casing, reversal, hashing, encryption) or an
//     encoding not listed above of a secret;
//   - a secret split across two JSON strings, or across JSON syntax;
//   - JSON literals `true`, `false`, `null` (only strings, object keys and the text of
//     numbers are scanned).
//
// Every match (overlapping and adjacent matches merged) is replaced by kRedactedText.
// The placeholder itself is never re-matched: a match lying entirely inside occurrences
// of kRedactedText is ignored, so Contains(Redact(t)) is false for every text t.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/actions/action.h"
#include "rampart/core/error.h"
#include "rampart/core/result.h"

namespace rampart::redact {

// The replacement for every match; the same text the engine uses for tainted values.
inline constexpr std::string_view kRedactedText = "***REDACTED***";

// Secrets shorter than this are matched only as whole values (see above).
inline constexpr size_t kMinSecretLength = 4;

// The shortest base64 phase pattern registered (see above).
inline constexpr size_t kMinPhaseLength = 6;

enum class Policy {
  kRedact,  // replace every match with kRedactedText (the default)
  kBlock,   // refuse: kSecretExposure, nothing modified
};

// "redact" / "block"; nullopt for anything else.
std::optional<Policy> ParsePolicy(std::string_view name);
std::string_view PolicyName(Policy policy);

class Matcher;  // the compiled automaton (internal)

// The secrets of one run and their encodings.
//
// Thread-safe: Add, Redact, Contains and the Scrub functions may be called concurrently.
// The automaton is rebuilt lazily by the first scan after an Add (cost: a few
// microseconds per secret); a scan holds an immutable snapshot, so a secret added
// while a scan runs is seen by the next scan. Scans take a mutex only briefly.
class SecretSet {
 public:
  SecretSet();
  ~SecretSet();
  SecretSet(const SecretSet&) = delete;
  SecretSet& operator=(const SecretSet&) = delete;

  // Registers `secret` and its encodings. The empty string is ignored; adding the same
  // secret twice is a no-op.
  void Add(std::string_view secret);

  // The number of distinct secrets added (of any length).
  size_t size() const;
  bool empty() const { return size() == 0; }

  // Every registered pattern (raw values and derived forms of secrets of at least
  // kMinSecretLength bytes), deduplicated. For tests and diagnostics.
  std::vector<std::string> PatternsForTest() const;

  // Whether `text` contains a registered form (or equals a short secret).
  bool Contains(std::string_view text) const;

  // `text` with every match replaced by kRedactedText. `found` (optional) tells whether
  // anything was replaced. Linear in text.size() (a text that places a secret
  // containing '*' right next to the placeholder may need a few more passes, at most 8;
  // past that the whole text is replaced).
  std::string Redact(std::string_view text, bool* found = nullptr) const;

 private:
  friend struct SnapshotAccess;
  std::shared_ptr<const Matcher> Snapshot() const;

  mutable std::mutex mu_;
  std::vector<std::string> secrets_;                  // GUARDED_BY(mu_), distinct, in order
  mutable std::shared_ptr<const Matcher> matcher_;    // GUARDED_BY(mu_), null when stale
};

// Scans every string of `v` (object keys included) and the text of every number.
//   kRedact: replaces matches in place: a string becomes its Redact() form; a number
//            whose text matches becomes the string kRedactedText; a key that collides
//            with another after redaction gets a suffix "~2", "~3"...
//   kBlock:  returns kSecretExposure ("<subject> contains a secret value") and leaves
//            `v` untouched if anything matches.
// `found` (optional) tells whether anything matched. Never fails under kRedact.
Status ScrubJsonInPlace(boost::json::value& v, const SecretSet& secrets, Policy policy,
                        bool* found = nullptr, std::string_view subject = "a step output");

// The same on a copy.
Result<boost::json::value> ScrubJson(const boost::json::value& v, const SecretSet& secrets,
                                     Policy policy, std::string_view subject = "a step output");

// Whether any string, key or number text of `v` matches. Does not allocate when nothing
// matches (beyond number formatting).
bool ContainsInJson(const boost::json::value& v, const SecretSet& secrets);

// `error` with its message redacted (code unchanged). Error messages are never blocked.
Error ScrubError(Error error, const SecretSet& secrets);

// A LogSink that scrubs every line (keys and values, redact policy: log lines are never
// blocked) before passing it on. Does not own `inner` or `secrets`; both must outlive
// it. Thread-safe when `inner` is.
class RedactingLogSink final : public actions::LogSink {
 public:
  RedactingLogSink(actions::LogSink& inner, const SecretSet& secrets)
      : inner_(inner), secrets_(secrets) {}
  void Write(const boost::json::object& line) override;

 private:
  actions::LogSink& inner_;
  const SecretSet& secrets_;
};

}  // namespace rampart::redact
