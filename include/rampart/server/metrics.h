// Process metrics in the Prometheus text exposition format 0.0.4.
//
// Thread-safety: every method may be called from any thread. ObserveRequest takes a
// shared lock and a few relaxed atomic adds once the series exists.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rampart::server {

// One sample of a gauge exported by another module (e.g. the run queue).
struct Sample {
  std::string name;  // e.g. "rampart_runs"; must be a valid metric name
  std::vector<std::pair<std::string, std::string>> labels;  // values are escaped on render
  double value = 0;
  std::string help;  // optional; the first non-empty help of a name is used
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Upper bounds (seconds) of rampart_http_request_duration_seconds, +Inf implied.
  static constexpr std::array<double, 11> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                      0.5,   1,    2.5,   5,    10};

  // The refusals counted by rampart_http_refusals_total (ASVS V16.3.3): validation
  // failures (400 invalid_argument, invalid_definition), conflicts and quotas (409),
  // oversized bodies (413) and anti-automation limits (429).
  static constexpr std::array<std::string_view, 5> kRefusalCodes = {
      "invalid_argument", "invalid_definition", "conflict", "payload_too_large",
      "rate_limited"};

  // Counts one request. `route` must be a route pattern or "unmatched" (never the raw
  // path: label cardinality stays bounded). Methods outside the standard set are
  // counted as "OTHER". An `error_code` of kRefusalCodes (Response::error_code) also
  // counts a refusal of the route by that code; any other code is not a refusal.
  void ObserveRequest(std::string_view route, std::string_view method, int status,
                      double seconds, std::string_view error_code = {});

  // Registers a callback whose samples are rendered as gauges on every scrape. The
  // callback runs on the scraping thread and must be thread-safe.
  void AddGaugeProvider(std::function<std::vector<Sample>()> provider);

  // rampart_http_requests_total{route,method,status}, the
  // rampart_http_request_duration_seconds{route,method} histogram,
  // rampart_http_refusals_total{route,code}, then the gauges.
  std::string RenderPrometheus() const;

 private:
  struct Series;
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::unique_ptr<Series>> series_;  // key: route \n method \n status
  std::vector<std::function<std::vector<Sample>()>> providers_;
};

// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

}  // namespace rampart::server
