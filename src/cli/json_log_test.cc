// The server's JSON log: every line valid JSON with time, level and msg, and no secret
// (nor its base64, hex or URL form) ever written.
#include "cli/json_log.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "rampart/crypto/crypto.h"

namespace rampart::cli {
namespace {

namespace bj = boost::json;

constexpr std::string_view kSecret = "mk-Secret-41e9c7d2b8a6";

std::vector<std::string> Lines(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::vector<std::string> lines;
  char buf[8192];
  std::string line;
  while (std::fgets(buf, sizeof buf, f) != nullptr) {
    line += buf;
    if (!line.empty() && line.back() == '\n') {
      line.pop_back();
      lines.push_back(line);
      line.clear();
    }
  }
  EXPECT_TRUE(line.empty()) << "unterminated line: " << line;
  return lines;
}

void ExpectNoSecret(const std::string& text) {
  for (const std::string& form : {std::string(kSecret), crypto::Base64Encode(kSecret),
                                  crypto::HexEncode(kSecret)}) {
    EXPECT_EQ(text.find(form), std::string::npos) << form << " in " << text;
  }
}

TEST(JsonLogTest, SecretsInAnyFormAreRedactedAndEveryLineIsJson) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  redact::SecretSet secrets;
  secrets.Add(kSecret);
  {
    JsonLog log(f, secrets);
    log.Log("error", "re-encryption stopped: key " + std::string(kSecret),
            bj::object{{"b64", crypto::Base64Encode(kSecret)},
                       {"basic", "Basic " + crypto::Base64Encode("user:" + std::string(kSecret))}});
    // A run log line (log.write's shape) carrying the hex form, a quote and a newline.
    log.Write(bj::object{{"level", "warn"},
                         {"msg", "said \"" + crypto::HexEncode(kSecret) + "\"\nnext"},
                         {"fields", bj::object{{"n", 1}}},
                         {"workflow", "wf"},
                         {"run_id", "run_1"},
                         {"step", "s"}});
    log.Write(bj::object{{"level", "nonsense"}, {"msg", "plain"}});
  }
  std::vector<std::string> lines = Lines(f);
  std::fclose(f);
  ASSERT_EQ(lines.size(), 3u);
  const std::regex rfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");
  for (const std::string& line : lines) {
    ExpectNoSecret(line);
    boost::system::error_code ec;
    bj::value v = bj::parse(line, ec);
    ASSERT_FALSE(ec) << line;
    ASSERT_TRUE(v.is_object()) << line;
    EXPECT_TRUE(std::regex_match(std::string(v.at("time").as_string()), rfc3339)) << line;
    EXPECT_TRUE(v.as_object().contains("msg")) << line;
  }
  bj::value first = bj::parse(lines[0]);
  EXPECT_EQ(first.at("level"), "error");
  EXPECT_EQ(first.at("msg"), "re-encryption stopped: key ***REDACTED***");
  EXPECT_EQ(first.at("fields").at("b64"), "***REDACTED***");
  EXPECT_NE(std::string(first.at("fields").at("basic").as_string()).find("REDACTED"),
            std::string::npos);
  bj::value second = bj::parse(lines[1]);
  EXPECT_EQ(second.at("level"), "warn");
  EXPECT_EQ(second.at("msg"), "said \"***REDACTED***\"\nnext");
  EXPECT_EQ(second.at("fields").at("n"), 1);
  EXPECT_EQ(second.at("run_id"), "run_1");
  EXPECT_EQ(second.at("step"), "s");
  EXPECT_EQ(bj::parse(lines[2]).at("level"), "info");
}

}  // namespace
}  // namespace rampart::cli

namespace rampart::cli {
namespace {

// The diagnostics ring is fed by this logger, after its redaction: an org's own lines go
// in (time, level, event, code, message only), a run's lines and org-less lines never do.
TEST(JsonLogTest, OrgLinesFeedTheDiagnosticsRingAfterRedaction) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  redact::SecretSet secrets;
  secrets.Add(kSecret);
  server::OrgLogRing ring;
  {
    JsonLog log(f, secrets, &ring);
    log.Write(bj::object{{"level", "error"},
                         {"msg", "store failed with key " + std::string(kSecret)},
                         {"org", "org_a"},
                         {"event", "request.failed"},
                         {"code", "internal"},
                         {"fields", bj::object{{"operation", "getRun"}}}});
    log.Log("info", "listening", {{"port", 1}});
    log.Write(bj::object{{"level", "info"},
                         {"msg", "input was " + std::string(kSecret)},
                         {"org", "org_a"},
                         {"event", "log"},
                         {"workflow", "w"},
                         {"run_id", "run_1"},
                         {"step", "s"}});
  }
  EXPECT_EQ(Lines(f).size(), 3u);  // every line still written
  std::fclose(f);
  auto records = ring.Recent("org_a", 10);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].level, "error");
  EXPECT_EQ(records[0].event, "request.failed");
  EXPECT_EQ(records[0].code, "internal");
  EXPECT_GT(records[0].time_ms, 0);
  ExpectNoSecret(records[0].message);
  EXPECT_NE(records[0].message.find("store failed with key"), std::string::npos);
}

}  // namespace
}  // namespace rampart::cli
