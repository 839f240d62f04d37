#include "rampart/audit/syslog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <utility>

#include "api/common.h"
#include "rampart/core/clock.h"
#include "rampart/core/error.h"
#include "rampart/core/json.h"
#include "rampart/core/utf8.h"

namespace rampart::audit {
namespace {

constexpr size_t kMaxHostname = 255;  // RFC 5424 6.2.4
constexpr size_t kMaxAppName = 48;    // 6.2.5
constexpr size_t kMaxProcid = 128;    // 6.2.6
constexpr size_t kMaxMsgid = 32;      // 6.2.7
constexpr size_t kMaxParamValue = 256;
constexpr int kSeverityWarning = 4;
constexpr int kSeverityNotice = 5;
// The Private Enterprise Number of the SD-ID, as the brief of this output fixed it.
constexpr std::string_view kSdId = "rampart@32473";

bool PrintUsAscii(unsigned char c) { return c >= 33 && c <= 126; }

// A header field: PRINTUSASCII only (others become '_'), at most `max` bytes, "-" when
// empty. User data never brings a space or a control character into the header.
std::string HeaderField(std::string_view value, size_t max) {
  if (value.empty()) return "-";
  std::string out(value.substr(0, max));
  for (char& c : out) {
    if (!PrintUsAscii(static_cast<unsigned char>(c))) c = '_';
  }
  return out;
}

// An SD-PARAM value (RFC 5424 6.3.3): '"', '\' and ']' escaped; control characters (C0,
// DEL, C1) and bytes that are not UTF-8 become '?'; cut at kMaxParamValue bytes of the value (never
// inside a character).
void AppendParamValue(std::string& out, std::string_view value) {
  size_t used = 0;
  for (size_t i = 0; i < value.size();) {
    const auto c = static_cast<unsigned char>(value[i]);
    size_t n = Utf8Decode(value, i);
    if (used + std::max<size_t>(n, 1) > kMaxParamValue) break;
    // C0, DEL and C1 (U+0080..U+009F, two bytes: NEL is a line break to many readers).
    const bool c1 = n == 2 && c == 0xC2 && static_cast<unsigned char>(value[i + 1]) < 0xA0;
    if (n == 0 || c < 0x20 || c == 0x7F || c1) {
      out.push_back('?');
      n = c1 ? 2 : 1;
    } else if (c == '"' || c == '\\' || c == ']') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else {
      out.append(value.substr(i, n));
    }
    used += n;
    i += n;
  }
}

// Bytes that are not UTF-8 become '?' (MSG is JSON, whose serializer escapes control
// characters but passes bytes through).
void ScrubUtf8(std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Decode(s, i);
    if (n == 0) {
      s[i] = '?';
      ++i;
    } else {
      i += n;
    }
  }
}

bool FailedOutcome(std::string_view outcome) {
  return outcome == "denied" || outcome == "failure" || outcome == "failed";
}

std::string Errno(std::string_view what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// Waits until `fd` has one of `events` or `deadline` passed; false on the deadline.
bool WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(left.count()));
    if (rc > 0) return true;  // ready, or an error the next TLS call reports
    if (rc < 0 && errno != EINTR) return true;
  }
}

// The socket under a TLS session: OpenSSL's own socket BIO writes with write(2), which
// raises SIGPIPE on a connection the receiver closed (the process does not ignore it); this
// one sends with MSG_NOSIGNAL. The descriptor is non-blocking; EAGAIN is a retry.
int SocketBioWrite(BIO* bio, const char* data, size_t len, size_t* written) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  ssize_t n = 0;
  do {
    n = ::send(fd, data, len, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return 0;
  }
  *written = static_cast<size_t>(n);
  return 1;
}

int SocketBioRead(BIO* bio, char* data, size_t len, size_t* read) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  ssize_t n = 0;
  do {
    n = ::recv(fd, data, len, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return 0;
  }
  *read = static_cast<size_t>(n);
  return n > 0 ? 1 : 0;  // 0 bytes: the receiver closed the connection
}

