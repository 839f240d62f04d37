// Tests and benchmarks only: a local HTTP(S) server on 127.0.0.1 (ephemeral port) for
// outbound HTTP tests, which must never send a packet anywhere but loopback.
//
// Routes: GET /ok -> {"ok":true}; GET /text -> text/plain "hello"; ANY /echo -> JSON of
// {method, query, body, authorization, headers}; GET /redirect?to=<url>&status=<code>
// -> that redirect; GET /loop -> 302 to /loop; GET /big?n=<bytes> -> n bytes;
// GET /slow?ms=<n> -> waits, then 200; GET /status?code=<n> -> that status.
// hits() counts every request that reached a handler.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rampart/core/json.h"
#include "rampart/server/router.h"
#include "rampart/server/server.h"
#include "server/testing/self_signed_cert.h"

namespace rampart::net::testing {

// The certificate for a TLS TestServer (shared with the server module's own tests).
using server::testing::SelfSignedCert;

class TestServer {
 public:
  // tls: serve HTTPS with `cert`, which must outlive the server.
  // extra_routes: more routes (a test's own endpoints), added after the built-in ones.
  explicit TestServer(const SelfSignedCert* cert = nullptr,
                      std::vector<server::Route> extra_routes = {}) {
    Add("GET", "/ok", [](server::Request&) {
      return server::JsonResponse(200, boost::json::object{{"ok", true}});
    });
    Add("GET", "/text", [](server::Request&) {
      server::Response r;
      r.body = "hello";
      r.content_type = "text/plain";
      return r;
    });
    for (const char* m : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      Add(m, "/echo", [](server::Request& req) {
        boost::json::object o;
        o["method"] = req.method;
        boost::json::object q;
        for (const auto& [k, v] : req.query) q[k] = v;
        o["query"] = q;
        o["body"] = req.body;
        boost::json::object h;
        for (const auto& [k, v] : req.headers) {
          std::string n = k;
          for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          h[n] = v;
        }
        o["headers"] = h;
        return server::JsonResponse(200, o);
      });
    }
    Add("GET", "/redirect", [](server::Request& req) {
      server::Response r;
      r.status = std::atoi(std::string(req.QueryParam("status").value_or("302")).c_str());
      r.headers.emplace_back("Location", std::string(req.QueryParam("to").value_or("/ok")));
      return r;
    });
    Add("POST", "/redirect", [](server::Request& req) {
      server::Response r;
      r.status = std::atoi(std::string(req.QueryParam("status").value_or("302")).c_str());
      r.headers.emplace_back("Location", std::string(req.QueryParam("to").value_or("/ok")));
      return r;
    });
    Add("GET", "/loop", [](server::Request&) {
      server::Response r;
      r.status = 302;
      r.headers.emplace_back("Location", "/loop");
      return r;
    });
    Add("GET", "/big", [](server::Request& req) {
      server::Response r;
      r.content_type = "application/octet-stream";
      r.body.assign(std::stoul(std::string(req.QueryParam("n").value_or("1024"))), 'x');
      return r;
    });
    Add("GET", "/slow", [](server::Request& req) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::stoi(std::string(req.QueryParam("ms").value_or("1000")))));
      return server::JsonResponse(200, boost::json::object{{"slow", true}});
    });
    Add("GET", "/status", [](server::Request& req) {
      int code = std::atoi(std::string(req.QueryParam("code").value_or("500")).c_str());
      return server::JsonResponse(code, boost::json::object{{"status", code}});
    });
    for (server::Route& r : extra_routes) {
      auto handler = std::move(r.handler);
      r.handler = [this, handler](server::Request& req) {
        ++hits_;
        return handler(req);
      };
      router_.Add(std::move(r));
    }
    server::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    if (cert) {
      options.tls_cert_file = cert->cert_file();
      options.tls_key_file = cert->key_file();
    }
    server_ = std::make_unique<server::HttpServer>(options, router_, nullptr);
    if (!server_->Start().ok()) std::abort();
  }
  ~TestServer() { server_->Stop(std::chrono::milliseconds(0)); }

  uint16_t port() const { return server_->port(); }
  int hits() const { return hits_.load(); }

 private:
  template <typename F>
  void Add(const char* method, const char* pattern, F f) {
    server::Route r;
    r.method = method;
    r.pattern = pattern;
    r.operation_id = std::string(method) + pattern;
    r.max_body = 16 << 20;
    r.handler = [this, f](server::Request& req) {
      ++hits_;
      return f(req);
    };
    router_.Add(std::move(r));
  }

  server::Router router_;
  std::atomic<int> hits_{0};
  std::unique_ptr<server::HttpServer> server_;
};

}  // namespace rampart::net::testing
