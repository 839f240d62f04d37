#include "rampart/server/metrics.h"

#include <cmath>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>

namespace rampart::server {

// One (route, method, status) series. Durations are kept in microseconds so the sum is
// a lock-free integer add.
struct Metrics::Series {
  std::string route;
  std::string method;
  int status = 0;
  std::atomic<uint64_t> count{0};
  std::atomic<uint64_t> sum_micros{0};
  std::array<std::atomic<uint64_t>, kBuckets.size()> buckets{};
  // Refusals by kRefusalCodes index (a status's series holds its codes' counts).
  std::array<std::atomic<uint64_t>, kRefusalCodes.size()> refused{};
};

namespace {

constexpr std::string_view kMethods[] = {"GET",     "HEAD",    "POST",  "PUT",  "PATCH",
                                         "DELETE",  "OPTIONS", "TRACE", "CONNECT"};

std::string_view NormalizeMethod(std::string_view method) {
  for (std::string_view m : kMethods) {
    if (m == method) return m;
  }
  return "OTHER";
}

std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof(buf), "%.0f", v);  // "10", not "1e+01"
    return buf;
  }
  std::snprintf(buf, sizeof(buf), "%.17g", v);
  // Prefer the shortest representation that round-trips.
  for (int precision = 1; precision <= 17; ++precision) {
    char shorter[64];
    std::snprintf(shorter, sizeof(shorter), "%.*g", precision, v);
    if (std::strtod(shorter, nullptr) == v) return shorter;
  }
  return buf;
}

bool ValidMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

void Metrics::ObserveRequest(std::string_view route, std::string_view method, int status,
                             double seconds, std::string_view error_code) {
  std::string_view m = NormalizeMethod(method);
  std::string key;
  key.reserve(route.size() + m.size() + 8);
  key.append(route).push_back('\n');
  key.append(m).push_back('\n');
  key.append(std::to_string(status));
  Series* series = nullptr;
  {
    std::shared_lock lock(mutex_);
    auto it = series_.find(key);
    if (it != series_.end()) series = it->second.get();
  }
  if (series == nullptr) {
    std::unique_lock lock(mutex_);
    auto& slot = series_[key];
    if (!slot) {
      slot = std::make_unique<Series>();
      slot->route = std::string(route);
      slot->method = std::string(m);
      slot->status = status;
    }
    series = slot.get();
  }
  if (!(seconds >= 0)) seconds = 0;
  series->count.fetch_add(1, std::memory_order_relaxed);
  series->sum_micros.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e6)),
                               std::memory_order_relaxed);
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) {
      series->buckets[i].fetch_add(1, std::memory_order_relaxed);
      break;  // buckets are stored non-cumulative; RenderPrometheus accumulates
    }
  }
  if (status < 400 || error_code.empty()) return;
  for (size_t i = 0; i < kRefusalCodes.size(); ++i) {
    if (kRefusalCodes[i] == error_code) {
      series->refused[i].fetch_add(1, std::memory_order_relaxed);
      break;
    }
  }
}

void Metrics::AddGaugeProvider(std::function<std::vector<Sample>()> provider) {
  std::unique_lock lock(mutex_);
  providers_.push_back(std::move(provider));
}

