#include "actions/http/outbound.h"

#include <boost/json/object.hpp>

#include "rampart/core/json.h"
#include "rampart/core/utf8.h"
#include "rampart/crypto/crypto.h"

namespace rampart::actions::outbound {
namespace {

namespace bj = boost::json;

// Response headers a workflow may see: metadata, never Set-Cookie or anything that may
// carry a credential the upstream hands out.
constexpr std::string_view kHeaderAllowlist[] = {
    "content-type",
    "content-length",
    "content-encoding",
    "content-language",
    "location",
    "etag",
    "last-modified",
    "retry-after",
    "cache-control",
    "expires",
    "date",
    "x-request-id",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "link",
};

bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8Decode(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool IsJsonContentType(std::string_view ct) {
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  std::string lower(ct);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower == "application/json" ||
         (lower.size() > 5 && lower.compare(lower.size() - 5, 5, "+json") == 0);
}

}  // namespace

Result<std::optional<ConnectorSecrets>> LoadConnector(const Context& ctx) {
  if (ctx.connector.empty()) return std::optional<ConnectorSecrets>();
  if (ctx.connectors == nullptr) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "connector '" + std::string(ctx.connector) + "' is not available to this run");
  }
  auto c = ctx.connectors->Resolve(ctx.connector, ctx.workflow, ctx.step_path);
  if (!c.ok()) return std::move(c).error();
  return std::optional<ConnectorSecrets>(std::move(c).value());
}

Result<net::EgressPolicy> EffectivePolicy(const net::EgressPolicy& policy,
                                          const ConnectorSecrets* connector) {
  if (connector == nullptr || connector->egress.empty()) return policy;
  auto rules = net::ParseEgressRules(connector->egress);
  if (!rules.ok()) {
    Error e = std::move(rules).error();
    e.message = "connector '" + connector->id + "': " + e.message;
    return e;
  }
  return policy.Narrow(*rules);
}

Result<std::chrono::milliseconds> TimeLeft(const Context& ctx, double requested_seconds) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline - ctx.clock.Monotonic());
  auto want = std::chrono::milliseconds(static_cast<int64_t>(requested_seconds * 1000.0));
  auto t = std::min(left, want);
  if (t.count() <= 0) return MakeError(ErrorCode::kTimeout, "no time left for the request");
  return t;
}

Result<net::EgressPolicy> ApplyCommonArgs(const Context& ctx, const bj::object& args,
                                          const net::EgressPolicy& server,
                                          const ConnectorSecrets* connector,
                                          net::HttpRequest& request) {
  Result<net::EgressPolicy> org =
      ctx.connectors != nullptr ? ctx.connectors->OrgEgress(server) : server;
  if (!org.ok()) return org;
  auto policy = EffectivePolicy(*org, connector);
  if (!policy.ok()) return policy;
  // http follows the egress policy (server, org, connector); a step can only narrow it
  // to https with `allow_http: false`, never widen it.
  const bj::value* allow_http = args.if_contains("allow_http");
  if (allow_http != nullptr && !allow_http->get_bool()) policy->allow_http = false;
  double timeout_s = 30;
  if (const bj::value* t = args.if_contains("timeout")) timeout_s = t->to_number<double>();
  auto left = TimeLeft(ctx, timeout_s);
  if (!left.ok()) return std::move(left).error();
  request.timeout = *left;
  request.connect_timeout = std::min(request.timeout, std::chrono::milliseconds(10'000));
  if (const bj::value* m = args.if_contains("max_response_bytes")) {
    request.max_response_bytes = static_cast<size_t>(m->to_number<int64_t>());
  }
  return policy;
}

bj::value ResponseOutput(const net::HttpResponse& response) {
  bj::object out;
  out["status"] = response.status;
  bj::object headers;
  std::string content_type;
  for (const auto& [name, value] : response.headers) {
    for (std::string_view allowed : kHeaderAllowlist) {
      if (name == allowed && !headers.contains(name) && ValidUtf8(value)) {
        headers[name] = value;
        break;
      }
    }
    if (name == "content-type" && content_type.empty()) content_type = value;
  }
  out["headers"] = std::move(headers);
  bool done = false;
  if (IsJsonContentType(content_type) && !response.body.empty()) {
    json::ParseLimits limits;
    limits.max_bytes = response.body.size();
    auto parsed = json::Parse(response.body, limits);
    if (parsed.ok()) {
      out["json"] = std::move(parsed).value();
      done = true;
    }
  }
  if (!done) {
    if (ValidUtf8(response.body)) {
      out["body"] = response.body;
    } else {
      out["body_base64"] = crypto::Base64Encode(response.body);
    }
  }
  out["redirects"] = response.redirects;
  return out;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace rampart::actions::outbound
