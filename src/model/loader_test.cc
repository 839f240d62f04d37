#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "rampart/model/workflow.h"

namespace rampart::model {
namespace {

namespace bj = boost::json;

std::string SetSteps(size_t n) {
  std::string s = "rampart: 1\nid: many\nsteps:\n";
  for (size_t i = 0; i < n; ++i) {
    s += "  - {id: s" + std::to_string(i) + ", type: set, values: {v: \"{{ inputs.x + " +
         std::to_string(i) + " }}\"}}\n";
  }
  return s;
}

bool HasError(const LoadResult& r, std::string_view path, ErrorCode code) {
  for (const auto& e : r.errors) {
    if (e.path == path && e.code == code) return true;
  }
  return false;
}

std::string Dump(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) {
    out += e.path + ": " + std::string(ErrorCodeName(e.code)) + ": " + e.message + "\n";
  }
  return out;
}

TEST(LoaderTest, TenThousandStepsLoad) {
  LoadResult r = LoadDefinition(SetSteps(kMaxSteps));
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.workflow->step_count, kMaxSteps);
  EXPECT_EQ(r.workflow->steps.size(), kMaxSteps);
}

TEST(LoaderTest, OneStepPastTheLimitIsRejected) {
  LoadResult r = LoadDefinition(SetSteps(kMaxSteps + 1));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(HasError(r, "/steps", ErrorCode::kLimitExceeded)) << Dump(r);
}

TEST(LoaderTest, NestedStepsCountTowardsTheLimit) {
  // 5,001 top-level for_each steps each holding one step: 10,002 steps in all.
  std::string s = "rampart: 1\nid: nested\nsteps:\n";
  for (int i = 0; i < 5001; ++i) {
    s += "  - {id: l" + std::to_string(i) + ", type: for_each, items: [1], do: [{id: c" +
         std::to_string(i) + ", type: set, values: {}}]}\n";
  }
  LoadResult r = LoadDefinition(s);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(HasError(r, "/steps", ErrorCode::kLimitExceeded)) << Dump(r);
}

TEST(LoaderTest, DefinitionOverOneMebibyteIsRejectedBeforeParsing) {
  std::string s = "rampart: 1\nid: big\ndescription: \"" + std::string(kMaxDefinitionBytes, 'a') +
                  "\"\nsteps: [{id: s, type: set, values: {}}]\n";
  LoadResult r = LoadDefinition(s);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].code, ErrorCode::kInvalidDefinition);
  EXPECT_NE(r.errors[0].message.find("1 MiB"), std::string::npos);
}

TEST(LoaderTest, TenMegabyteFileIsRejected) {
  std::string s(10 << 20, '[');
  LoadResult r = LoadDefinition(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].code, ErrorCode::kInvalidDefinition);
}

TEST(LoaderTest, DeepJsonNestingIsAnErrorNotACrash) {
  std::string s = "{\"rampart\": 1, \"x\": " + std::string(10000, '[') + std::string(10000, ']') + "}";
  LoadResult r = LoadDefinition(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].code, ErrorCode::kLimitExceeded);
}

TEST(LoaderTest, DeepYamlFlowNestingIsAnErrorNotACrash) {
  std::string s = "rampart: 1\nx: " + std::string(10000, '[') + std::string(10000, ']') + "\n";
  LoadResult r = LoadDefinition(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].code, ErrorCode::kLimitExceeded);
}

TEST(LoaderTest, DeepYamlBlockNestingIsAnErrorNotACrash) {
  std::string s = "rampart: 1\nx:\n";
  for (int i = 1; i < 3000; ++i) s += std::string(i * 2, ' ') + "k:\n";
  LoadResult r = LoadDefinition(s);
  ASSERT_FALSE(r.ok());
}

TEST(LoaderTest, YamlAliasBombIsBounded) {
  std::string s = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'j'; ++c) {
    s += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) s += std::string(i ? ", *" : "*") + prev;
    s += "]\n";
    prev = c;
  }
  LoadResult r = LoadDefinition(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].code, ErrorCode::kLimitExceeded) << Dump(r);
}

