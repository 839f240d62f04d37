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
#include <span>
#include <string>
#include <string_view>

#include "rampart/core/clock.h"
#include "rampart/core/result.h"
#include "rampart/net/egress.h"
#include "rampart/schema/schema.h"

namespace rampart::net {
class HttpClient;
}  // namespace rampart::net

namespace rampart::actions {

// A connector with its secrets decrypted for one step (spec/interfaces.md "Connectors").
// Secrets go only into credentials (headers, auth, TLS) and never into an output, an
// error message or a log line.
struct ConnectorSecrets {
  std::string id;
  std::string type;  // bearer, basic, api_key, oauth2, mtls, custom, webhook_secret
  boost::json::object options;
  std::map<std::string, std::string> secrets;
  boost::json::object egress;  // the connector's egress rules (may only narrow the org's)
};

// How an action reaches what its run's org owns: the connector its step names
// (`connector: <id>`) and the org's egress rules. Implemented by the layer that owns
// connectors and orgs (api: ConnectorSource), so actions do not depend on it. Must be
// thread-safe.
class ConnectorResolver {
 public:
  virtual ~ConnectorResolver() = default;
  // kNotFound when there is no such connector; kPermissionDenied when `workflow` may not
  // use it (allowed_workflows). `step_path` names the step that uses it (for the audit).
  virtual Result<ConnectorSecrets> Resolve(std::string_view connector_id,
                                           std::string_view workflow,
                                           std::string_view step_path) const = 0;

  // Registers a credential obtained with a connector's secrets (an oauth2 access token)
  // with the run's redaction, so it never appears in an output, a record, an error or a
  // log line. Called before the credential is used. Default: nothing to register with.
  virtual void AddDerivedSecret(std::string_view value) const { (void)value; }

  // Replaces secret `field` of connector `connector_id` with `value` (an oauth2
  // refresh_token the token endpoint rotated): the value is registered like
  // AddDerivedSecret, then stored where the connector lives (server: re-encrypted and
  // audited; local runs: in memory). Compare-and-set: written only while the stored value
  // of `field` is one of `expected` (an absent field reads as ""), checked in the write
  // itself; kConflict, nothing written, when the connector changed (its secret replaced,
  // or the connector deleted and created again under its id), kNotFound when it is gone.
  // Default: kInternal (nowhere to store it).
  virtual Status ReplaceSecret(std::string_view connector_id, std::string_view field,
                               std::string_view value, std::span<const std::string> expected,
                               std::string_view step_path) const {
    (void)connector_id, (void)field, (void)value, (void)expected, (void)step_path;
    return MakeError(ErrorCode::kInternal, "connector secrets cannot be updated here");
  }

  // `server` (the configuration file's egress policy) narrowed by the egress rules of the
  // run's org (PATCH /v1/orgs/{org} `egress`), read at each call so that a change that
  // committed applies to the next outbound request. Every outbound call of a run starts
  // from this, then a connector's rules narrow it further. An error (the org's rules
  // cannot be read) fails the step: no request is sent. Default: `server` unchanged (a
  // local run has no org).
  virtual Result<net::EgressPolicy> OrgEgress(const net::EgressPolicy& server) const {
    return server;
  }
};

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
  // Connectors of the run; null: a step naming a connector fails with permission_denied.
  const ConnectorResolver* connectors = nullptr;
  // The org the run belongs to (db.query opens that org's database). Empty: a local run
  // (`rampart run`), which uses the scope "local".
  std::string_view org = {};
};

// Compiles the `with` schema of a built-in action: a literal of this build, so a schema
// that does not compile is a bug (checked, aborts).
schema::Validator CompileArgsSchema(std::string_view json_schema);

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

// What the built-in actions with side effects are wired to.
struct BuiltinOptions {
  // http.request and webhook.send. Null: a CurlHttpClient over the system resolver.
  std::shared_ptr<net::HttpClient> http;
  // The server's egress policy (configuration file `egress`), which each run's org rules
  // (ConnectorResolver::OrgEgress) and then a connector's narrow. Null: the defaults
  // (https only, ports 443 and 80, no exceptions to the denied ranges).
  std::shared_ptr<const net::EgressPolicy> egress;
  // webhook.send message ids. Null: SystemRandom().
  Random* random = nullptr;
  // db.query: per-org SQLite databases live in <data_dir>/db/<org>.sqlite. Empty: db.query
  // fails with an internal error saying no data directory is configured.
  std::string data_dir;
};
Registry BuiltinRegistry(const BuiltinOptions& options);

}  // namespace rampart::actions
