// HTTP request/response value types and the one mapping from Error to an HTTP error body.
//
// These are plain values: no sockets, no Beast. The server (server.h) fills a Request
// from the wire and writes a Response back; handlers (router.h) only see these types.
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rampart/core/error.h"

namespace rampart::server {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The first header named `name` (ASCII case-insensitive), or nullopt. The view points
// into `headers` and is valid while it is not modified.
std::optional<std::string_view> FindHeader(const HeaderList& headers, std::string_view name);

struct Request {
  std::string method;      // as sent, e.g. "GET" (methods are case-sensitive tokens)
  int version = 11;        // HTTP version as major * 10 + minor (10 or 11)
  std::string path;        // percent-decoded path, without the query, e.g. "/v1/orgs/a b"
  std::string raw_target;  // the request-target exactly as received
  std::vector<std::pair<std::string, std::string>> query;  // decoded ('+' = space), in order
  HeaderList headers;      // in arrival order, names as sent
  std::string body;
  std::string remote_ip;   // peer address of the TCP connection (no proxy headers)
  bool tls = false;
  std::string request_id;  // "req_" + 20 random base32 chars, also sent as X-Request-Id
  std::map<std::string, std::string> params;  // path parameters by name, percent-decoded
  // What a route's body_limit decision looked up for this request, handed to its handler
  // (opaque to the server; null when the route has no such decision).
  std::shared_ptr<const void> route_state;

  // Case-insensitive lookup of a request header (first occurrence).
  std::optional<std::string_view> Header(std::string_view name) const {
    return FindHeader(headers, name);
  }
  // The first query parameter named `name`, or nullopt.
  std::optional<std::string_view> QueryParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  HeaderList headers;  // extra headers; the server adds security headers and X-Request-Id
  std::string body;
  std::string content_type = "application/json";
  // The error body's code (ErrorResponse sets it; one of the closed set), "" otherwise:
  // /metrics counts refusals by it without parsing the body.
  std::string_view error_code;
};

// Completes one request whose route answers asynchronously (Route::async_handler).
// Copies share one completion. Send() may be called from any thread, before or after the
// handler returned; only the first call counts (later ones are ignored). When the last
// copy is destroyed without a Send(), the request is answered with a generic 500
// (ErrorResponse(kInternal, request_id)): a lost completion never hangs a client. A
// default-constructed Responder is empty: Send() does nothing.
class Responder {
  struct State;

 public:
  Responder() = default;
  // `deliver` receives the one answer (called at most once, on the thread that calls
  // Send(), or on the thread that drops the last copy).
  Responder(std::function<void(Response)> deliver, std::string request_id);

  void Send(Response response) const;
  explicit operator bool() const { return state_ != nullptr; }

  // Registers `on_gone`: called at most once, if the client closes its connection (or it
  // is reset) while the answer is pending, so that the handler releases what its wait
  // holds (a later Send() is dropped). Called at once, on this thread, when the client is
  // already gone; else on the io thread that noticed it. A later registration replaces an
  // earlier one; none is called after Send(). Keep it short (an io thread runs it).
  void OnClientGone(std::function<void()> on_gone) const;

  // The server's handle to a pending answer: tells its Responder that the client is gone.
  // It does not keep the answer pending (the generic 500 of a lost completion still
  // comes when the last Responder copy goes).
  class Watch {
   public:
    // Calls the registered on_gone (once, if any and nothing was sent), on this thread.
    void ClientGone() const;

   private:
    friend class Responder;
    std::weak_ptr<State> state_;
  };
  Watch MakeWatch() const;

 private:
  std::shared_ptr<State> state_;
};

// The HTTP status for an error code: 400 for input errors (invalid_argument,
// invalid_definition, invalid_input, invalid_expression, limit_exceeded,
// forbidden_secret_access), 401, 403, 404, 409, 413, 429 as in spec/interfaces.md,
// 500 for every other code.
int HttpStatusFor(ErrorCode code);

// `status` with `value` serialized as compact JSON (core's serializer).
Response JsonResponse(int status, const boost::json::value& value);

// {"error": {"code": "...", "message": "...", "request_id": "..."}} with the status of
// HttpStatusFor(error.code). The code is one of spec/interfaces.md's closed set: a 400
// other than invalid_definition answers invalid_argument (its message keeps the detail,
// e.g. which input field failed). For every 500 the code is "internal" and the message is
// "internal error": no details ever leave the process. A 401 carries
// `WWW-Authenticate: Bearer realm="rampart"`. For rate_limited, a positive
// `retry_after_seconds` adds `Retry-After: <n>` (1 when not positive).
Response ErrorResponse(const Error& error, std::string_view request_id,
                       int retry_after_seconds = 0);

// Percent-decodes `in` into `out` (RFC 3986). With `plus_is_space` ('+' -> ' ', for
// query strings). Returns false on a malformed escape ("%4", "%zz") or a decoded NUL.
bool PercentDecode(std::string_view in, std::string& out, bool plus_is_space = false);

// A fresh request id: "req_" + 20 chars of lowercase base32, from the OS CSPRNG.
std::string NewRequestId();

}  // namespace rampart::server
