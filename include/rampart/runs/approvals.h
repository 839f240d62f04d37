// Decisions on approval steps (spec/workflow.md `approval`, spec/interfaces.md
// POST .../runs/{run_id}/approvals).
//
// A run waiting in awaiting_approval holds, in its stored record, the approval step it
// waits at (type approval, status awaiting_approval) with its approvers and the decisions
// so far (`approvals`). RecordApprovalDecision checks who decides and appends the
// decision there, inside the caller's write transaction; when the decision settles the
// step (a rejection, or `count` approvals) the run is committed back to `queued` in the
// same transaction, and the caller hands it to RunService::Resume once committed. The
// engine then replays the run up to the step and applies the decisions.
#pragma once

#include <string>
#include <string_view>

#include "rampart/core/result.h"
#include "rampart/store/store.h"

namespace rampart::runs {

inline constexpr size_t kMaxApprovalComment = 1000;  // bytes

// Who decides, as the API authenticated them.
struct Approver {
  std::string user_id;  // "usr_..."; empty (master key) never approves
  std::string email;    // matched against `approvers.users` as well as the id
  std::string role;     // the user's role in the run's org
};

struct ApprovalDecision {
  std::string step;     // the awaiting step's path
  bool approve = false;
  std::string comment;  // optional; at most kMaxApprovalComment bytes
};

struct ApprovalOutcome {
  std::string workflow_id;
  std::string step;
  int approvals = 0;   // approvals recorded, this one included
  int needed = 0;      // the step's count
  bool settled = false;  // the run went back to `queued` (call RunService::Resume)
};

// Errors: kNotFound (no such run in the org), kConflict (the run is not awaiting an
// approval, `step` is not the step it waits at, the approver already decided, or the
// approval timed out), kPermissionDenied (no user, the run's initiator, or not among the
// step's approvers by role or user), kInvalidArgument (comment too long).
// `tx` must be a write transaction.
Result<ApprovalOutcome> RecordApprovalDecision(store::Tx& tx, std::string_view org_id,
                                               std::string_view run_id, const Approver& approver,
                                               const ApprovalDecision& decision,
                                               store::Millis now);

// The user who started a run, when a user did: "user:<id>" is that user, "key:<id>" the
// key's creator; empty for webhooks, schedules, public and child runs.
Result<std::string> RunInitiator(store::Tx& tx, const store::Run& run);

}  // namespace rampart::runs
