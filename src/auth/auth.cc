#include "rampart/auth/auth.h"
#include "rampart/auth/support_grant.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "rampart/crypto/crypto.h"
#include "rampart/crypto/jwt.h"
#include "rampart/crypto/tokens.h"

namespace rampart::auth {
namespace {

constexpr std::array<std::string_view, kPermissionCount> kPermissionNames = {
    "workflows:read",    "workflows:write",  "workflows:delete",  "workflows:publish",
    "workflows:execute", "runs:read",        "runs:cancel",       "runs:approve",
    "connectors:read",   "connectors:write", "connectors:delete", "connectors:use",
    "api_keys:read",     "api_keys:write",   "members:read",      "members:write",
    "org:write",         "audit:read",       "webhooks:manage",   "wallets:read",
    "wallets:manage",
};

PermissionSet Of(std::initializer_list<Permission> permissions) {
  PermissionSet set;
  for (Permission p : permissions) set.Add(p);
  return set;
}

const PermissionSet& DeveloperPermissions() {
  static const PermissionSet kSet = Of({
      Permission::kWorkflowsRead,
      Permission::kWorkflowsWrite,
      Permission::kWorkflowsDelete,
      Permission::kWorkflowsExecute,
      Permission::kRunsRead,
      Permission::kRunsCancel,
      Permission::kConnectorsRead,
      Permission::kConnectorsUse,
      Permission::kMembersRead,
      Permission::kWalletsRead,
  });
  return kSet;
}

Error Unauthenticated() {
  return MakeError(ErrorCode::kUnauthenticated, "authentication required");
}


constexpr store::Millis kTouchIntervalMs = 60'000;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "Bearer <token>" (scheme case-insensitive) -> token; "" when not a bearer header.
std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return {};
  }
  return Trim(authorization.substr(kScheme.size()));
}

}  // namespace

std::string_view PermissionName(Permission permission) {
  return kPermissionNames[static_cast<size_t>(permission)];
}

std::optional<Permission> ParsePermission(std::string_view name) {
  for (size_t i = 0; i < kPermissionNames.size(); ++i) {
    if (kPermissionNames[i] == name) return static_cast<Permission>(i);
  }
  return std::nullopt;
}

PermissionSet PermissionSet::All() {
  PermissionSet set;
  set.bits_.set();
  return set;
}

PermissionSet PermissionSet::Intersect(const PermissionSet& other) const {
  PermissionSet set;
  set.bits_ = bits_ & other.bits_;
  return set;
}

std::vector<std::string> PermissionSet::Names() const {
  std::vector<std::string> names;
  for (size_t i = 0; i < kPermissionCount; ++i) {
    if (bits_.test(i)) names.emplace_back(kPermissionNames[i]);
  }
  return names;
}

bool IsRole(std::string_view role) { return role == kRoleOwner || role == kRoleDeveloper; }

PermissionSet RolePermissions(std::string_view role) {
  if (role == kRoleOwner) return PermissionSet::All();
  if (role == kRoleDeveloper) return DeveloperPermissions();
  return {};
}

PermissionSet ReadPermissions() {
  PermissionSet set;
  for (size_t i = 0; i < kPermissionCount; ++i) {
    std::string_view name = kPermissionNames[i];
    if (name.ends_with(":read")) set.Add(static_cast<Permission>(i));
  }
  return set;
}

std::string Principal::Actor() const {
  switch (kind) {
    case Kind::kApiKey:
      return "key:" + api_key_id;
    case Kind::kMasterKey:
      return "master:" + user_id;
    case Kind::kJwt:
      return "jwt:" + user_id;
    case Kind::kSupportGrant:
      return "grant:" + support_grant_id;
    case Kind::kSession:
      break;
  }
  return "user:" + user_id;
}

std::string_view CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t end = header.find(';');
    std::string_view pair = Trim(header.substr(0, end));
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && Trim(pair.substr(0, eq)) == name) {
      return Trim(pair.substr(eq + 1));
    }
    if (end == std::string_view::npos) break;
    header.remove_prefix(end + 1);
  }
  return {};
}

Authenticator::Authenticator(AuthConfig config, Clock& clock)
    : config_(std::move(config)), clock_(clock) {}