TEST(LoaderTest, YamlAndJsonGiveTheSameModel) {
  const char* yaml = R"(
rampart: 1
id: same
steps:
  - id: s
    type: set
    values: { a: 1, b: "two", c: [true, null, 1.5], d: "{{ inputs.x }}", e: '1' }
)";
  const char* json = R"({"rampart": 1, "id": "same", "steps": [{"id": "s", "type": "set",
    "values": {"a": 1, "b": "two", "c": [true, null, 1.5], "d": "{{ inputs.x }}", "e": "1"}}]})";
  LoadResult a = LoadDefinition(yaml);
  LoadResult b = LoadDefinition(json);
  ASSERT_TRUE(a.ok()) << Dump(a);
  ASSERT_TRUE(b.ok()) << Dump(b);
  EXPECT_EQ(a.workflow->source, b.workflow->source);
}

TEST(LoaderTest, YamlScalarsFollowTheCoreSchema) {
  auto v = YamlToJson("a: 1\nb: -2\nc: 1.5\nd: true\ne: null\nf: ~\ng: yes\nh: '3'\ni: 0x1F\nj: 1e3\nk: .inf\n");
  ASSERT_TRUE(v.ok()) << v.error().message;
  const bj::object& o = v->as_object();
  EXPECT_EQ(o.at("a"), bj::value(1));
  EXPECT_EQ(o.at("b"), bj::value(-2));
  EXPECT_EQ(o.at("c"), bj::value(1.5));
  EXPECT_EQ(o.at("d"), bj::value(true));
  EXPECT_TRUE(o.at("e").is_null());
  EXPECT_TRUE(o.at("f").is_null());
  EXPECT_EQ(o.at("g"), bj::value("yes"));  // YAML 1.2: not a boolean
  EXPECT_EQ(o.at("h"), bj::value("3"));
  EXPECT_EQ(o.at("i"), bj::value(31));
  EXPECT_EQ(o.at("j"), bj::value(1000.0));
  EXPECT_EQ(o.at("k"), bj::value(".inf"));
}

TEST(LoaderTest, CollectsEveryErrorInDocumentOrder) {
  const char* text = R"(
rampart: 1
id: many-errors
steps:
  - id: a
    type: set
  - id: a
    type: set
    values: {}
    bogus: 1
  - id: c
    type: set
    values: { x: "{{ 1 + }}" }
)";
  LoadResult r = LoadDefinition(text);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 4u) << Dump(r);
  EXPECT_EQ(r.errors[0].path, "/steps/0");
  EXPECT_EQ(r.errors[1].path, "/steps/1/id");
  EXPECT_EQ(r.errors[2].path, "/steps/1/bogus");
  EXPECT_EQ(r.errors[3].path, "/steps/2/values/x");
  EXPECT_EQ(r.errors[3].code, ErrorCode::kInvalidExpression);
}

TEST(LoaderTest, ExpressionErrorsCarryLineAndColumn) {
  LoadResult r = LoadDefinition(R"({"rampart":1,"id":"x","steps":[{"id":"s","type":"set","values":{"v":"{{ inputs.a ** 2 }}"}}]})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].code, ErrorCode::kInvalidExpression);
  EXPECT_NE(r.errors[0].message.find("column"), std::string::npos) << r.errors[0].message;
}

// spec/expressions.md: "a definition with an expression that does not compile is rejected
// with invalid_expression and the JSON path of the string that holds it" - whatever part of
// the expression fails to compile (syntax, an unknown filter, an invalid literal pattern).
TEST(LoaderTest, EveryExpressionThatDoesNotCompileIsInvalidExpression) {
  for (const char* value : {"{{ inputs.a | nope }}", "{{ inputs.a | now }}", "x {{ inputs.a | eval('1') }}",
                            "{{ inputs.a | matches('(') }}", "{{ inputs.a | matches('(?=a)') }}"}) {
    std::string text = std::string(R"({"rampart":1,"id":"x","steps":[{"id":"s","type":"set","values":{"v":")") +
                       value + R"("}}]})";
    LoadResult r = LoadDefinition(text);
    ASSERT_FALSE(r.ok()) << value;
    ASSERT_EQ(r.errors.size(), 1u) << Dump(r);
    EXPECT_EQ(r.errors[0].path, "/steps/0/values/v") << value;
    EXPECT_EQ(r.errors[0].code, ErrorCode::kInvalidExpression) << value << ": " << Dump(r);
  }
}

