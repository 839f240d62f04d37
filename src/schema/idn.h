// Host names: RFC 1123 (`hostname`) and IDNA2008 (`idn-hostname`, RFC 5890-5893), with
// Punycode (RFC 3492) for A-labels ("xn--...").
//
// IDNA2008 needs Unicode property tables; Rampart carries a compact subset (idn.cc):
// the RFC 5892 exceptions, the contextual rules (CONTEXTJ/CONTEXTO), combining marks at
// label start, the Bidi rule for right-to-left labels, and the DISALLOWED blocks that
// matter in practice. Code points outside these tables are taken as PVALID.
#pragma once

#include <string_view>

namespace rampart::schema::internal {

bool CheckHostname(std::string_view text);
bool CheckIdnHostname(std::string_view text);

}  // namespace rampart::schema::internal
