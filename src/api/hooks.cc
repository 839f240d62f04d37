// Outbound execution hooks of a run (spec/interfaces.md "Outbound execution hooks"):
// GET  /v1/orgs/{org}/runs/{run_id}/hooks            deliveries with every attempt (paged:
//                                                     ?limit=&cursor=, next_cursor)
// POST /v1/orgs/{org}/runs/{run_id}/hooks/redeliver  manual redelivery
//
// Redelivery: body {"delivery_id": "msg_..."} redelivers that delivery; without it, every
// delivery of the run that is failed or disabled. A redelivered delivery is pending and
// due at once (the dispatcher picks it up within its poll interval), its endpoint is
// re-enabled if a 410 had disabled it (an operator decided to try again), and its attempt
// count goes on (so a delivery past its last scheduled attempt gets exactly one more).
// Audited as `hook.redeliver`.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "api/common.h"
#include "rampart/api/api.h"
#include "rampart/core/error.h"
#include "rampart/server/http.h"

namespace rampart::api::internal {
namespace {

using boost::json::array;
using boost::json::object;

// The hook URL without its query or fragment (which may carry a token) and with its
// userinfo (which may carry a password) masked.
std::string DisplayUrl(std::string_view url) {
  const size_t cut = url.find_first_of("?#");
  std::string_view base = url.substr(0, cut);
  std::string shown;
  const size_t scheme = base.find("://");
  const size_t authority = scheme == std::string_view::npos ? 0 : scheme + 3;
  const size_t at = base.substr(0, base.find('/', authority)).rfind('@');
  if (at != std::string_view::npos && at >= authority) {
    shown.append(base.substr(0, authority)).append("***").append(base.substr(at));
  } else {
    shown.assign(base);
  }
  if (cut != std::string_view::npos) shown += "?...";
  return shown;
}

object DeliveryJson(const store::HookDelivery& d, const std::vector<store::HookAttempt>& attempts) {
  array log;
  for (const store::HookAttempt& a : attempts) {
    object entry{
        {"attempt", a.attempt},
        {"time", TimeValue(a.time)},
        {"latency_ms", a.latency_ms},
        {"status_code",
         a.status_code == 0 ? boost::json::value(nullptr) : boost::json::value(a.status_code)},
        {"error", a.error.empty() ? boost::json::value(nullptr) : boost::json::value(a.error)}};
    log.push_back(std::move(entry));
  }
  return object{{"id", d.id},
                {"event", d.event},
                {"url", DisplayUrl(d.url)},
                {"secret", d.secret},
                {"status", d.status},
                {"attempts", d.attempts},
                {"next_attempt_at", d.status == "pending" ? TimeValue(d.next_attempt_at)
                                                          : boost::json::value(nullptr)},
                {"created_at", TimeValue(d.created_at)},
                {"updated_at", TimeValue(d.updated_at)},
                {"attempt_log", std::move(log)}};
}

Status RequireRun(store::Tx& tx, const std::string& org_id, const std::string& run_id) {
  auto run = tx.GetRun(org_id, run_id);
  if (!run.ok()) return run.error();
  if (!run->has_value()) return MakeError(ErrorCode::kNotFound, "run not found");
  return Status::Ok();
}

}  // namespace

Result<server::Response> ListRunHooksHandler(store::Tx& tx, const std::string& org_id,
                                             const std::string& run_id,
                                             const server::Request& request) {
  if (Status s = RequireRun(tx, org_id, run_id); !s.ok()) return s.error();
  auto page = PageFromQuery(request);
  if (!page.ok()) return page.error();
  // A run's deliveries are few (its hooks times their events): read whole, in the store's
  // order (created_at, id), and paged here by that position, as GET /v1/orgs is.
  auto position = [](const store::HookDelivery& d) { return CreatedAtPosition(d.created_at, d.id); };
  auto deliveries = tx.ListHookDeliveriesOfRun(org_id, run_id);
  if (!deliveries.ok()) return deliveries.error();
  array items;
  std::string last, next;
  for (const store::HookDelivery& d : *deliveries) {
    if (!page->after.empty() && position(d) <= page->after) continue;
    if (items.size() == static_cast<size_t>(page->limit)) {
      next = last;  // there is more after this page's last delivery
      break;
    }
    auto attempts = tx.ListHookAttempts(org_id, d.id);
    if (!attempts.ok()) return attempts.error();
    items.push_back(DeliveryJson(d, *attempts));
    last = position(d);
  }
  return server::JsonResponse(200, ListBody(std::move(items), next));
}

Result<server::Response> RedeliverRunHooksHandler(
    store::Tx& tx, const std::string& org_id, const std::string& run_id,
    const boost::json::object& body, store::Millis now,
    const std::function<Status(std::string_view, std::string_view, boost::json::object)>& audit) {
  if (Status s = RequireRun(tx, org_id, run_id); !s.ok()) return s.error();
  auto delivery_id = OptionalString(body, "delivery_id", 128);
  if (!delivery_id.ok()) return delivery_id.error();
  std::vector<store::HookDelivery> chosen;
  if (delivery_id->has_value()) {
    auto d = tx.GetHookDelivery(org_id, **delivery_id);
    if (!d.ok()) return d.error();
    if (!d->has_value() || (*d)->run_id != run_id) {
      return MakeError(ErrorCode::kNotFound, "hook delivery not found");
    }
    if ((*d)->status == "pending") {
      return MakeError(ErrorCode::kConflict, "the delivery is already pending");
    }
    chosen.push_back(**d);
  } else {
    auto all = tx.ListHookDeliveriesOfRun(org_id, run_id);
    if (!all.ok()) return all.error();
    for (const store::HookDelivery& d : *all) {
      if (d.status == "failed" || d.status == "disabled") chosen.push_back(d);
    }
  }
  array ids;
  for (store::HookDelivery& d : chosen) {
    if (Status s = tx.SetHookEndpointDisabled(org_id, d.workflow_id, d.url, false, now); !s.ok()) {
      return s.error();
    }
    d.status = "pending";
    d.next_attempt_at = now;
    d.updated_at = now;
    if (Status s = tx.UpdateHookDelivery(d); !s.ok()) return s.error();
    if (Status s = audit("hook.redeliver", d.id, object{{"run_id", run_id}}); !s.ok()) {
      return s.error();
    }
    ids.push_back(boost::json::value(d.id));
  }
  return server::JsonResponse(202, object{{"redelivered", std::move(ids)}});
}

}  // namespace rampart::api::internal