// spec/expressions.md "Names in scope": inputs, steps, trigger, run, and inside a for_each
// its `as` name (default item) and index. Any other name is a typo caught at load time.
TEST(LoaderTest, NamesNotInScopeAreInvalidExpressions) {
  const char* ok = R"(
rampart: 1
id: names
steps:
  - id: a
    type: set
    values: { v: "{{ inputs.x }} {{ trigger.type }} {{ run.id }}" }
  - id: outer
    type: for_each
    items: "{{ [1, 2] }}"
    do:
      - id: inner
        type: for_each
        as: n
        items: "{{ [item, index] }}"
        do:
          - id: b
            type: set
            if: "n > 0 and item > 0"
            values: { v: "{{ n + item + index + steps.a.output.v | length }}" }
output: { o: "{{ steps.outer.output }}" }
)";
  LoadResult good = LoadDefinition(ok);
  EXPECT_TRUE(good.ok()) << Dump(good);

  struct Case {
    const char* text;
    const char* path;
  };
  for (const Case& c : {
           Case{R"({"rampart":1,"id":"x","steps":[{"id":"s","type":"set","values":{"v":"{{ inptus.amount }}"}}]})",
                "/steps/0/values/v"},
           Case{R"({"rampart":1,"id":"x","steps":[{"id":"s","type":"set","values":{"v":"{{ now }}"}}]})",
                "/steps/0/values/v"},
           Case{R"({"rampart":1,"id":"x","steps":[{"id":"s","type":"set","if":"item","values":{}}]})",
                "/steps/0/if"},
           Case{R"({"rampart":1,"id":"x","steps":[{"id":"s","type":"fail","message":"at {{ index }}"}]})",
                "/steps/0/message"},
           Case{R"({"rampart":1,"id":"x","steps":[{"id":"s","type":"set","values":{}}],"output":{"o":"{{ item }}"}})",
                "/output/o"},
           // The loop's own items and if are evaluated outside the loop.
           Case{R"({"rampart":1,"id":"x","steps":[{"id":"l","type":"for_each","items":"{{ item }}","do":[{"id":"s","type":"set","values":{}}]}]})",
                "/steps/0/items"},
           // With `as: n`, the element is `n`, not `item`.
           Case{R"({"rampart":1,"id":"x","steps":[{"id":"l","type":"for_each","as":"n","items":[1],"do":[{"id":"s","type":"set","values":{"v":"{{ item }}"}}]}]})",
                "/steps/0/do/0/values/v"},
       }) {
    LoadResult r = LoadDefinition(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_TRUE(HasError(r, c.path, ErrorCode::kInvalidExpression)) << c.text << "\n" << Dump(r);
  }
}

TEST(LoaderTest, SecretsAreForbiddenEverywhereInADefinition) {
  for (const char* where : {
           R"(values: { v: "{{ secrets.k }}" })",
           R"(values: { v: "x {{ secrets['k'] | upper }}" })",
           R"(if: "secrets.k == 'a'"
    values: {})",
       }) {
    std::string text = std::string("rampart: 1\nid: s\nsteps:\n  - id: s\n    type: set\n    ") + where + "\n";
    LoadResult r = LoadDefinition(text);
    ASSERT_FALSE(r.ok()) << where;
    EXPECT_EQ(r.errors[0].code, ErrorCode::kForbiddenSecretAccess) << Dump(r);
  }
}

