#include "rampart/audit/syslog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
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

}  // namespace

Result<SyslogAddress> ParseSyslogAddress(std::string_view text) {
  auto fail = [](std::string msg) {
    return MakeError(ErrorCode::kInvalidArgument, std::move(msg));
  };
  constexpr std::string_view kForms = "unix:/absolute/path, udp://IP:PORT or tcp://IP:PORT";
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
  const std::string scheme = address.transport == SyslogTransport::kUdp ? "udp://" : "tcp://";
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

SyslogAuditSink::SyslogAuditSink(SyslogSinkOptions options) : options_(std::move(options)) {}

SyslogAuditSink::~SyslogAuditSink() { Close(); }

std::string SyslogAuditSink::Destination() const { return "syslog:" + options_.address.text; }

void SyslogAuditSink::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status SyslogAuditSink::Connect() {
  const SyslogAddress& a = options_.address;
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
  const int type = a.transport == SyslogTransport::kTcp ? SOCK_STREAM : SOCK_DGRAM;
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
  if (fd_ >= 0 && tcp) {
    // A receiver never sends: readable means it closed (or reset) the connection, and a
    // write now would be taken by our kernel and lost. Open a new one instead.
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) != 0) Close();
  }
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
    // TCP: octet counting (RFC 6587 3.4.1), "MSG-LEN SP SYSLOG-MSG".
    if (tcp) message = std::to_string(message.size()) + " " + message;
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
