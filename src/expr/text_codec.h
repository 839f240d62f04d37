// Byte-level helpers behind the text filters: base64, URL encoding, SHA-256, dates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rampart::expr::internal {

size_t Base64EncodedSize(size_t n);
void Base64Encode(std::string_view in, std::string& out);
// Accepts the standard and the URL-safe alphabets, with or without padding.
bool Base64Decode(std::string_view in, std::string& out);

// Percent-encodes every byte except the RFC 3986 unreserved set (A-Z a-z 0-9 - _ . ~).
size_t UrlEncodedSize(std::string_view in);
void UrlEncode(std::string_view in, std::string& out);

// Lowercase hex SHA-256 of the bytes.
bool Sha256Hex(std::string_view in, std::string& out);

// Seconds since the Unix epoch of an RFC 3339 date-time ("2024-05-01T12:30:00Z",
// "2024-05-01T12:30:00.5+02:00"; lowercase t/z and a space separator are accepted; a
// missing offset means UTC) or a full-date ("2024-05-01", midnight UTC). Years 0000-9999.
bool ParseRfc3339(std::string_view text, int64_t& epoch_seconds);

// Epoch seconds inside the supported range (years 0000-9999).
bool EpochInRange(int64_t epoch_seconds);

// strftime subset, always in UTC:
//   %Y year (4 digits)   %y year (2 digits)   %m month 01-12   %d day 01-31
//   %e day, space-padded %j day of year 001-366 %H hour 00-23  %M minute 00-59
//   %S second 00-59      %a Mon..Sun  %A Monday..Sunday  %b Jan..Dec  %B January..December
//   %F = %Y-%m-%d        %T = %H:%M:%S  %s epoch seconds  %z +0000  %Z UTC  %% a '%'
// Any other directive (or a trailing '%') fails, with `bad_directive` set. Output longer
// than `max_bytes` fails with `too_long` set.
bool FormatDate(int64_t epoch_seconds, std::string_view format, size_t max_bytes, std::string& out,
                bool& bad_directive, bool& too_long);

// The message for a format with an unsupported directive (compile and run time alike).
inline constexpr std::string_view kUnsupportedDateDirective =
    "unsupported directive in format (supported: %Y %y %m %d %e %j %H %M %S %a %A %b %B %F %T %s "
    "%z %Z %%)";

}  // namespace rampart::expr::internal
