// The encoded forms of a secret that the matcher looks for (internal to rampart_redact).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rampart::redact {

struct Pattern {
  std::string text;
  // Base64 phase patterns: how many adjacent base64 characters (0 or 1 on each side)
  // also carry bits of the secret and are redacted with the match when present.
  uint8_t left_ext = 0;
  uint8_t right_ext = 0;
};

// Every form of `secret` listed in redact.h (the raw value first). May contain
// duplicates; the matcher deduplicates. Requires secret.size() >= kMinSecretLength.
std::vector<Pattern> DerivedForms(std::string_view secret);

// Exposed for tests of the encoders.
std::string Base64(std::string_view bytes, bool url, bool pad);
std::string Hex(std::string_view bytes, bool upper);

}  // namespace rampart::redact
