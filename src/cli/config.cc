#include "cli/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <cstdlib>
#include <iostream>
#include <initializer_list>

#include "rampart/audit/retention.h"
#include "rampart/engine/engine.h"
#include "rampart/engine/local.h"
#include "rampart/model/workflow.h"
#include "rampart/audit/forwarder.h"
#include "rampart/net/ip.h"
#include "rampart/net/url.h"

namespace rampart::cli {
namespace {

constexpr size_t kMaxConfigBytes = 256 * 1024;
constexpr size_t kMaxKeyFileBytes = 64 * 1024;
constexpr size_t kMaxCaFileBytes = 1024 * 1024;  // a CA bundle
constexpr size_t kMinMasterKeyLength = 32;

// The PEM text of a `ca_file` (trusted CAs of an audit output), or why not: ".ca_file: ..."
// after the caller's key.
Result<std::string> ReadCaFile(const std::string& path) {
  auto pem = engine::ReadFileBounded(path, kMaxCaFileBytes);
  if (!pem.ok()) return MakeError(ErrorCode::kInvalidArgument, ".ca_file: " + pem.error().message);
  if (pem->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument, ".ca_file: no PEM certificate in it");
  }
  return pem;
}

Status Unknown(const boost::json::object& o, std::initializer_list<std::string_view> allowed,
               std::string_view where) {
  for (const auto& entry : o) {
    bool known = false;
    for (std::string_view k : allowed) known = known || entry.key() == k;
    if (!known) {
      return MakeError(ErrorCode::kInvalidArgument, "config: unknown key " + std::string(where) +
                                                        "/" + std::string(entry.key()));
    }
  }
  return Status::Ok();
}


Result<std::string> StringAt(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::string();
  if (!v->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument, "config: " + std::string(key) + " must be a string");
  }
  return std::string(v->as_string());
}

Result<std::vector<std::string>> StringsAt(const boost::json::object& o, std::string_view key) {
  std::vector<std::string> out;
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "config: " + std::string(key) + " must be a list");
  }
  for (const auto& item : v->as_array()) {
    if (!item.is_string()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "config: " + std::string(key) + " must be a list of strings");
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

// An integer in lo..hi at `key` of the mapping `where` ("" for the top level), else
// "config: [where.]key must be lo..hi<unit>"; `absent` when the key is not there (null is
// not an integer: refused).
Result<int> IntAt(const boost::json::object& o, std::string_view where, std::string_view key,
                  int lo, int hi, int absent, std::string_view unit = "") {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr) return absent;
  if (!v->is_int64() || v->as_int64() < lo || v->as_int64() > hi) {
    const std::string name =
        where.empty() ? std::string(key) : std::string(where) + "." + std::string(key);
    return MakeError(ErrorCode::kInvalidArgument, "config: " + name + " must be " +
                                                      std::to_string(lo) + ".." +
                                                      std::to_string(hi) + std::string(unit));
  }
  return static_cast<int>(v->as_int64());
}

// True when `text` holds no YAML node: blank lines, comments and document markers only
// (a config whose every line is commented out, as one starts from the spec's example).
bool HoldsNoNode(std::string_view text) {
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    for (std::string_view marker : {"---", "..."}) {
      if (line.substr(0, 3) == marker &&
          (line.size() == 3 || line[3] == ' ' || line[3] == '\t')) {
        line.remove_prefix(3);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
          line.remove_prefix(1);
        }
      }
    }
    if (!line.empty() && line.front() != '#') return false;
  }
  return true;
}

#define RAMPART_ASSIGN(target, expr)          \
  do {                                        \
    auto _r = (expr);                         \
    if (!_r.ok()) return _r.error();          \
    target = std::move(_r).value();           \
  } while (false)

net::EgressPolicy WidenForForward(net::EgressPolicy policy, const AuditForwardConfig& fwd,
                                  const net::Url& url) {
  policy.allow_cidrs.insert(policy.allow_cidrs.end(), fwd.allow_cidrs.begin(),
                            fwd.allow_cidrs.end());
  if (std::find(policy.allow_ports.begin(), policy.allow_ports.end(), url.port) ==
      policy.allow_ports.end()) {
    policy.allow_ports.push_back(url.port);
  }
  return policy;
}

