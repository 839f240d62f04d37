#include "rampart/server/metrics.h"

#include <gtest/gtest.h>

#include <thread>

namespace rampart::server {
namespace {

bool Contains(const std::string& text, std::string_view needle) {
  return text.find(needle) != std::string::npos;
}

TEST(MetricsTest, CountersAndHistogram) {
  Metrics m;
  m.ObserveRequest("/v1/orgs/{org}", "GET", 200, 0.003);
  m.ObserveRequest("/v1/orgs/{org}", "GET", 200, 0.2);
  m.ObserveRequest("/v1/orgs/{org}", "GET", 404, 20);
  m.ObserveRequest("unmatched", "BREW", 404, 0.001);
  std::string text = m.RenderPrometheus();
  EXPECT_TRUE(Contains(text, "# TYPE rampart_http_requests_total counter\n"));
  EXPECT_TRUE(Contains(
      text, "rampart_http_requests_total{route=\"/v1/orgs/{org}\",method=\"GET\",status=\"200\"} 2\n"));
  EXPECT_TRUE(Contains(
      text, "rampart_http_requests_total{route=\"/v1/orgs/{org}\",method=\"GET\",status=\"404\"} 1\n"));
  EXPECT_TRUE(Contains(
      text, "rampart_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"} 1\n"));
  EXPECT_TRUE(Contains(text, "# TYPE rampart_http_request_duration_seconds histogram\n"));
  const std::string base = "rampart_http_request_duration_seconds_bucket{route=\"/v1/orgs/{org}\",method=\"GET\",";
  EXPECT_TRUE(Contains(text, base + "le=\"0.005\"} 1\n")) << text;
  EXPECT_TRUE(Contains(text, base + "le=\"0.25\"} 2\n")) << text;
  EXPECT_TRUE(Contains(text, base + "le=\"10\"} 2\n")) << text;
  EXPECT_TRUE(Contains(text, base + "le=\"+Inf\"} 3\n")) << text;
  EXPECT_TRUE(Contains(
      text, "rampart_http_request_duration_seconds_count{route=\"/v1/orgs/{org}\",method=\"GET\"} 3\n"));
  EXPECT_TRUE(Contains(
      text, "rampart_http_request_duration_seconds_sum{route=\"/v1/orgs/{org}\",method=\"GET\"} 20.203\n"))
      << text;
}

// Refusals (ASVS V16.3.3) by route and code, summed over methods; codes outside the
// refusal set (not_found, internal, a made-up one) are not refusals.
TEST(MetricsTest, RefusalsByRouteAndCode) {
  Metrics m;
  m.ObserveRequest("/v1/orgs/{org}/workflows", "POST", 400, 0.001, "invalid_definition");
  m.ObserveRequest("/v1/orgs/{org}/workflows", "POST", 400, 0.001, "invalid_argument");
  m.ObserveRequest("/v1/orgs/{org}/workflows", "PUT", 400, 0.001, "invalid_argument");
  m.ObserveRequest("/v1/orgs/{org}/workflows", "POST", 409, 0.001, "conflict");
  m.ObserveRequest("/v1/orgs/{org}/workflows", "POST", 413, 0.001, "payload_too_large");
  m.ObserveRequest("/hooks/{token}", "POST", 429, 0.001, "rate_limited");
  m.ObserveRequest("/hooks/{token}", "POST", 404, 0.001, "not_found");
  m.ObserveRequest("/hooks/{token}", "POST", 500, 0.001, "internal");
  m.ObserveRequest("/hooks/{token}", "POST", 400, 0.001, "made_up\"code");
  m.ObserveRequest("/hooks/{token}", "POST", 200, 0.001, "conflict");  // not an error
  std::string text = m.RenderPrometheus();
  const std::string w = "rampart_http_refusals_total{route=\"/v1/orgs/{org}/workflows\",code=";
  EXPECT_TRUE(Contains(text, "# TYPE rampart_http_refusals_total counter\n")) << text;
  EXPECT_TRUE(Contains(text, w + "\"invalid_argument\"} 2\n")) << text;
  EXPECT_TRUE(Contains(text, w + "\"invalid_definition\"} 1\n")) << text;
  EXPECT_TRUE(Contains(text, w + "\"conflict\"} 1\n")) << text;
  EXPECT_TRUE(Contains(text, w + "\"payload_too_large\"} 1\n")) << text;
  EXPECT_TRUE(Contains(
      text, "rampart_http_refusals_total{route=\"/hooks/{token}\",code=\"rate_limited\"} 1\n"))
      << text;
  EXPECT_FALSE(Contains(text, "code=\"not_found\"")) << text;
  EXPECT_FALSE(Contains(text, "code=\"internal\"")) << text;
  EXPECT_FALSE(Contains(text, "made_up")) << text;
  EXPECT_FALSE(Contains(text, "{route=\"/hooks/{token}\",code=\"conflict\"}")) << text;
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Metrics m;
  m.ObserveRequest("/x/\"{y}\"", "GET", 200, 0);
  EXPECT_TRUE(Contains(m.RenderPrometheus(), "route=\"/x/\\\"{y}\\\"\""));
}

TEST(MetricsTest, GaugeProviders) {
  Metrics m;
  m.AddGaugeProvider([] {
    return std::vector<Sample>{
        {"rampart_runs", {{"status", "running"}}, 3, "Runs by status."},
        {"rampart_runs", {{"status", "queued\"x"}}, 1, ""},
        {"rampart_run_queue_depth", {}, 4, "Queue depth."},
        {"bad name", {}, 1, ""},
    };
  });
  std::string text = m.RenderPrometheus();
  EXPECT_TRUE(Contains(text, "# HELP rampart_runs Runs by status.\n# TYPE rampart_runs gauge\n"));
  EXPECT_TRUE(Contains(text, "rampart_runs{status=\"running\"} 3\n"));
  EXPECT_TRUE(Contains(text, "rampart_runs{status=\"queued\\\"x\"} 1\n"));
  EXPECT_TRUE(Contains(text, "rampart_run_queue_depth 4\n"));
  EXPECT_FALSE(Contains(text, "bad name"));
}

TEST(MetricsTest, ConcurrentObservations) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < 1000; ++i) m.ObserveRequest("/r", "GET", 200 + (i % 2) * t, 0.001);
    });
  }
  for (auto& t : threads) t.join();
  std::string text = m.RenderPrometheus();
  EXPECT_TRUE(Contains(text, "rampart_http_request_duration_seconds_count{route=\"/r\",method=\"GET\"} 4000\n"))
      << text;
}

}  // namespace
}  // namespace rampart::server
