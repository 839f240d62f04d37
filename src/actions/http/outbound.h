// Shared by the actions that send HTTP (http.request, webhook.send): connector lookup,
// the effective egress policy, the time left, and the step output of a response.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "rampart/actions/action.h"
#include "rampart/net/egress.h"
#include "rampart/net/http_client.h"

namespace rampart::actions::outbound {

// The step's connector: nullopt when the step names none; kPermissionDenied when it
// names one but the run has no connectors; the resolver's error otherwise.
Result<std::optional<ConnectorSecrets>> LoadConnector(const Context& ctx);

// `policy` narrowed by the connector's `egress` rules (kInvalidArgument when they are
// malformed).
Result<net::EgressPolicy> EffectivePolicy(const net::EgressPolicy& policy,
                                          const ConnectorSecrets* connector);

// min(requested, time left before the step deadline); kTimeout when none is left.
Result<std::chrono::milliseconds> TimeLeft(const Context& ctx, double requested_seconds);

// The step arguments both actions share: `allow_http` (http only when the step and the
// policy both allow it), `timeout` (seconds, default 30, bounded by the step deadline)
// and `max_response_bytes`. Returns the effective policy - `server` narrowed by the run's
// org rules (ctx.connectors->OrgEgress), then by the connector's - and sets the request's
// limits.
Result<net::EgressPolicy> ApplyCommonArgs(const Context& ctx, const boost::json::object& args,
                                          const net::EgressPolicy& server,
                                          const ConnectorSecrets* connector,
                                          net::HttpRequest& request);

// {status, headers (allowlisted), json | body | body_base64, redirects}.
boost::json::value ResponseOutput(const net::HttpResponse& response);

// RFC 3986 percent-encoding of everything but unreserved characters.
std::string PercentEncode(std::string_view s);

}  // namespace rampart::actions::outbound
