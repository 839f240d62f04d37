#include "rampart/server/http.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace rampart::server {
namespace {

TEST(HttpTest, ErrorCodesAreTheApisClosedSet) {
  // interfaces.md lists the only codes an API error carries; finer internal codes of a
  // bad request answer as invalid_argument, with their message.
  const std::pair<ErrorCode, std::string_view> cases[] = {
      {ErrorCode::kInvalidArgument, "invalid_argument"},
      {ErrorCode::kInvalidDefinition, "invalid_definition"},
      {ErrorCode::kInvalidInput, "invalid_argument"},
      {ErrorCode::kInvalidExpression, "invalid_argument"},
      {ErrorCode::kLimitExceeded, "invalid_argument"},
      {ErrorCode::kForbiddenSecretAccess, "invalid_argument"},
      {ErrorCode::kUnauthenticated, "unauthenticated"},
      {ErrorCode::kPermissionDenied, "permission_denied"},
      {ErrorCode::kNotFound, "not_found"},
      {ErrorCode::kConflict, "conflict"},
      {ErrorCode::kPayloadTooLarge, "payload_too_large"},
      {ErrorCode::kRateLimited, "rate_limited"},
      {ErrorCode::kTimeout, "internal"},
      {ErrorCode::kInternal, "internal"}};
  for (const auto& [error_code, name] : cases) {
    Response r = ErrorResponse(Error{error_code, "input: /amount: must be >= 0"}, "req_c");
    auto v = boost::json::parse(r.body);
    EXPECT_EQ(v.at("error").at("code").as_string(), name) << static_cast<int>(error_code);
    if (r.status == 400) {
      EXPECT_EQ(v.at("error").at("message").as_string(), "input: /amount: must be >= 0");
    }
  }
}

TEST(HttpTest, UnauthenticatedAnswersNameTheBearerScheme) {
  Response r = ErrorResponse(Error{ErrorCode::kUnauthenticated, "authentication required"}, "r");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(FindHeader(r.headers, "WWW-Authenticate").value_or(""), "Bearer realm=\"rampart\"");
  EXPECT_FALSE(FindHeader(ErrorResponse(Error{ErrorCode::kPermissionDenied, "no"}, "r").headers,
                          "WWW-Authenticate")
                   .has_value());
}

TEST(HttpTest, ErrorResponseShapeAndStatus) {
  Response r = ErrorResponse(Error{ErrorCode::kNotFound, "no such workflow"}, "req_abc");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  auto v = boost::json::parse(r.body);
  EXPECT_EQ(v, boost::json::parse(
                   R"({"error":{"code":"not_found","message":"no such workflow","request_id":"req_abc"}})"));
}

TEST(HttpTest, StatusMapping) {
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInvalidDefinition), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInvalidInput), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInvalidExpression), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kLimitExceeded), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kForbiddenSecretAccess), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kConflict), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kPayloadTooLarge), 413);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kRateLimited), 429);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInternal), 500);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kSsrfBlocked), 500);
}

TEST(HttpTest, InternalErrorsHideDetails) {
  Response r = ErrorResponse(Error{ErrorCode::kStepFailed, "SELECT * FROM secrets failed"}, "req_x");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(boost::json::parse(r.body),
            boost::json::parse(
                R"({"error":{"code":"internal","message":"internal error","request_id":"req_x"}})"));
}

TEST(HttpTest, RateLimitedCarriesRetryAfter) {
  Response r = ErrorResponse(Error{ErrorCode::kRateLimited, "slow down"}, "req_x", 7);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(FindHeader(r.headers, "retry-after"), "7");
  Response d = ErrorResponse(Error{ErrorCode::kRateLimited, "slow down"}, "req_x");
  EXPECT_EQ(FindHeader(d.headers, "Retry-After"), "1");
  EXPECT_FALSE(FindHeader(ErrorResponse(Error{ErrorCode::kConflict, "x"}, "r").headers,
                          "Retry-After"));
}

TEST(HttpTest, PercentDecode) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%20b%2Fc", out));
  EXPECT_EQ(out, "a b/c");
  EXPECT_TRUE(PercentDecode("a+b", out));
  EXPECT_EQ(out, "a+b");
  EXPECT_TRUE(PercentDecode("a+b", out, true));
  EXPECT_EQ(out, "a b");
  EXPECT_FALSE(PercentDecode("%", out));
  EXPECT_FALSE(PercentDecode("%4", out));
  EXPECT_FALSE(PercentDecode("%zz", out));
  EXPECT_FALSE(PercentDecode("a%00b", out));
  // Escapes back to back, at both ends, in either case; '+' literal unless asked.
  EXPECT_TRUE(PercentDecode("%41%42", out));
  EXPECT_EQ(out, "AB");
  EXPECT_TRUE(PercentDecode("x%2by+%2B", out));
  EXPECT_EQ(out, "x+y++");
  EXPECT_TRUE(PercentDecode("++a%41+", out, true));
  EXPECT_EQ(out, "  aA ");
  EXPECT_TRUE(PercentDecode("", out));
  EXPECT_EQ(out, "");
  EXPECT_FALSE(PercentDecode("abc%4", out));
  EXPECT_FALSE(PercentDecode("abc%4g", out));
}

TEST(HttpTest, RequestIdsAreRandomAndWellFormed) {
  std::string a = NewRequestId(), b = NewRequestId();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 24u);
  EXPECT_EQ(a.substr(0, 4), "req_");
  for (char c : a.substr(4)) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << a;
}

TEST(HttpTest, RequestIdsStayUniqueAcrossThreadsAndRandomBlocks) {
  // Ids take their bytes from IdRandom()'s per-thread blocks of 1 KiB (51 ids each;
  // forks: IdRandomTest in src/core/clock_test.cc): many blocks on several threads, and
  // no id twice.
  std::vector<std::vector<std::string>> ids(4);
  std::vector<std::thread> threads;
  for (auto& mine : ids) {
    threads.emplace_back([&mine] {
      for (int i = 0; i < 2000; ++i) mine.push_back(NewRequestId());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& mine : ids) all.insert(mine.begin(), mine.end());
  EXPECT_EQ(all.size(), 8000u);
}

TEST(HttpTest, HeaderLookupIsCaseInsensitive) {
  Request req;
  req.headers = {{"Content-Type", "application/json"}, {"X-A", "1"}, {"x-a", "2"}};
  EXPECT_EQ(req.Header("content-type"), "application/json");
  EXPECT_EQ(req.Header("X-A"), "1");
  EXPECT_FALSE(req.Header("missing"));
  req.query = {{"a", "1"}, {"b", ""}};
  EXPECT_EQ(req.QueryParam("b"), "");
  EXPECT_FALSE(req.QueryParam("c"));
}

TEST(HttpTest, JsonResponse) {
  Response r = JsonResponse(201, boost::json::object{{"id", "w1"}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"({"id":"w1"})");
}

}  // namespace
}  // namespace rampart::server
