// Fuzzes the secret scanner with arbitrary secrets and text.
//
// Input: "<secret>\0<secret>\0...\0<text>" - every part before the last NUL is a secret
// (at most 8 are used), the rest is the text to scrub. Without a NUL the first half of
// the input is the secret and the second half the text.
//
// Beyond crashes, sanitizer reports and hangs, these invariants are findings:
//   - Contains(Redact(text)) is false, and Redact reports `found` iff Contains(text);
//   - Redact of an already redacted text changes nothing;
//   - no raw secret of kMinSecretLength+ bytes survives outside placeholder text;
//   - the text with every registered form planted in it comes out clean;
//   - ScrubJson (redact) leaves no match in the JSON; block refuses iff anything matched.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "rampart/redact/redact.h"

namespace {

using rampart::redact::kRedactedText;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// Whether every occurrence of `needle` in `text` lies inside placeholder text.
bool OnlyInsidePlaceholders(std::string_view text, std::string_view needle) {
  std::vector<std::pair<size_t, size_t>> runs;
  for (size_t at = text.find(kRedactedText); at != std::string_view::npos;
       at = text.find(kRedactedText, at + 1)) {
    size_t end = at + kRedactedText.size();
    if (!runs.empty() && at <= runs.back().second) {
      runs.back().second = end;
    } else {
      runs.emplace_back(at, end);
    }
  }
  for (size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) {
    bool inside = false;
    for (const auto& [b, e] : runs) {
      if (b <= at && at + needle.size() <= e) inside = true;
    }
    if (!inside) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> secrets;
  std::string_view text;
  if (input.find('\0') == std::string_view::npos) {
    secrets.push_back(input.substr(0, size / 2));
    text = input.substr(size / 2);
  } else {
    while (true) {
      size_t nul = input.find('\0');
      if (nul == std::string_view::npos) break;
      if (secrets.size() < 8) secrets.push_back(input.substr(0, nul));
      input.remove_prefix(nul + 1);
    }
    text = input;
  }

  rampart::redact::SecretSet set;
  for (auto s : secrets) set.Add(s);

  bool found = false;
  std::string out = set.Redact(text, &found);
  Check(found == set.Contains(text));
  Check(!set.Contains(out));
  Check(set.Redact(out) == out);
  if (!found) Check(out == text);
  for (auto s : secrets) {
    if (s.size() >= rampart::redact::kMinSecretLength) Check(OnlyInsidePlaceholders(out, s));
  }

  // Every registered form, planted between pieces of the text.
  std::string planted(text);
  for (const auto& form : set.PatternsForTest()) {
    planted += form;
    planted += text.substr(0, 3);
  }
  std::string planted_out = set.Redact(planted);
  Check(!set.Contains(planted_out));

  boost::json::object obj;
  obj[std::string(text)] = boost::json::array{std::string(text), std::string(planted), 42};
  obj["n"] = static_cast<int64_t>(size);
  boost::json::value v = obj;
  bool any = rampart::redact::ContainsInJson(v, set);
  auto blocked = rampart::redact::ScrubJson(v, set, rampart::redact::Policy::kBlock);
  Check(blocked.ok() != any);
  auto scrubbed = rampart::redact::ScrubJson(v, set, rampart::redact::Policy::kRedact);
  Check(scrubbed.ok());
  Check(!rampart::redact::ContainsInJson(*scrubbed, set));
  return 0;
}
