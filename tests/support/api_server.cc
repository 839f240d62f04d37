#include "support/api_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <utility>
#include <vector>

namespace rampart::testing {

ApiServer::ApiServer(ApiServerOptions options) : clock_(options.start) {
  if (options.dir.empty()) {
    char tmpl[] = "/tmp/rampart-api-server-XXXXXX";
    char* made = ::mkdtemp(tmpl);
    if (made == nullptr) std::abort();
    options.dir = made;
  }
  dir_ = options.dir;
  auto store = store::OpenSqliteStore({.path = dir_ + "/rampart.db", .synchronous_full = false});
  if (!store.ok()) std::abort();
  store_ = std::move(store).value();
  if (options.wrap_api_store) api_store_ = options.wrap_api_store(*store_);

  actions::BuiltinOptions builtin;
  builtin.http = options.outbound;
  builtin.egress = options.egress;
  registry_ = actions::BuiltinRegistry(builtin);
  devnull_ = std::fopen("/dev/null", "w");
  if (devnull_ == nullptr) std::abort();
  log_ = std::make_unique<engine::StreamLogSink>(devnull_);
  server_log_ = std::make_unique<cli::JsonLog>(devnull_, no_secrets_, &org_log_);
  if (!options.keyring_master_key.empty()) {
    key_store_ = std::make_unique<api::StoreKeyStore>(*store_);
    keyring_ = std::make_unique<crypto::Keyring>(options.keyring_master_key, *key_store_,
                                                 SystemRandom(), clock_);
  }
  runs::RunEnvironment env;
  env.actions = &registry_;
  env.log = log_.get();
  if (options.runs_on_manual_clock) env.clock = &clock_;
  if (options.per_run_services) {
    if (options.keyring_master_key.empty()) std::abort();
    env.per_run = [this](const store::Run& run) {
      return api::ServerRunServices(*store_, *keyring_, clock_, run);
    };
  }
  runs_ = std::make_unique<runs::RunService>(*store_, env, options.runs);
  if (!runs_->Start().ok()) std::abort();
  cache_ = std::make_unique<runs::WorkflowCache>(*store_);

  // The gauge `rampart serve` exports (src/cli/serve.cc).
  metrics_.AddGaugeProvider([this]() {
    runs::RunStats stats = runs_->Stats();
    std::vector<server::Sample> samples;
    auto add = [&](const char* status, int64_t v) {
      samples.push_back(
          {"rampart_runs", {{"status", status}}, static_cast<double>(v), "Runs by status"});
    };
    add("queued", stats.queued);
    add("running", stats.running);
    add("succeeded", stats.succeeded);
    add("failed", stats.failed);
    add("cancelled", stats.cancelled);
    return samples;
  });

  authenticator_ = std::make_unique<auth::Authenticator>(options.auth, clock_);
  if (options.setup_token) options.api.setup_token_path = dir_ + "/setup-token";
  setup_token_path_ = options.api.setup_token_path;

  api::ApiDeps deps;
  deps.store = api_store_ != nullptr ? api_store_.get() : store_.get();
  deps.runs = runs_.get();
  deps.workflows = cache_.get();
  deps.authenticator = authenticator_.get();
  deps.metrics = &metrics_;
  deps.clock = &clock_;
  deps.keyring = keyring_.get();
  deps.log = server_log_.get();
  deps.org_log = &org_log_;
  api_ = std::make_unique<api::Api>(deps, options.api);
  api_->RegisterRoutes(router_);

  if (options.setup_token &&
      !api::EnsureSetupToken(*store_, setup_token_path_, clock_, SystemRandom()).ok()) {
    std::abort();
  }

  server::ServerOptions server_options;
  server_options.host = "127.0.0.1";
  server_options.port = 0;
  server_options.threads = options.http_threads;
  http_ = std::make_unique<server::HttpServer>(server_options, router_, &metrics_);
  if (!http_->Start().ok()) std::abort();
  // The one connection of Do() sits idle while a test runs threads of its own (a login
  // burst under ThreadSanitizer outlasts the server's 10 s keep-alive): reconnect then.
  client_ = std::make_unique<HttpClient>(
      "127.0.0.1", http_->port(),
      HttpClientOptions{.timeout = std::chrono::seconds(30), .reconnect_if_closed_while_idle = true});
}

ApiServer::~ApiServer() {
  client_.reset();
  http_->Stop(std::chrono::milliseconds(100));
  runs_->Stop(std::chrono::seconds(5));
  http_.reset();
  api_.reset();
  keyring_.reset();
  key_store_.reset();
  authenticator_.reset();
  cache_.reset();
  runs_.reset();
  api_store_.reset();
  store_.reset();
  log_.reset();
  server_log_.reset();
  std::fclose(devnull_);
  if (!keep_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

HttpResponse ApiServer::Send(std::string_view method, const std::string& path,
                             const HttpHeaders& headers, std::string_view body) {
  auto r = client_->Request(method, path, headers, body);
  if (!r.ok()) {
    ADD_FAILURE() << method << " " << path << ": " << r.error().message;
    return HttpResponse{};
  }
  return std::move(r).value();
}

store::Millis ApiServer::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch())
      .count();
}

}  // namespace rampart::testing
