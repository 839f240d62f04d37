#include "server/request_pipeline.h"

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/object.hpp>
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>

#include "rampart/core/ascii.h"
#include "rampart/core/json.h"
#include "server/beast_request.h"

namespace rampart::server::internal {

namespace {

namespace http = boost::beast::http;

constexpr std::string_view kJsonCsp = "default-src 'none'; frame-ancestors 'none'";
constexpr std::string_view kCorsAllowHeaders =
    "Authorization, Content-Type, X-CSRF-Token, Idempotency-Key";


void RemoveHeader(HeaderList& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return EqualsIgnoreCase(h.first, name); });
}

void SetHeader(HeaderList& headers, std::string_view name, std::string_view value) {
  RemoveHeader(headers, name);
  headers.emplace_back(std::string(name), std::string(value));
}

bool HasHeader(const HeaderList& headers, std::string_view name) {
  return FindHeader(headers, name).has_value();
}

std::string Join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

bool IsJson(std::string_view content_type) {
  return content_type.substr(0, 16) == "application/json";
}

bool OriginAllowed(const Request& req, const ServerOptions& options, std::string* origin) {
  if (options.cors_origins.empty()) return false;
  auto value = req.Header("Origin");
  if (!value) return false;
  for (const auto& allowed : options.cors_origins) {
    if (allowed == *value) {
      *origin = allowed;
      return true;
    }
  }
  return false;
}

bool IsPreflight(const Request& req) {
  return req.method == "OPTIONS" && req.Header("Access-Control-Request-Method").has_value();
}

// Splits the origin-form target; false when it is not one or does not decode.
bool SplitTarget(Request& req, std::string_view* raw_path) {
  std::string_view target = req.raw_target;
  if (target.empty() || target[0] != '/') return false;
  if (target.find('#') != std::string_view::npos) return false;
  size_t q = target.find('?');
  *raw_path = target.substr(0, q);
  if (!PercentDecode(*raw_path, req.path)) return false;
  req.query.clear();
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    size_t amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key, value;
    if (!PercentDecode(pair.substr(0, eq), key, true)) return false;
    if (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), value, true)) {
      return false;
    }
    req.query.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

// RFC 9112 3.2 / RFC 3986 3.2.2-3.2.3: Host = uri-host [ ":" port ], where uri-host is an
// IP literal in brackets, an IPv4 address or a reg-name (unreserved, pct-encoded and
// sub-delims characters), and port is digits. An empty value is valid (a target without
// an authority). IPvFuture and zone ids are not accepted.
bool ValidHost(std::string_view value) {
  auto digits = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!value.empty() && value.front() == '[') {
    const size_t close = value.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (const char c : value.substr(1, close - 1)) {
      const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') return false;
    }
    const std::string_view rest = value.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && digits(rest.substr(1)));
  }
  std::string_view host = value;
  if (const size_t colon = value.rfind(':'); colon != std::string_view::npos) {
    if (!digits(value.substr(colon + 1))) return false;
    host = value.substr(0, colon);
  }
  constexpr std::string_view kOther = "-._~!$&'()*+,;=%";
  return std::all_of(host.begin(), host.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kOther.find(c) != std::string_view::npos;
  });
}

// One pass over the head's fields. RFC 9112 6.3: "If a Transfer-Encoding header field is
// present in a request and the chunked transfer coding is not the final encoding, ... the
// server MUST respond with the 400 (Bad Request) status code and then close the
// connection" (`chunked`: the parser reads the body as chunked); Beast reads such a
// request as bodiless (or by its Content-Length): its body would be the next request.
// Then the Host rules of RFC 9112 3.2, and no second line of a field whose two values two
// parties (a proxy or WAF, then this server) could read differently. "" when the head is
// acceptable, else the reason.
std::string_view HeadFieldProblem(const Request& req, bool chunked) {
  int hosts = 0, authorizations = 0, content_types = 0;
  bool transfer_encoding = false;
  std::string_view host;
  for (const auto& [name, value] : req.headers) {
    if (EqualsIgnoreCase(name, "host")) {
      ++hosts;
      host = value;
    } else if (EqualsIgnoreCase(name, "authorization")) {
      ++authorizations;
    } else if (EqualsIgnoreCase(name, "content-type")) {
      ++content_types;
    } else if (EqualsIgnoreCase(name, "transfer-encoding")) {
      transfer_encoding = true;
    }
  }
  if (transfer_encoding && !chunked) return "malformed HTTP request";
  if (hosts > 1) return "more than one Host header";
  if (hosts == 0 && req.version >= 11) return "missing Host header";
  if (hosts == 1 && !ValidHost(host)) return "invalid Host header";
  if (authorizations > 1) return "more than one Authorization header";
  if (content_types > 1) return "more than one Content-Type header";
  return {};
}

}  // namespace

Response StatusError(int status, ErrorCode code, std::string_view message,
                     std::string_view request_id) {
  Response response = ErrorResponse(Error{code, std::string(message)}, request_id);
  response.status = status;
  return response;
}

