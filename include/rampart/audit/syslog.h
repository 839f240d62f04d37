// Audit events to syslog (RFC 5424; ASVS V16.4.3): the sink of an AuditForwarder
// (audit/forwarder.h) that writes each event as one syslog message to a unix datagram
// socket (/dev/log), a UDP receiver, a TCP receiver (octet-counting framing, RFC 6587
// 3.4.1), or a TLS receiver (RFC 5425: TLS 1.2 or later, the same framing). The forwarder
// gives it the loop: seq order, the stored position per destination ("syslog:<address>"),
// capped backoff, one failure report per attempt, metrics.
//
// One message per event:
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [rampart@32473 seq="" org="" actor=""
//   action="" target="" outcome="" ip="" hash="" prev_hash=""] MSG
// PRI = facility * 8 + severity: warning (4) for outcome denied/failure/failed, else notice
// (5). TIMESTAMP is the event's time (UTC, milliseconds). HOSTNAME, APP-NAME, PROCID and
// MSGID are PRINTUSASCII only (any other byte becomes '_'; empty becomes "-"), cut to
// RFC 5424's lengths; MSGID is the action when it is 1..32 PRINTUSASCII, else "-". SD-PARAM
// values escape '"', '\' and ']' (RFC 5424 6.3.3); control characters and bytes that are
// not UTF-8 become '?', and a value is cut at 256 bytes. MSG is the event as JSON (as the
// audit API shows it, without the hashes, which the SD carries), no BOM. The whole message
// is at most kMaxSyslogMessageBytes: MSG is cut (on a UTF-8 boundary) to fit.
//
// Delivery: the socket write succeeding is the acknowledgement (syslog has no other). A
// datagram to a missing or refusing unix socket, a refused TCP connection or a write that
// times out fails the attempt; the events after the last one written are tried again. The
// writes of one batch share one timeout: a receiver that takes every message, but slowly,
// gets what fit in it, and the rest at the next attempt.
// UDP has no acknowledgement at all: a datagram sent to a host that drops it is lost.
//
// TLS: the receiver's certificate chain is always verified (against the configured CAs, else
// the system store), and so is its name: server_name when given (also sent as SNI), else the
// literal IP of the address (an IP SAN). A client certificate is sent when configured (mutual
// TLS). A failed handshake (untrusted certificate, name mismatch, a client certificate the
// receiver refused) fails the attempt like a refused connection: nothing is written.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/audit/forwarder.h"
#include "rampart/core/result.h"
#include "rampart/net/ip.h"
#include "rampart/store/store.h"

struct ssl_st;  // OpenSSL's SSL

namespace rampart::audit {

constexpr size_t kMaxSyslogMessageBytes = 8192;
constexpr int kSyslogFacilityAuthpriv = 10;

enum class SyslogTransport { kUnix, kUdp, kTcp, kTls };

struct SyslogAddress {
  SyslogTransport transport = SyslogTransport::kUnix;
  std::string path;   // kUnix: an absolute path (at most 107 bytes)
  net::IpAddress ip;  // kUdp, kTcp, kTls: a literal address, never a name
  uint16_t port = 0;  // kUdp, kTcp, kTls: 1..65535
  // Canonical: "unix:<path>", "udp://<ip>:<port>", "tcp://[<ipv6>]:<port>", "tls://...".
  std::string text;
};

// "unix:/abs/path", "udp://IP:PORT", "tcp://IP:PORT" or "tls://IP:PORT" (IPv6 in
// brackets). Names are refused (no DNS), so are relative paths, a missing port and anything
// else: kInvalidArgument saying which form is expected.
Result<SyslogAddress> ParseSyslogAddress(std::string_view text);

// A UDP/TCP/TLS destination must be loopback, or inside one of `allow_cidrs` (and then not in a
// range the SSRF guard denies despite them: net::DeniedRange(ip, allow_cidrs)). Unix
// sockets are always local. kSsrfBlocked naming the address's range otherwise.
Status CheckSyslogDestination(const SyslogAddress& address,
                              const std::vector<net::Cidr>& allow_cidrs);

// "auth" (4), "authpriv" (10), "local0".."local7" (16..23); nullopt otherwise.
std::optional<int> ParseSyslogFacility(std::string_view name);

// Whether `name` is a valid APP-NAME: 1..48 PRINTUSASCII.
bool ValidSyslogAppName(std::string_view name);

struct SyslogFormat {
  int facility = kSyslogFacilityAuthpriv;  // 0..23
  std::string hostname;                    // sanitized when formatted
  std::string app_name = "rampart";
  std::string procid;  // "" : "-"
};

// One event as one RFC 5424 message (without transport framing), at most
// kMaxSyslogMessageBytes.
std::string FormatSyslog(const store::AuditEvent& event, const SyslogFormat& format);

// The TLS side of a tls:// address (RFC 5425). PEM text, read from the files at load.
struct SyslogTlsOptions {
  std::string ca_pem;       // trusted CA certificate(s); "": the system trust store
  std::string server_name;  // the DNS name the certificate must match; "": the address's IP
  std::string cert_pem;     // client certificate (chain) for mutual TLS; "" : none
  std::string key_pem;      // its private key; given exactly when cert_pem is
};

// Whether `tls` makes a usable client context: the CA PEM holds a certificate, the client
// certificate and key parse and match, server_name is a DNS name or an IP literal.
// kInvalidArgument naming the part that is wrong (never the key's bytes).
Status CheckSyslogTls(const SyslogTlsOptions& tls);

struct SyslogSinkOptions {
  SyslogAddress address;
  SyslogFormat format;
  SyslogTlsOptions tls;  // kTls only
  // Per connect, and for the writes of one Send together (so one Send takes at most about
  // twice this: a connect (and for TLS its handshake), then writes until the deadline and
  // one more bounded write).
  std::chrono::milliseconds timeout = std::chrono::seconds(5);
};

// Keeps one socket (one TLS session) open between batches; a failure closes it and the
// next Send opens a new one (a syslog daemon that restarted, a socket that appeared). Not
// thread-safe: the forwarder calls it from its thread only.
class SyslogAuditSink final : public AuditSink {
 public:
  explicit SyslogAuditSink(SyslogSinkOptions options);
  ~SyslogAuditSink() override;
  SyslogAuditSink(const SyslogAuditSink&) = delete;
  SyslogAuditSink& operator=(const SyslogAuditSink&) = delete;

  // "syslog:" + the canonical address.
  std::string Destination() const override;
  SinkResult Send(const std::vector<store::AuditEvent>& events) override;

 private:
  Status Connect();
  Status Handshake(std::chrono::steady_clock::time_point deadline);
  // TLS: whether the open session is still usable (reads what the receiver sent: session
  // tickets are; close_notify, an alert or EOF is not).
  bool TlsAlive();
  Status WriteTls(const std::string& frame, std::chrono::steady_clock::time_point deadline);
  void Close();

  const SyslogSinkOptions options_;
  int fd_ = -1;
  struct TlsContext;
  std::unique_ptr<TlsContext> tls_;  // kTls: the SSL_CTX (or why it could not be made)
  ssl_st* ssl_ = nullptr;            // kTls: the session on fd_
};

// The forwarder's metrics for the syslog output: rampart_audit_syslog_sent_events,
// rampart_audit_syslog_failures, rampart_audit_syslog_lag.
ForwardMetricNames SyslogMetricNames();

}  // namespace rampart::audit
