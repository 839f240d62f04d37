// The executor. One Execution object per run holds the run's state: the scope seen by
// expressions, the step records in execution order, the deadline. Steps are executed by
// a recursive walk over the immutable model; recursion depth is bounded by the load-time
// nesting limit (10) and the call depth limit (10).
#include "rampart/engine/engine.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <string>
#include <unordered_map>

#include "engine/run_arena.h"
#include "rampart/core/json.h"
#include "rampart/expr/expr.h"

namespace rampart::engine {
namespace {

namespace bj = boost::json;
using model::Step;
using model::StepType;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr std::string_view kRedacted = "***REDACTED***";

double MillisBetween(SteadyTime a, SteadyTime b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

bj::object ErrorJson(const Error& e, std::string_view step) {
  bj::object o;
  o["code"] = e.code_name();
  o["message"] = e.message;
  if (!step.empty()) o["step"] = step;
  return o;
}

// Variables of the enclosing for_each loops, innermost last.
struct LoopFrame {
  std::string_view as;
  const bj::value* item;
  bj::value index;
};

// The last output of a list of steps (a branch's output, one element of a for_each's)
// and its serialized size, already counted against the record budget.
struct Last {
  bj::value value = nullptr;
  size_t bytes = 4;  // "null"
};

// What a step record costs beyond its values: the keys, status, type and duration_ms
// (its path and id are counted by their length).
constexpr size_t kRecordOverhead = 96;

// Record index meaning "no record waits for this output".
constexpr size_t kNoRecord = static_cast<size_t>(-1);

// The names expressions see during one run.
//
// `steps.<id>` holds each step's output and status. An output is stored once, here, in the
// run record's arena: the step's record keeps a null placeholder and receives the value
// (a pointer move, same arena) when the run ends or when the step runs again in a loop.
class RunScope final : public expr::Scope {
 public:
  RunScope(const bj::value* inputs, const bj::value* trigger, const bj::value* run,
           bj::storage_ptr storage)
      : inputs_(inputs), trigger_(trigger), run_(run), steps_(bj::object(std::move(storage))) {}

  expr::ScopeEntry Lookup(std::string_view name) const override {
    for (auto it = loops_.rbegin(); it != loops_.rend(); ++it) {
      if (name == it->as) return {it->item, false};
      if (name == "index") return {&it->index, false};
    }
    if (name == "inputs") return {inputs_, false};
    if (name == "steps") return {&steps_, false};
    if (name == "trigger") return {trigger_, false};
    if (name == "run") return {run_, false};
    return {};
  }

  void Reserve(size_t steps) {
    steps_.get_object().reserve(steps);
    owners_.reserve(steps);
  }

  // Sets steps.<id> to {output, status}; `record` is the record that receives `output`
  // when it leaves the scope (kNoRecord: none). If the entry's previous output is still
  // owed to a record, `give(record, output)` gets it first.
  template <class Give>
  void SetStep(std::string_view id, bj::value&& output, std::string_view status, size_t record,
               Give give) {
    // An entry is always {output, status}, in that order: a new one is copied from this
    // prototype (cheaper than inserting its keys one by one), then filled by position.
    static const bj::value kEntry = {{"output", nullptr}, {"status", nullptr}};
    bj::object& steps = steps_.get_object();
    auto [it, inserted] = steps.emplace(id, kEntry);
    bj::object& entry = it->value().get_object();
    if (inserted) owners_.push_back(kNoRecord);
    size_t& owner = owners_[static_cast<size_t>(it - steps.begin())];
    if (owner != kNoRecord) give(owner, entry.begin()->value());
    entry.begin()->value() = std::move(output);
    (entry.begin() + 1)->value().emplace_string().assign(status);
    owner = record;
  }

  // Removes steps.<id>, if there: a step that did not run (yet) in this iteration of its
  // loop has no entry. An output still owed to a record is given to it first.
  template <class Give>
  void ClearStep(std::string_view id, Give give) {
    bj::object& steps = steps_.get_object();
    auto it = steps.find(id);
    if (it == steps.end()) return;
    const size_t i = static_cast<size_t>(it - steps.begin());
    if (owners_[i] != kNoRecord) give(owners_[i], it->value().get_object().begin()->value());
    // erase() moves the last entry into the gap: its owner follows it.
    steps.erase(it);
    owners_[i] = owners_.back();
    owners_.pop_back();
  }

  // Calls `give(record, output)` for every output still owed to a record, moving it out
  // of the scope. Only once no expression will read the scope again.
  template <class Give>
  void ReleaseOutputs(Give give) {
    bj::object& steps = steps_.get_object();
    for (size_t i = 0; i < owners_.size(); ++i) {
      if (owners_[i] == kNoRecord) continue;
      bj::object& entry = (steps.begin() + static_cast<std::ptrdiff_t>(i))->value().get_object();
      give(owners_[i], entry.begin()->value());
      owners_[i] = kNoRecord;
    }
  }

  std::vector<LoopFrame>& loops() { return loops_; }

 private:
  const bj::value* inputs_;
  const bj::value* trigger_;
  const bj::value* run_;
  // Step outputs seen by expressions, in the run record's arena (allocation is a pointer
  // bump, and outputs move to their records without a copy).
  bj::value steps_;
  // owners_[i]: the record waiting for the output of the i-th entry of steps_.
  std::vector<size_t> owners_;
  std::vector<LoopFrame> loops_;
};

// The run's view of the connectors: every secret it hands out is registered with the
// run's SecretSet first, so the value is scrubbed from whatever leaves the run.
class RecordingResolver final : public actions::ConnectorResolver {
 public:
  RecordingResolver(const actions::ConnectorResolver* inner, redact::SecretSet& secrets)
      : inner_(inner), secrets_(secrets) {}

  Result<actions::ConnectorSecrets> Resolve(std::string_view connector_id,
                                            std::string_view workflow,
                                            std::string_view step_path) const override {
    if (inner_ == nullptr) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "connector " + std::string(connector_id) + " is not available here");
    }
    auto resolved = inner_->Resolve(connector_id, workflow, step_path);
    if (resolved.ok()) {
      for (const auto& [field, value] : resolved->secrets) secrets_.Add(value);
    }
    return resolved;
  }

