// Helpers shared by the HTTP API tests (tests/api/*_test.cc): reading answers, ids and
// seeding members straight through the store.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <string_view>

#include "rampart/core/clock.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/tokens.h"
#include "rampart/store/store.h"
#include "support/http_client.h"

namespace rampart::testing {

// The body as JSON; null when it does not parse.
inline boost::json::value Json(const HttpResponse& r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.body, ec);
  if (ec) return nullptr;
  return v;
}

// error.code / error.message of an error answer; "" when there is none.
// The string member `key` of a JSON object ("" when absent, not a string, or `v` is not
// an object).
inline std::string Str(const boost::json::value& v, std::string_view key) {
  if (!v.is_object()) return "";
  const boost::json::value* f = v.as_object().if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->as_string()) : std::string();
}

inline std::string ErrorField(const HttpResponse& r, std::string_view field) {
  boost::json::value v = Json(r);
  const boost::json::object* o = v.if_object();
  const boost::json::value* e = o != nullptr ? o->if_contains("error") : nullptr;
  const boost::json::value* f =
      e != nullptr && e->is_object() ? e->get_object().if_contains(field) : nullptr;
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
}
inline std::string ErrorCodeOf(const HttpResponse& r) { return ErrorField(r, "code"); }
inline std::string ErrorMessageOf(const HttpResponse& r) { return ErrorField(r, "message"); }

inline HttpHeaders Bearer(const std::string& token) {
  return {{"Authorization", "Bearer " + token}};
}

// `prefix` + random base62, 24 characters in all (an id of the shape the API makes).
inline std::string NewId(std::string_view prefix) {
  return crypto::NewOpaqueToken(SystemRandom(), prefix).substr(0, 24);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Two orgs, "org-a" and "org-b" (10 concurrent runs each), written through the store;
// returns their ids. Aborts if the store refuses.
inline std::pair<std::string, std::string> InsertTwoOrgs(store::Store& store,
                                                         store::Millis now) {
  std::pair<std::string, std::string> ids{NewId("org_"), NewId("org_")};
  Status st = store.Write([&](store::Tx& tx) -> Status {
    if (Status s = tx.InsertOrg({ids.first, "org-a", "Org A", 10, now}); !s.ok()) return s;
    return tx.InsertOrg({ids.second, "org-b", "Org B", 10, now});
  });
  if (!st.ok()) std::abort();
  return ids;
}

// A new read_write API key of `user` in `org`, inserted in `tx`; the key goes to *key.
inline Status InsertReadWriteKey(store::Tx& tx, const std::string& org, const std::string& user,
                                 store::Millis now, std::string* key) {
  *key = crypto::NewApiKey(SystemRandom());
  return tx.InsertApiKey({.id = NewId("key_"),
                          .org_id = org,
                          .user_id = user,
                          .name = "k",
                          .hash = crypto::Sha256Hex(*key),
                          .hint = "rpk_...",
                          .scope = "read_write",
                          .created_at = now,
                          .expires_at = std::nullopt,
                          .last_used_at = std::nullopt,
                          .revoked_at = std::nullopt});
}

// A user without a password, member of `org` with `role`, and a read_write API key of
// theirs, written through the store; returns the key. Aborts if the store refuses.
inline std::string InsertMemberWithKey(store::Store& store, const std::string& org,
                                       const std::string& email, const std::string& role,
                                       store::Millis now) {
  const std::string user = NewId("usr_");
  std::string key;
  Status st = store.Write([&](store::Tx& tx) -> Status {
    if (Status s = tx.InsertUser({user, email, "", now}); !s.ok()) return s;
    if (Status s = tx.UpsertMembership({org, user, role, now}); !s.ok()) return s;
    return InsertReadWriteKey(tx, org, user, now, &key);
  });
  if (!st.ok()) std::abort();
  return key;
}

// How many runs `org` has, counted by listing them page by page (not through the store's
// count, which the run quota itself relies on).
inline int64_t CountListedRuns(store::Store& store, const std::string& org) {
  int64_t n = 0;
  Status st = store.Read([&](store::Tx& tx) -> Status {
    store::PageRequest page{.after = "", .limit = 200};
    for (;;) {
      auto runs = tx.ListRuns(org, {}, page);
      if (!runs.ok()) return runs.error();
      n += static_cast<int64_t>(runs->items.size());
      if (runs->next.empty()) return Status::Ok();
      page.after = runs->next;
    }
  });
  if (!st.ok()) std::abort();
  return n;
}

}  // namespace rampart::testing
