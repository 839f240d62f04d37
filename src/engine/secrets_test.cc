// Secrets that actions receive through connectors must not leave the run: step outputs,
// the run record, error messages, log lines, responses and child runs are scrubbed of
// every registered form of every secret the run resolved (spec/security.md section 1).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <mutex>
#include <vector>

#include "rampart/core/json.h"
#include "rampart/crypto/crypto.h"
#include "rampart/engine/engine.h"
#include "support/fake_env.h"

namespace rampart::engine {
namespace {

namespace bj = boost::json;

constexpr std::string_view kSecret = "tok_9f8e7d6c5b4a3210";

class FixedResolver final : public actions::ConnectorResolver {
 public:
  Result<actions::ConnectorSecrets> Resolve(std::string_view id, std::string_view /*workflow*/,
                                            std::string_view /*step_path*/) const override {
    if (id != "acme") return MakeError(ErrorCode::kNotFound, "no such connector");
    actions::ConnectorSecrets c;
    c.id = "acme";
    c.type = "bearer";
    c.secrets["token"] = std::string(kSecret);
    return c;
  }
};

// Resolves its step's connector and then leaks the token in the way `mode` says: like an
// upstream that echoes the Authorization header, or an action that logs it.
class LeakyAction final : public actions::Action {
 public:
  LeakyAction() {
    schema_ = std::move(schema::Validator::Compile(bj::parse(R"({"type": "object"})"))).value();
  }
  const schema::Validator& ArgsSchema() const override { return *schema_; }
  Result<bj::value> Execute(const actions::Context& ctx) const override {
    if (ctx.connectors == nullptr) return MakeError(ErrorCode::kPermissionDenied, "no connectors");
    auto c = ctx.connectors->Resolve(ctx.connector, ctx.workflow, ctx.step_path);
    if (!c.ok()) return c.error();
    const std::string token = c->secrets.at("token");
    std::string mode(ctx.args.as_object().at("body").as_string());
    if (mode == "error") return MakeError(ErrorCode::kActionFailed, "upstream said: bad token " + token);
    if (mode == "halves") {  // an upstream that reflects the token in two pieces
      return bj::value(bj::object{{"first", token.substr(0, 8)}, {"second", token.substr(8)}});
    }
    if (ctx.log != nullptr) ctx.log->Write(bj::object{{"msg", "using " + token}});
    bj::object out;
    out["echo"] = "Bearer " + token;
    out["b64"] = crypto::Base64Encode(token);
    out["hex"] = crypto::HexEncode(token);
    out["basic"] = crypto::Base64Encode("user:" + token);
    out["nested"] = bj::array{bj::object{{token, "as a key"}}};
    return bj::value(std::move(out));
  }

 private:
  std::optional<schema::Validator> schema_;
};

// Keeps the arguments it was given (as db.query would write them to the org database).
class RecordingAction final : public actions::Action {
 public:
  explicit RecordingAction(std::vector<std::string>* received) : received_(received) {
    schema_ = std::move(schema::Validator::Compile(bj::parse(R"({"type": "object"})"))).value();
  }
  const schema::Validator& ArgsSchema() const override { return *schema_; }
  Result<bj::value> Execute(const actions::Context& ctx) const override {
    received_->push_back(json::Serialize(ctx.args));
    return bj::value(bj::object{{"rows_affected", 1}});
  }

 private:
  std::vector<std::string>* received_;
  std::optional<schema::Validator> schema_;
};

class CollectingSink final : public actions::LogSink {
 public:
  void Write(const bj::object& line) override {
    std::lock_guard lock(mu_);
    lines.push_back(json::Serialize(line));
  }
  std::mutex mu_;
  std::vector<std::string> lines;
};

class RecordingEvents final : public SecurityEvents {
 public:
  void SecretExposureAttempt(std::string_view run_id, std::string_view workflow,
                             std::string_view step_path) override {
    steps.emplace_back(step_path);
  }
  std::vector<std::string> steps;
};

struct SecretsHarness {
  SecretsHarness() {
    registry.Register("http.request", std::make_unique<LeakyAction>());
    registry.Register("db.query", std::make_unique<RecordingAction>(&received));
  }
  RunResult Run(const std::string& yaml, redact::Policy policy = redact::Policy::kRedact,
                bool with_resolver = true) {
    loaded = model::LoadDefinition(yaml);
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].message);
    Env env{&clock, &random, &registry, nullptr, &sink};
    env.connectors = with_resolver ? &resolver : nullptr;
    env.security = &events;
    Engine engine(env);
    RunRequest req;
    req.redaction = policy;
    return engine.Run(*loaded.workflow, std::move(req));
  }
  testing::FakeClock clock;
  testing::FakeRandom random;
  actions::Registry registry;
  FixedResolver resolver;
  CollectingSink sink;
  RecordingEvents events;
  std::vector<std::string> received;  // db.query's arguments, serialized
  model::LoadResult loaded;
};

std::string Workflow(std::string_view mode) {
  return std::string(R"(
rampart: 1
id: leaky
steps:
  - id: call
    type: action
    uses: http.request
    connector: acme
    with: { url: "https://api.acme.test", body: ")") + std::string(mode) + R"(" }
  - id: copy
    type: set
    values: { again: "{{ steps.call.output.echo }}" }
output: { echo: "{{ steps.call.output.echo }}" }
)";
}

