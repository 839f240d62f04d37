#include "rampart/server/http.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace rampart::server {
namespace {

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
}

TEST(HttpTest, RequestIdsAreRandomAndWellFormed) {
  std::string a = NewRequestId(), b = NewRequestId();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 24u);
  EXPECT_EQ(a.substr(0, 4), "req_");
  for (char c : a.substr(4)) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << a;
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