// A hook's url is sent as written: `{{ secrets.x }}` there is the forbidden_secret_access of
// any other field (spec/security.md 1: "Anywhere else a definition is rejected"), and any
// other `{{ }}` a mistake that would otherwise go out literally.
TEST(LoaderTest, HookUrlsAreLiterals) {
  auto with_url = [](const char* url) {
    return std::string("rampart: 1\nid: h\nhooks:\n  - { url: \"") + url +
           "\", events: [run.succeeded], secret: sig }\nsteps:\n  - { id: a, type: set, values: {} }\n";
  };
  LoadResult secret = LoadDefinition(with_url("https://hooks.example.com/{{ secrets.token }}"));
  ASSERT_FALSE(secret.ok());
  EXPECT_EQ(secret.errors[0].code, ErrorCode::kForbiddenSecretAccess) << Dump(secret);
  EXPECT_EQ(secret.errors[0].path, "/hooks/0/url");
  LoadResult templated = LoadDefinition(with_url("https://hooks.example.com/{{ inputs.x }}"));
  ASSERT_FALSE(templated.ok());
  EXPECT_EQ(templated.errors[0].code, ErrorCode::kInvalidDefinition) << Dump(templated);
  EXPECT_EQ(templated.errors[0].path, "/hooks/0/url");
  EXPECT_TRUE(LoadDefinition(with_url("https://hooks.example.com/x?a=1")).ok());
}

TEST(LoaderTest, ConditionAcceptsBareOrBracedExpression) {
  for (const char* cond : {"inputs.a > 1", "{{ inputs.a > 1 }}", "  {{inputs.a > 1}}  "}) {
    std::string text = std::string("rampart: 1\nid: c\nsteps:\n  - id: s\n    type: set\n    if: \"") +
                       cond + "\"\n    values: {}\n";
    LoadResult r = LoadDefinition(text);
    ASSERT_TRUE(r.ok()) << cond << "\n" << Dump(r);
    EXPECT_EQ(r.workflow->steps[0].condition->source(), "inputs.a > 1");
  }
}

TEST(LoaderTest, NonObjectDocumentsAreRejected) {
  for (const char* text : {"[]", "42", "\"x\"", "null", "", "---\n---\n"}) {
    LoadResult r = LoadDefinition(text);
    EXPECT_FALSE(r.ok()) << text;
    EXPECT_FALSE(r.errors.empty()) << text;
  }
}

TEST(LoaderTest, StepFieldsAreLoaded) {
  const char* text = R"(
rampart: 1
id: fields
limits: { timeout: 30 }
steps:
  - id: call
    name: Notify
    type: action
    uses: log.write
    connector: ops
    with: { message: hi }
    retry: { max_attempts: 3, backoff_s: 0.5 }
    timeout: 10
  - id: wait
    type: approval
    approvers: { roles: [owner], users: [u_1], count: 2 }
    timeout: 86400
    on_timeout: skip
)";
  LoadResult r = LoadDefinition(text);
  ASSERT_TRUE(r.ok()) << Dump(r);
  const Workflow& wf = *r.workflow;
  EXPECT_EQ(wf.timeout_s, 30);
  const Step& call = wf.steps[0];
  EXPECT_EQ(call.name, "Notify");
  EXPECT_EQ(call.uses, "log.write");
  EXPECT_EQ(call.connector, "ops");
  EXPECT_EQ(call.retry.max_attempts, 3);
  EXPECT_EQ(call.retry.backoff_s, 0.5);
  EXPECT_EQ(call.timeout_s, 10);
  const Step& wait = wf.steps[1];
  EXPECT_EQ(wait.type, StepType::kApproval);
  EXPECT_EQ(wait.approvers.count, 2);
  EXPECT_EQ(wait.approvers.users, std::vector<std::string>{"u_1"});
  EXPECT_EQ(wait.on_timeout, OnTimeout::kSkip);
}

// security.md 5: the SQL of db.query is a literal string; values go through params.
TEST(LoaderTest, DbQuerySqlMustBeALiteral) {
  const std::string head = "rampart: 1\nid: q\nsteps:\n  - id: q\n    type: action\n    uses: db.query\n    with:\n";
  LoadResult templated = LoadDefinition(head + "      sql: \"SELECT * FROM t WHERE id = {{ inputs.id }}\"\n");
  ASSERT_FALSE(templated.ok());
  EXPECT_TRUE(HasError(templated, "/steps/0/with/sql", ErrorCode::kInvalidDefinition)) << Dump(templated);
  LoadResult not_string = LoadDefinition(head + "      sql: {q: \"{{ inputs.sql }}\"}\n");
  ASSERT_FALSE(not_string.ok());
  EXPECT_TRUE(HasError(not_string, "/steps/0/with/sql", ErrorCode::kInvalidDefinition)) << Dump(not_string);
  LoadResult literal = LoadDefinition(head + "      sql: \"SELECT * FROM t WHERE id = :id\"\n      params: {id: \"{{ inputs.id }}\"}\n");
  EXPECT_TRUE(literal.ok()) << Dump(literal);
}

