// End-to-end tests of HttpServer: a real server on an ephemeral loopback port and the
// real test client (tests/support/http_client.h).
#include "rampart/server/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "server/testing/self_signed_cert.h"
#include "support/http_client.h"

namespace rampart::server {
namespace {

using namespace std::chrono_literals;
using rampart::testing::HttpClient;
using rampart::testing::HttpClientOptions;
using rampart::testing::HttpResponse;

bool Contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

Route MakeRoute(std::string method, std::string pattern, std::function<Response(Request&)> h) {
  Route r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  r.operation_id = r.method + r.pattern;
  r.handler = std::move(h);
  return r;
}

Route MakeAsyncRoute(std::string method, std::string pattern,
                     std::function<void(Request&, Responder)> h) {
  Route r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  r.operation_id = r.method + r.pattern;
  r.async_handler = std::move(h);
  return r;
}

// An asynchronous request the test answers itself: the Responder and the Request the
// handler was given (valid until the answer, as Route::async_handler promises).
struct Parked {
  Responder responder;
  Request* request = nullptr;
};

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() {
    router_.Add(MakeRoute("GET", "/v1/orgs/{org}/workflows/{id}", [](Request& req) {
      boost::json::object query;
      for (const auto& [k, v] : req.query) query[k] = v;
      return JsonResponse(200, boost::json::object{{"org", req.params.at("org")},
                                                   {"id", req.params.at("id")},
                                                   {"path", req.path},
                                                   {"query", query},
                                                   {"remote_ip", req.remote_ip},
                                                   {"tls", req.tls},
                                                   {"request_id", req.request_id}});
    }));
    router_.Add(MakeRoute("PUT", "/v1/orgs/{org}/workflows/{id}",
                          [](Request&) { return JsonResponse(200, boost::json::object{}); }));
    Route echo = MakeRoute("POST", "/v1/echo", [](Request& req) {
      return JsonResponse(200, boost::json::object{{"size", req.body.size()}, {"body", req.body}});
    });
    echo.max_body = 1024;
    router_.Add(std::move(echo));
    // A per-request limit decided from the head: /v1/sized/{n} allows n bytes, and hands
    // what it decided to the handler.
    Route sized = MakeRoute("POST", "/v1/sized/{n}", [this](Request& req) {
      ++sized_handled_;
      auto decided = std::static_pointer_cast<const size_t>(req.route_state);
      return JsonResponse(200, boost::json::object{
                                   {"size", req.body.size()},
                                   {"decided", decided ? static_cast<int64_t>(*decided) : -1}});
    });
    sized.max_body = 1024;
    sized.body_limit = [this](Request& req, std::optional<uint64_t> declared) -> size_t {
      ++sized_decisions_;
      last_declared_ = declared ? static_cast<int64_t>(*declared) : -1;
      if (req.params.at("n") == "boom") throw std::runtime_error("secret detail");
      auto n = std::make_shared<size_t>(std::stoul(req.params.at("n")));
      req.route_state = n;
      return *n;
    };
    router_.Add(std::move(sized));
    router_.Add(MakeRoute("GET", "/v1/boom", [](Request&) -> Response {
      throw std::runtime_error("secret detail: SELECT password FROM users");
    }));
    router_.Add(MakeRoute("GET", "/v1/conflict", [](Request& req) {
      return ErrorResponse(Error{ErrorCode::kConflict, "already exists"}, req.request_id);
    }));
    router_.Add(MakeRoute("GET", "/v1/slow", [this](Request&) {
      slow_started_ = true;
      std::this_thread::sleep_for(700ms);
      return JsonResponse(200, boost::json::object{{"slow", true}});
    }));
    router_.Add(MakeRoute("GET", "/ui", [](Request&) {
      Response r;
      r.content_type = "text/html";
      r.body = "<p>hi</p>";
      r.headers = {{"Cache-Control", "max-age=60"}, {"Server", "leaky/1.0"}};
      return r;
    }));
    router_.Add(MakeRoute("GET", "/healthz", [](Request&) {
      return JsonResponse(200, boost::json::object{{"ok", true}});
    }));

    // Asynchronous routes.
    router_.Add(MakeAsyncRoute("GET", "/v1/park/{n}", [this](Request& req, Responder r) {
      std::lock_guard lock(park_mu_);
      parked_.push_back(Parked{std::move(r), &req});
      park_cv_.notify_all();
    }));
    // Answered from another thread after {ms} milliseconds, from what it reads of the
    // Request then (after the handler returned).
    router_.Add(MakeAsyncRoute("GET", "/v1/later/{ms}", [this](Request& req, Responder r) {
      Background([&req, r] {
        std::this_thread::sleep_for(std::chrono::milliseconds(std::stoi(req.params.at("ms"))));
        r.Send(JsonResponse(200, boost::json::object{{"ms", req.params.at("ms")},
                                                     {"request_id", req.request_id}}));
      });
    }));
    // Answered from another thread at once: races the handler's return.
    router_.Add(MakeAsyncRoute("GET", "/v1/race/{i}", [this](Request& req, Responder r) {
      Background([&req, r] {
        r.Send(JsonResponse(200, boost::json::object{{"i", req.params.at("i")}}));
      });
    }));
    router_.Add(MakeAsyncRoute("GET", "/v1/now", [](Request&, Responder r) {
      r.Send(JsonResponse(201, boost::json::object{{"now", true}}));
      r.Send(JsonResponse(500, boost::json::object{{"second", true}}));  // ignored
    }));
    router_.Add(MakeAsyncRoute("GET", "/v1/twice", [this](Request&, Responder r) {
      Background([r] {
        std::this_thread::sleep_for(20ms);
        r.Send(JsonResponse(200, boost::json::object{{"first", true}}));
        r.Send(JsonResponse(409, boost::json::object{{"second", true}}));  // ignored
      });
    }));
    router_.Add(MakeAsyncRoute("GET", "/v1/async-boom", [](Request&, Responder) {
      throw std::runtime_error("secret detail: SELECT password FROM users");
    }));
    router_.Add(MakeAsyncRoute("GET", "/v1/async-boom-after", [](Request&, Responder r) {
      r.Send(JsonResponse(202, boost::json::object{{"sent", true}}));
      throw std::runtime_error("secret detail");
    }));
    router_.Add(MakeAsyncRoute("GET", "/v1/drop", [](Request&, Responder) {}));
    router_.Add(MakeAsyncRoute("GET", "/v1/drop-later", [this](Request&, Responder r) {
      Background([r = std::move(r)]() mutable {
        std::this_thread::sleep_for(50ms);
        r = Responder();  // the last copy, dropped without Send
      });
    }));
  }

