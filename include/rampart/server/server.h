// HttpServer: HTTP/1.1 (optionally TLS) in front of a Router.
//
// Per request it assigns a request id, enforces the header size, the route's body limit
// (from Content-Length before the body is read, and while reading chunked bodies),
// header and request timeouts and the connection limit, dispatches to the route's
// handler (on an io thread; an async_handler's answer may come later from any thread,
// and the timeouts do not cover that wait), and adds the security headers (and CORS
// headers for allowed origins) to every response, errors included. Errors use
// ErrorResponse's JSON shape.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "rampart/core/result.h"
#include "rampart/server/metrics.h"
#include "rampart/server/router.h"

namespace rampart::server {

struct ServerOptions {
  std::string host = "127.0.0.1";  // an IP literal to bind
  uint16_t port = 8787;            // 0 = ephemeral (see HttpServer::port())
  int threads = 0;                 // 0: max(4, 2 * hardware_concurrency)
  size_t max_header_bytes = 16 * 1024;  // request line + headers; over it: 431, close
  size_t default_max_body = 1 << 20;    // body limit for requests that match no route
  std::chrono::seconds header_timeout{10};   // to receive a whole request head (and TLS
                                             // handshake); also the keep-alive idle time
  std::chrono::seconds request_timeout{30};  // to receive the body after the head
  size_t max_connections = 1024;   // connections beyond it are closed on accept
  std::string tls_cert_file;       // PEM chain; with tls_key_file. Both empty = plain HTTP
  std::string tls_key_file;        // PEM private key
  std::vector<std::string> cors_origins;  // exact origins; empty = no CORS headers at all
};

class HttpServer {
 public:
  // `router` and `metrics` (may be null) must outlive the server.
  HttpServer(ServerOptions options, const Router& router, Metrics* metrics);
  // Stops (with no drain time) if still running.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Loads TLS material, binds, listens and starts the worker threads. Errors (bad
  // address, port in use, unreadable cert/key, TLS < 1.2 only...) are returned, never
  // thrown; kInternal with a message naming what failed. Call at most once.
  Status Start();

  // The bound port (the ephemeral one when options.port was 0); 0 before Start().
  uint16_t port() const;

  // The connections open now (each holds a slot under max_connections until its session
  // has ended).
  size_t connections() const;

  // Stops accepting, closes idle keep-alive connections, lets in-flight requests finish
  // (their responses carry `Connection: close`) until `drain` has passed, then closes
  // everything and joins the worker threads. A request waiting for an asynchronous
  // answer (Route::async_handler) is in flight; once it is closed, or the server is
  // stopped or destroyed, its Responder's Send() does nothing. Idempotent; safe from any
  // thread but a handler's.
  // `at_drain_end`, when set, is called (on this thread) if requests are still in flight
  // when `drain` has passed: it may answer them (e.g. a run's `wait`: 202 with its id),
  // and what it answers within a further second goes out before the close.
  void Stop(std::chrono::milliseconds drain, const std::function<void()>& at_drain_end = {});

  // Blocks until Stop() has completed (from another thread).
  void Wait();

  class Impl;  // opaque; defined in server.cc

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::server
