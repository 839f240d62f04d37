// OAuth 2.0 connectors (spec/interfaces.md "Connectors", type `oauth2`): access tokens
// obtained from the connector's token endpoint and cached in memory.
//
// Grant (RFC 6749): refresh_token (section 6) when the connector has a `refresh_token`
// secret, else client_credentials (section 4.4). The client authenticates with HTTP Basic
// (section 2.3.1: form-encoded client_id and client_secret); the body is
// application/x-www-form-urlencoded with `scope` = options.scopes joined by spaces.
//
// The token request goes through the same SSRF-guarded client and egress policy as the
// step (no redirects, 64 KiB response cap, bounded by the step deadline). Its errors
// never carry the endpoint's body, a token or a secret: action_failed "connector '<id>'
// (oauth2): the token endpoint answered HTTP <n> [(<RFC 6749 error code>)]", or the
// client's own code (ssrf_blocked, timeout ...) with a message naming the host at most.
//
// Every access token (cached or fresh) and every rotated refresh token is registered
// with the run's redaction (ConnectorResolver::AddDerivedSecret) before it is used or
// stored. A refresh_token the endpoint rotates is written back through
// ConnectorResolver::ReplaceSecret and, for this process, remembered in place of the one
// it replaced (a run that resolved the connector before the write-back still refreshes
// with the newest one). The write-back is compare-and-set on the stored refresh_token
// still being the one the request was made with (or the one the step resolved): when the
// connector changed meanwhile (its refresh_token PATCHed, or deleted and created again
// under its id), the rotated token is dropped and its access token is not cached.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "rampart/actions/action.h"
#include "rampart/net/egress.h"
#include "rampart/net/http_client.h"

namespace rampart::actions::oauth2 {

// Tokens are used until their expiry minus this skew.
inline constexpr std::chrono::seconds kExpirySkew{60};
// Lifetime assumed when the token response has no expires_in.
inline constexpr std::chrono::seconds kDefaultLifetime{300};

// Access tokens per (org, connector). Thread-safe: concurrent steps of one connector wait
// for a single token request instead of sending one each.
class TokenCache {
 public:
  explicit TokenCache(std::shared_ptr<net::HttpClient> client);

  // A bearer access token for `connector` (type oauth2), from the cache while it is
  // valid, else from the token endpoint. `rejected`: a token the API just answered 401
  // to; it is dropped and a new one fetched (unless another step already replaced it).
  // `policy` is the step's effective egress policy, `timeout` its request budget.
  Result<std::string> AccessToken(const Context& ctx, const ConnectorSecrets& connector,
                                  const net::EgressPolicy& policy,
                                  std::chrono::milliseconds timeout,
                                  std::string_view rejected = {});

 private:
  struct Entry {
    std::mutex mu;                 // held while a token is fetched
    std::string fingerprint;       // GUARDED_BY(mu) token_url, client_id, secret, scopes
    std::string access_token;      // GUARDED_BY(mu) empty: none cached
    // SHA-256 of the newest refresh token of the grant access_token belongs to (empty:
    // client_credentials). A connector created again under its id (or its refresh_token
    // replaced) with another account's refresh_token is another grant.
    std::string grant;             // GUARDED_BY(mu)
    std::chrono::system_clock::time_point valid_until;  // GUARDED_BY(mu)
    // SHA-256 of a refresh token -> the token the endpoint rotated it into.
    std::map<std::string, std::string> rotated;  // GUARDED_BY(mu)
  };
  std::shared_ptr<Entry> EntryFor(const std::string& key);
  // The connector's refresh_token, or the newest one this process rotated it into.
  static std::string NewestRefresh(const ConnectorSecrets& connector, const Entry& entry);

  Result<std::string> Fetch(const Context& ctx, const ConnectorSecrets& connector,
                            const net::EgressPolicy& policy, std::chrono::milliseconds timeout,
                            Entry& entry);

  std::shared_ptr<net::HttpClient> client_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;  // GUARDED_BY(mu_)
};

}  // namespace rampart::actions::oauth2
