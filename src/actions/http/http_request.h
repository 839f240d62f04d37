// http.request: one outbound HTTP request through the SSRF guard (net::HttpClient).
//
// with: {method (GET), url, query {name: scalar}, headers {name: string}, json | body,
//        timeout (s, default 30, bounded by the step deadline), max_response_bytes
//        (default and max 10 MiB), allow_http (false), fail_on_status (false),
//        follow_redirects (true, at most 5)}
// A relative url ("/v1/x") is joined to the connector's options.base_url.
// Connector auth (the step's `connector:`): bearer -> Authorization: Bearer; basic ->
// Authorization: Basic (options.username, secrets.password); api_key -> options.in
// header|query|cookie named options.name (secrets.key); custom -> options.headers with
// {{ secrets.<field> }} substituted; mtls -> client certificate (secrets.cert, key, ca);
// oauth2 -> Authorization: Bearer <access token> from the connector's token endpoint
// (actions/http/oauth2.h: cached per org and connector; on a 401 one new token and one
// retry).
// Connector headers replace same-named step headers and are dropped on cross-origin
// redirects. http needs both allow_http here and in the egress policy.
// Output: {status, headers (allowlisted: content-type, content-length, location, etag,
// retry-after, ...), json (JSON content types) | body (UTF-8 text) | body_base64,
// redirects}. Never the URL (an api_key in the query would be in it).
// A non-2xx status is a successful step unless fail_on_status is true (then
// action_failed, retryable). Errors: ssrf_blocked (not retryable), action_failed
// (network; retryable), timeout (retryable), limit_exceeded (response too large),
// invalid_argument, permission_denied / not_found (connector); an oauth2 token request
// that fails: action_failed (never the endpoint's body) or the client's code.
#pragma once

#include <memory>

#include "rampart/actions/action.h"

namespace rampart::actions {
namespace oauth2 {
class TokenCache;
}
// `tokens`: the oauth2 access token cache (null: one of its own over `client`).
std::unique_ptr<Action> MakeHttpRequest(std::shared_ptr<net::HttpClient> client,
                                        std::shared_ptr<const net::EgressPolicy> egress,
                                        std::shared_ptr<oauth2::TokenCache> tokens = nullptr);
}  // namespace rampart::actions