  // Credentials derived from connector secrets (oauth2 tokens) are secrets of the run too.
  void AddDerivedSecret(std::string_view value) const override { secrets_.Add(value); }

  Status ReplaceSecret(std::string_view connector_id, std::string_view field,
                       std::string_view value, std::span<const std::string> expected,
                       std::string_view step_path) const override {
    secrets_.Add(value);
    if (inner_ == nullptr) {
      return actions::ConnectorResolver::ReplaceSecret(connector_id, field, value, expected,
                                                       step_path);
    }
    return inner_->ReplaceSecret(connector_id, field, value, expected, step_path);
  }

  Result<net::EgressPolicy> OrgEgress(const net::EgressPolicy& server) const override {
    if (inner_ == nullptr) return server;
    return inner_->OrgEgress(server);
  }

 private:
  const actions::ConnectorResolver* inner_;
  redact::SecretSet& secrets_;
};

// Why a list of steps stopped early.
enum class Stop { kNone, kFailed, kAwaitingApproval };

class Execution {
 public:
  Execution(const Engine& engine, const model::Workflow& wf, const RunRequest& req,
            const bj::value* inputs, const bj::value* trigger, const bj::value* run_meta,
            SteadyTime deadline, bj::storage_ptr record_storage)
      : engine_(engine),
        env_(engine.env()),
        wf_(wf),
        req_(req),
        scope_(inputs, trigger, run_meta, record_storage),
        deadline_(deadline),
        run_id_(run_meta->at("id").get_string()),
        records_(std::move(record_storage)),
        secrets_(req.secrets != nullptr ? req.secrets : std::make_shared<redact::SecretSet>()),
        connectors_(env_.connectors, *secrets_),
        budget_(env_.max_run_record_bytes),
        used_(req.record_bytes != nullptr ? req.record_bytes : &own_used_) {
    if (env_.log != nullptr) log_.emplace(*env_.log, *secrets_);
    scope_.Reserve(wf.step_count);
    records_.reserve(wf.step_count);
    if (req.resume) {
      const bj::value* steps = req.resume->record.if_contains("steps");
      if (steps != nullptr && steps->is_array()) {
        for (const bj::value& s : steps->get_array()) {
          const bj::object* o = s.if_object();
          const bj::value* p = o != nullptr ? o->if_contains("path") : nullptr;
          if (p != nullptr && p->is_string()) previous_.emplace(p->get_string(), o);
        }
      }
    }
  }

  Stop RunList(const std::vector<Step>& steps, std::string_view prefix, Last* last_output) {
    for (const Step& step : steps) {
      Stop s = RunStep(step, prefix, last_output);
      if (s != Stop::kNone) return s;
    }
    return Stop::kNone;
  }

  // The step records, complete. Call once, when no expression will read the scope again.
  bj::array& FinishRecords() {
    scope_.ReleaseOutputs([this](size_t record, bj::value& output) { GiveOutput(record, output); });
    return records_;
  }
  const std::optional<Error>& error() const { return error_; }
  const std::string& error_step() const { return error_step_; }
  bool yielded() const { return yielded_; }
  std::optional<Response>& response() { return response_; }
  std::vector<RunResult>& children() { return children_; }
  std::optional<Awaiting>& awaiting() { return awaiting_; }
  RunScope& scope() { return scope_; }
  const std::shared_ptr<redact::SecretSet>& secrets() const { return secrets_; }

  size_t record_bytes() const { return *used_; }

  // Counts `v` against the record budget; false (nothing counted) when it does not fit.
  // `bytes` receives its serialized size when it fits.
  bool Charge(const bj::value& v, size_t* bytes = nullptr) {
    const size_t left = budget_ - std::min(budget_, *used_);
    const size_t n = json::SerializedSizeBoundAtMost(v, left);
    if (n > left) return false;
    *used_ += n;
    if (bytes != nullptr) *bytes = n;
    return true;
  }

  // Counts `n` bytes already measured; false (nothing counted) when they do not fit.
  bool ChargeBytes(size_t n) {
    if (n > budget_ - std::min(budget_, *used_)) return false;
    *used_ += n;
    return true;
  }

  // The error of a value that would not fit. It names what, never the value.
  Error BudgetError(std::string_view what) const {
    return MakeError(ErrorCode::kLimitExceeded,
                     std::string(what) + " would take the run record past its limit of " +
                         std::to_string(budget_) + " bytes (max_run_record_bytes)");
  }

  void FailRun(Error e, std::string step_path) {
    if (!error_) {
      error_ = std::move(e);
      error_step_ = std::move(step_path);
    }
  }

 private:
  // Checks run-wide stop conditions before a step starts.
  std::optional<Error> PreflightError() const {
    if (executed_steps_ > model::kMaxStepExecutions) {
      return MakeError(ErrorCode::kLimitExceeded,
                       "run executed more than " + std::to_string(model::kMaxStepExecutions) +
                           " steps");
    }
    if (req_.cancel && req_.cancel->load(std::memory_order_relaxed)) {
      return MakeError(ErrorCode::kCancelled, "run was cancelled");
    }
    if (*used_ > budget_) return BudgetError("the step records");
    const SteadyTime now = env_.clock->Monotonic();
    if (now >= deadline_) {
      return MakeError(ErrorCode::kTimeout,
                       "run exceeded its timeout of " + FormatSeconds(wf_.timeout_s) + " s");
    }
    if (req_.yield_at && now >= *req_.yield_at && (!req_.yield_confirm || req_.yield_confirm())) {
      yielded_ = true;
      return MakeError(ErrorCode::kCancelled, "run handed over to a worker");
    }
    return std::nullopt;
  }

