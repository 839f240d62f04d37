// Fuzzes the expression language: the input is compiled as a Template (secrets allowed)
// and evaluated against a scope holding inputs and a tainted secret.
//
// Oracle (non-interference): the template is evaluated twice, against two scopes that
// differ only in the secret values. An untainted result must not depend on the secret, so
// both runs must agree on it, and it must never contain the secret text. Error messages
// and decision traces must not contain a secret the input did not spell out itself.
// Any violation, crash, leak or UB aborts.
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "rampart/core/json.h"
#include "rampart/expr/expr.h"

namespace {

namespace bj = boost::json;
using rampart::expr::CompileOptions;
using rampart::expr::ObjectScope;
using rampart::expr::Template;
using rampart::expr::Trace;

// Same length and character classes, different content: comparisons and lengths of the
// two secrets behave alike, the text does not.
constexpr std::string_view kSecretA = "Q7vX-hunter2-9kZp-LEAK-4fWm";
constexpr std::string_view kSecretB = "M3bR-correct-2pYt-HORS-8eLq";

bj::object MakeRoots(std::string_view secret) {
  std::string text = R"({
    "inputs": {"amount": 150, "price": 2.5, "status": "active", "name": "Ada Lovelace",
               "tags": ["a", "b", "c"], "empty": "", "zero": 0, "flag": true, "nul": null,
               "nested": {"a": {"b": {"c": 42}}}, "when": "2024-03-05T07:08:09Z",
               "items": [{"id": 1, "kind": "x"}, {"id": 2, "kind": "y"}],
               "obj": {"k": "v", "k2": 2}, "nums": [3, 1, 2.5], "text": "{{ secrets.token }}",
               "b64": "aGVsbG8=", "json": "{\"a\": [1, 2]}"},
    "steps": {"check": {"output": {"ok": true, "items": [10, 20, 30]}, "status": "succeeded"}},
    "item": {"x": 1}, "index": 2,
    "secrets": {"token": "SECRET", "num": 7, "nested": {"key": "SECRET"}}
  })";
  for (size_t p = text.find("SECRET"); p != std::string::npos; p = text.find("SECRET")) {
    text.replace(p, 6, secret);
  }
  auto v = rampart::json::Parse(text);
  if (!v.ok()) std::abort();
  return std::move(v).value().as_object();
}

struct Fixture {
  bj::object roots_a = MakeRoots(kSecretA);
  bj::object roots_b = MakeRoots(kSecretB);
  ObjectScope scope_a{&roots_a, {"secrets"}};
  ObjectScope scope_b{&roots_b, {"secrets"}};
};

[[noreturn]] void Die(const char* what, std::string_view detail) {
  std::fprintf(stderr, "expr_fuzz: %s: %.*s\n", what, static_cast<int>(std::min<size_t>(detail.size(), 400)),
               detail.data());
  std::abort();
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Fixture* fixture = new Fixture();
  std::string_view text(reinterpret_cast<const char*>(data), size);

  CompileOptions options;
  options.allow_secrets = true;
  auto tmpl = Template::Compile(text, options);
  if (!tmpl.ok()) return 0;  // compile errors may echo the source, which is not a secret

  auto a = tmpl->Evaluate(fixture->scope_a);
  auto b = tmpl->Evaluate(fixture->scope_b);

  // Text the input spelled out (or assembled from literals) shows up in both runs; text
  // that came from the secret shows up only in the run that holds it.
  auto leaks = [](std::string_view in_a, std::string_view in_b) {
    return Contains(in_a, kSecretA) && !Contains(in_b, kSecretA);
  };

  Trace trace_a, trace_b;
  for (const auto& e : tmpl->expressions()) {
    (void)e.Evaluate(fixture->scope_a, &trace_a);
    (void)e.Evaluate(fixture->scope_b, &trace_b);
  }
  if (leaks(bj::serialize(trace_a.values), bj::serialize(trace_b.values))) {
    Die("secret in decision trace", text);
  }
  if (!a.ok()) {
    if (leaks(a.error().message, b.ok() ? std::string_view() : std::string_view(b.error().message))) {
      Die("secret in error message", text);
    }
    return 0;
  }
  if (a->tainted) return 0;
  if (!b.ok()) return 0;  // error-vs-success differences are a known 1-bit channel
  if (b->tainted) Die("taint differs between runs", text);
  std::string out_a = bj::serialize(a->json);
  std::string out_b = bj::serialize(b->json);
  if (leaks(out_a, out_b)) Die("secret in untainted result", text);
  if (out_a != out_b) Die("untainted result depends on the secret", text);
  return 0;
}