HeadDecision ProcessHead(const Router& router, const ServerOptions& options, Request& req,
                         std::optional<uint64_t> content_length, bool chunked) {
  HeadDecision decision;
  if (std::string_view problem = HeadFieldProblem(req, chunked); !problem.empty()) {
    decision.response = StatusError(400, ErrorCode::kInvalidArgument, problem, req.request_id);
    return decision;
  }
  std::string_view raw_path;
  if (!SplitTarget(req, &raw_path)) {
    decision.response =
        StatusError(400, ErrorCode::kInvalidArgument, "malformed request target", req.request_id);
    return decision;
  }
  std::string origin;
  if (IsPreflight(req) && OriginAllowed(req, options, &origin)) {
    std::vector<std::string> methods = router.AllowedMethods(raw_path);
    if (!methods.empty()) {
      Response preflight;
      preflight.status = 204;
      preflight.content_type.clear();
      decision.response = std::move(preflight);  // FinalizeResponse adds the CORS headers
      decision.metrics_route = "preflight";
      return decision;
    }
  }
  bool method_mismatch = false;
  const Route* route = router.Match(req.method, raw_path, req.params, method_mismatch);
  if (route == nullptr) {
    if (method_mismatch) {
      Response r = StatusError(405, ErrorCode::kNotFound, "method not allowed", req.request_id);
      r.headers.emplace_back("Allow", Join(router.AllowedMethods(raw_path), ", "));
      decision.response = std::move(r);
    } else {
      decision.response = StatusError(404, ErrorCode::kNotFound, "not found", req.request_id);
    }
    return decision;
  }
  decision.metrics_route = route->pattern;
  auto too_large = [&](size_t limit) {
    if (route->on_too_large) route->on_too_large(req);
    decision.response = ErrorResponse(
        Error{ErrorCode::kPayloadTooLarge,
              "request body exceeds " + std::to_string(limit) + " bytes"},
        req.request_id);
    return decision;
  };
  decision.body_limit = route->max_body;
  if (content_length && *content_length > route->max_body) return too_large(route->max_body);
  if (route->body_limit) {
    // The route's own decision for this request (e.g. a webhook trigger's max_payload),
    // taken before any body byte is read.
    size_t limit = 0;
    try {
      limit = route->body_limit(req, content_length);
    } catch (...) {
      decision.response = ErrorResponse(Error{ErrorCode::kInternal, ""}, req.request_id);
      return decision;
    }
    decision.body_limit = std::min(decision.body_limit, limit);
    if (content_length && *content_length > decision.body_limit) {
      return too_large(decision.body_limit);
    }
  }
  decision.route = route;
  return decision;
}

void FinalizeResponse(Response& response, const Request& request, const ServerOptions& options,
                      const Router& router) {
  HeaderList& h = response.headers;
  RemoveHeader(h, "Server");
  RemoveHeader(h, "Content-Type");
  RemoveHeader(h, "Content-Length");
  RemoveHeader(h, "Transfer-Encoding");
  RemoveHeader(h, "Connection");
  SetHeader(h, "X-Content-Type-Options", "nosniff");
  SetHeader(h, "X-Frame-Options", "DENY");
  SetHeader(h, "Referrer-Policy", "no-referrer");
  bool is_api = request.path.rfind("/v1", 0) == 0 &&
                (request.path.size() == 3 || request.path[3] == '/');
  if (is_api || response.status >= 400 || !HasHeader(h, "Cache-Control")) {
    SetHeader(h, "Cache-Control", "no-store");
  }
  if (IsJson(response.content_type) || !HasHeader(h, "Content-Security-Policy")) {
    SetHeader(h, "Content-Security-Policy", kJsonCsp);
  }
  if (request.tls) {
    SetHeader(h, "Strict-Transport-Security", "max-age=31536000; includeSubDomains");
  }
  SetHeader(h, "X-Request-Id", request.request_id);
  // Access-Control-* headers come only from here, and only for an allowed origin.
  std::erase_if(h, [](const auto& header) {
    return header.first.size() >= 15 &&
           EqualsIgnoreCase(std::string_view(header.first).substr(0, 15), "Access-Control-");
  });
  std::string origin;
  if (!OriginAllowed(request, options, &origin)) return;
  h.emplace_back("Access-Control-Allow-Origin", origin);
  h.emplace_back("Access-Control-Allow-Credentials", "true");
  h.emplace_back("Vary", "Origin");
  if (IsPreflight(request) && response.status == 204) {
    std::string_view raw_path = request.raw_target;
    raw_path = raw_path.substr(0, raw_path.find('?'));
    h.emplace_back("Access-Control-Allow-Methods", Join(router.AllowedMethods(raw_path), ", "));
    h.emplace_back("Access-Control-Allow-Headers", std::string(kCorsAllowHeaders));
    h.emplace_back("Access-Control-Max-Age", "600");
  } else {
    h.emplace_back("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
  }
}

}  // namespace rampart::server::internal

