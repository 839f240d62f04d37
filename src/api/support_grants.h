// The support grant and diagnostics routes' handlers (internal to api/; spec/security.md
// section 2). api.cc authenticates and authorizes the request (org:write for an owner's
// grant management; an owner or one of the org's own support grants for diagnostics, see
// rampart/auth/support_grant.h) inside the route's transaction, then calls these.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "rampart/core/clock.h"
#include "rampart/core/result.h"
#include "rampart/server/http.h"
#include "rampart/server/org_log.h"
#include "rampart/store/store.h"

namespace rampart::api {

inline constexpr int kMaxActiveSupportGrants = 10;
inline constexpr size_t kMaxSupportGrantReason = 200;

struct SupportGrantCall {
  store::Tx& tx;
  const store::Org& org;
  const server::Request& request;
  const boost::json::object& body;  // allowlisted by the route
  std::string_view user_id;         // the owner managing grants
  store::Millis now = 0;
  Random& random;
  // Appends an audit event of this request in `tx`.
  std::function<Status(std::string_view action, std::string_view target,
                       boost::json::object details)>
      audit;
};

// GET: cursor-paged, never the token; each grant's status is active, expired or revoked.
Result<server::Response> ListSupportGrantsHandler(SupportGrantCall& call);
// POST {expires_in?, reason?} -> 201 with the token (shown once); 409 past 10 active.
Result<server::Response> CreateSupportGrantHandler(SupportGrantCall& call);
// DELETE .../{id} -> 204 (at once: the next request with the token is 401); 404 when the
// org has no such grant.
Result<server::Response> RevokeSupportGrantHandler(SupportGrantCall& call);

struct ServerInfo {
  std::string version;
  std::string build;
  int64_t uptime_s = 0;
};

// GET .../diagnostics: version, build, uptime, the org's run counts by status and queue
// depth; no names, no ids, no payloads. The caller adds `store` after the transaction (it
// pings the store, which must not happen while the transaction holds a connection).
Result<boost::json::object> DiagnosticsBody(store::Tx& tx, const store::Org& org,
                                            const ServerInfo& info);
// GET .../diagnostics/logs?limit= (1..500, default 100): the org's newest log records.
Result<server::Response> DiagnosticsLogsHandler(const server::Request& request,
                                                std::string_view org_id,
                                                const server::OrgLogRing* org_log);

}  // namespace rampart::api