// Every form the redactor promises to catch, checked as text: no encoding survives.
void ExpectNoSecret(std::string_view text) {
  for (const std::string& form :
       {std::string(kSecret), crypto::Base64Encode(kSecret), crypto::HexEncode(kSecret)}) {
    EXPECT_EQ(text.find(form), std::string_view::npos) << form << " leaked in " << text;
  }
}

TEST(EngineSecretsTest, SecretInAStepOutputIsRedactedEverywhere) {
  SecretsHarness h;
  RunResult r = h.Run(Workflow("echo"));
  ASSERT_TRUE(r.succeeded()) << json::Serialize(r.record);
  const std::string record = json::Serialize(r.record);
  ExpectNoSecret(record);
  EXPECT_NE(record.find("***REDACTED***"), std::string::npos);
  // The next step saw only the redacted value.
  EXPECT_EQ(r.record["output"].at("echo"), bj::value("Bearer ***REDACTED***"));
  ASSERT_EQ(h.sink.lines.size(), 1u);
  ExpectNoSecret(h.sink.lines[0]);
  EXPECT_TRUE(h.events.steps.empty());
}

TEST(EngineSecretsTest, BlockPolicyFailsTheStepAndReportsIt) {
  SecretsHarness h;
  RunResult r = h.Run(Workflow("echo"), redact::Policy::kBlock);
  ASSERT_FALSE(r.succeeded());
  ASSERT_TRUE(r.error.has_value());
  EXPECT_EQ(r.error->code, ErrorCode::kSecretExposure);
  EXPECT_EQ(r.record["error"].at("step"), bj::value("call"));
  ExpectNoSecret(json::Serialize(r.record));
  EXPECT_EQ(h.events.steps, std::vector<std::string>{"call"});
}

// An upstream that reflects the token in pieces, rejoined by an expression: the joined
// value must not leave through another action's input either (db.query would store it in
// the org database, where a later run without the connector reads it unredacted).
constexpr std::string_view kRejoined = R"yaml(
rampart: 1
id: rejoin
steps:
  - id: call
    type: action
    uses: http.request
    connector: acme
    with: { url: "https://api.acme.test", body: "halves" }
  - id: store
    type: action
    uses: db.query
    with:
      sql: "INSERT INTO loot (v) VALUES (?)"
      params: ["{{ steps.call.output.first + steps.call.output.second }}", "plain"]
)yaml";

TEST(EngineSecretsTest, ARejoinedSecretNeverReachesAnActionsInput) {
  SecretsHarness h;
  RunResult r = h.Run(std::string(kRejoined));
  ASSERT_TRUE(r.succeeded()) << json::Serialize(r.record);
  ASSERT_EQ(h.received.size(), 1u);
  ExpectNoSecret(h.received[0]);
  EXPECT_NE(h.received[0].find(R"(["***REDACTED***","plain"])"), std::string::npos)
      << h.received[0];
  ExpectNoSecret(json::Serialize(r.record));
  EXPECT_TRUE(h.events.steps.empty());
}

TEST(EngineSecretsTest, ARejoinedSecretInAnActionsInputFailsTheStepUnderBlock) {
  SecretsHarness h;
  RunResult r = h.Run(std::string(kRejoined), redact::Policy::kBlock);
  ASSERT_FALSE(r.succeeded());
  EXPECT_EQ(r.error->code, ErrorCode::kSecretExposure);
  EXPECT_EQ(r.record["error"].at("step"), bj::value("store"));
  EXPECT_TRUE(h.received.empty());  // never executed
  EXPECT_EQ(h.events.steps, std::vector<std::string>{"store"});
  ExpectNoSecret(json::Serialize(r.record));
}

TEST(EngineSecretsTest, SecretInAnActionErrorIsRedacted) {
  SecretsHarness h;
  RunResult r = h.Run(Workflow("error"));
  ASSERT_FALSE(r.succeeded());
  ASSERT_TRUE(r.error.has_value());
  ExpectNoSecret(r.error->message);
  ExpectNoSecret(json::Serialize(r.record));
  EXPECT_NE(r.error->message.find("***REDACTED***"), std::string::npos);
}

TEST(EngineSecretsTest, WithoutAResolverAConnectorStepFailsClosed) {
  SecretsHarness h;
  RunResult r = h.Run(Workflow("echo"), redact::Policy::kRedact, /*with_resolver=*/false);
  ASSERT_FALSE(r.succeeded());
  EXPECT_EQ(r.error->code, ErrorCode::kPermissionDenied);
}

TEST(EngineSecretsTest, RunsWithoutConnectorsAreUntouched) {
  SecretsHarness h;
  RunResult r = h.Run(R"(
rampart: 1
id: plain
steps:
  - id: s
    type: set
    values: { text: "tok_9f8e7d6c5b4a3210 is just text here" }
)");
  ASSERT_TRUE(r.succeeded());
  // No secret was resolved, so nothing is redacted: the redactor only knows what the run
  // decrypted.
  EXPECT_EQ(r.record["steps"].as_array()[0].at("output").at("text"),
            bj::value("tok_9f8e7d6c5b4a3210 is just text here"));
}

}  // namespace
}  // namespace rampart::engine
