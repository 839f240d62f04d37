#include "rampart/server/server.h"

#include <openssl/ssl.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "server/beast_request.h"
#include "server/request_pipeline.h"

namespace rampart::server {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

// The io threads share one io_context; each connection runs on its own strand. Concrete
// executor types (not any_io_executor): no type-erased executor copies per operation.
using Executor = asio::strand<asio::io_context::executor_type>;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Acceptor = asio::basic_socket_acceptor<tcp, Executor>;
using Timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                         asio::wait_traits<std::chrono::steady_clock>, Executor>;
using TcpStream = beast::basic_stream<tcp, Executor, beast::unlimited_rate_policy>;
using TlsStream = beast::ssl_stream<TcpStream>;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
// After an error response that closes the connection, unread request bytes are drained
// for at most this long / this many bytes, so that the peer sees the response instead
// of a reset.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr size_t kLingerBytes = 256 * 1024;
// After Stop()'s at_drain_end callback: the time its answers have to be written.
constexpr auto kDrainEndGrace = std::chrono::seconds(1);
// While an asynchronous answer is pending (a run's `wait`), the socket is checked for the
// client's close first after this long (most answers come sooner: nothing is checked for
// them), then this often.
constexpr auto kFirstPeerCheck = std::chrono::milliseconds(200);
constexpr auto kPeerCheckEvery = std::chrono::milliseconds(500);

bool IsHttpParseError(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::need_more).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// One asynchronous answer: shared by the session and the Responder's deliver function.
// phase goes from kHandlerRunning to kHandlerReturned (by the session) or kAnswered (by
// the Send()), each side with an exchange, so exactly one of them sees the other's step
// and writes the answer: the session when Send() came first, else a post to the strand.
struct PendingAnswer {
  enum Phase : int { kHandlerRunning, kHandlerReturned, kAnswered };
  std::atomic<int> phase{kHandlerRunning};
  std::optional<Response> response;  // written once by Send(), before it sets kAnswered
};

// Open while the io_context can take posts. A Responder locks it to post an answer, and
// ~Impl closes it before the io_context is destroyed, so a late Send() is a no-op.
struct AnswerGate {
  std::mutex mu;
  bool open = true;  // guarded by mu
};

class SessionBase {
 public:
  virtual ~SessionBase() = default;
  // Posted by Stop(): closes the connection if it waits for a new request.
  virtual void Shutdown() = 0;
  // Closes the connection whatever it is doing.
  virtual void ForceClose() = 0;
};

}  // namespace

class HttpServer::Impl {
 public:
  Impl(ServerOptions options, const Router& router, Metrics* metrics)
      : options_(std::move(options)), router_(router), metrics_(metrics) {}

  ~Impl() {
    Stop(std::chrono::milliseconds(0), {});
    CloseGate();  // also when never started; before ioc_ (a member) is destroyed
  }

  Status Start();
  void Stop(std::chrono::milliseconds drain, const std::function<void()>& at_drain_end);
  void Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return stopped_ || !started_; });
  }

  // Registry of live sessions, for Stop().
  uint64_t Register(std::weak_ptr<SessionBase> session) {
    std::lock_guard lock(mu_);
    uint64_t id = next_session_id_++;
    sessions_[id] = std::move(session);
    return id;
  }
  void Unregister(uint64_t id) {
    std::lock_guard lock(mu_);
    sessions_.erase(id);
    connections_.fetch_sub(1);
    cv_.notify_all();
  }

  // Once the io threads are gone, answers have nowhere to go: Send() becomes a no-op.
  void CloseGate() {
    std::lock_guard lock(gate_->mu);
    gate_->open = false;
  }

  const ServerOptions options_;
  const Router& router_;
  Metrics* const metrics_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> connections_{0};
  std::atomic<uint16_t> port_{0};
  // Shared with every Responder of an asynchronous route (they may outlive the server).
  const std::shared_ptr<AnswerGate> gate_ = std::make_shared<AnswerGate>();

 private:
  void DoAccept();
  void OnAccept(const beast::error_code& ec,
                asio::basic_stream_socket<asio::ip::tcp,
                                          asio::strand<asio::io_context::executor_type>> socket);

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::weak_ptr<SessionBase>> sessions_;  // guarded by mu_
  uint64_t next_session_id_ = 0;                              // guarded by mu_
  bool started_ = false;                                      // guarded by mu_
  bool stop_called_ = false;                                  // guarded by mu_
  bool stopped_ = false;                                      // guarded by mu_
  std::optional<ssl::context> ssl_ctx_;
  std::vector<std::thread> threads_;
  // Declared last: destroyed first, while everything sessions touch in their
  // destructors (registry, counters) is still alive.
  asio::io_context ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  Acceptor acceptor_{asio::make_strand(ioc_)};
  Timer accept_retry_{acceptor_.get_executor()};
};

