#include "rampart/api/accounts.h"

#include <utility>

#include "rampart/core/json.h"

namespace rampart::api {

using boost::json::object;

Status CheckPasswordPolicy(std::string_view password, std::string_view name) {
  if (password.size() < kMinPasswordLength) {
    return MakeError(ErrorCode::kInvalidArgument, std::string(name) + " must be at least " +
                                                      std::to_string(kMinPasswordLength) +
                                                      " characters");
  }
  if (password.size() > kMaxPasswordLength) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        std::string(name) + " is longer than " + std::to_string(kMaxPasswordLength) + " bytes");
  }
  return Status::Ok();
}

std::vector<std::string> Account::OrgIds() const {
  std::vector<std::string> ids;
  for (const store::Membership& m : memberships) ids.push_back(m.org_id);
  return ids;
}

Result<Account> FindAccount(store::Tx& tx, std::string_view user_id) {
  auto user = tx.GetUser(user_id);
  if (!user.ok()) return user.error();
  if (!user->has_value()) return MakeError(ErrorCode::kNotFound, "user not found");
  auto memberships = tx.ListMembershipsOfUser(user_id);
  if (!memberships.ok()) return memberships.error();
  return Account{std::move(**user), std::move(*memberships)};
}

Status AppendInOrgs(store::Tx& tx, store::AuditEvent event,
                    const std::vector<std::string>& org_ids) {
  if (org_ids.empty()) {
    auto appended = tx.AppendAudit(event);
    return appended.ok() ? Status::Ok() : Status(appended.error());
  }
  for (const std::string& org_id : org_ids) {
    event.org_id = org_id;
    auto appended = tx.AppendAudit(event);
    if (!appended.ok()) return appended.error();
  }
  return Status::Ok();
}

Result<object> RevokeEveryCredential(store::Tx& tx, std::string_view user_id, store::Millis now) {
  auto sessions = tx.RevokeUserSessions(user_id);
  if (!sessions.ok()) return sessions.error();
  auto keys = tx.RevokeUserApiKeys(user_id, now);
  if (!keys.ok()) return keys.error();
  return object{{"revoked_sessions", *sessions}, {"revoked_api_keys", *keys}};
}

namespace {

store::AuditEvent Named(store::AuditEvent event, std::string_view action, const Account& account,
                        const object& details) {
  event.action = action;
  event.target = account.user.id;
  event.details = json::Serialize(details);
  return event;
}

}  // namespace

Result<object> DisableAccount(store::Tx& tx, const Account& account, store::AuditEvent event) {
  const std::string& user_id = account.user.id;
  if (Status s = tx.SetUserDisabled(user_id, true); !s.ok()) return s.error();
  auto counts = RevokeEveryCredential(tx, user_id, event.time);
  if (!counts.ok()) return counts.error();
  if (Status s = AppendInOrgs(tx, Named(std::move(event), "user.disable", account, *counts),
                              account.OrgIds());
      !s.ok()) {
    return s.error();
  }
  return counts;
}

Status EnableAccount(store::Tx& tx, const Account& account, store::AuditEvent event) {
  if (Status s = tx.SetUserDisabled(account.user.id, false); !s.ok()) return s;
  return AppendInOrgs(tx, Named(std::move(event), "user.enable", account, object{}),
                      account.OrgIds());
}

Result<object> ResetAccountPassword(store::Tx& tx, const Account& account,
                                    std::string_view password_hash, store::AuditEvent event) {
  const std::string& user_id = account.user.id;
  if (password_hash.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "a password reset needs a password hash");
  }
  if (Status s = tx.SetUserPassword(user_id, password_hash, /*must_change_password=*/true);
      !s.ok()) {
    return s.error();
  }
  auto sessions = tx.RevokeUserSessions(user_id);
  if (!sessions.ok()) return sessions.error();
  object details{{"revoked_sessions", *sessions}};
  if (Status s = AppendInOrgs(tx, Named(std::move(event), "user.password_reset", account, details),
                              account.OrgIds());
      !s.ok()) {
    return s.error();
  }
  return details;
}

}  // namespace rampart::api
