// The compiled multi-pattern matcher behind SecretSet (internal to rampart_redact).
//
// An Aho-Corasick automaton turned into a full DFA over byte classes (bytes that occur
// in no pattern share one class), so a scan is one table lookup per input byte. Table
// entries are pre-multiplied row offsets with the top bit set when the target state
// ends a pattern, which keeps the hot loop to a load, a mask and a rarely taken branch.
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
  static constexpr uint32_t kOutputBit = 0x80000000u;

  bool ExactMatch(std::string_view text) const;
  // One pass. With `first_only`, stops at the first kept match (spans unmerged).
  bool ScanPass(std::string_view text, std::vector<Span>* spans, bool first_only) const;

  bool empty_ = true;
  bool numbers_matter_ = false;
  bool has_star_ = false;  // a pattern contains '*' and may straddle the placeholder
  size_t num_classes_ = 1;
  std::array<uint8_t, 256> byte_class_{};
  std::vector<uint32_t> delta_;      // [state * num_classes_ + class] -> offset | kOutputBit
  std::vector<uint32_t> len_;        // per state: longest pattern ending here (0: none)
  std::vector<uint32_t> len_left_;   // per state: longest len+1 of a left-extensible one
  std::vector<uint8_t> right_ext_;   // per state: a right-extensible pattern ends here
  std::vector<std::string> pattern_texts_;
  std::unordered_set<std::string> exact_;
  size_t min_exact_ = 0;
  size_t max_exact_ = 0;
};

}  // namespace rampart::redact
