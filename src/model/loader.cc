// Definition loading: shape checks (strict: unknown keys are errors), limits, id rules,
// reference resolution and expression compilation, with every error collected.
#include <boost/json.hpp>
#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "rampart/core/json.h"
#include "rampart/model/workflow.h"
#include "rampart/schedule/cron.h"

namespace rampart::model {
namespace {

namespace bj = boost::json;

constexpr std::string_view kKnownActions[] = {"http.request", "webhook.send", "db.query",
                                              "log.write", "wallet.sign"};
constexpr std::string_view kReservedNames[] = {"inputs", "steps", "trigger", "run",
                                               "secrets", "index", "true", "false",
                                               "null", "and", "or", "not", "in"};
constexpr std::string_view kHookEvents[] = {"run.succeeded", "run.failed",
                                            "run.awaiting_approval"};
constexpr std::string_view kRoles[] = {"owner", "developer"};
constexpr std::string_view kPermissions[] = {
    "workflows:read",   "workflows:write",   "workflows:delete",  "workflows:publish",
    "workflows:execute", "runs:read",        "runs:cancel",       "runs:approve",
    "connectors:read",  "connectors:write",  "connectors:delete", "connectors:use",
    "api_keys:read",    "api_keys:write",    "members:read",      "members:write",
    "org:write",        "audit:read",        "webhooks:manage",   "wallets:read",
    "wallets:manage"};

template <size_t N>
bool OneOf(std::string_view s, const std::string_view (&set)[N]) {
  for (auto x : set) {
    if (x == s) return true;
  }
  return false;
}

bool IsWorkflowId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  auto lower_digit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lower_digit(s[0])) return false;
  for (char c : s.substr(1)) {
    if (!lower_digit(c) && c != '-') return false;
  }
  return true;
}