long SocketBioCtrl(BIO* /*bio*/, int cmd, long /*num*/, void* /*ptr*/) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

const BIO_METHOD* SocketBioMethod() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rampart syslog socket");
    if (m == nullptr) return m;
    BIO_meth_set_write_ex(m, SocketBioWrite);
    BIO_meth_set_read_ex(m, SocketBioRead);
    BIO_meth_set_ctrl(m, SocketBioCtrl);
    return m;
  }();
  return method;
}

// The reason of the last OpenSSL error (a fixed library string, e.g. "tlsv13 alert
// certificate required"; never peer data), and the queue cleared.
std::string OpenSslReason(std::string_view fallback) {
  const unsigned long e = ERR_peek_last_error();
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  ERR_clear_error();
  return reason != nullptr ? std::string(reason) : std::string(fallback);
}

// Why a TLS call failed with `ssl_error` (SSL_get_error's answer): the system error when
// the socket failed, else OpenSSL's fixed reason (never peer data); the queue cleared.
std::string TlsFailureReason(int ssl_error) {
  const int sys = errno;
  if (ssl_error == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0 && sys != 0) {
    return std::strerror(sys);
  }
  return OpenSslReason("the receiver closed the connection");
}

int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return -1;  // an encrypted key is refused, never a prompt on the terminal
}

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxDeleter>;

std::unique_ptr<BIO, BioDeleter> PemBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// What a handshake learned about the receiver, for the TLS 1.3 client certificate check.
struct TlsSessionState {
  bool certificate_requested = false;
  bool ticket_received = false;
};

int OnCertificateRequest(SSL* ssl, void* /*arg*/) {
  if (auto* state = static_cast<TlsSessionState*>(SSL_get_app_data(ssl))) {
    state->certificate_requested = true;
  }
  return 1;
}

int OnNewSession(SSL* ssl, SSL_SESSION* /*session*/) {
  if (auto* state = static_cast<TlsSessionState*>(SSL_get_app_data(ssl))) {
    state->ticket_received = true;
  }
  return 0;  // not kept: every connection is a full handshake
}

// A DNS name (letters, digits, '-' and '.') or an IP literal (IPv4 or IPv6).
bool ValidServerName(std::string_view name) {
  if (net::ParseIp(name)) return true;
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.' ||
      name.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
  });
}

// The client context of a tls:// address: TLS 1.2 or later, the peer verified against
// `tls.ca_pem` (else the system store), the client certificate when given.
Result<CtxPtr> MakeTlsContext(const SyslogTlsOptions& tls) {
  auto fail = [](std::string msg) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument, std::move(msg));
  };
  if (!tls.server_name.empty() && !ValidServerName(tls.server_name)) {
    return fail("server_name must be a DNS name (letters, digits, '-' and '.')");
  }
  if (tls.cert_pem.empty() != tls.key_pem.empty()) {
    return fail("cert_file and key_file go together (both or neither)");
  }
  CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return fail("cannot make a TLS context: " + OpenSslReason("out of memory"));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_session_cache_mode(ctx.get(),
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx.get(), OnNewSession);
  SSL_CTX_set_cert_cb(ctx.get(), OnCertificateRequest, nullptr);
  SSL_CTX_set_default_passwd_cb(ctx.get(), NoPassphrase);
  if (tls.ca_pem.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
      return fail("cannot load the system trust store: " + OpenSslReason("unknown error"));
    }
  } else {
    auto bio = PemBio(tls.ca_pem);
    X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
    int added = 0;
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
      if (X509_STORE_add_cert(store, cert) == 1) ++added;
      X509_free(cert);
    }
    ERR_clear_error();  // the end of the text is an error in the queue
    if (added == 0) return fail("ca_file: no PEM certificate in it");
  }
  if (!tls.cert_pem.empty()) {
    auto bio = PemBio(tls.cert_pem);
    std::unique_ptr<X509, X509Deleter> leaf(
        PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (!leaf || SSL_CTX_use_certificate(ctx.get(), leaf.get()) != 1) {
      return fail("cert_file: no usable PEM certificate in it");
    }
    // The rest of the file: intermediates sent with it.
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr)) {
      if (SSL_CTX_add0_chain_cert(ctx.get(), cert) != 1) {
        X509_free(cert);
        return fail("cert_file: cannot use a certificate of its chain");
      }
    }
    ERR_clear_error();
    auto key_bio = PemBio(tls.key_pem);
    std::unique_ptr<EVP_PKEY, KeyDeleter> key(
        PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassphrase, nullptr));
    if (!key) return fail("key_file: no unencrypted PEM private key in it");
    if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      return fail("key_file does not match the certificate of cert_file");
    }
  }
  ERR_clear_error();
  return ctx;
}

}  // namespace