  static std::string FormatSeconds(double s) { return json::Serialize(bj::value(s)); }

  // Redacts a tainted value: a value derived from a secret never enters a record.
  static bj::value Clean(expr::Value&& v) {
    if (v.tainted) return bj::string(kRedacted);
    return std::move(v.json);
  }

  // Makes a step's output visible as steps.<id>.output. The record at `index` must hold
  // an "output" placeholder: it receives the value when the value leaves the scope.
  // `bytes` is the output's serialized size, already counted.
  void PublishOutput(const Step& step, size_t index, bj::value&& out, size_t bytes,
                     std::string_view status, Last* last_output) {
    if (last_output) {
      last_output->value = out;
      last_output->bytes = bytes;
    }
    scope_.SetStep(step.id, std::move(out), status, index,
                   [this](size_t record, bj::value& output) { GiveOutput(record, output); });
  }

  // A skipped step has no output: when it is the last of its list, the list's output
  // (an element of a for_each's, a branch's) is null, not an earlier step's.
  static void SkippedOutput(Last* last_output) {
    if (last_output != nullptr) *last_output = Last{};
  }

  // steps.<id> = {output: null, status}.
  void PublishNoOutput(const Step& step, std::string_view status) {
    scope_.SetStep(step.id, nullptr, status, kNoRecord,
                   [this](size_t record, bj::value& output) { GiveOutput(record, output); });
  }

  void GiveOutput(size_t record, bj::value& output) {
    records_[record].get_object().find("output")->value() = std::move(output);
  }

  // Appends the record of a starting step: {path, id, type}; the rest follows as the step
  // runs. Returns its index.
  size_t NewRecord(const Step& step, std::string_view prefix) {
    const size_t index = records_.size();
    *used_ += kRecordOverhead + prefix.size() + 2 * step.id.size();
    bj::object& rec = records_.emplace_back(nullptr).emplace_object();
    rec.reserve(8);  // path, id, type, decision, input, output, status, duration_ms
    SetPath(rec.emplace("path", nullptr).first->value(), step, prefix);
    rec.emplace("id", step.id);
    rec.emplace("type", model::StepTypeName(step.type));
    return index;
  }

  // Appends the whole record of a `set` step without `if` that succeeded, copied from a
  // prototype with the same keys in the same order (cheaper than inserting key by key).
  // Its output is a placeholder (see PublishOutput). Returns its index.
  size_t NewSetRecord(const Step& step, std::string_view prefix, SteadyTime start) {
    static const bj::value kPrototype = {{"path", nullptr},       {"id", nullptr},
                                         {"type", "set"},         {"output", nullptr},
                                         {"status", "succeeded"}, {"duration_ms", nullptr}};
    const size_t index = records_.size();
    *used_ += kRecordOverhead + prefix.size() + 2 * step.id.size();
    records_.push_back(kPrototype);
    auto it = records_.back().get_object().begin();
    SetPath(it[0].value(), step, prefix);
    it[1].value().emplace_string().assign(step.id);
    it[5].value() = MillisBetween(start, env_.clock->Monotonic());
    return index;
  }

  static void SetPath(bj::value& slot, const Step& step, std::string_view prefix) {
    bj::string& path = slot.emplace_string();
    if (prefix.empty()) {
      path.assign(step.id);
      return;
    }
    path.reserve(prefix.size() + step.id.size());
    path.append(prefix);
    path.append(step.id);
  }

  Stop RunStep(const Step& step, std::string_view prefix, Last* last_output) {
    const SteadyTime start = env_.clock->Monotonic();
    // A `set` step without `if` gets its record when it ends (NewSetRecord), the others
    // now; either way the record's place is the step's start in execution order.
    size_t index =
        step.type == StepType::kSet && !step.condition ? kNoRecord : NewRecord(step, prefix);
    auto rec = [&]() -> bj::object& {
      if (index == kNoRecord) index = NewRecord(step, prefix);
      return records_[index].get_object();
    };
    auto path = [&] { return std::string(prefix) + step.id; };
    // Every step sets status and duration_ms once, last (compound steps add their output
    // after them).
    auto finish = [&](std::string_view status) {
      bj::object& r = rec();
      r.emplace("status", status);
      r.emplace("duration_ms", MillisBetween(start, env_.clock->Monotonic()));
    };
    auto fail_step = [&](Error e) {
      rec()["error"] = ErrorJson(e, "");
      finish("failed");
      PublishNoOutput(step, "failed");
      FailRun(std::move(e), path());
      return Stop::kFailed;
    };

    ++executed_steps_;
    if (auto e = PreflightError()) return fail_step(std::move(*e));

    // Decision: `if` skips a step, or picks a branch.
    bool decision = true;
    if (step.condition) {
      expr::Trace trace;
      auto r = step.condition->Evaluate(scope_, &trace);
      if (!r.ok()) return fail_step(r.error());
      decision = expr::Truthy(r->json);
      bj::object d;
      d["expression"] = step.condition->source();
      d["result"] = decision;
      bj::value values(std::move(trace.values));
      if (!Charge(values)) {
        rec()["decision"] = std::move(d);
        return fail_step(BudgetError("the step's decision values"));
      }
      d["values"] = std::move(values);
      rec()["decision"] = std::move(d);
      if (!decision && step.type != StepType::kBranch) {
        finish("skipped");
        SkippedOutput(last_output);
        return Stop::kNone;
      }
    }

    switch (step.type) {
      case StepType::kSet: {
        size_t bytes = 0;
        auto r = step.values.Evaluate(scope_, &bytes, records_.storage());
        if (!r.ok()) return fail_step(r.error());
        if (r->tainted) bytes = kRedacted.size() + 2;
        bj::value out = Clean(std::move(r).value());
        if (!ChargeBytes(bytes)) return fail_step(BudgetError("the step's output"));
        if (index == kNoRecord) {
          index = NewSetRecord(step, prefix, start);
        } else {
          rec().emplace("output", nullptr);
          finish("succeeded");
        }
        PublishOutput(step, index, std::move(out), bytes, "succeeded", last_output);
        return Stop::kNone;
      }
      case StepType::kBranch: {
        rec()["branch"] = decision ? "then" : "else";
        Last out;
        Stop s = RunList(decision ? step.then_steps : step.else_steps, prefix, &out);
        return FinishCompound(step, index, start, s, std::move(out), path(), last_output);
      }
      case StepType::kForEach:
        return RunForEach(step, path(), index, start, last_output);
      case StepType::kAction:
        if (auto s = Replay(step, path(), index, last_output)) return *s;
        return RunAction(step, path(), index, start, last_output);
      case StepType::kWorkflow:
        if (auto s = Replay(step, path(), index, last_output)) return *s;
        return RunChild(step, path(), index, start, last_output);
      case StepType::kApproval:
        if (auto s = Replay(step, path(), index, last_output)) return *s;
        return RunApproval(step, path(), index, start, last_output);
      case StepType::kFail: {
        auto r = step.message.Evaluate(scope_);
        if (!r.ok()) return fail_step(r.error());
        bj::value msg = Clean(std::move(r).value());
        std::string text = msg.is_string() ? std::string(msg.get_string()) : expr::RenderText(msg);
        // The message is kept twice: in the step's error and in the run's.
        if (!ChargeBytes(2 * (text.size() + 2))) return fail_step(BudgetError("the step's message"));
        return fail_step(MakeError(ErrorCode::kStepFailed, std::move(text)));
      }
      case StepType::kRespond: {
        size_t bytes = 0;
        auto r = step.body.Evaluate(scope_, &bytes);
        if (!r.ok()) return fail_step(r.error());
        if (r->tainted) bytes = kRedacted.size() + 2;
        bytes += 22;  // {"status":NNN,"body":...}
        if (!ChargeBytes(bytes)) return fail_step(BudgetError("the step's output"));
        bj::value out = bj::object();
        out.get_object()["status"] = step.status;
        out.get_object()["body"] = Clean(std::move(r).value());
        if (!response_) response_ = Response{step.status, out.get_object()["body"]};
        rec().emplace("output", nullptr);
        finish("succeeded");
        PublishOutput(step, index, std::move(out), bytes, "succeeded", last_output);
        return Stop::kNone;
      }
    }
    return fail_step(MakeError(ErrorCode::kInternal, "unknown step type"));
  }