Result<Principal> Authenticator::Authenticate(store::Tx& tx,
                                              const Credentials& credentials) const {
  std::optional<store::MemberOrg> unused;
  return Authenticate(tx, credentials, &unused);
}

Result<Principal> Authenticator::Authenticate(store::Tx& tx, const Credentials& credentials,
                                              std::optional<store::MemberOrg>* member_org) const {
  member_org->reset();
  const store::Millis now = UnixMillis(clock_.Now());
  Principal principal;
  std::string_view bearer = BearerToken(credentials.authorization);
  if (!credentials.authorization.empty() && bearer.empty()) return Unauthenticated();

  if (bearer.starts_with(crypto::kSupportGrantPrefix)) {
    return AuthenticateSupportGrant(tx, bearer, now);
  }

  if (bearer.starts_with("rpk_")) {
    if (!crypto::ApiKeyWellFormed(bearer)) return Unauthenticated();
    const std::string hash = crypto::Sha256Hex(bearer);
    auto key = tx.GetApiKeyByHash(hash);
    if (!key.ok()) return key.error();
    // The hash lookup found the row; the constant-time compare guards against a store
    // that matched loosely (collation, prefix index) ever authenticating a wrong key.
    if (!key->has_value() || !crypto::ConstantTimeEqual((*key)->hash, hash)) {
      return Unauthenticated();
    }
    const store::ApiKey& row = **key;
    if (row.revoked_at.has_value()) return Unauthenticated();
    if (row.expires_at.has_value() && *row.expires_at <= now) return Unauthenticated();
    // A key stops working when its creator loses membership of the key's org. A disabled
    // or deleted account's keys were revoked in the transaction that disabled it, so this
    // path reads no user row. The org comes with the membership (one statement) for
    // AuthorizeOrg, which an API key request nearly always meets next.
    auto membership = tx.GetMemberOrg(row.org_id, row.user_id);
    if (!membership.ok()) return membership.error();
    if (!membership->has_value()) return Unauthenticated();
    *member_org = std::move(*membership);
    principal.kind = Principal::Kind::kApiKey;
    principal.user_id = row.user_id;
    principal.api_key_id = row.id;
    principal.api_key_org = row.org_id;
    principal.api_key_scope = row.scope;
    principal.api_key_needs_touch =
        !row.last_used_at.has_value() || now - *row.last_used_at >= kTouchIntervalMs;
    return principal;
  }

  if (!bearer.empty()) {
    // Master key: "<MASTER_KEY>:<user_id>".
    size_t colon = bearer.rfind(':');
    if (!config_.master_key.empty() && colon != std::string_view::npos) {
      std::string_view key = bearer.substr(0, colon);
      std::string_view user_id = bearer.substr(colon + 1);
      // Hashing both sides first makes the comparison independent of the master key's
      // length too (ConstantTimeEqual answers unequal lengths early).
      if (!crypto::ConstantTimeEqual(crypto::DigestBytes(crypto::Sha256(key)),
                                     crypto::DigestBytes(crypto::Sha256(config_.master_key)))) {
        return Unauthenticated();
      }
      auto user = tx.GetUser(user_id);
      if (!user.ok()) return user.error();
      // A disabled account cannot be acted as, not even by the operator.
      if (!user->has_value() || (*user)->disabled) return Unauthenticated();
      principal.kind = Principal::Kind::kMasterKey;
      principal.user_id = (*user)->id;
      return principal;
    }
    if (config_.jwt != nullptr) {
      auto claims = config_.jwt->Verify(bearer, clock_.Now());
      if (!claims.ok()) return Unauthenticated();
      // The identity provider's user maps to a Rampart user by email; without a verified
      // email claim the subject must be a Rampart user id.
      Result<std::optional<store::User>> user = std::optional<store::User>();
      const boost::json::value* verified = claims->payload.if_contains("email_verified");
      const bool email_verified = verified != nullptr && verified->is_bool() && verified->as_bool();
      // An unverified email is only a claim the account holder typed: matching on it would
      // let anyone who adds the victim's address at the identity provider act as them.
      if (!claims->email.empty() && email_verified) {
        std::string email = claims->email;
        std::transform(email.begin(), email.end(), email.begin(),
                       [](unsigned char c) { return std::tolower(c); });
        user = tx.GetUserByEmail(email);
      } else {
        user = tx.GetUser(claims->subject);
      }
      if (!user.ok()) return user.error();
      if (!user->has_value() || (*user)->disabled) return Unauthenticated();
      principal.kind = Principal::Kind::kJwt;
      principal.user_id = (*user)->id;
      return principal;
    }
    return Unauthenticated();
  }

  std::string_view token = CookieValue(credentials.cookie, kSessionCookie);
  if (token.empty() || !token.starts_with("rss_") || token.size() > 128) {
    return Unauthenticated();
  }
  std::string hash = crypto::Sha256Hex(token);
  auto session = tx.GetSession(hash);
  if (!session.ok()) return session.error();
  if (!session->has_value()) return Unauthenticated();
  const store::Session& row = **session;
  const auto idle_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.session_idle).count();
  if (row.revoked || row.expires_at <= now || row.last_seen_at + idle_ms <= now ||
      !crypto::ConstantTimeEqual(row.token_hash, hash)) {
    return Unauthenticated();
  }
  if (credentials.state_changing &&
      (credentials.csrf_token.empty() ||
       !crypto::ConstantTimeEqual(crypto::Sha256Hex(credentials.csrf_token), row.csrf_hash))) {
    return MakeError(ErrorCode::kPermissionDenied, "missing or invalid CSRF token");
  }
  auto user = tx.GetUser(row.user_id);
  if (!user.ok()) return user.error();
  // Disabling revokes the sessions too; the flag is checked as well, the row being read.
  if (!user->has_value() || (*user)->disabled) return Unauthenticated();
  principal.kind = Principal::Kind::kSession;
  principal.user_id = row.user_id;
  principal.session_hash = hash;
  principal.session_needs_touch = now - row.last_seen_at >= kTouchIntervalMs;
  principal.must_change_password = (*user)->must_change_password;
  return principal;
}