  ~ServerTest() override { JoinBackground(); }

  // Runs `fn` on a new thread, joined by TearDown (after the server stopped).
  void Background(std::function<void()> fn) {
    std::lock_guard lock(background_mu_);
    background_.emplace_back(std::move(fn));
  }
  void JoinBackground() {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(background_mu_);
      threads.swap(background_);
    }
    for (auto& t : threads) t.join();
  }

  // Waits until `count` requests were parked.
  bool WaitParked(size_t count) {
    std::unique_lock lock(park_mu_);
    return park_cv_.wait_for(lock, 5s, [&] { return parked_.size() >= count; });
  }
  Parked TakeParked(size_t i) {
    std::lock_guard lock(park_mu_);
    return std::exchange(parked_.at(i), Parked{});
  }
  // Waits (up to 3 s) until the handler heard that its client went (`gone` counts the
  // calls) and every connection ended.
  void WaitClientGoneAndNoConnection(const std::atomic<int>& gone) {
    const auto deadline = std::chrono::steady_clock::now() + 3s;
    while ((gone.load() == 0 || server_->connections() != 0) &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
    }
  }

  void StartServer(ServerOptions options = {}) {
    options.port = 0;
    if (options.threads == 0) options.threads = 4;
    server_ = std::make_unique<HttpServer>(options, router_, &metrics_);
    Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.error().message;
    ASSERT_NE(server_->port(), 0);
  }

  std::unique_ptr<HttpClient> Client(HttpClientOptions options = {}) {
    return std::make_unique<HttpClient>("127.0.0.1", server_->port(), options);
  }

  // Starts the server with TLS from a fresh self-signed certificate (kept in tls_cert_);
  // its clients: Client(TlsClient()).
  void StartTlsServer() {
    tls_cert_ = std::make_unique<testing::SelfSignedCert>();
    ServerOptions options;
    options.tls_cert_file = tls_cert_->cert_file();
    options.tls_key_file = tls_cert_->key_file();
    StartServer(options);
  }
  static HttpClientOptions TlsClient() {
    HttpClientOptions tls;
    tls.tls = true;
    return tls;
  }

  void TearDown() override {
    if (server_) server_->Stop(2s);
    JoinBackground();
  }

  static void ExpectError(const HttpResponse& res, int status, std::string_view code) {
    EXPECT_EQ(res.status, status) << res.body;
    auto v = boost::json::parse(res.body);
    const auto& err = v.at("error");
    EXPECT_EQ(err.at("code"), code.data()) << res.body;
    EXPECT_TRUE(err.at("message").is_string());
    EXPECT_EQ(err.at("request_id").as_string(), res.Header("X-Request-Id").value_or("?"));
    EXPECT_EQ(v.as_object().size(), 1u);
    EXPECT_EQ(err.as_object().size(), 3u);
  }

  // `raw` on a new connection is answered 400 invalid_argument, and the connection closes.
  void ExpectRefusedAndClosed(const std::string& raw) {
    auto client = Client();
    ASSERT_TRUE(client->SendRaw(raw).ok());
    auto res = client->ReadResponse();
    ASSERT_TRUE(res.ok()) << raw << ": " << res.error().message;
    ExpectError(*res, 400, "invalid_argument");
    ExpectSecurityHeaders(*res);
    EXPECT_FALSE(res->keep_alive) << raw;
  }

  static void ExpectSecurityHeaders(const HttpResponse& res) {
    EXPECT_EQ(res.Header("X-Content-Type-Options"), "nosniff");
    EXPECT_EQ(res.Header("X-Frame-Options"), "DENY");
    EXPECT_EQ(res.Header("Referrer-Policy"), "no-referrer");
    EXPECT_EQ(res.Header("Content-Security-Policy"), "default-src 'none'; frame-ancestors 'none'");
    EXPECT_EQ(res.HeaderCount("Server"), 0u);
    auto id = res.Header("X-Request-Id");
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(id->size(), 24u);
    EXPECT_EQ(id->substr(0, 4), "req_");
  }

  Router router_;
  Metrics metrics_;
  std::unique_ptr<testing::SelfSignedCert> tls_cert_;  // StartTlsServer
  std::unique_ptr<HttpServer> server_;
  std::atomic<bool> slow_started_{false};
  std::atomic<int> sized_handled_{0};
  std::atomic<int> sized_decisions_{0};
  std::atomic<int64_t> last_declared_{0};
  std::mutex park_mu_;
  std::condition_variable park_cv_;
  std::vector<Parked> parked_;  // guarded by park_mu_
  std::mutex background_mu_;
  std::vector<std::thread> background_;  // guarded by background_mu_
};

TEST_F(ServerTest, RoutesWithDecodedParamsAndQuery) {
  StartServer();
  auto client = Client();
  auto res = client->Request("GET", "/v1/orgs/ac%20me/workflows/w1?a=1&b=x+y&c=%26&d");
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  auto v = boost::json::parse(res->body);
  EXPECT_EQ(v.at("org"), "ac me");
  EXPECT_EQ(v.at("id"), "w1");
  EXPECT_EQ(v.at("path"), "/v1/orgs/ac me/workflows/w1");
  EXPECT_EQ(v.at("query"), boost::json::parse(R"({"a":"1","b":"x y","c":"&","d":""})"));
  EXPECT_EQ(v.at("remote_ip"), "127.0.0.1");
  EXPECT_EQ(v.at("tls"), false);
  EXPECT_EQ(v.at("request_id").as_string(), res->Header("X-Request-Id").value());
  EXPECT_EQ(res->Header("Content-Type"), "application/json");
  EXPECT_EQ(res->Header("Cache-Control"), "no-store");
  EXPECT_EQ(res->HeaderCount("Strict-Transport-Security"), 0u);
  ExpectSecurityHeaders(*res);
}