  // Completes the record of a step that contains other steps (branch, for_each).
  // `out.bytes` is the size of `out.value`, not yet counted (its parts were, as the
  // outputs of the steps inside: the copy here counts again).
  Stop FinishCompound(const Step& step, size_t index, SteadyTime start, Stop inner, Last out,
                      std::string path, Last* last_output) {
    bj::object& r = records_[index].get_object();
    if (inner == Stop::kNone && !ChargeBytes(out.bytes)) {
      Error e = BudgetError("the step's output");
      r.emplace("error", ErrorJson(e, ""));
      r.emplace("status", "failed");
      r.emplace("duration_ms", MillisBetween(start, env_.clock->Monotonic()));
      PublishNoOutput(step, "failed");
      FailRun(std::move(e), std::move(path));
      return Stop::kFailed;
    }
    std::string_view status = inner == Stop::kNone              ? "succeeded"
                              : inner == Stop::kAwaitingApproval ? "awaiting_approval"
                                                                 : "failed";
    r.emplace("status", status);
    r.emplace("duration_ms", MillisBetween(start, env_.clock->Monotonic()));
    if (inner == Stop::kNone) {
      r.emplace("output", nullptr);
      PublishOutput(step, index, std::move(out.value), out.bytes, status, last_output);
    } else {
      PublishNoOutput(step, status);
    }
    return inner;
  }

  Stop RunForEach(const Step& step, const std::string& path, size_t index, SteadyTime start,
                  Last* last_output) {
    auto fail = [&](Error e) {
      bj::object& r = records_[index].get_object();
      r["error"] = ErrorJson(e, "");
      r["status"] = "failed";
      r["duration_ms"] = MillisBetween(start, env_.clock->Monotonic());
      PublishNoOutput(step, "failed");
      FailRun(std::move(e), path);
      return Stop::kFailed;
    };
    auto items = step.items.Evaluate(scope_);
    if (!items.ok()) return fail(items.error());
    if (items->tainted) {
      return fail(MakeError(ErrorCode::kSecretExposure, "for_each items derive from a secret"));
    }
    if (!items->json.is_array()) {
      return fail(MakeError(ErrorCode::kTypeError, "for_each items must be a list, got " +
                                                       std::string(json::TypeName(items->json))));
    }
    const bj::array& list = items->json.get_array();
    records_[index].get_object()["iterations"] = list.size();
    if (list.size() > model::kMaxForEachItems) {
      return fail(MakeError(ErrorCode::kLimitExceeded,
                            "for_each has " + std::to_string(list.size()) +
                                " items; the limit is " + std::to_string(model::kMaxForEachItems)));
    }
    Last outputs;
    bj::array& values = outputs.value.emplace_array();
    values.reserve(list.size());
    outputs.bytes = list.empty() ? 2 : 1 + list.size();  // brackets and commas
    Stop s = Stop::kNone;
    for (size_t i = 0; i < list.size() && s == Stop::kNone; ++i) {
      // Each iteration starts without the steps.<id> of the previous one (or of an
      // enclosing loop's previous iteration): a step that does not run in this iteration
      // (skipped, or in the branch not taken) must not show an older iteration's output.
      ClearIteration(step.do_steps);
      scope_.loops().push_back({step.as, &list[i], bj::value(static_cast<int64_t>(i))});
      Last last;
      s = RunList(step.do_steps, path + "[" + std::to_string(i) + "].", &last);
      scope_.loops().pop_back();
      values.push_back(std::move(last.value));
      outputs.bytes += last.bytes;
    }
    return FinishCompound(step, index, start, s, std::move(outputs), path, last_output);
  }

