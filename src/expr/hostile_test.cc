// Runs testdata/hostile_expressions.txt: escapes from other template engines, delimiter
// confusion, unicode tricks, amplification and deep nesting. Each must end safely and
// never leak the secret held in the scope.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "expr/expr_test_util.h"

namespace rampart::expr {
namespace {

struct Entry {
  int line = 0;
  std::string expect;
  std::string text;
};

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// Expands `@gen <name> <n>`.
std::string Generate(const std::string& name, size_t n) {
  const std::string hundred_x = "'" + std::string(100, 'x') + "'";
  const std::string million = "'x' | replace('x', " + hundred_x + ") | replace('x', " + hundred_x +
                              ") | replace('x', " + hundred_x + ")";
  if (name == "doubling_replace") return "{{ 'a'" + Repeat(" | replace('a', 'aa')", n) + " }}";
  if (name == "concat_big") return "{{ (" + million + ") + (" + million + ") }}";
  if (name == "array_concat_big") return "{{ (" + million + " | split('')) + [1] }}";
  if (name == "object_of_copies") {
    std::string s = "{{ {";
    for (size_t i = 0; i < n; ++i) s += (i ? ", k" : "k") + std::to_string(i) + ": (" + million + ")";
    return s + "} }}";
  }
  if (name == "sort_loop") {
    return "{{ '" + std::string(3000, 'q') + "' | split('')" + Repeat(" | sort", n) + " }}";
  }
  if (name == "big_literal") return "{{ '" + std::string(n, 'a') + "' }}";
  if (name == "big_template_text") return std::string(n, 'a') + "{{ 1 }}";
  if (name == "many_expressions") return Repeat("{{1}}", n);
  if (name == "long_sum") return "{{ 0" + Repeat(" + 1", n) + " }}";
  if (name == "deep_parens") return "{{ " + Repeat("(", n) + "1" + Repeat(")", n) + " }}";
  if (name == "deep_brackets") return "{{ " + Repeat("[", n) + "1" + Repeat("]", n) + " }}";
  if (name == "deep_braces") return "{{ " + Repeat("{a: ", n) + "1" + Repeat("}", n) + " }}";
  if (name == "deep_not") return "{{ " + Repeat("not ", n) + "1 }}";
  if (name == "deep_minus") return "{{ " + Repeat("-", n) + "1 }}";
  if (name == "deep_ternary") return "{{ " + Repeat("1 ? ", n) + "1" + Repeat(" : 1", n) + " }}";
  if (name == "deep_filter_args") {
    return "{{ " + Repeat("x | default(", n) + "1" + Repeat(")", n) + " }}";
  }
  if (name == "deep_index") return "{{ " + Repeat("inputs[", n) + "0" + Repeat("]", n) + " }}";
  ADD_FAILURE() << "unknown generator " << name;
  return "";
}

std::vector<Entry> LoadEntries() {
  std::ifstream in(std::string(RAMPART_SOURCE_DIR) + "/src/expr/testdata/hostile_expressions.txt");
  EXPECT_TRUE(in.good());
  std::vector<Entry> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      ADD_FAILURE() << "line " << n << ": missing tab";
      continue;
    }
    Entry e{n, line.substr(0, tab), line.substr(tab + 1)};
    if (e.text.rfind("@gen ", 0) == 0) {
      std::istringstream gen(e.text.substr(5));
      std::string name;
      size_t count = 0;
      gen >> name >> count;
      e.text = Generate(name, count);
    }
    out.push_back(std::move(e));
  }
  return out;
}

class HostileTest : public ExprTest {
 protected:
  // Compiles and evaluates `text`; returns "ok" or the error code name, after checking
  // the secret never shows up where it must not.
  std::string Check(const Entry& e, const CompileOptions& options) {
    auto start = std::chrono::steady_clock::now();
    std::string outcome;
    auto t = Template::Compile(e.text, options);
    if (!t.ok()) {
      EXPECT_EQ(t.error().message.find(kSecret), std::string::npos) << "line " << e.line;
      outcome = std::string(t.error().code_name());
    } else {
      auto v = t->Evaluate(scope_);
      if (!v.ok()) {
        EXPECT_EQ(v.error().message.find(kSecret), std::string::npos)
            << "line " << e.line << ": " << v.error().message;
        outcome = std::string(v.error().code_name());
      } else {
        outcome = "ok";
        if (!v->tainted) {
          std::string text = boost::json::serialize(v->json);
          EXPECT_EQ(text.find(kSecret), std::string::npos) << "line " << e.line << " leaked";
          EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << "line " << e.line << " leaked";
        }
      }
      // Decision traces must redact too.
      for (const auto& expr : t->expressions()) {
        Trace trace;
        (void)expr.Evaluate(scope_, &trace);
        EXPECT_EQ(boost::json::serialize(trace.values).find(kSecret), std::string::npos)
            << "line " << e.line << " leaked into the trace";
      }
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
    EXPECT_LT(ms, 5000) << "line " << e.line << " took " << ms << " ms";
    if (getenv("HOSTILE_TIMES") && ms > 100) std::fprintf(stderr, "line %d: %lld ms\n", e.line, static_cast<long long>(ms));
    return outcome;
  }
};

TEST_F(HostileTest, EveryEntryEndsSafely) {
  auto entries = LoadEntries();
  ASSERT_GE(entries.size(), 100u);
  for (const Entry& e : entries) {
    std::string outcome = Check(e, CompileOptions{});
    if (e.expect != "*") {
      EXPECT_EQ(outcome, e.expect) << "line " << e.line << ": " << json::Excerpt(e.text, 120);
    }
    // With secret access allowed the outcome may differ, but nothing may leak.
    Check(e, Secrets());
    // With the source bound lifted, the other bounds (depth, steps, size) still hold.
    CompileOptions lifted = Secrets();
    lifted.limits.max_source_bytes = 4 << 20;
    std::string lifted_outcome = Check(e, lifted);
    if (e.expect == "expression_limit") {
      EXPECT_TRUE(lifted_outcome == "expression_limit" || lifted_outcome == "ok")
          << "line " << e.line << ": " << lifted_outcome;
    }
  }
}

}  // namespace
}  // namespace rampart::expr