struct SyslogAuditSink::TlsContext {
  CtxPtr ctx;
  Status error = Status::Ok();  // why ctx is null
  TlsSessionState session;      // of the open connection
};

Status CheckSyslogTls(const SyslogTlsOptions& tls) {
  auto ctx = MakeTlsContext(tls);
  if (!ctx.ok()) return ctx.error();
  return Status::Ok();
}

Result<SyslogAddress> ParseSyslogAddress(std::string_view text) {
  auto fail = [](std::string msg) {
    return MakeError(ErrorCode::kInvalidArgument, std::move(msg));
  };
  constexpr std::string_view kForms =
      "unix:/absolute/path, udp://IP:PORT, tcp://IP:PORT or tls://IP:PORT";
  SyslogAddress address;
  if (text.starts_with("unix:")) {
    address.transport = SyslogTransport::kUnix;
    address.path = std::string(text.substr(5));
    if (address.path.empty() || address.path.front() != '/') {
      return fail("the unix socket path must be absolute (unix:/dev/log)");
    }
    if (address.path.size() >= sizeof(sockaddr_un::sun_path)) {
      return fail("the unix socket path is longer than " +
                  std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
    }
    if (address.path.find('\0') != std::string::npos)
      return fail("the unix socket path holds a NUL");
    address.text = "unix:" + address.path;
    return address;
  }
  std::string_view rest;
  if (text.starts_with("udp://")) {
    address.transport = SyslogTransport::kUdp;
    rest = text.substr(6);
  } else if (text.starts_with("tcp://")) {
    address.transport = SyslogTransport::kTcp;
    rest = text.substr(6);
  } else if (text.starts_with("tls://")) {
    address.transport = SyslogTransport::kTls;
    rest = text.substr(6);
  } else {
    return fail("must be " + std::string(kForms));
  }
  std::string_view host, port;
  if (rest.starts_with("[")) {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || rest.substr(close + 1, 1) != ":") {
      return fail("must be " + std::string(kForms) + " (an IPv6 address in brackets)");
    }
    host = rest.substr(1, close - 1);
    port = rest.substr(close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fail("needs a port: " + std::string(kForms));
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  // ParseIp is strict: dotted quads or RFC 4291 text, no names, no zone, no "127.1".
  auto ip = net::ParseIp(host);
  if (!ip) return fail("the host must be a literal IP address (names are not resolved)");
  if (ip->is_v4() == rest.starts_with("[")) return fail("must be " + std::string(kForms));
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value < 1 ||
      value > 65535) {
    return fail("the port must be 1..65535");
  }
  address.ip = *ip;
  address.port = static_cast<uint16_t>(value);
  const std::string scheme = address.transport == SyslogTransport::kUdp   ? "udp://"
                             : address.transport == SyslogTransport::kTcp ? "tcp://"
                                                                          : "tls://";
  address.text = scheme + (ip->is_v4() ? ip->ToString() : "[" + ip->ToString() + "]") + ":" +
                 std::to_string(address.port);
  return address;
}

Status CheckSyslogDestination(const SyslogAddress& address,
                              const std::vector<net::Cidr>& allow_cidrs) {
  if (address.transport == SyslogTransport::kUnix) return Status::Ok();
  const std::optional<std::string_view> range = net::DeniedRange(address.ip);
  if (range == "loopback") return Status::Ok();
  const bool listed = std::any_of(allow_cidrs.begin(), allow_cidrs.end(),
                                  [&](const net::Cidr& c) { return c.Contains(address.ip); });
  if (listed && !net::DeniedRange(address.ip, allow_cidrs).has_value()) return Status::Ok();
  return MakeError(ErrorCode::kSsrfBlocked,
                   address.ip.ToString() + " is not loopback (" +
                       std::string(range.value_or("public")) +
                       "); list it in audit_syslog.allow_cidrs to allow it");
}

std::optional<int> ParseSyslogFacility(std::string_view name) {
  if (name == "auth") return 4;
  if (name == "authpriv") return kSyslogFacilityAuthpriv;
  if (name.size() == 6 && name.starts_with("local") && name[5] >= '0' && name[5] <= '7') {
    return 16 + (name[5] - '0');
  }
  return std::nullopt;
}

bool ValidSyslogAppName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxAppName &&
         std::all_of(name.begin(), name.end(),
                     [](char c) { return PrintUsAscii(static_cast<unsigned char>(c)); });
}

