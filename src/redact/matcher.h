// The compiled multi-pattern matcher behind SecretSet (internal to rampart_redact).
//
// Aho-Corasick with sparse goto edges (a dense table for the root) and failure links,
// behind a prefilter: every pattern is at least 4 bytes long, so a text position can
// only start a match if its 4 bytes hash into a small bitmap of pattern prefixes. The
// scan runs the cheap prefilter and switches to the automaton from a candidate
// position until the automaton is back within 3 bytes of the root, then resumes the
// prefilter where a match could still start. Every byte is examined a bounded number
// of times, so a scan is linear in the text whatever the patterns; building costs
// O(total pattern length), a few microseconds for a handful of secrets.
// Immutable after construction; safe to share between threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "redact/forms.h"

namespace rampart::redact {

struct Span {
  size_t begin;
  size_t end;
};

class Matcher {
 public:
  // `patterns`: forms of the secrets of at least kMinSecretLength bytes.
  // `exact`: every secret (any length), matched when a whole value equals it.
  Matcher(std::vector<Pattern> patterns, std::vector<std::string> exact);

  bool empty() const { return empty_; }
  // Whether a match can occur in the text of a JSON number.
  bool numbers_matter() const { return numbers_matter_; }
  const std::vector<std::string>& patterns() const { return pattern_texts_; }

  // The spans to replace (sorted, disjoint, non-adjacent), after dropping matches that
  // lie inside placeholder text and widening the others over placeholder text they
  // touch. Empty when nothing matches.
  void Scan(std::string_view text, std::vector<Span>* spans) const;
  bool Contains(std::string_view text) const;
  // Returns false (and leaves `out` alone) when nothing matches.
  bool Redact(std::string_view text, std::string* out) const;

 private:
  static constexpr size_t kGram = 4;        // every pattern is at least this long
  static constexpr int kBloomBits = 16;     // 8 KiB bitmap

  bool ExactMatch(std::string_view text) const;
  // One pass. With `first_only`, stops at the first kept match (spans unmerged).
  bool ScanPass(std::string_view text, std::vector<Span>* spans, bool first_only) const;
  uint32_t Child(uint32_t node, unsigned char c) const;
  uint32_t Step(uint32_t node, unsigned char c) const;
  bool MayStart(const unsigned char* at) const;

  bool empty_ = true;
  bool numbers_matter_ = false;
  bool has_star_ = false;  // a pattern contains '*' and may straddle the placeholder
  std::array<uint32_t, 256> root_{};   // root transitions (0: stay at the root)
  std::vector<uint32_t> edge_begin_;   // per node: its edges are [begin[n], begin[n+1])
  std::vector<unsigned char> edge_byte_;  // sorted per node
  std::vector<uint32_t> edge_to_;
  std::vector<uint32_t> fail_;
  std::vector<uint32_t> depth_;
  std::vector<uint32_t> len_;        // per node: longest pattern ending here (0: none)
  std::vector<uint32_t> len_left_;   // per node: longest len+1 of a left-extensible one
  std::vector<uint8_t> right_ext_;   // per node: a right-extensible pattern ends here
  std::vector<uint64_t> bloom_;      // 4-byte prefixes of the patterns, hashed
  std::vector<std::string> pattern_texts_;
  std::vector<std::string> exact_storage_;
  std::unordered_set<std::string_view> exact_;
  size_t min_exact_ = 0;
  size_t max_exact_ = 0;
};

}  // namespace rampart::redact
