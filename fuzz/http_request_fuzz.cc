// Fuzzes the server's request path without sockets: Beast's request parser with the
// server's limits, then target splitting, percent-decoding, query parsing, route
// matching and the body-limit decision (internal::ParseRequestBytes, which HttpServer
// shares), and FinalizeResponse on whatever response would be sent.
//
// Oracles: no crash/UB; a matched request's params are non-empty and contain no '/';
// a complete request's body never exceeds its route's limit; every response carries
// the security headers and never a Server banner.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "rampart/core/ascii.h"
#include "rampart/server/http.h"
#include "rampart/server/router.h"
#include "rampart/server/server.h"
#include "server/request_pipeline.h"

namespace {

using rampart::server::Request;
using rampart::server::Response;
using rampart::server::Route;
using rampart::server::Router;

Router* MakeRouter() {
  auto* router = new Router();
  auto add = [&](const char* method, const char* pattern, size_t max_body) {
    Route r;
    r.method = method;
    r.pattern = pattern;
    r.operation_id = std::string(method) + pattern;
    r.max_body = max_body;
    r.handler = [](Request&) { return Response{}; };
    router->Add(std::move(r));
  };
  add("GET", "/v1/orgs/{org}/workflows/{id}", 0);
  add("PUT", "/v1/orgs/{org}/workflows/{id}", 4096);
  add("GET", "/v1/orgs/{org}/workflows/special", 0);
  add("POST", "/v1/orgs/{org}/workflows/{id}/runs", 1024);
  add("POST", "/hooks/{token}", 64);
  add("GET", "/healthz", 0);
  return router;
}

void Check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "http_request_fuzz: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Router* router = MakeRouter();
  static const rampart::server::ServerOptions* options = [] {
    auto* o = new rampart::server::ServerOptions();
    o->max_header_bytes = 2048;
    o->cors_origins = {"https://app.example"};
    return o;
  }();
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto parsed = rampart::server::internal::ParseRequestBytes(bytes, *router, *options);
  if (parsed.decision.route != nullptr) {
    for (const auto& [name, value] : parsed.request.params) {
      Check(!value.empty(), "empty path parameter");
      Check(value.find('/') == std::string::npos, "'/' in a path parameter");
    }
    if (parsed.complete) {
      Check(parsed.request.body.size() <= parsed.decision.route->max_body, "body over limit");
    }
    // RFC 9112 3.2 and the singleton fields: a routed request has at most one Host (exactly
    // one under HTTP/1.1), one Authorization and one Content-Type line.
    int hosts = 0, authorizations = 0, content_types = 0;
    for (const auto& [name, value] : parsed.request.headers) {
      hosts += rampart::EqualsIgnoreCase(name, "host");
      authorizations += rampart::EqualsIgnoreCase(name, "authorization");
      content_types += rampart::EqualsIgnoreCase(name, "content-type");
    }
    Check(hosts <= 1 && authorizations <= 1 && content_types <= 1, "a repeated singleton field");
    Check(parsed.request.version < 11 || hosts == 1, "an HTTP/1.1 request without Host");
  }
  Response response = parsed.error ? *parsed.error : Response{};
  rampart::server::internal::FinalizeResponse(response, parsed.request, *options, *router);
  Check(rampart::server::FindHeader(response.headers, "X-Content-Type-Options") == "nosniff",
        "missing nosniff");
  Check(!rampart::server::FindHeader(response.headers, "Server"), "Server banner");
  return 0;
}