std::string FormatSyslog(const store::AuditEvent& event, const SyslogFormat& format) {
  const int severity = FailedOutcome(event.outcome) ? kSeverityWarning : kSeverityNotice;
  std::string out;
  out.reserve(1024);
  out += "<" + std::to_string(format.facility * 8 + severity) + ">1 ";
  out += event.time > 0 ? FormatRfc3339Millis(event.time) : "-";
  out += ' ';
  out += HeaderField(format.hostname, kMaxHostname);
  out += ' ';
  out += HeaderField(format.app_name, kMaxAppName);
  out += ' ';
  out += HeaderField(format.procid, kMaxProcid);
  out += ' ';
  const bool msgid_ok = !event.action.empty() && event.action.size() <= kMaxMsgid &&
                        std::all_of(event.action.begin(), event.action.end(), [](char c) {
                          return PrintUsAscii(static_cast<unsigned char>(c));
                        });
  out += msgid_ok ? event.action : "-";
  out += " [";
  out += kSdId;
  const std::string seq = std::to_string(event.seq);
  for (const auto& [name, value] : {std::pair<std::string_view, std::string_view>{"seq", seq},
                                    {"org", event.org_id},
                                    {"actor", event.actor},
                                    {"action", event.action},
                                    {"target", event.target},
                                    {"outcome", event.outcome},
                                    {"ip", event.source_ip},
                                    {"hash", event.hash},
                                    {"prev_hash", event.prev_hash}}) {
    out += ' ';
    out += name;
    out += "=\"";
    AppendParamValue(out, value);
    out += '"';
  }
  out += "] ";
  boost::json::object msg = api::AuditJson(event);
  msg.erase("hash");
  msg.erase("prev_hash");
  std::string body = json::Serialize(msg);
  ScrubUtf8(body);
  if (out.size() + body.size() > kMaxSyslogMessageBytes) {
    // The header and SD are bounded well under the cap; MSG takes what is left, cut
    // before a UTF-8 continuation byte.
    size_t keep = kMaxSyslogMessageBytes > out.size() ? kMaxSyslogMessageBytes - out.size() : 0;
    while (keep > 0 && (static_cast<unsigned char>(body[keep]) & 0xC0) == 0x80) --keep;
    body.resize(keep);
  }
  out += body;
  return out;
}

SyslogAuditSink::SyslogAuditSink(SyslogSinkOptions options) : options_(std::move(options)) {
  if (options_.address.transport == SyslogTransport::kTls) {
    tls_ = std::make_unique<TlsContext>();
    auto ctx = MakeTlsContext(options_.tls);
    if (ctx.ok()) {
      tls_->ctx = std::move(ctx).value();
    } else {
      tls_->error = ctx.error();
    }
  }
}

