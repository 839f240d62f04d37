// The configuration file of `rampart serve` and `rampart run` (spec/interfaces.md
// "Configuration file"): YAML, unknown keys are errors, keys of features this build does
// not have are refused when set.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/audit/syslog.h"
#include "rampart/core/result.h"
#include "rampart/net/egress.h"
#include "rampart/redact/redact.h"

namespace rampart::cli {

// audit_forward: {url, secret_file, batch, interval_ms, allow_cidrs, ca_file}: the audit events are
// pushed to a collector (audit/forwarder.h). The secret is never in the config itself.
struct AuditForwardConfig {
  std::string url;          // https (http only when egress.allow_http)
  std::string secret_file;  // "" : env RAMPART_AUDIT_FORWARD_SECRET
  int batch = 100;          // 1..1000
  int interval_ms = 1000;   // 10..3,600,000
  // Widen the process egress rules for this URL only (e.g. a collector on loopback or a
  // private network); the URL's own port is allowed too.
  std::vector<net::Cidr> allow_cidrs;
  // ca_file: PEM certificates that replace the system trust store for this URL (a
  // collector behind a private CA); read at load. Empty: the system store.
  std::string ca_pem;
};

// audit_syslog: {address, facility, app_name, allow_cidrs, ca_file, server_name, cert_file,
// key_file}: the audit events as RFC 5424 messages to a syslog receiver (audit/syslog.h),
// through the same loop and stored position per destination as audit_forward.
struct AuditSyslogConfig {
  // unix:/absolute/path (a datagram socket, e.g. /dev/log), udp://IP:PORT, tcp://IP:PORT or
  // tls://IP:PORT (a literal address: loopback, or inside allow_cidrs).
  audit::SyslogAddress address;
  int facility = audit::kSyslogFacilityAuthpriv;  // auth | authpriv | local0..local7
  std::string app_name = "rampart";                // 1..48 printable ASCII, no space
  std::vector<net::Cidr> allow_cidrs;              // non-loopback UDP/TCP/TLS destinations
  // tls:// only (any of them on another scheme is refused): ca_file (PEM CAs; absent: the
  // system store), server_name (absent: the certificate must name the IP), cert_file and
  // key_file (mode 0600/0400; both or neither) for mutual TLS. Read and checked at load.
  audit::SyslogTlsOptions tls;
};

struct Config {
  std::string listen;
  std::string data;
  std::string tls_cert, tls_key;
  std::string master_key_file;
  // Master keys replaced by master_key_file: they only unwrap the data keys still wrapped
  // by them (until `rampart keys rewrap`), never wrap new ones.
  std::vector<std::string> previous_master_key_files;
  std::vector<std::string> cors_origins;
  std::string jwt_issuer, jwt_audience, jwt_jwks_file, jwt_pem_file;
  std::vector<std::string> jwt_algorithms;
  int jwt_min_rsa_bits = 2048;  // jwt.min_rsa_bits: 2048..8192
  int max_concurrent_runs = 0;
  // HTTP io threads (1..1024); 0: max(4, 2 x cores). Handlers answer asynchronously (a
  // commit or a run's `wait` holds no thread), so more threads only add context switches.
  int io_threads = 0;
  // Runs accepted but waiting for a worker, server-wide (1..1,000,000); 0: the run
  // service's default (100,000). Past it, new runs get 429. Each queued run is held in
  // memory (about 1-2 KiB with its input), so this bounds the memory of a burst.
  int max_queued_runs = 0;
  // The serialized bytes one run tree may record (1 MiB..256 MiB); 0: the engine's
  // default (16 MiB). A step that would pass it fails the run with limit_exceeded.
  int max_run_record_bytes = 0;
  // Finished runs (succeeded, failed, cancelled) older than this many days are deleted
  // by a background sweep with their hook deliveries (0..3650); 0 keeps them forever.
  int runs_retention_days = 0;
  // Audit events older than this many days are purged by an hourly sweep behind a signed
  // checkpoint (audit/retention.h): 0 keeps them forever, else 30..36500.
  int audit_retention_days = 0;
  // webhook_org_rate_limit: {rpm, burst}: every trigger of an org draws from one bucket
  // (on top of each trigger's own rate_limit); 0: api::ApiOptions' defaults.
  int webhook_org_rpm = 0;
  int webhook_org_burst = 0;
  // api_rate_limit: {rpm, burst}: requests per authenticated principal (API key, user,
  // support grant); rpm 0 turns it off. nullopt: api::ApiOptions' defaults (60000, 10000).
  std::optional<int> api_rpm;
  std::optional<int> api_burst;
  // quotas: {workflows, versions_per_workflow, connectors}: stored objects per org (per
  // workflow for versions); 0: api::ApiOptions' defaults (1000, 1000, 500).
  // quotas.runs: stored runs (any status) per org, 1..1e9; 0: the run service's default
  // (1,000,000).
  int quota_runs = 0;
  int quota_workflows = 0;
  int quota_versions_per_workflow = 0;
  int quota_connectors = 0;
  std::shared_ptr<const net::EgressPolicy> egress;  // null: the defaults
  std::vector<std::string> trusted_proxies;          // CIDRs whose X-Forwarded-For counts
  // Outbound execution hooks (`hooks: {retry_schedule: [s, ...], timeout: s}`): the delays
  // before attempts 2, 3, ... (nullopt: the spec's 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
  // 10 h; [] = one attempt only) and the time one attempt may take (0: 15 s).
  std::optional<std::vector<std::chrono::seconds>> hook_retry_schedule;
  std::chrono::seconds hook_timeout{0};
  std::optional<AuditForwardConfig> audit_forward;  // nullopt: off
  std::optional<AuditSyslogConfig> audit_syslog;    // nullopt: off
  // `redaction: redact | block` (spec/security.md 1): what a secret value found in a step
  // output does, for every run: replaced by ***REDACTED*** (default), or the step fails
  // with secret_exposure and, under `serve`, the audit gets secret_exposure_attempt.
  // Every other exit (run record, errors, logs, responses) is always redacted.
  redact::Policy redaction = redact::Policy::kRedact;
};

// "" = no file: every default.
Result<Config> LoadConfig(const std::string& path);

// The data directory every command uses: its --data flag, else the config's `data`, else
// ./var.
std::string DataDir(const std::string& flag, const Config& config);

// The contents of a file that holds a secret (at most `max_bytes`): a regular file of
// mode 0600 or 0400, else kInvalidArgument "cannot read <what>" / "<what> must have mode
// 0600 or 0400 (chmod 600 it)". The contents never appear in an error.
Result<std::string> ReadPrivateFile(const std::string& path, size_t max_bytes,
                                    std::string_view what);

// A master key file: refused unless a regular file of mode 0600 or 0400 exactly;
// trailing whitespace dropped; at least 32 characters.
Result<std::string> ReadMasterKeyFile(const std::string& path);

// The master key the operator gave, never from argv, in the spec's order: the config's
// master_key_file, then stdin (`--master-key-stdin`), then RAMPART_MASTER_KEY. "" when
// none was given.
Result<std::string> OperatorMasterKey(const Config& config, bool from_stdin);

// The egress policy of the audit forwarder: the process policy (`egress`, or the
// defaults) widened by audit_forward.allow_cidrs and the URL's port, for that URL only.
net::EgressPolicy AuditForwardPolicy(const Config& config);

// The audit forwarding signing key: audit_forward.secret_file (a regular file of mode
// 0600/0400), else env RAMPART_AUDIT_FORWARD_SECRET; "whsec_<base64>" or raw bytes
// (audit::ForwardSigningKey). kInvalidArgument when neither is set or it is malformed;
// messages never carry the secret.
Result<std::string> AuditForwardKey(const Config& config);

// The previous master keys: each of previous_master_key_files (read like master_key_file:
// 0600/0400 only, >= 32 characters), then env RAMPART_PREVIOUS_MASTER_KEY (one key,
// >= 32 characters). Errors name the file's position in the list, never a key.
Result<std::vector<std::string>> PreviousMasterKeys(const Config& config);

}  // namespace rampart::cli