TEST_F(ServerTest, NotFoundAndMethodNotAllowed) {
  StartServer();
  auto client = Client();
  auto res = client->Request("GET", "/v1/nope");
  ASSERT_TRUE(res.ok());
  ExpectError(*res, 404, "not_found");
  ExpectSecurityHeaders(*res);
  EXPECT_EQ(res->Header("Cache-Control"), "no-store");

  res = Client()->Request("POST", "/v1/orgs/a/workflows/b");
  ASSERT_TRUE(res.ok());
  ExpectError(*res, 405, "not_found");
  EXPECT_EQ(res->Header("Allow"), "GET, PUT");
  ExpectSecurityHeaders(*res);

  res = Client()->Request("GET", "/v1/orgs/a%2Fb/workflows/c");  // '/' inside a param
  ASSERT_TRUE(res.ok());
  ExpectError(*res, 404, "not_found");
}

TEST_F(ServerTest, RequestIdsAreUniquePerRequest) {
  StartServer();
  auto client = Client();
  auto a = client->Request("GET", "/healthz");
  auto b = client->Request("GET", "/healthz");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->Header("X-Request-Id"), b->Header("X-Request-Id"));
}

TEST_F(ServerTest, HandlerErrorsAndExceptions) {
  StartServer();
  auto res = Client()->Request("GET", "/v1/conflict");
  ASSERT_TRUE(res.ok());
  ExpectError(*res, 409, "conflict");
  ExpectSecurityHeaders(*res);

  res = Client()->Request("GET", "/v1/boom");
  ASSERT_TRUE(res.ok());
  ExpectError(*res, 500, "internal");
  EXPECT_EQ(boost::json::parse(res->body).at("error").at("message"), "internal error");
  EXPECT_FALSE(Contains(res->body, "secret"));
  EXPECT_FALSE(Contains(res->body, "SELECT"));
  ExpectSecurityHeaders(*res);
}

TEST_F(ServerTest, NonApiHandlersMayOverrideCachingButNotBanner) {
  StartServer();
  auto res = Client()->Request("GET", "/ui");
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->Header("Cache-Control"), "max-age=60");
  EXPECT_EQ(res->HeaderCount("Server"), 0u);
  EXPECT_EQ(res->Header("Content-Type"), "text/html");
  EXPECT_EQ(res->Header("X-Content-Type-Options"), "nosniff");
}

TEST_F(ServerTest, HeaderTooLarge) {
  ServerOptions options;
  options.max_header_bytes = 2048;
  StartServer(options);
  auto client = Client();
  auto res = client->Request("GET", "/healthz", {{"X-Big", std::string(4096, 'a')}});
  ASSERT_TRUE(res.ok()) << res.error().message;
  ExpectError(*res, 431, "invalid_argument");
  ExpectSecurityHeaders(*res);
  EXPECT_FALSE(res->keep_alive);
}

TEST_F(ServerTest, BodyTooLargeByContentLengthIsAnsweredBeforeTheBody) {
  StartServer();
  auto client = Client();
  ASSERT_TRUE(client
                  ->SendRaw("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: 100000\r\n\r\n")
                  .ok());
  auto res = client->ReadResponse();  // no body byte was sent
  ASSERT_TRUE(res.ok()) << res.error().message;
  ExpectError(*res, 413, "payload_too_large");
  ExpectSecurityHeaders(*res);
  EXPECT_FALSE(res->keep_alive);
}

TEST_F(ServerTest, BodyWithinLimit) {
  StartServer();
  auto client = Client();
  auto res = client->Request("POST", "/v1/echo", {}, std::string(1024, 'x'));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(boost::json::parse(res->body).at("size"), 1024);
  res = client->Request("POST", "/v1/echo", {}, std::string(1025, 'x'));
  ASSERT_TRUE(res.ok());
  ExpectError(*res, 413, "payload_too_large");
}

