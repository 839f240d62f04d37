// Cost of the SSRF guard: a GET to a loopback server through CurlHttpClient (parse,
// resolve, check, pin, socket-open re-check) vs plain libcurl with the same options and
// no guard, in the same run. Both use a fresh easy handle and connection per request
// (the guarded client never reuses connections across checks). Plain HTTP, so TLS
// handshakes do not drown the difference.
#include <benchmark/benchmark.h>
#include <curl/curl.h>

#include <string>

#include "net/testing/test_server.h"
#include "rampart/net/http_client.h"

namespace {

using namespace rampart;

net::testing::TestServer& Server() {
  static auto* server = new net::testing::TestServer();
  return *server;
}

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

void BM_PlainCurlGet(benchmark::State& state) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::string url = "http://127.0.0.1:" + std::to_string(Server().port()) + "/ok";
  for (auto _ : state) {
    std::string body;
    CURL* h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(10 << 20));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Append);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_slist* headers = curl_slist_append(nullptr, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (curl_easy_perform(h) != CURLE_OK) state.SkipWithError("request failed");
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    benchmark::DoNotOptimize(body);
  }
}
BENCHMARK(BM_PlainCurlGet)->UseRealTime();

void BM_GuardedGet(benchmark::State& state) {
  net::StaticResolver resolver;
  resolver.Add("api.bench.test", {*net::ParseIp("127.0.0.1")});
  net::CurlHttpClient client(resolver);
  net::EgressPolicy policy;
  policy.allow_http = true;
  policy.allow_ports = {Server().port()};
  policy.allow_cidrs = {*net::ParseCidr("127.0.0.1/32")};
  net::HttpRequest req;
  req.url = "http://api.bench.test:" + std::to_string(Server().port()) + "/ok";
  req.timeout = std::chrono::milliseconds(5000);
  for (auto _ : state) {
    auto r = client.Fetch(req, policy);
    if (!r.ok() || r->status != 200) state.SkipWithError("request failed");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_GuardedGet)->UseRealTime();

// The guard's own work without the network: parse, policy check, classification.
void BM_GuardChecksOnly(benchmark::State& state) {
  net::EgressPolicy policy;
  policy.allow_http = true;
  policy.allow_ports = {8080};
  policy.allow_cidrs = {*net::ParseCidr("127.0.0.1/32")};
  auto addr = *net::ParseIp("2606:4700:4700::1111");
  for (auto _ : state) {
    auto u = net::ParseUrl("http://api.bench.test:8080/v1/items?page=2");
    benchmark::DoNotOptimize(policy.CheckUrl(*u).ok());
    benchmark::DoNotOptimize(policy.DeniedAddress(addr));
    benchmark::DoNotOptimize(u->ToString());
  }
}
BENCHMARK(BM_GuardChecksOnly);

}  // namespace

BENCHMARK_MAIN();
