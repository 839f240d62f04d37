// Expression language: evaluation and compile time of four typical expressions.
// The same four cases run in jexl (bench/js/expr_bench.js); bench/expr_compare.sh prints
// both side by side.
#include <benchmark/benchmark.h>

#include <boost/json/object.hpp>
#include <cstdlib>
#include <string>

#include "rampart/core/json.h"
#include "rampart/expr/expr.h"

namespace {

using rampart::expr::CompileOptions;
using rampart::expr::ObjectScope;
using rampart::expr::Template;

// Keep in sync with bench/js/expr_bench.js.
constexpr const char* kScope = R"({
  "inputs": {
    "order_id": "A-1042", "amount": 150, "currency": "EUR", "status": "active",
    "customer": {"name": "  Ada Lovelace  ", "email": "ada@example.com",
                 "address": {"street": "12 Rue de Rivoli", "city": "Paris", "zip": "75001"}},
    "items": [{"sku": "x1", "qty": 2, "price": 10.5}, {"sku": "y2", "qty": 1, "price": 129}],
    "tags": ["new", "priority", "eu"]
  },
  "steps": {"check": {"output": {"ok": true}, "status": "succeeded"}},
  "secrets": {"token": "not-used-here"}
})";

struct Case {
  const char* name;
  const char* source;  // a Template: `{{ expr }}` or text with interpolations
};

constexpr Case kCases[] = {
    {"path", "{{ inputs.customer.address.city }}"},
    {"condition", "{{ inputs.amount * 1.2 > 100 and inputs.status == 'active' }}"},
    {"filters",
     "{{ inputs.customer.name | trim | lower | replace('a', 'o') | upper | split(' ') | reverse | "
     "join('-') | slice(0, 20) | lower | length }}"},
    {"template",
     "Order {{ inputs.order_id }} for {{ inputs.customer.email }} ({{ inputs.customer.address.city "
     "}}): {{ inputs.amount }} {{ inputs.currency }}"},
};

const boost::json::object& Roots() {
  static const boost::json::object roots = [] {
    auto v = rampart::json::Parse(kScope);
    if (!v.ok()) std::abort();
    return std::move(v).value().as_object();
  }();
  return roots;
}

void BM_Eval(benchmark::State& state, const Case& c) {
  auto tmpl = Template::Compile(c.source, CompileOptions{});
  if (!tmpl.ok()) {
    state.SkipWithError(tmpl.error().message.c_str());
    return;
  }
  ObjectScope scope(&Roots(), {"secrets"});
  for (auto _ : state) {
    auto v = tmpl->Evaluate(scope);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Compile(benchmark::State& state, const Case& c) {
  for (auto _ : state) {
    auto tmpl = Template::Compile(c.source, CompileOptions{});
    benchmark::DoNotOptimize(tmpl);
  }
  state.SetItemsProcessed(state.iterations());
}

// The condition as the engine compiles an `if` (CompileCondition -> Expression).
void BM_EvalConditionExpression(benchmark::State& state) {
  auto e = rampart::expr::CompileCondition(kCases[1].source);
  if (!e.ok()) {
    state.SkipWithError(e.error().message.c_str());
    return;
  }
  ObjectScope scope(&Roots(), {"secrets"});
  for (auto _ : state) {
    auto v = e->Evaluate(scope);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

BENCHMARK_CAPTURE(BM_Eval, path, kCases[0]);
BENCHMARK_CAPTURE(BM_Eval, condition, kCases[1]);
BENCHMARK_CAPTURE(BM_Eval, filters, kCases[2]);
BENCHMARK_CAPTURE(BM_Eval, template, kCases[3]);
BENCHMARK_CAPTURE(BM_Compile, path, kCases[0]);
BENCHMARK_CAPTURE(BM_Compile, condition, kCases[1]);
BENCHMARK_CAPTURE(BM_Compile, filters, kCases[2]);
BENCHMARK_CAPTURE(BM_Compile, template, kCases[3]);
BENCHMARK(BM_EvalConditionExpression);

BENCHMARK_MAIN();
