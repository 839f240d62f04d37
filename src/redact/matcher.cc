#include "redact/matcher.h"

#include <algorithm>
#include <cstring>

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

uint32_t Gram(const unsigned char* at) {
  uint32_t x;
  std::memcpy(&x, at, sizeof x);
  return (x * 2654435761u) >> (32 - 16);
}

// The first position in [i, limit) whose 4 bytes may start a pattern, or limit. Kept
// apart from the automaton so the hot loop stays in registers.
size_t NextCandidate(const unsigned char* p, size_t i, size_t limit, const uint64_t* bloom) {
  for (; i < limit; ++i) {
    uint32_t h = Gram(p + i);
    if ((bloom[h >> 6] >> (h & 63)) & 1) return i;
  }
  return limit;
}

}  // namespace

Matcher::Matcher(std::vector<Pattern> patterns, std::vector<std::string> exact) {
  exact_storage_ = std::move(exact);
  for (const auto& e : exact_storage_) {
    min_exact_ = min_exact_ == 0 ? e.size() : std::min(min_exact_, e.size());
    max_exact_ = std::max(max_exact_, e.size());
    if (IsNumberText(e)) numbers_matter_ = true;
    exact_.insert(e);
  }
  // Sort and deduplicate, keeping the widest extension of equal texts. Sorted input
  // lets the trie be built along the previous pattern's path, with every node's edges
  // created in increasing byte order.
  std::sort(patterns.begin(), patterns.end(),
            [](const Pattern& a, const Pattern& b) { return a.text < b.text; });
  std::vector<Pattern> unique;
  for (auto& p : patterns) {
    RAMPART_CHECK(p.text.size() >= kGram);
    if (!unique.empty() && unique.back().text == p.text) {
      unique.back().left_ext = std::max(unique.back().left_ext, p.left_ext);
      unique.back().right_ext = std::max(unique.back().right_ext, p.right_ext);
    } else {
      unique.push_back(std::move(p));
    }
  }
  empty_ = unique.empty() && exact_.empty();
  if (unique.empty()) return;

  size_t total = 1;
  for (const auto& p : unique) total += p.text.size();
  RAMPART_CHECK(total < (1u << 31));
  struct Edge {
    uint32_t from;
    uint32_t to;
    unsigned char byte;
  };
  std::vector<Edge> edges;
  edges.reserve(total);
  len_.assign(1, 0);
  len_left_.assign(1, 0);
  right_ext_.assign(1, 0);
  depth_.assign(1, 0);
  bloom_.assign((size_t{1} << kBloomBits) / 64, 0);
  std::vector<uint32_t> path(1, 0);  // path[k]: the node of the previous pattern's first k bytes
  std::string_view previous;
  for (const auto& p : unique) {
    std::string_view text = p.text;
    if (text.find('*') != std::string_view::npos) has_star_ = true;
    if (IsNumberText(text)) numbers_matter_ = true;
    pattern_texts_.push_back(p.text);
    size_t lcp = 0;
    while (lcp < previous.size() && lcp < text.size() && previous[lcp] == text[lcp]) ++lcp;
    path.resize(lcp + 1);
    uint32_t node = path[lcp];
    for (size_t k = lcp; k < text.size(); ++k) {
      auto fresh = static_cast<uint32_t>(len_.size());
      edges.push_back(Edge{node, fresh, static_cast<unsigned char>(text[k])});
      len_.push_back(0);
      len_left_.push_back(0);
      right_ext_.push_back(0);
      depth_.push_back(static_cast<uint32_t>(k + 1));
      node = fresh;
      path.push_back(node);
    }
    auto len = static_cast<uint32_t>(text.size());
    len_[node] = std::max(len_[node], len);
    if (p.left_ext) len_left_[node] = std::max(len_left_[node], len + 1);
    if (p.right_ext) right_ext_[node] = 1;
    uint32_t h = Gram(reinterpret_cast<const unsigned char*>(text.data()));
    bloom_[h >> 6] |= uint64_t{1} << (h & 63);
    previous = text;
  }

  // Edges grouped by source node (a stable counting sort keeps bytes increasing).
  const size_t nodes = len_.size();
  edge_begin_.assign(nodes + 1, 0);
  for (const Edge& e : edges) ++edge_begin_[e.from + 1];
  for (size_t n = 0; n < nodes; ++n) edge_begin_[n + 1] += edge_begin_[n];
  edge_byte_.resize(edges.size());
  edge_to_.resize(edges.size());
  {
    std::vector<uint32_t> cursor(edge_begin_.begin(), edge_begin_.end() - 1);
    for (const Edge& e : edges) {
      uint32_t at = cursor[e.from]++;
      edge_byte_[at] = e.byte;
      edge_to_[at] = e.to;
    }
  }
  root_.fill(0);
  for (uint32_t k = edge_begin_[0]; k < edge_begin_[1]; ++k) root_[edge_byte_[k]] = edge_to_[k];

  // Breadth-first failure links; a pattern ending at the failure node also ends here.
  fail_.assign(nodes, 0);
  std::vector<uint32_t> queue;
  queue.reserve(nodes);
  for (uint32_t k = edge_begin_[0]; k < edge_begin_[1]; ++k) queue.push_back(edge_to_[k]);
  for (size_t qi = 0; qi < queue.size(); ++qi) {
    uint32_t u = queue[qi];
    uint32_t f = fail_[u];
    len_[u] = std::max(len_[u], len_[f]);
    len_left_[u] = std::max(len_left_[u], len_left_[f]);
    right_ext_[u] = std::max(right_ext_[u], right_ext_[f]);
    for (uint32_t k = edge_begin_[u]; k < edge_begin_[u + 1]; ++k) {
      uint32_t v = edge_to_[k];
      fail_[v] = Step(f, edge_byte_[k]);
      queue.push_back(v);
    }
  }
}