SyslogAuditSink::~SyslogAuditSink() {
  // close_notify (RFC 5425 4.4) when it fits in the socket now; never a wait.
  if (ssl_ != nullptr && TlsAlive()) (void)SSL_shutdown(ssl_);
  ERR_clear_error();
  Close();
}

std::string SyslogAuditSink::Destination() const { return "syslog:" + options_.address.text; }

void SyslogAuditSink::Close() {
  if (ssl_ != nullptr) {
    SSL_free(ssl_);  // frees its BIO, never the descriptor
    ssl_ = nullptr;
    // A socket closed with unread bytes (TLS 1.3 session tickets the receiver sent) ends
    // with a reset, not a FIN, and a reset makes the receiver's kernel drop what it has not
    // read yet: the last frames written, already counted as delivered. Read them first.
    char buf[4096];
    for (int i = 0; i < 64 && ::recv(fd_, buf, sizeof(buf), MSG_DONTWAIT) > 0; ++i) {
    }
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status SyslogAuditSink::Handshake(std::chrono::steady_clock::time_point deadline) {
  const SyslogAddress& a = options_.address;
  if (!tls_->ctx) return tls_->error;
  tls_->session = TlsSessionState{};
  ssl_ = SSL_new(tls_->ctx.get());
  BIO* bio = ssl_ != nullptr ? BIO_new(SocketBioMethod()) : nullptr;
  if (bio == nullptr) {
    return MakeError(ErrorCode::kActionFailed,
                     "syslog TLS to " + a.text + ": " + OpenSslReason("out of memory"));
  }
  BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd_)));
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_, bio, bio);
  SSL_set_app_data(ssl_, &tls_->session);
  // The name the certificate must carry: server_name (and SNI), else the address's IP.
  const std::string& name = options_.tls.server_name;
  auto ip = name.empty() ? std::optional<net::IpAddress>(a.ip) : net::ParseIp(name);
  bool named = false;
  if (ip) {
    const std::string ip_text = ip->ToString();
    named = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), ip_text.c_str()) == 1;
  } else {
    SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    named =
        SSL_set1_host(ssl_, name.c_str()) == 1 && SSL_set_tlsext_host_name(ssl_, name.c_str()) == 1;
  }
  if (!named) {
    return MakeError(ErrorCode::kActionFailed,
                     "syslog TLS to " + a.text + ": " + OpenSslReason("cannot set the peer name"));
  }
  // A handshake failure is the reason's fixed text from OpenSSL (the verification error,
  // or the alert): nothing the receiver chose goes into the log line.
  auto failed = [&](int rc) {
    const long verify = SSL_get_verify_result(ssl_);
    std::string reason;
    if (verify != X509_V_OK) {
      reason =
          std::string("certificate verification failed: ") + X509_verify_cert_error_string(verify);
      ERR_clear_error();
    } else {
      reason = TlsFailureReason(SSL_get_error(ssl_, rc));
    }
    return MakeError(ErrorCode::kActionFailed,
                     "syslog TLS handshake with " + a.text + " failed: " + reason);
  };
  const auto timed_out = [&] {
    ERR_clear_error();
    return MakeError(ErrorCode::kTimeout, "syslog TLS handshake with " + a.text + " timed out");
  };
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int rc = SSL_connect(ssl_);
    if (rc == 1) break;
    const int err = SSL_get_error(ssl_, rc);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return failed(rc);
    if (!WaitFor(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) {
      return timed_out();
    }
  }
  // TLS 1.3 ends the client's handshake before the receiver has checked its certificate:
  // a receiver that requires one, and refuses ours (or its absence), says so after, and
  // what was written meanwhile would be lost yet counted as delivered. When it asked for
  // a certificate, wait for its verdict: a session ticket (sent after it accepted the
  // handshake) or an alert. One that sends no ticket costs this wait once per connection.
  if (SSL_version(ssl_) >= TLS1_3_VERSION && tls_->session.certificate_requested) {
    while (!tls_->session.ticket_received) {
      ERR_clear_error();
      errno = 0;
      char buf[512];
      const int rc = SSL_read(ssl_, buf, sizeof(buf));
      // A receiver never sends data: ignored, but one that streams it instead of its
      // verdict is waited for up to the deadline only.
      if (rc > 0) {
        if (std::chrono::steady_clock::now() >= deadline) break;
        continue;
      }
      const int err = SSL_get_error(ssl_, rc);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) return failed(rc);
      if (tls_->session.ticket_received) break;
      if (!WaitFor(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) break;
    }
  }
  ERR_clear_error();
  return Status::Ok();
}