  void ClearIteration(const std::vector<Step>& steps) {
    for (const Step& s : steps) {
      scope_.ClearStep(s.id, [this](size_t record, bj::value& output) { GiveOutput(record, output); });
      ClearIteration(s.then_steps);
      ClearIteration(s.else_steps);
      ClearIteration(s.do_steps);
    }
  }

  Stop RunAction(const Step& step, const std::string& path, size_t index, SteadyTime start,
                 Last* last_output) {
    auto finish = [&](std::string_view status) {
      bj::object& r = records_[index].get_object();
      r["status"] = status;
      r["duration_ms"] = MillisBetween(start, env_.clock->Monotonic());
    };
    auto fail = [&](Error e, int attempts) {
      bj::object& r = records_[index].get_object();
      if (attempts > 0) r["attempts"] = attempts;
      r["output"] = nullptr;
      r["error"] = ErrorJson(e, "");
      finish("failed");
      PublishNoOutput(step, "failed");
      FailRun(std::move(e), path);
      return Stop::kFailed;
    };
    size_t with_bytes = 0;
    auto args = step.with.Evaluate(scope_, &with_bytes);
    if (!args.ok()) return fail(args.error(), 0);
    bool tainted = args->tainted;
    bj::value with = std::move(args->json);
    if (with.is_null()) with = bj::object();
    // The run's secrets scrubbed from what goes into and comes out of the action, with
    // the run's policy (block: an error, and the attempt reported).
    auto scrub = [&](bj::value& v, std::string_view subject) {
      Status clean = redact::ScrubJsonInPlace(v, *secrets_, req_.redaction, nullptr, subject);
      if (!clean.ok() && env_.security != nullptr) {
        env_.security->SecretExposureAttempt(run_id_, wf_.id, path);
      }
      return clean;
    };
    if (!secrets_->empty()) {
      // A secret must not leave through an action's input either: pieces an upstream
      // reflected, joined again by an expression, would otherwise be stored by db.query
      // (where a later run without the connector reads them unredacted) or sent by
      // http.request/webhook.send.
      if (Status clean = scrub(with, "the step's input"); !clean.ok()) return fail(clean.error(), 0);
    }
    if (tainted) {
      records_[index].get_object()["input"] = kRedacted;
    } else {
      if (!ChargeBytes(with_bytes)) return fail(BudgetError("the step's input"), 0);
      records_[index].get_object()["input"] = with;
    }

    const actions::Action* action = env_.actions ? env_.actions->Find(step.uses) : nullptr;
    if (!action) {
      return fail(MakeError(ErrorCode::kUnknownAction,
                            "action " + step.uses + " is not available in this build"),
                  0);
    }
    std::vector<schema::ValidationError> problems;
    if (!action->ArgsSchema().Validate(with, &problems)) {
      std::string msg = "invalid arguments for " + step.uses;
      if (!problems.empty()) {
        msg += ": " + (problems[0].instance_path.empty() ? std::string("with")
                                                          : "with" + problems[0].instance_path) +
               ": " + problems[0].message;
      }
      return fail(MakeError(ErrorCode::kInvalidArgument, std::move(msg)), 0);
    }

    SteadyTime step_deadline = deadline_;
    if (step.timeout_s) {
      auto t = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                           std::chrono::duration<double>(*step.timeout_s));
      step_deadline = std::min(step_deadline, t);
    }
    const int max_attempts = std::max(1, step.retry.max_attempts);
    int attempt = 0;
    while (true) {
      ++attempt;
      actions::Context ctx{with,          wf_.id,        run_id_,
                           path,          step.connector, step_deadline,
                           *env_.clock,   log_ ? &*log_ : nullptr, &connectors_,
                           env_.org};
      Result<bj::value> r = action->Execute(ctx);
      if (r.ok() && !secrets_->empty()) {
        // A secret the action was given must not come back out in its output (an
        // upstream echoing a token, an action putting it in a URL).
        if (Status clean = scrub(r.value(), "a step output"); !clean.ok()) {
          return fail(clean.error(), attempt);
        }
      }
      if (r.ok()) {
        size_t bytes = 0;
        if (!Charge(r.value(), &bytes)) return fail(BudgetError("the step's output"), attempt);
        bj::object& rec = records_[index].get_object();
        rec["attempts"] = attempt;
        rec["output"] = nullptr;
        finish("succeeded");
        PublishOutput(step, index, std::move(r).value(), bytes, "succeeded", last_output);
        return Stop::kNone;
      }
      Error e = r.error();
      if (attempt >= max_attempts || !action->Retryable(e)) return fail(std::move(e), attempt);
      // Exponential backoff with jitter in [50%, 100%], capped at 60 s.
      double base = std::min(60.0, step.retry.backoff_s * std::pow(2.0, attempt - 1));
      double jitter = 0.5 + 0.5 * static_cast<double>(env_.random->NextU64() >> 11) * 0x1.0p-53;
      auto delay = std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::duration<double>(base * jitter));
      if (env_.clock->Monotonic() + delay >= step_deadline) {
        return fail(MakeError(ErrorCode::kTimeout, "no time left to retry after: " + e.message),
                    attempt);
      }
      env_.clock->SleepFor(delay);
      if (auto stop = PreflightError()) return fail(std::move(*stop), attempt);
    }
  }

  // The step's record from before the run waited for an approval (null: none).
  const bj::object* Previous(std::string_view path) const {
    auto it = previous_.find(path);
    return it == previous_.end() ? nullptr : it->second;
  }

  // A step with side effects that succeeded before the run waited for an approval is not
  // executed again: its record (and output) is copied from the previous execution, in
  // the same key order. True when it did.
  std::optional<Stop> Replay(const Step& step, const std::string& path, size_t index,
                            Last* last_output) {
    const bj::object* prev = Previous(path);
    if (prev == nullptr) return std::nullopt;
    const bj::value* status = prev->if_contains("status");
    const bj::value* type = prev->if_contains("type");
    if (status == nullptr || *status != "succeeded" || type == nullptr ||
        !type->is_string() || type->get_string() != model::StepTypeName(step.type)) {
      return std::nullopt;
    }
    // The copied values count like the ones of a first execution; a record that no longer
    // fits (the budget was lowered meanwhile) fails the step rather than running it again.
    size_t bytes = 4;
    for (const auto& kv : *prev) {
      const std::string_view key = kv.key();
      if (key == "path" || key == "id" || key == "type" || key == "decision") continue;
      size_t n = 0;
      if (!Charge(kv.value(), &n)) {
        Error e = BudgetError("the step's recorded result");
        bj::object& r = records_[index].get_object();
        r["output"] = nullptr;
        r["error"] = ErrorJson(e, "");
        r["status"] = "failed";
        r["duration_ms"] = 0.0;
        PublishNoOutput(step, "failed");
        FailRun(std::move(e), path);
        return Stop::kFailed;
      }
      if (key == "output") bytes = n;
    }
    bj::object& r = records_[index].get_object();
    bj::value output = nullptr;
    for (const auto& kv : *prev) {
      const std::string_view key = kv.key();
      if (key == "path" || key == "id" || key == "type" || key == "decision") continue;
      if (key == "output") {
        output = kv.value();
        r["output"] = nullptr;  // placeholder: PublishOutput hands the value back here
        continue;
      }
      r[key] = kv.value();
    }
    if (!r.contains("output")) r["output"] = nullptr;
    PublishOutput(step, index, std::move(output), bytes, "succeeded", last_output);
    return Stop::kNone;
  }

  // An approval step: granted once `count` distinct approvers approved, failed as soon as
  // one rejects, and on timeout failed or skipped (on_timeout). Otherwise the run stops
  // here in awaiting_approval. The decisions come from the step's previous record
  // (written by the approvals API while the run waited).
  Stop RunApproval(const Step& step, const std::string& path, size_t index, SteadyTime start,
                   Last* last_output) {
    const bj::object* prev = Previous(path);
    bj::object& r = records_[index].get_object();
    if (prev != nullptr && prev->if_contains("status") != nullptr &&
        prev->at("status") == "skipped") {
      // Timed out earlier with on_timeout: skip; the run waited for a later approval.
      for (const auto& kv : *prev) {
        if (kv.key() != "path" && kv.key() != "id" && kv.key() != "type" && kv.key() != "decision") {
          r[kv.key()] = kv.value();
        }
      }
      SkippedOutput(last_output);
      return Stop::kNone;
    }
    bj::object approvers;
    approvers["roles"] = bj::value_from(step.approvers.roles);
    approvers["users"] = bj::value_from(step.approvers.users);
    approvers["count"] = step.approvers.count;
    r["input"] = std::move(approvers);
    const auto now = env_.clock->Now();
    auto copy_or = [&](std::string_view key, bj::value fallback) {
      const bj::value* v = prev != nullptr ? prev->if_contains(key) : nullptr;
      r[key] = v != nullptr ? *v : std::move(fallback);
    };
    int64_t timeout_at_ms = 0;
    if (prev != nullptr) {
      timeout_at_ms = req_.resume ? req_.resume->approval_timeout_at_ms : 0;
    } else if (step.timeout_s) {
      timeout_at_ms = UnixMillis(now) + static_cast<int64_t>(std::llround(*step.timeout_s * 1000));
    }
    copy_or("waiting_since", bj::value(FormatRfc3339(now)));
    if (step.timeout_s) {
      copy_or("timeout_at",
              bj::value(FormatRfc3339(std::chrono::system_clock::time_point(
                  std::chrono::milliseconds(timeout_at_ms)))));
    }
    copy_or("approvals", bj::array());
    if (!r["approvals"].is_array()) r["approvals"] = bj::array();

    bj::array granted;
    const bj::object* rejected = nullptr;
    for (const bj::value& a : r["approvals"].get_array()) {
      const bj::object* o = a.if_object();
      const bj::value* d = o != nullptr ? o->if_contains("decision") : nullptr;
      if (d == nullptr) continue;
      if (*d == "reject" && rejected == nullptr) rejected = o;
      if (*d == "approve") granted.push_back(a);
    }
    auto finish = [&](std::string_view status) {
      r["status"] = status;
      r["duration_ms"] = MillisBetween(start, env_.clock->Monotonic());
    };
    auto fail = [&](Error e) {
      r["error"] = ErrorJson(e, "");
      finish("failed");
      PublishNoOutput(step, "failed");
      FailRun(std::move(e), path);
      return Stop::kFailed;
    };
    if (rejected != nullptr) {
      const bj::value* who = rejected->if_contains("user");
      return fail(MakeError(ErrorCode::kApprovalRejected,
                            "approval rejected by " +
                                (who != nullptr && who->is_string() ? std::string(who->get_string())
                                                                    : std::string("an approver"))));
    }
    if (static_cast<int>(granted.size()) >= step.approvers.count) {
      bj::object out;
      out["approved"] = true;
      out["approvals"] = std::move(granted);
      r["output"] = nullptr;
      finish("succeeded");
      bj::value output(std::move(out));
      size_t bytes = 0;
      if (!Charge(output, &bytes)) return fail(BudgetError("the step's output"));
      PublishOutput(step, index, std::move(output), bytes, "succeeded", last_output);
      return Stop::kNone;
    }
    if (prev != nullptr && timeout_at_ms > 0 && UnixMillis(now) >= timeout_at_ms) {
      r["timed_out"] = true;
      if (step.on_timeout == model::OnTimeout::kSkip) {
        finish("skipped");
        SkippedOutput(last_output);
        return Stop::kNone;
      }
      return fail(MakeError(ErrorCode::kTimeout, "approval was not given within " +
                                                     FormatSeconds(*step.timeout_s) + " s"));
    }
    if (req_.call_depth > 1) {
      // Only a top-level run can wait: a child run stopping here would outlive its parent,
      // which fails on it, as a run still open for approvals (by anyone, its actor being
      // the parent run) that would then run its remaining steps for nobody.
      return fail(MakeError(ErrorCode::kStepFailed,
                            "a child run cannot wait for an approval, which nested runs do "
                            "not support"));
    }
    finish("awaiting_approval");
    awaiting_ = Awaiting{path, timeout_at_ms};
    return Stop::kAwaitingApproval;
  }

  Stop RunChild(const Step& step, const std::string& path, size_t index, SteadyTime start,
                Last* last_output) {
    auto fail = [&](Error e) {
      bj::object& r = records_[index].get_object();
      r["output"] = nullptr;
      r["error"] = ErrorJson(e, "");
      r["status"] = "failed";
      r["duration_ms"] = MillisBetween(start, env_.clock->Monotonic());
      PublishNoOutput(step, "failed");
      FailRun(std::move(e), path);
      return Stop::kFailed;
    };
    size_t input_bytes = 0;
    auto args = step.with.Evaluate(scope_, &input_bytes);
    if (!args.ok()) return fail(args.error());
    bj::value input = std::move(args->json);
    if (input.is_null()) input = bj::object();
    if (args->tainted) {
      records_[index].get_object()["input"] = kRedacted;
    } else {
      if (!ChargeBytes(input_bytes)) return fail(BudgetError("the step's input"));
      records_[index].get_object()["input"] = input;
    }
    if (req_.call_depth + 1 > model::kMaxCallDepth) {
      return fail(MakeError(ErrorCode::kLimitExceeded,
                            "workflow call depth would exceed " +
                                std::to_string(model::kMaxCallDepth)));
    }
    if (!env_.workflows) {
      return fail(MakeError(ErrorCode::kNotFound, "workflow " + step.workflow + " not found"));
    }
    auto child = env_.workflows->Find(step.workflow);
    if (!child.ok()) return fail(child.error());
    if (Status begun = env_.workflows->BeginChildRun(); !begun.ok()) return fail(begun.error());

    RunRequest child_req;
    child_req.input = std::move(input);
    bj::object trig;
    trig["type"] = "workflow";
    trig["parent_run_id"] = run_id_;
    trig["parent_step"] = path;
    child_req.trigger = std::move(trig);
    child_req.call_depth = req_.call_depth + 1;
    child_req.cancel = req_.cancel;
    child_req.deadline = deadline_;
    child_req.secrets = secrets_;
    child_req.redaction = req_.redaction;
    child_req.record_bytes = used_;  // the child's record is part of this run tree's
    RunResult result = engine_.Run(**child, std::move(child_req));
    bj::object& r = records_[index].get_object();
    r["child_run_id"] = result.record["run_id"];
    bj::value output = result.succeeded() ? result.record["output"] : bj::value();
    if (!result.succeeded()) {
      Error e = result.error.value_or(MakeError(ErrorCode::kInternal, "child run failed"));
      // A child run never waits (RunApproval fails it there); should one ever, the
      // parent still fails rather than carry on without its output.
      if (result.status == "awaiting_approval") {
        e = MakeError(ErrorCode::kStepFailed,
                      "child workflow is waiting for an approval, which nested runs do not support");
      }
      // Name the workflow where the failure happened once, not at every level above it.
      bool from_grandchild = !result.children.empty() && !result.children.back().succeeded();
      if (!from_grandchild) e.message = "workflow " + step.workflow + ": " + e.message;
      children_.push_back(std::move(result));
      return fail(std::move(e));
    }
    children_.push_back(std::move(result));
    size_t bytes = 0;
    if (!Charge(output, &bytes)) return fail(BudgetError("the step's output"));
    r["output"] = nullptr;
    r["status"] = "succeeded";
    r["duration_ms"] = MillisBetween(start, env_.clock->Monotonic());
    PublishOutput(step, index, std::move(output), bytes, "succeeded", last_output);
    return Stop::kNone;
  }

  const Engine& engine_;
  const Env& env_;
  const model::Workflow& wf_;
  const RunRequest& req_;
  RunScope scope_;
  SteadyTime deadline_;
  std::string run_id_;
  bj::array records_;
  size_t executed_steps_ = 0;
  mutable bool yielded_ = false;  // set by PreflightError at RunRequest::yield_at
  std::optional<Error> error_;
  std::string error_step_;
  std::optional<Response> response_;
  std::vector<RunResult> children_;
  std::optional<Awaiting> awaiting_;
  // Step records of the execution before an approval wait, by path (views into
  // req_.resume->record).
  std::unordered_map<std::string_view, const bj::object*> previous_;
  std::shared_ptr<redact::SecretSet> secrets_;
  RecordingResolver connectors_;
  std::optional<redact::RedactingLogSink> log_;
  // The record budget: bytes counted so far by the whole run tree (*used_; this run's own
  // counter unless the parent shares its own).
  size_t budget_;
  size_t own_used_ = 0;
  size_t* used_;
};

}  // namespace

