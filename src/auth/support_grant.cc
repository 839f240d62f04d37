#include "rampart/auth/support_grant.h"

#include "rampart/crypto/crypto.h"
#include "rampart/crypto/tokens.h"

namespace rampart::auth {

Error SupportGrantDenied() {
  return MakeError(ErrorCode::kPermissionDenied,
                   "a support grant may only read its org's diagnostics");
}

Result<Principal> AuthenticateSupportGrant(store::Tx& tx, std::string_view token,
                                           store::Millis now) {
  const Error unauthenticated = MakeError(ErrorCode::kUnauthenticated, "authentication required");
  // Typos and garbage are refused before any store access.
  if (!crypto::SupportGrantWellFormed(token)) return unauthenticated;
  const std::string hash = crypto::Sha256Hex(token);
  auto grant = tx.GetSupportGrantByHash(hash);
  if (!grant.ok()) return grant.error();
  // As for API keys: the constant-time compare keeps a store that matched loosely from
  // ever authenticating a wrong token.
  if (!grant->has_value() || !crypto::ConstantTimeEqual((*grant)->hash, hash)) {
    return unauthenticated;
  }
  const store::SupportGrant& row = **grant;
  if (row.revoked_at.has_value() || row.expires_at <= now) return unauthenticated;
  // Only owners create grants; one stops working when its creator is no longer an owner.
  auto membership = tx.GetMembership(row.org_id, row.created_by);
  if (!membership.ok()) return membership.error();
  if (!membership->has_value() || (*membership)->role != kRoleOwner) return unauthenticated;
  // No user id: a grant acts as nobody, so no check keyed on a user (membership, a private
  // workflow's creator) can ever pass on it.
  Principal principal;
  principal.kind = Principal::Kind::kSupportGrant;
  principal.support_grant_id = row.id;
  principal.support_grant_org = row.org_id;
  return principal;
}

Result<OrgAccess> AuthorizeSupportGrant(store::Tx& tx, const Principal& principal,
                                        std::string_view org_id) {
  if (principal.kind != Principal::Kind::kSupportGrant) return SupportGrantDenied();
  const Error not_found = MakeError(ErrorCode::kNotFound, "organization not found");
  if (principal.support_grant_org != org_id) return not_found;
  auto org = tx.GetOrg(org_id);
  if (!org.ok()) return org.error();
  if (!org->has_value()) return not_found;
  OrgAccess access;
  access.org = std::move(**org);
  access.role = std::string(kRoleSupport);
  return access;  // no permissions
}

}  // namespace rampart::auth
