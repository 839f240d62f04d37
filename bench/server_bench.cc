// HttpServer with handlers whose answer comes from another thread, as when a handler
// waits for the store's writer thread: a "committer" thread takes every queued
// completion at once, sleeps for one commit (group commit), then completes them all.
// Compared, with 2 and 64 io threads:
//   blocking  a synchronous handler that waits for its completion (the io thread blocks;
//             what the API did before asynchronous routes)
//   async     an async_handler whose Responder the committer answers (the io thread is
//             free at once)
// and, without the committer, the cost of the asynchronous path for an immediate answer:
//   sync      a synchronous handler returning 200
//   inline    an async_handler calling Send() before it returns
// Clients: benchmark threads, one keep-alive libcurl connection each, on loopback.
// Counters: req/s (items_per_second) and process CPU (server + clients) per request.
#include <benchmark/benchmark.h>
#include <curl/curl.h>
#include <sys/resource.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "rampart/server/server.h"

namespace {

using namespace rampart;
using namespace std::chrono_literals;

constexpr auto kCommit = 1ms;  // one group commit (fsync) on the committer thread

class Committer {
 public:
  Committer() : thread_([this] { Loop(); }) {}
  void Push(std::function<void()> done) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(done));
    cv_.notify_one();
  }

 private:
  void Loop() {
    while (true) {
      std::deque<std::function<void()>> batch;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        batch.swap(queue_);
      }
      std::this_thread::sleep_for(kCommit);
      for (auto& done : batch) done();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  std::thread thread_;
};

Committer& TheCommitter() {
  static auto* committer = new Committer();  // never destroyed: its thread never ends
  return *committer;
}

server::Response Ok() {
  server::Response r;
  r.body = R"({"ok":true})";
  return r;
}

server::Router& TheRouter() {
  static server::Router* router = [] {
    auto* r = new server::Router();
    auto add = [&](const char* pattern, server::Route route) {
      route.method = "GET";
      route.pattern = pattern;
      route.operation_id = pattern;
      r->Add(std::move(route));
    };
    server::Route sync;
    sync.handler = [](server::Request&) { return Ok(); };
    add("/sync", std::move(sync));
    server::Route inline_send;
    inline_send.async_handler = [](server::Request&, server::Responder done) { done.Send(Ok()); };
    add("/inline", std::move(inline_send));
    server::Route blocking;
    blocking.handler = [](server::Request&) {
      auto committed = std::make_shared<std::promise<void>>();
      auto future = committed->get_future();
      TheCommitter().Push([committed] { committed->set_value(); });
      future.wait();
      return Ok();
    };
    add("/blocking", std::move(blocking));
    server::Route async;
    async.async_handler = [](server::Request&, server::Responder done) {
      TheCommitter().Push([done] { done.Send(Ok()); });
    };
    add("/async", std::move(async));
    return r;
  }();
  return *router;
}

uint16_t ServerPort(int io_threads) {
  static std::mutex mu;
  static std::map<int, server::HttpServer*> servers;  // never destroyed
  std::lock_guard lock(mu);
  auto& s = servers[io_threads];
  if (s == nullptr) {
    server::ServerOptions options;
    options.port = 0;
    options.threads = io_threads;
    s = new server::HttpServer(options, TheRouter(), nullptr);
    if (!s->Start().ok()) std::abort();
  }
  return s->port();
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void Run(benchmark::State& state, const char* path) {
  static double cpu_start = 0;
  const int io_threads = static_cast<int>(state.range(0));
  const std::string url =
      "http://127.0.0.1:" + std::to_string(ServerPort(io_threads)) + path;
  CURL* h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROXY, "");
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Discard);
  if (state.thread_index() == 0) cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    long status = 0;
    if (curl_easy_perform(h) != CURLE_OK) {
      state.SkipWithError("request failed");
      break;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) state.SkipWithError("not 200");
  }
  curl_easy_cleanup(h);
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    // After the stop barrier: every client thread has finished its iterations.
    const double requests = static_cast<double>(state.iterations()) * state.threads();
    state.counters["cpu_us_per_req"] = (ProcessCpuSeconds() - cpu_start) * 1e6 / requests;
  }
}

void BM_Blocking(benchmark::State& state) { Run(state, "/blocking"); }
void BM_Async(benchmark::State& state) { Run(state, "/async"); }
void BM_Sync(benchmark::State& state) { Run(state, "/sync"); }
void BM_Inline(benchmark::State& state) { Run(state, "/inline"); }

constexpr int kClients = 32;
BENCHMARK(BM_Blocking)->Arg(2)->Arg(64)->Threads(kClients)->UseRealTime()->MinTime(3);
BENCHMARK(BM_Async)->Arg(2)->Arg(64)->Threads(kClients)->UseRealTime()->MinTime(3);
BENCHMARK(BM_Sync)->Arg(2)->Threads(kClients)->UseRealTime()->MinTime(3);
BENCHMARK(BM_Inline)->Arg(2)->Threads(kClients)->UseRealTime()->MinTime(3);

}  // namespace

int main(int argc, char** argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