// The URL is checked here against the egress rules it will be sent under (scheme, names,
// and an IP-literal host against the denied ranges), so a wrong URL stops the start; a
// name is resolved and checked again on every call.
Result<AuditForwardConfig> ParseAuditForward(const boost::json::value& v,
                                             const net::EgressPolicy& process) {
  auto fail = [](std::string msg) {
    return MakeError(ErrorCode::kInvalidArgument, "config: audit_forward" + std::move(msg));
  };
  if (!v.is_object()) return fail(" must be a mapping");
  const auto& f = v.as_object();
  if (Status s = Unknown(f, {"url", "secret_file", "batch", "interval_ms", "allow_cidrs", "ca_file"},
                         "audit_forward");
      !s.ok()) {
    return s.error();
  }
  AuditForwardConfig fwd;
  RAMPART_ASSIGN(fwd.url, StringAt(f, "url"));
  RAMPART_ASSIGN(fwd.secret_file, StringAt(f, "secret_file"));
  RAMPART_ASSIGN(fwd.batch, IntAt(f, "audit_forward", "batch", 1, 1000, fwd.batch));
  RAMPART_ASSIGN(fwd.interval_ms,
                 IntAt(f, "audit_forward", "interval_ms", 10, 3'600'000, fwd.interval_ms, " ms"));
  std::vector<std::string> cidrs;
  RAMPART_ASSIGN(cidrs, StringsAt(f, "allow_cidrs"));
  for (const std::string& cidr : cidrs) {
    auto parsed = net::ParseCidr(cidr);
    if (!parsed) return fail(".allow_cidrs: \"" + cidr + "\" is not a CIDR");
    fwd.allow_cidrs.push_back(*parsed);
  }
  std::string ca_file;
  RAMPART_ASSIGN(ca_file, StringAt(f, "ca_file"));
  if (!ca_file.empty()) {
    auto pem = ReadCaFile(ca_file);
    if (!pem.ok()) return fail(pem.error().message);
    fwd.ca_pem = std::move(*pem);
  }
  if (fwd.url.empty()) return fail(".url is required");
  // The URL is not echoed: its query may carry a token.
  auto url = net::ParseUrl(fwd.url);
  if (!url.ok()) return fail(".url is not a valid http(s) URL");
  const net::EgressPolicy policy = WidenForForward(process, fwd, *url);
  if (Status s = policy.CheckUrl(*url); !s.ok()) {
    return fail(".url is refused by the egress rules: " + s.error().message);
  }
  if (url->ip) {
    if (auto range = policy.DeniedAddress(*url->ip); range) {
      return fail(".url: " + url->host + " is in a denied range (" + std::string(*range) +
                  "); list it in audit_forward.allow_cidrs to allow it");
    }
  }
  return fwd;
}

