#include "redact/matcher.h"

#include <algorithm>
#include <map>

#include "rampart/core/check.h"
#include "rampart/redact/redact.h"

namespace rampart::redact {
namespace {

bool IsBase64Char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '+' || c == '/' || c == '-' || c == '_';
}

bool IsNumberText(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-')) {
      return false;
    }
  }
  return true;
}

// The merged extent of placeholder occurrences (which may overlap: "***" is both a
// prefix and a suffix of it). Sorted, disjoint.
std::vector<Span> PlaceholderRuns(std::string_view text) {
  std::vector<Span> runs;
  size_t from = 0;
  while (true) {
    size_t at = text.find(kRedactedText, from);
    if (at == std::string_view::npos) break;
    size_t end = at + kRedactedText.size();
    if (!runs.empty() && at <= runs.back().end) {
      runs.back().end = end;
    } else {
      runs.push_back(Span{at, end});
    }
    from = at + 1;
  }
  return runs;
}

bool Covered(const std::vector<Span>& runs, size_t begin, size_t end) {
  // The last run starting at or before `begin`.
  auto it = std::upper_bound(runs.begin(), runs.end(), begin,
                             [](size_t b, const Span& s) { return b < s.begin; });
  if (it == runs.begin()) return false;
  --it;
  return end <= it->end;
}

// Pushes [begin, end) onto sorted, merged `spans` (ends arrive non-decreasing, up to
// one byte of right extension; begins in any order).
void PushMerged(std::vector<Span>& spans, size_t begin, size_t end) {
  while (!spans.empty() && begin <= spans.back().end) {
    begin = std::min(begin, spans.back().begin);
    end = std::max(end, spans.back().end);
    spans.pop_back();
  }
  spans.push_back(Span{begin, end});
}

}  // namespace

Matcher::Matcher(std::vector<Pattern> patterns, std::vector<std::string> exact) {
  for (auto& e : exact) {
    min_exact_ = min_exact_ == 0 ? e.size() : std::min(min_exact_, e.size());
    max_exact_ = std::max(max_exact_, e.size());
    if (IsNumberText(e)) numbers_matter_ = true;
    exact_.insert(std::move(e));
  }
  // Deduplicate, keeping the widest extension of equal texts.
  std::map<std::string, Pattern> unique;
  for (auto& p : patterns) {
    if (p.text.empty()) continue;
    auto [it, inserted] = unique.try_emplace(p.text, p);
    if (!inserted) {
      it->second.left_ext = std::max(it->second.left_ext, p.left_ext);
      it->second.right_ext = std::max(it->second.right_ext, p.right_ext);
    }
  }
  empty_ = unique.empty() && exact_.empty();
  if (unique.empty()) return;

  // Byte classes: class 0 is every byte no pattern uses.
  std::array<bool, 256> used{};
  for (const auto& [text, p] : unique) {
    for (char c : text) used[static_cast<unsigned char>(c)] = true;
    if (text.find('*') != std::string::npos) has_star_ = true;
    if (IsNumberText(text)) numbers_matter_ = true;
    pattern_texts_.push_back(text);
  }
  num_classes_ = 1;
  for (size_t b = 0; b < 256; ++b) {
    byte_class_[b] = used[b] ? static_cast<uint8_t>(num_classes_++) : 0;
  }
  const size_t c_count = num_classes_;

  // Trie. -1 marks a missing edge until the failure pass fills it.
  std::vector<int32_t> next(c_count, -1);
  len_.assign(1, 0);
  len_left_.assign(1, 0);
  right_ext_.assign(1, 0);
  for (const auto& [text, p] : unique) {
    size_t state = 0;
    for (char ch : text) {
      size_t idx = state * c_count + byte_class_[static_cast<unsigned char>(ch)];
      if (next[idx] < 0) {
        size_t fresh = len_.size();
        RAMPART_CHECK(fresh < (1u << 30) / c_count);
        next[idx] = static_cast<int32_t>(fresh);
        next.resize(next.size() + c_count, -1);
        len_.push_back(0);
        len_left_.push_back(0);
        right_ext_.push_back(0);
      }
      state = static_cast<size_t>(next[idx]);
    }
    auto len = static_cast<uint32_t>(text.size());
    len_[state] = std::max(len_[state], len);
    if (p.left_ext) len_left_[state] = std::max(len_left_[state], len + 1);
    if (p.right_ext) right_ext_[state] = 1;
  }

  // Breadth-first failure links; complete the DFA; inherit outputs along failure links
  // (a pattern ending at the failure state also ends here).
  const size_t states = len_.size();
  std::vector<uint32_t> fail(states, 0);
  std::vector<uint32_t> queue;
  queue.reserve(states);
  for (size_t c = 0; c < c_count; ++c) {
    if (next[c] < 0) {
      next[c] = 0;
    } else {
      fail[static_cast<size_t>(next[c])] = 0;
      queue.push_back(static_cast<uint32_t>(next[c]));
    }
  }
  for (size_t qi = 0; qi < queue.size(); ++qi) {
    size_t u = queue[qi];
    size_t f = fail[u];
    len_[u] = std::max(len_[u], len_[f]);
    len_left_[u] = std::max(len_left_[u], len_left_[f]);
    right_ext_[u] = std::max(right_ext_[u], right_ext_[f]);
    for (size_t c = 0; c < c_count; ++c) {
      int32_t v = next[u * c_count + c];
      if (v < 0) {
        next[u * c_count + c] = next[f * c_count + c];
      } else {
        fail[static_cast<size_t>(v)] = static_cast<uint32_t>(next[f * c_count + c]);
        queue.push_back(static_cast<uint32_t>(v));
      }
    }
  }

  delta_.resize(next.size());
  for (size_t i = 0; i < next.size(); ++i) {
    auto target = static_cast<size_t>(next[i]);
    uint32_t value = static_cast<uint32_t>(target * c_count);
    if (len_[target] != 0) value |= kOutputBit;
    delta_[i] = value;
  }
}