namespace {

template <typename Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
 public:
  Session(HttpServer::Impl* server, Stream stream, bool tls)
      : server_(server), stream_(std::move(stream)), tls_(tls) {
    beast::error_code ec;
    auto endpoint = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) remote_ip_ = endpoint.address().to_string();
  }
  ~Session() override { server_->Unregister(id_); }

  void Run() {
    id_ = server_->Register(this->weak_from_this());
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->Begin(); });
  }

  void Shutdown() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
      if (self->idle_) self->Close();
    });
  }
  void ForceClose() override {
    asio::post(stream_.get_executor(), [self = this->shared_from_this()] { self->Close(); });
  }

 private:
  const ServerOptions& options() const { return server_->options_; }

  void Begin() {
    if constexpr (std::is_same_v<Stream, TcpStream>) {
      ReadHead();
    } else {
      beast::get_lowest_layer(stream_).expires_after(options().header_timeout);
      stream_.async_handshake(ssl::stream_base::server,
                              [self = this->shared_from_this()](const beast::error_code& ec) {
                                if (ec) return self->Close();
                                self->ReadHead();
                              });
    }
  }

  void ReadHead() {
    if (server_->stopping_) return Close();
    idle_ = true;
    parser_.emplace();
    internal::ConfigureParser(*parser_, options());
    // An asynchronous answer's Responder may still hold the previous Request
    // (Route::async_handler promises it stays valid until the answer): a fresh one then.
    // After a synchronous handler nobody else has it, and it is reused (its buffers too).
    if (req_reusable_) {
      ResetRequest(*req_);
    } else {
      req_ = std::make_shared<Request>();
    }
    req_reusable_ = false;
    req_->request_id = NewRequestId();
    req_->remote_ip = remote_ip_;
    req_->tls = tls_;
    decision_ = internal::HeadDecision{};
    beast::get_lowest_layer(stream_).expires_after(options().header_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](const beast::error_code& ec,
                                                              size_t) { self->OnHead(ec); });
  }

  void OnHead(const beast::error_code& ec) {
    idle_ = false;
    start_ = std::chrono::steady_clock::now();
    if (ec) {
      // Timeouts, resets and a peer closing between requests end the connection
      // silently; a malformed or oversized head gets an error response.
      if (IsHttpParseError(ec)) return Respond(internal::ParseErrorResponse(ec, req_->request_id), true);
      return Close();
    }
    internal::CopyHead(*parser_, *req_);
    std::optional<uint64_t> content_length;
    if (parser_->content_length()) content_length = *parser_->content_length();
    decision_ = internal::ProcessHead(server_->router_, options(), *req_, content_length,
                                      parser_->chunked());
    if (decision_.response) {
      Response response = std::move(*decision_.response);
      decision_.response.reset();
      // The body (if any) was not read: the connection cannot be reused.
      return Respond(std::move(response), true);
    }
    parser_->body_limit(decision_.body_limit);
    if (parser_->is_done()) return Handle();
    auto expect = req_->Header("Expect");
    if (expect && beast::iequals(*expect, "100-continue")) {
      beast::get_lowest_layer(stream_).expires_after(options().request_timeout);
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](const beast::error_code& wec, size_t) {
                          if (wec) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    // A small body usually arrives with the head: what is already buffered is parsed
    // first, so such a request is handled without another read operation (whose
    // completion would be handed to another io thread).
    if (ParseBuffered()) return;
    ReadBody();
  }

  // Feeds the buffered bytes to the parser (body limit included). True when that settled
  // the request (handled, or answered with the parse error); false when more must be read.
  bool ParseBuffered() {
    while (buffer_.size() > 0 && !parser_->is_done()) {
      beast::error_code ec;
      const size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == http::error::need_more) return false;
      if (ec) {
        Respond(internal::BodyParseErrorResponse(*decision_.route, *req_, ec), true);
        return true;
      }
      if (used == 0) return false;
    }
    if (!parser_->is_done()) return false;
    req_->body = std::move(parser_->get().body());
    Handle();
    return true;
  }

  void ReadBody() {
    beast::get_lowest_layer(stream_).expires_after(options().request_timeout);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](const beast::error_code& ec, size_t) {
                       self->OnBody(ec);
                     });
  }

  void OnBody(const beast::error_code& ec) {
    if (ec) {
      if (IsHttpParseError(ec)) {
        return Respond(internal::BodyParseErrorResponse(*decision_.route, *req_, ec), true);
      }
      return Close();
    }
    req_->body = std::move(parser_->get().body());
    Handle();
  }

  void Handle() {
    close_after_ = !parser_->get().keep_alive();
    if (decision_.route->async_handler) return HandleAsync();
    Response response;
    try {
      response = decision_.route->handler(*req_);
    } catch (...) {
      // Never what(): exception text may carry internals.
      response = ErrorResponse(Error{ErrorCode::kInternal, ""}, req_->request_id);
    }
    req_reusable_ = true;  // a synchronous handler keeps no reference to the Request
    Respond(std::move(response), close_after_);
  }

  // A fresh Request's values, keeping the header and query vectors' and the target
  // strings' capacity.
  static void ResetRequest(Request& req) {
    Request fresh;
    fresh.headers = std::move(req.headers);
    fresh.headers.clear();
    fresh.query = std::move(req.query);
    fresh.query.clear();
    fresh.path = std::move(req.path);
    fresh.path.clear();
    fresh.raw_target = std::move(req.raw_target);
    fresh.raw_target.clear();
    req = std::move(fresh);
  }

  // The io thread is free as soon as the handler returns. An answer given while the
  // handler is still on the stack (the common case for errors) is written directly;
  // a later one is posted to this session's strand by the Responder (MakeDeliver).
  void HandleAsync() {
    auto pending = std::make_shared<PendingAnswer>();
    Responder::Watch watch;
    {
      const Responder responder(MakeDeliver(pending), req_->request_id);
      watch = responder.MakeWatch();
      try {
        decision_.route->async_handler(*req_, responder);
      } catch (...) {
        // Ignored when the handler answered before throwing. Never what().
        responder.Send(ErrorResponse(Error{ErrorCode::kInternal, ""}, req_->request_id));
      }
    }  // When the handler kept no copy, this was the last one: the generic 500 is given now.
    if (pending->phase.exchange(PendingAnswer::kHandlerReturned, std::memory_order_acq_rel) ==
        PendingAnswer::kAnswered) {
      return Respond(std::move(*pending->response), close_after_);
    }
    // Waiting for another thread's Send(). No asio operation is pending now, so the
    // session keeps itself alive with a wait on a timer (re-armed by OnHold): its handler
    // holds the reference, so the session is destroyed on an io thread (when OnAnswer or
    // Close cancels the wait) or with the io_context's queue, never on the thread that
    // calls Send(), and never leaks (a self-reference member would, if nothing broke the
    // cycle). The socket's timeout covers reading and writing, not the handler's wait (a
    // run's `wait` may be long): Respond arms it again for the write. The same timer
    // checks now and then whether the client is still there (OnHold).
    pending_ = pending;
    watch_ = std::move(watch);
    beast::get_lowest_layer(stream_).expires_never();
    hold_.expires_after(kFirstPeerCheck);
    hold_.async_wait([self = this->shared_from_this(), pending](const beast::error_code& ec) {
      self->OnHold(ec, pending);
    });
  }

  // A client that closes its connection (or resets it) while its answer is pending would
  // otherwise hold the session (socket, buffers, a slot under max_connections) and the
  // handler's wait until the wait's deadline. Nothing is read from the socket meanwhile:
  // poll() with POLLRDHUP tells a peer's FIN (or reset) apart from bytes it sent early
  // (a pipelined request, a TLS record), which stay in the socket for the next read. A
  // client that half-closes its sending side while it waits for the answer looks gone.
  void OnHold(const beast::error_code& ec, const std::shared_ptr<PendingAnswer>& pending) {
    if (ec || pending != pending_) return;  // answered or closed meanwhile
    if (PeerClosed()) {
      const Responder::Watch watch = std::move(watch_);
      Close();
      watch.ClientGone();  // after Close(): an answer it causes is dropped
      return;
    }
    hold_.expires_after(kPeerCheckEvery);
    hold_.async_wait([self = this->shared_from_this(), pending](const beast::error_code& wec) {
      self->OnHold(wec, pending);
    });
  }

  bool PeerClosed() {
    pollfd p{};
    p.fd = beast::get_lowest_layer(stream_).socket().native_handle();
    p.events = POLLIN | POLLRDHUP;
    if (::poll(&p, 1, 0) <= 0) return false;  // nothing new (or EINTR: checked again later)
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
  }

  // The Responder's deliver function. It holds no strong reference to the session (a
  // session must not be destroyed on the caller's thread) and no executor (an executor
  // must not outlive its io_context): it locks the session only under the server's gate,
  // which ~Impl closes before the io_context is destroyed, and moves that reference into
  // the handler posted to the session's strand, which runs or is destroyed on the io
  // side. It keeps the Request alive, as Route::async_handler promises.
  std::function<void(Response)> MakeDeliver(std::shared_ptr<PendingAnswer> pending) {
    return [weak = this->weak_from_this(), gate = server_->gate_, pending = std::move(pending),
            request = req_](Response response) {
      pending->response = std::move(response);
      if (pending->phase.exchange(PendingAnswer::kAnswered, std::memory_order_acq_rel) !=
          PendingAnswer::kHandlerReturned) {
        return;  // the handler is still on the stack: HandleAsync answers when it returns
      }
      std::lock_guard lock(gate->mu);
      if (!gate->open) return;  // the server is gone (or stopped): nobody to answer
      auto self = weak.lock();
      if (self == nullptr) return;  // the connection was closed meanwhile
      auto executor = self->stream_.get_executor();
      asio::post(executor, [self = std::move(self), pending] { self->OnAnswer(pending); });
    };
  }

  void OnAnswer(const std::shared_ptr<PendingAnswer>& answer) {
    if (answer != pending_) return;  // closed (and so no longer waiting) meanwhile
    pending_.reset();
    watch_ = Responder::Watch();
    hold_.cancel();
    Respond(std::move(*answer->response), close_after_);
  }

  void Respond(Response response, bool close) {
    close = close || server_->stopping_;
    internal::FinalizeResponse(response, *req_, options(), server_->router_);
    if (server_->metrics_ != nullptr) {
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      server_->metrics_->ObserveRequest(
          decision_.metrics_route,
          req_->method.empty() ? std::string_view("OTHER") : std::string_view(req_->method),
          response.status, seconds, response.error_code);
    }
    // The head is written into a buffer the session keeps (its capacity is reused), and
    // goes out with the body in one gather write.
    const bool with_body = internal::SerializeResponseHead(response, close, head_);
    body_ = std::move(response.body);
    const std::array<asio::const_buffer, 2> buffers{
        asio::buffer(head_), with_body ? asio::buffer(body_) : asio::const_buffer()};
    beast::get_lowest_layer(stream_).expires_after(options().request_timeout);
    asio::async_write(stream_, buffers,
                      [self = this->shared_from_this(), close](const beast::error_code& ec,
                                                               size_t) {
                        self->body_ = std::string();  // an idle connection keeps no body
                        if (ec) return self->Close();
                        if (close) return self->Linger();
                        self->ReadHead();
                      });
  }

  // Half-closes and drains what the peer still sends, then closes.
  void Linger() {
    auto& lowest = beast::get_lowest_layer(stream_);
    beast::error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    lowest.expires_after(kLingerTime);
    DrainSome();
  }
  void DrainSome() {
    beast::get_lowest_layer(stream_).async_read_some(
        asio::buffer(drain_buffer_),
        [self = this->shared_from_this()](const beast::error_code& ec, size_t n) {
          self->drained_ += n;
          if (ec || self->drained_ > kLingerBytes) return self->Close();
          self->DrainSome();
        });
  }

  void Close() {
    pending_.reset();  // an answer that comes now is dropped
    watch_ = Responder::Watch();
    hold_.cancel();
    auto& lowest = beast::get_lowest_layer(stream_);
    beast::error_code ec;
    lowest.socket().shutdown(tcp::socket::shutdown_both, ec);
    lowest.close();
  }

  HttpServer::Impl* const server_;
  Stream stream_;
  const bool tls_;
  std::string remote_ip_;
  uint64_t id_ = 0;
  bool idle_ = false;  // waiting for the head of a request (on the strand only)
  beast::flat_buffer buffer_;
  std::optional<internal::RequestParser> parser_;
  std::shared_ptr<Request> req_ = std::make_shared<Request>();
  bool req_reusable_ = false;  // req_ is referenced by this session only (see ReadHead)
  std::string head_;           // the response head being written
  std::string body_;           // the response body being written
  bool close_after_ = false;  // the request asked to close the connection
  std::shared_ptr<PendingAnswer> pending_;  // set while waiting for an asynchronous answer
  Responder::Watch watch_;                  // pending_'s Responder, told if the client goes
  Timer hold_{stream_.get_executor()};  // see HandleAsync
  internal::HeadDecision decision_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::array<char, 4096> drain_buffer_{};
  size_t drained_ = 0;
};

}  // namespace

