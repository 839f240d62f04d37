#include "rampart/server/router.h"

#include <gtest/gtest.h>

#include <set>

namespace rampart::server {
namespace {

Route MakeRoute(std::string method, std::string pattern, std::string op) {
  Route r;
  r.method = std::move(method);
  r.pattern = std::move(pattern);
  r.operation_id = std::move(op);
  r.handler = [](Request&) { return Response{}; };
  return r;
}

Router TestRouter() {
  Router router;
  router.Add(MakeRoute("GET", "/v1/orgs", "listOrgs"));
  router.Add(MakeRoute("GET", "/v1/orgs/{org}", "getOrg"));
  router.Add(MakeRoute("GET", "/v1/orgs/{org}/workflows/{id}", "getWorkflow"));
  router.Add(MakeRoute("PUT", "/v1/orgs/{org}/workflows/{id}", "putWorkflow"));
  router.Add(MakeRoute("DELETE", "/v1/orgs/{org}/workflows/{id}", "deleteWorkflow"));
  router.Add(MakeRoute("GET", "/v1/orgs/{org}/workflows/special", "special"));
  router.Add(MakeRoute("GET", "/healthz", "healthz"));
  return router;
}

TEST(RouterTest, MatchesLiteralAndParams) {
  Router router = TestRouter();
  std::map<std::string, std::string> params;
  bool mismatch = true;
  const Route* r = router.Match("GET", "/v1/orgs/acme/workflows/w%201", params, mismatch);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->operation_id, "getWorkflow");
  EXPECT_FALSE(mismatch);
  EXPECT_EQ(params["org"], "acme");
  EXPECT_EQ(params["id"], "w 1");
  r = router.Match("GET", "/healthz", params, mismatch);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(params.empty());
}

TEST(RouterTest, LiteralWinsOverParam) {
  Router router = TestRouter();
  std::map<std::string, std::string> params;
  bool mismatch = false;
  const Route* r = router.Match("GET", "/v1/orgs/acme/workflows/special", params, mismatch);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->operation_id, "special");
  // The param route still serves other methods on the same path.
  r = router.Match("PUT", "/v1/orgs/acme/workflows/special", params, mismatch);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->operation_id, "putWorkflow");
}

TEST(RouterTest, NotFoundAndMethodMismatch) {
  Router router = TestRouter();
  std::map<std::string, std::string> params;
  bool mismatch = true;
  EXPECT_EQ(router.Match("GET", "/v1/nothing", params, mismatch), nullptr);
  EXPECT_FALSE(mismatch);
  EXPECT_EQ(router.Match("POST", "/v1/orgs/a/workflows/b", params, mismatch), nullptr);
  EXPECT_TRUE(mismatch);
  EXPECT_EQ(router.AllowedMethods("/v1/orgs/a/workflows/b"),
            (std::vector<std::string>{"DELETE", "GET", "PUT"}));
  EXPECT_EQ(router.Match("get", "/healthz", params, mismatch), nullptr);  // case-sensitive
}

TEST(RouterTest, RejectsBadParams) {
  Router router = TestRouter();
  std::map<std::string, std::string> params;
  bool mismatch = false;
  EXPECT_EQ(router.Match("GET", "/v1/orgs/a%2Fb", params, mismatch), nullptr);  // decodes to '/'
  EXPECT_EQ(router.Match("GET", "/v1/orgs/", params, mismatch), nullptr);       // empty
  EXPECT_EQ(router.Match("GET", "/v1/orgs//workflows/x", params, mismatch), nullptr);
  EXPECT_EQ(router.Match("GET", "/v1/orgs/%zz", params, mismatch), nullptr);    // malformed
  EXPECT_EQ(router.Match("GET", "v1/orgs", params, mismatch), nullptr);         // no leading /
  EXPECT_EQ(router.Match("GET", "/v1/orgs/a/", params, mismatch), nullptr);     // trailing /
  EXPECT_EQ(router.Match("GET", "/v1/%6Frgs", params, mismatch)->operation_id, "listOrgs");
}