TEST(LoaderTest, DestinationHostFromInputIsLinted) {
  auto load = [](const std::string& url) {
    return LoadDefinition("rampart: 1\nid: q\nsteps:\n  - id: call\n    type: action\n"
                          "    uses: http.request\n    with: { url: \"" + url + "\" }\n");
  };
  auto warned = [](const LoadResult& r) {
    for (const auto& w : r.warnings) {
      if (w.path == "/steps/0/with/url") return true;
    }
    return false;
  };
  // The host comes from the caller: a warning, not an error (the guard still applies).
  LoadResult host = load("https://{{ inputs.host }}/v1/items");
  ASSERT_TRUE(host.ok()) << Dump(host);
  EXPECT_TRUE(warned(host));
  EXPECT_TRUE(warned(load("{{ inputs.url }}")));
  EXPECT_TRUE(warned(load("https://api.{{ trigger.delivery_id }}.test/x")));
  // Only the path or query comes from the input; or the host is computed from steps.
  EXPECT_FALSE(warned(load("https://api.example.test/items/{{ inputs.id }}")));
  EXPECT_FALSE(warned(load("https://api.example.test/items?q={{ inputs.q }}")));
  EXPECT_FALSE(warned(load("https://api.example.test/static")));
}

// The run service executes side-effect-free workflows before committing anything, so the
// flag must be false as soon as any step, however deeply nested, reaches outside the run.
TEST(LoaderTest, SideEffectFreeOnlyWhenNoStepReachesOutside) {
  auto flag = [](const std::string& inner) {
    std::string text = "rampart: 1\nid: p\nsteps:\n"
                       "  - {id: a, type: set, values: {v: 1}}\n"
                       "  - id: b\n    type: branch\n    if: \"{{ inputs.x > 1 }}\"\n"
                       "    then:\n      - id: loop\n        type: for_each\n"
                       "        items: [1, 2]\n        do:\n" + inner +
                       "    else:\n      - {id: no, type: fail, message: nope}\n"
                       "  - {id: r, type: respond, status: 200, body: {ok: true}}\n";
    LoadResult r = LoadDefinition(text);
    EXPECT_TRUE(r.ok()) << Dump(r) << text;
    return r.ok() && r.workflow->side_effect_free;
  };
  EXPECT_TRUE(flag("          - {id: in, type: set, values: {w: 2}}\n"));
  EXPECT_FALSE(flag("          - {id: in, type: action, uses: log.write, with: {message: hi}}\n"));
  EXPECT_FALSE(flag("          - {id: in, type: workflow, workflow: child, with: {}}\n"));
  EXPECT_FALSE(flag("          - {id: in, type: approval, approvers: {roles: [owner]}}\n"));
  for (StepType t : {StepType::kSet, StepType::kBranch, StepType::kForEach, StepType::kFail,
                     StepType::kRespond}) {
    EXPECT_TRUE(StepTypeIsSideEffectFree(t)) << StepTypeName(t);
  }
  for (StepType t : {StepType::kAction, StepType::kWorkflow, StepType::kApproval}) {
    EXPECT_FALSE(StepTypeIsSideEffectFree(t)) << StepTypeName(t);
  }
}