bool IsStepId(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return false;
  for (char c : s.substr(1)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

size_t CodePoints(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

class Loader {
 public:
  LoadResult Load(bj::value document) {
    auto wf = std::make_shared<Workflow>();
    const bj::value& doc = document;
    const bj::object* root = doc.if_object();
    if (!root) {
      Fail("", "a workflow definition must be an object");
      return Finish(nullptr);
    }
    CheckKeys(*root, "",
              {"rampart", "id", "name", "description", "visibility", "inputs", "triggers",
               "authorization", "limits", "steps", "output", "hooks"});
    // rampart: 1
    if (const bj::value* v = root->if_contains("rampart")) {
      if (auto n = Integer(*v); !n || *n != 1) {
        Fail("/rampart", "format version must be 1");
      }
    } else {
      Fail("", "missing required key 'rampart' (format version, must be 1)");
    }
    if (const bj::value* v = root->if_contains("id")) {
      if (!v->is_string() || !IsWorkflowId(v->get_string())) {
        Fail("/id", "workflow id must match ^[a-z0-9][a-z0-9-]{0,63}$");
      } else {
        wf->id = std::string(v->get_string());
      }
    } else {
      Fail("", "missing required key 'id'");
    }
    if (const bj::value* v = root->if_contains("name")) {
      if (!v->is_string() || CodePoints(v->get_string()) > 200) {
        Fail("/name", "name must be a string of at most 200 characters");
      } else {
        wf->name = std::string(v->get_string());
      }
    }
    if (const bj::value* v = root->if_contains("description")) {
      if (!v->is_string()) {
        Fail("/description", "description must be a string");
      } else {
        wf->description = std::string(v->get_string());
      }
    }
    if (const bj::value* v = root->if_contains("visibility")) {
      std::string_view s = v->is_string() ? std::string_view(v->get_string()) : "";
      if (s == "private") {
        wf->visibility = Visibility::kPrivate;
      } else if (s == "org") {
        wf->visibility = Visibility::kOrg;
      } else if (s == "public") {
        wf->visibility = Visibility::kPublic;
      } else {
        Fail("/visibility", "visibility must be one of private, org, public");
      }
    }
    if (const bj::value* v = root->if_contains("inputs")) LoadInputs(*v, *wf);
    if (wf->visibility == Visibility::kPublic) LintPublicInputs(*wf);
    if (const bj::value* v = root->if_contains("triggers")) LoadTriggers(*v, *wf);
    if (const bj::value* v = root->if_contains("authorization")) LoadAuthorization(*v, *wf);
    if (const bj::value* v = root->if_contains("limits")) LoadLimits(*v, *wf);
    if (const bj::value* v = root->if_contains("hooks")) LoadHooks(*v, *wf);

    const bj::value* steps = root->if_contains("steps");
    if (!steps) {
      Fail("", "missing required key 'steps'");
    } else if (!steps->is_array() || steps->get_array().empty()) {
      Fail("/steps", "steps must be a non-empty list");
    } else {
      CountSteps(steps->get_array(), 1, "/steps");
      if (total_steps_ > kMaxSteps) {
        Fail("/steps",
             "workflow has more than " + std::to_string(kMaxSteps) + " steps",
             ErrorCode::kLimitExceeded);
      } else if (max_depth_seen_ > kMaxNestingDepth) {
        Fail(deepest_pointer_,
             "step lists are nested deeper than " + std::to_string(kMaxNestingDepth) + " levels",
             ErrorCode::kLimitExceeded);
      } else {
        wf->steps = LoadSteps(steps->get_array(), "/steps", 1);
        wf->step_count = total_steps_;
        wf->side_effect_free = StepsAreSideEffectFree(wf->steps);
      }
    }
    if (const bj::value* v = root->if_contains("output")) {
      wf->output = CompileTree(*v, "/output");
    }
    ResolveStepReferences();
    if (!errors_.empty()) return Finish(nullptr);
    wf->source = std::move(document);
    return Finish(std::move(wf));
  }

 private:
  void Fail(std::string path, std::string message, ErrorCode code = ErrorCode::kInvalidDefinition) {
    errors_.push_back({std::move(path), code, std::move(message)});
  }
  void Warn(std::string path, std::string message) {
    warnings_.push_back({std::move(path), ErrorCode::kInvalidDefinition, std::move(message)});
  }

  LoadResult Finish(std::shared_ptr<Workflow> wf) {
    LoadResult r;
    r.workflow = std::move(wf);
    r.errors = std::move(errors_);
    r.warnings = std::move(warnings_);
    return r;
  }

  void CheckKeys(const bj::object& obj, const std::string& path,
                 std::initializer_list<std::string_view> allowed) {
    for (const auto& kv : obj) {
      bool known = false;
      for (auto a : allowed) {
        if (a == kv.key()) {
          known = true;
          break;
        }
      }
      if (!known) {
        Fail(json::PointerAppend(path, kv.key()),
             "unknown key '" + json::Excerpt(kv.key()) + "'");
      }
    }
  }

  const bj::object* ExpectObject(const bj::value& v, const std::string& path, std::string_view what) {
    if (!v.is_object()) {
      Fail(path, std::string(what) + " must be an object");
      return nullptr;
    }
    return &v.get_object();
  }

  std::optional<std::vector<std::string>> StringList(const bj::value& v, const std::string& path) {
    if (!v.is_array()) {
      Fail(path, "must be a list of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    for (size_t i = 0; i < v.get_array().size(); ++i) {
      const auto& e = v.get_array()[i];
      if (!e.is_string()) {
        Fail(json::PointerAppend(path, i), "must be a string");
        continue;
      }
      out.emplace_back(e.get_string());
    }
    return out;
  }

  static std::optional<double> Number(const bj::value& v) {
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    if (v.is_double()) return v.get_double();
    return std::nullopt;
  }

  static std::optional<int64_t> Integer(const bj::value& v) {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
      return static_cast<int64_t>(v.get_uint64());
    }
    if (v.is_double()) {
      // Range before conversion: converting a double outside int64's range is undefined
      // behaviour (found by definition_fuzz with `rpm: 6e122`). NaN fails the range test.
      double d = v.get_double();
      if (!(std::abs(d) < 9e15) || d != std::trunc(d)) return std::nullopt;
      return static_cast<int64_t>(d);
    }
    return std::nullopt;
  }

  void LoadInputs(const bj::value& v, Workflow& wf) {
    if (!v.is_object() && !v.is_bool()) {
      Fail("/inputs", "inputs must be a JSON Schema (object)");
      return;
    }
    CheckSchemaKeywords(v, "/inputs", 0);
    auto compiled = schema::Validator::Compile(v);
    if (!compiled.ok()) {
      Fail("/inputs", "invalid inputs schema: " + compiled.error().message);
      return;
    }
    wf.inputs_schema = v;
    wf.inputs = std::move(compiled).value();
  }

  // JSON Schema ignores keywords it does not know, so a misspelt one (requird, maxlenght)
  // would switch its check off in silence; spec/workflow.md makes unknown keys errors
  // everywhere. Walks the schema positions only: property names, $defs names and the
  // values of enum, const, default and examples are data.
  void CheckSchemaKeywords(const bj::value& schema, const std::string& path, size_t depth) {
    static constexpr std::string_view kKeywords[] = {
        // core
        "$schema", "$id", "$ref", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary",
        "$comment", "$defs", "definitions",
        // applicators
        "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas",
        "dependencies", "prefixItems", "items", "additionalItems", "contains", "properties",
        "patternProperties", "additionalProperties", "propertyNames", "unevaluatedItems",
        "unevaluatedProperties",
        // validation
        "type", "enum", "const", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
        "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
        "uniqueItems", "maxContains", "minContains", "maxProperties", "minProperties",
        "required", "dependentRequired",
        // annotations
        "title", "description", "default", "deprecated", "readOnly", "writeOnly", "examples",
        "format", "contentEncoding", "contentMediaType", "contentSchema"};
    static constexpr std::string_view kSchemaValued[] = {
        "not", "if", "then", "else", "contains", "additionalProperties", "propertyNames",
        "unevaluatedItems", "unevaluatedProperties", "additionalItems", "contentSchema", "items"};
    static constexpr std::string_view kSchemaMaps[] = {"$defs", "definitions", "properties",
                                                       "patternProperties", "dependentSchemas",
                                                       "dependencies"};
    static constexpr std::string_view kSchemaLists[] = {"allOf", "anyOf", "oneOf", "prefixItems",
                                                        "items"};
    // Deeper schemas are bounded by the parser's depth limit already; this only stops the
    // walk from recursing further than the document itself can nest.
    if (depth > 128) return;
    const bj::object* o = schema.if_object();
    if (o == nullptr) return;
    for (const auto& kv : *o) {
      const std::string at = json::PointerAppend(path, kv.key());
      if (!OneOf(kv.key(), kKeywords)) {
        Fail(at, "unknown JSON Schema keyword '" + json::Excerpt(kv.key()) + "'");
        continue;
      }
      const bj::value& v = kv.value();
      if (OneOf(kv.key(), kSchemaValued) && (v.is_object() || v.is_bool())) {
        CheckSchemaKeywords(v, at, depth + 1);
      } else if (OneOf(kv.key(), kSchemaLists) && v.is_array()) {
        for (size_t i = 0; i < v.get_array().size(); ++i) {
          CheckSchemaKeywords(v.get_array()[i], json::PointerAppend(at, i), depth + 1);
        }
      } else if (OneOf(kv.key(), kSchemaMaps) && v.is_object()) {
        for (const auto& member : v.get_object()) {
          // dependencies: a member may be a list of names (draft-07) rather than a schema.
          CheckSchemaKeywords(member.value(), json::PointerAppend(at, member.key()), depth + 1);
        }
      }
    }
  }

  // security.md 4: public workflows need a strict inputs schema.
  void LintPublicInputs(const Workflow& wf) {
    const bj::object* s = wf.inputs_schema.if_object();
    if (!s) {
      Fail("/inputs", "a public workflow needs an inputs schema");
      return;
    }
    const bj::value* ap = s->if_contains("additionalProperties");
    if (!ap || !ap->is_bool() || ap->get_bool()) {
      Fail("/inputs", "a public workflow's inputs schema needs additionalProperties: false");
    }
    if (const bj::value* props = s->if_contains("properties"); props && props->is_object()) {
      for (const auto& kv : props->get_object()) {
        const bj::object* p = kv.value().if_object();
        if (!p) continue;
        const bj::value* type = p->if_contains("type");
        bool is_string = type && type->is_string() && type->get_string() == "string";
        if (is_string && !p->contains("maxLength") && !p->contains("enum") &&
            !p->contains("const") && !p->contains("format")) {
          Fail(json::PointerAppend(json::PointerAppend("/inputs/properties", kv.key()), "maxLength"),
               "a public workflow's string inputs must be bounded (maxLength, enum or format)");
        }
      }
    }
  }

  void LoadTriggers(const bj::value& v, Workflow& wf) {
    if (!v.is_array()) {
      Fail("/triggers", "triggers must be a list");
      return;
    }
    const auto& arr = v.get_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string path = json::PointerAppend("/triggers", i);
      const bj::object* t = ExpectObject(arr[i], path, "a trigger");
      if (!t) continue;
      const bj::value* type = t->if_contains("type");
      std::string_view ts = type && type->is_string() ? std::string_view(type->get_string()) : "";
      if (ts == "webhook") {
        CheckKeys(*t, path,
                  {"type", "auth", "replay_window", "max_payload", "ip_allowlist", "rate_limit",
                   "mode"});
        LoadWebhookTrigger(*t, path);
      } else if (ts == "schedule") {
        CheckKeys(*t, path, {"type", "cron"});
        const bj::value* cron = t->if_contains("cron");
        if (!cron || !cron->is_string()) {
          Fail(json::PointerAppend(path, "cron"), "a schedule trigger needs a cron string");
        } else if (auto parsed = schedule::CronSpec::Parse(cron->get_string()); !parsed.ok()) {
          // The scheduler's own parser: valid here exactly when the scheduler can read it (an
          // expression that never matches, such as `0 0 31 2 *`, is valid, as in Vixie cron).
          Fail(json::PointerAppend(path, "cron"), parsed.error().message);
        }
      } else {
        Fail(json::PointerAppend(path, "type"), "trigger type must be webhook or schedule");
        continue;
      }
      wf.triggers.push_back({std::string(ts), arr[i]});
    }
  }

  void LoadWebhookTrigger(const bj::object& t, const std::string& path) {
    if (const bj::value* auth = t.if_contains("auth")) {
      std::string ap = json::PointerAppend(path, "auth");
      if (const bj::object* a = ExpectObject(*auth, ap, "auth")) {
        CheckKeys(*a, ap, {"type", "connector", "header", "timestamp_header"});
        const bj::value* at = a->if_contains("type");
        std::string_view ats = at && at->is_string() ? std::string_view(at->get_string()) : "";
        if (ats != "github" && ats != "standard-webhooks" && ats != "hmac-sha256" &&
            ats != "bearer") {
          Fail(json::PointerAppend(ap, "type"),
               "auth type must be one of github, standard-webhooks, hmac-sha256, bearer");
        }
        const bj::value* c = a->if_contains("connector");
        if (!c || !c->is_string() || !IsStepId(c->get_string())) {
          Fail(json::PointerAppend(ap, "connector"),
               "auth needs the id of the connector that holds the secret");
        }
        for (const char* h : {"header", "timestamp_header"}) {
          if (const bj::value* hv = a->if_contains(h); hv && (!hv->is_string() || hv->get_string().empty())) {
            Fail(json::PointerAppend(ap, h), "must be a header name");
          }
        }
      }
    } else {
      Fail(path, "a webhook trigger needs auth (unauthenticated webhooks are not allowed)");
    }
    auto bounded_int = [&](const char* key, int64_t lo, int64_t hi) {
      if (const bj::value* x = t.if_contains(key)) {
        auto n = Integer(*x);
        if (!n || *n < lo || *n > hi) {
          Fail(json::PointerAppend(path, key), "must be an integer from " + std::to_string(lo) +
                                                   " to " + std::to_string(hi));
        }
      }
    };
    bounded_int("replay_window", 1, 86400);
    bounded_int("max_payload", 1, 64 << 20);
    if (const bj::value* m = t.if_contains("mode")) {
      if (!m->is_string() || (m->get_string() != "async" && m->get_string() != "sync")) {
        Fail(json::PointerAppend(path, "mode"), "mode must be async or sync");
      }
    }
    if (const bj::value* ips = t.if_contains("ip_allowlist")) {
      std::string ip_path = json::PointerAppend(path, "ip_allowlist");
      if (auto list = StringList(*ips, ip_path)) {
        for (size_t i = 0; i < list->size(); ++i) {
          if (!ValidCidr((*list)[i])) {
            Fail(json::PointerAppend(ip_path, i), "not an IPv4 or IPv6 CIDR");
          }
        }
      }
    }
    if (const bj::value* rl = t.if_contains("rate_limit")) {
      std::string rp = json::PointerAppend(path, "rate_limit");
      if (const bj::object* r = ExpectObject(*rl, rp, "rate_limit")) {
        CheckKeys(*r, rp, {"rpm", "burst"});
        for (const char* k : {"rpm", "burst"}) {
          if (const bj::value* x = r->if_contains(k)) {
            auto n = Integer(*x);
            if (!n || *n < 1 || *n > 1'000'000) {
              Fail(json::PointerAppend(rp, k), "must be an integer from 1 to 1000000");
            }
          }
        }
      }
    }
  }

  static bool ValidCidr(std::string_view s) {
    size_t slash = s.find('/');
    std::string addr(s.substr(0, slash));
    int max_prefix = addr.find(':') != std::string::npos ? 128 : 32;
    unsigned char buf[16];
    if (inet_pton(max_prefix == 128 ? AF_INET6 : AF_INET, addr.c_str(), buf) != 1) return false;
    if (slash == std::string_view::npos) return true;
    std::string_view p = s.substr(slash + 1);
    if (p.empty() || p.size() > 3) return false;
    int n = 0;
    for (char c : p) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + (c - '0');
    }
    return n <= max_prefix;
  }

  void LoadAuthorization(const bj::value& v, Workflow& wf) {
    const bj::object* a = ExpectObject(v, "/authorization", "authorization");
    if (!a) return;
    CheckKeys(*a, "/authorization", {"roles", "permissions"});
    if (const bj::value* r = a->if_contains("roles")) {
      if (auto list = StringList(*r, "/authorization/roles")) {
        for (size_t i = 0; i < list->size(); ++i) {
          if (!OneOf((*list)[i], kRoles)) {
            Fail(json::PointerAppend("/authorization/roles", i), "unknown role '" + json::Excerpt((*list)[i]) + "'");
          }
        }
        wf.authorization_roles = std::move(*list);
      }
    }
    if (const bj::value* p = a->if_contains("permissions")) {
      if (auto list = StringList(*p, "/authorization/permissions")) {
        for (size_t i = 0; i < list->size(); ++i) {
          if (!OneOf((*list)[i], kPermissions)) {
            Fail(json::PointerAppend("/authorization/permissions", i),
                 "unknown permission '" + json::Excerpt((*list)[i]) + "'");
          }
        }
        wf.authorization_permissions = std::move(*list);
      }
    }
  }

  void LoadLimits(const bj::value& v, Workflow& wf) {
    const bj::object* l = ExpectObject(v, "/limits", "limits");
    if (!l) return;
    CheckKeys(*l, "/limits", {"timeout"});
    if (const bj::value* t = l->if_contains("timeout")) {
      auto n = Number(*t);
      if (!n || *n <= 0) {
        Fail("/limits/timeout", "timeout must be a positive number of seconds");
      } else if (*n > kMaxTimeoutS) {
        Fail("/limits/timeout", "timeout is at most 600 seconds", ErrorCode::kLimitExceeded);
      } else {
        wf.timeout_s = *n;
      }
    }
  }

  void LoadHooks(const bj::value& v, Workflow& wf) {
    if (!v.is_array()) {
      Fail("/hooks", "hooks must be a list");
      return;
    }
    for (size_t i = 0; i < v.get_array().size(); ++i) {
      std::string path = json::PointerAppend("/hooks", i);
      const bj::object* h = ExpectObject(v.get_array()[i], path, "a hook");
      if (!h) continue;
      CheckKeys(*h, path, {"url", "events", "secret"});
      Hook hook;
      const bj::value* url = h->if_contains("url");
      if (!url || !url->is_string() || !(url->get_string().starts_with("https://") ||
                                         url->get_string().starts_with("http://"))) {
        Fail(json::PointerAppend(path, "url"), "a hook needs an http(s) url");
      } else if (url->get_string().find("{{") != bj::string::npos) {
        // Not a template (a hook's URL is sent as written): `{{ }}` there is a mistake,
        // and `{{ secrets.x }}` the forbidden_secret_access of any other field.
        auto t = expr::Template::Compile(url->get_string(), Options());
        if (!t.ok()) {
          Fail(json::PointerAppend(path, "url"), t.error().message, t.error().code);
        } else {
          Fail(json::PointerAppend(path, "url"),
               "a hook url is a literal: expressions are not evaluated there");
        }
      } else {
        hook.url = std::string(url->get_string());
      }
      if (const bj::value* ev = h->if_contains("events")) {
        if (auto list = StringList(*ev, json::PointerAppend(path, "events"))) {
          for (size_t j = 0; j < list->size(); ++j) {
            if (!OneOf((*list)[j], kHookEvents)) {
              Fail(json::PointerAppend(json::PointerAppend(path, "events"), j),
                   "event must be one of run.succeeded, run.failed, run.awaiting_approval");
            }
          }
          hook.events = std::move(*list);
        }
      } else {
        Fail(path, "a hook needs events");
      }
      const bj::value* secret = h->if_contains("secret");
      if (!secret || !secret->is_string() || !IsStepId(secret->get_string())) {
        Fail(json::PointerAppend(path, "secret"),
             "a hook needs 'secret': the id of the webhook_secret connector that signs deliveries");
      } else {
        hook.secret = std::string(secret->get_string());
      }
      wf.hooks.push_back(std::move(hook));
    }
  }

  // Counts before compiling, so a 10 MB definition of steps is rejected cheaply and a
  // deeply nested one is rejected without recursing through it.
  void CountSteps(const bj::array& steps, size_t depth, const std::string& path) {
    if (depth > max_depth_seen_) max_depth_seen_ = depth;
    if (depth > kMaxNestingDepth) {
      if (deepest_pointer_.empty()) deepest_pointer_ = path;
      return;
    }
    for (size_t i = 0; i < steps.size(); ++i) {
      if (++total_steps_ > kMaxSteps) return;
      const bj::object* o = steps[i].if_object();
      if (!o) continue;
      for (const char* k : {"then", "else", "do"}) {
        if (const bj::value* child = o->if_contains(k); child && child->is_array()) {
          CountSteps(child->get_array(), depth + 1,
                     json::PointerAppend(json::PointerAppend(path, i), k));
        }
      }
    }
  }

  std::vector<Step> LoadSteps(const bj::array& arr, const std::string& path, size_t depth) {
    std::vector<Step> steps;
    steps.reserve(arr.size());
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string sp = json::PointerAppend(path, i);
      // Built in place: a Step is large, and moving it costs as much as a small step's checks.
      if (!LoadStep(arr[i], sp, depth, steps.emplace_back())) steps.pop_back();
    }
    return steps;
  }

  // Compile options of an expression at the current place: the names in scope there.
  expr::CompileOptions Options() const {
    expr::CompileOptions o;
    o.names = &names_;
    return o;
  }

  expr::JsonTemplate CompileTree(const bj::value& v, const std::string& path) {
    std::vector<expr::JsonTemplate::Failure> failures;
    auto t = expr::JsonTemplate::Compile(v, Options(), &failures);
    if (!t.ok()) {
      if (failures.empty()) failures.push_back({"", t.error()});
      for (auto& f : failures) Fail(path + f.pointer, f.error.message, f.error.code);
      return {};
    }
    for (const auto& id : t->ReferencedSteps()) step_refs_.push_back({id, path, &v});
    return std::move(t).value();
  }

  expr::Template CompileText(const bj::value& v, const std::string& path) {
    if (!v.is_string()) {
      Fail(path, "must be a string");
      return {};
    }
    auto t = expr::Template::Compile(v.get_string(), Options());
    if (!t.ok()) {
      Fail(path, t.error().message, t.error().code);
      return {};
    }
    for (const auto& e : t->expressions()) {
      for (const auto& id : e.referenced_steps()) step_refs_.push_back({id, path});
    }
    return std::move(t).value();
  }

  // Fills `step` (a fresh Step); false when the value cannot be a step at all.
  bool LoadStep(const bj::value& v, const std::string& path, size_t depth, Step& step) {
    const bj::object* o = ExpectObject(v, path, "a step");
    if (!o) return false;
    step.pointer = path;
    const bj::value* id = o->if_contains("id");
    if (!id || !id->is_string() || !IsStepId(id->get_string())) {
      Fail(json::PointerAppend(path, "id"), "step id must match ^[a-z_][a-z0-9_]{0,63}$");
    } else {
      step.id = std::string(id->get_string());
      auto [it, inserted] = step_ids_.emplace(step.id, path);
      if (!inserted) {
        Fail(json::PointerAppend(path, "id"),
             "duplicate step id '" + step.id + "' (first used at " + it->second + ")");
      }
    }
    if (const bj::value* name = o->if_contains("name")) {
      if (!name->is_string() || CodePoints(name->get_string()) > 200) {
        Fail(json::PointerAppend(path, "name"), "name must be a string of at most 200 characters");
      } else {
        step.name = std::string(name->get_string());
      }
    }
    const bj::value* type = o->if_contains("type");
    std::string_view ts = type && type->is_string() ? std::string_view(type->get_string()) : "";
    if (const bj::value* cond = o->if_contains("if")) {
      std::string cp = json::PointerAppend(path, "if");
      if (cond->is_bool()) {
        auto c = expr::CompileCondition(cond->get_bool() ? "true" : "false");
        if (c.ok()) step.condition = std::move(c).value();
      } else if (!cond->is_string()) {
        Fail(cp, "if must be an expression string");
      } else {
        auto c = expr::CompileCondition(cond->get_string(), Options());
        if (!c.ok()) {
          Fail(cp, c.error().message, c.error().code);
        } else {
          for (const auto& rid : c->referenced_steps()) step_refs_.push_back({rid, cp});
          step.condition = std::move(c).value();
        }
      }
    }
    auto require = [&](const char* key) -> const bj::value* {
      const bj::value* x = o->if_contains(key);
      if (!x) Fail(path, "a " + std::string(ts) + " step needs '" + key + "'");
      return x;
    };
    auto child = [&](const char* key) { return json::PointerAppend(path, key); };

    if (ts == "set") {
      step.type = StepType::kSet;
      CheckKeys(*o, path, {"id", "type", "name", "if", "values"});
      if (const bj::value* values = require("values")) {
        if (ExpectObject(*values, child("values"), "values")) {
          step.values = CompileTree(*values, child("values"));
        }
      }
    } else if (ts == "branch") {
      step.type = StepType::kBranch;
      CheckKeys(*o, path, {"id", "type", "name", "if", "then", "else"});
      require("if");
      if (const bj::value* t = o->if_contains("then")) {
        if (!t->is_array()) {
          Fail(child("then"), "then must be a list of steps");
        } else {
          step.then_steps = LoadSteps(t->get_array(), child("then"), depth + 1);
        }
      }
      if (const bj::value* e = o->if_contains("else")) {
        if (!e->is_array()) {
          Fail(child("else"), "else must be a list of steps");
        } else {
          step.else_steps = LoadSteps(e->get_array(), child("else"), depth + 1);
        }
      }
      if (!o->contains("then") && !o->contains("else")) {
        Fail(path, "a branch step needs 'then' or 'else'");
      }
    } else if (ts == "for_each") {
      step.type = StepType::kForEach;
      CheckKeys(*o, path, {"id", "type", "name", "if", "items", "as", "do"});
      if (const bj::value* items = require("items")) {
        if (!items->is_string() && !items->is_array()) {
          Fail(child("items"), "items must be an expression or a list");
        } else {
          step.items = CompileTree(*items, child("items"));
        }
      }
      if (const bj::value* as = o->if_contains("as")) {
        if (!as->is_string() || !IsStepId(as->get_string()) ||
            OneOf(as->get_string(), kReservedNames)) {
          Fail(child("as"), "as must be a name (^[a-z_][a-z0-9_]{0,63}$) that is not reserved");
        } else {
          step.as = std::string(as->get_string());
        }
      }
      if (const bj::value* d = require("do")) {
        if (!d->is_array() || d->get_array().empty()) {
          Fail(child("do"), "do must be a non-empty list of steps");
        } else {
          // Inside the loop its element (the `as` name, default item) and index are in scope.
          const size_t outer = names_.size();
          names_.push_back(step.as);
          names_.push_back("index");
          step.do_steps = LoadSteps(d->get_array(), child("do"), depth + 1);
          names_.resize(outer);
        }
      }
    } else if (ts == "action") {
      step.type = StepType::kAction;
      CheckKeys(*o, path, {"id", "type", "name", "if", "uses", "connector", "with", "retry", "timeout"});
      if (const bj::value* uses = require("uses")) {
        if (!uses->is_string() || !OneOf(uses->get_string(), kKnownActions)) {
          Fail(child("uses"),
               "unknown action; built-in actions are http.request, webhook.send, db.query, "
               "log.write, wallet.sign");
        } else {
          step.uses = std::string(uses->get_string());
        }
      }
      if (const bj::value* c = o->if_contains("connector")) {
        if (!c->is_string() || !IsStepId(c->get_string())) {
          Fail(child("connector"), "connector must be a connector id");
        } else {
          step.connector = std::string(c->get_string());
        }
      }
      const ActionArgKeys* arg_keys = BuiltinActionArgKeys(step.uses);
      if (const bj::value* w = o->if_contains("with")) {
        if (ExpectObject(*w, child("with"), "with")) {
          if (arg_keys != nullptr) CheckActionArgKeys(w->get_object(), child("with"), step.uses, *arg_keys);
          if (step.uses == "db.query") LintDbQuery(w->get_object(), child("with"));
          if (step.uses == "http.request" || step.uses == "webhook.send") {
            LintDestination(w->get_object(), child("with"));
          }
          step.with = CompileTree(*w, child("with"));
        }
      } else if (arg_keys != nullptr) {
        // No `with` at all: every required key is missing (reported at the step).
        CheckActionArgKeys(bj::object(), path, step.uses, *arg_keys);
      }
      if (const bj::value* r = o->if_contains("retry")) {
        std::string rp = child("retry");
        if (const bj::object* ro = ExpectObject(*r, rp, "retry")) {
          CheckKeys(*ro, rp, {"max_attempts", "backoff_s"});
          if (const bj::value* m = ro->if_contains("max_attempts")) {
            auto n = Integer(*m);
            if (!n || *n < 1 || *n > 10) {
              Fail(json::PointerAppend(rp, "max_attempts"), "max_attempts must be an integer from 1 to 10");
            } else {
              step.retry.max_attempts = static_cast<int>(*n);
            }
          }
          if (const bj::value* b = ro->if_contains("backoff_s")) {
            auto n = Number(*b);
            if (!n || *n < 0 || *n > 300) {
              Fail(json::PointerAppend(rp, "backoff_s"), "backoff_s must be a number from 0 to 300");
            } else {
              step.retry.backoff_s = *n;
            }
          }
        }
      }
      LoadStepTimeout(*o, path, step);
    } else if (ts == "workflow") {
      step.type = StepType::kWorkflow;
      CheckKeys(*o, path, {"id", "type", "name", "if", "workflow", "with"});
      if (const bj::value* w = require("workflow")) {
        if (!w->is_string() || !IsWorkflowId(w->get_string())) {
          Fail(child("workflow"), "workflow must be a workflow id");
        } else {
          step.workflow = std::string(w->get_string());
        }
      }
      if (const bj::value* w = o->if_contains("with")) {
        if (ExpectObject(*w, child("with"), "with")) step.with = CompileTree(*w, child("with"));
      }
    } else if (ts == "approval") {
      step.type = StepType::kApproval;
      CheckKeys(*o, path, {"id", "type", "name", "if", "approvers", "timeout", "on_timeout"});
      if (const bj::value* a = require("approvers")) {
        std::string ap = child("approvers");
        if (const bj::object* ao = ExpectObject(*a, ap, "approvers")) {
          CheckKeys(*ao, ap, {"roles", "users", "count"});
          if (const bj::value* r = ao->if_contains("roles")) {
            if (auto l = StringList(*r, json::PointerAppend(ap, "roles"))) {
              for (size_t i = 0; i < l->size(); ++i) {
                if (!OneOf((*l)[i], kRoles)) {
                  Fail(json::PointerAppend(json::PointerAppend(ap, "roles"), i), "unknown role");
                }
              }
              step.approvers.roles = std::move(*l);
            }
          }
          if (const bj::value* u = ao->if_contains("users")) {
            if (auto l = StringList(*u, json::PointerAppend(ap, "users"))) step.approvers.users = std::move(*l);
          }
          if (step.approvers.roles.empty() && step.approvers.users.empty()) {
            Fail(ap, "approvers needs roles or users");
          }
          if (const bj::value* c = ao->if_contains("count")) {
            auto n = Integer(*c);
            if (!n || *n < 1 || *n > 100) {
              Fail(json::PointerAppend(ap, "count"), "count must be an integer from 1 to 100");
            } else {
              step.approvers.count = static_cast<int>(*n);
            }
          }
        }
      }
      LoadStepTimeout(*o, path, step);
      if (const bj::value* ot = o->if_contains("on_timeout")) {
        if (ot->is_string() && ot->get_string() == "fail") {
          step.on_timeout = OnTimeout::kFail;
        } else if (ot->is_string() && ot->get_string() == "skip") {
          step.on_timeout = OnTimeout::kSkip;
        } else {
          Fail(child("on_timeout"), "on_timeout must be fail or skip");
        }
      }
    } else if (ts == "fail") {
      step.type = StepType::kFail;
      CheckKeys(*o, path, {"id", "type", "name", "if", "message"});
      if (const bj::value* m = require("message")) step.message = CompileText(*m, child("message"));
    } else if (ts == "respond") {
      step.type = StepType::kRespond;
      CheckKeys(*o, path, {"id", "type", "name", "if", "status", "body"});
      if (const bj::value* s = require("status")) {
        auto n = Integer(*s);
        if (!n || *n < 100 || *n > 599) {
          Fail(child("status"), "status must be an HTTP status code (100-599)");
        } else {
          step.status = static_cast<int>(*n);
        }
      }
      if (const bj::value* b = o->if_contains("body")) step.body = CompileTree(*b, child("body"));
    } else {
      Fail(type ? child("type") : path,
           type ? "unknown step type; expected set, branch, for_each, action, workflow, approval, "
                  "fail or respond"
                : "a step needs 'type'");
      return false;
    }
    return true;
  }

  void LoadStepTimeout(const bj::object& o, const std::string& path, Step& step) {
    if (const bj::value* t = o.if_contains("timeout")) {
      auto n = Number(*t);
      if (!n || *n <= 0 || *n > (step.type == StepType::kApproval ? 30 * 86400 : kMaxTimeoutS)) {
        Fail(json::PointerAppend(path, "timeout"),
             step.type == StepType::kApproval
                 ? "timeout must be a positive number of seconds, at most 30 days"
                 : "timeout must be a positive number of seconds, at most 600");
      } else {
        step.timeout_s = *n;
      }
    }
  }

  // Keys only: a value may be an expression, known at run time, where the action's
  // schema checks it.
  void CheckActionArgKeys(const bj::object& with, const std::string& path, std::string_view uses,
                          const ActionArgKeys& keys) {
    for (const auto& kv : with) {
      if (std::find(keys.allowed.begin(), keys.allowed.end(), kv.key()) != keys.allowed.end()) {
        continue;
      }
      std::string known;
      for (auto k : keys.allowed) known += (known.empty() ? "" : ", ") + std::string(k);
      Fail(json::PointerAppend(path, kv.key()), "unknown key '" + json::Excerpt(kv.key()) +
                                                    "' for " + std::string(uses) + "; its keys are " + known);
    }
    for (auto k : keys.required) {
      if (!with.contains(k)) Fail(path, std::string(uses) + " needs '" + std::string(k) + "' in with");
    }
  }

  // security.md 5: the SQL text of db.query is a literal; values go through parameters.
  void LintDbQuery(const bj::object& with, const std::string& path) {
    const bj::value* sql = with.if_contains("sql");
    if (sql && !sql->is_string()) {
      Fail(json::PointerAppend(path, "sql"), "db.query sql must be a literal string");
    } else if (sql && sql->get_string().find("{{") != bj::string::npos) {
      Fail(json::PointerAppend(path, "sql"),
           "db.query sql must be a literal; pass values through params");
    }
  }

  // security.md 5 (lint, a warning): an outbound call whose destination host comes from
  // the run's input or trigger can be pointed anywhere public by whoever starts the run;
  // the SSRF guard still blocks internal ranges, but only a domain allowlist stops
  // exfiltration to an attacker's host.
  void LintDestination(const bj::object& with, const std::string& path) {
    const bj::value* url = with.if_contains("url");
    if (url == nullptr || !url->is_string()) return;
    std::string_view text = url->get_string();
    size_t open = text.find("{{");
    if (open == std::string_view::npos) return;
    size_t scheme = text.find("://");
    size_t host_end = scheme == std::string_view::npos ? 0 : text.find('/', scheme + 3);
    // A template before the path (or a whole-URL template) decides the host.
    bool in_host = scheme == std::string_view::npos || open < host_end;
    std::string_view expression = text.substr(open);
    bool from_caller = expression.find("inputs") != std::string_view::npos ||
                       expression.find("trigger") != std::string_view::npos;
    if (in_host && from_caller) {
      Warn(json::PointerAppend(path, "url"),
           "the destination host comes from the run's input; restrict it with an egress "
           "allow_domains list on the connector or in the configuration");
    }
  }

  void ResolveStepReferences() {
    for (const auto& [id, path, tree] : step_refs_) {
      if (!step_ids_.contains(id)) {
        std::string pointer = path;
        if (tree != nullptr) FindReference(*tree, id, path, pointer);
        Fail(std::move(pointer), "reference to unknown step '" + json::Excerpt(id) + "'");
      }
    }
  }

  // The pointer of the first string of `tree` (at `path`) whose expressions reference
  // step `id`. Only on the error path: the tree compiled once already, without pointers.
  static bool FindReference(const bj::value& tree, const std::string& id, const std::string& path,
                            std::string& pointer) {
    if (const bj::string* s = tree.if_string()) {
      auto t = expr::Template::Compile(*s);
      if (!t.ok()) return false;
      for (const auto& e : t->expressions()) {
        for (const auto& rid : e.referenced_steps()) {
          if (rid == id) {
            pointer = path;
            return true;
          }
        }
      }
    } else if (const bj::array* a = tree.if_array()) {
      for (size_t i = 0; i < a->size(); ++i) {
        if (FindReference((*a)[i], id, json::PointerAppend(path, i), pointer)) return true;
      }
    } else if (const bj::object* o = tree.if_object()) {
      for (const auto& kv : *o) {
        if (FindReference(kv.value(), id, json::PointerAppend(path, kv.key()), pointer)) return true;
      }
    }
    return false;
  }

  std::vector<DefinitionError> errors_;
  std::vector<DefinitionError> warnings_;
  std::unordered_map<std::string, std::string> step_ids_;  // id -> pointer of first use
  struct StepRef {
    std::string id;
    std::string pointer;           // of the expression, or of the tree holding it
    const bj::value* tree = nullptr;  // that tree (in the document being loaded), if any
  };
  std::vector<StepRef> step_refs_;
  // Root names expressions may read here (spec/expressions.md "Names in scope"); for_each
  // pushes its element name and `index` while its `do` list loads.
  std::vector<std::string> names_ = {"inputs", "steps", "trigger", "run"};
  size_t total_steps_ = 0;
  size_t max_depth_seen_ = 0;
  std::string deepest_pointer_;
};

}  // namespace

