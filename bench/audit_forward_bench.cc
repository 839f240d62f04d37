// Audit forwarding: one AuditForwarder::RunOnce per iteration = read one batch of events
// after the stored position, serialize it, sign it, POST it to a loopback collector (plain
// HTTP, a new connection each time, as in production) and commit the new position
// (synchronous=FULL). Each iteration uses a fresh destination (a new query string), so it
// starts from seq 0 and sends a full batch. Reports events/s.
#include <benchmark/benchmark.h>

#include <stdlib.h>

#include <filesystem>
#include <string>

#include "net/testing/test_server.h"
#include "rampart/audit/chain.h"
#include "rampart/audit/forwarder.h"
#include "rampart/net/resolver.h"

namespace rampart {
namespace {

struct Fixture {
  Fixture() : client(resolver), server(nullptr, {Collector()}) {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/rampart_fwd_XXXXXX";
    dir = ::mkdtemp(pattern.data());
    store::SqliteOptions options;
    options.path = dir + "/rampart.db";
    store = std::move(store::OpenSqliteStore(options)).value();
    for (int i = 0; i < 1000; ++i) {
      store::AuditEvent e;
      e.time = 1700000000000 + i;
      e.org_id = "org_a";
      e.actor = "user:usr_0123456789";
      e.action = "connector.secret_use";
      e.target = "conn_payments";
      e.outcome = "success";
      e.source_ip = "203.0.113.7";
      e.user_agent = "Mozilla/5.0 (X11; Linux x86_64) rampart-bench";
      e.details = R"({"workflow":"billing-sync","step":"charge","fields":["token"]})";
      if (!audit::Append(*store, e).ok()) std::abort();
    }
    policy.allow_http = true;
    policy.allow_cidrs = {*net::ParseCidr("127.0.0.1/32")};
    policy.allow_ports = {server.port()};
  }
  static server::Route Collector() {
    server::Route r;
    r.method = "POST";
    r.pattern = "/audit";
    r.operation_id = "audit";
    r.max_body = 16 << 20;
    r.handler = [](server::Request&) {
      server::Response res;
      res.status = 204;
      return res;
    };
    return r;
  }

  ~Fixture() {
    store.reset();
    std::filesystem::remove_all(dir);
  }

  std::string dir;
  net::StaticResolver resolver;
  net::CurlHttpClient client;
  net::testing::TestServer server;
  net::EgressPolicy policy;
  std::unique_ptr<store::Store> store;
};

void BM_ForwardBatch(benchmark::State& state) {
  static Fixture fixture;
  Fixture* f = &fixture;
  const int batch = static_cast<int>(state.range(0));
  static int64_t n = 0;  // across calls: every destination is new, so it starts at seq 0
  int64_t events = 0;
  for (auto _ : state) {
    audit::ForwarderOptions o;
    o.url = "http://127.0.0.1:" + std::to_string(f->server.port()) + "/audit?b=" +
            std::to_string(batch) + "&i=" + std::to_string(n++);
    o.key = std::string(32, 'k');
    o.batch = batch;
    audit::AuditForwarder forwarder(*f->store, f->client, f->policy, SystemClock(), o);
    auto sent = forwarder.RunOnce();
    if (!sent.ok() || *sent != batch) {
      static std::string error;
      error = sent.ok() ? "short batch: " + std::to_string(*sent) : sent.error().message;
      state.SkipWithError(error.c_str());
      break;
    }
    events += *sent;
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(events),
                                                  benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ForwardBatch)->Arg(1)->Arg(100)->Arg(1000)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace rampart

BENCHMARK_MAIN();
