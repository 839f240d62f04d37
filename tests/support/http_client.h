// A small synchronous HTTP/1.1 client for tests (Beast over TCP, optionally TLS).
//
// One HttpClient is one connection, reused across Request() calls while the server keeps
// it alive (reconnecting transparently otherwise). Every operation is bounded by
// options.timeout; nothing throws: failures come back as Error{kInternal or kTimeout}.
// Not thread-safe: use one client per thread.
//
//   rampart::testing::HttpClient client("127.0.0.1", server.port());
//   auto res = client.Request("POST", "/v1/things", {{"Content-Type", "application/json"}},
//                             R"({"a": 1})");
//   ASSERT_TRUE(res.ok()) << res.error().message;
//   EXPECT_EQ(res->status, 201);
//   EXPECT_EQ(res->Header("x-request-id")->substr(0, 4), "req_");
//
// Raw mode, for malformed input: SendRaw(bytes) then ReadResponse() or ReadUntilClose().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rampart/core/result.h"

namespace rampart::testing {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;  // in received order
  std::string body;
  bool keep_alive = false;  // the server left the connection open

  // First header named `name`, ASCII case-insensitive.
  std::optional<std::string> Header(std::string_view name) const;
  // Number of headers named `name` (to check that something is absent or unique).
  size_t HeaderCount(std::string_view name) const;
};

struct HttpClientOptions {
  bool tls = false;  // TLS 1.2+ WITHOUT certificate verification (tests use self-signed)
  std::string sni_host = "localhost";               // TLS server name
  std::chrono::milliseconds timeout{5000};          // per connect/write/read
  // Before Request() reuses a kept-alive connection, check whether the server closed it
  // while it sat idle (past the server's header_timeout, e.g. across a long step of a
  // test) and connect anew if so, as a browser or curl would. Off by default: the server
  // tests see a connection closed under them as the failure it is.
  bool reconnect_if_closed_while_idle = false;
};

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request and reads its response. Adds Host, and Content-Length when a body
  // is given (unless `headers` already has Content-Length or Transfer-Encoding).
  Result<HttpResponse> Request(std::string_view method, std::string_view target,
                               const HttpHeaders& headers = {}, std::string_view body = {});

  // Connects (and handshakes) if not connected.
  Status Connect();
  // Writes `bytes` verbatim on the connection (connecting first if needed).
  Status SendRaw(std::string_view bytes);
  // Reads one response from the connection.
  Result<HttpResponse> ReadResponse();
  // Reads raw bytes until the peer closes or resets the connection. kTimeout if the peer
  // keeps it open for longer than the timeout.
  Result<std::string> ReadUntilClose();

  bool connected() const;
  void Close();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::testing
