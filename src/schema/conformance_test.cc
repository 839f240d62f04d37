// Runs the official JSON-Schema-Test-Suite (shared/testdata/json-schema-test-suite) for
// draft 2020-12 and draft-07, required and optional, and fails when a file passes fewer
// tests than recorded in testdata/conformance_baseline.json.
//
// - The suite's remotes/ are registered under http://localhost:1234/<path>: nothing is
//   fetched.
// - `format` runs in FormatMode::kAnnotate (the standard's behaviour, as the suite's
//   required format.json expects), except under optional/format/, which runs kAssert.
// - RAMPART_SCHEMA_BASELINE_UPDATE=1 rewrites the baseline from the current results.
// - RAMPART_SCHEMA_CONFORMANCE_VERBOSE=1 lists every failing test.
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

#include "rampart/core/json.h"
#include "rampart/schema/schema.h"

namespace rampart::schema {
namespace {

namespace bj = boost::json;
namespace fs = std::filesystem;

const fs::path kSuite = fs::path(RAMPART_SHARED_DIR) / "testdata" / "json-schema-test-suite";
const fs::path kBaseline =
    fs::path(RAMPART_SOURCE_DIR) / "src" / "schema" / "testdata" / "conformance_baseline.json";

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Result<bj::value> ParseFile(const fs::path& p) {
  return json::Parse(ReadFile(p), json::ParseLimits{1 << 26, 512});
}

struct FileResult {
  int passed = 0;
  int total = 0;
};

Registry LoadRemotes() {
  Registry registry;
  fs::path remotes = kSuite / "remotes";
  for (const auto& entry : fs::recursive_directory_iterator(remotes)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
    auto doc = ParseFile(entry.path());
    if (!doc.ok()) continue;
    std::string rel = fs::relative(entry.path(), remotes).generic_string();
    registry.Add("http://localhost:1234/" + rel, std::move(doc).value());
  }
  return registry;
}

FileResult RunFile(const fs::path& file, const std::string& name, Draft draft, FormatMode format,
                   const Registry& registry, bool verbose) {
  FileResult result;
  auto doc = ParseFile(file);
  if (!doc.ok() || !doc->is_array()) {
    ADD_FAILURE() << name << ": cannot parse test file";
    return result;
  }
  Options options;
  options.default_draft = draft;
  options.format = format;
  for (const auto& group : doc->get_array()) {
    const auto& g = group.get_object();
    const auto& tests = g.at("tests").get_array();
    auto validator = Validator::Compile(g.at("schema"), options, &registry);
    for (const auto& test : tests) {
      const auto& t = test.get_object();
      ++result.total;
      bool expected = t.at("valid").get_bool();
      bool ok = false;
      std::string why;
      if (!validator.ok()) {
        why = "compile error: " + validator.error().message;
      } else {
        std::vector<ValidationError> errors;
        bool got = validator->Validate(t.at("data"), &errors);
        bool got_fast = validator->Validate(t.at("data"));
        ok = got == expected;
        if (got != got_fast) {
          ok = false;
          why = "Validate with and without an error list disagree";
        } else if (got && !errors.empty()) {
          ok = false;
          why = "valid but errors reported";
        } else if (!got && errors.empty()) {
          ok = false;
          why = "invalid but no error reported";
        } else if (!ok) {
          why = std::string("expected ") + (expected ? "valid" : "invalid");
          if (!errors.empty()) why += " (" + errors[0].keyword + ": " + errors[0].message + ")";
        }
      }
      if (ok) {
        ++result.passed;
      } else if (verbose) {
        std::printf("  FAIL %s | %s | %s: %s\n", name.c_str(),
                    std::string(g.at("description").get_string()).c_str(),
                    std::string(t.at("description").get_string()).c_str(), why.c_str());
      }
    }
  }
  return result;
}

TEST(SchemaConformanceTest, SuiteIsPresent) {
  ASSERT_TRUE(fs::is_directory(kSuite / "tests" / "draft2020-12"))
      << "JSON-Schema-Test-Suite not found under " << kSuite;
  ASSERT_TRUE(fs::is_directory(kSuite / "tests" / "draft7"));
  ASSERT_TRUE(fs::is_directory(kSuite / "remotes"));
}

TEST(SchemaConformanceTest, MeetsBaseline) {
  ASSERT_TRUE(fs::is_directory(kSuite / "tests")) << "JSON-Schema-Test-Suite not found under " << kSuite;
  const char* verbose_env = std::getenv("RAMPART_SCHEMA_CONFORMANCE_VERBOSE");
  bool verbose = verbose_env != nullptr && std::string(verbose_env) == "1";
  Registry registry = LoadRemotes();

  std::map<std::string, FileResult> results;
  for (const auto& [dir, draft] : {std::pair{"draft2020-12", Draft::k2020_12},
                                   std::pair{"draft7", Draft::k7}}) {
    fs::path root = kSuite / "tests" / dir;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
      std::string name = std::string(dir) + "/" + fs::relative(entry.path(), root).generic_string();
      FormatMode format = name.find("/optional/format/") != std::string::npos ? FormatMode::kAssert
                                                                               : FormatMode::kAnnotate;
      results[name] = RunFile(entry.path(), name, draft, format, registry, verbose);
    }
  }
  ASSERT_FALSE(results.empty());

  std::map<std::string, int> baseline;
  if (auto b = ParseFile(kBaseline); b.ok() && b->is_object()) {
    for (const auto& kv : b->get_object()) {
      if (kv.value().is_int64()) baseline[std::string(kv.key())] = static_cast<int>(kv.value().get_int64());
    }
  } else {
    ADD_FAILURE() << "cannot read the baseline " << kBaseline;
  }

  std::printf("%-60s %7s %7s\n", "file", "passed", "total");
  std::map<std::string, FileResult> totals;
  for (const auto& [name, r] : results) {
    std::printf("%-60s %7d %7d%s\n", name.c_str(), r.passed, r.total,
                r.passed < r.total ? "  *" : "");
    std::string draft = name.substr(0, name.find('/'));
    std::string kind = draft + (name.find("/optional/") != std::string::npos ? " optional" : " required");
    totals[kind].passed += r.passed;
    totals[kind].total += r.total;
    auto it = baseline.find(name);
    if (it == baseline.end()) {
      ADD_FAILURE() << name << ": not in the baseline";
    } else if (r.passed < it->second) {
      ADD_FAILURE() << name << ": " << r.passed << " passed, below the baseline of " << it->second;
    }
  }
  for (const auto& [kind, r] : totals) {
    std::printf("TOTAL %-54s %7d %7d\n", kind.c_str(), r.passed, r.total);
  }

  const char* update = std::getenv("RAMPART_SCHEMA_BASELINE_UPDATE");
  if (update != nullptr && std::string(update) == "1") {
    std::string out = "{\n";
    size_t i = 0;
    for (const auto& [name, r] : results) {
      out += "  \"" + name + "\": " + std::to_string(r.passed) + (++i < results.size() ? ",\n" : "\n");
    }
    out += "}\n";
    fs::create_directories(kBaseline.parent_path());
    std::ofstream(kBaseline) << out;
    std::printf("baseline written to %s\n", kBaseline.c_str());
  }
}

}  // namespace
}  // namespace rampart::schema