std::string Metrics::RenderPrometheus() const {
  std::string out;
  std::vector<std::function<std::vector<Sample>()>> providers;
  {
    std::shared_lock lock(mutex_);
    out += "# HELP rampart_http_requests_total HTTP requests by route pattern, method and status.\n";
    out += "# TYPE rampart_http_requests_total counter\n";
    for (const auto& [key, s] : series_) {
      out += "rampart_http_requests_total{route=\"" + EscapeLabelValue(s->route) +
             "\",method=\"" + EscapeLabelValue(s->method) + "\",status=\"" +
             std::to_string(s->status) + "\"} " +
             std::to_string(s->count.load(std::memory_order_relaxed)) + "\n";
    }
    // The histogram aggregates statuses: one per (route, method).
    struct Agg {
      uint64_t count = 0;
      uint64_t sum_micros = 0;
      std::array<uint64_t, kBuckets.size()> buckets{};
    };
    std::map<std::pair<std::string, std::string>, Agg> aggs;
    for (const auto& [key, s] : series_) {
      Agg& a = aggs[{s->route, s->method}];
      a.count += s->count.load(std::memory_order_relaxed);
      a.sum_micros += s->sum_micros.load(std::memory_order_relaxed);
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        a.buckets[i] += s->buckets[i].load(std::memory_order_relaxed);
      }
    }
    out += "# HELP rampart_http_request_duration_seconds HTTP request duration in seconds.\n";
    out += "# TYPE rampart_http_request_duration_seconds histogram\n";
    for (const auto& [labels, a] : aggs) {
      std::string base = "route=\"" + EscapeLabelValue(labels.first) + "\",method=\"" +
                         EscapeLabelValue(labels.second) + "\"";
      uint64_t cumulative = 0;
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += a.buckets[i];
        out += "rampart_http_request_duration_seconds_bucket{" + base + ",le=\"" +
               FormatDouble(kBuckets[i]) + "\"} " + std::to_string(cumulative) + "\n";
      }
      // Counts are read without a snapshot; keep +Inf >= every bucket.
      uint64_t total = std::max(cumulative, a.count);
      out += "rampart_http_request_duration_seconds_bucket{" + base + ",le=\"+Inf\"} " +
             std::to_string(total) + "\n";
      out += "rampart_http_request_duration_seconds_sum{" + base + "} " +
             FormatDouble(static_cast<double>(a.sum_micros) / 1e6) + "\n";
      out += "rampart_http_request_duration_seconds_count{" + base + "} " +
             std::to_string(total) + "\n";
    }
    // Refusals by (route, code), summed over methods and statuses.
    std::map<std::pair<std::string, size_t>, uint64_t> refusals;
    for (const auto& [key, s] : series_) {
      for (size_t i = 0; i < kRefusalCodes.size(); ++i) {
        const uint64_t n = s->refused[i].load(std::memory_order_relaxed);
        if (n > 0) refusals[{s->route, i}] += n;
      }
    }
    out += "# HELP rampart_http_refusals_total Refused requests by route pattern and error "
           "code (validation failures, conflicts and quotas, oversized bodies, rate limits).\n";
    out += "# TYPE rampart_http_refusals_total counter\n";
    for (const auto& [labels, n] : refusals) {
      out += "rampart_http_refusals_total{route=\"" + EscapeLabelValue(labels.first) +
             "\",code=\"" + std::string(kRefusalCodes[labels.second]) + "\"} " +
             std::to_string(n) + "\n";
    }
    providers = providers_;
  }
  // Gauges: grouped by name so each family has one HELP/TYPE header.
  std::map<std::string, std::vector<Sample>> families;
  for (const auto& provider : providers) {
    for (Sample& s : provider()) {
      if (!ValidMetricName(s.name)) continue;
      families[s.name].push_back(std::move(s));
    }
  }
  for (const auto& [name, samples] : families) {
    std::string help;
    for (const Sample& s : samples) {
      if (!s.help.empty()) {
        help = s.help;
        break;
      }
    }
    if (!help.empty()) out += "# HELP " + name + " " + EscapeHelp(help) + "\n";
    out += "# TYPE " + name + " gauge\n";
    for (const Sample& s : samples) {
      out += name;
      if (!s.labels.empty()) {
        out += "{";
        bool first = true;
        for (const auto& [k, v] : s.labels) {
          if (!ValidMetricName(k) || k.find(':') != std::string::npos) continue;
          if (!first) out += ",";
          first = false;
          out += k + "=\"" + EscapeLabelValue(v) + "\"";
        }
        out += "}";
      }
      out += " " + FormatDouble(s.value) + "\n";
    }
  }
  return out;
}

}  // namespace rampart::server