bool SyslogAuditSink::TlsAlive() {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, 0) == 0) return true;
  // Readable: a TLS 1.3 session ticket (harmless), or close_notify, an alert, EOF. A
  // receiver that keeps sending data is read a bounded amount per check.
  for (int i = 0; i < 64; ++i) {
    ERR_clear_error();
    char buf[4096];
    const int rc = SSL_read(ssl_, buf, sizeof(buf));
    if (rc > 0) continue;
    const int err = SSL_get_error(ssl_, rc);
    ERR_clear_error();
    return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE;
  }
  return true;
}

Status SyslogAuditSink::WriteTls(const std::string& frame,
                                 std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    // Without SSL_MODE_ENABLE_PARTIAL_WRITE: all of the frame, or a retry with the same
    // arguments.
    const int rc = SSL_write(ssl_, frame.data(), static_cast<int>(frame.size()));
    if (rc > 0) return Status::Ok();
    const int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (WaitFor(fd_, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)) continue;
      ERR_clear_error();
      return MakeError(ErrorCode::kActionFailed,
                       "syslog write to " + options_.address.text + " timed out");
    }
    return MakeError(ErrorCode::kActionFailed,
                     "syslog write to " + options_.address.text + ": " + TlsFailureReason(err));
  }
}

Status SyslogAuditSink::Connect() {
  const SyslogAddress& a = options_.address;
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  sockaddr_storage storage{};
  socklen_t len = 0;
  int domain = AF_UNIX;
  if (a.transport == SyslogTransport::kUnix) {
    auto* un = reinterpret_cast<sockaddr_un*>(&storage);
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, a.path.data(), a.path.size());  // length checked at parse
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + a.path.size() + 1);
  } else if (a.ip.is_v4()) {
    domain = AF_INET;
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(a.port);
    in->sin_addr.s_addr = htonl(a.ip.v4());
    len = sizeof(sockaddr_in);
  } else {
    domain = AF_INET6;
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(a.port);
    std::memcpy(&in6->sin6_addr, a.ip.bytes().data(), 16);
    len = sizeof(sockaddr_in6);
  }
  const bool stream = a.transport == SyslogTransport::kTcp || a.transport == SyslogTransport::kTls;
  const int type = stream ? SOCK_STREAM : SOCK_DGRAM;
  const int fd = ::socket(domain, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return MakeError(ErrorCode::kActionFailed, Errno("syslog socket", errno));
  // Connected non-blocking (bounded by the timeout), then blocking writes bounded by
  // SO_SNDTIMEO: a stuck receiver holds this thread for one timeout at most, and never a
  // request or the store's writer.
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&storage), len);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = ::poll(&p, 1, static_cast<int>(options_.timeout.count()));
    if (rc == 0) {
      ::close(fd);
      return MakeError(ErrorCode::kTimeout, "syslog connect to " + a.text + " timed out");
    }
    int err = 0;
    socklen_t err_len = sizeof(err);
    if (rc < 0)
      err = errno;
    else if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0)
      err = errno;
    errno = err;
    rc = err == 0 ? 0 : -1;
  }
  if (rc != 0) {
    const int err = errno;
    ::close(fd);
    return MakeError(ErrorCode::kActionFailed, Errno("syslog connect to " + a.text, err));
  }
  if (a.transport == SyslogTransport::kTls) {
    // The descriptor stays non-blocking: the handshake and each write wait with poll, up
    // to the connect's and the batch's deadline.
    fd_ = fd;
    if (Status s = Handshake(deadline); !s.ok()) {
      Close();
      return s;
    }
    return Status::Ok();
  }
  const int flags = ::fcntl(fd, F_GETFL);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(options_.timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((options_.timeout.count() % 1000) * 1000);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0) {
    const int err = errno;
    ::close(fd);
    return MakeError(ErrorCode::kActionFailed, Errno("syslog socket", err));
  }
  fd_ = fd;
  return Status::Ok();
}

