#include "api/support_grants.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "api/common.h"
#include "rampart/auth/support_grant.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/tokens.h"

namespace rampart::api {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;

constexpr int kDefaultLogLimit = 100;
constexpr int kMaxLogLimit = 500;

std::string_view GrantStatus(const store::SupportGrant& grant, store::Millis now) {
  if (grant.revoked_at.has_value()) return "revoked";
  if (grant.expires_at <= now) return "expired";
  return "active";
}

object GrantJson(const store::SupportGrant& grant, store::Millis now) {
  return object{{"id", grant.id},
                {"status", GrantStatus(grant, now)},
                {"created_at", TimeValue(grant.created_at)},
                {"created_by", grant.created_by},
                {"expires_at", TimeValue(grant.expires_at)},
                {"revoked_at", TimeValue(grant.revoked_at)},
                {"reason", grant.reason}};
}

bool HasControlCharacter(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

Result<server::Response> ListSupportGrantsHandler(SupportGrantCall& call) {
  auto page = PageFromQuery(call.request);
  if (!page.ok()) return page.error();
  auto grants = call.tx.ListSupportGrants(call.org.id, *page);
  if (!grants.ok()) return grants.error();
  array items;
  for (const store::SupportGrant& grant : grants->items) {
    items.push_back(GrantJson(grant, call.now));
  }
  return server::JsonResponse(200, ListBody(std::move(items), grants->next));
}

Result<server::Response> CreateSupportGrantHandler(SupportGrantCall& call) {
  int64_t expires_in = auth::kDefaultSupportGrantSeconds;
  if (const value* v = call.body.if_contains("expires_in"); v != nullptr && !v->is_null()) {
    if (!v->is_int64() || v->as_int64() < 1 || v->as_int64() > auth::kMaxSupportGrantSeconds) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "expires_in must be an integer number of seconds from 1 to " +
                           std::to_string(auth::kMaxSupportGrantSeconds) + " (72 h)");
    }
    expires_in = v->as_int64();
  }
  auto reason = OptionalString(call.body, "reason", kMaxSupportGrantReason);
  if (!reason.ok()) return reason.error();
  if (reason->has_value() && HasControlCharacter(**reason)) {
    return MakeError(ErrorCode::kInvalidArgument, "reason must not contain control characters");
  }
  if (Status s = CheckQuota(call.tx.CountActiveSupportGrants(call.org.id, call.now),
                            kMaxActiveSupportGrants, "an org", "active support grants",
                            "revoke one first");
      !s.ok()) {
    return s.error();
  }
  std::string token = crypto::NewSupportGrantToken(call.random);
  store::SupportGrant grant{.org_id = call.org.id,
                            .id = NewObjectId(call.random, "sgr_"),
                            .hash = crypto::Sha256Hex(token),
                            .created_by = std::string(call.user_id),
                            .reason = reason->value_or(""),
                            .created_at = call.now,
                            .expires_at = call.now + expires_in * 1000,
                            .revoked_at = std::nullopt};
  if (Status s = call.tx.InsertSupportGrant(grant); !s.ok()) return s.error();
  if (Status s = call.audit("support_grant.create", grant.id,
                            object{{"expires_in", expires_in}, {"reason", grant.reason}});
      !s.ok()) {
    return s.error();
  }
  object body = GrantJson(grant, call.now);
  body["token"] = token;  // shown once
  return server::JsonResponse(201, body);
}

Result<server::Response> RevokeSupportGrantHandler(SupportGrantCall& call) {
  const std::string& id = call.request.params.at("id");
  auto grant = call.tx.GetSupportGrant(call.org.id, id);
  if (!grant.ok()) return grant.error();
  if (!grant->has_value()) return MakeError(ErrorCode::kNotFound, "support grant not found");
  auto revoked = call.tx.RevokeSupportGrant(call.org.id, id, call.now);
  if (!revoked.ok()) return revoked.error();
  // Revoking a revoked grant changes nothing and answers the same.
  if (*revoked) {
    if (Status s = call.audit("support_grant.revoke", id, {}); !s.ok()) return s.error();
  }
  server::Response response;
  response.status = 204;
  return response;
}

Result<object> DiagnosticsBody(store::Tx& tx, const store::Org& org, const ServerInfo& info) {
  auto counts = tx.CountOrgRunsByStatus(org.id);
  if (!counts.ok()) return counts.error();
  object runs{{"queued", 0},    {"running", 0}, {"awaiting_approval", 0},
              {"succeeded", 0}, {"failed", 0},  {"cancelled", 0}};
  for (const auto& [status, count] : *counts) {
    // Only the statuses of the run state machine: a stored value outside it is not shown.
    if (runs.contains(status)) runs[status] = count;
  }
  object body;
  body["version"] = info.version;
  body["build"] = info.build;
  body["uptime_s"] = info.uptime_s;
  body["queue_depth"] = runs["queued"];
  body["running"] = runs["running"];
  body["max_concurrent_runs"] = org.max_concurrent_runs;
  body["runs_by_status"] = std::move(runs);
  return body;
}

Result<server::Response> DiagnosticsLogsHandler(const server::Request& request,
                                                std::string_view org_id,
                                                const server::OrgLogRing* org_log) {
  int limit = kDefaultLogLimit;
  if (std::string_view l = QueryParam(request, "limit"); !l.empty()) {
    std::optional<int64_t> n = ParseDecimal(l, kMaxLogLimit);
    if (!n.has_value() || *n < 1) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "limit must be an integer from 1 to " + std::to_string(kMaxLogLimit));
    }
    limit = static_cast<int>(*n);
  }
  array items;
  if (org_log != nullptr) {
    for (const server::OrgLogRecord& r : org_log->Recent(org_id, static_cast<size_t>(limit))) {
      items.push_back(object{{"time", TimeValue(r.time_ms)},
                             {"level", r.level},
                             {"event", r.event},
                             {"code", r.code},
                             {"message", r.message}});
    }
  }
  return server::JsonResponse(200, object{{"items", std::move(items)}});
}

}  // namespace rampart::api