uint32_t Matcher::Child(uint32_t node, unsigned char c) const {
  uint32_t b = edge_begin_[node];
  uint32_t e = edge_begin_[node + 1];
  if (e - b <= 8) {
    for (; b < e; ++b) {
      if (edge_byte_[b] == c) return edge_to_[b];
    }
    return 0;
  }
  const unsigned char* first = edge_byte_.data() + b;
  const unsigned char* last = edge_byte_.data() + e;
  const unsigned char* it = std::lower_bound(first, last, c);
  return it != last && *it == c ? edge_to_[b + static_cast<uint32_t>(it - first)] : 0;
}

uint32_t Matcher::Step(uint32_t node, unsigned char c) const {
  while (node != 0) {
    if (uint32_t next = Child(node, c)) return next;
    node = fail_[node];
  }
  return root_[c];
}

bool Matcher::MayStart(const unsigned char* at) const {
  uint32_t h = Gram(at);
  return (bloom_[h >> 6] >> (h & 63)) & 1;
}

bool Matcher::ExactMatch(std::string_view text) const {
  if (exact_.empty() || text.size() < min_exact_ || text.size() > max_exact_) return false;
  if (text == kRedactedText) return false;  // a secret equal to the placeholder shows nothing
  return exact_.find(text) != exact_.end();
}

bool Matcher::ScanPass(std::string_view text, std::vector<Span>* spans, bool first_only) const {
  if (len_.empty()) return false;
  std::vector<Span> runs;  // computed on the first match only
  bool runs_ready = false;
  bool any = false;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const uint64_t* bloom = bloom_.data();
  const size_t limit = n >= kGram ? n - kGram + 1 : 0;  // last possible start + 1
  size_t i = 0;
  while (true) {
    i = NextCandidate(p, i, limit, bloom);
    if (i >= limit) break;
    // Automaton from the root at a candidate start. Leave once the deepest live prefix
    // is shorter than a gram and starts after the entry point: an undetected match
    // can then only start at or after that prefix, which the prefilter checks again.
    const size_t entry = i;
    uint32_t node = 0;
    size_t j = entry;
    for (; j < n; ++j) {
      node = Step(node, p[j]);
      if (len_[node] != 0) [[unlikely]] {
        size_t end = j + 1;
        size_t begin = end - len_[node];
        uint32_t left = len_left_[node];
        if (left != 0 && end >= left && IsBase64Char(p[end - left])) begin = std::min(begin, end - left);
        if (right_ext_[node] && end < n && IsBase64Char(p[end])) ++end;
        if (!runs_ready) {
          runs = PlaceholderRuns(text);
          runs_ready = true;
        }
        if (runs.empty() || !Covered(runs, begin, end)) {
          any = true;
          if (first_only) return true;
          PushMerged(*spans, begin, end);
        }
      }
      size_t d = depth_[node];
      if (d < kGram && j + 1 - d > entry) break;
    }
    if (j >= n) break;
    i = j + 1 - depth_[node];
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