Status HttpServer::Impl::Start() {
  {
    std::lock_guard lock(mu_);
    if (started_) return Error{ErrorCode::kInternal, "server already started"};
  }
  try {
    bool want_tls = !options_.tls_cert_file.empty() || !options_.tls_key_file.empty();
    if (want_tls) {
      if (options_.tls_cert_file.empty() || options_.tls_key_file.empty()) {
        return Error{ErrorCode::kInvalidArgument, "TLS needs both a certificate and a key file"};
      }
      ssl_ctx_.emplace(ssl::context::tls_server);
      ssl_ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                            ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                            ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
      if (SSL_CTX_set_min_proto_version(ssl_ctx_->native_handle(), TLS1_2_VERSION) != 1) {
        return Error{ErrorCode::kInternal, "cannot restrict TLS to 1.2+"};
      }
      beast::error_code ec;
      ssl_ctx_->use_certificate_chain_file(options_.tls_cert_file, ec);
      if (ec) return Error{ErrorCode::kInvalidArgument, "cannot load TLS certificate file"};
      ssl_ctx_->use_private_key_file(options_.tls_key_file, ssl::context::pem, ec);
      if (ec) return Error{ErrorCode::kInvalidArgument, "cannot load TLS private key file"};
      if (SSL_CTX_check_private_key(ssl_ctx_->native_handle()) != 1) {
        return Error{ErrorCode::kInvalidArgument, "TLS private key does not match the certificate"};
      }
    }
    beast::error_code ec;
    auto address = asio::ip::make_address(options_.host, ec);
    if (ec) return Error{ErrorCode::kInvalidArgument, "invalid listen address: " + options_.host};
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Error{ErrorCode::kInternal, "cannot listen on " + options_.host + ":" +
                                             std::to_string(options_.port) + ": " + ec.message()};
    }
    port_ = acceptor_.local_endpoint().port();
  } catch (const std::exception&) {
    return Error{ErrorCode::kInternal, "cannot start the HTTP server"};
  }
  work_.emplace(ioc_.get_executor());
  asio::dispatch(acceptor_.get_executor(), [this] { DoAccept(); });
  int threads = options_.threads;
  if (threads <= 0) threads = std::max(4, 2 * static_cast<int>(std::thread::hardware_concurrency()));
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      while (true) {
        try {
          ioc_.run();
          return;
        } catch (...) {
          // A handler escaped the per-request catch; keep serving.
        }
      }
    });
  }
  std::lock_guard lock(mu_);
  started_ = true;
  return Status::Ok();
}