// The address is checked here (a literal IP that is loopback or inside allow_cidrs; an
// absolute unix socket path), so a wrong one stops the start; a socket that does not
// exist yet does not (the forwarder retries until it appears).
Result<AuditSyslogConfig> ParseAuditSyslog(const boost::json::value& v) {
  auto fail = [](std::string msg) {
    return MakeError(ErrorCode::kInvalidArgument, "config: audit_syslog" + std::move(msg));
  };
  if (!v.is_object()) return fail(" must be a mapping");
  const auto& f = v.as_object();
  if (Status s = Unknown(f,
                         {"address", "facility", "app_name", "allow_cidrs", "ca_file",
                          "server_name", "cert_file", "key_file"},
                         "audit_syslog");
      !s.ok()) {
    return s.error();
  }
  AuditSyslogConfig syslog;
  std::string address, facility, app_name;
  RAMPART_ASSIGN(address, StringAt(f, "address"));
  RAMPART_ASSIGN(facility, StringAt(f, "facility"));
  RAMPART_ASSIGN(app_name, StringAt(f, "app_name"));
  auto given = [&f](std::string_view key) {
    const boost::json::value* value = f.if_contains(key);
    return value != nullptr && !value->is_null();
  };
  if (given("facility")) {
    auto parsed = audit::ParseSyslogFacility(facility);
    if (!parsed) return fail(".facility must be auth, authpriv or local0..local7");
    syslog.facility = *parsed;
  }
  if (given("app_name")) {
    if (!audit::ValidSyslogAppName(app_name)) {
      return fail(".app_name must be 1..48 printable ASCII characters, no space");
    }
    syslog.app_name = std::move(app_name);
  }
  std::vector<std::string> cidrs;
  RAMPART_ASSIGN(cidrs, StringsAt(f, "allow_cidrs"));
  for (const std::string& cidr : cidrs) {
    auto parsed = net::ParseCidr(cidr);
    if (!parsed) return fail(".allow_cidrs: \"" + cidr + "\" is not a CIDR");
    syslog.allow_cidrs.push_back(*parsed);
  }
  if (address.empty()) {
    return fail(
        ".address is required (unix:/dev/log, udp://IP:PORT, tcp://IP:PORT or tls://IP:PORT)");
  }
  auto parsed = audit::ParseSyslogAddress(address);
  if (!parsed.ok()) return fail(".address: " + parsed.error().message);
  if (Status s = audit::CheckSyslogDestination(*parsed, syslog.allow_cidrs); !s.ok()) {
    return fail(".address: " + s.error().message);
  }
  syslog.address = std::move(parsed).value();
  // TLS (RFC 5425): the files are read now, so a missing or unreadable one, a key file
  // others may read, or a certificate and key that do not match stop the start.
  std::string ca_file, server_name, cert_file, key_file;
  RAMPART_ASSIGN(ca_file, StringAt(f, "ca_file"));
  RAMPART_ASSIGN(server_name, StringAt(f, "server_name"));
  RAMPART_ASSIGN(cert_file, StringAt(f, "cert_file"));
  RAMPART_ASSIGN(key_file, StringAt(f, "key_file"));
  if (syslog.address.transport != audit::SyslogTransport::kTls) {
    for (std::string_view key : {"ca_file", "server_name", "cert_file", "key_file"}) {
      if (given(key)) return fail("." + std::string(key) + " is only for a tls:// address");
    }
    return syslog;
  }
  if (cert_file.empty() != key_file.empty()) {
    return fail(cert_file.empty() ? ".key_file needs cert_file (both or neither)"
                                  : ".cert_file needs key_file (both or neither)");
  }
  audit::SyslogTlsOptions& tls = syslog.tls;
  if (!ca_file.empty()) {
    auto pem = ReadCaFile(ca_file);
    if (!pem.ok()) return fail(pem.error().message);
    tls.ca_pem = std::move(*pem);
  }
  tls.server_name = std::move(server_name);
  if (!cert_file.empty()) {
    auto pem = engine::ReadFileBounded(cert_file, kMaxCaFileBytes);
    if (!pem.ok()) return fail(".cert_file: " + pem.error().message);
    tls.cert_pem = std::move(*pem);
    auto key = ReadPrivateFile(key_file, kMaxKeyFileBytes, "audit_syslog.key_file");
    if (!key.ok()) return MakeError(ErrorCode::kInvalidArgument, "config: " + key.error().message);
    tls.key_pem = std::move(*key);
  }
  if (Status s = audit::CheckSyslogTls(tls); !s.ok()) {
    return fail("." + s.error().message);
  }
  return syslog;
}

}  // namespace