std::string NewRunId(Random& random, std::chrono::system_clock::time_point now) {
  // Base32 with its digits first, so that the characters sort like the bits they carry:
  // ids compare (as strings) in the order of their 48-bit millisecond prefix.
  static constexpr char kAlphabet[] = "234567abcdefghijklmnopqrstuvwxyz";
  uint8_t bytes[16];
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const uint64_t stamp = static_cast<uint64_t>(std::max<int64_t>(ms.count(), 0));
  for (int i = 0; i < 6; ++i) bytes[i] = static_cast<uint8_t>(stamp >> (8 * (5 - i)));
  random.Fill(bytes + 6, sizeof bytes - 6);
  std::string id = "run_";
  id.reserve(4 + 26);
  uint32_t buffer = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      id += kAlphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) id += kAlphabet[(buffer << (5 - bits)) & 31];
  return id;
}

Engine::Engine(Env env) : env_(env) {}

std::vector<schema::ValidationError> Engine::ValidateInput(const model::Workflow& workflow,
                                                           const bj::value& input) const {
  std::vector<schema::ValidationError> errors;
  if (workflow.inputs) workflow.inputs->Validate(input, &errors);
  return errors;
}

RunResult Engine::Run(const model::Workflow& wf, RunRequest req) const {
  // A resumed run keeps the start time of its first execution (expressions can read it).
  std::string started_at = FormatRfc3339(env_.clock->Now());
  double previous_duration_ms = 0;
  if (req.resume) {
    if (const bj::value* s = req.resume->record.if_contains("started_at"); s && s->is_string()) {
      started_at = std::string(s->get_string());
    }
    if (const bj::value* d = req.resume->record.if_contains("duration_ms"); d && d->is_number()) {
      previous_duration_ms = d->to_number<double>();
    }
  }
  const SteadyTime started = env_.clock->Monotonic();
  if (req.run_id.empty()) req.run_id = NewRunId(*env_.random, env_.clock->Now());
  SteadyTime deadline =
      started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(wf.timeout_s));
  if (req.deadline && *req.deadline < deadline) deadline = *req.deadline;

  bj::object run_meta;
  run_meta["id"] = req.run_id;
  run_meta["workflow"] = wf.id;
  run_meta["version"] = req.version;
  run_meta["started_at"] = started_at;
  const bj::value run_value(run_meta);

  // The run record lives in one arena shared by every step record and by the scope's
  // step outputs (which move to their records at the end): building it costs a pointer
  // bump per allocation, and it is freed whole with the RunResult.
  bj::storage_ptr record_storage = bj::make_shared_resource<internal::RunArena>();
  RunResult result{bj::object(record_storage), {}, std::nullopt, std::nullopt, {}, std::nullopt};
  bj::object& rec = result.record;
  // Its keys: the ten below, duration_ms, steps and at most input_errors (no rehash).
  rec.reserve(13);
  rec["run_id"] = req.run_id;
  rec["workflow"] = wf.id;
  rec["version"] = req.version;
  rec["status"] = "running";
  rec["input"] = nullptr;
  rec["output"] = nullptr;
  rec["error"] = nullptr;
  rec["started_at"] = run_meta["started_at"];
  rec["finished_at"] = nullptr;

  auto input_errors = ValidateInput(wf, req.input);
  Execution exec(*this, wf, req, &req.input, &req.trigger, &run_value, deadline, record_storage);
  Stop stop = Stop::kNone;
  // An input that alone would take the record past its budget is not kept.
  const bool input_fits = exec.Charge(req.input);
  if (input_fits) rec["input"] = req.input;
  if (!input_fits) {
    exec.FailRun(exec.BudgetError("the run input"), "");
    stop = Stop::kFailed;
  } else if (!input_errors.empty()) {
    std::string msg = "input does not match the workflow's inputs schema";
    bj::array details;
    for (const auto& e : input_errors) {
      bj::object d;
      d["path"] = e.instance_path;
      d["keyword"] = e.keyword;
      d["message"] = e.message;
      details.push_back(std::move(d));
    }
    msg += ": " + (input_errors[0].instance_path.empty() ? std::string("(root)")
                                                          : input_errors[0].instance_path) +
           ": " + input_errors[0].message;
    exec.FailRun(MakeError(ErrorCode::kInvalidInput, std::move(msg)), "");
    rec["input_errors"] = std::move(details);
    stop = Stop::kFailed;
  } else {
    stop = exec.RunList(wf.steps, "", nullptr);
  }

  if (stop == Stop::kNone && wf.output) {
    size_t bytes = 0;
    auto out = wf.output->Evaluate(exec.scope(), &bytes, record_storage);
    if (out.ok() && !out->tainted && !exec.ChargeBytes(bytes)) {
      exec.FailRun(exec.BudgetError("the run output"), "output");
      stop = Stop::kFailed;
    } else if (out.ok()) {
      rec["output"] = out->tainted ? bj::value(kRedacted) : std::move(out->json);
    } else {
      exec.FailRun(out.error(), "output");
      stop = Stop::kFailed;
    }
  }
  if (stop == Stop::kNone) {
    result.status = "succeeded";
  } else if (stop == Stop::kAwaitingApproval) {
    result.status = "awaiting_approval";
  } else {
    const Error& e = *exec.error();
    result.status = e.code == ErrorCode::kCancelled ? "cancelled" : "failed";
    rec["error"] = ErrorJson(e, exec.error_step());
    result.error = e;
  }
  rec["status"] = result.status;
  if (stop != Stop::kAwaitingApproval) rec["finished_at"] = FormatRfc3339(env_.clock->Now());
  rec["duration_ms"] = previous_duration_ms + MillisBetween(started, env_.clock->Monotonic());
  rec["steps"] = std::move(exec.FinishRecords());
  result.response = std::move(exec.response());
  result.children = std::move(exec.children());
  result.record_bytes = exec.record_bytes();
  result.yielded = exec.yielded();
  if (stop == Stop::kAwaitingApproval) result.awaiting = std::move(exec.awaiting());
  if (const auto& secrets = exec.secrets(); !secrets->empty()) {
    // Defence in depth: whatever a step put anywhere (errors, inputs, decisions) leaves
    // the engine scrubbed. Moving the record into a value and back keeps its arena.
    bj::value whole(std::move(rec));
    (void)redact::ScrubJsonInPlace(whole, *secrets, redact::Policy::kRedact);
    rec = std::move(whole.get_object());
    if (result.error) result.error = redact::ScrubError(std::move(*result.error), *secrets);
    if (result.response) {
      (void)redact::ScrubJsonInPlace(result.response->body, *secrets, redact::Policy::kRedact,
                                     nullptr, "a response");
    }
  }
  return result;
}

}  // namespace rampart::engine
