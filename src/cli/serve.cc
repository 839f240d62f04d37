// `rampart serve` and `rampart audit verify`: wire the store, run service, API and HTTP
// server together from the config file and flags.
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <boost/json/object.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "rampart/actions/action.h"
#include "api/common.h"
#include "rampart/api/api.h"
#include "rampart/api/connectors.h"
#include "rampart/crypto/keyring.h"
#include "actions/webhook/webhook_send.h"
#include "rampart/hooks/dispatcher.h"
#include "rampart/net/http_client.h"
#include "rampart/net/resolver.h"
#include "rampart/audit/chain.h"
#include "rampart/audit/checkpoint.h"
#include "rampart/audit/forwarder.h"
#include "rampart/audit/syslog.h"
#include "rampart/audit/retention.h"
#include "cli/build_info.h"
#include "cli/config.h"
#include "cli/data_dir.h"
#include "cli/json_log.h"
#include "cli/report.h"
#include "rampart/cli/commands.h"
#include "rampart/core/json.h"
#include "rampart/crypto/jwt.h"
#include "rampart/engine/local.h"
#include "rampart/model/workflow.h"
#include "rampart/net/egress.h"
#include "rampart/redact/redact.h"
#include "rampart/runs/retention.h"
#include "rampart/runs/runs.h"
#include "rampart/schedule/scheduler.h"
#include "rampart/server/metrics.h"
#include "rampart/server/router.h"
#include "rampart/server/server.h"
#include "rampart/store/store.h"

namespace rampart::cli {
namespace {

constexpr size_t kMaxConfigBytes = 256 * 1024;

// `what` names where the address came from: "--listen" or "config: listen".
Result<std::pair<std::string, uint16_t>> SplitListen(const std::string& listen,
                                                     const std::string& what) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 >= listen.size()) {
    return MakeError(ErrorCode::kInvalidArgument, what + " must be HOST:PORT");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  for (char c : listen.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535) {
      return MakeError(ErrorCode::kInvalidArgument, what + " port must be 0..65535");
    }
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return MakeError(ErrorCode::kInvalidArgument, what + " port must be 0..65535");
  return std::make_pair(host, static_cast<uint16_t>(port));
}

// The store of a data directory that exists (EnsureDataDir).
Result<std::unique_ptr<store::Store>> OpenStoreIn(const std::string& data_dir) {
  return store::OpenSqliteStore({.path = data_dir + "/rampart.db"});
}

}  // namespace