Result<OrgAccess> AuthorizeOrg(store::Tx& tx, const Principal& principal,
                               std::string_view org_id, std::optional<Permission> needed,
                               const store::MemberOrg* read_in_tx) {
  const Error not_found = MakeError(ErrorCode::kNotFound, "organization not found");
  if (principal.kind == Principal::Kind::kApiKey && principal.api_key_org != org_id) {
    return not_found;
  }
  if (principal.kind == Principal::Kind::kSupportGrant) {
    if (principal.support_grant_org != org_id) return not_found;
    return SupportGrantDenied();
  }
  OrgAccess access;
  if (read_in_tx != nullptr && read_in_tx->membership.org_id == org_id &&
      read_in_tx->membership.user_id == principal.user_id) {
    access.org = read_in_tx->org;
    access.role = read_in_tx->membership.role;
  } else {
    auto member_org = tx.GetMemberOrg(org_id, principal.user_id);
    if (!member_org.ok()) return member_org.error();
    if (!member_org->has_value()) return not_found;
    access.org = std::move((*member_org)->org);
    access.role = std::move((*member_org)->membership.role);
  }
  access.permissions = RolePermissions(access.role);
  if (principal.kind == Principal::Kind::kApiKey && principal.api_key_scope != "read_write") {
    access.permissions = access.permissions.Intersect(ReadPermissions());
  }
  if (needed.has_value() && !access.permissions.Has(*needed)) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "missing permission " + std::string(PermissionName(*needed)));
  }
  return access;
}

Status CheckWorkflowAuthorization(const OrgAccess& access, const std::vector<std::string>& roles,
                                  const std::vector<std::string>& permissions) {
  if (!roles.empty() && std::find(roles.begin(), roles.end(), access.role) == roles.end()) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "this workflow's authorization does not include your role");
  }
  for (const std::string& name : permissions) {
    std::optional<Permission> p = ParsePermission(name);
    if (!p.has_value() || !access.permissions.Has(*p)) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "this workflow's authorization requires " + name);
    }
  }
  return Status::Ok();
}

}  // namespace rampart::auth