bool Matcher::ExactMatch(std::string_view text) const {
  if (exact_.empty() || text.size() < min_exact_ || text.size() > max_exact_) return false;
  if (text == kRedactedText) return false;  // a secret equal to the placeholder shows nothing
  return exact_.find(std::string(text)) != exact_.end();
}

bool Matcher::ScanPass(std::string_view text, std::vector<Span>* spans, bool first_only) const {
  if (delta_.empty()) return false;
  std::vector<Span> runs;  // computed on the first match only
  bool runs_ready = false;
  bool any = false;
  const uint32_t* delta = delta_.data();
  const uint8_t* classes = byte_class_.data();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const size_t c_count = num_classes_;
  uint32_t offset = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t value = delta[offset + classes[p[i]]];
    offset = value & ~kOutputBit;
    if ((value & kOutputBit) == 0) [[likely]] continue;
    size_t state = offset / c_count;
    size_t end = i + 1;
    size_t begin = end - len_[state];
    uint32_t left = len_left_[state];
    if (left != 0 && end >= left && IsBase64Char(p[end - left])) begin = std::min(begin, end - left);
    if (right_ext_[state] && end < n && IsBase64Char(p[end])) ++end;
    if (!runs_ready) {
      runs = PlaceholderRuns(text);
      runs_ready = true;
    }
    if (!runs.empty() && Covered(runs, begin, end)) continue;
    any = true;
    if (first_only) return true;
    PushMerged(*spans, begin, end);
  }
  if (!any || runs.empty()) return any;
  // Widen every span over the placeholder runs it touches, so that replacing it cannot
  // leave a fragment of an old placeholder behind, then merge again.
  std::vector<Span> widened;
  widened.reserve(spans->size());
  size_t r = 0;
  for (const Span& s : *spans) {
    Span w = s;
    while (r < runs.size() && runs[r].end < w.begin) ++r;
    size_t k = r;
    while (k < runs.size() && runs[k].begin <= w.end) {
      w.begin = std::min(w.begin, runs[k].begin);
      w.end = std::max(w.end, runs[k].end);
      ++k;
    }
    if (!widened.empty() && w.begin <= widened.back().end) {
      widened.back().end = std::max(widened.back().end, w.end);
      widened.back().begin = std::min(widened.back().begin, w.begin);
    } else {
      widened.push_back(w);
    }
  }
  *spans = std::move(widened);
  return true;
}

void Matcher::Scan(std::string_view text, std::vector<Span>* spans) const {
  spans->clear();
  if (empty_) return;
  if (ExactMatch(text)) {
    spans->push_back(Span{0, text.size()});
    return;
  }
  ScanPass(text, spans, false);
}

bool Matcher::Contains(std::string_view text) const {
  if (empty_) return false;
  if (ExactMatch(text)) return true;
  return ScanPass(text, nullptr, true);
}

namespace {

std::string Replace(std::string_view text, const std::vector<Span>& spans) {
  std::string out;
  out.reserve(text.size() + spans.size() * kRedactedText.size());
  size_t at = 0;
  for (const Span& s : spans) {
    out.append(text.substr(at, s.begin - at));
    out.append(kRedactedText);
    at = s.end;
  }
  out.append(text.substr(at));
  return out;
}

}  // namespace

bool Matcher::Redact(std::string_view text, std::string* out) const {
  std::vector<Span> spans;
  Scan(text, &spans);
  if (spans.empty()) return false;
  *out = Replace(text, spans);
  if (!has_star_) return true;
  // A pattern containing '*' can straddle a placeholder just written next to the text
  // around it ("x***" next to a redacted "secret" leaves "x***REDACTED***"). Each pass
  // strictly shrinks the text outside placeholders; give up after a few and replace
  // everything rather than risk a leak.
  for (int pass = 0; pass < 8; ++pass) {
    Scan(*out, &spans);
    if (spans.empty()) return true;
    *out = Replace(*out, spans);
  }
  *out = std::string(kRedactedText);
  return true;
}

}  // namespace rampart::redact