void HttpServer::Impl::DoAccept() {
  acceptor_.async_accept(asio::make_strand(ioc_),
                          [this](const beast::error_code& ec, Socket socket) {
                            OnAccept(ec, std::move(socket));
                          });
}

void HttpServer::Impl::OnAccept(const beast::error_code& ec, Socket socket) {
  if (stopping_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    // E.g. out of file descriptors: back off instead of spinning.
    accept_retry_.expires_after(std::chrono::milliseconds(50));
    accept_retry_.async_wait([this](const beast::error_code& wec) {
      if (!wec && !stopping_) DoAccept();
    });
    return;
  }
  if (connections_.load() >= options_.max_connections) {
    beast::error_code ignored;
    socket.close(ignored);
  } else {
    connections_.fetch_add(1);
    if (ssl_ctx_) {
      std::make_shared<Session<TlsStream>>(this, TlsStream(TcpStream(std::move(socket)), *ssl_ctx_),
                                           true)
          ->Run();
    } else {
      std::make_shared<Session<TcpStream>>(this, TcpStream(std::move(socket)), false)->Run();
    }
  }
  DoAccept();
}

void HttpServer::Impl::Stop(std::chrono::milliseconds drain,
                            const std::function<void()>& at_drain_end) {
  {
    std::unique_lock lock(mu_);
    if (!started_) return;
    if (stop_called_) {
      cv_.wait(lock, [&] { return stopped_; });
      return;
    }
    stop_called_ = true;
  }
  stopping_ = true;
  asio::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_.cancel();
  });
  auto snapshot = [&] {
    std::vector<std::shared_ptr<SessionBase>> live;
    std::lock_guard lock(mu_);
    for (auto& [id, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    return live;
  };
  for (auto& session : snapshot()) session->Shutdown();
  auto deadline = std::chrono::steady_clock::now() + drain;
  bool drained = false;
  {
    std::unique_lock lock(mu_);
    drained = cv_.wait_until(lock, deadline, [&] { return connections_.load() == 0; });
  }
  if (!drained && at_drain_end) {
    // What it answers now is written with Connection: close; those sessions then end.
    at_drain_end();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kDrainEndGrace, [&] { return connections_.load() == 0; });
  }
  for (auto& session : snapshot()) session->ForceClose();
  {
    // Closing is asynchronous; give it a moment so sessions end through their handlers.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return connections_.load() == 0; });
  }
  work_.reset();
  ioc_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  CloseGate();
  std::lock_guard lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

HttpServer::HttpServer(ServerOptions options, const Router& router, Metrics* metrics)
    : impl_(std::make_unique<Impl>(std::move(options), router, metrics)) {}
HttpServer::~HttpServer() = default;
Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->port_.load(); }
size_t HttpServer::connections() const { return impl_->connections_.load(); }
void HttpServer::Stop(std::chrono::milliseconds drain, const std::function<void()>& at_drain_end) {
  impl_->Stop(drain, at_drain_end);
}
void HttpServer::Wait() { impl_->Wait(); }

}  // namespace rampart::server
