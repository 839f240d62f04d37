// The config's audit_forward block: validated strictly at load (unknown keys, ranges, the
// URL against the egress rules it will be sent under), and its secret read from a file
// of mode 0600/0400 or the environment, never echoed.
#include "cli/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "server/testing/self_signed_cert.h"

namespace rampart::cli {
namespace {

constexpr const char* kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() {
    std::string pattern = ::testing::TempDir() + "rampart_config_XXXXXX";
    dir_ = ::mkdtemp(pattern.data());
    ::unsetenv("RAMPART_AUDIT_FORWARD_SECRET");
  }
  ~ConfigTest() override {
    std::remove((dir_ + "/config.yaml").c_str());
    std::remove((dir_ + "/secret").c_str());
    ::rmdir(dir_.c_str());
    ::unsetenv("RAMPART_AUDIT_FORWARD_SECRET");
  }

  Result<Config> Load(const std::string& yaml) {
    std::ofstream(dir_ + "/config.yaml") << yaml;
    return LoadConfig(dir_ + "/config.yaml");
  }
  std::string Secret(const std::string& content, mode_t mode) {
    const std::string path = dir_ + "/secret";
    std::remove(path.c_str());
    std::ofstream(path) << content;
    ::chmod(path.c_str(), mode);
    return path;
  }
  // The load's error message, "" when it loaded.
  std::string Refusal(const std::string& yaml) {
    auto c = Load(yaml);
    return c.ok() ? "" : c.error().message;
  }

