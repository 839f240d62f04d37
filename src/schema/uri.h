// The small part of RFC 3986 that `$id`/`$ref` resolution needs.
#pragma once

#include <string>
#include <string_view>

namespace rampart::schema::internal {

// Resolves `ref` against the absolute URI `base` (RFC 3986 section 5.2). Works for
// hierarchical URIs (http:, file:, ...) and for opaque ones such as `urn:` (where only a
// fragment, or a whole new URI, can be applied). An empty base leaves `ref` as it is.
std::string ResolveUri(std::string_view base, std::string_view ref);

// Splits "a#b" into "a" and "b" (fragment without '#'; empty when there is none).
void SplitFragment(std::string_view uri, std::string* without_fragment, std::string* fragment);

// Decodes %XX escapes (invalid escapes are kept as they are).
std::string PercentDecode(std::string_view text);

// True if the URI has a scheme (is absolute).
bool HasScheme(std::string_view uri);

}  // namespace rampart::schema::internal