SinkResult SyslogAuditSink::Send(const std::vector<store::AuditEvent>& events) {
  const bool tcp = options_.address.transport == SyslogTransport::kTcp;
  const bool tls = options_.address.transport == SyslogTransport::kTls;
  if (fd_ >= 0 && tcp) {
    // A receiver never sends: readable means it closed (or reset) the connection, and a
    // write now would be taken by our kernel and lost. Open a new one instead.
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) != 0) Close();
  }
  if (fd_ >= 0 && tls && !TlsAlive()) Close();
  if (fd_ < 0) {
    if (Status s = Connect(); !s.ok()) return {0, s};
  }
  // SO_SNDTIMEO bounds one write; a receiver that takes a little within each timeout (a
  // loaded daemon, a slow TCP window) would hold the batch for one timeout per event (or
  // per chunk), and Stop() with it. The batch as a whole gets one timeout: past it, the
  // events written so far are taken and the rest waits for the next attempt.
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  const auto timed_out = [this] {
    return MakeError(ErrorCode::kActionFailed,
                     "syslog write to " + options_.address.text + " timed out");
  };
  for (size_t i = 0; i < events.size(); ++i) {
    // Between messages the connection stays usable (a TCP frame is never cut here).
    if (i > 0 && std::chrono::steady_clock::now() >= deadline) return {i, timed_out()};
    std::string message = FormatSyslog(events[i], options_.format);
    // TCP and TLS: octet counting (RFC 6587 3.4.1, RFC 5425 4.3), "MSG-LEN SP SYSLOG-MSG".
    if (tcp || tls) message = std::to_string(message.size()) + " " + message;
    if (tls) {
      if (Status s = WriteTls(message, deadline); !s.ok()) {
        Close();  // a record may be cut: the session is not usable any more
        return {i, s};
      }
      continue;
    }
    size_t written = 0;
    while (written < message.size()) {
      if (written > 0 && std::chrono::steady_clock::now() >= deadline) {
        Close();  // inside a frame: the receiver must not take its rest as a new one
        return {i, timed_out()};
      }
      const ssize_t n =
          ::send(fd_, message.data() + written, message.size() - written, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || (!tcp && static_cast<size_t>(n) != message.size())) {
        const int err = n < 0 ? errno : EMSGSIZE;
        Close();
        if (err == EAGAIN || err == EWOULDBLOCK) return {i, timed_out()};
        return {i, MakeError(ErrorCode::kActionFailed,
                             Errno("syslog write to " + options_.address.text, err))};
      }
      written += static_cast<size_t>(n);
    }
  }
  return {events.size(), Status::Ok()};
}

ForwardMetricNames SyslogMetricNames() {
  ForwardMetricNames names;
  names.sent = "rampart_audit_syslog_sent_events";
  names.sent_help = "Audit events written to the syslog socket since start";
  names.failures = "rampart_audit_syslog_failures";
  names.failures_help = "Failed audit syslog attempts since start (each one is retried)";
  names.lag = "rampart_audit_syslog_lag";
  names.lag_help = "Audit events not yet written to syslog (head seq - syslog seq)";
  return names;
}

}  // namespace rampart::audit
