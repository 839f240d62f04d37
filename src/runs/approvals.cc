#include "rampart/runs/approvals.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>

#include "rampart/core/ascii.h"
#include "rampart/core/clock.h"
#include "rampart/core/json.h"

namespace rampart::runs {
namespace {

namespace bj = boost::json;

bool IsString(const bj::value* v, std::string_view s) {
  return v != nullptr && v->is_string() && v->get_string() == s;
}

bool Contains(const bj::value* list, std::string_view s, bool ignore_case) {
  if (list == nullptr || !list->is_array()) return false;
  for (const bj::value& v : list->get_array()) {
    if (!v.is_string()) continue;
    std::string_view item = v.get_string();
    if (ignore_case ? EqualsIgnoreCase(item, s) : item == s) return true;
  }
  return false;
}

// The step record the run waits at (type approval, status awaiting_approval).
bj::object* AwaitingStep(bj::object& record) {
  bj::value* steps = record.if_contains("steps");
  if (steps == nullptr || !steps->is_array()) return nullptr;
  for (bj::value& s : steps->get_array()) {
    bj::object* o = s.if_object();
    if (o != nullptr && IsString(o->if_contains("type"), "approval") &&
        IsString(o->if_contains("status"), "awaiting_approval")) {
      return o;
    }
  }
  return nullptr;
}

}  // namespace

Result<std::string> RunInitiator(store::Tx& tx, const store::Run& run) {
  const std::string_view actor = run.actor;
  const size_t colon = actor.find(':');
  if (colon == std::string_view::npos) return std::string();
  const std::string_view kind = actor.substr(0, colon);
  const std::string_view id = actor.substr(colon + 1);
  if (kind == "user" || kind == "jwt" || kind == "master") return std::string(id);
  if (kind == "key") {
    auto key = tx.GetApiKey(run.org_id, id);
    if (!key.ok()) return key.error();
    // A key that vanished still was somebody's: nobody may approve then.
    if (!key->has_value()) return std::string("(deleted key)");
    return (*key)->user_id;
  }
  return std::string();
}

Result<ApprovalOutcome> RecordApprovalDecision(store::Tx& tx, std::string_view org_id,
                                               std::string_view run_id, const Approver& approver,
                                               const ApprovalDecision& decision,
                                               store::Millis now) {
  if (decision.comment.size() > kMaxApprovalComment) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "comment is longer than " + std::to_string(kMaxApprovalComment) + " bytes");
  }
  auto stored = tx.GetRun(org_id, run_id);
  if (!stored.ok()) return stored.error();
  if (!stored->has_value()) return MakeError(ErrorCode::kNotFound, "run not found");
  store::Run run = std::move(**stored);
  if (run.status != "awaiting_approval") {
    return MakeError(ErrorCode::kConflict, "the run is not awaiting an approval (status " +
                                               run.status + ")");
  }
  auto parsed = json::Parse(run.record);
  if (!parsed.ok() || !parsed->is_object()) {
    return MakeError(ErrorCode::kInternal, "the stored run record does not parse");
  }
  bj::object& record = parsed->get_object();
  bj::object* step = AwaitingStep(record);
  if (step == nullptr) return MakeError(ErrorCode::kInternal, "the run waits at no approval step");
  if (!IsString(step->if_contains("path"), decision.step)) {
    return MakeError(ErrorCode::kConflict,
                     "step " + json::Excerpt(decision.step, 100) + " is not waiting for an approval");
  }
  if (run.wake_at > 0 && now >= run.wake_at) {
    return MakeError(ErrorCode::kConflict, "the approval timed out");
  }

  if (approver.user_id.empty()) {
    return MakeError(ErrorCode::kPermissionDenied, "only a user can decide an approval");
  }
  auto initiator = RunInitiator(tx, run);
  if (!initiator.ok()) return initiator.error();
  if (*initiator == approver.user_id) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "the user who started a run cannot decide its approvals");
  }
  const bj::value* input = step->if_contains("input");
  const bj::object* approvers = input != nullptr ? input->if_object() : nullptr;
  const bool by_role = approvers != nullptr && !approver.role.empty() &&
                       Contains(approvers->if_contains("roles"), approver.role, false);
  const bool by_user = approvers != nullptr &&
                       (Contains(approvers->if_contains("users"), approver.user_id, false) ||
                        (!approver.email.empty() &&
                         Contains(approvers->if_contains("users"), approver.email, true)));
  if (!by_role && !by_user) {
    return MakeError(ErrorCode::kPermissionDenied, "you are not an approver of this step");
  }
  int needed = 1;
  if (approvers != nullptr) {
    if (const bj::value* c = approvers->if_contains("count"); c != nullptr && c->is_int64()) {
      needed = static_cast<int>(c->get_int64());
    }
  }

  bj::value& list = (*step)["approvals"];
  if (!list.is_array()) list = bj::array();
  int approvals = 0;
  for (const bj::value& a : list.get_array()) {
    const bj::object* o = a.if_object();
    if (o == nullptr) continue;
    if (IsString(o->if_contains("user"), approver.user_id)) {
      return MakeError(ErrorCode::kConflict, "you already decided this approval");
    }
    approvals += IsString(o->if_contains("decision"), "approve") ? 1 : 0;
  }
  bj::object entry;
  entry["user"] = approver.user_id;
  entry["decision"] = decision.approve ? "approve" : "reject";
  entry["comment"] = decision.comment;
  entry["at"] = FormatRfc3339Millis(now);
  list.get_array().push_back(std::move(entry));
  if (decision.approve) ++approvals;

  ApprovalOutcome out;
  out.workflow_id = run.workflow_id;
  out.step = decision.step;
  out.approvals = approvals;
  out.needed = needed;
  out.settled = !decision.approve || approvals >= needed;
  if (out.settled) run.status = "queued";  // the run service resumes it
  run.record = json::Serialize(record);
  if (Status s = tx.UpdateRun(run); !s.ok()) return s.error();
  return out;
}

}  // namespace rampart::runs
