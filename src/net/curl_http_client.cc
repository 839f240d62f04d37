// CurlHttpClient: libcurl behind the SSRF guard. See http_client.h for the contract;
// this file explains how each promise is kept.
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>

#include "rampart/core/ascii.h"
#include "rampart/net/http_client.h"
#include "rampart/net/url.h"

namespace rampart::net {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxHeaderBytes = 64 * 1024;

bool IsToken(std::string_view s) {
  if (s.empty() || s.size() > 256) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool SafeHeaderValue(std::string_view v) {
  return v.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

Error Blocked(const IpAddress& address) {
  return MakeError(ErrorCode::kSsrfBlocked,
                   "destination " + address.ToString() + " is in a denied range");
}

// State of one hop, shared with curl's callbacks.
struct Hop {
  const EgressPolicy* policy = nullptr;
  const std::vector<IpAddress>* pinned = nullptr;  // the checked addresses
  const std::function<bool(const CurlHttpClient::ConnectAttempt&)>* observer = nullptr;
  std::optional<IpAddress> blocked;  // the guard refused a connection to it
  bool sandboxed = false;            // the test observer refused one
  size_t max_body = 0;
  bool too_large = false;
  size_t header_bytes = 0;
  bool headers_too_large = false;
  HeaderPairs headers;
  std::string body;
};

// The socket-open hook: the last word on every connect(). It runs before the socket
// exists, so a refused destination never sees a packet.
curl_socket_t OpenSocket(void* clientp, curlsocktype purpose, curl_sockaddr* addr) {
  Hop& hop = *static_cast<Hop*>(clientp);
  std::optional<IpAddress> ip;
  uint16_t port = 0;
  if (addr->family == AF_INET && addr->addrlen >= sizeof(sockaddr_in)) {
    sockaddr_in sin;
    std::memcpy(&sin, &addr->addr, sizeof sin);
    ip = IpAddress::V4(ntohl(sin.sin_addr.s_addr));
    port = ntohs(sin.sin_port);
  } else if (addr->family == AF_INET6 && addr->addrlen >= sizeof(sockaddr_in6)) {
    sockaddr_in6 sin6;
    std::memcpy(&sin6, &addr->addr, sizeof sin6);
    std::array<uint8_t, 16> b;
    std::memcpy(b.data(), &sin6.sin6_addr, 16);
    ip = IpAddress::V6(b);
    port = ntohs(sin6.sin6_port);
  }
  if (!ip) return CURL_SOCKET_BAD;  // unix sockets or anything else: never
  bool allowed = purpose == CURLSOCKTYPE_IPCXN && !hop.policy->DeniedAddress(*ip) &&
                 std::find(hop.pinned->begin(), hop.pinned->end(), *ip) != hop.pinned->end();
  if (*hop.observer) {
    CurlHttpClient::ConnectAttempt attempt{*ip, port, allowed};
    if (!(*hop.observer)(attempt) && allowed) {
      hop.sandboxed = true;
      return CURL_SOCKET_BAD;
    }
  }
  if (!allowed) {
    if (!hop.blocked) hop.blocked = *ip;
    return CURL_SOCKET_BAD;
  }
  return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

size_t WriteBody(char* data, size_t size, size_t nmemb, void* userdata) {
  Hop& hop = *static_cast<Hop*>(userdata);
  size_t n = size * nmemb;
  if (hop.body.size() + n > hop.max_body) {
    hop.too_large = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  hop.body.append(data, n);
  return n;
}

size_t WriteHeader(char* data, size_t size, size_t nmemb, void* userdata) {
  Hop& hop = *static_cast<Hop*>(userdata);
  size_t n = size * nmemb;
  hop.header_bytes += n;
  if (hop.header_bytes > kMaxHeaderBytes) {
    hop.headers_too_large = true;
    return 0;
  }
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.rfind("HTTP/", 0) == 0) {
    hop.headers.clear();  // a new response (after 100 Continue)
    return n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  hop.headers.emplace_back(AsciiLowered(line.substr(0, colon)), std::string(value));
  return n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::once_flag g_curl_init;

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

const std::string* FindHeader(const HeaderPairs& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace

CurlHttpClient::CurlHttpClient(Resolver& resolver) : resolver_(resolver) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Result<HttpResponse> CurlHttpClient::Fetch(const HttpRequest& request, const EgressPolicy& policy) {
  if (!IsToken(request.method)) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid HTTP method");
  }
  for (const auto& [name, value] : request.headers) {
    if (!IsToken(name) || !SafeHeaderValue(value)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "invalid header (names are tokens; values have no CR, LF or NUL)");
    }
  }
  const SteadyClock::time_point deadline = SteadyClock::now() + request.timeout;
  auto url = ParseUrl(request.url);
  if (!url.ok()) return std::move(url).error();

  std::string method = request.method;
  std::string body = request.body;
  HeaderPairs headers = request.headers;
  bool send_client_cert = true;
  const std::string first_origin = url->Origin();
  std::vector<std::string> sensitive = {"authorization", "cookie", "proxy-authorization"};
  for (const std::string& s : request.sensitive_headers) sensitive.push_back(AsciiLowered(s));

  for (int redirects = 0;; ++redirects) {
    // 1-2: the parsed URL against the scheme, port and name rules.
    if (Status s = policy.CheckUrl(*url); !s.ok()) return s.error();

    // 3: every address the name has, each checked; one denied address refuses the hop.
    std::vector<IpAddress> addresses;
    if (url->ip) {
      addresses.push_back(*url->ip);
    } else {
      auto r = resolver_.Resolve(url->host);
      if (!r.ok()) return std::move(r).error();
      addresses = std::move(r).value();
    }
    for (const IpAddress& a : addresses) {
      if (policy.DeniedAddress(a)) return Blocked(a);
    }

    auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (remaining.count() <= 0) {
      return MakeError(ErrorCode::kTimeout, "request to " + url->host + " timed out");
    }

    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return MakeError(ErrorCode::kInternal, "cannot create an HTTP handle");
    CURL* h = curl.get();
    Hop hop;
    hop.policy = &policy;
    const std::vector<IpAddress>& pinned = pin_override_.empty() ? addresses : pin_override_;
    hop.pinned = &addresses;
    hop.observer = &observer_;
    hop.max_body = request.max_response_bytes;

    const std::string target = url->ToString();
    curl_easy_setopt(h, CURLOPT_URL, target.c_str());
    // 4: curl connects to exactly the checked addresses; it never resolves the name.
    std::unique_ptr<curl_slist, SlistDeleter> resolve;
    if (!url->ip || !pin_override_.empty()) {
      std::string entry = url->host + ":" + std::to_string(url->port) + ":";
      for (size_t i = 0; i < pinned.size(); ++i) {
        if (i) entry += ',';
        entry += pinned[i].is_v4() ? pinned[i].ToString() : "[" + pinned[i].ToString() + "]";
      }
      resolve.reset(curl_slist_append(nullptr, entry.c_str()));
      curl_easy_setopt(h, CURLOPT_RESOLVE, resolve.get());
    }
    // 5: the socket-open hook re-checks the address of every connect().
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, OpenSocket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &hop);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, policy.allow_http ? "http,https" : "https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, policy.allow_http ? "http,https" : "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");  // never the environment's proxies
    curl_easy_setopt(h, CURLOPT_NETRC, static_cast<long>(CURL_NETRC_IGNORED));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(remaining, request.connect_timeout).count()));
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                     static_cast<curl_off_t>(request.max_response_bytes));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, WriteBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &hop);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, WriteHeader);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &hop);
    curl_blob ca{}, cert{}, key{};
    if (!request.ca_pem.empty()) {
      ca = {const_cast<char*>(request.ca_pem.data()), request.ca_pem.size(), CURL_BLOB_COPY};
      curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (send_client_cert && !request.client_cert_pem.empty()) {
      cert = {const_cast<char*>(request.client_cert_pem.data()), request.client_cert_pem.size(),
              CURL_BLOB_COPY};
      key = {const_cast<char*>(request.client_key_pem.data()), request.client_key_pem.size(),
             CURL_BLOB_COPY};
      curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
      curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &key);
    }

    if (method == "HEAD") {
      curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (method == "GET" && body.empty()) {
      curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
      if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
      }
    }
    std::unique_ptr<curl_slist, SlistDeleter> header_list;
    auto add_header = [&](const std::string& line) {
      curl_slist* l = curl_slist_append(header_list.get(), line.c_str());
      if (l) {
        header_list.release();
        header_list.reset(l);
      }
    };
    add_header("Expect:");  // no 100-continue round trip
    for (const auto& [name, value] : headers) {
      add_header(value.empty() ? name + ";" : name + ": " + value);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());

    CURLcode rc = curl_easy_perform(h);
    if (hop.blocked) return Blocked(*hop.blocked);
    if (hop.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      return MakeError(ErrorCode::kLimitExceeded, "response body from " + url->host + " exceeds " +
                                                      std::to_string(request.max_response_bytes) +
                                                      " bytes");
    }
    if (hop.headers_too_large) {
      return MakeError(ErrorCode::kActionFailed,
                       "response headers from " + url->host + " exceed 64 KiB");
    }
    if (rc == CURLE_OPERATION_TIMEDOUT) {
      return MakeError(ErrorCode::kTimeout, "request to " + url->host + " timed out");
    }
    if (rc != CURLE_OK) {
      return MakeError(ErrorCode::kActionFailed,
                       "request to " + url->host + " failed: " + curl_easy_strerror(rc));
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);

    const std::string* location = FindHeader(hop.headers, "location");
    if (!IsRedirect(static_cast<int>(status)) || location == nullptr ||
        request.max_redirects <= 0) {
      HttpResponse out;
      out.status = static_cast<int>(status);
      out.headers = std::move(hop.headers);
      out.body = std::move(hop.body);
      out.redirects = redirects;
      return out;
    }
    if (redirects >= request.max_redirects) {
      return MakeError(ErrorCode::kActionFailed, "too many redirects (more than " +
                                                     std::to_string(request.max_redirects) + ")");
    }
    auto next = ResolveReference(*url, *location);
    if (!next.ok()) {
      Error e = std::move(next).error();
      e.message = "redirect from " + url->host + ": " + e.message;
      return e;
    }
    // Browsers' method rewriting: 303 always, 301/302 for POST, become a bodiless GET.
    if ((status == 303 && method != "HEAD") ||
        ((status == 301 || status == 302) && method == "POST")) {
      method = "GET";
      body.clear();
      std::erase_if(headers, [](const auto& kv) {
        std::string n = AsciiLowered(kv.first);
        return n == "content-type" || n == "content-length";
      });
    }
    if (next->Origin() != first_origin) {
      std::erase_if(headers, [&](const auto& kv) {
        return std::find(sensitive.begin(), sensitive.end(), AsciiLowered(kv.first)) !=
               sensitive.end();
      });
      send_client_cert = false;
    }
    url = std::move(next);
  }
}

}  // namespace rampart::net
