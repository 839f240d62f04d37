// Who is calling and what they may do (spec/security.md sections 2 and 3).
//
// Authentication turns request credentials (API key, session cookie + CSRF token, master
// key, JWT bearer token) into a Principal, reading the store inside the caller's
// transaction. Every failure is the same kUnauthenticated error whatever went wrong, so
// the answer is no oracle for which part was wrong.
//
// Authorization is one function, AuthorizeOrg: membership is read from the store on
// every request; the role gives the permissions; an API key's scope narrows them; a
// principal that is not a member of the org (or a key of another org) gets kNotFound,
// never kPermissionDenied, so org ids are no existence oracle.
#pragma once

#include <bitset>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/clock.h"
#include "rampart/core/result.h"
#include "rampart/store/store.h"

namespace rampart::crypto {
class JwtVerifier;
}

namespace rampart::auth {

enum class Permission : uint8_t {
  kWorkflowsRead,
  kWorkflowsWrite,
  kWorkflowsDelete,
  kWorkflowsPublish,
  kWorkflowsExecute,
  kRunsRead,
  kRunsCancel,
  kRunsApprove,
  kConnectorsRead,
  kConnectorsWrite,
  kConnectorsDelete,
  kConnectorsUse,
  kApiKeysRead,
  kApiKeysWrite,
  kMembersRead,
  kMembersWrite,
  kOrgWrite,
  kAuditRead,
  kWebhooksManage,
  kWalletsRead,
  kWalletsManage,
};
inline constexpr size_t kPermissionCount = 21;

// "workflows:read", ...
std::string_view PermissionName(Permission permission);
std::optional<Permission> ParsePermission(std::string_view name);

class PermissionSet {
 public:
  PermissionSet() = default;
  static PermissionSet All();
  bool Has(Permission p) const { return bits_.test(static_cast<size_t>(p)); }
  void Add(Permission p) { bits_.set(static_cast<size_t>(p)); }
  PermissionSet Intersect(const PermissionSet& other) const;
  bool Empty() const { return bits_.none(); }
  std::vector<std::string> Names() const;  // in enum order
  bool operator==(const PermissionSet&) const = default;

 private:
  std::bitset<kPermissionCount> bits_;
};

inline constexpr std::string_view kRoleOwner = "owner";
inline constexpr std::string_view kRoleDeveloper = "developer";
bool IsRole(std::string_view role);
// The permissions of a role; empty for an unknown role.
PermissionSet RolePermissions(std::string_view role);
// The `*:read` permissions: what a `read` API key keeps.
PermissionSet ReadPermissions();

struct Principal {
  enum class Kind { kSession, kApiKey, kMasterKey, kJwt, kSupportGrant };
  Kind kind = Kind::kSession;
  std::string user_id;
  // kApiKey: the key's id, org and scope ("read" | "read_write").
  std::string api_key_id;
  std::string api_key_org;
  std::string api_key_scope;
  bool api_key_needs_touch = false;  // last_used_at is older than a minute
  // kSupportGrant: the grant's id and org (user_id stays empty: a grant is nobody).
  std::string support_grant_id;
  std::string support_grant_org;
  // kSession: the token hash (for logout and touch).
  std::string session_hash;
  bool session_needs_touch = false;
  // kSession: the user must change their password (someone else chose it) before the
  // session may do anything but change it, log out or list its orgs (api.cc enforces).
  bool must_change_password = false;

  // kMasterKey is the server operator (spec/security.md): the only principal the
  // account routes (/v1/users/{user}...) accept.
  // "user:usr_..", "key:key_..", "grant:sgr_..": how audit events and runs name the actor.
  std::string Actor() const;
};

struct Credentials {
  std::string_view authorization;  // the Authorization header, "" if absent
  std::string_view cookie;         // the Cookie header, "" if absent
  std::string_view csrf_token;     // X-CSRF-Token, "" if absent
  bool state_changing = false;     // method is not GET/HEAD/OPTIONS
};

inline constexpr std::string_view kSessionCookie = "rampart_session";

struct AuthConfig {
  std::string master_key;  // empty: master key auth is off
  std::shared_ptr<const crypto::JwtVerifier> jwt;  // null: JWT bearer tokens are off
  std::chrono::seconds session_idle{std::chrono::hours(1)};
  std::chrono::seconds session_absolute{std::chrono::hours(12)};
};

class Authenticator {
 public:
  Authenticator(AuthConfig config, Clock& clock);

  // kUnauthenticated ("authentication required") for any failure: no or malformed
  // credentials, unknown/revoked/expired key or session, key of a removed member, bad
  // master key, invalid JWT, JWT subject unknown, a disabled user (session, JWT, master
  // key as the user; their keys were revoked when they were disabled). kPermissionDenied ("invalid CSRF
  // token") when a session is valid but a state-changing request lacks its CSRF token.
  Result<Principal> Authenticate(store::Tx& tx, const Credentials& credentials) const;
  // The same; for an API key, `*member_org` (not null) also receives the row that showed
  // the key's creator a member of the key's org, read in `tx`, for AuthorizeOrg in the
  // same transaction (one read instead of two). Left empty for other credentials.
  Result<Principal> Authenticate(store::Tx& tx, const Credentials& credentials,
                                 std::optional<store::MemberOrg>* member_org) const;

  const AuthConfig& config() const { return config_; }

 private:
  AuthConfig config_;
  Clock& clock_;
};

struct OrgAccess {
  store::Org org;
  std::string role;
  PermissionSet permissions;  // role permissions narrowed by the key scope
};

// Checks the principal's membership of `org_id` in the store and that it holds `needed`
// (nullopt: membership alone). kNotFound when the org does not exist, the principal is
// not a member, or an API key or support grant belongs to another org; kPermissionDenied
// when the member lacks the permission, and for a support grant of this org on any route
// (its only routes are authorized by AuthorizeSupportGrant, support_grant.h).
//
// `read_in_tx`: a membership with its org that was read in this same `tx` (Authenticate's
// `member_org`), used instead of reading them again when it is the principal's membership
// of `org_id`; otherwise (or when null) they are read from `tx`. Never pass a row read in
// another transaction: membership must be checked against the store on every request.
Result<OrgAccess> AuthorizeOrg(store::Tx& tx, const Principal& principal,
                               std::string_view org_id, std::optional<Permission> needed,
                               const store::MemberOrg* read_in_tx = nullptr);

// A workflow's own `authorization` block: the caller must have one of `roles` (when not
// empty) and every one of `permissions`. kPermissionDenied otherwise.
Status CheckWorkflowAuthorization(const OrgAccess& access, const std::vector<std::string>& roles,
                                  const std::vector<std::string>& permissions);

// Cookie header parsing: the value of `name`, or "" (first occurrence wins).
std::string_view CookieValue(std::string_view cookie_header, std::string_view name);

}  // namespace rampart::auth
