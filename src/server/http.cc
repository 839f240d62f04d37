#include "rampart/server/http.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json/object.hpp>
#include <mutex>
#include <string>

#include "rampart/core/ascii.h"
#include "rampart/core/clock.h"
#include "rampart/core/json.h"

namespace rampart::server {

namespace {


int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string_view> FindHeader(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::QueryParam(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

struct Responder::State {
  State(std::function<void(Response)> d, std::string id)
      : deliver(std::move(d)), request_id(std::move(id)) {}
  ~State() {
    if (sent.exchange(true)) return;
    try {
      deliver(ErrorResponse(Error{ErrorCode::kInternal, ""}, request_id));
    } catch (...) {
      // A destructor must not throw; the connection's own timeout ends it.
    }
  }
  std::function<void(Response)> deliver;
  std::string request_id;
  std::atomic<bool> sent{false};
  // OnClientGone / Watch: touched only by requests whose answer waits (a run's `wait`).
  std::mutex gone_mu;
  bool gone = false;                  // guarded by gone_mu
  std::function<void()> on_gone;      // guarded by gone_mu
};

Responder::Responder(std::function<void(Response)> deliver, std::string request_id)
    : state_(std::make_shared<State>(std::move(deliver), std::move(request_id))) {}

void Responder::Send(Response response) const {
  if (state_ == nullptr || state_->sent.exchange(true)) return;
  state_->deliver(std::move(response));
}

void Responder::OnClientGone(std::function<void()> on_gone) const {
  if (state_ == nullptr) return;
  {
    std::lock_guard lock(state_->gone_mu);
    if (!state_->gone) {
      state_->on_gone = std::move(on_gone);
      return;
    }
  }
  if (!state_->sent.load() && on_gone) on_gone();
}

Responder::Watch Responder::MakeWatch() const {
  Watch watch;
  watch.state_ = state_;
  return watch;
}

void Responder::Watch::ClientGone() const {
  const std::shared_ptr<State> state = state_.lock();
  if (state == nullptr) return;
  std::function<void()> on_gone;
  {
    std::lock_guard lock(state->gone_mu);
    if (state->gone) return;
    state->gone = true;
    on_gone.swap(state->on_gone);
  }
  if (!state->sent.load() && on_gone) on_gone();
}

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kInvalidDefinition:
    case ErrorCode::kInvalidInput:
    case ErrorCode::kInvalidExpression:
    case ErrorCode::kLimitExceeded:
    case ErrorCode::kForbiddenSecretAccess:
      return 400;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kRateLimited: return 429;
    default: return 500;
  }
}

Response JsonResponse(int status, const boost::json::value& value) {
  Response response;
  response.status = status;
  response.body = json::Serialize(value);
  return response;
}

Response ErrorResponse(const Error& error, std::string_view request_id, int retry_after_seconds) {
  int status = HttpStatusFor(error.code);
  // The API answers with the closed set of codes of spec/interfaces.md. The finer codes
  // of a bad request (invalid_input, invalid_expression, limit_exceeded,
  // forbidden_secret_access) answer as invalid_argument; their message keeps the detail.
  std::string_view code = error.code_name();
  if (status == 500) {
    code = "internal";
  } else if (status == 400 && error.code != ErrorCode::kInvalidDefinition) {
    code = "invalid_argument";
  }
  std::string_view message =
      status == 500 ? std::string_view("internal error") : std::string_view(error.message);
  boost::json::object inner;
  inner["code"] = code;
  inner["message"] = message;
  inner["request_id"] = request_id;
  boost::json::object outer;
  outer["error"] = std::move(inner);
  Response response = JsonResponse(status, outer);
  response.error_code = code;  // a name of the closed set: static storage
  // RFC 9110 11.6.1: a 401 names the scheme it wants (the same for every failure).
  if (status == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"rampart\"");
  if (status == 429) {
    response.headers.emplace_back("Retry-After",
                                  std::to_string(retry_after_seconds > 0 ? retry_after_seconds : 1));
  }
  return response;
}

bool PercentDecode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    // Plain text (a path segment is mostly that) goes out in one piece.
    const size_t special = plus_is_space ? in.find_first_of("%+", i) : in.find('%', i);
    if (special == std::string_view::npos) {
      out.append(in.data() + i, in.size() - i);
      break;
    }
    out.append(in.data() + i, special - i);
    i = special;
    if (in[i] == '+') {
      out.push_back(' ');
      ++i;
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]);
    int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    char decoded = static_cast<char>(hi * 16 + lo);
    if (decoded == '\0') return false;
    out.push_back(decoded);
    i += 3;
  }
  return true;
}

std::string NewRequestId() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  uint8_t bytes[20];
  IdRandom().Fill(bytes, sizeof(bytes));
  std::string id = "req_";
  for (uint8_t b : bytes) id.push_back(kAlphabet[b & 31]);
  return id;
}

}  // namespace rampart::server