int Serve(const ServeOptions& options, std::FILE* out, std::FILE* err) {
  auto config = LoadConfig(options.config);
  if (!config.ok()) return Fail(err, config.error());
  std::string data_dir = DataDir(options.data_dir, *config);
  std::string listen = !options.listen.empty() ? options.listen
                       : !config->listen.empty() ? config->listen
                                                 : "127.0.0.1:8787";
  auto address = SplitListen(listen, !options.listen.empty() ? "--listen" : "config: listen");
  if (!address.ok()) return Fail(err, address.error());

  auth::AuthConfig auth_config;
  auto operator_key = OperatorMasterKey(*config, options.master_key_stdin);
  if (!operator_key.ok()) return Fail(err, operator_key.error());
  auth_config.master_key = std::move(operator_key).value();
  // Replaced master keys: they only unwrap (never wrap, never authenticate).
  auto previous_keys = PreviousMasterKeys(*config);
  if (!previous_keys.ok()) return Fail(err, previous_keys.error());
  // Audit forwarding (audit_forward): its signing key, read before anything starts.
  std::string forward_key;
  if (config->audit_forward) {
    auto key = AuditForwardKey(*config);
    if (!key.ok()) return Fail(err, key.error());
    forward_key = std::move(key).value();
  }
  if (!config->jwt_issuer.empty()) {
    crypto::JwtConfig jwt;
    jwt.issuer = config->jwt_issuer;
    jwt.audience = config->jwt_audience;
    if (!config->jwt_algorithms.empty()) jwt.algorithms = config->jwt_algorithms;
    jwt.min_rsa_bits = config->jwt_min_rsa_bits;
    const std::string& file = config->jwt_jwks_file.empty() ? config->jwt_pem_file
                                                            : config->jwt_jwks_file;
    auto text = engine::ReadFileBounded(file, kMaxConfigBytes);
    if (!text.ok()) return Fail(err, MakeError(ErrorCode::kInvalidArgument, "cannot read the JWT key file"));
    auto verifier = config->jwt_jwks_file.empty() ? crypto::JwtVerifier::FromPem(jwt, *text)
                                                  : crypto::JwtVerifier::FromJwks(jwt, *text);
    if (!verifier.ok()) return Fail(err, verifier.error());
    auth_config.jwt = std::make_shared<crypto::JwtVerifier>(std::move(verifier).value());
  }

  // A fixed mmap threshold: glibc otherwise raises it to the size of the largest freed
  // mmapped block (each Argon2id hash is 19 MiB), after which those buffers come from an
  // arena and stay resident (idle RSS 32 MB instead of 13 MB after one login).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);

  // Signals are handled by sigwait on this thread; block them before any thread starts
  // so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A write past RLIMIT_FSIZE would kill the process (SIGXFSZ's default action) with runs
  // in flight; ignored, the write fails with EFBIG, which SQLite reports like a full disk:
  // that request gets a 500, and the server keeps serving.
  signal(SIGXFSZ, SIG_IGN);

  if (Status s = EnsureDataDir(data_dir); !s.ok()) return Fail(err, s.error());
  auto data_dir_lock = DataDirLock::Take(data_dir);
  if (!data_dir_lock.ok()) return Fail(err, data_dir_lock.error());
  auto store = OpenStoreIn(data_dir);
  if (!store.ok()) return Fail(err, store.error());

  // The keyring of connector secrets: the operator's master key, else <data>/master.key,
  // generated on first start. A generated key only encrypts; it never enables master key
  // API auth. A master key that does not open the stored data keys stops the start.
  auto master = KeyringMasterKey(auth_config.master_key, data_dir, /*generate=*/true);
  if (!master.ok()) return Fail(err, master.error());
  // The server's log lines (its own and every run's) are JSON lines on stderr, scrubbed
  // of the process's secrets; each run's lines were already scrubbed of the run's.
  redact::SecretSet process_secrets;
  process_secrets.Add(master->material);
  process_secrets.Add(auth_config.master_key);
  for (const std::string& key : *previous_keys) process_secrets.Add(key);
  if (!forward_key.empty()) process_secrets.Add(forward_key);
  // Lines the server attributes to an org also go to that org's ring of recent records,
  // which the org's owners and support grants read (GET /v1/orgs/{org}/diagnostics/logs).
  server::OrgLogRing org_log;
  JsonLog log(err, process_secrets, &org_log);
  // Audit retention signs its checkpoints with a key derived from the same master key
  // (and accepts those of the previous ones): derived before the keyring takes them.
  audit::AuditRetentionOptions audit_retention_options{
      .retention_days = config->audit_retention_days,
      .on_error = [&log](const Error& e) {
        log.Log("error", "audit retention sweep failed",
                {{"code", e.code_name()}, {"error", e.message}});
      }};
  if (config->audit_retention_days > 0) {
    audit_retention_options.checkpoint_key = audit::CheckpointKey(master->material);
    for (const std::string& key : *previous_keys) {
      audit_retention_options.previous_checkpoint_keys.push_back(audit::CheckpointKey(key));
    }
  }
  api::StoreKeyStore key_store(**store);
  crypto::Keyring keyring(std::move(master->material), std::move(previous_keys).value(),
                          key_store, SystemRandom());
  if (Status s = api::CheckMasterKey(**store, keyring); !s.ok()) {
    if (!master->generated) return Fail(err, s.error());
    // <data>/master.key was missing, yet the store holds data keys (wrapped by the lost
    // key, which a new one cannot open): the new key goes, so that restoring the backup
    // needs no overwrite and the next start does not take the useless key for the real one.
    ::unlink(master->path.c_str());
    if (!crypto::IsCannotDecrypt(s.error())) return Fail(err, s.error());
    return Fail(err, MakeError(ErrorCode::kInvalidArgument,
                               "the master key file " + master->path +
                                   " is missing but the store holds data keys wrapped by "
                                   "another master key: restore it from its backup (or set "
                                   "master_key_file, RAMPART_MASTER_KEY or "
                                   "--master-key-stdin)"));
  }
  if (!keyring.previous_master_key_ids().empty()) {
    std::string ids;
    for (const std::string& id : keyring.previous_master_key_ids()) {
      ids += (ids.empty() ? "" : ",") + id;
    }
    log.Log("info",
            "previous master keys configured: run `rampart keys rewrap`, then remove them",
            {{"master_key", keyring.master_key_id()}, {"previous_master_keys", ids}});
  }
  if (master->generated) {
    std::fprintf(out,
                 "rampart: first start: generated the master key of connector secrets in %s "
                 "(0600); back it up - secrets cannot be decrypted without it\n",
                 master->path.c_str());
  }
  // Finishes a re-encryption that `rampart keys rotate` left behind (secrets on older
  // key versions keep decrypting meanwhile).
  std::thread reencrypt([&store, &keyring, &log] {
    auto stats = api::ReencryptSecrets(**store, keyring);
    if (!stats.ok()) {
      log.Log("error", "re-encryption of connector secrets stopped",
              {{"code", stats.error().code_name()}, {"error", stats.error().message}});
    }
  });
  struct JoinOnExit {
    std::thread& t;
    ~JoinOnExit() { t.join(); }
  } join_reencrypt{reencrypt};

  actions::BuiltinOptions builtin_options;
  builtin_options.egress = config->egress;
  builtin_options.data_dir = data_dir;  // db.query: one database per org under <data>/db
  actions::Registry registry = actions::BuiltinRegistry(builtin_options);
  // Outbound execution hooks: deliveries are inserted with the run's final status and
  // sent by a background dispatcher through the SSRF guard under the server egress policy
  // narrowed by the org rules (read per attempt) and the signing connector rules,
  // signed with the hook's webhook_secret connector (decrypted per attempt, audited).
  // One client (thread-safe) for the server's own outbound calls: hooks and audit forwarding.
  net::SystemResolver outbound_resolver;
  net::CurlHttpClient outbound_client(outbound_resolver);
  hooks::HookDispatcher hook_dispatcher(
      **store, outbound_client, config->egress ? *config->egress : net::EgressPolicy{},
      [&store, &keyring](const store::HookDelivery& d) -> Result<hooks::HookCredentials> {
        std::optional<api::DecryptedConnector> connector;
        Status loaded = (*store)->Write([&](store::Tx& tx) -> Status {
          auto c = api::LoadConnectorForRun(
              tx, keyring, d.org_id, d.secret, d.workflow_id,
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  SystemClock().Now().time_since_epoch())
                  .count(),
              "hook:" + d.id, /*step_path=*/{});
          if (!c.ok()) return c.error();
          connector.emplace(std::move(c).value());
          return Status::Ok();
        });
        if (!loaded.ok()) return loaded.error();
        if (connector->type != "webhook_secret") {
          return MakeError(ErrorCode::kInvalidArgument,
                           "connector '" + d.secret + "' is not a webhook_secret connector");
        }
        auto secret = connector->secrets.find("secret");
        std::optional<std::string> key;
        if (secret != connector->secrets.end()) key = actions::DecodeWebhookSecret(secret->second);
        if (!key) {
          return MakeError(ErrorCode::kInvalidArgument,
                           "connector '" + d.secret + "': secret is not a whsec_<base64> key");
        }
        auto rules = net::ParseEgressRules(connector->egress);
        if (!rules.ok()) return rules.error();
        return hooks::HookCredentials{std::move(*key), std::move(rules).value()};
      },
      SystemClock(), [&config, &log] {
        hooks::DispatcherOptions dispatch;
        // The request went out but its attempt is not on record yet (a full disk): said
        // once; the record is retried and the delivery not sent again meanwhile.
        dispatch.on_record_error = [&log](const store::HookDelivery& d, const Error& e) {
          log.Log("warn", "a hook attempt could not be recorded; retrying the record",
                  {{"org", d.org_id}, {"delivery", d.id}, {"code", std::string(e.code_name())}});
        };
        if (config->hook_retry_schedule) {
          dispatch.schedule.assign(config->hook_retry_schedule->begin(),
                                   config->hook_retry_schedule->end());
        }
        if (config->hook_timeout.count() > 0) dispatch.timeout = config->hook_timeout;
        return dispatch;
      }());
  runs::RunEnvironment env;
  env.on_final = [](store::Tx& tx, const store::Run& run, const model::Workflow& workflow) {
    auto n = hooks::EnqueueRunHooks(
        tx, run, workflow,
        std::chrono::duration_cast<std::chrono::milliseconds>(SystemClock().Now().time_since_epoch())
            .count(),
        SystemRandom());
    return n.ok() ? Status::Ok() : Status(n.error());
  };
  // Only a workflow with hooks can have enqueued deliveries: other runs do not wake the
  // dispatcher (a wake costs it a read of the due deliveries).
  env.after_final = [&hook_dispatcher, &log](const store::Run& run,
                                             const model::Workflow& workflow) {
    if (!workflow.hooks.empty()) hook_dispatcher.Kick();
    // For the org's diagnostics: that a run failed and its error code (no ids, no data).
    if (run.status == "failed") {
      log.Write(boost::json::object{{"level", "warn"},
                                    {"msg", "a run failed: " + run.error_code},
                                    {"org", run.org_id},
                                    {"event", "run.failed"},
                                    {"code", run.error_code}});
    }
  };
  env.actions = &registry;
  env.log = &log;
  // Each run reaches its org's connectors (decrypted on use, audited) and reports
  // secret exposure attempts to the audit log.
  env.per_run = [&store, &keyring](const store::Run& run) {
    return api::ServerRunServices(**store, keyring, SystemClock(), run);
  };
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  runs::RunServiceOptions run_options;
  // Runs are short and mostly wait on commits: more workers than cores form larger
  // commit groups (see PERFORMANCE.md "Server (end to end)").
  run_options.workers = std::max(16, 4 * cores);
  if (config->max_concurrent_runs > 0) run_options.default_org_limit = config->max_concurrent_runs;
  if (config->max_queued_runs > 0) {
    run_options.max_queued = static_cast<size_t>(config->max_queued_runs);
  }
  if (config->max_run_record_bytes > 0) {
    run_options.max_run_record_bytes = static_cast<size_t>(config->max_run_record_bytes);
  }
  if (config->quota_runs > 0) run_options.max_runs_per_org = config->quota_runs;
  run_options.redaction = config->redaction;
  runs::RunService run_service(**store, env, run_options);
  if (Status s = run_service.Start(); !s.ok()) return Fail(err, s.error());
  // Schedule triggers of live workflows (at most one catch-up run after downtime).
  // A tick whose run is refused is lost (at most once): its org's owners see why in the
  // diagnostics log (workflow, tick, code; the message names no input values: the input
  // of a scheduled run is `{}`).
  schedule::SchedulerOptions scheduler_options;
  scheduler_options.on_submit_error = [&log](const schedule::SubmitFailure& f) {
    log.Write(boost::json::object{
        {"level", "warn"},
        {"msg", "scheduled run of " + f.workflow_id + " not started: " + f.error.message},
        {"org", f.org_id},
        {"event", "schedule.failed"},
        {"code", std::string(f.error.code_name())},
        {"fields", boost::json::object{{"workflow", f.workflow_id},
                                       {"version", f.version},
                                       {"scheduled_for", FormatRfc3339(f.scheduled_for)}}}});
  };
  schedule::Scheduler scheduler(**store, run_service, std::move(scheduler_options));
  scheduler.Start();
  hook_dispatcher.Start();  // resumes deliveries left pending by a previous process
  // Retention of finished runs (runs_retention_days; 0 = forever): an hourly sweep
  // deletes those past it, 500 per commit, audited per org as runs.purged.
  runs::RunRetention retention(**store, SystemClock(),
                               {.retention_days = config->runs_retention_days,
                                .on_error = [&log](const Error& e) {
                                  log.Log("error", "run retention sweep failed",
                                          {{"code", e.code_name()}, {"error", e.message}});
                                },
                                .quota = &run_service.quota()});
  retention.Start();
  // Audit forwarding (ASVS V16.4.3): the audit events, in seq order, to the operator's
  // collector through the SSRF guard (the process egress rules widened for that URL only),
  // at least once from the stored position; one log line per failed attempt.
  // One sanitized warn line per failed attempt of an audit output (forwarding or syslog).
  auto log_failures = [&log](const char* message) {
    return [&log, message](const audit::ForwardFailure& f) {
      log.Log("warn", message,
              {{"error", f.error},
               {"from_seq", f.from_seq},
               {"retry_in_ms", static_cast<int64_t>(f.retry_in.count())}});
    };
  };
  std::unique_ptr<audit::AuditForwarder> forwarder;
  if (config->audit_forward) {
    audit::ForwarderOptions forward_options;
    forward_options.url = config->audit_forward->url;
    forward_options.key = forward_key;
    forward_options.batch = config->audit_forward->batch;
    forward_options.interval = std::chrono::milliseconds(config->audit_forward->interval_ms);
    forward_options.ca_pem = config->audit_forward->ca_pem;
    forwarder = std::make_unique<audit::AuditForwarder>(
        **store, outbound_client, AuditForwardPolicy(*config), SystemClock(),
        std::move(forward_options), log_failures("audit forwarding failed; retrying"));
    forwarder->Start();  // resumes after the last acknowledged seq
  }
  // Audit events to syslog (audit_syslog, RFC 5424): the same loop, seq order and stored
  // position (its own destination key) as forwarding, with a syslog sink; a socket that is
  // missing or refuses is retried with backoff, one log line per failed attempt, and never
  // holds a request or the store's writer (its own thread; writes bounded by a timeout).
  // tls:// (RFC 5425) verifies the receiver's chain and name; a failed handshake is a
  // failed attempt, retried the same way.
  std::unique_ptr<audit::AuditForwarder> syslog_forwarder;
  if (config->audit_syslog) {
    audit::SyslogSinkOptions syslog_options;
    syslog_options.address = config->audit_syslog->address;
    syslog_options.format.facility = config->audit_syslog->facility;
    syslog_options.format.app_name = config->audit_syslog->app_name;
    syslog_options.tls = config->audit_syslog->tls;
    char host[256] = {};
    if (::gethostname(host, sizeof(host) - 1) == 0) syslog_options.format.hostname = host;
    syslog_options.format.procid = std::to_string(::getpid());
    audit::ForwardLoopOptions loop;
    loop.metrics = audit::SyslogMetricNames();
    syslog_forwarder = std::make_unique<audit::AuditForwarder>(
        **store, SystemClock(), std::make_unique<audit::SyslogAuditSink>(std::move(syslog_options)),
        std::move(loop), log_failures("audit syslog output failed; retrying"));
    syslog_forwarder->Start();  // resumes after the last seq written
  }
  // With forwarding or syslog on, retention never purges an event that one of them has
  // not delivered: the bound is the lowest stored position (nullopt on a read error purges
  // nothing). The sweep is destroyed (stopped) before the forwarders.
  if (forwarder || syslog_forwarder) {
    audit_retention_options.max_purge_seq = [&forwarder, &syslog_forwarder] {
      return audit::AuditForwarder::AcknowledgedByAll({forwarder.get(), syslog_forwarder.get()});
    };
  }
  // Audit retention (audit_retention_days; 0 = forever): an hourly sweep purges the oldest
  // events behind a signed checkpoint, 1000 per commit, audited as audit.purged.
  audit::AuditRetention audit_retention(**store, SystemClock(),
                                        std::move(audit_retention_options));
  audit_retention.Start();
  runs::WorkflowCache cache(**store);

  server::Metrics metrics;
  metrics.AddGaugeProvider([&s = **store]() {
    const store::WriteStats stats = s.Stats();
    return std::vector<server::Sample>{
        {"rampart_store_commits", {}, static_cast<double>(stats.commits),
         "Group commits of the store since start (each one fsync)"},
        {"rampart_store_writes", {}, static_cast<double>(stats.jobs),
         "Write transactions carried by those commits since start"},
        {"rampart_store_largest_group", {}, static_cast<double>(stats.largest_group),
         "Most write transactions carried by one commit since start"},
        {"rampart_store_write_queue", {}, static_cast<double>(stats.queued),
         "Write transactions waiting for the store's writer"}};
  });
  metrics.AddGaugeProvider([&run_service]() {
    runs::RunStats stats = run_service.Stats();
    std::vector<server::Sample> samples;
    auto add = [&](const char* status, int64_t v) {
      samples.push_back({"rampart_runs", {{"status", status}}, static_cast<double>(v),
                         "Runs by status (queued and running now; final ones since start)"});
    };
    add("queued", stats.queued);
    add("running", stats.running);
    add("succeeded", stats.succeeded);
    add("failed", stats.failed);
    add("cancelled", stats.cancelled);
    samples.push_back({"rampart_run_queue_depth", {}, static_cast<double>(stats.queued),
                       "Runs waiting for a worker"});
    samples.push_back({"rampart_runs_handed_over_total", {}, static_cast<double>(stats.handed_over),
                       "Runs started inline that used up their inline budget and went on on a worker"});
    samples.push_back({"rampart_run_waiters", {}, static_cast<double>(stats.waiters),
                       "Requests waiting for their run to finish (wait, sync webhooks)"});
    return samples;
  });

  if (forwarder) {
    metrics.AddGaugeProvider([f = forwarder.get()] { return f->MetricSamples(); });
  }
  if (syslog_forwarder) {
    metrics.AddGaugeProvider([f = syslog_forwarder.get()] { return f->MetricSamples(); });
  }

  auth::Authenticator authenticator(auth_config, SystemClock());
  api::ApiOptions api_options;
  api_options.tls = !config->tls_cert.empty();
  api_options.trusted_proxies = config->trusted_proxies;
  api_options.setup_token_path = data_dir + "/setup-token";
  if (config->webhook_org_rpm > 0) api_options.webhook_org_rpm = config->webhook_org_rpm;
  if (config->webhook_org_burst > 0) api_options.webhook_org_burst = config->webhook_org_burst;
  if (config->api_rpm.has_value()) api_options.api_rpm = *config->api_rpm;
  if (config->api_burst.has_value()) api_options.api_burst = *config->api_burst;
  if (config->quota_workflows > 0) api_options.max_workflows_per_org = config->quota_workflows;
  if (config->quota_versions_per_workflow > 0) {
    api_options.max_versions_per_workflow = config->quota_versions_per_workflow;
  }
  if (config->quota_connectors > 0) api_options.max_connectors_per_org = config->quota_connectors;
  api_options.version = RAMPART_VERSION;
  api_options.build = std::string(GitCommit()) + " " + RAMPART_BUILD_TYPE;
  api::ApiDeps deps;
  deps.store = store->get();
  deps.runs = &run_service;
  deps.workflows = &cache;
  deps.authenticator = &authenticator;
  deps.metrics = &metrics;
  deps.keyring = &keyring;
  deps.log = &log;
  deps.org_log = &org_log;
  api::Api api(deps, api_options);
  server::Router router;
  api.RegisterRoutes(router);

  auto token_file = api::EnsureSetupToken(**store, api_options.setup_token_path, SystemClock(),
                                          SystemRandom());
  if (!token_file.ok()) return Fail(err, token_file.error());

  server::ServerOptions server_options;
  // Handlers do not wait on io threads (commits and runs answer asynchronously), so the io
  // threads are sized for cores: more only add wake-ups and context switches (see
  // docs/PERFORMANCE.md). The config may say otherwise.
  server_options.threads = config->io_threads > 0 ? config->io_threads : std::max(4, 2 * cores);
  server_options.host = address->first;
  server_options.port = address->second;
  server_options.tls_cert_file = config->tls_cert;
  server_options.tls_key_file = config->tls_key;
  server_options.cors_origins = config->cors_origins;
  server::HttpServer http(server_options, router, &metrics);
  metrics.AddGaugeProvider([&http] {
    return std::vector<server::Sample>{{"rampart_http_connections", {},
                                        static_cast<double>(http.connections()),
                                        "HTTP connections open now (at most 1,024)"}};
  });
  if (Status s = http.Start(); !s.ok()) return Fail(err, s.error());

  // A URL: an IPv6 literal goes in brackets (RFC 3986 3.2.2).
  const std::string url_host = address->first.find(':') == std::string::npos
                                   ? address->first
                                   : "[" + address->first + "]";
  std::fprintf(out, "rampart: listening on %s://%s:%u (data %s)\n",
               api_options.tls ? "https" : "http", url_host.c_str(), http.port(),
               data_dir.c_str());
  if (!token_file->empty()) {
    std::fprintf(out,
                 "rampart: first start: the one-time setup token is in %s (valid 1 hour); "
                 "POST it to /v1/setup\n",
                 token_file->c_str());
  }
  std::fflush(out);
  log.Log("info", "listening",
          {{"address", address->first}, {"port", http.port()}, {"tls", api_options.tls}});

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  log.Log("info", "shutting down", {{"signal", signal_number}});
  std::fprintf(out, "rampart: shutting down (draining requests and runs)\n");
  std::fflush(out);
  // Requests still waiting for a run when the drain ends (`wait` longer than it) are
  // answered 202 with the run's id, not cut: the run goes on below.
  http.Stop(std::chrono::seconds(10), [&run_service] { run_service.ReleaseWaiters(); });
  scheduler.Stop();
  run_service.Stop(std::chrono::seconds(20));
  retention.Stop();
  audit_retention.Stop();
  hook_dispatcher.Stop();  // pending deliveries stay pending for the next start
  // Waits for the POST in flight (bounded by its timeout); the rest goes at the next start.
  if (forwarder) forwarder->Stop();
  if (syslog_forwarder) syslog_forwarder->Stop();
  return kExitOk;
}

