// Server-wide accounts (one user, memberships in several orgs) and what the operator does
// to them: disable, enable, reset the password. Shared by the API's operator routes
// (/v1/users/{user}..., the master key) and `rampart users` (host access to the data
// directory), so both change an account the same way and audit it the same way.
//
// Every function here runs inside the caller's write transaction: the change and its
// audit events commit together or not at all. The events go to the audit of every org
// the user is a member of (each org's owners see them), or once without an org for a
// user of none; they name the user by id, never by email, password or hash.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/result.h"
#include "rampart/store/store.h"

namespace rampart::api {

// The password policy of the API (setup, a member added by an owner, a password change)
// and of `rampart users reset-password`: at least 12 bytes, at most 1024.
inline constexpr size_t kMinPasswordLength = 12;
inline constexpr size_t kMaxPasswordLength = 1024;

// kInvalidArgument "<name> must be at least 12 characters" / "<name> is longer than 1024
// bytes" when `password` breaks the policy.
Status CheckPasswordPolicy(std::string_view password, std::string_view name = "password");

struct Account {
  store::User user;
  std::vector<store::Membership> memberships;  // by org id
  std::vector<std::string> OrgIds() const;
};

// The user with their memberships; kNotFound ("user not found") when there is none.
Result<Account> FindAccount(store::Tx& tx, std::string_view user_id);

// Appends `event` once in each org of `org_ids` (its org_id set to each), or once as it
// is when there is none.
Status AppendInOrgs(store::Tx& tx, store::AuditEvent event,
                    const std::vector<std::string>& org_ids);

// Revokes every session and API key of the user (all orgs); the counts
// {revoked_sessions, revoked_api_keys} for the audit event and the answer.
Result<boost::json::object> RevokeEveryCredential(store::Tx& tx, std::string_view user_id,
                                                  store::Millis now);

// `event` names who acts, when (its time is also the revocation time) and from where;
// these set its action, target (the user id) and details.

// Sets the disabled flag and revokes every session and API key of the user (a key's
// request reads no user row: its revocation is what stops it); audits `user.disable` with
// the counts, which it returns. Disabling a disabled account revokes what is left.
Result<boost::json::object> DisableAccount(store::Tx& tx, const Account& account,
                                           store::AuditEvent event);

// Clears the flag only: what disabling revoked stays revoked. Audits `user.enable`.
Status EnableAccount(store::Tx& tx, const Account& account, store::AuditEvent event);

// The operator's password reset: stores `password_hash` (Argon2id, crypto::HashPassword)
// with must_change_password set (the user chooses their own at the next login, as a
// member added by an owner does) and revokes every session of the user (the server reads
// sessions from the store on every request: they end at once). API keys stay, as on a
// password change: they are not derived from the password. Audits `user.password_reset`
// with {revoked_sessions}, which it returns.
Result<boost::json::object> ResetAccountPassword(store::Tx& tx, const Account& account,
                                                 std::string_view password_hash,
                                                 store::AuditEvent event);

}  // namespace rampart::api