// Schedule triggers are checked by the parser the scheduler fires them with
// (schedule/cron.h): whatever it accepts is a valid definition, whatever it refuses is not.
TEST(LoaderTest, ScheduleCronIsTheSchedulersFiveFieldCron) {
  auto load = [](std::string_view cron) {
    return LoadDefinition("rampart: 1\nid: cron\ntriggers:\n  - type: schedule\n    cron: \"" +
                          std::string(cron) + "\"\nsteps:\n  - {id: s, type: set, values: {}}\n");
  };
  for (const char* ok : {"*/5 * * * *", "0 9 * * MON-FRI", "0 9 * jan,Jul *", "0 0 * * sun",
                         "0\t9 * * *", "5/15 0-23/2 1,15 * 7"}) {
    LoadResult r = load(ok);
    EXPECT_TRUE(r.ok()) << ok << ": " << Dump(r);
  }
  for (const char* bad : {"@daily", "* * * *", "60 * * * *", "* * * * 8", "*/0 * * * *",
                          "0 9 * * FRI-MON", "0 9 * * MONDAY", "* * 0 * *", "0 0 * * */jan"}) {
    LoadResult r = load(bad);
    EXPECT_TRUE(HasError(r, "/triggers/0/cron", ErrorCode::kInvalidDefinition)) << bad << ": "
                                                                                 << Dump(r);
  }
}

// Found by definition_fuzz: an integer field holding a double past int64's range (1e300)
// was converted to int64 before the range check, which is undefined behaviour.
TEST(LoaderTest, HugeDoublesInIntegerFieldsAreRejected) {
  for (const char* huge : {"1e300", "-1e300", "6.06e122", "1e19", "-1e19", "9.3e18"}) {
    const std::string text = std::string(R"(
rampart: 1
id: huge
triggers:
  - type: webhook
    auth: { type: github, connector: gh_hook }
    replay_window: )") + huge + R"(
    max_payload: )" + huge + R"(
    rate_limit: { rpm: )" + huge + ", burst: " + huge + R"( }
steps:
  - id: call
    type: action
    uses: log.write
    with: { message: hi }
    retry: { max_attempts: )" + huge + R"( }
  - id: wait
    type: approval
    approvers: { roles: [owner], count: )" + huge + R"( }
  - id: answer
    type: respond
    status: )" + huge + R"(
)";
    LoadResult r = LoadDefinition(text);
    ASSERT_FALSE(r.ok()) << huge;
    for (const char* path : {"/triggers/0/replay_window", "/triggers/0/max_payload",
                             "/triggers/0/rate_limit/rpm", "/triggers/0/rate_limit/burst",
                             "/steps/0/retry/max_attempts", "/steps/1/approvers/count",
                             "/steps/2/status"}) {
      EXPECT_TRUE(HasError(r, path, ErrorCode::kInvalidDefinition)) << huge << " " << path << "\n"
                                                                    << Dump(r);
    }
  }
}

TEST(LoaderTest, IntegralDoublesInIntegerFieldsAreAccepted) {
  LoadResult r = LoadDefinition(R"({"rampart":1,"id":"d","steps":[
    {"id":"call","type":"action","uses":"log.write","with":{"message":"hi"},"retry":{"max_attempts":3.0}},
    {"id":"answer","type":"respond","status":201.0}]})");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.workflow->steps[0].retry.max_attempts, 3);
  EXPECT_EQ(r.workflow->steps[1].status, 201);
  LoadResult frac = LoadDefinition(R"({"rampart":1,"id":"d","steps":[
    {"id":"answer","type":"respond","status":201.5}]})");
  EXPECT_TRUE(HasError(frac, "/steps/0/status", ErrorCode::kInvalidDefinition)) << Dump(frac);
}

// YAML and JSON are equivalent (spec/workflow.md): a YAML document in flow style starts
// with '{' like JSON, and is still YAML.
TEST(LoaderTest, FlowStyleYamlStartingWithABraceIsYaml) {
  LoadResult r = LoadDefinition("{rampart: 1, id: flow, steps: [{id: s, type: set, values: {a: 1}}]}\n");
  ASSERT_TRUE(r.ok()) << Dump(r);
  EXPECT_EQ(r.workflow->id, "flow");
  // JSON stays strict JSON: a key given twice is still an error, never last-wins.
  LoadResult dup = LoadDefinition(R"({"rampart": 1, "id": "a", "id": "b", "steps": []})");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.errors[0].message.find("duplicate key"), std::string::npos) << Dump(dup);
  // Text that is neither reports the JSON error (it looked like JSON).
  LoadResult bad = LoadDefinition("{\"rampart\": 1,, }");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.errors[0].message.find("JSON"), std::string::npos) << Dump(bad);
}