Result<Config> LoadConfig(const std::string& path) {
  Config config;
  if (path.empty()) return config;
  auto text = engine::ReadFileBounded(path, kMaxConfigBytes);
  if (!text.ok()) {
    // Why (no such file, a directory, over the size limit): the path is the caller's own
    // argument, and nothing of the file's content is in the message.
    return MakeError(ErrorCode::kInvalidArgument,
                     "cannot read the config file " + text.error().message);
  }
  if (HoldsNoNode(*text)) return config;  // every default
  auto doc = model::YamlToJson(*text);
  if (!doc.ok()) return MakeError(ErrorCode::kInvalidArgument, "config: " + doc.error().message);
  if (doc->is_null()) return config;
  if (!doc->is_object()) return MakeError(ErrorCode::kInvalidArgument, "config: not a mapping");
  const auto& o = doc->as_object();
  if (Status s = Unknown(o, {"listen", "data", "tls", "master_key_file", "egress",
                             "trusted_proxies", "jwt", "cors_origins", "max_concurrent_runs",
                             "previous_master_key_files",
                             "io_threads", "max_queued_runs", "max_run_record_bytes", "hooks",
                             "runs_retention_days", "audit_retention_days",
                             "webhook_org_rate_limit", "api_rate_limit", "quotas",
                             "audit_forward", "audit_syslog", "redaction"},
                         "");
      !s.ok()) {
    return s.error();
  }
  if (const auto* r = o.if_contains("redaction"); r != nullptr && !r->is_null()) {
    std::optional<redact::Policy> policy;
    if (r->is_string()) policy = redact::ParsePolicy(r->get_string());
    if (!policy) {
      return MakeError(ErrorCode::kInvalidArgument, "config: redaction must be redact or block");
    }
    config.redaction = *policy;
  }
  RAMPART_ASSIGN(config.trusted_proxies, StringsAt(o, "trusted_proxies"));
  for (const std::string& cidr : config.trusted_proxies) {
    if (!net::ParseCidr(cidr).has_value()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "config: trusted_proxies: \"" + cidr + "\" is not a CIDR");
    }
  }
  if (const auto* egress = o.if_contains("egress"); egress != nullptr && !egress->is_null()) {
    if (!egress->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "config: egress must be a mapping");
    }
    auto policy = net::ParseEgressPolicy(egress->as_object());
    if (!policy.ok()) {
      return MakeError(ErrorCode::kInvalidArgument, "config: egress: " + policy.error().message);
    }
    config.egress = std::make_shared<const net::EgressPolicy>(std::move(policy).value());
  }
  RAMPART_ASSIGN(config.listen, StringAt(o, "listen"));
  RAMPART_ASSIGN(config.data, StringAt(o, "data"));
  RAMPART_ASSIGN(config.master_key_file, StringAt(o, "master_key_file"));
  RAMPART_ASSIGN(config.previous_master_key_files, StringsAt(o, "previous_master_key_files"));
  for (const std::string& file : config.previous_master_key_files) {
    if (file.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "config: previous_master_key_files entries must not be empty");
    }
  }
  RAMPART_ASSIGN(config.cors_origins, StringsAt(o, "cors_origins"));
  RAMPART_ASSIGN(config.max_concurrent_runs,
                 IntAt(o, "", "max_concurrent_runs", 1, 100, config.max_concurrent_runs));
  RAMPART_ASSIGN(config.io_threads, IntAt(o, "", "io_threads", 1, 1024, config.io_threads));
  RAMPART_ASSIGN(config.max_queued_runs,
                 IntAt(o, "", "max_queued_runs", 1, 1'000'000, config.max_queued_runs));
  RAMPART_ASSIGN(config.max_run_record_bytes,
                 IntAt(o, "", "max_run_record_bytes",
                       static_cast<int>(engine::kMinMaxRunRecordBytes),
                       static_cast<int>(engine::kMaxMaxRunRecordBytes),
                       config.max_run_record_bytes, " bytes"));
  RAMPART_ASSIGN(config.runs_retention_days,
                 IntAt(o, "", "runs_retention_days", 0, 3650, config.runs_retention_days,
                       " days (0 keeps runs forever)"));
  // Audit events are kept at least 30 days when retention is on: investigations of an
  // incident start after it is noticed, and need the history before it.
  {
    auto days = IntAt(o, "", "audit_retention_days", 0, 36500, config.audit_retention_days);
    if (!days.ok() || (*days != 0 && *days < audit::kMinAuditRetentionDays)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "config: audit_retention_days must be 0 (keep forever) or 30..36500 days");
    }
    config.audit_retention_days = *days;
  }
  if (const auto* limit = o.if_contains("webhook_org_rate_limit");
      limit != nullptr && !limit->is_null()) {
    if (!limit->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "config: webhook_org_rate_limit must be a mapping");
    }
    const auto& l = limit->as_object();
    if (Status s = Unknown(l, {"rpm", "burst"}, "webhook_org_rate_limit"); !s.ok()) return s.error();
    RAMPART_ASSIGN(config.webhook_org_rpm, IntAt(l, "webhook_org_rate_limit", "rpm", 1,
                                                 100'000'000, config.webhook_org_rpm));
    RAMPART_ASSIGN(config.webhook_org_burst, IntAt(l, "webhook_org_rate_limit", "burst", 1,
                                                   1'000'000, config.webhook_org_burst));
  }
  if (const auto* limit = o.if_contains("api_rate_limit"); limit != nullptr && !limit->is_null()) {
    if (!limit->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "config: api_rate_limit must be a mapping");
    }
    const auto& l = limit->as_object();
    if (Status s = Unknown(l, {"rpm", "burst"}, "api_rate_limit"); !s.ok()) return s.error();
    // rpm 0 turns the limit off; a burst of 0 would refuse every request.
    if (l.contains("rpm")) {
      RAMPART_ASSIGN(config.api_rpm, IntAt(l, "api_rate_limit", "rpm", 0, 100'000'000, 0));
    }
    if (l.contains("burst")) {
      RAMPART_ASSIGN(config.api_burst, IntAt(l, "api_rate_limit", "burst", 1, 1'000'000, 1));
    }
  }
  if (const auto* quotas = o.if_contains("quotas"); quotas != nullptr && !quotas->is_null()) {
    if (!quotas->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "config: quotas must be a mapping");
    }
    const auto& q = quotas->as_object();
    if (Status s = Unknown(q, {"workflows", "versions_per_workflow", "connectors", "runs"},
                           "quotas");
        !s.ok()) {
      return s.error();
    }
    RAMPART_ASSIGN(config.quota_workflows,
                   IntAt(q, "quotas", "workflows", 1, 1'000'000, config.quota_workflows));
    RAMPART_ASSIGN(config.quota_versions_per_workflow,
                   IntAt(q, "quotas", "versions_per_workflow", 1, 1'000'000,
                         config.quota_versions_per_workflow));
    RAMPART_ASSIGN(config.quota_connectors,
                   IntAt(q, "quotas", "connectors", 1, 1'000'000, config.quota_connectors));
    RAMPART_ASSIGN(config.quota_runs,
                   IntAt(q, "quotas", "runs", 1, 1'000'000'000, config.quota_runs));
  }
  if (const auto* hooks = o.if_contains("hooks"); hooks != nullptr && !hooks->is_null()) {
    if (!hooks->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "config: hooks must be a mapping");
    }
    const auto& h = hooks->as_object();
    if (Status s = Unknown(h, {"retry_schedule", "timeout"}, "hooks"); !s.ok()) return s.error();
    if (const auto* v = h.if_contains("retry_schedule"); v != nullptr) {
      // At most 20 retries, each at most a day later than the one before.
      if (!v->is_array() || v->as_array().size() > 20) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "config: hooks.retry_schedule must be a list of at most 20 delays");
      }
      std::vector<std::chrono::seconds> schedule;
      for (const auto& d : v->as_array()) {
        if (!d.is_int64() || d.as_int64() < 1 || d.as_int64() > 86400) {
          return MakeError(ErrorCode::kInvalidArgument,
                           "config: hooks.retry_schedule delays must be 1..86400 seconds");
        }
        schedule.emplace_back(d.as_int64());
      }
      config.hook_retry_schedule = std::move(schedule);
    }
    int timeout = 0;
    RAMPART_ASSIGN(timeout, IntAt(h, "hooks", "timeout", 1, 300, 0, " seconds"));
    if (timeout > 0) config.hook_timeout = std::chrono::seconds(timeout);
  }
  if (const auto* fwd = o.if_contains("audit_forward"); fwd != nullptr && !fwd->is_null()) {
    auto parsed = ParseAuditForward(*fwd, config.egress ? *config.egress : net::EgressPolicy{});
    if (!parsed.ok()) return parsed.error();
    config.audit_forward = std::move(parsed).value();
  }
  if (const auto* syslog = o.if_contains("audit_syslog"); syslog != nullptr && !syslog->is_null()) {
    auto parsed = ParseAuditSyslog(*syslog);
    if (!parsed.ok()) return parsed.error();
    config.audit_syslog = std::move(parsed).value();
  }
  if (const auto* tls = o.if_contains("tls"); tls != nullptr && !tls->is_null()) {
    if (!tls->is_object()) return MakeError(ErrorCode::kInvalidArgument, "config: tls must be a mapping");
    if (Status s = Unknown(tls->as_object(), {"cert", "key"}, "tls"); !s.ok()) return s.error();
    RAMPART_ASSIGN(config.tls_cert, StringAt(tls->as_object(), "cert"));
    RAMPART_ASSIGN(config.tls_key, StringAt(tls->as_object(), "key"));
    if (config.tls_cert.empty() != config.tls_key.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "config: tls needs both cert and key");
    }
  }
  if (const auto* jwt = o.if_contains("jwt"); jwt != nullptr && !jwt->is_null()) {
    if (!jwt->is_object()) return MakeError(ErrorCode::kInvalidArgument, "config: jwt must be a mapping");
    const auto& j = jwt->as_object();
    if (Status s = Unknown(j, {"issuer", "audience", "jwks_file", "pem_file", "algorithms",
                               "min_rsa_bits"},
                           "jwt");
        !s.ok()) {
      return s.error();
    }
    RAMPART_ASSIGN(config.jwt_issuer, StringAt(j, "issuer"));
    RAMPART_ASSIGN(config.jwt_audience, StringAt(j, "audience"));
    RAMPART_ASSIGN(config.jwt_jwks_file, StringAt(j, "jwks_file"));
    RAMPART_ASSIGN(config.jwt_pem_file, StringAt(j, "pem_file"));
    RAMPART_ASSIGN(config.jwt_algorithms, StringsAt(j, "algorithms"));
    RAMPART_ASSIGN(config.jwt_min_rsa_bits,
                   IntAt(j, "jwt", "min_rsa_bits", 2048, 8192, config.jwt_min_rsa_bits, " bits"));
    if (config.jwt_issuer.empty() || config.jwt_audience.empty() ||
        config.jwt_jwks_file.empty() == config.jwt_pem_file.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "config: jwt needs issuer, audience and one of jwks_file or pem_file");
    }
  }
  return config;
}


