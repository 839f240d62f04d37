// Outbound HTTP behind the SSRF guard (spec/security.md section 5).
//
// For every hop (the request and each redirect, at most `max_redirects`), Fetch:
//   1. parses the URL once with ParseUrl - the same value is checked and connected to;
//   2. applies the policy's scheme, port and name rules (EgressPolicy::CheckUrl);
//   3. resolves the name itself (Resolver) and refuses the hop when ANY address is in a
//      denied range: kSsrfBlocked "destination <addr> is in a denied range";
//   4. pins the connection to exactly the checked addresses (no second lookup);
//   5. re-checks, in the socket-open hook, the address actually being connected to, and
//      refuses it unless it is one of the checked addresses and not denied (defence in
//      depth against DNS rebinding and library surprises).
// Redirects are never followed by the library: Fetch follows them with a full fresh check
// of each hop; Authorization, Cookie and the request's sensitive headers (and the client
// certificate) are dropped when a redirect leaves the origin. Environment proxies,
// cookies and .netrc are never used. Response bodies are capped; one deadline bounds
// all hops.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "rampart/core/result.h"
#include "rampart/net/egress.h"
#include "rampart/net/ip.h"
#include "rampart/net/resolver.h"

namespace rampart::net {

using HeaderPairs = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";  // an HTTP token, e.g. "GET", "POST"
  std::string url;
  HeaderPairs headers;                        // names are tokens; values without CR, LF or NUL
  std::string body;                           // sent when non-empty, or always for POST/PUT/PATCH
  std::chrono::milliseconds timeout{30'000};  // total, every hop included
  std::chrono::milliseconds connect_timeout{10'000};  // per connection
  size_t max_response_bytes = 10u << 20;              // body; more -> kLimitExceeded
  int max_redirects = 5;                              // 0: 3xx responses are returned
  // Header names (case-insensitive) dropped on a cross-origin redirect, in addition to
  // authorization, cookie and proxy-authorization.
  std::vector<std::string> sensitive_headers;
  // TLS, PEM. ca_pem replaces the system trust store when set (private CAs, tests);
  // the client certificate and key are for mTLS connectors.
  std::string ca_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
};

struct HttpResponse {
  int status = 0;
  HeaderPairs headers;  // of the final response; names lowercased, in arrival order
  std::string body;
  int redirects = 0;  // hops followed
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // The final response, whatever its status. Errors: kSsrfBlocked (a guard refused a
  // hop: nothing was sent to the refused destination), kInvalidArgument (malformed URL,
  // method or header), kLimitExceeded (response body over the cap), kTimeout,
  // kActionFailed (resolution, connection, TLS or protocol failure; too many redirects).
  // Messages name the host at most, never the URL (its query may carry a secret).
  // Thread-safe.
  virtual Result<HttpResponse> Fetch(const HttpRequest& request, const EgressPolicy& policy) = 0;
};

// libcurl. One easy handle per hop, never reused across requests, so no connection or
// DNS cache outlives a check.
class CurlHttpClient final : public HttpClient {
 public:
  // `resolver` must outlive the client.
  explicit CurlHttpClient(Resolver& resolver);

  Result<HttpResponse> Fetch(const HttpRequest& request, const EgressPolicy& policy) override;

  struct ConnectAttempt {
    IpAddress address;
    uint16_t port = 0;
    bool allowed = false;  // the guard's decision; false: no socket is opened
  };
  // Called from the socket-open hook for every connection curl wants to open, before any
  // socket exists, with the guard's decision. Returning false refuses a connection the
  // guard allowed (a test sandbox keeping every packet on loopback). Set before the
  // first Fetch; the observer must be thread-safe.
  void SetConnectObserverForTest(std::function<bool(const ConnectAttempt&)> observer) {
    observer_ = std::move(observer);
  }
  // Pins connections to these addresses instead of the checked ones, to show that the
  // socket-open hook alone refuses a destination the resolver check never saw.
  void SetPinOverrideForTest(std::vector<IpAddress> addresses) {
    pin_override_ = std::move(addresses);
  }

 private:
  Resolver& resolver_;
  std::function<bool(const ConnectAttempt&)> observer_;
  std::vector<IpAddress> pin_override_;
};

}  // namespace rampart::net