  std::string dir_;
};

TEST_F(ConfigTest, JwtMinRsaBitsDefaultsTo2048AndIsBounded) {
  const std::string jwt = "jwt: {issuer: i, audience: a, pem_file: k.pem";
  auto c = Load(jwt + "}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->jwt_min_rsa_bits, 2048);
  c = Load(jwt + ", min_rsa_bits: 3072}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->jwt_min_rsa_bits, 3072);
  for (const char* bad : {"1024", "8193", "\"3072\""}) {
    c = Load(jwt + ", min_rsa_bits: " + bad + "}\n");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.error().message, "config: jwt.min_rsa_bits must be 2048..8192 bits") << bad;
  }
}

TEST_F(ConfigTest, AuditForwardIsOffWhenAbsentAndParsedWithDefaults) {
  EXPECT_FALSE(Load("listen: 127.0.0.1:0\n")->audit_forward.has_value());
  auto c = Load("audit_forward: {url: \"https://collector.example.com/audit\"}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_TRUE(c->audit_forward.has_value());
  EXPECT_EQ(c->audit_forward->batch, 100);
  EXPECT_EQ(c->audit_forward->interval_ms, 1000);
  c = Load(
      "audit_forward:\n  url: https://127.0.0.1:9443/in\n  batch: 1000\n  interval_ms: 50\n"
      "  allow_cidrs: [127.0.0.1/32]\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->audit_forward->batch, 1000);
  // Widened for this URL only: the process policy stays as it was.
  EXPECT_TRUE(c->egress == nullptr);
  const net::EgressPolicy policy = AuditForwardPolicy(*c);
  ASSERT_EQ(policy.allow_cidrs.size(), 1u);
  EXPECT_FALSE(policy.DeniedAddress(*net::ParseIp("127.0.0.1")).has_value());
  EXPECT_TRUE(policy.DeniedAddress(*net::ParseIp("10.0.0.1")).has_value());
}

TEST_F(ConfigTest, AuditForwardRefusesBadValuesWithClearErrors) {
  EXPECT_NE(Refusal("audit_forward: {url: \"http://collector.example.com/\"}\n")
                .find("audit_forward.url is refused by the egress rules"),
            std::string::npos);
  // A private address without allow_cidrs, and one that allow_cidrs does not cover.
  EXPECT_NE(Refusal("audit_forward: {url: \"https://10.1.2.3/in\"}\n").find("denied range"),
            std::string::npos);
  EXPECT_NE(Refusal("audit_forward: {url: \"https://127.0.0.1/in\", allow_cidrs: [10.0.0.0/8]}\n")
                .find("list it in audit_forward.allow_cidrs"),
            std::string::npos);
  EXPECT_NE(Refusal("audit_forward: {url: \"https://[::1]/in\"}\n").find("denied range"),
            std::string::npos);
  EXPECT_NE(Refusal("audit_forward: {url: \"ftp://x.example.com/\"}\n").find("audit_forward.url"),
            std::string::npos);
  EXPECT_NE(Refusal("audit_forward: {}\n").find("audit_forward.url is required"),
            std::string::npos);
  EXPECT_NE(Refusal("audit_forward: {url: \"https://a.example.com/\", secret: x}\n")
                .find("unknown key audit_forward/secret"),
            std::string::npos);
  for (const char* bad : {"0", "1001", "\"10\""}) {
    EXPECT_NE(Refusal(std::string("audit_forward: {url: \"https://a.example.com/\", batch: ") +
                      bad + "}\n")
                  .find("audit_forward.batch must be 1..1000"),
              std::string::npos)
        << bad;
  }
  EXPECT_NE(Refusal("audit_forward: {url: \"https://a.example.com/\", interval_ms: 5}\n")
                .find("audit_forward.interval_ms must be"),
            std::string::npos);
  EXPECT_NE(Refusal("audit_forward: {url: \"https://a.example.com/\", allow_cidrs: [nope]}\n")
                .find("is not a CIDR"),
            std::string::npos);
  EXPECT_NE(Refusal("audit_forward: [1]\n").find("audit_forward must be a mapping"),
            std::string::npos);
  // Plain http when the process allows it, and the query (maybe a token) never echoed.
  EXPECT_EQ(Refusal("egress: {allow_http: true}\naudit_forward: {url: \"http://a.example.com/\"}\n"),
            "");
  EXPECT_EQ(Refusal("audit_forward: {url: \"https://10.0.0.1/?token=tok-Secret-77\"}\n")
                .find("tok-Secret-77"),
            std::string::npos);
}

TEST_F(ConfigTest, AuditForwardCaFileReplacesTheTrustStoreAndMustHoldACertificate) {
  const std::string ca = dir_ + "/ca.pem";
  std::ofstream(ca) << "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  auto c = Load("audit_forward: {url: \"https://collector.example.com/\", ca_file: \"" + ca +
                "\"}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_NE(c->audit_forward->ca_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_TRUE(Load("audit_forward: {url: \"https://collector.example.com/\"}\n")
                  ->audit_forward->ca_pem.empty());
  // A missing file, or one with no certificate (e.g. a key given by mistake), stops the start.
  EXPECT_NE(Refusal("audit_forward: {url: \"https://a.example.com/\", ca_file: \"" + dir_ +
                    "/missing.pem\"}\n")
                .find("audit_forward.ca_file"),
            std::string::npos);
  std::ofstream(ca, std::ios::trunc) << "-----BEGIN PRIVATE KEY-----\nMIIB\n";
  EXPECT_NE(Refusal("audit_forward: {url: \"https://a.example.com/\", ca_file: \"" + ca + "\"}\n")
                .find("no PEM certificate"),
            std::string::npos);
  std::remove(ca.c_str());
}

TEST_F(ConfigTest, AuditForwardSecretFromAPrivateFileOrTheEnvironment) {
  auto c = Load("audit_forward: {url: \"https://a.example.com/\"}\n");
  ASSERT_TRUE(c.ok());
  auto none = AuditForwardKey(*c);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("RAMPART_AUDIT_FORWARD_SECRET"), std::string::npos);

  ::setenv("RAMPART_AUDIT_FORWARD_SECRET", kSecret, 1);
  auto from_env = AuditForwardKey(*c);
  ASSERT_TRUE(from_env.ok());
  EXPECT_EQ(from_env->size(), 24u);  // the decoded whsec key

  const std::string readable = Secret(std::string(kSecret) + "\n", 0644);
  c = Load("audit_forward: {url: \"https://a.example.com/\", secret_file: \"" + readable + "\"}\n");
  ASSERT_TRUE(c.ok());
  auto refused = AuditForwardKey(*c);  // the file wins over the environment, and is refused
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("mode 0600 or 0400"), std::string::npos);
  Secret("raw-bytes-secret-0123456789\n", 0400);
  auto raw = AuditForwardKey(*c);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(*raw, "raw-bytes-secret-0123456789");
  Secret("whsec_%%%not-base64%%%", 0600);
  auto bad = AuditForwardKey(*c);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.find("not-base64"), std::string::npos);
}

// security.md 1: a key file is "refused unless mode 0600/0400"; interfaces.md: the
// secrets file is 0600. Any other mode is refused, also one without group/other bits
// (0700, 0200, 0500) and one with set-id or sticky bits.
TEST_F(ConfigTest, PrivateFilesAreReadOnlyAtMode0600Or0400) {
  for (mode_t mode : {0600, 0400}) {
    const std::string path = Secret("private", mode);
    auto read = ReadPrivateFile(path, 1024, "the secrets file");
    ASSERT_TRUE(read.ok()) << std::oct << mode << ": " << read.error().message;
    EXPECT_EQ(*read, "private");
  }
  for (mode_t mode : {0700, 0500, 0200, 0000, 0640, 0604, 0644, 0660, 04600, 01600}) {
    const std::string path = Secret("private", mode);
    auto read = ReadPrivateFile(path, 1024, "the secrets file");
    ASSERT_FALSE(read.ok()) << std::oct << mode;
    EXPECT_EQ(read.error().message, "the secrets file must have mode 0600 or 0400 (chmod 600 it)")
        << std::oct << mode;
  }
}

// spec/interfaces.md "Configuration file": the spec's own example loads as written (with
// real values for jwt's placeholders), every key meaning what the spec says.
TEST_F(ConfigTest, TheSpecExampleLoadsWithEveryKey) {
  auto c = Load(R"(listen: 127.0.0.1:8787
data: ./var
tls: { cert: server.crt, key: server.key }      # optional
master_key_file: master.key                      # 0600; or env RAMPART_MASTER_KEY; or --master-key-stdin
egress:                                          # defaults for every outbound call
  allow_http: false                              # https only unless true
  allow_cidrs: []                                # explicit exceptions to the denied ranges, e.g. ["127.0.0.1/32"]
  allow_domains: []                              # globs; empty = any public name
  deny_domains: []
  allow_ports: [443, 80]
trusted_proxies: []                              # CIDRs whose X-Forwarded-For is believed
jwt: { issuer: https://idp.example.com, audience: rampart, jwks_file: jwks.json, algorithms: [RS256, ES256, EdDSA] }   # optional
)");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->listen, "127.0.0.1:8787");
  EXPECT_EQ(DataDir("", *c), "./var");
  EXPECT_EQ(c->tls_cert, "server.crt");
  EXPECT_EQ(c->tls_key, "server.key");
  EXPECT_EQ(c->master_key_file, "master.key");
  ASSERT_NE(c->egress, nullptr);
  EXPECT_FALSE(c->egress->allow_http);
  EXPECT_TRUE(c->egress->allow_cidrs.empty());
  EXPECT_TRUE(c->egress->allow_domains.empty());
  EXPECT_TRUE(c->egress->deny_domains.empty());
  EXPECT_EQ(c->egress->allow_ports, (std::vector<uint16_t>{443, 80}));
  EXPECT_TRUE(c->trusted_proxies.empty());
  EXPECT_EQ(c->jwt_issuer, "https://idp.example.com");
  EXPECT_EQ(c->jwt_audience, "rampart");
  EXPECT_EQ(c->jwt_jwks_file, "jwks.json");
  EXPECT_EQ(c->jwt_algorithms, (std::vector<std::string>{"RS256", "ES256", "EdDSA"}));
  // The example's commented exception, set for real.
  c = Load("egress: {allow_cidrs: [\"127.0.0.1/32\"], allow_domains: [\"*.acme.test\"]}\n"
           "trusted_proxies: [\"10.0.0.0/8\"]\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_EQ(c->egress->allow_cidrs.size(), 1u);
  EXPECT_EQ(c->egress->allow_cidrs[0].ToString(), "127.0.0.1/32");
  EXPECT_EQ(c->egress->allow_domains, (std::vector<std::string>{"*.acme.test"}));
  EXPECT_EQ(c->egress->allow_ports, (std::vector<uint16_t>{443, 80}));  // the default stays
  EXPECT_EQ(c->trusted_proxies, (std::vector<std::string>{"10.0.0.0/8"}));
}

// Every key is optional; what is left out has the spec's default (listen and data are
// resolved by serve / DataDir; egress null = net::EgressPolicy's defaults).
TEST_F(ConfigTest, AbsentKeysHaveTheSpecDefaults) {
  auto c = Load("listen: 127.0.0.1:9999\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(DataDir("", *c), "./var");
  EXPECT_EQ(DataDir("/flag", *c), "/flag");
  EXPECT_EQ(c->egress, nullptr);
  const net::EgressPolicy defaults;
  EXPECT_FALSE(defaults.allow_http);
  EXPECT_TRUE(defaults.allow_cidrs.empty());
  EXPECT_TRUE(defaults.allow_domains.empty());
  EXPECT_TRUE(defaults.deny_domains.empty());
  EXPECT_EQ(defaults.allow_ports, (std::vector<uint16_t>{443, 80}));
  EXPECT_TRUE(c->trusted_proxies.empty());
  EXPECT_TRUE(c->tls_cert.empty());
  EXPECT_TRUE(c->jwt_issuer.empty());
  EXPECT_TRUE(c->master_key_file.empty());
  // Part of a block: the rest of it keeps its default.
  c = Load("egress: {allow_http: true}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->egress->allow_http);
  EXPECT_EQ(c->egress->allow_ports, (std::vector<uint16_t>{443, 80}));
}

// A config file with every line commented out (how one starts from the spec's example),
// or an empty one, is a config of defaults, not an error.
TEST_F(ConfigTest, AFileOfCommentsOnlyIsAllDefaults) {
  for (const char* yaml : {"", "\n", "# listen: 127.0.0.1:8787\n#data: ./var\n",
                           "  # indented comment\n\n", "---\n", "--- # nothing\n"}) {
    auto c = Load(yaml);
    ASSERT_TRUE(c.ok()) << "'" << yaml << "': " << c.error().message;
    EXPECT_TRUE(c->listen.empty());
    EXPECT_EQ(DataDir("", *c), "./var");
    EXPECT_EQ(c->egress, nullptr);
  }
  // Not a loophole: a document that is not a mapping is still refused.
  EXPECT_NE(Refusal("just a string\n"), "");
  EXPECT_NE(Refusal("- a\n- b\n"), "");
  EXPECT_NE(Refusal("# comment\nbogus: 1\n"), "");
}

// A config that cannot be used is one clear error: which file problem (missing, a
// directory, over the size limit), or which YAML problem (several documents, an alias
// bomb, a non-mapping, an unknown key, a wrong type, an out-of-range value).
TEST_F(ConfigTest, EveryUnusableConfigIsAClearError) {
  auto read_error = [](const std::string& path) {
    auto c = LoadConfig(path);
    return c.ok() ? std::string() : c.error().message;
  };
  const std::string missing = dir_ + "/missing.yaml";
  EXPECT_NE(read_error(missing).find("cannot read the config file"), std::string::npos);
  EXPECT_NE(read_error(missing).find("no such file"), std::string::npos) << read_error(missing);
  EXPECT_NE(read_error(dir_).find("is a directory"), std::string::npos) << read_error(dir_);
  const std::string huge = std::string(300 * 1024, '#') + "\n";
  EXPECT_NE(Refusal(huge).find("larger than 262144 bytes"), std::string::npos) << Refusal(huge);

  EXPECT_EQ(Refusal("listen: 127.0.0.1:1\n---\ndata: x\n"),
            "config: expected exactly one YAML document");
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    const char prev = static_cast<char>(c - 1);
    bomb += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) bomb += std::string(i ? ", *" : "*") + prev;
    bomb += "]\n";
  }
  EXPECT_NE(Refusal(bomb).find("anchors/aliases"), std::string::npos) << Refusal(bomb);
  EXPECT_EQ(Refusal("lisen: 127.0.0.1:1\n"), "config: unknown key /lisen");
  EXPECT_EQ(Refusal("jwt: {issuer: i, audience: a, jwks_file: f, algs: [RS256]}\n"),
            "config: unknown key jwt/algs");
  EXPECT_EQ(Refusal("listen: [1]\n"), "config: listen must be a string");
  EXPECT_EQ(Refusal("max_concurrent_runs: \"10\"\n"), "config: max_concurrent_runs must be 1..100");
  EXPECT_EQ(Refusal("max_concurrent_runs: 101\n"), "config: max_concurrent_runs must be 1..100");
  EXPECT_EQ(Refusal("trusted_proxies: 10.0.0.0/8\n"), "config: trusted_proxies must be a list");
  EXPECT_NE(Refusal("egress: {allow_ports: [0]}\n"), "");
  EXPECT_NE(Refusal("tls: {cert: a.crt}\n"), "");
  auto c = Load("max_concurrent_runs: 100\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->max_concurrent_runs, 100);
}

// `redaction`: what a secret value found in a step output does (spec/security.md 1,
// "Policy `redact` (default) ... policy `block`"), for `serve` and `run` alike.
TEST_F(ConfigTest, RedactionPolicyDefaultsToRedactAndTakesBlock) {
  auto c = Load("listen: 127.0.0.1:9999\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->redaction, redact::Policy::kRedact);
  c = Load("redaction: block\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->redaction, redact::Policy::kBlock);
  c = Load("redaction: redact\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->redaction, redact::Policy::kRedact);
  EXPECT_EQ(Refusal("redaction: Block\n"), "config: redaction must be redact or block");
  EXPECT_EQ(Refusal("redaction: [block]\n"), "config: redaction must be redact or block");
  EXPECT_EQ(Refusal("redaction: 1\n"), "config: redaction must be redact or block");
}

TEST_F(ConfigTest, AuditSyslogIsOffWhenAbsentAndParsedWithDefaults) {
  EXPECT_FALSE(Load("listen: 127.0.0.1:0\n")->audit_syslog.has_value());
  auto c = Load("audit_syslog: {address: \"unix:/dev/log\"}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  ASSERT_TRUE(c->audit_syslog.has_value());
  EXPECT_EQ(c->audit_syslog->address.transport, audit::SyslogTransport::kUnix);
  EXPECT_EQ(c->audit_syslog->address.path, "/dev/log");
  EXPECT_EQ(c->audit_syslog->facility, 10);  // authpriv
  EXPECT_EQ(c->audit_syslog->app_name, "rampart");
  c = Load(
      "audit_syslog:\n  address: tcp://10.1.2.3:6514\n  facility: local3\n"
      "  app_name: rampart-prod\n  allow_cidrs: [10.1.0.0/16]\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->audit_syslog->address.transport, audit::SyslogTransport::kTcp);
  EXPECT_EQ(c->audit_syslog->address.port, 6514);
  EXPECT_EQ(c->audit_syslog->facility, 19);
  EXPECT_EQ(c->audit_syslog->app_name, "rampart-prod");
  for (const char* ok : {"udp://127.0.0.1:514", "tcp://[::1]:514"}) {
    EXPECT_EQ(Refusal(std::string("audit_syslog: {address: \"") + ok + "\", facility: auth}\n"), "")
        << ok;
  }
  // With audit_forward: both outputs, each with its own position.
  c = Load(
      "audit_forward: {url: \"https://collector.example.com/audit\"}\n"
      "audit_syslog: {address: \"udp://127.0.0.1:514\"}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_TRUE(c->audit_forward.has_value() && c->audit_syslog.has_value());
}

TEST_F(ConfigTest, AuditSyslogRefusesBadValuesWithClearErrors) {
  const auto refusal = [&](const std::string& block) {
    return Refusal("audit_syslog: " + block + "\n");
  };
  EXPECT_EQ(refusal("{}"),
            "config: audit_syslog.address is required (unix:/dev/log, "
            "udp://IP:PORT, tcp://IP:PORT or tls://IP:PORT)");
  EXPECT_EQ(refusal("[1]"), "config: audit_syslog must be a mapping");
  EXPECT_EQ(refusal("{address: \"unix:/dev/log\", url: x}"),
            "config: unknown key audit_syslog/url");
  EXPECT_EQ(refusal("{address: \"unix:dev/log\"}"),
            "config: audit_syslog.address: the unix socket path must be absolute (unix:/dev/log)");
  EXPECT_EQ(refusal("{address: \"udp://syslog.example.com:514\"}"),
            "config: audit_syslog.address: the host must be a literal IP address (names are not "
            "resolved)");
  EXPECT_NE(refusal("{address: \"tcp://127.0.0.1\"}").find("audit_syslog.address: needs a port"),
            std::string::npos);
  EXPECT_EQ(refusal("{address: \"tcp://127.0.0.1:0\"}"),
            "config: audit_syslog.address: the port must be 1..65535");
  EXPECT_NE(refusal("{address: \"https://127.0.0.1:514\"}").find("audit_syslog.address: must be"),
            std::string::npos);
  EXPECT_NE(refusal("{address: 514}").find("address must be a string"), std::string::npos);
  // Not loopback and not in allow_cidrs, or in a range allow_cidrs does not cover.
  for (const char* address : {"udp://10.0.0.5:514", "tcp://169.254.169.254:514",
                              "tcp://8.8.8.8:514"}) {
    EXPECT_NE(refusal(std::string("{address: \"") + address + "\"}")
                  .find("list it in audit_syslog.allow_cidrs"),
              std::string::npos)
        << address;
  }
  EXPECT_NE(refusal("{address: \"udp://10.0.0.5:514\", allow_cidrs: [10.1.0.0/16]}")
                .find("list it in audit_syslog.allow_cidrs"),
            std::string::npos);
  EXPECT_NE(refusal("{address: \"udp://10.0.0.5:514\", allow_cidrs: [nope]}").find("is not a CIDR"),
            std::string::npos);
  for (const char* facility : {"kern", "local8", "\"\"", "4"}) {
    EXPECT_EQ(refusal(std::string("{address: \"unix:/dev/log\", facility: ") + facility + "}"),
              facility == std::string("4")
                  ? "config: facility must be a string"
                  : "config: audit_syslog.facility must be auth, authpriv or local0..local7")
        << facility;
  }
  for (const std::string& app :
       {std::string("\"two words\""), std::string("\"\""), "\"" + std::string(49, 'a') + "\""}) {
    EXPECT_EQ(refusal("{address: \"unix:/dev/log\", app_name: " + app + "}"),
              "config: audit_syslog.app_name must be 1..48 printable ASCII characters, no space")
        << app;
  }
}

// tls:// (RFC 5425): ca_file, server_name and the client certificate are read and checked
// at load, so what cannot work stops the start (exit 2) instead of failing every attempt.
TEST_F(ConfigTest, AuditSyslogTlsReadsItsFilesAtLoad) {
  server::testing::SelfSignedCert cert;
  ::chmod(cert.key_file().c_str(), 0600);
  auto c = Load("audit_syslog: {address: \"tls://127.0.0.1:6514\"}\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->audit_syslog->address.transport, audit::SyslogTransport::kTls);
  EXPECT_EQ(c->audit_syslog->address.text, "tls://127.0.0.1:6514");
  EXPECT_TRUE(c->audit_syslog->tls.ca_pem.empty());  // the system trust store
  EXPECT_TRUE(c->audit_syslog->tls.server_name.empty());
  c = Load("audit_syslog:\n  address: tls://[::1]:6514\n  ca_file: " + cert.cert_file() +
           "\n  server_name: syslog.example.com\n  cert_file: " + cert.cert_file() +
           "\n  key_file: " + cert.key_file() + "\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->audit_syslog->tls.ca_pem, cert.pem());
  EXPECT_EQ(c->audit_syslog->tls.server_name, "syslog.example.com");
  EXPECT_EQ(c->audit_syslog->tls.cert_pem, cert.pem());
  EXPECT_NE(c->audit_syslog->tls.key_pem.find("PRIVATE KEY"), std::string::npos);
  ::chmod(cert.key_file().c_str(), 0400);
  EXPECT_EQ(Refusal("audit_syslog: {address: \"tls://10.0.0.9:6514\", allow_cidrs: [10.0.0.0/8], "
                    "cert_file: " +
                    cert.cert_file() + ", key_file: " + cert.key_file() + "}\n"),
            "");
}

TEST_F(ConfigTest, AuditSyslogTlsRefusesWhatCannotWork) {
  server::testing::SelfSignedCert cert;
  server::testing::SelfSignedCert other;
  ::chmod(cert.key_file().c_str(), 0600);
  ::chmod(other.key_file().c_str(), 0600);
  const std::string certs_dir = std::filesystem::path(cert.cert_file()).parent_path();
  const std::string not_pem = certs_dir + "/not.pem";
  std::ofstream(not_pem) << "just text\n";
  const auto refusal = [&](const std::string& keys) {
    return Refusal("audit_syslog: {address: \"tls://127.0.0.1:6514\"" + keys + "}\n");
  };
  // The tls keys on another scheme.
  for (const char* key : {"ca_file", "server_name", "cert_file", "key_file"}) {
    for (const char* address : {"tcp://127.0.0.1:514", "udp://127.0.0.1:514", "unix:/dev/log"}) {
      EXPECT_EQ(
          Refusal(std::string("audit_syslog: {address: \"") + address + "\", " + key + ": x}\n"),
          std::string("config: audit_syslog.") + key + " is only for a tls:// address")
          << key << " " << address;
    }
  }
  EXPECT_NE(
      refusal(", ca_file: " + certs_dir + "/missing.pem").find("config: audit_syslog.ca_file: "),
      std::string::npos);
  EXPECT_EQ(refusal(", ca_file: " + not_pem),
            "config: audit_syslog.ca_file: no PEM certificate in it");
  EXPECT_EQ(refusal(", cert_file: " + cert.cert_file()),
            "config: audit_syslog.cert_file needs key_file (both or neither)");
  EXPECT_EQ(refusal(", key_file: " + cert.key_file()),
            "config: audit_syslog.key_file needs cert_file (both or neither)");
  EXPECT_NE(refusal(", cert_file: " + certs_dir + "/missing.pem, key_file: " + cert.key_file())
                .find("config: audit_syslog.cert_file: "),
            std::string::npos);
  EXPECT_EQ(refusal(", cert_file: " + cert.cert_file() + ", key_file: " + certs_dir + "/missing"),
            "config: cannot read audit_syslog.key_file");
  EXPECT_EQ(refusal(", cert_file: " + cert.cert_file() + ", key_file: " + other.key_file()),
            "config: audit_syslog.key_file does not match the certificate of cert_file");
  EXPECT_EQ(refusal(", cert_file: " + not_pem + ", key_file: " + cert.key_file()),
            "config: audit_syslog.cert_file: no usable PEM certificate in it");
  // A key file others may read (or write) is refused, as the master key file is.
  for (mode_t mode : {0644, 0640, 0604, 0700}) {
    ::chmod(cert.key_file().c_str(), mode);
    EXPECT_EQ(refusal(", cert_file: " + cert.cert_file() + ", key_file: " + cert.key_file()),
              "config: audit_syslog.key_file must have mode 0600 or 0400 (chmod 600 it)")
        << std::oct << mode;
  }
  EXPECT_EQ(refusal(", server_name: \"two words\""),
            "config: audit_syslog.server_name must be a DNS name (letters, digits, '-' and '.')");
  EXPECT_NE(refusal(", server_name: 1").find("server_name must be a string"), std::string::npos);
  EXPECT_NE(Refusal("audit_syslog: {address: \"tls://8.8.8.8:6514\"}\n")
                .find("list it in audit_syslog.allow_cidrs"),
            std::string::npos);
  EXPECT_NE(Refusal("audit_syslog: {address: \"tls://127.0.0.1\"}\n")
                .find("audit_syslog.address: needs a port"),
            std::string::npos);
}

}  // namespace
}  // namespace rampart::cli