int AuditVerify(const AuditVerifyOptions& options, std::FILE* out, std::FILE* err) {
  auto config = LoadConfig(options.config);
  if (!config.ok()) return Fail(err, config.error());
  const std::string data_dir = DataDir(options.data_dir, *config);
  if (::access((data_dir + "/rampart.db").c_str(), F_OK) != 0) {
    std::fprintf(err, "rampart: no store in %s\n", data_dir.c_str());
    return kExitInvalid;
  }
  // The master key, found as serve finds it, only serves the retention checkpoint's MAC:
  // a chain without a checkpoint verifies without it, so a key that cannot be loaded is
  // reported only when a checkpoint needs it.
  audit::VerifyOptions verify_options;
  std::string key_problem;
  {
    auto configured = OperatorMasterKey(*config, options.master_key_stdin);
    auto master = configured.ok()
                      ? KeyringMasterKey(*configured, data_dir, /*generate=*/false)
                      : Result<MasterKeyMaterial>(configured.error());
    if (master.ok()) {
      verify_options.checkpoint_keys.push_back(audit::CheckpointKey(master->material));
      OPENSSL_cleanse(master->material.data(), master->material.size());
    } else {
      key_problem = master.error().message;
    }
    auto previous = PreviousMasterKeys(*config);
    if (previous.ok()) {
      for (std::string& key : *previous) {
        verify_options.checkpoint_keys.push_back(audit::CheckpointKey(key));
        OPENSSL_cleanse(key.data(), key.size());
      }
    } else if (key_problem.empty()) {
      key_problem = previous.error().message;
    }
  }
  if (Status s = EnsureDataDir(data_dir); !s.ok()) return Fail(err, s.error());
  // Migrating an older store is a write: refused beside a running serve.
  auto store = OpenStoreBesideServe(data_dir);
  if (!store.ok()) return Fail(err, store.error());
  auto report = audit::Verify(**store, verify_options);
  if (!report.ok()) return Fail(err, report.error());
  if (!report->intact && report->reason == audit::kCheckpointNeedsKey) {
    // Never "intact": the start of the chain is only as good as the checkpoint's MAC.
    std::fprintf(out,
                 "audit chain NOT VERIFIED: it starts at a retention checkpoint (event %lld), "
                 "which cannot be checked without the master key (master_key_file in "
                 "--config, RAMPART_MASTER_KEY or --master-key-stdin)%s%s\n",
                 static_cast<long long>(report->checkpoint_seq.value_or(0)),
                 key_problem.empty() ? "" : ": ", key_problem.c_str());
    return kExitRunFailed;
  }
  if (!report->intact) {
    std::fprintf(out, "audit chain BROKEN at event %lld: %s (%lld events intact before it)\n",
                 static_cast<long long>(report->first_bad_seq), report->reason.c_str(),
                 static_cast<long long>(report->events));
    // Audit events never hold secret values or run payloads (security.md 7).
    if (report->first_bad_event) {
      boost::json::object event = api::AuditJson(*report->first_bad_event);
      event["org_id"] = report->first_bad_event->org_id;
      std::fprintf(out, "first bad event: %s\n", json::Serialize(event).c_str());
    }
    return kExitRunFailed;
  }
  if (report->checkpoint_seq) {
    std::fprintf(out,
                 "audit chain intact: %lld events, from the retention checkpoint at event %lld\n",
                 static_cast<long long>(report->events),
                 static_cast<long long>(*report->checkpoint_seq));
    return kExitOk;
  }
  std::fprintf(out, "audit chain intact: %lld events\n", static_cast<long long>(report->events));
  return kExitOk;
}

}  // namespace rampart::cli