std::string DataDir(const std::string& flag, const Config& config) {
  if (!flag.empty()) return flag;
  return !config.data.empty() ? config.data : "./var";
}

Result<std::string> ReadPrivateFile(const std::string& path, size_t max_bytes,
                                    std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot read " + std::string(what));
  }
  // Exactly 0600 or 0400 (security.md 1), not any mode without group/other bits: an
  // executable or write-only key file is a mistake worth stopping at.
  if (const mode_t mode = st.st_mode & 07777; mode != 0600 && mode != 0400) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(what) + " must have mode 0600 or 0400 (chmod 600 it)");
  }
  auto text = engine::ReadFileBounded(path, max_bytes);
  if (!text.ok()) return MakeError(ErrorCode::kInvalidArgument, "cannot read " + std::string(what));
  return std::move(text).value();
}

Result<std::string> ReadMasterKeyFile(const std::string& path) {
  auto text = ReadPrivateFile(path, kMaxKeyFileBytes, "the master key file");
  if (!text.ok()) return text.error();
  std::string key = std::move(text).value();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) {
    key.pop_back();
  }
  if (key.size() < kMinMasterKeyLength) {
    return MakeError(ErrorCode::kInvalidArgument, "the master key must be at least 32 characters");
  }
  return key;
}

Result<std::string> OperatorMasterKey(const Config& config, bool from_stdin) {
  if (!config.master_key_file.empty()) return ReadMasterKeyFile(config.master_key_file);
  if (from_stdin) {
    std::string key;
    std::getline(std::cin, key);
    if (key.size() < kMinMasterKeyLength) {
      return MakeError(ErrorCode::kInvalidArgument, "the master key must be at least 32 characters");
    }
    return key;
  }
  if (const char* env = std::getenv("RAMPART_MASTER_KEY"); env != nullptr && *env != 0) {
    if (std::string_view(env).size() < kMinMasterKeyLength) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "RAMPART_MASTER_KEY must be at least 32 characters");
    }
    return std::string(env);
  }
  return std::string();
}

