// The route table: the single source for dispatch (HttpServer) and for the OpenAPI
// document, so the documented API and the served API cannot drift apart.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include "rampart/server/http.h"

namespace rampart::server {

struct Route {
  std::string method;        // "GET", "POST", ... (exact, case-sensitive)
  std::string pattern;       // "/v1/orgs/{org}/workflows/{id}": literal or {param} segments
  std::string operation_id;  // OpenAPI operationId, unique per table
  std::string summary;
  std::string permission;    // "" = none. Informational here; enforced by the layer above.
  // Needs credentials even without a permission (e.g. /metrics, logout): documented with
  // the API's security schemes and 401/403, like a route with a permission.
  bool authenticated = false;
  size_t max_body = 1 << 20;  // bytes; larger bodies are answered 413 before being read
  // Optional: a tighter limit for one request, decided once its head is known (path
  // params and headers filled, no body byte read yet; `declared` is the Content-Length,
  // if any). The server then enforces min(max_body, the result) while reading: a declared
  // length above it is answered 413 before any body byte is read, and a chunked body is
  // cut off with 413 once it passes it (the rest is not read). Not called when the
  // declared length is already over max_body. May set Request::route_state for the
  // handler. Called on a server thread; must be thread-safe; exceptions become a 500.
  std::function<size_t(Request&, std::optional<uint64_t> declared)> body_limit;
  // Optional: called when the server itself answers a request of this route 413 (a
  // declared length over the limit, or a body cut off once past it), so the route can
  // count what its handler never sees. Same threading as body_limit; must not throw.
  std::function<void(const Request&)> on_too_large;
  boost::json::value request_schema;  // null, or a JSON Schema for the OpenAPI requestBody
  std::vector<std::string> body_fields;  // allowlisted body fields, for docs
  int success_status = 200;
  std::vector<int> other_success_statuses;  // further 2xx answers of the route, for docs
  // Further error answers of the route, for docs (e.g. the 401 of a bad setup token or
  // webhook signature on a route without API credentials, the 503 of /readyz).
  std::vector<int> other_error_statuses;
  // Query parameters the route reads (optional strings), for docs.
  std::vector<std::string> query_parameters;
  // Optional request headers the route reads, and headers its success answers may
  // carry: (name, description), for docs (strings).
  std::vector<std::pair<std::string, std::string>> header_parameters;
  std::vector<std::pair<std::string, std::string>> response_headers;
  // The media types of the request body the route reads (with request_schema).
  std::vector<std::string> request_media_types = {"application/json"};
  // Exactly one of handler / async_handler is set.
  // Called on a server thread; may block briefly. Exceptions are caught and become a
  // generic 500 (the message is never sent). Must be thread-safe.
  std::function<Response(Request&)> handler;
  // The asynchronous form, for handlers that wait (a durable commit, a run's outcome):
  // it returns at once and answers later through the Responder, from any thread. The
  // Request stays valid until the answer is sent. An exception thrown by the handler
  // becomes a generic 500 unless the Responder was already used.
  std::function<void(Request&, Responder)> async_handler;
};

// Thread-safety: build the table with Add() before the server starts; afterwards all
// const methods are safe from any thread.
class Router {
 public:
  // Adds a route. A malformed pattern (not starting with '/', an empty or unbalanced
  // "{}" segment) or a duplicate method+pattern is a programming error: RAMPART_CHECK.
  void Add(Route route);

  // Matches `path`: the raw (still percent-encoded) path part of the target, without
  // the query. Segments are compared after percent-decoding; at each segment a literal
  // wins over a parameter. Parameters are percent-decoded and a segment that is empty,
  // malformed or decodes to something containing '/' matches no parameter.
  // Returns the route for `method`, filling `params`; nullptr otherwise, with
  // `method_mismatch` true when the path matched routes of other methods (405).
  const Route* Match(std::string_view method, std::string_view path,
                     std::map<std::string, std::string>& params, bool& method_mismatch) const;

  // The methods of the routes matching `path`, sorted, without duplicates (for `Allow`).
  std::vector<std::string> AllowedMethods(std::string_view path) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string> segments;  // literal text, or the parameter name
    std::vector<bool> is_param;
  };
  // The best route matching path (any method when `method` is empty).
  const Route* Find(std::string_view method, std::string_view path,
                    std::map<std::string, std::string>* params) const;

  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
};

// An OpenAPI 3.1 document for every route of `router`: paths with their parameters,
// operationId, summary, requestBody (from request_schema), x-rampart-permission,
// responses (success and the shared Error schema), bearer and cookie security schemes.
boost::json::object OpenApiDocument(const Router& router, std::string_view title,
                                    std::string_view version);

}  // namespace rampart::server