TEST_F(ServerTest, PerRequestBodyLimitIsEnforcedWhileReading) {
  StartServer();
  // A declared length over the request's own limit (but under the route's): 413 from the
  // head, with no body byte sent, and the handler never runs.
  auto client = Client();
  ASSERT_TRUE(client->SendRaw("POST /v1/sized/16 HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n")
                  .ok());
  auto res = client->ReadResponse();
  ASSERT_TRUE(res.ok()) << res.error().message;
  ExpectError(*res, 413, "payload_too_large");
  EXPECT_TRUE(Contains(res->body, "exceeds 16 bytes")) << res->body;
  EXPECT_FALSE(res->keep_alive);
  EXPECT_EQ(last_declared_.load(), 17);
  EXPECT_EQ(sized_handled_.load(), 0);

  // Chunked: cut off once past the limit; the rest (a 1 MiB chunk announced but never
  // sent) is not waited for.
  auto chunked = Client();
  ASSERT_TRUE(chunked
                  ->SendRaw("POST /v1/sized/16 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "a\r\n0123456789\r\n100000\r\n0123456789")
                  .ok());
  res = chunked->ReadResponse();
  ASSERT_TRUE(res.ok()) << res.error().message;
  ExpectError(*res, 413, "payload_too_large");
  EXPECT_EQ(last_declared_.load(), -1);
  EXPECT_EQ(sized_handled_.load(), 0);

  // Within the limit: served, and the decision reaches the handler.
  auto ok = Client()->Request("POST", "/v1/sized/16", {}, std::string(16, 'x'));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(boost::json::parse(ok->body).at("decided"), 16);
  EXPECT_EQ(sized_handled_.load(), 1);

  // Over the route's max_body: answered without asking the route.
  const int decisions = sized_decisions_.load();
  auto over = Client()->Request("POST", "/v1/sized/4096", {}, std::string(2000, 'x'));
  ASSERT_TRUE(over.ok());
  ExpectError(*over, 413, "payload_too_large");
  EXPECT_EQ(sized_decisions_.load(), decisions);

  // A decision that throws: a generic 500, nothing of the exception leaks.
  auto boom = Client()->Request("POST", "/v1/sized/boom", {}, "x");
  ASSERT_TRUE(boom.ok());
  ExpectError(*boom, 500, "internal");
  EXPECT_FALSE(Contains(boom->body, "secret"));
  EXPECT_EQ(sized_handled_.load(), 1);
}

TEST_F(ServerTest, ExpectContinueGetsInterimResponse) {
  StartServer();
  auto client = Client();
  ASSERT_TRUE(client
                  ->SendRaw("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                            "Expect: 100-continue\r\n\r\n")
                  .ok());
  auto interim = client->ReadResponse();
  ASSERT_TRUE(interim.ok()) << interim.error().message;
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client->SendRaw("hi").ok());
  auto res = client->ReadResponse();
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(boost::json::parse(res->body).at("body"), "hi");
}

TEST_F(ServerTest, ChunkedBodies) {
  StartServer();
  auto client = Client();
  ASSERT_TRUE(client
                  ->SendRaw("POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
                  .ok());
  auto res = client->ReadResponse();
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(boost::json::parse(res->body).at("body"), "hello world");

  auto big = Client();
  std::string chunk(600, 'y');
  std::string raw = "POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) raw += "258\r\n" + chunk + "\r\n";  // 0x258 = 600
  raw += "0\r\n\r\n";
  ASSERT_TRUE(big->SendRaw(raw).ok());
  res = big->ReadResponse();
  ASSERT_TRUE(res.ok()) << res.error().message;
  ExpectError(*res, 413, "payload_too_large");
}

// A body that arrived with its head is parsed from the buffer at once: a body split
// across writes still waits for its rest, and a second request pipelined behind the
// first stays buffered for the next read.
TEST_F(ServerTest, BufferedBodiesSplitAndPipelined) {
  StartServer();
  auto split = Client();
  ASSERT_TRUE(split->SendRaw("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(split->SendRaw(" world").ok());
  auto res = split->ReadResponse();
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(boost::json::parse(res->body).at("body"), "hello world");

  auto pipelined = Client();
  ASSERT_TRUE(pipelined
                  ->SendRaw("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                            "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo")
                  .ok());
  for (const char* expected : {"one", "two"}) {
    auto r = pipelined->ReadResponse();
    ASSERT_TRUE(r.ok()) << expected << ": " << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(boost::json::parse(r->body).at("body"), expected);
  }
}

TEST_F(ServerTest, MalformedRequestsGet400AndClose) {
  StartServer();
  for (std::string raw : {std::string("GARBAGE\r\n\r\n"), std::string("GET /healthz HTTP/9.9\r\n\r\n"),
                          std::string("GET http://evil.example/healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
                          std::string("GET /v1/orgs/%zz/workflows/x HTTP/1.1\r\nHost: x\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n"),
                          std::string("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                                      "Content-Length: 2\r\n\r\nab")}) {
    ExpectRefusedAndClosed(raw);
  }
}

// RFC 9112 3.2: "A server MUST respond with a 400 (Bad Request) status code to any
// HTTP/1.1 request message that lacks a Host header field and to any request message that
// contains more than one Host header field line or a Host header field with an invalid
// field value." Authorization and Content-Type are singletons too: with two lines, the
// server and a proxy or WAF in front of it could each act on a different one.
TEST_F(ServerTest, MissingDuplicateOrInvalidHostAndDuplicateSingletonsGet400) {
  StartServer();
  for (std::string raw : {std::string("GET /healthz HTTP/1.1\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nHost: a/b\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nHost: a@b\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nHost: a:80x\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nHost: [::1\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                      "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n"),
                          std::string("POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                      "Content-Type: application/json\r\n"
                                      "Content-Type: application/yaml\r\n\r\n{}")}) {
    ExpectRefusedAndClosed(raw);
  }
  // Valid forms: a name, an IPv4 or IPv6 literal with or without a port, an empty value
  // (RFC 9112 3.2: a target without authority), and HTTP/1.0 without a Host at all.
  for (std::string raw : {std::string("GET /healthz HTTP/1.1\r\nHost: rampart.example:8787\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nHost: [::1]:8787\r\n\r\n"),
                          std::string("GET /healthz HTTP/1.1\r\nHost: \r\n\r\n"),
                          std::string("GET /healthz HTTP/1.0\r\n\r\n")}) {
    auto client = Client();
    ASSERT_TRUE(client->SendRaw(raw).ok());
    auto res = client->ReadResponse();
    ASSERT_TRUE(res.ok()) << raw << ": " << res.error().message;
    EXPECT_EQ(res->status, 200) << raw;
  }
}

// RFC 9112 6.3: a request whose Transfer-Encoding does not end in chunked has no
// determinable length: 400 and close. Read as bodiless, its body bytes would be parsed as
// the next request on the connection (request smuggling behind a proxy that framed it
// otherwise).
TEST_F(ServerTest, TransferEncodingNotEndingInChunkedIs400AndClose) {
  StartServer();
  for (std::string te : {"chunked, gzip", "xchunked", "gzip", "identity", ""}) {
    for (std::string length : {"", "Content-Length: 25\r\n"}) {
      const std::string raw = "POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te +
                              "\r\n" + length + "\r\nGET /healthz HTTP/1.1\r\n\r\n";
      auto client = Client();
      ASSERT_TRUE(client->SendRaw(raw).ok());
      auto all = client->ReadUntilClose();
      ASSERT_TRUE(all.ok()) << raw << ": " << all.error().message;
      EXPECT_EQ(all->rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << raw << "\n" << *all;
      EXPECT_EQ(all->find("HTTP/1.1", 1), std::string::npos) << "a second answer: " << raw;
      EXPECT_NE(all->find("\"invalid_argument\""), std::string::npos) << *all;
      EXPECT_NE(all->find("X-Content-Type-Options: nosniff"), std::string::npos) << *all;
      EXPECT_NE(all->find("Connection: close"), std::string::npos) << *all;
    }
  }
  // A chunked body (chunked last) is still read as one.
  auto client = Client();
  ASSERT_TRUE(client
                  ->SendRaw("POST /v1/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                            "Connection: close\r\n\r\n2\r\nab\r\n0\r\n\r\n")
                  .ok());
  auto res = client->ReadResponse();
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
}

TEST_F(ServerTest, SlowLorisHeadersAreCutOff) {
  ServerOptions options;
  options.header_timeout = 1s;
  StartServer(options);
  auto client = Client();
  ASSERT_TRUE(client->SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").ok());
  auto start = std::chrono::steady_clock::now();
  auto rest = client->ReadUntilClose();
  ASSERT_TRUE(rest.ok()) << rest.error().message;  // closed, not our 5 s client timeout
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);

  // An idle keep-alive connection is closed after the same time.
  auto idle = Client();
  auto res = idle->Request("GET", "/healthz");
  ASSERT_TRUE(res.ok());
  EXPECT_TRUE(idle->ReadUntilClose().ok());
}

TEST_F(ServerTest, KeepAliveServesManyRequests) {
  StartServer();
  auto client = Client();
  for (int i = 0; i < 5; ++i) {
    auto res = client->Request("GET", "/healthz");
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_EQ(res->status, 200);
    EXPECT_TRUE(res->keep_alive);
    EXPECT_TRUE(client->connected());
  }
  // Pipelined requests on one write are answered in order.
  ASSERT_TRUE(client
                  ->SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n")
                  .ok());
  auto first = client->ReadResponse();
  auto second = client->ReadResponse();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(second->status, 404);
  auto closing = client->Request("GET", "/healthz", {{"Connection", "close"}});
  ASSERT_TRUE(closing.ok());
  EXPECT_FALSE(closing->keep_alive);
}

TEST_F(ServerTest, ConcurrentClients) {
  StartServer();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client("127.0.0.1", server_->port());
      for (int i = 0; i < 20; ++i) {
        auto res = client.Request("GET", "/v1/orgs/o" + std::to_string(t) + "/workflows/w" +
                                             std::to_string(i));
        if (res.ok() && res->status == 200 &&
            boost::json::parse(res->body).at("id") == ("w" + std::to_string(i)).c_str()) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 160);
}

TEST_F(ServerTest, ConnectionLimit) {
  ServerOptions options;
  options.max_connections = 2;
  StartServer(options);
  auto a = Client(), b = Client();
  ASSERT_TRUE(a->Request("GET", "/healthz").ok());
  ASSERT_TRUE(b->Request("GET", "/healthz").ok());
  HttpClientOptions quick;
  quick.timeout = 2000ms;
  auto c = Client(quick);
  auto refused = c->Request("GET", "/healthz");
  EXPECT_FALSE(refused.ok());
  // Freeing a slot lets a new connection in.
  a->Close();
  bool served = false;
  for (int i = 0; i < 50 && !served; ++i) {
    auto d = Client(quick);
    auto res = d->Request("GET", "/healthz");
    served = res.ok() && res->status == 200;
    if (!served) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(served);
}

TEST_F(ServerTest, GracefulStopDrainsInFlightRequests) {
  StartServer();
  auto idle = Client();
  ASSERT_TRUE(idle->Request("GET", "/healthz").ok());
  Result<HttpResponse> slow = Error{ErrorCode::kInternal, "not run"};
  std::thread t([&] { slow = Client()->Request("GET", "/v1/slow"); });
  for (int i = 0; i < 200 && !slow_started_; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(slow_started_);
  auto start = std::chrono::steady_clock::now();
  server_->Stop(5s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  t.join();
  ASSERT_TRUE(slow.ok()) << slow.error().message;
  EXPECT_EQ(slow->status, 200);
  EXPECT_FALSE(slow->keep_alive);  // Connection: close while draining
  EXPECT_TRUE(idle->ReadUntilClose().ok());  // the idle keep-alive connection was closed
  server_->Wait();  // returns at once after Stop
  auto after = Client()->Request("GET", "/healthz");
  EXPECT_FALSE(after.ok());
}

TEST_F(ServerTest, StopWithShortDrainDoesNotHang) {
  StartServer();
  std::thread t([&] { (void)Client()->Request("GET", "/v1/slow"); });
  for (int i = 0; i < 200 && !slow_started_; ++i) std::this_thread::sleep_for(5ms);
  server_->Stop(10ms);
  t.join();
}

TEST_F(ServerTest, WaitReturnsAfterStopFromAnotherThread) {
  StartServer();
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    server_->Stop(100ms);
  });
  server_->Wait();
  stopper.join();
}

TEST_F(ServerTest, CorsOnlyForListedOrigins) {
  ServerOptions options;
  options.cors_origins = {"https://app.example"};
  StartServer(options);
  auto res = Client()->Request("GET", "/healthz", {{"Origin", "https://app.example"}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->Header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(res->Header("Vary"), "Origin");

  res = Client()->Request("GET", "/healthz", {{"Origin", "https://evil.example"}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 200);
  for (const auto& [k, v] : res->headers) EXPECT_FALSE(Contains(k, "Access-Control")) << k;

  res = Client()->Request("OPTIONS", "/v1/orgs/a/workflows/b",
                          {{"Origin", "https://app.example"},
                           {"Access-Control-Request-Method", "PUT"}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 204);
  EXPECT_EQ(res->Header("Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_EQ(res->Header("Access-Control-Allow-Methods"), "GET, PUT");
  EXPECT_TRUE(res->Header("Access-Control-Allow-Headers").has_value());
  ExpectSecurityHeaders(*res);

  res = Client()->Request("OPTIONS", "/v1/orgs/a/workflows/b",
                          {{"Origin", "https://evil.example"},
                           {"Access-Control-Request-Method", "PUT"}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 405);
  for (const auto& [k, v] : res->headers) EXPECT_FALSE(Contains(k, "Access-Control")) << k;

  res = Client()->Request("OPTIONS", "/v1/unknown",
                          {{"Origin", "https://app.example"},
                           {"Access-Control-Request-Method", "GET"}});
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->status, 404);
}

TEST_F(ServerTest, NoCorsHeadersWithoutConfiguredOrigins) {
  StartServer();
  auto res = Client()->Request("GET", "/healthz", {{"Origin", "https://app.example"}});
  ASSERT_TRUE(res.ok());
  for (const auto& [k, v] : res->headers) EXPECT_FALSE(Contains(k, "Access-Control")) << k;
}

TEST_F(ServerTest, MetricsUseRoutePatterns) {
  StartServer();
  auto client = Client();
  ASSERT_TRUE(client->Request("GET", "/v1/orgs/secret-org/workflows/w1").ok());
  ASSERT_TRUE(client->Request("GET", "/v1/unknown-path-123").ok());
  std::string text = metrics_.RenderPrometheus();
  EXPECT_TRUE(Contains(text, "rampart_http_requests_total{route=\"/v1/orgs/{org}/workflows/{id}\","
                             "method=\"GET\",status=\"200\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text, "rampart_http_requests_total{route=\"unmatched\",method=\"GET\","
                             "status=\"404\"} 1\n"))
      << text;
  EXPECT_FALSE(Contains(text, "secret-org"));
  EXPECT_FALSE(Contains(text, "unknown-path-123"));
}

// --- Asynchronous answers (Route::async_handler) ---

TEST_F(ServerTest, AsyncAnswerLeavesTheIoThreadFree) {
  ServerOptions options;
  options.threads = 1;
  StartServer(options);
  Result<HttpResponse> parked = Error{ErrorCode::kInternal, "not run"};
  std::thread waiting([&] { parked = Client()->Request("GET", "/v1/park/7"); });
  ASSERT_TRUE(WaitParked(1));
  // The only io thread serves other connections while the answer is pending (a blocked
  // io thread would leave these to time out).
  auto other = Client();
  for (int i = 0; i < 3; ++i) {
    auto res = other->Request("GET", "/v1/orgs/o/workflows/w" + std::to_string(i));
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_EQ(res->status, 200);
  }
  auto now = Client()->Request("GET", "/v1/now");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->status, 201);
  // Then the answer comes from another thread, built from the Request.
  Parked p = TakeParked(0);
  std::thread answer([&] {
    std::this_thread::sleep_for(50ms);
    p.responder.Send(JsonResponse(200, boost::json::object{{"n", p.request->params.at("n")}}));
  });
  waiting.join();
  answer.join();
  ASSERT_TRUE(parked.ok()) << parked.error().message;
  EXPECT_EQ(parked->status, 200);
  EXPECT_EQ(boost::json::parse(parked->body).at("n"), "7");
  EXPECT_TRUE(parked->keep_alive);
  ExpectSecurityHeaders(*parked);
}

TEST_F(ServerTest, AsyncAnswersOnAKeepAliveConnection) {
  StartServer();
  auto client = Client();
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto res = client->Request("GET", "/v1/later/50");
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_EQ(res->status, 200);
    EXPECT_TRUE(res->keep_alive);
    EXPECT_TRUE(client->connected());
    ExpectSecurityHeaders(*res);
    // The Request was still valid on the answering thread, after the handler returned.
    auto body = boost::json::parse(res->body);
    EXPECT_EQ(body.at("ms"), "50");
    EXPECT_EQ(body.at("request_id").as_string(), res->Header("X-Request-Id").value_or("?"));
    ids.push_back(res->Header("X-Request-Id").value_or(""));
  }
  EXPECT_NE(ids[0], ids[1]);
  // A pipelined async request is answered before the next one is read.
  ASSERT_TRUE(client
                  ->SendRaw("GET /v1/later/20 HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /v1/nope HTTP/1.1\r\nHost: x\r\n\r\n")
                  .ok());
  auto later = client->ReadResponse();
  auto nope = client->ReadResponse();
  ASSERT_TRUE(later.ok() && nope.ok());
  EXPECT_EQ(later->status, 200);
  EXPECT_EQ(nope->status, 404);
  // Connection: close is honoured once the answer came.
  auto closing = client->Request("GET", "/v1/later/0", {{"Connection", "close"}});
  ASSERT_TRUE(closing.ok());
  EXPECT_EQ(closing->status, 200);
  EXPECT_FALSE(closing->keep_alive);
}

TEST_F(ServerTest, AsyncSendInsideTheHandlerAndOnlyTheFirstSendCounts) {
  StartServer();
  auto client = Client();
  auto now = client->Request("GET", "/v1/now");
  ASSERT_TRUE(now.ok()) << now.error().message;
  EXPECT_EQ(now->status, 201);
  EXPECT_EQ(boost::json::parse(now->body).at("now"), true);
  auto twice = client->Request("GET", "/v1/twice");
  ASSERT_TRUE(twice.ok()) << twice.error().message;
  EXPECT_EQ(twice->status, 200);
  EXPECT_EQ(boost::json::parse(twice->body).at("first"), true);
  // No stray second answer on the connection: the next response is the next request's.
  auto next = client->Request("GET", "/healthz");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(boost::json::parse(next->body).at("ok"), true);
  std::string text = metrics_.RenderPrometheus();
  EXPECT_TRUE(Contains(text, "rampart_http_requests_total{route=\"/v1/now\",method=\"GET\","
                             "status=\"201\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text, "rampart_http_requests_total{route=\"/v1/twice\",method=\"GET\","
                             "status=\"200\"} 1\n"))
      << text;
  EXPECT_FALSE(Contains(text, "status=\"500\""));
  EXPECT_FALSE(Contains(text, "status=\"409\""));
}

TEST_F(ServerTest, AsyncHandlerExceptionsAndLostResponders) {
  StartServer();
  auto client = Client();
  auto boom = client->Request("GET", "/v1/async-boom");
  ASSERT_TRUE(boom.ok()) << boom.error().message;
  ExpectError(*boom, 500, "internal");
  EXPECT_FALSE(Contains(boom->body, "secret"));
  EXPECT_FALSE(Contains(boom->body, "password"));
  auto after = client->Request("GET", "/v1/async-boom-after");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status, 202);  // answered before the throw: the answer stands
  // A Responder dropped without Send(): at once in the handler, or later on another thread.
  auto dropped = client->Request("GET", "/v1/drop");
  ASSERT_TRUE(dropped.ok()) << dropped.error().message;
  ExpectError(*dropped, 500, "internal");
  EXPECT_TRUE(dropped->keep_alive);
  auto dropped_later = client->Request("GET", "/v1/drop-later");
  ASSERT_TRUE(dropped_later.ok()) << dropped_later.error().message;
  ExpectError(*dropped_later, 500, "internal");
  ExpectSecurityHeaders(*dropped_later);
  auto next = client->Request("GET", "/healthz");  // the connection is still usable
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->status, 200);
}

TEST_F(ServerTest, AsyncMetricsCountOnceUntilTheAnswer) {
  StartServer();
  auto res = Client()->Request("GET", "/v1/later/60");
  ASSERT_TRUE(res.ok()) << res.error().message;
  std::string text = metrics_.RenderPrometheus();
  EXPECT_TRUE(Contains(text, "rampart_http_requests_total{route=\"/v1/later/{ms}\","
                             "method=\"GET\",status=\"200\"} 1\n"))
      << text;
  // The answer came at least 60 ms after the head: measured until the answer, not until
  // the handler returned (which it does at once).
  EXPECT_TRUE(Contains(text, "rampart_http_request_duration_seconds_bucket{route=\"/v1/later/"
                             "{ms}\",method=\"GET\",le=\"0.05\"} 0\n"))
      << text;
  EXPECT_TRUE(Contains(text, "rampart_http_request_duration_seconds_count{route=\"/v1/later/"
                             "{ms}\",method=\"GET\"} 1\n"))
      << text;
}

TEST_F(ServerTest, RequestTimeoutDoesNotCutAPendingAsyncAnswer) {
  ServerOptions options;
  options.header_timeout = 1s;
  options.request_timeout = 1s;
  StartServer(options);
  auto client = Client();
  auto res = client->Request("GET", "/v1/later/1500");
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->keep_alive);
  auto next = client->Request("GET", "/healthz");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->status, 200);
}

TEST_F(ServerTest, ManyAsyncAnswersRacingTheHandlersReturn) {
  ServerOptions options;
  options.threads = 2;
  StartServer(options);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      HttpClient client("127.0.0.1", server_->port());
      for (int i = 0; i < 25; ++i) {
        std::string id = std::to_string(t * 100 + i);
        auto res = client.Request("GET", "/v1/race/" + id);
        if (res.ok() && res->status == 200 && boost::json::parse(res->body).at("i") == id.c_str()) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 100);
}

TEST_F(ServerTest, GracefulStopWaitsForAPendingAsyncAnswer) {
  StartServer();
  Result<HttpResponse> parked = Error{ErrorCode::kInternal, "not run"};
  std::thread waiting([&] { parked = Client()->Request("GET", "/v1/park/1"); });
  ASSERT_TRUE(WaitParked(1));
  auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] { server_->Stop(5s); });
  // Once new connections are refused the server is draining; then the answer comes.
  HttpClientOptions quick;
  quick.timeout = 1000ms;
  bool draining = false;
  for (int i = 0; i < 400 && !draining; ++i) {
    draining = !Client(quick)->Request("GET", "/healthz").ok();
    if (!draining) std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(draining);
  TakeParked(0).responder.Send(JsonResponse(200, boost::json::object{{"late", true}}));
  stopper.join();
  waiting.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);  // did not wait for the drain
  ASSERT_TRUE(parked.ok()) << parked.error().message;
  EXPECT_EQ(parked->status, 200);
  EXPECT_FALSE(parked->keep_alive);  // Connection: close while draining
}

// When the drain time passes with requests still waiting, Stop() calls its callback
// (serve: the run service answers each `wait`ing caller 202 with its run's id) and those
// answers go out before the connections close; a drain that ends in time does not call it.
TEST_F(ServerTest, StopLetsTheDrainCallbackAnswerWhatStillWaits) {
  StartServer();
  Result<HttpResponse> parked = Error{ErrorCode::kInternal, "not run"};
  std::thread waiting([&] { parked = Client()->Request("GET", "/v1/park/1"); });
  ASSERT_TRUE(WaitParked(1));
  int calls = 0;
  auto start = std::chrono::steady_clock::now();
  server_->Stop(200ms, [&] {
    ++calls;
    TakeParked(0).responder.Send(JsonResponse(202, boost::json::object{{"run_id", "run_1"}}));
  });
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  waiting.join();
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(parked.ok()) << parked.error().message;
  EXPECT_EQ(parked->status, 202);
  EXPECT_NE(parked->body.find("run_1"), std::string::npos);
  EXPECT_FALSE(parked->keep_alive);
  server_->Stop(0ms, [&] { ++calls; });  // idempotent: not called again
  EXPECT_EQ(calls, 1);

  StartServer();
  ASSERT_TRUE(Client()->Request("GET", "/healthz").ok());
  server_->Stop(5s, [&] { ++calls; });  // nothing in flight: the drain ends at once
  EXPECT_EQ(calls, 1);
}

TEST_F(ServerTest, StopClosesUnansweredAsyncRequestsAndLateAnswersAreHarmless) {
  StartServer();
  std::vector<Result<HttpResponse>> results(3, Error{ErrorCode::kInternal, "not run"});
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] {
      results[i] = Client()->Request("GET", "/v1/park/" + std::to_string(i));
    });
  }
  ASSERT_TRUE(WaitParked(3));
  auto start = std::chrono::steady_clock::now();
  server_->Stop(200ms);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);  // drain + a margin
  for (auto& t : clients) t.join();
  for (const auto& res : results) EXPECT_FALSE(res.ok());  // closed without an answer
  std::map<std::string, Parked> by_n;
  for (size_t i = 0; i < 3; ++i) {
    Parked p = TakeParked(i);
    by_n[p.request->params.at("n")] = std::move(p);
  }
  // After Stop(): ignored.
  by_n["0"].responder.Send(JsonResponse(200, boost::json::object{}));
  // After the server is destroyed: a Send() from another thread and a dropped last copy
  // (which delivers the generic 500) are no-ops; the Requests are still readable.
  server_.reset();
  std::thread late([p = std::move(by_n["1"])] {
    EXPECT_EQ(p.request->params.at("n"), "1");
    p.responder.Send(JsonResponse(200, boost::json::object{}));
  });
  late.join();
  EXPECT_EQ(by_n["2"].request->params.at("n"), "2");
  by_n.clear();
}

// A client that closes its connection while its answer is pending is noticed within a
// moment: the handler hears it (OnClientGone) and the session ends, freeing its slot under
// max_connections, long before the handler would answer. A late answer is harmless.
TEST_F(ServerTest, AClientGoneWhileItsAnswerIsPendingFreesItsConnectionAtOnce) {
  ServerOptions options;
  options.max_connections = 1;
  StartServer(options);
  std::atomic<int> gone{0};
  auto client = Client();
  ASSERT_TRUE(client->SendRaw("GET /v1/park/1 HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  ASSERT_TRUE(WaitParked(1));
  Parked parked = TakeParked(0);
  parked.responder.OnClientGone([&gone] { ++gone; });
  std::this_thread::sleep_for(500ms);  // past the first check: the client is still there
  EXPECT_EQ(gone.load(), 0);
  EXPECT_EQ(server_->connections(), 1u);
  client->Close();
  WaitClientGoneAndNoConnection(gone);
  EXPECT_EQ(gone.load(), 1);
  EXPECT_EQ(server_->connections(), 0u);
  // The slot is free: a new connection is served.
  auto next = Client();
  auto res = next->Request("GET", "/healthz");
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  // Registering after the client went: called at once. The late answer goes nowhere.
  parked.responder.OnClientGone([&gone] { ++gone; });
  EXPECT_EQ(gone.load(), 2);
  parked.responder.Send(JsonResponse(200, boost::json::object{}));
  EXPECT_EQ(parked.request->params.at("n"), "1");
}

// A reset (RST) is noticed the same way, and over TLS too.
TEST_F(ServerTest, AClientGoneOverTlsWhileItsAnswerIsPendingIsNoticed) {
  StartTlsServer();
  std::atomic<int> gone{0};
  auto client = Client(TlsClient());
  ASSERT_TRUE(client->SendRaw("GET /v1/park/2 HTTP/1.1\r\nHost: x\r\n\r\n").ok());
  ASSERT_TRUE(WaitParked(1));
  Parked parked = TakeParked(0);
  parked.responder.OnClientGone([&gone] { ++gone; });
  client->Close();
  WaitClientGoneAndNoConnection(gone);
  EXPECT_EQ(gone.load(), 1);
  EXPECT_EQ(server_->connections(), 0u);
}

// Bytes of a pipelined request that arrive while an answer is pending are not a close:
// they stay for the next read, and the next request is answered after the first.
TEST_F(ServerTest, APipelinedRequestBehindAPendingAnswerIsAnsweredAfterIt) {
  StartServer();
  std::atomic<int> gone{0};
  auto client = Client();
  ASSERT_TRUE(client
                  ->SendRaw("GET /v1/park/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                            "POST /v1/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo")
                  .ok());
  ASSERT_TRUE(WaitParked(1));
  Parked parked = TakeParked(0);
  parked.responder.OnClientGone([&gone] { ++gone; });
  std::this_thread::sleep_for(1200ms);  // several checks with the next request waiting
  EXPECT_EQ(gone.load(), 0);
  EXPECT_EQ(server_->connections(), 1u);
  parked.responder.Send(JsonResponse(200, boost::json::object{{"parked", true}}));
  auto first = client->ReadResponse();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(boost::json::parse(first->body).at("parked"), true);
  auto second = client->ReadResponse();
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(boost::json::parse(second->body).at("body"), "two");
  EXPECT_EQ(gone.load(), 0);  // answered: never told
  client->Close();
}

TEST_F(ServerTest, TlsRoundTripWithHsts) {
  StartTlsServer();
  auto client = Client(TlsClient());
  auto res = client->Request("GET", "/v1/orgs/a/workflows/b");
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(boost::json::parse(res->body).at("tls"), true);
  EXPECT_EQ(res->Header("Strict-Transport-Security"), "max-age=31536000; includeSubDomains");
  ExpectSecurityHeaders(*res);
  res = client->Request("GET", "/v1/nope");  // errors too, same connection
  ASSERT_TRUE(res.ok());
  ExpectError(*res, 404, "not_found");
  EXPECT_TRUE(res->Header("Strict-Transport-Security").has_value());
  res = client->Request("GET", "/v1/later/20");  // an asynchronous answer over TLS
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200);
  EXPECT_TRUE(res->keep_alive);
  EXPECT_TRUE(res->Header("Strict-Transport-Security").has_value());

  // Plain HTTP to a TLS port gets nothing useful.
  HttpClientOptions quick;
  quick.timeout = 2000ms;
  auto plain = Client(quick);
  auto bad = plain->Request("GET", "/healthz");
  EXPECT_TRUE(!bad.ok() || bad->status >= 400);
}

TEST_F(ServerTest, BadTlsMaterialIsAnErrorNotACrash) {
  ServerOptions options;
  options.port = 0;
  options.tls_cert_file = "/nonexistent/cert.pem";
  options.tls_key_file = "/nonexistent/key.pem";
  HttpServer server(options, router_, nullptr);
  Status s = server.Start();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);

  testing::SelfSignedCert cert;
  testing::SelfSignedCert other;
  options.tls_cert_file = cert.cert_file();
  options.tls_key_file = other.key_file();  // mismatched key
  HttpServer mismatched(options, router_, nullptr);
  EXPECT_FALSE(mismatched.Start().ok());

  options.tls_key_file = "";
  HttpServer half(options, router_, nullptr);
  EXPECT_FALSE(half.Start().ok());
}

TEST_F(ServerTest, BadListenAddressIsAnError) {
  ServerOptions options;
  options.host = "not an ip";
  HttpServer server(options, router_, nullptr);
  EXPECT_FALSE(server.Start().ok());
  StartServer();
  ServerOptions taken;
  taken.port = server_->port();
  HttpServer second(taken, router_, nullptr);
  // SO_REUSEADDR does not allow two listeners on one port.
  EXPECT_FALSE(second.Start().ok());
}

}  // namespace
}  // namespace rampart::server
