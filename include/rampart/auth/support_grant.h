// Support grants (spec/security.md section 2): an "rps_..." bearer token an owner hands to
// support staff. It reads the diagnostics of its own org (health, versions, run counts,
// redacted logs) until it expires (at most 72 h) or is revoked, and nothing else: on any
// other route of its org it is refused like a credential without the permission
// (kPermissionDenied), on another org's routes like a stranger (kNotFound). It never
// executes workflows and never reads runs, API keys, members, connectors or secrets.
#pragma once

#include <string_view>

#include "rampart/auth/auth.h"
#include "rampart/core/result.h"
#include "rampart/store/store.h"

namespace rampart::auth {

inline constexpr int64_t kMaxSupportGrantSeconds = 72 * 3600;
inline constexpr int64_t kDefaultSupportGrantSeconds = 24 * 3600;
inline constexpr std::string_view kRoleSupport = "support";

// The principal of an "rps_" bearer token. kUnauthenticated (the same error as any failed
// authentication) when the token is malformed or its checksum is wrong (no store read),
// when no grant has its hash, when the grant is revoked or expired at `now`, or when the
// owner who created it is no longer an owner of its org.
Result<Principal> AuthenticateSupportGrant(store::Tx& tx, std::string_view token,
                                           store::Millis now);

// The access of a support grant to the diagnostics of `org_id`: role "support", no
// permission at all (so no other check can pass on it). kNotFound when the grant belongs to
// another org or the org is gone; kPermissionDenied when `principal` is not a grant.
Result<OrgAccess> AuthorizeSupportGrant(store::Tx& tx, const Principal& principal,
                                        std::string_view org_id);

// The refusal of a grant on a route that is not a diagnostics route of its org.
Error SupportGrantDenied();

}  // namespace rampart::auth