TEST(RouterTest, OpenApiDocumentListsEveryRoute) {
  Router router = TestRouter();
  // An asynchronous route is documented like the others.
  Route post = MakeRoute("POST", "/v1/orgs/{org}/workflows/{id}/runs", "startRun");
  post.handler = nullptr;
  post.async_handler = [](Request&, Responder) {};
  post.permission = "workflows:execute";
  post.summary = "Start a run";
  post.success_status = 202;
  post.request_schema = boost::json::object{{"type", "object"}};
  router.Add(std::move(post));
  boost::json::object doc = OpenApiDocument(router, "Rampart", "0.1.0");
  EXPECT_EQ(doc.at("openapi"), "3.1.0");
  EXPECT_EQ(doc.at("info").at("title"), "Rampart");
  const auto& paths = doc.at("paths").as_object();
  std::set<std::string> op_ids;
  for (const Route& route : router.routes()) {
    ASSERT_TRUE(paths.contains(route.pattern)) << route.pattern;
    std::string method = route.method;
    for (char& c : method) c = static_cast<char>(std::tolower(c));
    const auto& op = paths.at(route.pattern).at(method).as_object();
    EXPECT_EQ(op.at("operationId"), route.operation_id.c_str());
    op_ids.insert(route.operation_id);
    size_t param_count = 0;
    for (char c : route.pattern) param_count += c == '{';
    if (param_count > 0) {
      EXPECT_EQ(op.at("parameters").as_array().size(), param_count) << route.pattern;
      EXPECT_EQ(op.at("parameters").as_array()[0].at("in"), "path");
    } else {
      EXPECT_FALSE(op.contains("parameters"));
    }
    EXPECT_TRUE(op.at("responses").as_object().contains("500"));
  }
  EXPECT_EQ(op_ids.size(), router.routes().size());
  const auto& run = paths.at("/v1/orgs/{org}/workflows/{id}/runs").at("post");
  EXPECT_EQ(run.at("x-rampart-permission"), "workflows:execute");
  EXPECT_EQ(run.at("summary"), "Start a run");
  EXPECT_TRUE(run.at("responses").as_object().contains("202"));
  EXPECT_EQ(run.at("requestBody").at("content").at("application/json").at("schema"),
            boost::json::value(boost::json::object{{"type", "object"}}));
  // Three methods on one path all present.
  EXPECT_EQ(paths.at("/v1/orgs/{org}/workflows/{id}").as_object().size(), 3u);
  const auto& schemes = doc.at("components").at("securitySchemes").as_object();
  EXPECT_EQ(schemes.at("bearerAuth").at("scheme"), "bearer");
  EXPECT_EQ(schemes.at("cookieAuth").at("in"), "cookie");
  EXPECT_TRUE(doc.at("components").at("schemas").as_object().contains("Error"));
}

TEST(RouterTest, AsyncRoutesMatchLikeTheOthers) {
  Router router = TestRouter();
  Route async = MakeRoute("POST", "/v1/orgs/{org}/workflows/{id}/runs", "startRun");
  async.handler = nullptr;
  async.async_handler = [](Request&, Responder) {};
  router.Add(std::move(async));
  std::map<std::string, std::string> params;
  bool mismatch = true;
  const Route* found = router.Match("POST", "/v1/orgs/o1/workflows/w1/runs", params, mismatch);
  ASSERT_NE(found, nullptr);
  EXPECT_TRUE(found->async_handler);
  EXPECT_FALSE(found->handler);
  EXPECT_EQ(params.at("id"), "w1");
}

TEST(RouterTest, ExactlyOneHandlerPerRoute) {
  Route both = MakeRoute("GET", "/both", "both");
  both.async_handler = [](Request&, Responder) {};
  EXPECT_DEATH(Router().Add(both), "RAMPART_CHECK failed");
  Route neither = MakeRoute("GET", "/neither", "neither");
  neither.handler = nullptr;
  EXPECT_DEATH(Router().Add(neither), "RAMPART_CHECK failed");
}

}  // namespace
}  // namespace rampart::server
