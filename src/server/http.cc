#include "rampart/server/http.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <mutex>
#include <boost/json/object.hpp>
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
};

Responder::Responder(std::function<void(Response)> deliver, std::string request_id)
    : state_(std::make_shared<State>(std::move(deliver), std::move(request_id))) {}

void Responder::Send(Response response) const {
  if (state_ == nullptr || state_->sent.exchange(true)) return;
  state_->deliver(std::move(response));
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

namespace {

// Bumped in a forked child: its copy of the parent's random block must not be reused.
std::atomic<uint64_t> fork_generation{0};

// CSPRNG bytes for request ids, fetched per thread in 1 KiB blocks: OpenSSL's RAND_bytes
// calls getpid() (a system call) on every call to detect forks, which was one of the
// three system calls of a keep-alive request. Each byte is handed out once; ids are
// public, so holding the next ones in memory reveals nothing.
struct IdRandomBlock {
  std::array<uint8_t, 1024> bytes{};
  size_t pos = 1024;
  uint64_t generation = 0;
};

void TakeRandom(uint8_t* out, size_t size) {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); });
  });
  thread_local IdRandomBlock block;
  const uint64_t generation = fork_generation.load(std::memory_order_relaxed);
  if (generation != block.generation) {
    block.generation = generation;
    block.pos = block.bytes.size();
  }
  while (size > 0) {
    if (block.pos == block.bytes.size()) {
      SystemRandom().Fill(block.bytes.data(), block.bytes.size());
      block.pos = 0;
    }
    const size_t n = std::min(size, block.bytes.size() - block.pos);
    std::copy_n(block.bytes.data() + block.pos, n, out);
    block.pos += n;
    out += n;
    size -= n;
  }
}

}  // namespace

std::string NewRequestId() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  uint8_t bytes[20];
  TakeRandom(bytes, sizeof(bytes));
  std::string id = "req_";
  for (uint8_t b : bytes) id.push_back(kAlphabet[b & 31]);
  return id;
}

}  // namespace rampart::server
