#include "support/http_client.h"

#include <poll.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace rampart::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {
bool IEquals(std::string_view a, std::string_view b) { return beast::iequals(a, b); }
}  // namespace

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return std::nullopt;
}

size_t HttpResponse::HeaderCount(std::string_view name) const {
  size_t n = 0;
  for (const auto& [k, v] : headers) n += IEquals(k, name) ? 1 : 0;
  return n;
}

class HttpClient::Impl {
 public:
  Impl(std::string host, uint16_t port, HttpClientOptions options)
      : host_(std::move(host)), port_(port), options_(std::move(options)),
        ssl_ctx_(ssl::context::tls_client) {
    ssl_ctx_.set_verify_mode(ssl::verify_none);
    SSL_CTX_set_min_proto_version(ssl_ctx_.native_handle(), TLS1_2_VERSION);
  }

  bool connected() const { return plain_ || tls_; }

  void Close() {
    beast::error_code ec;
    if (plain_) plain_->socket().close(ec);
    if (tls_) beast::get_lowest_layer(*tls_).socket().close(ec);
    ioc_.restart();
    ioc_.poll();
    plain_.reset();
    tls_.reset();
    buffer_.clear();
  }

  Status Connect() {
    if (connected()) return Status::Ok();
    beast::error_code ec;
    auto address = asio::ip::make_address(host_, ec);
    if (ec) return Error{ErrorCode::kInvalidArgument, "bad host " + host_};
    tcp::endpoint endpoint(address, port_);
    if (options_.tls) {
      tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, ssl_ctx_);
      SSL_set_tlsext_host_name(tls_->native_handle(), options_.sni_host.c_str());
      ec = Run([&](auto handler) { beast::get_lowest_layer(*tls_).async_connect(endpoint, handler); });
      if (!ec) ec = Run([&](auto handler) { tls_->async_handshake(ssl::stream_base::client, handler); });
    } else {
      plain_ = std::make_unique<beast::tcp_stream>(ioc_);
      ec = Run([&](auto handler) { plain_->async_connect(endpoint, handler); });
    }
    if (ec) {
      Close();
      return Failure("connect", ec);
    }
    return Status::Ok();
  }

  Status SendRaw(std::string_view bytes) {
    if (Status s = Connect(); !s.ok()) return s;
    auto ec = Run([&](auto handler) {
      WithStream([&](auto& stream) {
        asio::async_write(stream, asio::buffer(bytes.data(), bytes.size()), handler);
      });
    });
    if (ec) return Failure("write", ec);
    return Status::Ok();
  }

  // True when the connection, with no answer owed (nothing buffered), has something to
  // read or hung up: the server closed it (EOF, or a TLS close_notify before it).
  bool ClosedWhileIdle() {
    if (!connected() || buffer_.size() != 0) return false;
    const int fd = plain_ ? plain_->socket().native_handle()
                          : beast::get_lowest_layer(*tls_).socket().native_handle();
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
  }

  Result<HttpResponse> Request(std::string_view method, std::string_view target,
                               const HttpHeaders& headers, std::string_view body) {
    if (options_.reconnect_if_closed_while_idle && ClosedWhileIdle()) Close();
    if (Status s = Connect(); !s.ok()) return s.error();
    http::request<http::string_body> req;
    req.version(11);
    req.method_string(method);
    req.target(target);
    req.set(http::field::host, host_ + ":" + std::to_string(port_));
    bool explicit_length = false;
    for (const auto& [k, v] : headers) {
      if (IEquals(k, "Content-Length") || IEquals(k, "Transfer-Encoding")) explicit_length = true;
      req.insert(k, v);
    }
    req.body() = std::string(body);
    if (!explicit_length && !body.empty()) req.prepare_payload();
    auto ec = Run([&](auto handler) {
      WithStream([&](auto& stream) { http::async_write(stream, req, handler); });
    });
    if (ec) {
      Close();
      return Failure("write", ec).error();
    }
    return ReadResponse();
  }

  Result<HttpResponse> ReadResponse() {
    if (!connected()) return Error{ErrorCode::kInternal, "not connected"};
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    parser.header_limit(1 << 20);
    auto ec = Run([&](auto handler) {
      WithStream([&](auto& stream) { http::async_read(stream, buffer_, parser, handler); });
    });
    if (ec) {
      Close();
      return Failure("read", ec).error();
    }
    HttpResponse out;
    const auto& msg = parser.get();
    out.status = static_cast<int>(msg.result_int());
    for (const auto& field : msg) {
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    out.body = msg.body();
    out.keep_alive = msg.keep_alive();
    if (!out.keep_alive) Close();
    return out;
  }

  Result<std::string> ReadUntilClose() {
    if (!connected()) return Error{ErrorCode::kInternal, "not connected"};
    std::string out = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    char chunk[4096];
    while (true) {
      size_t got = 0;
      auto ec = Run([&](auto handler) {
        WithStream([&](auto& stream) {
          stream.async_read_some(asio::buffer(chunk), [&got, handler](const beast::error_code& e,
                                                                      size_t n) mutable {
            got = n;
            handler(e);
          });
        });
      });
      out.append(chunk, got);
      if (ec == beast::error::timeout) {
        Close();
        return Error{ErrorCode::kTimeout, "peer kept the connection open"};
      }
      if (ec) break;  // EOF, reset, TLS truncation: the peer closed
    }
    Close();
    return out;
  }

 private:
  template <typename F>
  void WithStream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  // Runs one asynchronous operation to completion or timeout.
  template <typename Start>
  beast::error_code Run(Start&& start) {
    bool done = false;
    beast::error_code result;
    start([&done, &result](const beast::error_code& ec, auto&&...) {
      done = true;
      result = ec;
    });
    ioc_.restart();
    ioc_.run_for(options_.timeout);
    if (!done) {
      beast::error_code ignored;
      if (plain_) plain_->socket().close(ignored);
      if (tls_) beast::get_lowest_layer(*tls_).socket().close(ignored);
      ioc_.restart();
      ioc_.run();
      return beast::error::timeout;
    }
    return result;
  }

  static Status Failure(std::string_view what, const beast::error_code& ec) {
    ErrorCode code = ec == beast::error::timeout ? ErrorCode::kTimeout : ErrorCode::kInternal;
    return Error{code, std::string(what) + ": " + ec.message()};
  }

  std::string host_;
  uint16_t port_;
  HttpClientOptions options_;
  asio::io_context ioc_;
  ssl::context ssl_ctx_;
  std::unique_ptr<beast::tcp_stream> plain_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_;
  beast::flat_buffer buffer_;
};

HttpClient::HttpClient(std::string host, uint16_t port, HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(host), port, std::move(options))) {}
HttpClient::~HttpClient() = default;
Result<HttpResponse> HttpClient::Request(std::string_view method, std::string_view target,
                                         const HttpHeaders& headers, std::string_view body) {
  return impl_->Request(method, target, headers, body);
}
Status HttpClient::Connect() { return impl_->Connect(); }
Status HttpClient::SendRaw(std::string_view bytes) { return impl_->SendRaw(bytes); }
Result<HttpResponse> HttpClient::ReadResponse() { return impl_->ReadResponse(); }
Result<std::string> HttpClient::ReadUntilClose() { return impl_->ReadUntilClose(); }
bool HttpClient::connected() const { return impl_->connected(); }
void HttpClient::Close() { impl_->Close(); }

}  // namespace rampart::testing
