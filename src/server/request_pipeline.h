// The request path shared by HttpServer and the http_request fuzzer: everything between
// the bytes of a request head and the choice of handler, without sockets.
// Internal to rampart_server (not a public header).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rampart/server/http.h"
#include "rampart/server/router.h"
#include "rampart/server/server.h"

namespace rampart::server::internal {

// The decision taken once the request head is known.
struct HeadDecision {
  // Set: read the body (at most body_limit bytes) and call route->handler.
  const Route* route = nullptr;
  size_t body_limit = 0;
  // Set: answer with this without reading the body, then close the connection.
  std::optional<Response> response;
  // Label for metrics: the route pattern, or "unmatched".
  std::string metrics_route = "unmatched";
};

// Splits req.raw_target into req.path (decoded) and req.query, matches the router and
// checks the declared body size. Expects req.method, raw_target, headers, request_id
// set; `chunked`: the parser reads the body as chunked (Transfer-Encoding ends in
// chunked). Never throws; malformed targets, and a Transfer-Encoding that does not end in
// chunked (RFC 9112 6.3: no determinable length), give a 400 decision.
HeadDecision ProcessHead(const Router& router, const ServerOptions& options, Request& req,
                         std::optional<uint64_t> content_length, bool chunked);

// An error response with an explicit HTTP status (405, 408, 431, ...) and `code`.
Response StatusError(int status, ErrorCode code, std::string_view message,
                     std::string_view request_id);

// Adds the security headers, X-Request-Id and, for an allowed Origin, the CORS headers;
// removes any Server header. `request` may be partially filled (parse errors).
void FinalizeResponse(Response& response, const Request& request, const ServerOptions& options,
                      const Router& router);

// The status line and header block of `response` (after FinalizeResponse) followed by
// Content-Length and, when `close`, `Connection: close`: the bytes Beast's serializer
// writes for the http::response<string_body> the server used to build (header values
// trimmed of spaces and tabs, reason phrases from Beast). Headers with an empty name, a
// CR, LF or NUL in name or value, or a name or value of 64 KiB or more (where Beast
// throws) are skipped, into `out` (cleared first, capacity kept). Returns
// whether response.body follows: a 1xx, 204 or 304 answer carries none (Content-Length: 0).
bool SerializeResponseHead(const Response& response, bool close, std::string& out);

// The fuzzer's and tests' entry: parses `bytes` as one HTTP/1.1 request with the
// server's limits (Beast parser), then runs ProcessHead and, when the body is complete,
// fills req.body. Returns the early response the server would send, if any.
struct ParsedRequest {
  bool complete = false;  // a whole request was parsed
  Request request;
  HeadDecision decision;  // meaningful when the head was parsed
  std::optional<Response> error;  // parse error or early decision response
};
ParsedRequest ParseRequestBytes(std::string_view bytes, const Router& router,
                                const ServerOptions& options);

}  // namespace rampart::server::internal
