// Checkers for the `format` keyword. Each takes the UTF-8 string and returns whether it
// is a valid instance of the format. Hand-written parsers (no regexes): linear time.
#pragma once

#include <string_view>

namespace rampart::schema::internal {

enum class FormatKind {
  kUnknown,  // not a format Rampart knows: always valid (as the standard requires)
  kDateTime,
  kDate,
  kTime,
  kDuration,
  kEmail,
  kIdnEmail,
  kHostname,
  kIdnHostname,
  kIpv4,
  kIpv6,
  kUri,
  kUriReference,
  kIri,
  kIriReference,
  kUuid,
  kRegex,
  kJsonPointer,
  kRelativeJsonPointer,
  kUriTemplate,
};

FormatKind LookupFormat(std::string_view name);

bool CheckFormat(FormatKind kind, std::string_view text);

}  // namespace rampart::schema::internal
