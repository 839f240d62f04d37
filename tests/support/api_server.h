// The in-process API server of the HTTP API tests (tests/api/*_test.cc), wired as
// `rampart serve` wires it (src/cli/serve.cc): a SQLite store in a data dir, a RunService
// over the built-in actions (logs to /dev/null), a WorkflowCache, an Authenticator,
// optionally a keyring over the store, the Api with all its routes and metrics (with the
// rampart_runs gauge), and an HttpServer on 127.0.0.1:0 with a client connected to it.
// Time is a ManualClock the test moves.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cli/json_log.h"
#include "rampart/actions/action.h"
#include "rampart/api/api.h"
#include "rampart/api/connectors.h"
#include "rampart/auth/auth.h"
#include "rampart/crypto/keyring.h"
#include "rampart/engine/local.h"
#include "rampart/runs/runs.h"
#include "rampart/redact/redact.h"
#include "rampart/server/metrics.h"
#include "rampart/server/org_log.h"
#include "rampart/server/router.h"
#include "rampart/server/server.h"
#include "rampart/store/store.h"
#include "support/fake_env.h"
#include "support/http_client.h"

namespace rampart::testing {

// What differs between the API tests' servers.
struct ApiServerOptions {
  // The data dir (the SQLite file, the setup token); "" = a fresh one under /tmp.
  std::string dir{};
  // Where the ManualClock's wall time starts. The Api, the Authenticator (and its
  // failed-authentication limiter, on the monotonic time) and the keyring use it.
  std::chrono::system_clock::time_point start{};
  // The runs take their time from the ManualClock too (approval deadlines, retry sleeps);
  // false: the system clock.
  bool runs_on_manual_clock = false;
  runs::RunServiceOptions runs{.workers = 2};
  auth::AuthConfig auth{};
  api::ApiOptions api{};
  // Non-empty: a keyring over the store with this master key (connector secrets).
  std::string keyring_master_key{};
  // Writes a setup token to <dir>/setup-token as `rampart serve` does on an empty store
  // (and sets api.setup_token_path to it).
  bool setup_token = false;
  // Non-null: the Api sees the store through the wrapper this returns (owned by the
  // server, destroyed before the store); the runs and store() still use the store itself.
  std::function<std::unique_ptr<store::Store>(store::Store& store)> wrap_api_store{};
  int http_threads = 2;
  // The outbound client of http.request and webhook.send, and the server's egress policy
  // (the configuration file's `egress`); null: the defaults (BuiltinOptions).
  std::shared_ptr<net::HttpClient> outbound{};
  std::shared_ptr<const net::EgressPolicy> egress{};
  // Runs get the per-run services `rampart serve` gives them (api::ServerRunServices:
  // the org's connectors and egress rules, audited security events). Needs
  // keyring_master_key.
  bool per_run_services = false;
};

class ApiServer {
 public:
  // Aborts when any part fails to open or start (a broken test environment).
  explicit ApiServer(ApiServerOptions options);
  // Stops the HTTP server and the runs, then removes the data dir unless KeepDir().
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // One request on the server's client connection. A transport failure is a test failure
  // (ADD_FAILURE) and returns an empty HttpResponse (status 0).
  HttpResponse Send(std::string_view method, const std::string& path,
                    const HttpHeaders& headers = {}, std::string_view body = {});

  // Leaves the data dir in place at destruction (to restart a server on it).
  void KeepDir() { keep_dir_ = true; }

  const std::string& dir() const { return dir_; }
  const std::string& setup_token_path() const { return setup_token_path_; }
  uint16_t port() const { return http_->port(); }
  ManualClock& clock() { return clock_; }
  // The ManualClock's wall time in milliseconds since the epoch.
  store::Millis now_ms() const;
  store::Store& store() { return *store_; }
  // The store the Api uses: wrap_api_store's wrapper, or store().
  store::Store& api_store() { return api_store_ != nullptr ? *api_store_ : *store_; }
  api::Api& api() { return *api_; }
  const api::Api& api() const { return *api_; }
  crypto::Keyring* keyring() { return keyring_.get(); }
  // The server log the Api writes to (the JSON lines go to /dev/null) and the per-org
  // ring it feeds, as `rampart serve` wires them.
  cli::JsonLog& server_log() { return *server_log_; }
  const server::OrgLogRing& org_log() const { return org_log_; }
  const server::Router& router() const { return router_; }
  runs::RunService& runs() { return *runs_; }
  server::HttpServer& http() { return *http_; }

 private:
  ManualClock clock_;
  std::string dir_;
  bool keep_dir_ = false;
  std::string setup_token_path_;
  server::Metrics metrics_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Store> api_store_;  // wrap_api_store's wrapper, or null
  actions::Registry registry_;
  std::FILE* devnull_ = nullptr;
  std::unique_ptr<engine::StreamLogSink> log_;
  redact::SecretSet no_secrets_;
  server::OrgLogRing org_log_;
  std::unique_ptr<cli::JsonLog> server_log_;
  std::unique_ptr<runs::RunService> runs_;
  std::unique_ptr<runs::WorkflowCache> cache_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<api::StoreKeyStore> key_store_;
  std::unique_ptr<crypto::Keyring> keyring_;
  std::unique_ptr<api::Api> api_;
  server::Router router_;
  std::unique_ptr<server::HttpServer> http_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace rampart::testing