const ActionArgKeys* BuiltinActionArgKeys(std::string_view uses) {
  static const std::pair<std::string_view, ActionArgKeys> kTable[] = {
      {"http.request",
       {{"method", "url", "query", "headers", "json", "body", "timeout", "max_response_bytes",
         "allow_http", "fail_on_status", "follow_redirects"},
        {"url"}}},
      {"webhook.send",
       {{"url", "payload", "id", "headers", "timeout", "max_response_bytes", "allow_http"},
        {"url", "payload"}}},
      {"db.query", {{"sql", "params", "max_rows", "timeout"}, {"sql"}}},
      {"log.write", {{"message", "level", "fields"}, {"message"}}},
  };
  for (const auto& [name, keys] : kTable) {
    if (name == uses) return &keys;
  }
  return nullptr;
}

LoadResult LoadDefinitionValue(bj::value document) { return Loader().Load(std::move(document)); }

LoadResult LoadDefinition(std::string_view text, Format format) {
  LoadResult result;
  if (text.size() > kMaxDefinitionBytes) {
    result.errors.push_back({"", ErrorCode::kInvalidDefinition,
                             "definition is " + std::to_string(text.size()) +
                                 " bytes; the limit is 1 MiB"});
    return result;
  }
  const bool guessed_json = format == Format::kAuto;
  if (format == Format::kAuto) {
    size_t i = text.find_first_not_of(" \t\r\n");
    format = i != std::string_view::npos && text[i] == '{' ? Format::kJson : Format::kYaml;
  }
  Result<bj::value> doc = format == Format::kJson
                              ? json::Parse(text, {.max_bytes = kMaxDefinitionBytes,
                                                      .max_depth = 128,
                                                      .reject_duplicate_keys = true})
                              : YamlToJson(text);
  if (!doc.ok() && guessed_json && format == Format::kJson &&
      doc.error().code == ErrorCode::kInvalidArgument) {
    // A YAML document in flow style starts with '{' too: YAML and JSON forms are
    // equivalent, so text that is not JSON gets its chance as YAML. A duplicate key stays
    // an error (the YAML reader rejects it as well); when neither reads it, the JSON
    // error is the one reported, since the text looked like JSON.
    auto yaml = YamlToJson(text);
    if (yaml.ok()) doc = std::move(yaml);
  }
  if (!doc.ok()) {
    ErrorCode code = doc.error().code == ErrorCode::kLimitExceeded ? ErrorCode::kLimitExceeded
                                                                   : ErrorCode::kInvalidDefinition;
    result.errors.push_back({"", code, doc.error().message});
    return result;
  }
  return LoadDefinitionValue(std::move(doc).value());
}

