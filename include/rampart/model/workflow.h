// The workflow definition model (spec/workflow.md): a validated, immutable Workflow
// with every expression compiled. Produced only by LoadDefinition, so holding a
// Workflow means holding a definition that passed every load-time check.
//
// Thread-safety: a loaded Workflow is immutable and shared between runs and threads.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/error.h"
#include "rampart/core/result.h"
#include "rampart/expr/expr.h"
#include "rampart/schema/schema.h"

namespace rampart::model {

// Hard limits of spec/workflow.md, checked at load.
inline constexpr size_t kMaxSteps = 10'000;
inline constexpr size_t kMaxNestingDepth = 10;
inline constexpr size_t kMaxForEachItems = 100;
inline constexpr int kMaxCallDepth = 10;
inline constexpr double kDefaultTimeoutS = 120;
inline constexpr double kMaxTimeoutS = 600;
inline constexpr size_t kMaxDefinitionBytes = 1 << 20;
// Step executions in one run (loops multiply steps): bounds CPU and the size of the run
// record even for nested loops that the run timeout alone would let run for minutes.
inline constexpr size_t kMaxStepExecutions = 100'000;

enum class StepType { kSet, kBranch, kForEach, kAction, kWorkflow, kApproval, kFail, kRespond };
std::string_view StepTypeName(StepType type);

// True for set, branch, for_each, fail and respond (see Workflow::side_effect_free).
bool StepTypeIsSideEffectFree(StepType type);

struct RetryPolicy {
  int max_attempts = 1;    // 1 = no retry; at most 10
  double backoff_s = 1.0;  // first delay; doubles each attempt (with jitter), capped at 60 s
};

struct Approvers {
  std::vector<std::string> roles;
  std::vector<std::string> users;
  int count = 1;
};

enum class OnTimeout { kFail, kSkip };

struct Step {
  std::string id;
  std::string name;
  StepType type = StepType::kSet;
  std::string pointer;  // JSON Pointer of the step in the definition

  // `if`: for a branch, the decision between then/else; for every other kind, a falsy
  // result skips the step.
  std::optional<expr::Expression> condition;

  expr::JsonTemplate values;        // set
  std::vector<Step> then_steps;     // branch
  std::vector<Step> else_steps;     // branch
  expr::JsonTemplate items;         // for_each (an expression string or a literal array)
  std::string as = "item";          // for_each
  std::vector<Step> do_steps;       // for_each
  std::string uses;                 // action
  std::string connector;            // action (optional)
  expr::JsonTemplate with;          // action, workflow
  RetryPolicy retry;                // action
  std::optional<double> timeout_s;  // action, approval
  std::string workflow;             // workflow
  Approvers approvers;              // approval
  OnTimeout on_timeout = OnTimeout::kFail;  // approval
  expr::Template message;           // fail
  int status = 200;                 // respond
  expr::JsonTemplate body;          // respond
};

// True when every step of `steps`, and of their nested lists, is side-effect free.
bool StepsAreSideEffectFree(const std::vector<Step>& steps);

enum class Visibility { kPrivate, kOrg, kPublic };
std::string_view VisibilityName(Visibility v);

struct Trigger {
  std::string type;          // "webhook" | "schedule"
  boost::json::value spec;   // the validated trigger object as written
};

struct Hook {
  std::string url;
  std::vector<std::string> events;
  std::string secret;  // name of the webhook_secret connector that signs deliveries
};

struct Workflow {
  std::string id;
  std::string name;
  std::string description;
  Visibility visibility = Visibility::kPrivate;
  boost::json::value inputs_schema;          // null when absent
  std::optional<schema::Validator> inputs;   // compiled inputs_schema
  std::vector<Trigger> triggers;
  std::vector<std::string> authorization_roles;
  std::vector<std::string> authorization_permissions;
  double timeout_s = kDefaultTimeoutS;
  std::vector<Step> steps;
  std::optional<expr::JsonTemplate> output;
  std::vector<Hook> hooks;
  size_t step_count = 0;    // every step of every nested list
  // True when every step (nested ones too) is set, branch, for_each, fail or respond: a
  // run of it touches nothing outside its own record (no action, no child workflow, no
  // approval), so the run service may execute it before committing anything.
  bool side_effect_free = false;
  boost::json::value source;  // the definition as parsed (YAML and JSON alike)
};

// True when `w` has a schedule trigger (the scheduler lists only such live versions).
bool HasScheduleTrigger(const Workflow& w);

// The top-level keys of `with` a built-in action accepts and the ones it requires: the
// top level of the action's ArgsSchema, so that a typo in `with` is rejected when the
// definition loads, like any unknown key (engine tests check the two agree). Null for an
// action not described here (its arguments are checked at run time only).
struct ActionArgKeys {
  std::vector<std::string_view> allowed;   // in the order of the action's schema
  std::vector<std::string_view> required;
};
const ActionArgKeys* BuiltinActionArgKeys(std::string_view uses);

// One problem with a definition. `path` is a JSON Pointer into the document.
struct DefinitionError {
  std::string path;
  ErrorCode code = ErrorCode::kInvalidDefinition;
  std::string message;
};

struct LoadResult {
  std::shared_ptr<const Workflow> workflow;  // null when errors is not empty
  std::vector<DefinitionError> errors;       // all of them, in document order
  std::vector<DefinitionError> warnings;     // security lint findings that do not reject
  bool ok() const { return workflow != nullptr; }
};

enum class Format { kAuto, kYaml, kJson };

// Parses and validates a definition. kAuto treats text starting with '{' as JSON.
// Never throws; any input yields either a Workflow or errors.
LoadResult LoadDefinition(std::string_view text, Format format = Format::kAuto);

// Validates an already-parsed document.
LoadResult LoadDefinitionValue(boost::json::value document);

// Converts YAML text into a JSON value (YAML 1.2 core schema for plain scalars; quoted
// scalars stay strings; `yes`/`no`/`on` stay strings). Duplicate keys, non-scalar keys,
// custom tags, more than one document, aliases expanding past `max_nodes`, and nesting
// deeper than `max_depth` are errors (kInvalidDefinition / kLimitExceeded).
Result<boost::json::value> YamlToJson(std::string_view text, size_t max_depth = 128,
                                      size_t max_nodes = 250'000);

}  // namespace rampart::model