// The format version is the number 1; 1.0 is that number (like any integer field).
TEST(LoaderTest, FormatVersionOnePointZeroIsOne) {
  LoadResult r = LoadDefinition(R"({"rampart":1.0,"id":"d","steps":[{"id":"s","type":"set","values":{}}]})");
  EXPECT_TRUE(r.ok()) << Dump(r);
  LoadResult two = LoadDefinition(R"({"rampart":1.5,"id":"d","steps":[{"id":"s","type":"set","values":{}}]})");
  EXPECT_TRUE(HasError(two, "/rampart", ErrorCode::kInvalidDefinition)) << Dump(two);
}

// "Unknown keys are an error everywhere" (spec/workflow.md) holds inside the inputs schema
// too: a misspelt keyword (requird, maxlenght) would otherwise switch its check off in
// silence, since JSON Schema ignores keywords it does not know.
TEST(LoaderTest, UnknownKeywordsOfTheInputsSchemaAreRejected) {
  LoadResult r = LoadDefinition(R"({"rampart": 1, "id": "typo", "inputs": {
      "type": "object", "requird": ["a"],
      "properties": {"a": {"type": "string", "maxlenght": 5},
                     "b": {"type": "array", "items": {"typ": "integer"}},
                     "c": {"anyOf": [{"type": "null"}, {"type": "string", "patern": "x"}]}},
      "$defs": {"d": {"minimun": 1}}},
    "steps": [{"id": "s", "type": "set", "values": {}}]})");
  ASSERT_FALSE(r.ok());
  for (const char* path : {"/inputs/requird", "/inputs/properties/a/maxlenght",
                           "/inputs/properties/b/items/typ",
                           "/inputs/properties/c/anyOf/1/patern", "/inputs/$defs/d/minimun"}) {
    EXPECT_TRUE(HasError(r, path, ErrorCode::kInvalidDefinition)) << path << "\n" << Dump(r);
  }
  EXPECT_EQ(r.errors.size(), 5u) << Dump(r);
}

TEST(LoaderTest, EveryJsonSchemaKeywordAndAnnotationIsAccepted) {
  // Property names, enum/const/default/examples values and $defs names are data, not
  // keywords: only schema positions are checked.
  LoadResult r = LoadDefinition(R"({"rampart": 1, "id": "all", "inputs": {
      "$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:x", "$comment": "c",
      "title": "t", "description": "d", "type": "object", "additionalProperties": false,
      "required": ["propertiez"], "minProperties": 1, "maxProperties": 9,
      "dependentRequired": {"a": ["b"]}, "dependentSchemas": {"a": {"required": ["b"]}},
      "propertyNames": {"maxLength": 20}, "unevaluatedProperties": false,
      "properties": {
        "propertiez": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^x",
                       "format": "email", "default": {"typo": 1}, "examples": [{"nope": 2}],
                       "deprecated": false, "readOnly": false, "writeOnly": false,
                       "contentEncoding": "base64", "contentMediaType": "text/plain"},
        "a": {"enum": [{"requird": 1}]}, "b": {"const": {"typ": 1}},
        "n": {"type": "number", "minimum": 0, "maximum": 9, "exclusiveMinimum": -1,
              "exclusiveMaximum": 10, "multipleOf": 0.5},
        "l": {"type": "array", "prefixItems": [{"type": "string"}], "items": false,
              "contains": {"type": "string"}, "minContains": 1, "maxContains": 2,
              "minItems": 0, "maxItems": 3, "uniqueItems": true, "unevaluatedItems": false},
        "r": {"$ref": "#/$defs/weird_name"},
        "c": {"if": {"type": "string"}, "then": {"minLength": 1}, "else": {"not": {"type": "null"}},
              "allOf": [{}], "oneOf": [true, {}]}},
      "patternProperties": {"^z": {"$anchor": "z", "type": "boolean"}},
      "$defs": {"weird_name": {"type": "integer"}}},
    "steps": [{"id": "s", "type": "set", "values": {}}]})");
  EXPECT_TRUE(r.ok()) << Dump(r);
}

}  // namespace
}  // namespace rampart::model