namespace rampart::server::internal {

namespace {
namespace http = boost::beast::http;
}  // namespace

void ConfigureParser(RequestParser& parser, const ServerOptions& options) {
  parser.header_limit(static_cast<uint32_t>(
      std::min<size_t>(options.max_header_bytes, std::numeric_limits<uint32_t>::max())));
  // No body limit while the head is read: Beast would otherwise reject a Content-Length
  // above it before the route (and its own limit) is known. ProcessHead's decision sets
  // the real limit before any body byte is read.
  parser.body_limit(std::numeric_limits<uint64_t>::max());
}

void CopyHead(const RequestParser& parser, Request& req) {
  const auto& msg = parser.get();
  req.method = std::string(msg.method_string());
  req.version = static_cast<int>(msg.version());
  req.raw_target = std::string(msg.target());
  req.headers.clear();
  for (const auto& field : msg) {
    req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
}

Response ParseErrorResponse(const boost::beast::error_code& ec, std::string_view request_id) {
  if (ec == http::error::header_limit) {
    return StatusError(431, ErrorCode::kInvalidArgument, "request header too large", request_id);
  }
  if (ec == http::error::body_limit) {
    return ErrorResponse(Error{ErrorCode::kPayloadTooLarge, "request body too large"},
                         request_id);
  }
  return StatusError(400, ErrorCode::kInvalidArgument, "malformed HTTP request", request_id);
}

Response BodyParseErrorResponse(const Route& route, const Request& req,
                                const boost::beast::error_code& ec) {
  if (ec == http::error::body_limit && route.on_too_large) route.on_too_large(req);
  return ParseErrorResponse(ec, req.request_id);
}

namespace {

// A plain loop: string_view::find_first_of calls memchr on the needle per character.
bool SafeHeaderText(std::string_view s) {
  for (const char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// Beast's field storage keeps sizes in 16 bits and throws past them.
constexpr size_t kMaxFieldPart = std::numeric_limits<uint16_t>::max() - 2;

std::string_view TrimSpaceTab(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void AppendField(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ", 2);
  out.append(TrimSpaceTab(value));
  out.append("\r\n", 2);
}

}  // namespace

bool SerializeResponseHead(const Response& response, bool close, std::string& out) {
  out.clear();
  unsigned code = static_cast<unsigned>(response.status);
  if (code < 100 || code > 999) code = 500;  // Beast refuses codes past 999
  const std::string_view reason = http::obsolete_reason(static_cast<http::status>(code));
  out.append("HTTP/1.1 ", 9);
  out.push_back(static_cast<char>('0' + code / 100));
  out.push_back(static_cast<char>('0' + code / 10 % 10));
  out.push_back(static_cast<char>('0' + code % 10));
  out.push_back(' ');
  out.append(reason);
  out.append("\r\n", 2);
  for (const auto& [name, value] : response.headers) {
    if (name.empty() || name.size() >= kMaxFieldPart || value.size() >= kMaxFieldPart ||
        !SafeHeaderText(name) || !SafeHeaderText(value)) {
      continue;
    }
    AppendField(out, name, value);
  }
  if (!response.content_type.empty() && response.content_type.size() < kMaxFieldPart &&
      SafeHeaderText(response.content_type)) {
    AppendField(out, "Content-Type", response.content_type);
  }
  if (close) out.append("Connection: close\r\n");
  const bool bodiless = code < 200 || code == 204 || code == 304;
  const size_t length = bodiless ? 0 : response.body.size();
  out.append("Content-Length: ");
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, length);
  out.append(digits, static_cast<size_t>(end - digits));
  out.append("\r\n\r\n", 4);
  return !bodiless;
}

ParsedRequest ParseRequestBytes(std::string_view bytes, const Router& router,
                                const ServerOptions& options) {
  ParsedRequest out;
  out.request.request_id = "req_fuzz";
  RequestParser parser;
  ConfigureParser(parser, options);
  parser.eager(false);
  boost::beast::error_code ec;
  auto feed = [&](auto done) {
    while (!done()) {
      size_t n = parser.put(boost::asio::const_buffer(bytes.data(), bytes.size()), ec);
      bytes.remove_prefix(n);
      if (ec) return false;
      if (n == 0 && !done()) {
        ec = http::error::need_more;  // no progress: the input ends mid-message
        return false;
      }
    }
    return true;
  };
  if (!feed([&] { return parser.is_header_done(); })) {
    if (ec != http::error::need_more) out.error = ParseErrorResponse(ec, out.request.request_id);
    return out;
  }
  CopyHead(parser, out.request);
  std::optional<uint64_t> content_length;
  if (parser.content_length()) content_length = *parser.content_length();
  out.decision = ProcessHead(router, options, out.request, content_length, parser.chunked());
  if (out.decision.response) {
    out.error = out.decision.response;
    return out;
  }
  parser.body_limit(out.decision.body_limit);
  parser.eager(true);
  if (!feed([&] { return parser.is_done(); })) {
    if (ec != http::error::need_more) {
      out.error = BodyParseErrorResponse(*out.decision.route, out.request, ec);
    }
    return out;
  }
  out.request.body = parser.get().body();
  out.complete = true;
  return out;
}

}  // namespace rampart::server::internal