net::EgressPolicy AuditForwardPolicy(const Config& config) {
  net::EgressPolicy process = config.egress ? *config.egress : net::EgressPolicy{};
  if (!config.audit_forward) return process;
  auto url = net::ParseUrl(config.audit_forward->url);
  if (!url.ok()) return process;  // LoadConfig refused it already
  return WidenForForward(std::move(process), *config.audit_forward, *url);
}

Result<std::string> AuditForwardKey(const Config& config) {
  if (!config.audit_forward) return MakeError(ErrorCode::kInvalidArgument, "audit_forward is off");
  std::string secret;
  if (!config.audit_forward->secret_file.empty()) {
    auto text = ReadPrivateFile(config.audit_forward->secret_file, kMaxKeyFileBytes,
                                "audit_forward.secret_file");
    if (!text.ok()) return text.error();
    secret = std::move(text).value();
  } else if (const char* env = std::getenv("RAMPART_AUDIT_FORWARD_SECRET");
             env != nullptr && *env != 0) {
    secret = env;
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "audit_forward needs a secret: secret_file or RAMPART_AUDIT_FORWARD_SECRET");
  }
  return audit::ForwardSigningKey(secret);
}

Result<std::vector<std::string>> PreviousMasterKeys(const Config& config) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < config.previous_master_key_files.size(); ++i) {
    auto key = ReadMasterKeyFile(config.previous_master_key_files[i]);
    if (!key.ok()) {
      return MakeError(key.error().code, "previous_master_key_files[" + std::to_string(i) +
                                             "]: " + key.error().message);
    }
    keys.push_back(std::move(key).value());
  }
  if (const char* env = std::getenv("RAMPART_PREVIOUS_MASTER_KEY"); env != nullptr && *env != 0) {
    if (std::string_view(env).size() < kMinMasterKeyLength) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "RAMPART_PREVIOUS_MASTER_KEY must be at least 32 characters");
    }
    keys.emplace_back(env);
  }
  return keys;
}

}  // namespace rampart::cli
