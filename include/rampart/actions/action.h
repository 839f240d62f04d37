// Built-in actions (`uses:` in an action step) and the registry the engine dispatches
// through. Each action does exactly what its name says and nothing more
// (spec/security.md section 5) and validates its evaluated `with` arguments against its
// own JSON Schema before it runs.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "rampart/core/clock.h"
#include "rampart/core/result.h"
#include "rampart/schema/schema.h"

namespace rampart::actions {

// Destination of structured log lines (log.write and the engine's own). Implementations
// must be thread-safe.
class LogSink {
 public:
  virtual ~LogSink() = default;
  virtual void Write(const boost::json::object& line) = 0;
};

struct Context {
  const boost::json::value& args;  // evaluated `with`, already valid against ArgsSchema
  std::string_view workflow;
  std::string_view run_id;
  std::string_view step_path;
  std::string_view connector;      // empty when the step names none
  std::chrono::steady_clock::time_point deadline;
  Clock& clock;
  LogSink* log;                    // may be null
};

class Action {
 public:
  virtual ~Action() = default;
  // The JSON Schema its `with` must satisfy.
  virtual const schema::Validator& ArgsSchema() const = 0;
  // The action's output on success; an Error with a code from the closed set otherwise.
  virtual Result<boost::json::value> Execute(const Context& context) const = 0;
  // Whether a failure may be retried under the step's retry policy.
  virtual bool Retryable(const Error& error) const { return error.code == ErrorCode::kActionFailed || error.code == ErrorCode::kTimeout; }
};

// Name -> action. Filled at start-up, read-only afterwards (then thread-safe).
class Registry {
 public:
  void Register(std::string name, std::unique_ptr<Action> action);
  const Action* Find(std::string_view name) const;

 private:
  std::map<std::string, std::unique_ptr<Action>, std::less<>> actions_;
};

// The registry of every built-in action this build ships.
Registry BuiltinRegistry();

}  // namespace rampart::actions