std::string_view StepTypeName(StepType type) {
  switch (type) {
    case StepType::kSet: return "set";
    case StepType::kBranch: return "branch";
    case StepType::kForEach: return "for_each";
    case StepType::kAction: return "action";
    case StepType::kWorkflow: return "workflow";
    case StepType::kApproval: return "approval";
    case StepType::kFail: return "fail";
    case StepType::kRespond: return "respond";
  }
  return "set";
}

bool StepTypeIsSideEffectFree(StepType type) {
  switch (type) {
    case StepType::kSet:
    case StepType::kBranch:
    case StepType::kForEach:
    case StepType::kFail:
    case StepType::kRespond:
      return true;
    case StepType::kAction:
    case StepType::kWorkflow:
    case StepType::kApproval:
      return false;
  }
  return false;  // a type added later is not side-effect free until it is listed above
}

bool StepsAreSideEffectFree(const std::vector<Step>& steps) {
  for (const Step& step : steps) {
    if (!StepTypeIsSideEffectFree(step.type) || !StepsAreSideEffectFree(step.then_steps) ||
        !StepsAreSideEffectFree(step.else_steps) || !StepsAreSideEffectFree(step.do_steps)) {
      return false;
    }
  }
  return true;
}

bool HasScheduleTrigger(const Workflow& w) {
  return std::any_of(w.triggers.begin(), w.triggers.end(),
                     [](const Trigger& t) { return t.type == "schedule"; });
}

std::string_view VisibilityName(Visibility v) {
  switch (v) {
    case Visibility::kPrivate: return "private";
    case Visibility::kOrg: return "org";
    case Visibility::kPublic: return "public";
  }
  return "private";
}

}  // namespace rampart::model
