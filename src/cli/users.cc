// `rampart users list | reset-password | enable | disable`: the operator's break-glass for
// accounts, on the store in the data directory, beside a running `rampart serve` or not.
#include <openssl/crypto.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <memory>
#include <string>

#include "cli/config.h"
#include "cli/data_dir.h"
#include "cli/report.h"
#include "rampart/api/accounts.h"
#include "rampart/cli/commands.h"
#include "rampart/core/ascii.h"
#include "rampart/core/clock.h"
#include "rampart/core/json.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/password.h"
#include "rampart/store/store.h"

namespace rampart::cli {
namespace {

using boost::json::array;
using boost::json::object;

constexpr size_t kGeneratedPasswordBytes = 24;  // 32 base64url characters

// The store of the configured data directory; an error (exit 2) when there is no
// configuration or no store (none is created), or it is older and a serve holds it.
Result<std::unique_ptr<store::Store>> OpenStore(const UsersOptions& options) {
  auto config = LoadConfig(options.config);
  if (!config.ok()) return config.error();
  const std::string data_dir = DataDir(options.data_dir, *config);
  if (::access((data_dir + "/rampart.db").c_str(), F_OK) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "no store in " + data_dir);
  }
  return OpenStoreBesideServe(data_dir, /*read_connections=*/1);
}

// The account with this email, read in `tx`; kNotFound naming the email otherwise.
Result<api::Account> AccountByEmail(store::Tx& tx, const std::string& email) {
  auto user = tx.GetUserByEmail(email);
  if (!user.ok()) return user.error();
  if (!user->has_value()) return MakeError(ErrorCode::kNotFound, "no user with the email " + email);
  return api::FindAccount(tx, (*user)->id);
}

// Who acts in the audit: the operator at the host, at `now`.
store::AuditEvent CliEvent() {
  store::AuditEvent event;
  event.time = UnixMillis(SystemClock().Now());
  event.actor = "cli";
  event.outcome = "success";
  event.user_agent = "rampart users";
  return event;
}

int ExitFor(const Error& error) {
  return error.code == ErrorCode::kInvalidArgument ? kExitInvalid : kExitRunFailed;
}

// The first line of `in` without its line ending, read up to one byte past the policy's
// maximum (enough to refuse it; endless input is not buffered); false when unreadable.
bool ReadLine(std::FILE* in, std::string* line) {
  line->clear();
  int c;
  while (line->size() <= api::kMaxPasswordLength && (c = std::fgetc(in)) != EOF && c != '\n') {
    line->push_back(static_cast<char>(c));
  }
  if (std::ferror(in)) return false;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  return true;
}

std::string Plural(int64_t n, const char* what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

}  // namespace

int UsersList(const UsersOptions& options, std::FILE* out, std::FILE* err) {
  auto opened = OpenStore(options);
  if (!opened.ok()) return Fail(err, opened.error().message, kExitInvalid);
  array users;
  std::string table;
  Status read = (*opened)->Read([&](store::Tx& tx) -> Status {
    auto all = tx.ListUsers();
    if (!all.ok()) return all.error();
    for (const store::User& user : *all) {
      auto memberships = tx.ListMembershipsOfUser(user.id);
      if (!memberships.ok()) return memberships.error();
      array orgs;
      std::string org_text;
      for (const store::Membership& m : *memberships) {
        auto org = tx.GetOrg(m.org_id);
        if (!org.ok()) return org.error();
        const std::string slug = org->has_value() ? (*org)->slug : std::string();
        orgs.push_back(object{{"org_id", m.org_id}, {"slug", slug}, {"role", m.role}});
        org_text += (org_text.empty() ? "" : ", ") + slug + " (" + m.org_id + ") " + m.role;
      }
      const std::string created = FormatRfc3339Millis(user.created_at);
      users.push_back(object{{"id", user.id},
                             {"email", user.email},
                             {"disabled", user.disabled},
                             {"must_change_password", user.must_change_password},
                             {"created_at", created},
                             {"orgs", std::move(orgs)}});
      table += user.id + "  " + user.email + "  created " + created +
               (user.disabled ? "  disabled" : "") +
               (user.must_change_password ? "  must_change_password" : "") +
               "  orgs: " + (org_text.empty() ? "-" : org_text) + "\n";
    }
    return Status::Ok();
  });
  if (!read.ok()) return Fail(err, read.error().message, kExitRunFailed);
  if (options.json) {
    std::fprintf(out, "%s\n", json::Serialize(object{{"users", std::move(users)}}).c_str());
  } else {
    std::fputs(table.empty() ? "rampart: no users\n" : table.c_str(), out);
  }
  return kExitOk;
}

int UsersResetPassword(const UsersOptions& options, std::FILE* in, std::FILE* out, std::FILE* err) {
  if (options.email.empty()) return Fail(err, "--email EMAIL is required", kExitInvalid);
  auto opened = OpenStore(options);
  if (!opened.ok()) return Fail(err, opened.error().message, kExitInvalid);
  const std::string email = AsciiLowered(options.email);
  std::string password;
  if (options.password_stdin) {
    if (!ReadLine(in, &password)) {
      return Fail(err, "cannot read the password from stdin", kExitInvalid);
    }
  } else {
    password =
        crypto::Base64UrlEncode(crypto::RandomBytes(SystemRandom(), kGeneratedPasswordBytes));
  }
  auto wipe = [&] { OPENSSL_cleanse(password.data(), password.size()); };
  if (Status s = api::CheckPasswordPolicy(password); !s.ok()) {
    wipe();
    return Fail(err, "refused: " + s.error().message + ", nothing changed", kExitRunFailed);
  }
  // The user must exist before Argon2id is spent on their password; the write checks again.
  Status found = (*opened)->Read([&](store::Tx& tx) -> Status {
    auto account = AccountByEmail(tx, email);
    return account.ok() ? Status::Ok() : Status(account.error());
  });
  if (!found.ok()) {
    wipe();
    return Fail(err, found.error().message, ExitFor(found.error()));
  }
  // Hashed outside the write transaction (Argon2id takes tens of milliseconds; a server
  // beside us would wait for the write lock that long).
  auto hash = crypto::HashPassword(password, SystemRandom());
  if (!hash.ok()) {
    wipe();
    return Fail(err, hash.error().message, kExitRunFailed);
  }
  std::string user_id;
  bool disabled = false;
  int64_t revoked = 0;
  Status written = (*opened)->Write([&](store::Tx& tx) -> Status {
    auto account = AccountByEmail(tx, email);
    if (!account.ok()) return account.error();
    auto details = api::ResetAccountPassword(tx, *account, *hash, CliEvent());
    if (!details.ok()) return details.error();
    user_id = account->user.id;
    disabled = account->user.disabled;
    revoked = details->at("revoked_sessions").to_number<int64_t>();
    return Status::Ok();
  });
  if (!written.ok()) {
    wipe();
    return Fail(err, written.error().message, ExitFor(written.error()));
  }
  const std::string summary =
      "rampart: password of " + email + " (" + user_id + ") reset, " + Plural(revoked, "session") +
      " revoked; it must be changed at the next login; audited as user.password_reset" +
      (disabled
           ? "; the account is disabled: rampart users enable --email " + email + " lets it sign in"
           : std::string()) +
      "\n";
  if (options.password_stdin) {
    std::fputs(summary.c_str(), out);
  } else {
    std::fprintf(out, "%s\n", password.c_str());
    std::fflush(out);
    std::fputs(summary.c_str(), err);
  }
  wipe();
  return kExitOk;
}

int UsersSetDisabled(const UsersOptions& options, bool disabled, std::FILE* out, std::FILE* err) {
  if (options.email.empty()) return Fail(err, "--email EMAIL is required", kExitInvalid);
  auto opened = OpenStore(options);
  if (!opened.ok()) return Fail(err, opened.error().message, kExitInvalid);
  const std::string email = AsciiLowered(options.email);
  std::string user_id;
  object counts;
  Status written = (*opened)->Write([&](store::Tx& tx) -> Status {
    auto account = AccountByEmail(tx, email);
    if (!account.ok()) return account.error();
    user_id = account->user.id;
    if (!disabled) return api::EnableAccount(tx, *account, CliEvent());
    auto revoked = api::DisableAccount(tx, *account, CliEvent());
    if (!revoked.ok()) return revoked.error();
    counts = std::move(*revoked);
    return Status::Ok();
  });
  if (!written.ok()) return Fail(err, written.error().message, ExitFor(written.error()));
  if (disabled) {
    std::fprintf(out, "rampart: %s (%s) disabled, %s and %s revoked; audited as user.disable\n",
                 email.c_str(), user_id.c_str(),
                 Plural(counts.at("revoked_sessions").to_number<int64_t>(), "session").c_str(),
                 Plural(counts.at("revoked_api_keys").to_number<int64_t>(), "API key").c_str());
  } else {
    std::fprintf(out,
                 "rampart: %s (%s) enabled (what disabling revoked stays revoked); audited as "
                 "user.enable\n",
                 email.c_str(), user_id.c_str());
  }
  return kExitOk;
}

}  // namespace rampart::cli
