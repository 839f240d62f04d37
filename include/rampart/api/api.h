// The HTTP API of spec/interfaces.md: one route table (RegisterRoutes) that the server
// dispatches on, the OpenAPI document is generated from, and the authorization matrix
// tests iterate. This is the only module that maps errors to HTTP.
//
// Every handler authenticates, then authorizes against the org from the path with the
// route's permission (auth::AuthorizeOrg), inside the store transaction of the request.
// Mutations and their audit events commit in one transaction.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "rampart/auth/auth.h"
#include "rampart/core/clock.h"
#include "rampart/core/result.h"
#include "rampart/crypto/keyring.h"
#include "rampart/runs/runs.h"
#include "rampart/server/metrics.h"
#include "rampart/server/router.h"
#include "rampart/store/store.h"

namespace rampart::api {

struct ApiOptions {
  bool tls = false;                                 // Secure cookies
  std::string setup_token_path;                     // removed once setup succeeded
  size_t max_definition_bytes = 1 << 20;
  std::chrono::seconds max_wait{60};                // cap of a run request's `wait`
  int max_api_keys_per_org = 50;
  // Failed authentications from one source IP per minute before 429.
  int auth_failures_per_minute = 20;
  // Public endpoint requests per source IP per minute.
  int public_requests_per_minute = 120;
};

struct ApiDeps {
  store::Store* store = nullptr;
  runs::RunService* runs = nullptr;
  runs::WorkflowCache* workflows = nullptr;
  const auth::Authenticator* authenticator = nullptr;
  server::Metrics* metrics = nullptr;  // /metrics; may be null
  Clock* clock = &SystemClock();
  Random* random = &SystemRandom();
  // Seals connector secrets (rampart serve always creates one). Null: connector routes
  // work for metadata, and setting a secret answers 500.
  crypto::Keyring* keyring = nullptr;
};

class Api {
 public:
  Api(ApiDeps deps, ApiOptions options);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // Adds every route (the /v1 API, /p/..., /healthz, /readyz, /metrics, /v1/openapi.json).
  // The Api must outlive the router's use.
  void RegisterRoutes(server::Router& router);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// When the store has no org yet and no unexpired setup token, creates one ("rpt_...",
// valid 1 h, stored hashed), writes it to `path` with mode 0600 and returns the path.
// Returns "" when the server is already set up. Never logs the token.
Result<std::string> EnsureSetupToken(store::Store& store, const std::string& path, Clock& clock,
                                     Random& random);

}  // namespace rampart::api
