#include "rampart/api/api.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cctype>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/common.h"
#include "api/connectors.h"
#include "api/support_grants.h"
#include "rampart/api/accounts.h"
#include "rampart/audit/chain.h"
#include "rampart/core/ascii.h"
#include "rampart/auth/support_grant.h"
#include "rampart/core/json.h"
#include "rampart/core/worker_pool.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/password.h"
#include "rampart/crypto/tokens.h"
#include "rampart/model/workflow.h"
#include "rampart/net/egress.h"
#include "rampart/runs/approvals.h"
#include "rampart/server/http.h"

namespace rampart::api {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;
using server::Request;
using server::Response;
using Permission = auth::Permission;

constexpr std::string_view kSetupTokenHashKey = "setup.token_hash";
constexpr std::string_view kSetupTokenExpiresKey = "setup.expires_at";
constexpr size_t kMaxNameLength = 200;
constexpr size_t kMaxEmailLength = 254;
// Logins waiting for a password worker beyond those being checked; more are refused (429).
constexpr size_t kPasswordBacklog = 32;

// Who may call a route, before its permission.
enum class Access {
  kNone,           // anyone (health, OpenAPI, public workflows, login)
  kSetupToken,     // POST /v1/setup: the body carries the token
  kAuthenticated,  // any valid credential, no org
  kOrg,            // a member of the path's {org}, with the route's permission
  kOperator,       // the server operator: the master key (spec/security.md), no org
};

bool NeedsCredentials(Access access) {
  return access == Access::kAuthenticated || access == Access::kOrg ||
         access == Access::kOperator;
}

bool IsStateChanging(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

bool ValidEmail(std::string_view email) {
  size_t at = email.find('@');
  if (at == 0 || at == std::string_view::npos || at != email.rfind('@') ||
      at + 1 >= email.size() || email.size() > kMaxEmailLength) {
    return false;
  }
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '<' || c == '>' || c == '"') return false;
  }
  return email.find('.', at) != std::string_view::npos;
}

std::string SlugFrom(std::string_view name) {
  std::string slug;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      slug += static_cast<char>(std::tolower(u));
    } else if (!slug.empty() && slug.back() != '-') {
      slug += '-';
    }
    if (slug.size() >= 48) break;
  }
  while (!slug.empty() && slug.back() == '-') slug.pop_back();
  return slug.empty() ? std::string("org") : slug;
}

// A submission the run service refused: its stored-run quota (kLimitExceeded) answers
// 409 conflict like the other quotas, with the same message; anything else as it is.
Error RunRefusal(const Error& error) {
  if (error.code != ErrorCode::kLimitExceeded) return error;
  return MakeError(ErrorCode::kConflict, error.message);
}

// Idempotency-Key of POST .../runs: how long a key answers for the run it started.
constexpr store::Millis kIdempotencyKeyLifetimeMs = 24LL * 60 * 60 * 1000;
constexpr size_t kMaxIdempotencyKeyLength = 255;
// Keys past their lifetime are pruned lazily by the commits of keyed runs: at most this
// many per commit, at most once per this many milliseconds (per process).
constexpr int kIdempotencyPruneBatch = 100;
constexpr store::Millis kIdempotencyPruneEveryMs = 60'000;

// The request's Idempotency-Key: nullopt without one; kInvalidArgument unless it is one
// header line of 1..255 visible ASCII characters (0x21-0x7E).
Result<std::optional<std::string_view>> IdempotencyKeyOf(const Request& request) {
  std::optional<std::string_view> key;
  for (const auto& [name, value] : request.headers) {
    if (name.size() != 15 || !EqualsIgnoreCase(name, "Idempotency-Key")) continue;
    if (key.has_value()) {
      return MakeError(ErrorCode::kInvalidArgument, "Idempotency-Key must be sent once");
    }
    key = value;
  }
  if (!key.has_value()) return key;
  const bool visible = std::all_of(key->begin(), key->end(),
                                   [](char c) { return c >= 0x21 && c <= 0x7E; });
  if (key->empty() || key->size() > kMaxIdempotencyKeyLength || !visible) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "Idempotency-Key must be 1 to 255 visible ASCII characters");
  }
  return key;
}

// Whose key it is: the same key of two principals (or orgs) names unrelated requests.
// A user's sessions and JWTs are the user; the master key is one principal whoever it
// acts as.
std::string IdempotencyPrincipal(const auth::Principal& principal) {
  switch (principal.kind) {
    case auth::Principal::Kind::kApiKey:
      return "key:" + principal.api_key_id;
    case auth::Principal::Kind::kMasterKey:
      return "master";
    case auth::Principal::Kind::kSupportGrant:
      return "grant:" + principal.support_grant_id;
    case auth::Principal::Kind::kSession:
    case auth::Principal::Kind::kJwt:
      break;
  }
  return "user:" + principal.user_id;
}

// What a repeat must match: the workflow id and the request body's bytes.
std::string IdempotencyRequestHash(std::string_view workflow_id, std::string_view body) {
  std::string text;
  text.reserve(workflow_id.size() + 1 + body.size());
  text.append(workflow_id).push_back('\0');
  text.append(body);
  return crypto::Sha256Hex(text);
}

Response Replayed(Response response) {
  response.headers.emplace_back("Idempotent-Replayed", "true");
  return response;
}

// A public run's refusal: input validation errors and the org's full run quota are the
// caller's to see; nothing else is. (An error path, out of line: inlined into the
// submission's completion, g++ 12 -O3 took the Result's error for maybe-uninitialized.)
[[gnu::cold, gnu::noinline]] Error PublicRunRefusal(const Error& error) {
  if (error.code == ErrorCode::kInvalidInput) return error;
  if (error.code == ErrorCode::kLimitExceeded) {
    return MakeError(ErrorCode::kConflict, "this workflow cannot take more runs now; retry later");
  }
  return MakeError(ErrorCode::kInternal, "internal error");
}

// An invalid definition: 400 with every problem listed under error.details.
Response DefinitionErrorResponse(const std::vector<model::DefinitionError>& errors,
                                 std::string_view request_id) {
  array details;
  for (const auto& e : errors) {
    details.push_back(object{{"path", e.path}, {"code", ErrorCodeName(e.code)}, {"message", e.message}});
    if (details.size() >= 100) break;
  }
  Error first = MakeError(ErrorCode::kInvalidDefinition,
                          errors.empty() ? std::string("invalid definition")
                                         : errors.front().path + ": " + errors.front().message);
  Response response = server::ErrorResponse(first, request_id);
  auto parsed = json::Parse(response.body);
  if (parsed.ok()) {
    parsed->as_object()["error"].as_object()["details"] = std::move(details);
    response.body = json::Serialize(*parsed);
  }
  return response;
}

// The routes whose commit can change what a trigger URL resolves to: its token, its
// workflow's live version (and so the trigger's auth, limits and inputs), the workflow
// itself, or the connector holding its secret.
bool ChangesTriggers(std::string_view operation_id) {
  static constexpr std::string_view kOperations[] = {
      "rotateWebhook", "deleteWebhook",   "publishWorkflow", "deleteWorkflow",
      "updateWorkflow", "updateConnector", "deleteConnector", "createConnector"};
  return std::find(std::begin(kOperations), std::end(kOperations), operation_id) !=
         std::end(kOperations);
}

// The routes a session may call while its user must change their password (someone else
// chose it): change it, log out, list their orgs.
bool AllowedBeforePasswordChange(std::string_view operation_id) {
  return operation_id == "changePassword" || operation_id == "logout" ||
         operation_id == "listOrgs";
}

// The routes whose body is not an object of allowlisted fields: a workflow definition, or
// the payload of a trigger URL or a public workflow. Every other route checks its body
// against its allowlist, an empty one included: a field a route does not take is a 400,
// never silently ignored (spec/interfaces.md).
bool TakesOwnBody(std::string_view operation_id) {
  static constexpr std::string_view kOperations[] = {"createWorkflow", "updateWorkflow",
                                                     "receiveWebhook", "runPublicWorkflow"};
  return std::find(std::begin(kOperations), std::end(kOperations), operation_id) !=
         std::end(kOperations);
}

// The only routes a support grant may call (on its own org): the diagnostics
// (spec/security.md section 2). On every other route a grant is refused.
bool SupportGrantMayCall(std::string_view operation_id) {
  return operation_id == "getDiagnostics" || operation_id == "getDiagnosticsLogs";
}

// The 2xx statuses a route answers (its OpenAPI responses), the first the usual one.
// The query parameters a route reads (for /v1/openapi.json): every list takes limit and
// cursor.
std::vector<std::string> QueryParameters(std::string_view operation_id) {
  static const std::pair<std::string_view, std::vector<std::string>> kParameters[] = {
      {"listOrgs", {"limit", "cursor"}},
      {"listSupportGrants", {"limit", "cursor"}},
      {"getDiagnosticsLogs", {"limit"}},
      {"listMembers", {"limit", "cursor"}},
      {"listApiKeys", {"limit", "cursor"}},
      {"listWorkflows", {"limit", "cursor"}},
      {"getWorkflow", {"version"}},
      {"listWorkflowVersions", {"limit", "cursor"}},
      {"listRuns", {"workflow", "status", "limit", "cursor"}},
      {"listRunHooks", {"limit", "cursor"}},
      {"listAudit", {"after", "limit", "cursor"}},
      {"listConnectors", {"due", "limit", "cursor"}},
      {"listWebhooks", {"limit", "cursor"}},
  };
  for (const auto& [operation, parameters] : kParameters) {
    if (operation == operation_id) return parameters;
  }
  return {};
}

// The audit list's cursor: this prefix and the last event's seq (base64url, opaque).
constexpr std::string_view kAuditCursorPrefix = "audit:";

std::vector<int> SuccessStatuses(std::string_view operation_id) {
  static const std::pair<std::string_view, std::vector<int>> kStatuses[] = {
      {"setup", {201}},
      {"addMember", {201}},
      {"createApiKey", {201}},
      {"createWorkflow", {201}},
      {"createConnector", {201}},
      {"createWebhook", {201}},
      {"createSupportGrant", {201}},
      {"revokeSupportGrant", {204}},
      // 202 {run_id}, or 200 with the run record when it finished within `wait`.
      {"startRun", {202, 200}},
      {"cancelRun", {202}},
      {"redeliverRunHooks", {202}},
      // 202 {run_id}, or the respond step's answer for a sync trigger.
      {"receiveWebhook", {202, 200}},
      // 200 with the outcome, or 202 when the run did not finish in time.
      {"runPublicWorkflow", {200, 202}},
  };
  for (const auto& [operation, statuses] : kStatuses) {
    if (operation == operation_id) return statuses;
  }
  return {200};
}

// The workflow ids of the `workflow` steps of `steps` and of their nested lists.
void CollectCalledWorkflows(const std::vector<model::Step>& steps, std::vector<std::string>* ids) {
  for (const model::Step& step : steps) {
    if (step.type == model::StepType::kWorkflow) ids->push_back(step.workflow);
    CollectCalledWorkflows(step.then_steps, ids);
    CollectCalledWorkflows(step.else_steps, ids);
    CollectCalledWorkflows(step.do_steps, ids);
  }
}


}  // namespace

using internal::Reply;

// One request in flight: the principal and org access established for it, the parsed
// body, and the transaction it runs in.
struct Call {
  explicit Call(Request& r) : request(r) {}
  Request& request;
  store::Tx* tx = nullptr;
  auth::Principal principal;
  std::optional<auth::OrgAccess> access;
  object body;
  // Work to do after the transaction ended (submitting a run, waiting for its outcome):
  // it answers through the Reply, at once or later from another thread. Only routes
  // without a write transaction use it, so it starts on the io thread (a write route's
  // completion runs on the store's writer thread, where nothing may block on a commit).
  std::function<void(Reply)> deferred;
  // The request's Responder, for a deferred wait to end when the client goes away
  // (EndWaitIfClientGone).
  server::Responder client;
  // Runs once the transaction committed (in-memory effects of a durable change; on the
  // store's writer thread for write routes: it must not wait for a commit).
  std::function<void()> after_commit;
  // Definition errors to answer with their details.
  std::vector<model::DefinitionError> definition_errors;
  // The orgs of the user a login (or a password change) named: its audit events (success
  // or failure) go to each.
  std::vector<std::string> login_orgs;
  // The event a failed authentication of this request is audited as, when it is not the
  // generic auth.failed (a wrong current password: auth.password_change, failure).
  std::optional<store::AuditEvent> auth_failure_event;
  // The path's {org} when the caller is not a member of it (answered 404, audited as a
  // denied authorization).
  std::optional<std::string> org_denied;
  // The principal was over its request rate (answered 429 at once, with Retry-After
  // `retry_after` seconds; never audited, never logged).
  bool rate_limited = false;
  int retry_after = 0;

  const std::string& org_id() const { return access->org.id; }

  // An audit event of this request (actor, org, source) for `action` on `target`.
  store::AuditEvent Event(std::string_view action, std::string_view target, object details = {},
                          std::string_view outcome = "success") const {
    store::AuditEvent event;
    event.org_id = access.has_value() ? access->org.id : std::string();
    event.actor = principal.user_id.empty() && principal.support_grant_id.empty()
                      ? std::string("anonymous")
                      : principal.Actor();
    event.action = action;
    event.target = target;
    event.outcome = outcome;
    event.source_ip = request.remote_ip;
    event.user_agent = AuditText(request.Header("user-agent").value_or(""), 200);
    event.details = json::Serialize(details);
    event.time = time_ms;
    return event;
  }

  // Appends an audit event in the request's transaction (write routes only).
  Status Audit(std::string_view action, std::string_view target, object details = {},
               std::string_view outcome = "success") {
    auto appended = tx->AppendAudit(Event(action, target, std::move(details), outcome));
    if (!appended.ok()) return appended.error();
    return Status::Ok();
  }

  store::Millis time_ms = 0;
};

using Handler = std::function<Result<Response>(Call&)>;

struct RouteSpec {
  const char* method;
  const char* pattern;
  const char* operation_id;
  const char* summary;
  Access access;
  std::optional<Permission> permission;
  bool write;  // runs in a write transaction
  std::vector<std::string> fields;  // body allowlist ({} = no JSON body)
  size_t max_body;
  Handler handler;
};

class Api::Impl {
 public:
  Impl(ApiDeps deps, ApiOptions options)
      : deps_(deps),
        options_(options),
        auth_failures_(options.auth_failures_per_minute),
        authz_denials_(options.auth_failures_per_minute),
        definition_refusals_(options.definition_refusal_audits_per_minute),
        public_requests_(options.public_requests_per_minute),
        principal_requests_(options.api_rpm, options.api_burst),
        webhooks_(internal::NewWebhookReceiver(deps, options)) {}

  // Write jobs queued by this object refer to it (`this`, the route table) from their
  // transaction body and their completion, which the store's writer thread runs later;
  // left to run after the members are freed they would read freed memory (a race of the
  // writer thread with this destructor). So: first the password workers run what they
  // still hold (each queues its session commit), then one empty write, queued after every
  // job of this object, returns only once the writer thread has run all of them (the
  // store runs jobs and completions in queue order). The server and the run service are
  // stopped before the Api is destroyed (see api.h), so nothing queues new ones.
  ~Impl() {
    password_work_.reset();
    (void)deps_.store->Write([](store::Tx&) { return Status::Ok(); });
  }

  std::vector<std::pair<std::string, int64_t>> WebhookOutcomes() const {
    return internal::WebhookOutcomeCounts(*webhooks_);
  }

  void RegisterRoutes(server::Router& router);

 private:
  // Answers `request` through `responder`: checks, the handler in its transaction, then
  // its deferred work, without blocking on a commit or a run.
  void Dispatch(const RouteSpec& spec, Request& request, server::Responder responder);
  // Authenticates, authorizes, parses the body and runs the handler in the route's
  // transaction (a write is group-committed); `next` gets the handler's answer once the
  // transaction ended (durable for write routes).
  void RunInStore(const RouteSpec& spec, const std::shared_ptr<Call>& call, Reply next);
  // After the transaction: cache invalidation, after_commit, the deferred work, then
  // the answer.
  void Finish(const RouteSpec& spec, const std::shared_ptr<Call>& call,
              Result<Response> response, const server::Responder& responder);
  // Audits a failed authentication (unless this source was audited enough this minute),
  // in each org of `call.login_orgs` or else without an org, then calls `then` once the
  // event is durable.
  void RecordAuthFailure(const Call& call, std::string_view reason, std::function<void()> then);
  // Audits a denied authorization (a 403, or the 404 of an org the caller is not a member
  // of) unless this source was audited enough this minute, then calls `then` once the
  // event is durable. Never changes the answer.
  // A definition refused with forbidden_secret_access: audited as definition.refused
  // (the error paths and codes, never the definition), sampled per org; then `then`.
  void RecordDefinitionRefusal(const Call& call, std::string_view operation,
                               std::function<void()> then);
  void RecordAuthzDenial(const Call& call, std::string_view operation, const Error& error,
                         std::function<void()> then);
  // Records the use of an API key (last_used_at) or session (last_seen_at, which the
  // idle expiry reads) when due, then calls `then` (at once when nothing is due): the
  // answer leaves once the use is durable, so what the caller reads next agrees with it.
  void TouchCredentials(const auth::Principal& principal, std::function<void()> then);
  // Audits a use of a support grant (every request it authenticated, allowed or refused)
  // in the grant's org, then calls `then` with the append's status once it is durable.
  void RecordSupportGrantUse(const Call& call, std::string_view operation, int status,
                             std::function<void(Status)> then);
  // A failed request of an org the caller was authorized for goes to the server log (the
  // operation and error code only), where the org's diagnostics read it.
  void LogRequestFailure(const Call& call, std::string_view operation, const Error& error);
  // Takes a token of the authenticated principal's bucket (its API key, support grant or
  // user); false (and call.rate_limited, call.retry_after set) when it has none left.
  bool TakeRequestToken(Call& call);
  store::Millis Now() const { return UnixMillis(deps_.clock->Now()); }
  // A new session of `user_id` from `time_ms`: the row to insert, and the response (200,
  // its CSRF token and `user`) that sets its cookie. The token is in the cookie only.
  std::pair<store::Session, Response> NewSession(const store::User& user, store::Millis time_ms);
  // Runs `task` (an Argon2id hash or check) on the password workers, or answers 429
  // through `reply` when their backlog is full.
  void OnPasswordWorkers(std::function<void()> task, const Reply& reply) {
    if (!password_work_->TryPost(std::move(task))) {
      reply(MakeError(ErrorCode::kRateLimited,
                      "too many password operations in progress; retry later"));
    }
  }

  // Handlers.
  Result<Response> Setup(Call& call);
  Result<Response> Login(Call& call);
  Result<Response> Logout(Call& call);
  Result<Response> ChangePassword(Call& call);
  Result<Response> ListOrgs(Call& call);
  Result<Response> GetOrg(Call& call);
  Result<Response> UpdateOrg(Call& call);
  Result<Response> ListMembers(Call& call);
  Result<Response> AddMember(Call& call);
  Result<Response> UpdateMember(Call& call);
  Result<Response> RemoveMember(Call& call);
  Result<Response> ListApiKeys(Call& call);
  Result<Response> CreateApiKey(Call& call);
  Result<Response> RevokeApiKey(Call& call);
  Result<Response> ListWorkflows(Call& call);
  Result<Response> CreateWorkflow(Call& call);
  Result<Response> GetWorkflow(Call& call);
  Result<Response> UpdateWorkflow(Call& call);
  Result<Response> DeleteWorkflow(Call& call);
  Result<Response> ListVersions(Call& call);
  Result<Response> Publish(Call& call);
  Result<Response> StartRun(Call& call);
  // A repeat of a keyed run start: the stored key's run, answered as a first request
  // with `wait_s` would be (never started again), with Idempotent-Replayed: true; 409
  // when the key was used for another request.
  Result<Response> ReplayRun(Call& call, const store::RunIdempotencyKey& stored,
                             std::string_view request_hash);
  // The answer for run `run_id` after a keyed start lost its commit to a concurrent one
  // (read outside any request transaction), through `reply`.
  void ReplayAfterLostRace(const store::RunIdempotencyKey& mine, double wait_s, Reply reply,
                           const server::Responder& client);
  // Answers a replayed run: at once when final or without wait, else after WaitAsync.
  void AnswerReplay(const store::Run& run, double wait_s, Reply reply,
                    const server::Responder& client);
  // Waits up to `wait_s` (> 0) for `run` (queued or running) to settle, then answers: 200
  // with the record when it is final, else 202 {run_id, status}; `replayed` marks each
  // answer Idempotent-Replayed. The wait ends early when `client` goes away.
  void AnswerWhenSettled(const store::Run& run, double wait_s, bool replayed, Reply reply,
                         const server::Responder& client);
  Result<Response> ListRuns(Call& call);
  Result<Response> GetRun(Call& call);
  Result<Response> CancelRun(Call& call);
  Result<Response> DecideApproval(Call& call);
  Result<Response> ListAudit(Call& call);
  Result<Response> RunPublic(Call& call);
  Result<Response> Metrics(Call& call);
  // Account lifecycle (the operator's routes).
  Result<Response> GetUser(Call& call);
  Result<Response> DisableUser(Call& call);
  Result<Response> EnableUser(Call& call);
  Result<Response> DeleteUser(Call& call);
  // Connectors (handlers in connectors.cc).
  Result<Response> ListConnectors(Call& call);
  Result<Response> GetConnector(Call& call);
  Result<Response> CreateConnector(Call& call);
  Result<Response> UpdateConnector(Call& call);
  Result<Response> DeleteConnector(Call& call);
  Result<Response> ConnectorRoute(Call& call, Permission permission,
                                  Result<Response> (*handler)(ConnectorCall&));
  // Webhooks (handlers in webhooks.cc).
  Result<Response> ListWebhooks(Call& call);
  Result<Response> CreateWebhook(Call& call);
  Result<Response> RotateWebhook(Call& call);
  Result<Response> DeleteWebhook(Call& call);
  Result<Response> ReceiveHook(Call& call);
  // Support grants and diagnostics (handlers in support_grants.cc).
  Result<Response> ListSupportGrants(Call& call);
  Result<Response> CreateSupportGrant(Call& call);
  Result<Response> RevokeSupportGrant(Call& call);
  Result<Response> Diagnostics(Call& call);
  Result<Response> DiagnosticsLogs(Call& call);
  SupportGrantCall GrantCall(Call& call);
  // Outbound execution hooks (handlers in hooks.cc).
  Result<Response> ListRunHooks(Call& call);
  Result<Response> RedeliverRunHooks(Call& call);
  Result<Response> WebhookRoute(Call& call,
                                Result<Response> (*handler)(internal::WebhookManageCall&));

  // Shared by create and update: parses the definition in the body.
  Result<std::shared_ptr<const model::Workflow>> LoadBodyDefinition(Call& call);
  // A workflow of the caller's org that the caller may see (private: owners + creator).
  Result<store::Workflow> VisibleWorkflow(Call& call, std::string_view id);
  bool MaySee(const Call& call, const store::Workflow& workflow);
  // A run of the caller's org that the caller may see: a run is as private as its
  // workflow (MaySee; a child run follows its own workflow, not its parent's), and a run
  // whose workflow was deleted is left to owners, its visibility being unknown. kNotFound
  // "run not found" otherwise, the same answer as for a run that does not exist.
  Result<store::Run> VisibleRun(Call& call, std::string_view run_id);
  // The workflows `parent` calls through `workflow` steps (their live versions, and the
  // ones those call) must each be one the caller may run directly; kPermissionDenied
  // naming the first that is not.
  Status CheckChildWorkflows(Call& call, const model::Workflow& parent);

  ApiDeps deps_;
  ApiOptions options_;
  const std::chrono::steady_clock::time_point started_ = deps_.clock->Monotonic();
  SourceLimiter auth_failures_;
  // Audits of denied authorizations per source (bounds the audit writes of a probe; it
  // never refuses a request).
  SourceLimiter authz_denials_;
  // Audits of definitions refused for forbidden_secret_access, per org (sampled: a flood
  // of them writes at most this many events a minute).
  SourceLimiter definition_refusals_;
  SourceLimiter public_requests_;
  // Requests per authenticated principal (ApiOptions::api_rpm / api_burst), and the
  // requests refused by it since start, by kind of principal (api_key, user,
  // support_grant).
  PrincipalRateLimiter principal_requests_;
  // (Shared with the /metrics provider, which the Metrics object may outlive us with.)
  using Counts = std::array<std::atomic<int64_t>, 3>;
  std::shared_ptr<Counts> rate_limited_ = std::make_shared<Counts>();
  // Runs answered for by their Idempotency-Key (a repeat started nothing), since start.
  std::shared_ptr<std::atomic<int64_t>> idempotent_replays_ =
      std::make_shared<std::atomic<int64_t>>(0);
  // Scopes (org, principal, key) of keyed run starts between their read and their
  // commit: a concurrent first use of the same key is not executed inline (its commit
  // loses to the first's and would discard a run that did execute). GUARDED_BY(idem_mu_)
  std::mutex idem_mu_;
  std::set<std::string> idem_in_flight_;
  std::atomic<store::Millis> idem_last_prune_{0};
  const server::Router* router_ = nullptr;
  std::vector<RouteSpec> specs_;
  std::shared_ptr<internal::WebhookReceiver> webhooks_;
  // Password checks of logins: Argon2id costs tens of milliseconds of CPU and 19 MiB, so
  // it runs neither on an io thread nor in a write transaction (which would stall every
  // commit behind it), and a flood past the backlog is refused with 429. Stopped first
  // by ~Impl, running what it still holds while everything it uses is alive.
  std::optional<WorkerPool> password_work_{
      std::in_place, std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 2),
      kPasswordBacklog};
};

Api::Api(ApiDeps deps, ApiOptions options)
    : impl_(std::make_unique<Impl>(deps, options)) {}
Api::~Api() = default;
void Api::RegisterRoutes(server::Router& router) { impl_->RegisterRoutes(router); }
std::vector<std::pair<std::string, int64_t>> Api::WebhookOutcomes() const {
  return impl_->WebhookOutcomes();
}

void Api::Impl::RegisterRoutes(server::Router& router) {
  router_ = &router;
  using A = Access;
  using P = Permission;
  auto h = [this](Result<Response> (Impl::*fn)(Call&)) {
    return [this, fn](Call& call) { return (this->*fn)(call); };
  };
  constexpr size_t kSmall = 64 * 1024;
  const size_t kDefinition = options_.max_definition_bytes;
  specs_ = {
      {"POST", "/v1/setup", "setup", "Create the first org and its owner with the setup token",
       A::kSetupToken, std::nullopt, true, {"setup_token", "org_name", "email", "password"}, kSmall,
       h(&Impl::Setup)},
      // Not a write transaction: the password is checked off the transaction (Login).
      {"POST", "/v1/auth/login", "login", "Password login: session cookie and CSRF token",
       A::kNone, std::nullopt, false, {"email", "password"}, kSmall, h(&Impl::Login)},
      {"POST", "/v1/auth/logout", "logout", "End the current session", A::kAuthenticated,
       std::nullopt, true, {}, kSmall, h(&Impl::Logout)},
      // Not a write transaction: the passwords are checked and hashed off it (ChangePassword).
      {"POST", "/v1/auth/password", "changePassword",
       "Change your password (a password session only): ends every session of yours and "
       "answers a new one",
       A::kAuthenticated, std::nullopt, false, {"current_password", "new_password"}, kSmall,
       h(&Impl::ChangePassword)},
      {"GET", "/v1/orgs", "listOrgs", "Orgs the caller belongs to", A::kAuthenticated,
       std::nullopt, false, {}, 0, h(&Impl::ListOrgs)},
      {"GET", "/v1/orgs/{org}", "getOrg", "One org", A::kOrg, std::nullopt, false, {}, 0,
       h(&Impl::GetOrg)},
      {"PATCH", "/v1/orgs/{org}", "updateOrg",
       "Rename an org, change its run concurrency or its egress rules (which only narrow "
       "the server's)",
       A::kOrg, P::kOrgWrite, true, {"name", "max_concurrent_runs", "egress"}, kSmall,
       h(&Impl::UpdateOrg)},
      {"GET", "/v1/orgs/{org}/support-grants", "listSupportGrants",
       "Support grants of the org and their status (never their tokens)", A::kOrg,
       P::kOrgWrite, false, {}, 0, h(&Impl::ListSupportGrants)},
      {"POST", "/v1/orgs/{org}/support-grants", "createSupportGrant",
       "Create a support grant: the org's diagnostics only, for at most 72 h (the token is "
       "shown once)",
       A::kOrg, P::kOrgWrite, true, {"expires_in", "reason"}, kSmall,
       h(&Impl::CreateSupportGrant)},
      {"DELETE", "/v1/orgs/{org}/support-grants/{id}", "revokeSupportGrant",
       "Revoke a support grant (at once)", A::kOrg, P::kOrgWrite, true, {}, kSmall,
       h(&Impl::RevokeSupportGrant)},
      {"GET", "/v1/orgs/{org}/diagnostics", "getDiagnostics",
       "Version, uptime, store health and run counts of the org (owners and the org's "
       "support grants)",
       A::kOrg, P::kOrgWrite, false, {}, 0, h(&Impl::Diagnostics)},
      {"GET", "/v1/orgs/{org}/diagnostics/logs", "getDiagnosticsLogs",
       "The org's recent server log records, redacted (?limit=; owners and the org's "
       "support grants)",
       A::kOrg, P::kOrgWrite, false, {}, 0, h(&Impl::DiagnosticsLogs)},
      {"GET", "/v1/orgs/{org}/members", "listMembers", "Members and their roles", A::kOrg,
       P::kMembersRead, false, {}, 0, h(&Impl::ListMembers)},
      // Not a write transaction: a new user's password is hashed off it (AddMember).
      {"POST", "/v1/orgs/{org}/members", "addMember", "Add a member (creates the user if new)",
       A::kOrg, P::kMembersWrite, false, {"email", "role", "password"}, kSmall,
       h(&Impl::AddMember)},
      {"PATCH", "/v1/orgs/{org}/members/{user}", "updateMember", "Change a member's role",
       A::kOrg, P::kMembersWrite, true, {"role"}, kSmall, h(&Impl::UpdateMember)},
      {"DELETE", "/v1/orgs/{org}/members/{user}", "removeMember", "Remove a member", A::kOrg,
       P::kMembersWrite, true, {}, kSmall, h(&Impl::RemoveMember)},
      {"GET", "/v1/orgs/{org}/api-keys", "listApiKeys", "API keys (metadata only)", A::kOrg,
       P::kApiKeysRead, false, {}, 0, h(&Impl::ListApiKeys)},
      {"POST", "/v1/orgs/{org}/api-keys", "createApiKey",
       "Create an API key (the key is shown once)", A::kOrg, P::kApiKeysWrite, true,
       {"name", "scope", "expires_at"}, kSmall, h(&Impl::CreateApiKey)},
      {"DELETE", "/v1/orgs/{org}/api-keys/{id}", "revokeApiKey", "Revoke an API key", A::kOrg,
       P::kApiKeysWrite, true, {}, kSmall, h(&Impl::RevokeApiKey)},
      {"GET", "/v1/orgs/{org}/workflows", "listWorkflows", "Workflows of the org", A::kOrg,
       P::kWorkflowsRead, false, {}, 0, h(&Impl::ListWorkflows)},
      {"POST", "/v1/orgs/{org}/workflows", "createWorkflow",
       "Create a workflow from a definition (JSON or YAML by Content-Type)", A::kOrg,
       P::kWorkflowsWrite, true, {}, kDefinition, h(&Impl::CreateWorkflow)},
      {"GET", "/v1/orgs/{org}/workflows/{id}", "getWorkflow",
       "A workflow with a version's definition (?version=draft|live|N)", A::kOrg,
       P::kWorkflowsRead, false, {}, 0, h(&Impl::GetWorkflow)},
      {"PUT", "/v1/orgs/{org}/workflows/{id}", "updateWorkflow",
       "Save a new draft version", A::kOrg, P::kWorkflowsWrite, true, {}, kDefinition,
       h(&Impl::UpdateWorkflow)},
      {"DELETE", "/v1/orgs/{org}/workflows/{id}", "deleteWorkflow", "Delete a workflow",
       A::kOrg, P::kWorkflowsDelete, true, {}, kSmall, h(&Impl::DeleteWorkflow)},
      {"GET", "/v1/orgs/{org}/workflows/{id}/versions", "listWorkflowVersions",
       "Versions, newest first", A::kOrg, P::kWorkflowsRead, false, {}, 0,
       h(&Impl::ListVersions)},
      {"POST", "/v1/orgs/{org}/workflows/{id}/publish", "publishWorkflow",
       "Make a version live (re-validated and linted)", A::kOrg, P::kWorkflowsPublish, true,
       {"version"}, kSmall, h(&Impl::Publish)},
      {"POST", "/v1/orgs/{org}/workflows/{id}/runs", "startRun",
       "Start a run; with wait, answer the run record when it finishes in time", A::kOrg,
       P::kWorkflowsExecute, false, {"input", "version", "wait"}, 1 << 20, h(&Impl::StartRun)},
      {"GET", "/v1/orgs/{org}/runs", "listRuns", "Runs, newest first (?workflow=&status=)",
       A::kOrg, P::kRunsRead, false, {}, 0, h(&Impl::ListRuns)},
      {"GET", "/v1/orgs/{org}/runs/{run_id}", "getRun", "A run record", A::kOrg, P::kRunsRead,
       false, {}, 0, h(&Impl::GetRun)},
      // Not a write transaction: the run service commits the cancellation (deferred).
      {"POST", "/v1/orgs/{org}/runs/{run_id}/cancel", "cancelRun", "Cancel a run", A::kOrg,
       P::kRunsCancel, false, {}, kSmall, h(&Impl::CancelRun)},
      {"POST", "/v1/orgs/{org}/runs/{run_id}/approvals", "decideApproval",
       "Approve or reject the approval step a run waits at (body step, decision, comment)",
       A::kOrg, P::kRunsApprove, true, {"step", "decision", "comment"}, kSmall,
       h(&Impl::DecideApproval)},
      {"GET", "/v1/orgs/{org}/runs/{run_id}/hooks", "listRunHooks",
       "Outbound hook deliveries of a run, with every attempt", A::kOrg, P::kRunsRead, false,
       {}, 0, h(&Impl::ListRunHooks)},
      {"POST", "/v1/orgs/{org}/runs/{run_id}/hooks/redeliver", "redeliverRunHooks",
       "Redeliver a hook delivery (body delivery_id) or every failed one of the run", A::kOrg,
       P::kWebhooksManage, true, {"delivery_id"}, kSmall, h(&Impl::RedeliverRunHooks)},
      {"GET", "/v1/orgs/{org}/audit", "listAudit", "Audit events, oldest first (?after=&limit=, or ?cursor=)", A::kOrg,
       P::kAuditRead, false, {}, 0, h(&Impl::ListAudit)},
      // Connector mutations run their own write transaction (after sealing the secrets,
      // which may create the org's first data key durably), re-authorizing inside it.
      {"GET", "/v1/orgs/{org}/connectors", "listConnectors",
       "Connectors as masked metadata (?due=true: rotation due)", A::kOrg, P::kConnectorsRead,
       false, {}, 0, h(&Impl::ListConnectors)},
      {"POST", "/v1/orgs/{org}/connectors", "createConnector",
       "Create a connector (secrets are encrypted, never shown again)", A::kOrg,
       P::kConnectorsWrite, false,
       {"id", "type", "options", "secrets", "allowed_workflows", "egress", "rotate_every_days"},
       kSmall * 4, h(&Impl::CreateConnector)},
      {"GET", "/v1/orgs/{org}/connectors/{id}", "getConnector", "A connector (masked)", A::kOrg,
       P::kConnectorsRead, false, {}, 0, h(&Impl::GetConnector)},
      {"PATCH", "/v1/orgs/{org}/connectors/{id}", "updateConnector",
       "Change a connector; a secret field given is replaced, others stay", A::kOrg,
       P::kConnectorsWrite, false,
       {"options", "secrets", "allowed_workflows", "egress", "rotate_every_days"}, kSmall * 4,
       h(&Impl::UpdateConnector)},
      {"DELETE", "/v1/orgs/{org}/connectors/{id}", "deleteConnector",
       "Delete a connector and its secrets", A::kOrg, P::kConnectorsDelete, false, {}, kSmall,
       h(&Impl::DeleteConnector)},
      {"GET", "/v1/orgs/{org}/workflows/{id}/webhooks", "listWebhooks",
       "Trigger URLs of a workflow (never their tokens)", A::kOrg, P::kWebhooksManage, false,
       {}, 0, h(&Impl::ListWebhooks)},
      {"POST", "/v1/orgs/{org}/workflows/{id}/webhooks", "createWebhook",
       "Create a trigger URL (its path is shown once)", A::kOrg, P::kWebhooksManage, true, {},
       kSmall, h(&Impl::CreateWebhook)},
      {"POST", "/v1/orgs/{org}/workflows/{id}/webhooks/{hook_id}/rotate", "rotateWebhook",
       "Replace a trigger URL's token (the old one stops working at once)", A::kOrg,
       P::kWebhooksManage, true, {}, kSmall, h(&Impl::RotateWebhook)},
      {"DELETE", "/v1/orgs/{org}/workflows/{id}/webhooks/{hook_id}", "deleteWebhook",
       "Delete a trigger URL", A::kOrg, P::kWebhooksManage, true, {}, kSmall,
       h(&Impl::DeleteWebhook)},
      {"POST", "/hooks/{token}", "receiveWebhook",
       "Inbound webhook: the trigger's own authentication, then a run", A::kNone, std::nullopt,
       false, {}, options_.max_webhook_body, h(&Impl::ReceiveHook)},
      {"POST", "/p/{org_slug}/{workflow_id}", "runPublicWorkflow",
       "Run a public workflow: answers run id, status and output only", A::kNone, std::nullopt,
       false, {}, kSmall, h(&Impl::RunPublic)},
      {"GET", "/metrics", "metrics", "Prometheus metrics", A::kAuthenticated, std::nullopt,
       false, {}, 0, h(&Impl::Metrics)},
      // Account lifecycle: the server operator only (the master key), across orgs.
      {"GET", "/v1/users/{user}", "getUser",
       "An account: email, disabled, memberships (org and role); operator only", A::kOperator,
       std::nullopt, false, {}, 0, h(&Impl::GetUser)},
      {"POST", "/v1/users/{user}/disable", "disableUser",
       "Disable an account everywhere: no sign-in; every session and API key of it revoked; "
       "operator only",
       A::kOperator, std::nullopt, true, {}, kSmall, h(&Impl::DisableUser)},
      {"POST", "/v1/users/{user}/enable", "enableUser",
       "Enable a disabled account (revoked sessions and keys stay revoked); operator only",
       A::kOperator, std::nullopt, true, {}, kSmall, h(&Impl::EnableUser)},
      {"DELETE", "/v1/users/{user}", "deleteUser",
       "Delete an account: memberships, sessions and keys go, the email is free; refused "
       "while it is the last owner of an org; operator only",
       A::kOperator, std::nullopt, true, {}, kSmall, h(&Impl::DeleteUser)},
  };
  for (const RouteSpec& spec : specs_) {
    server::Route route;
    route.method = spec.method;
    route.pattern = spec.pattern;
    route.operation_id = spec.operation_id;
    route.summary = spec.summary;
    route.permission = spec.permission.has_value()
                           ? std::string(auth::PermissionName(*spec.permission))
                           : spec.access == Access::kOrg        ? std::string("member")
                           : spec.access == Access::kOperator ? std::string("operator")
                                                              : std::string();
    route.max_body = spec.max_body;
    route.body_fields = spec.fields;
    route.authenticated = NeedsCredentials(spec.access);
    const std::string_view op = spec.operation_id;
    if (!spec.fields.empty()) {
      object properties;
      for (const auto& f : spec.fields) properties[f] = object();
      route.request_schema = object{{"type", "object"},
                                    {"properties", std::move(properties)},
                                    {"additionalProperties", false}};
    } else if (op == "createWorkflow" || op == "updateWorkflow") {
      // A definition (spec/workflow.md), JSON or YAML by Content-Type.
      route.request_schema = object{{"type", "object"}};
      route.request_media_types = {"application/json", "application/yaml"};
    } else if (op == "receiveWebhook" || op == "runPublicWorkflow") {
      route.request_schema = object{};  // the caller's payload, checked against `inputs`
    }
    route.query_parameters = QueryParameters(op);
    if (op == "startRun") {
      route.header_parameters = {
          {"Idempotency-Key",
           "1 to 255 visible ASCII characters (0x21-0x7E), sent once. A repeat with the same "
           "key by the same principal of the org within 24 h of the run's creation starts "
           "nothing and answers for that run (waiting as `wait` asks); the same key with "
           "another workflow or other body bytes is 409 conflict"}};
      route.response_headers = {
          {"Idempotent-Replayed",
           "\"true\" when the answer is for the run an earlier request with the same "
           "Idempotency-Key started"}};
    }
    // Credentials other than the API's: the setup token, a password, a trigger's own
    // authentication.
    if (op == "setup" || op == "login" || op == "receiveWebhook") {
      route.other_error_statuses = {401};
    }
    std::vector<int> statuses = SuccessStatuses(spec.operation_id);
    route.success_status = statuses.front();
    route.other_success_statuses.assign(statuses.begin() + 1, statuses.end());
    const RouteSpec* p = &spec;
    route.async_handler = [this, p](Request& request, server::Responder responder) {
      Dispatch(*p, request, std::move(responder));
    };
    if (spec.operation_id == std::string_view("receiveWebhook")) {
      // The trigger's max_payload, enforced while the body is read.
      route.body_limit = [receiver = webhooks_](Request& request, std::optional<uint64_t>) {
        return internal::WebhookBodyLimit(*receiver, request);
      };
      // Oversized requests the server answered itself, counted (spec/security.md 6).
      route.on_too_large = [receiver = webhooks_](const Request&) {
        internal::WebhookTooLarge(*receiver);
      };
    }
    router.Add(std::move(route));
  }

  if (deps_.metrics != nullptr) {
    deps_.metrics->AddGaugeProvider([receiver = webhooks_] {
      std::vector<server::Sample> samples;
      for (auto& [outcome, count] : internal::WebhookOutcomeCounts(*receiver)) {
        samples.push_back({"rampart_webhook_requests", {{"outcome", outcome}},
                           static_cast<double>(count),
                           "Requests to POST /hooks/{token} by outcome, since start"});
      }
      return samples;
    });
    deps_.metrics->AddGaugeProvider([replays = idempotent_replays_] {
      return std::vector<server::Sample>{
          {"rampart_run_idempotent_replays", {},
           static_cast<double>(replays->load(std::memory_order_relaxed)),
           "POST .../runs answered for an existing run by its Idempotency-Key (nothing "
           "started), since start"}};
    });
    deps_.metrics->AddGaugeProvider([counts = rate_limited_] {
      std::vector<server::Sample> samples;
      static constexpr const char* kKinds[] = {"api_key", "user", "support_grant"};
      for (size_t i = 0; i < counts->size(); ++i) {
        samples.push_back({"rampart_api_rate_limited", {{"principal", kKinds[i]}},
                           static_cast<double>((*counts)[i].load(std::memory_order_relaxed)),
                           "Authenticated API requests refused by the per-principal rate "
                           "limit (api_rate_limit), by kind of principal, since start"});
      }
      return samples;
    });
  }

  server::Route health;
  health.method = "GET";
  health.pattern = "/healthz";
  health.operation_id = "healthz";
  health.summary = "Liveness";
  health.handler = [](Request&) { return server::JsonResponse(200, object{{"status", "ok"}}); };
  router.Add(health);

  server::Route ready;
  ready.method = "GET";
  ready.pattern = "/readyz";
  ready.operation_id = "readyz";
  ready.summary = "Readiness: the store is reachable";
  ready.other_error_statuses = {503};
  ready.handler = [this](Request& request) {
    Status ping = deps_.store->Ping();
    if (!ping.ok()) {
      Response r = server::JsonResponse(503, object{{"status", "unavailable"}});
      return r;
    }
    return server::JsonResponse(200, object{{"status", "ready"}});
  };
  router.Add(ready);

  server::Route openapi;
  openapi.method = "GET";
  openapi.pattern = "/v1/openapi.json";
  openapi.operation_id = "openapi";
  openapi.summary = "This document";
  openapi.handler = [this](Request&) {
    return server::JsonResponse(200, server::OpenApiDocument(*router_, "Rampart API", "1"));
  };
  router.Add(openapi);
}

void Api::Impl::Dispatch(const RouteSpec& spec, Request& request, server::Responder responder) {
  // Every later use (rate limits, audit source, webhook allowlists) sees the client
  // address, resolved once here.
  request.remote_ip = ClientAddress(request, options_.trusted_proxies);
  const auto now = deps_.clock->Monotonic();
  int retry_after = 0;
  // Login is kNone but is where passwords are guessed: it is throttled too.
  if ((spec.access != Access::kNone || spec.operation_id == std::string_view("login")) &&
      auth_failures_.Blocked(request.remote_ip, now, &retry_after)) {
    return responder.Send(server::ErrorResponse(
        MakeError(ErrorCode::kRateLimited, "too many failed authentications; retry later"),
        request.request_id, retry_after));
  }
  if (spec.operation_id == std::string_view("runPublicWorkflow") &&
      public_requests_.Hit(request.remote_ip, now, &retry_after)) {
    return responder.Send(server::ErrorResponse(
        MakeError(ErrorCode::kRateLimited, "too many requests"), request.request_id, retry_after));
  }
  auto call = std::make_shared<Call>(request);
  call->time_ms = Now();
  call->client = responder;
  RunInStore(spec, call, [this, &spec, call, responder](Result<Response> response) {
    Finish(spec, call, std::move(response), responder);
  });
}

void Api::Impl::Finish(const RouteSpec& spec, const std::shared_ptr<Call>& call,
                       Result<Response> response, const server::Responder& responder) {
  if (call->access.has_value() && ChangesTriggers(spec.operation_id)) {
    // Whatever the outcome (a connector mutation commits in its own transaction): a
    // cached trigger never outlives the response to a change of it.
    internal::InvalidateWebhookTriggers(*webhooks_, call->org_id());
  }
  if (response.ok() && call->after_commit) call->after_commit();
  if (response.ok() && call->deferred) {
    auto deferred = std::move(call->deferred);
    call->deferred = nullptr;
    deferred([this, &spec, call, responder](Result<Response> answer) {
      Finish(spec, call, std::move(answer), responder);
    });
    return;
  }
  Request& request = call->request;
  if (!response.ok() && call->rate_limited) {
    // A flood past the limit writes nothing: no audit event (not even a support grant's
    // use), no log line, no credential touch. /metrics counts it.
    return responder.Send(
        server::ErrorResponse(response.error(), request.request_id, call->retry_after));
  }
  if (!response.ok()) {
    Response error = !call->definition_errors.empty()
                         ? DefinitionErrorResponse(call->definition_errors, request.request_id)
                         : server::ErrorResponse(response.error(), request.request_id);
    if (response.error().code == ErrorCode::kUnauthenticated) {
      return RecordAuthFailure(*call, spec.operation_id,
                               [responder, error = std::move(error)]() mutable {
                                 responder.Send(std::move(error));
                               });
    }
    LogRequestFailure(*call, spec.operation_id, response.error());
    const bool secret_access =
        std::any_of(call->definition_errors.begin(), call->definition_errors.end(),
                    [](const model::DefinitionError& e) {
                      return e.code == ErrorCode::kForbiddenSecretAccess;
                    });
    if (secret_access && call->access.has_value() && call->principal.support_grant_id.empty()) {
      return RecordDefinitionRefusal(*call, spec.operation_id,
                                     [responder, error = std::move(error)]() mutable {
                                       responder.Send(std::move(error));
                                     });
    }
    if (!call->principal.support_grant_id.empty()) {
      // Every use of a grant, refused ones included, is audited as such.
      const int status = error.status;
      return RecordSupportGrantUse(*call, spec.operation_id, status,
                                   [responder, error = std::move(error)](Status) mutable {
                                     responder.Send(std::move(error));
                                   });
    }
    if (response.error().code == ErrorCode::kPermissionDenied || call->org_denied.has_value()) {
      return RecordAuthzDenial(*call, spec.operation_id, response.error(),
                               [responder, error = std::move(error)]() mutable {
                                 responder.Send(std::move(error));
                               });
    }
    return responder.Send(std::move(error));
  }
  if (!call->principal.support_grant_id.empty()) {
    // The answer leaves only once its use is on the audit trail.
    const int status = response->status;
    return RecordSupportGrantUse(
        *call, spec.operation_id, status,
        [responder, request_id = request.request_id,
         answer = std::move(response).value()](Status audited) mutable {
          if (!audited.ok()) {
            return responder.Send(server::ErrorResponse(audited.error(), request_id));
          }
          responder.Send(std::move(answer));
        });
  }
  if (call->principal.user_id.empty()) return responder.Send(std::move(response).value());
  TouchCredentials(call->principal, [responder, answer = std::move(response).value()]() mutable {
    responder.Send(std::move(answer));
  });
}

void Api::Impl::RunInStore(const RouteSpec& spec, const std::shared_ptr<Call>& call, Reply next) {
  // POST /hooks/{token} opens a transaction only when its trigger is not cached, so a
  // request to a known trigger (a forgery flood included) costs no store access.
  if (spec.operation_id == std::string_view("receiveWebhook")) return next(spec.handler(*call));
  auto out = std::make_shared<std::optional<Response>>();
  auto body = [&spec, call, out, this](store::Tx& tx) -> Status {
    call->tx = &tx;
    // The membership (and org) Authenticate read for an API key, in this transaction:
    // AuthorizeOrg below reuses it instead of reading it again. Never kept past `tx`.
    std::optional<store::MemberOrg> member_org;
    if (NeedsCredentials(spec.access)) {
      auth::Credentials credentials;
      credentials.authorization = call->request.Header("authorization").value_or("");
      credentials.cookie = call->request.Header("cookie").value_or("");
      credentials.csrf_token = call->request.Header("x-csrf-token").value_or("");
      credentials.state_changing = IsStateChanging(call->request.method);
      auto principal = deps_.authenticator->Authenticate(tx, credentials, &member_org);
      if (!principal.ok()) return principal.error();
      call->principal = std::move(principal).value();
      // Before any other work for this caller: authorization, the body, the handler.
      if (!TakeRequestToken(*call)) {
        return MakeError(ErrorCode::kRateLimited, "too many requests; retry later");
      }
      // A support grant reaches only its own org's diagnostics: no route without an org.
      if (call->principal.kind == auth::Principal::Kind::kSupportGrant &&
          spec.access != Access::kOrg) {
        return auth::SupportGrantDenied();
      }
      // The account routes act across orgs: only the operator's master key may.
      if (spec.access == Access::kOperator &&
          call->principal.kind != auth::Principal::Kind::kMasterKey) {
        return MakeError(ErrorCode::kPermissionDenied, "operator only");
      }
    }
    if (spec.access == Access::kOrg) {
      const std::string& org_id = call->request.params.at("org");
      // A grant on any other route meets AuthorizeOrg, which refuses it (403, or 404 for
      // another org).
      auto access = call->principal.kind == auth::Principal::Kind::kSupportGrant &&
                            SupportGrantMayCall(spec.operation_id)
                        ? auth::AuthorizeSupportGrant(tx, call->principal, org_id)
                        : auth::AuthorizeOrg(tx, call->principal, org_id, spec.permission,
                                             member_org ? &*member_org : nullptr);
      if (!access.ok()) {
        if (access.error().code == ErrorCode::kNotFound) call->org_denied = org_id;
        return access.error();
      }
      call->access = std::move(access).value();
    }
    // After the org check, so a non-member still gets the 404 of an org it cannot see.
    if (call->principal.must_change_password && !AllowedBeforePasswordChange(spec.operation_id)) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "your password must be changed first (POST /v1/auth/password)");
    }
    if (!TakesOwnBody(spec.operation_id)) {
      auto parsed = ParseObjectBody(call->request, spec.fields);
      if (!parsed.ok()) return parsed.error();
      call->body = std::move(parsed).value();
    }
    auto response = spec.handler(*call);
    if (!response.ok()) return response.error();
    *out = std::move(response).value();
    return Status::Ok();
  };
  auto settle = [call, out, next = std::move(next)](Status status) {
    call->tx = nullptr;
    if (!status.ok()) return next(status.error());
    next(std::move(**out));
  };
  if (spec.write) return deps_.store->WriteAsync(std::move(body), std::move(settle));
  settle(deps_.store->Read(body));
}

void Api::Impl::RecordAuthFailure(const Call& call, std::string_view operation,
                                  std::function<void()> then) {
  const Request& request = call.request;
  int retry_after = 0;
  bool over = auth_failures_.Hit(request.remote_ip, deps_.clock->Monotonic(), &retry_after);
  if (over) return then();  // already audited enough from this source this minute
  store::AuditEvent event;
  if (call.auth_failure_event.has_value()) {
    event = *call.auth_failure_event;
  } else {
    event.actor = "anonymous";
    event.action = "auth.failed";
    event.target = std::string(operation);
    event.outcome = "failure";
    event.source_ip = request.remote_ip;
    event.user_agent = AuditText(request.Header("user-agent").value_or(""), 200);
    event.details = "{}";
    // A wrong password for a member: the user is named.
    if (!call.login_orgs.empty()) {
      event.details = json::Serialize(object{{"user_id", call.principal.user_id}});
    }
  }
  event.time = Now();
  if (!call.login_orgs.empty()) {
    // A wrong password for a member: their orgs' owners see the attempt (one write, as for
    // an unknown email, so the answer's timing does not tell them apart).
    return deps_.store->WriteAsync(
        [event = std::move(event), orgs = call.login_orgs](store::Tx& tx) {
          return AppendInOrgs(tx, event, orgs);
        },
        [then = std::move(then)](Status) { then(); });
  }
  audit::AppendAsync(*deps_.store, std::move(event), [then = std::move(then)](Status) { then(); });
}

void Api::Impl::RecordAuthzDenial(const Call& call, std::string_view operation,
                                  const Error& error, std::function<void()> then) {
  const Request& request = call.request;
  int retry_after = 0;
  if (authz_denials_.Hit(request.remote_ip, deps_.clock->Monotonic(), &retry_after)) {
    return then();  // already audited enough from this source this minute
  }
  object details{{"status", server::HttpStatusFor(error.code)}, {"reason", error.message}};
  store::AuditEvent event =
      call.Event("authz.denied", operation, std::move(details), "failure");
  event.time = Now();
  if (call.org_denied.has_value()) {
    // Not a member: the org is named in the details only (it may not exist, and the
    // event must not land in the audit of an org the caller cannot see).
    event.org_id.clear();
    event.details = json::Serialize(object{{"status", 404},
                                           {"reason", "not a member of the organization"},
                                           {"org", AuditText(*call.org_denied, 64)}});
  } else if (event.org_id.empty()) {
    // A member lacking the route's permission (the org's owners read the event), or a
    // request refused before its org was known (CSRF): then the path's org, if any.
    auto org = request.params.find("org");
    if (org != request.params.end() && !call.principal.user_id.empty()) {
      event.org_id = org->second;
    }
  }
  audit::AppendAsync(*deps_.store, std::move(event), [then = std::move(then)](Status) { then(); });
}

void Api::Impl::RecordDefinitionRefusal(const Call& call, std::string_view operation,
                                        std::function<void()> then) {
  int retry_after = 0;
  if (definition_refusals_.Hit(call.access->org.id, deps_.clock->Monotonic(), &retry_after)) {
    return then();  // sampled: this org's refusals were audited enough this minute
  }
  array errors;
  for (const auto& e : call.definition_errors) {
    // Paths name the definition's fields (step ids included); messages and the text are
    // left out: they may quote what the caller wrote.
    errors.push_back(object{{"path", AuditText(e.path, 200)}, {"code", ErrorCodeName(e.code)}});
    if (errors.size() >= 20) break;
  }
  object details{{"operation", operation},
                 {"errors", std::move(errors)},
                 {"error_count", call.definition_errors.size()}};
  store::AuditEvent event =
      call.Event("definition.refused", call.request.params.count("id") != 0
                                           ? AuditText(call.request.params.at("id"), 100)
                                           : std::string(),
                 std::move(details), "failure");
  event.time = Now();
  audit::AppendAsync(*deps_.store, std::move(event), [then = std::move(then)](Status) { then(); });
}

void Api::Impl::TouchCredentials(const auth::Principal& principal, std::function<void()> then) {
  if (!principal.api_key_needs_touch && !principal.session_needs_touch) return then();
  const store::Millis now = Now();
  // Best effort (a failed touch does not fail the request), but answered only once the
  // touch committed: otherwise the caller's next request could read the store before it
  // (a race with the writer thread) and see a stale last_used_at (or, near a session's
  // idle limit, a stale last_seen_at: an idle expiry that did not happen). Due at most
  // once a minute per credential (auth.cc), so this rarely delays an answer.
  deps_.store->WriteAsync(
      [key = principal.api_key_needs_touch, id = principal.api_key_id,
       session = principal.session_hash, now](store::Tx& tx) -> Status {
        if (key) return tx.TouchApiKey(id, now);
        return tx.TouchSession(session, now);
      },
      [then = std::move(then)](Status) { then(); });
}

void Api::Impl::RecordSupportGrantUse(const Call& call, std::string_view operation, int status,
                                      std::function<void(Status)> then) {
  std::string_view outcome = status < 300                    ? "success"
                             : status == 403 || status == 404 ? "denied"
                                                              : "failure";
  store::AuditEvent event = call.Event("support_grant.use", call.principal.support_grant_id,
                                       object{{"operation", operation}, {"status", status}},
                                       outcome);
  event.org_id = call.principal.support_grant_org;
  event.time = Now();
  audit::AppendAsync(*deps_.store, std::move(event),
                     [then = std::move(then)](Status s) { then(std::move(s)); });
}

bool Api::Impl::TakeRequestToken(Call& call) {
  if (!principal_requests_.enabled()) return true;
  const auth::Principal& p = call.principal;
  // Ids the server made; their prefixes ("key_", "sgr_", "usr_") keep the kinds apart in
  // one map. A user's sessions, JWTs and master key requests share the user's bucket.
  size_t kind = 1;
  std::string_view key = p.user_id;
  if (p.kind == auth::Principal::Kind::kApiKey) {
    kind = 0;
    key = p.api_key_id;
  } else if (p.kind == auth::Principal::Kind::kSupportGrant) {
    kind = 2;
    key = p.support_grant_id;
  }
  if (principal_requests_.Take(key, deps_.clock->Monotonic(), &call.retry_after)) return true;
  call.rate_limited = true;
  (*rate_limited_)[kind].fetch_add(1, std::memory_order_relaxed);
  return false;
}

void Api::Impl::LogRequestFailure(const Call& call, std::string_view operation,
                                  const Error& error) {
  if (deps_.log == nullptr || !call.access.has_value()) return;
  const int status = server::HttpStatusFor(error.code);
  deps_.log->Write(object{
      {"level", status >= 500 ? "error" : "info"},
      {"msg", std::string(operation) + " failed: " + std::string(error.code_name())},
      {"org", call.access->org.id},
      {"event", "request.failed"},
      {"code", error.code_name()},
      {"fields", object{{"operation", operation}, {"status", status}}}});
}

// ----- identity -----

Result<Response> Api::Impl::Setup(Call& call) {
  auto token = RequiredString(call.body, "setup_token", 128);
  auto org_name = RequiredString(call.body, "org_name", kMaxNameLength);
  auto email = RequiredString(call.body, "email", kMaxEmailLength);
  auto password = RequiredString(call.body, "password", kMaxPasswordLength);
  const Error unauthenticated = MakeError(ErrorCode::kUnauthenticated, "authentication required");
  if (!token.ok()) return unauthenticated;
  auto stored_hash = call.tx->GetSetting(kSetupTokenHashKey);
  if (!stored_hash.ok()) return stored_hash.error();
  auto expires = call.tx->GetSetting(kSetupTokenExpiresKey);
  if (!expires.ok()) return expires.error();
  if (!stored_hash->has_value() || !expires->has_value() ||
      !crypto::ConstantTimeEqual(crypto::Sha256Hex(*token), **stored_hash) ||
      std::stoll(**expires) <= call.time_ms) {
    return unauthenticated;
  }
  if (!org_name.ok()) return org_name.error();
  if (!email.ok()) return email.error();
  if (!password.ok()) return password.error();
  std::string normalized = AsciiLowered(*email);
  if (!ValidEmail(normalized)) return MakeError(ErrorCode::kInvalidArgument, "invalid email");
  if (Status s = CheckPasswordPolicy(*password); !s.ok()) return s.error();
  auto orgs = call.tx->CountOrgs();
  if (!orgs.ok()) return orgs.error();
  if (*orgs > 0) return unauthenticated;
  auto hash = crypto::HashPassword(*password, *deps_.random);
  if (!hash.ok()) return hash.error();

  store::Org org{.id = NewObjectId(*deps_.random, "org_"),
                 .slug = SlugFrom(*org_name),
                 .name = *org_name,
                 .max_concurrent_runs = 10,
                 .created_at = call.time_ms};
  store::User user{.id = NewObjectId(*deps_.random, "usr_"),
                   .email = normalized,
                   .password_hash = std::move(hash).value(),
                   .created_at = call.time_ms};
  if (Status s = call.tx->InsertOrg(org); !s.ok()) return s.error();
  if (Status s = call.tx->InsertUser(user); !s.ok()) return s.error();
  if (Status s = call.tx->UpsertMembership({org.id, user.id, "owner", call.time_ms}); !s.ok()) {
    return s.error();
  }
  // Single use: the token is gone with the transaction that used it, its file once that
  // transaction committed.
  if (!options_.setup_token_path.empty()) {
    call.after_commit = [path = options_.setup_token_path] { ::unlink(path.c_str()); };
  }
  if (Status s = call.tx->DeleteSetting(kSetupTokenHashKey); !s.ok()) return s.error();
  if (Status s = call.tx->DeleteSetting(kSetupTokenExpiresKey); !s.ok()) return s.error();
  call.principal.user_id = user.id;
  call.access = auth::OrgAccess{org, "owner", auth::PermissionSet::All()};
  if (Status s = call.Audit("setup", org.id, object{{"email", user.email}}); !s.ok()) {
    return s.error();
  }
  // "-> owner + org" (spec/interfaces.md); `user` is the same object, kept for clients
  // that read it.
  const object owner{{"id", user.id}, {"email", user.email}, {"role", "owner"}};
  return server::JsonResponse(201,
                              object{{"org", OrgJson(org)}, {"owner", owner}, {"user", owner}});
}

// The user is read in the request's read transaction; the password is checked on the
// password workers (the same Argon2 work whether or not the account exists, so timing
// does not reveal it) and the session is committed from there.
Result<Response> Api::Impl::Login(Call& call) {
  auto email = RequiredString(call.body, "email", kMaxEmailLength);
  auto password = RequiredString(call.body, "password", kMaxPasswordLength);
  std::optional<store::User> user;
  if (email.ok() && password.ok()) {
    auto found = call.tx->GetUserByEmail(AsciiLowered(*email));
    if (!found.ok()) return found.error();
    user = std::move(*found);
  }
  if (user.has_value()) {
    call.principal.user_id = user->id;  // the audit event's actor
    // Audited in each org of the user, where their owners read it (spec/security.md 7).
    auto orgs = call.tx->ListOrgsOfUser(user->id);
    if (!orgs.ok()) return orgs.error();
    for (const store::Org& org : *orgs) call.login_orgs.push_back(org.id);
    if (user->disabled) {
      // The owners read why; the caller gets the answer of a wrong password.
      store::AuditEvent failed = call.Event("auth.failed", "login", {}, "failure");
      failed.actor = "anonymous";
      failed.details =
          json::Serialize(object{{"user_id", user->id}, {"reason", "account disabled"}});
      call.auth_failure_event = std::move(failed);
    }
  }
  store::AuditEvent event = call.Event("login", user.has_value() ? user->id : "");
  std::string secret = password.ok() ? std::move(*password) : std::string();
  call.deferred = [this, user = std::move(user), secret = std::move(secret),
                   event = std::move(event), orgs = call.login_orgs,
                   time_ms = call.time_ms](Reply reply) mutable {
    auto check = [this, user = std::move(user), secret = std::move(secret),
                  event = std::move(event), orgs = std::move(orgs), time_ms, reply]() mutable {
      const Error unauthenticated =
          MakeError(ErrorCode::kUnauthenticated, "authentication required");
      bool verified = false;
      if (!user.has_value() || user->password_hash.empty() || secret.empty()) {
        crypto::BurnPasswordVerifyTime();
      } else {
        // A disabled account's password is checked all the same (the work and the answer
        // of a wrong password), then refused.
        verified = crypto::VerifyPassword(user->password_hash, secret) && !user->disabled;
      }
      OPENSSL_cleanse(secret.data(), secret.size());
      if (!verified) return reply(unauthenticated);
      auto created = NewSession(*user, time_ms);
      store::Session session = std::move(created.first);
      Response response = std::move(created.second);
      deps_.store->WriteAsync(
          [session, event, orgs](store::Tx& tx) -> Status {
            // Disabled (or deleted) while the password was checked: no session.
            auto now_user = tx.GetUser(session.user_id);
            if (!now_user.ok()) return now_user.error();
            if (!now_user->has_value() || (*now_user)->disabled) {
              return MakeError(ErrorCode::kUnauthenticated, "authentication required");
            }
            if (Status s = tx.InsertSession(session); !s.ok()) return s;
            return AppendInOrgs(tx, event, orgs);
          },
          [reply, response = std::move(response)](Status written) mutable {
            if (!written.ok()) return reply(written.error());
            reply(std::move(response));
          });
    };
    OnPasswordWorkers(std::move(check), reply);
  };
  return Response{};
}

std::pair<store::Session, Response> Api::Impl::NewSession(const store::User& user,
                                                          store::Millis time_ms) {
  std::string token = crypto::NewOpaqueToken(*deps_.random, crypto::kSessionPrefix);
  std::string csrf = crypto::NewOpaqueToken(*deps_.random, "csr_");
  const auto& config = deps_.authenticator->config();
  const store::Millis absolute =
      std::chrono::duration_cast<std::chrono::milliseconds>(config.session_absolute).count();
  store::Session session{.token_hash = crypto::Sha256Hex(token),
                         .user_id = user.id,
                         .csrf_hash = crypto::Sha256Hex(csrf),
                         .created_at = time_ms,
                         .last_seen_at = time_ms,
                         .expires_at = time_ms + absolute,
                         .revoked = false};
  Response response = server::JsonResponse(
      200, object{{"csrf_token", csrf},
                  {"user", object{{"id", user.id},
                                  {"email", user.email},
                                  {"must_change_password", user.must_change_password}}}});
  std::string cookie = std::string(auth::kSessionCookie) + "=" + token +
                       "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                       std::to_string(absolute / 1000);
  if (options_.tls) cookie += "; Secure";
  response.headers.emplace_back("Set-Cookie", std::move(cookie));
  return {std::move(session), std::move(response)};
}

// The current password is checked and the new one hashed on the password workers, as for
// a login (never on an io thread nor in a write transaction). One write transaction then
// checks that neither the password nor the session changed meanwhile, stores the new
// hash, revokes every session of the user (every org's, this one's included) and opens a
// fresh session answered like a login: whoever held a session, or the old password, is
// out at once, and the caller's proof of the password rotates its session (ASVS V7.2.4).
// API keys stay: they are not derived from the password.
Result<Response> Api::Impl::ChangePassword(Call& call) {
  if (call.principal.kind != auth::Principal::Kind::kSession) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "a password is changed from a password session (log in first); API "
                     "keys, tokens and the master key cannot change it");
  }
  auto current = RequiredString(call.body, "current_password", kMaxPasswordLength);
  if (!current.ok()) return current.error();
  auto next = RequiredString(call.body, "new_password", kMaxPasswordLength);
  if (!next.ok()) return next.error();
  if (Status s = CheckPasswordPolicy(*next, "new_password"); !s.ok()) return s.error();
  if (*next == *current) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "new_password must differ from the current password");
  }
  auto user = call.tx->GetUser(call.principal.user_id);
  if (!user.ok()) return user.error();
  if (!user->has_value()) return MakeError(ErrorCode::kUnauthenticated, "authentication required");
  // Audited in each org of the user, as logins are (spec/security.md 7).
  auto orgs = call.tx->ListOrgsOfUser(call.principal.user_id);
  if (!orgs.ok()) return orgs.error();
  for (const store::Org& org : *orgs) call.login_orgs.push_back(org.id);
  // A wrong current password is a failed authentication (Finish: RecordAuthFailure counts
  // it against the source), audited as this event.
  call.auth_failure_event = call.Event("auth.password_change", call.principal.user_id,
                                       object{{"reason", "wrong current password"}}, "failure");
  call.principal.session_needs_touch = false;  // the session is replaced
  call.deferred = [this, user = std::move(**user), current = std::move(*current),
                   next = std::move(*next), session_hash = call.principal.session_hash,
                   event = call.Event("auth.password_change", call.principal.user_id),
                   orgs = call.login_orgs, time_ms = call.time_ms](Reply reply) mutable {
    auto work = [this, user = std::move(user), current = std::move(current),
                 next = std::move(next), session_hash = std::move(session_hash),
                 event = std::move(event), orgs = std::move(orgs), time_ms, reply]() mutable {
      bool verified = false;
      if (user.password_hash.empty()) {
        crypto::BurnPasswordVerifyTime();
      } else {
        verified = crypto::VerifyPassword(user.password_hash, current);
      }
      OPENSSL_cleanse(current.data(), current.size());
      Result<std::string> hash = MakeError(ErrorCode::kUnauthenticated, "authentication required");
      if (verified) hash = crypto::HashPassword(next, *deps_.random);
      OPENSSL_cleanse(next.data(), next.size());
      if (!hash.ok()) return reply(hash.error());
      const std::string old_hash = user.password_hash;
      user.password_hash = std::move(hash).value();
      user.must_change_password = false;
      auto created = NewSession(user, time_ms);
      store::Session session = std::move(created.first);
      Response response = std::move(created.second);
      deps_.store->WriteAsync(
          [user, old_hash, session_hash, session, event, orgs](store::Tx& tx) mutable -> Status {
            const Error changed =
                MakeError(ErrorCode::kConflict,
                          "the password or the session changed meanwhile; log in again");
            auto now_user = tx.GetUser(user.id);
            if (!now_user.ok()) return now_user.error();
            if (!now_user->has_value() || (*now_user)->password_hash != old_hash) return changed;
            auto now_session = tx.GetSession(session_hash);
            if (!now_session.ok()) return now_session.error();
            if (!now_session->has_value() || (*now_session)->revoked) return changed;
            if (Status s = tx.SetUserPassword(user.id, user.password_hash, false); !s.ok()) {
              return s;
            }
            auto revoked = tx.RevokeUserSessions(user.id);
            if (!revoked.ok()) return revoked.error();
            if (Status s = tx.InsertSession(session); !s.ok()) return s;
            // The caller's own session is replaced, not counted.
            event.details = json::Serialize(object{{"other_sessions_revoked", *revoked - 1}});
            return AppendInOrgs(tx, event, orgs);
          },
          [reply, response = std::move(response)](Status written) mutable {
            if (!written.ok()) return reply(written.error());
            reply(std::move(response));
          });
    };
    OnPasswordWorkers(std::move(work), reply);
  };
  return Response{};
}

Result<Response> Api::Impl::Logout(Call& call) {
  if (call.principal.kind == auth::Principal::Kind::kSession) {
    if (Status s = call.tx->RevokeSession(call.principal.session_hash); !s.ok()) return s.error();
    if (Status s = call.Audit("logout", call.principal.user_id); !s.ok()) return s.error();
  }
  call.principal.session_needs_touch = false;
  Response response = server::JsonResponse(200, object{{"status", "logged_out"}});
  std::string cookie = std::string(auth::kSessionCookie) +
                       "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";
  if (options_.tls) cookie += "; Secure";
  response.headers.emplace_back("Set-Cookie", std::move(cookie));
  return response;
}

// ----- orgs and members -----

// ----- accounts (the operator's routes) -----
//
// The changes themselves are rampart/api/accounts.h, shared with `rampart users`.
// An account is server-wide (one user, memberships in several orgs). The operator (the
// master key) disables, enables or deletes it everywhere at once; each change and its
// audit events commit in one transaction. The events go to the audit of every org the
// user is (or was) a member of, so each org's owners see them, or once without an org
// for a user of none; they name the user by id, never by email or password hash.


Result<Response> Api::Impl::GetUser(Call& call) {
  auto account = FindAccount(*call.tx, call.request.params.at("user"));
  if (!account.ok()) return account.error();
  const store::User& user = account->user;
  array items;
  for (const store::Membership& m : account->memberships) {
    items.push_back(object{{"org_id", m.org_id}, {"role", m.role}});
  }
  return server::JsonResponse(200, object{{"id", user.id},
                                          {"email", user.email},
                                          {"disabled", user.disabled},
                                          {"created_at", TimeValue(user.created_at)},
                                          {"memberships", std::move(items)}});
}

// Sets the flag and revokes every session and every API key of the user (all orgs) in
// the same transaction: a key's request reads no user row, its revocation is what stops
// it. Disabling a disabled account revokes what is left (nothing, normally).
Result<Response> Api::Impl::DisableUser(Call& call) {
  const std::string& user_id = call.request.params.at("user");
  auto account = FindAccount(*call.tx, user_id);
  if (!account.ok()) return account.error();
  auto counts = DisableAccount(*call.tx, *account, call.Event("user.disable", user_id));
  if (!counts.ok()) return counts.error();
  (*counts)["id"] = user_id;
  (*counts)["disabled"] = true;
  return server::JsonResponse(200, std::move(*counts));
}

// Clears the flag only: what disabling revoked stays revoked (the user signs in again and
// their org's owners issue new keys).
Result<Response> Api::Impl::EnableUser(Call& call) {
  const std::string& user_id = call.request.params.at("user");
  auto account = FindAccount(*call.tx, user_id);
  if (!account.ok()) return account.error();
  if (Status s = EnableAccount(*call.tx, *account, call.Event("user.enable", user_id)); !s.ok()) {
    return s.error();
  }
  return server::JsonResponse(200, object{{"id", user_id}, {"disabled", false}});
}

// Refused (409, nothing changed) while the user is the last owner of an org: that org
// would have nobody to administer it. Otherwise the keys are revoked (their rows stay, so
// the org's key list and audit still make sense), and the user row goes with its
// memberships and sessions: the email is free for a new account. Workflows and runs the
// user created belong to their orgs and stay.
Result<Response> Api::Impl::DeleteUser(Call& call) {
  const std::string& user_id = call.request.params.at("user");
  auto account = FindAccount(*call.tx, user_id);
  if (!account.ok()) return account.error();
  const std::vector<store::Membership>& memberships = account->memberships;
  std::string last_owner_of;
  for (const store::Membership& m : memberships) {
    if (m.role != auth::kRoleOwner) continue;
    auto owners = call.tx->CountOwners(m.org_id);
    if (!owners.ok()) return owners.error();
    if (*owners <= 1) last_owner_of += (last_owner_of.empty() ? "" : ", ") + m.org_id;
  }
  if (!last_owner_of.empty()) {
    return MakeError(ErrorCode::kConflict,
                     "the user is the last owner of " + last_owner_of +
                         "; make another member owner first");
  }
  auto counts = RevokeEveryCredential(*call.tx, user_id, call.time_ms);
  if (!counts.ok()) return counts.error();
  auto deleted = call.tx->DeleteUser(user_id);
  if (!deleted.ok()) return deleted.error();
  if (!*deleted) return MakeError(ErrorCode::kNotFound, "user not found");
  (*counts)["removed_memberships"] = static_cast<int64_t>(memberships.size());
  if (Status s = AppendInOrgs(*call.tx, call.Event("user.delete", user_id, *counts),
                              account->OrgIds());
      !s.ok()) {
    return s.error();
  }
  (*counts)["id"] = user_id;
  (*counts)["deleted"] = true;
  return server::JsonResponse(200, std::move(*counts));
}

Result<Response> Api::Impl::ListOrgs(Call& call) {
  auto page = PageFromQuery(call.request);
  if (!page.ok()) return page.error();
  // A user's orgs are few: read whole, in the store's order (created_at, id), and paged
  // here by CreatedAtPosition (a page follows the previous one even when an org of it was
  // left meanwhile).
  auto position = [](const store::Org& org) { return CreatedAtPosition(org.created_at, org.id); };
  auto orgs = call.tx->ListOrgsOfUser(call.principal.user_id);
  if (!orgs.ok()) return orgs.error();
  array items;
  std::string last, next;
  for (const store::Org& org : *orgs) {
    // A key belongs to one org: it sees only that one.
    if (call.principal.kind == auth::Principal::Kind::kApiKey &&
        org.id != call.principal.api_key_org) {
      continue;
    }
    if (!page->after.empty() && position(org) <= page->after) continue;
    if (items.size() == static_cast<size_t>(page->limit)) {
      next = last;  // there is more after this page's last org
      break;
    }
    auto membership = call.tx->GetMembership(org.id, call.principal.user_id);
    if (!membership.ok()) return membership.error();
    object o = OrgJson(org);
    o["role"] = membership->has_value() ? (*membership)->role : std::string();
    items.push_back(std::move(o));
    last = position(org);
  }
  return server::JsonResponse(200, ListBody(std::move(items), next));
}

Result<Response> Api::Impl::GetOrg(Call& call) {
  object o = OrgJson(call.access->org);
  o["role"] = call.access->role;
  array permissions;
  for (const auto& name : call.access->permissions.Names()) permissions.push_back(value(name));
  o["permissions"] = std::move(permissions);
  return server::JsonResponse(200, o);
}

Result<Response> Api::Impl::UpdateOrg(Call& call) {
  store::Org org = call.access->org;
  object changes;
  auto name = OptionalString(call.body, "name", kMaxNameLength);
  if (!name.ok()) return name.error();
  if (name->has_value()) {
    if ((*name)->empty()) return MakeError(ErrorCode::kInvalidArgument, "name must not be empty");
    changes["name"] = **name;
    org.name = **name;
  }
  if (const value* v = call.body.if_contains("max_concurrent_runs"); v != nullptr) {
    if (!v->is_int64() || v->as_int64() < 1 || v->as_int64() > 100) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "max_concurrent_runs must be an integer from 1 to 100");
    }
    org.max_concurrent_runs = static_cast<int>(v->as_int64());
    changes["max_concurrent_runs"] = org.max_concurrent_runs;
  }
  if (const value* v = call.body.if_contains("egress"); v != nullptr) {
    // The whole rule set is replaced ({} removes every rule). Org rules only narrow the
    // server's policy: allow_cidrs is refused (net::ParseOrgEgressRules).
    if (!v->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "egress must be an object");
    }
    auto rules = net::ParseOrgEgressRules(v->as_object());
    if (!rules.ok()) return rules.error();
    // The audit event names the rules that changed (set, altered or removed), not their
    // values.
    auto before = json::Parse(org.egress);
    const object previous =
        before.ok() && before->is_object() ? before->as_object() : object();
    array fields;
    for (const char* rule :
         {"allow_http", "allow_domains", "deny_domains", "allow_ports"}) {
      const value* now = v->as_object().if_contains(rule);
      const value* was = previous.if_contains(rule);
      if ((now == nullptr) != (was == nullptr) || (now != nullptr && *now != *was)) {
        fields.emplace_back(rule);
      }
    }
    changes["egress"] = std::move(fields);
    org.egress = json::Serialize(*v);
  }
  if (Status s = call.tx->UpdateOrg(org); !s.ok()) return s.error();
  if (Status s = call.Audit("org.update", org.id, changes); !s.ok()) return s.error();
  if (changes.contains("max_concurrent_runs")) {
    // Takes effect at once for queued runs; the store has the durable value.
    std::string org_id = org.id;
    int limit = org.max_concurrent_runs;
    call.after_commit = [this, org_id, limit] { deps_.runs->SetOrgLimit(org_id, limit); };
  }
  return server::JsonResponse(200, OrgJson(org));
}

Result<Response> Api::Impl::ListMembers(Call& call) {
  auto page = PageFromQuery(call.request);
  if (!page.ok()) return page.error();
  auto members = call.tx->ListMembers(call.org_id(), *page);
  if (!members.ok()) return members.error();
  array items;
  for (const store::Membership& m : members->items) {
    auto user = call.tx->GetUser(m.user_id);
    if (!user.ok()) return user.error();
    items.push_back(object{{"user_id", m.user_id},
                           {"email", user->has_value() ? (*user)->email : std::string()},
                           {"role", m.role},
                           {"created_at", TimeValue(m.created_at)}});
  }
  return server::JsonResponse(200, ListBody(std::move(items), members->next));
}

// The new user's password is hashed on the password workers, not in a write transaction
// (which would stall every commit behind ~20-50 ms of Argon2id): the read transaction
// validates and decides whether a hash is needed, then one write transaction checks again
// what it saw and adds the member.
Result<Response> Api::Impl::AddMember(Call& call) {
  auto email = RequiredString(call.body, "email", kMaxEmailLength);
  if (!email.ok()) return email.error();
  auto role = RequiredString(call.body, "role", 32);
  if (!role.ok()) return role.error();
  if (!auth::IsRole(*role)) {
    return MakeError(ErrorCode::kInvalidArgument, "role must be owner or developer");
  }
  auto password = OptionalString(call.body, "password", kMaxPasswordLength);
  if (!password.ok()) return password.error();
  std::string normalized = AsciiLowered(*email);
  if (!ValidEmail(normalized)) return MakeError(ErrorCode::kInvalidArgument, "invalid email");
  auto existing = call.tx->GetUserByEmail(normalized);
  if (!existing.ok()) return existing.error();
  if (existing->has_value()) {
    auto membership = call.tx->GetMembership(call.org_id(), (**existing).id);
    if (!membership.ok()) return membership.error();
    if (membership->has_value()) return MakeError(ErrorCode::kConflict, "already a member");
  } else if (!password->has_value() || (*password)->size() < kMinPasswordLength) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a new user needs a password of at least 12 characters");
  }
  const bool new_user = !existing->has_value();
  std::string secret = new_user ? std::move(**password) : std::string();
  call.deferred = [this, new_user, secret = std::move(secret), normalized, role = *role,
                   org_id = call.org_id(), time_ms = call.time_ms,
                   event = call.Event("member.add", "", object{{"role", *role}})](Reply reply) mutable {
    // Adds the member in one write; `hash` is the new user's password hash, if any.
    auto commit = [this, normalized, role, org_id, time_ms, event, reply](std::string hash) mutable {
      auto out = std::make_shared<std::optional<Response>>();
      deps_.store->WriteAsync(
          [this, normalized, role, org_id, time_ms, event, hash, out](store::Tx& tx) mutable -> Status {
            auto now_existing = tx.GetUserByEmail(normalized);
            if (!now_existing.ok()) return now_existing.error();
            store::User user;
            if (now_existing->has_value()) {
              user = **now_existing;
              auto membership = tx.GetMembership(org_id, user.id);
              if (!membership.ok()) return membership.error();
              if (membership->has_value()) return MakeError(ErrorCode::kConflict, "already a member");
            } else {
              // The user was removed after the read: without a password nothing to create.
              if (hash.empty()) return MakeError(ErrorCode::kConflict, "the user changed; retry");
              // The owner chose this password: the member changes it before anything else.
              user = store::User{.id = NewObjectId(*deps_.random, "usr_"),
                                 .email = normalized,
                                 .password_hash = std::move(hash),
                                 .created_at = time_ms,
                                 .must_change_password = true};
              if (Status s = tx.InsertUser(user); !s.ok()) return s;
            }
            store::Membership membership{org_id, user.id, role, time_ms};
            if (Status s = tx.UpsertMembership(membership); !s.ok()) return s;
            event.target = user.id;
            auto appended = tx.AppendAudit(event);
            if (!appended.ok()) return appended.error();
            *out = server::JsonResponse(201, object{{"user_id", user.id},
                                                    {"email", user.email},
                                                    {"role", role},
                                                    {"created_at", TimeValue(time_ms)}});
            return Status::Ok();
          },
          [reply, out](Status written) {
            if (!written.ok()) return reply(written.error());
            reply(std::move(**out));
          });
    };
    if (!new_user) return commit(std::string());
    OnPasswordWorkers(
        [this, commit, secret = std::move(secret), reply]() mutable {
          auto hash = crypto::HashPassword(secret, *deps_.random);
          OPENSSL_cleanse(secret.data(), secret.size());
          if (!hash.ok()) return reply(hash.error());
          commit(std::move(hash).value());
        },
        reply);
  };
  return Response{};
}

Result<Response> Api::Impl::UpdateMember(Call& call) {
  auto role = RequiredString(call.body, "role", 32);
  if (!role.ok()) return role.error();
  if (!auth::IsRole(*role)) {
    return MakeError(ErrorCode::kInvalidArgument, "role must be owner or developer");
  }
  const std::string& user_id = call.request.params.at("user");
  auto membership = call.tx->GetMembership(call.org_id(), user_id);
  if (!membership.ok()) return membership.error();
  if (!membership->has_value()) return MakeError(ErrorCode::kNotFound, "member not found");
  if ((*membership)->role == "owner" && *role != "owner") {
    auto owners = call.tx->CountOwners(call.org_id());
    if (!owners.ok()) return owners.error();
    if (*owners <= 1) return MakeError(ErrorCode::kConflict, "an org needs at least one owner");
  }
  store::Membership updated = **membership;
  std::string before = updated.role;
  updated.role = *role;
  if (Status s = call.tx->UpsertMembership(updated); !s.ok()) return s.error();
  if (Status s = call.Audit("member.role", user_id, object{{"from", before}, {"to", *role}});
      !s.ok()) {
    return s.error();
  }
  return server::JsonResponse(200, object{{"user_id", user_id}, {"role", *role}});
}

Result<Response> Api::Impl::RemoveMember(Call& call) {
  const std::string& user_id = call.request.params.at("user");
  auto membership = call.tx->GetMembership(call.org_id(), user_id);
  if (!membership.ok()) return membership.error();
  if (!membership->has_value()) return MakeError(ErrorCode::kNotFound, "member not found");
  if ((*membership)->role == "owner") {
    auto owners = call.tx->CountOwners(call.org_id());
    if (!owners.ok()) return owners.error();
    if (*owners <= 1) return MakeError(ErrorCode::kConflict, "an org needs at least one owner");
  }
  auto removed = call.tx->DeleteMembership(call.org_id(), user_id);
  if (!removed.ok()) return removed.error();
  // The member's keys of this org are revoked with the membership, in the same
  // transaction: without a membership they already fail (auth.cc), but left unrevoked they
  // would work again the day the user is added back, a credential the owners believed dead.
  int64_t revoked_keys = 0;
  store::PageRequest page{.after = "", .limit = 200};
  while (true) {
    auto keys = call.tx->ListApiKeys(call.org_id(), page);
    if (!keys.ok()) return keys.error();
    for (const store::ApiKey& key : keys->items) {
      if (key.user_id != user_id || key.revoked_at.has_value()) continue;
      auto revoked = call.tx->RevokeApiKey(call.org_id(), key.id, call.time_ms);
      if (!revoked.ok()) return revoked.error();
      if (*revoked) ++revoked_keys;
    }
    if (keys->next.empty()) break;
    page.after = keys->next;
  }
  if (Status s = call.Audit("member.remove", user_id, object{{"revoked_api_keys", revoked_keys}});
      !s.ok()) {
    return s.error();
  }
  return server::JsonResponse(200, object{{"user_id", user_id}, {"removed", true}});
}

// ----- API keys -----

Result<Response> Api::Impl::ListApiKeys(Call& call) {
  auto page = PageFromQuery(call.request);
  if (!page.ok()) return page.error();
  auto keys = call.tx->ListApiKeys(call.org_id(), *page);
  if (!keys.ok()) return keys.error();
  array items;
  for (const store::ApiKey& key : keys->items) items.push_back(ApiKeyJson(key));
  return server::JsonResponse(200, ListBody(std::move(items), keys->next));
}

Result<Response> Api::Impl::CreateApiKey(Call& call) {
  auto name = RequiredString(call.body, "name", kMaxNameLength);
  if (!name.ok()) return name.error();
  auto scope = OptionalString(call.body, "scope", 16);
  if (!scope.ok()) return scope.error();
  std::string scope_value = scope->value_or("read");
  if (scope_value != "read" && scope_value != "read_write") {
    return MakeError(ErrorCode::kInvalidArgument, "scope must be read or read_write");
  }
  // A key never widens its creator: a key-authenticated caller cannot mint a wider key.
  if (call.principal.kind == auth::Principal::Kind::kApiKey &&
      call.principal.api_key_scope != "read_write" && scope_value == "read_write") {
    return MakeError(ErrorCode::kPermissionDenied, "a key cannot create a wider key");
  }
  std::optional<store::Millis> expires_at;
  if (const value* v = call.body.if_contains("expires_at"); v != nullptr && !v->is_null()) {
    std::optional<int64_t> parsed;
    if (v->is_string()) parsed = ParseRfc3339Millis(v->as_string());
    if (!parsed.has_value()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "expires_at must be an RFC 3339 time, e.g. 2030-01-01T00:00:00Z");
    }
    expires_at = *parsed;
    if (*expires_at <= call.time_ms) {
      return MakeError(ErrorCode::kInvalidArgument, "expires_at must be in the future");
    }
  }
  if (Status s = CheckQuota(call.tx->CountActiveApiKeys(call.org_id(), call.time_ms),
                            options_.max_api_keys_per_org, "an org", "active API keys",
                            "revoke one first");
      !s.ok()) {
    return s.error();
  }
  std::string key = crypto::NewApiKey(*deps_.random);
  store::ApiKey row{.id = NewObjectId(*deps_.random, "key_"),
                    .org_id = call.org_id(),
                    .user_id = call.principal.user_id,
                    .name = *name,
                    .hash = crypto::Sha256Hex(key),
                    .hint = key.substr(0, 8) + "..." + key.substr(key.size() - 4),
                    .scope = scope_value,
                    .created_at = call.time_ms,
                    .expires_at = expires_at,
                    .last_used_at = std::nullopt,
                    .revoked_at = std::nullopt};
  if (Status s = call.tx->InsertApiKey(row); !s.ok()) return s.error();
  if (Status s = call.Audit("api_key.create", row.id, object{{"scope", scope_value}}); !s.ok()) {
    return s.error();
  }
  object body = ApiKeyJson(row);
  body["key"] = key;  // shown once
  return server::JsonResponse(201, body);
}

Result<Response> Api::Impl::RevokeApiKey(Call& call) {
  const std::string& id = call.request.params.at("id");
  auto revoked = call.tx->RevokeApiKey(call.org_id(), id, call.time_ms);
  if (!revoked.ok()) return revoked.error();
  if (!*revoked) return MakeError(ErrorCode::kNotFound, "API key not found");
  if (Status s = call.Audit("api_key.revoke", id); !s.ok()) return s.error();
  return server::JsonResponse(200, object{{"id", id}, {"revoked", true}});
}

// ----- workflows -----

bool Api::Impl::MaySee(const Call& call, const store::Workflow& workflow) {
  if (workflow.visibility != "private" || call.access->role == "owner") return true;
  auto first = call.tx->GetWorkflowVersion(call.org_id(), workflow.id, 1);
  return first.ok() && first->has_value() && (*first)->created_by == call.principal.user_id;
}

Result<store::Workflow> Api::Impl::VisibleWorkflow(Call& call, std::string_view id) {
  auto workflow = call.tx->GetWorkflow(call.org_id(), id);
  if (!workflow.ok()) return workflow.error();
  if (!workflow->has_value() || !MaySee(call, **workflow)) {
    return MakeError(ErrorCode::kNotFound, "workflow not found");
  }
  return std::move(**workflow);
}

Result<store::Run> Api::Impl::VisibleRun(Call& call, std::string_view run_id) {
  const Error not_found = MakeError(ErrorCode::kNotFound, "run not found");
  auto run = call.tx->GetRun(call.org_id(), run_id);
  if (!run.ok()) return run.error();
  if (!run->has_value()) return not_found;
  if (call.access->role != auth::kRoleOwner) {
    auto workflow = call.tx->GetWorkflow(call.org_id(), (*run)->workflow_id);
    if (!workflow.ok()) return workflow.error();
    // A run of another generation is a deleted workflow's of the same id: left to
    // owners like any run whose workflow was deleted, whoever created the id again.
    if (!workflow->has_value() || (*run)->workflow_generation != (*workflow)->generation ||
        !MaySee(call, **workflow)) {
      return not_found;
    }
  }
  return std::move(**run);
}

// A child run executes on behalf of the caller of its parent, so the caller's own rights
// decide (ASVS V8.3.3): without this a developer's draft with a `workflow` step would run
// an owner-only or private workflow that the developer may not start. A child that does
// not exist (or has no live version) is left to fail the run, as before.
Status Api::Impl::CheckChildWorkflows(Call& call, const model::Workflow& parent) {
  std::vector<std::string> pending;
  CollectCalledWorkflows(parent.steps, &pending);
  std::set<std::string> checked;
  while (!pending.empty()) {
    const std::string id = std::move(pending.back());
    pending.pop_back();
    if (!checked.insert(id).second) continue;
    const Error denied = MakeError(ErrorCode::kPermissionDenied,
                                   "this workflow calls workflow " + id + ", which you may not run");
    auto workflow = call.tx->GetWorkflow(call.org_id(), id);
    if (!workflow.ok()) return workflow.error();
    if (!workflow->has_value() || (*workflow)->live_version == 0) continue;
    if (!MaySee(call, **workflow)) return denied;
    auto version = call.tx->GetWorkflowVersion(call.org_id(), id, (*workflow)->live_version);
    if (!version.ok()) return version.error();
    if (!version->has_value()) continue;
    auto loaded = deps_.workflows->Get(**version);
    if (!loaded.ok()) return loaded.error();
    if (!auth::CheckWorkflowAuthorization(*call.access, (*loaded)->authorization_roles,
                                          (*loaded)->authorization_permissions)
             .ok()) {
      return denied;
    }
    CollectCalledWorkflows((*loaded)->steps, &pending);
  }
  return Status::Ok();
}

Result<std::shared_ptr<const model::Workflow>> Api::Impl::LoadBodyDefinition(Call& call) {
  std::string_view content_type = call.request.Header("content-type").value_or("");
  model::Format format = model::Format::kAuto;
  if (MediaTypeMentions(content_type, "json")) {
    format = model::Format::kJson;
  } else if (MediaTypeMentions(content_type, "yaml")) {
    format = model::Format::kYaml;
  } else if (!content_type.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "Content-Type must be application/json or application/yaml");
  }
  if (call.request.body.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the request body must be a definition");
  }
  model::LoadResult loaded = model::LoadDefinition(call.request.body, format);
  if (!loaded.ok()) {
    call.definition_errors = loaded.errors;
    return MakeError(ErrorCode::kInvalidDefinition, "invalid definition");
  }
  return loaded.workflow;
}

Result<Response> Api::Impl::ListWorkflows(Call& call) {
  auto page = PageFromQuery(call.request);
  if (!page.ok()) return page.error();
  // MaySee inside the store's query, before the page is cut: pages stay full, and the
  // cursor is always the id of a workflow this caller was shown.
  store::WorkflowFilter filter;
  if (call.access->role != auth::kRoleOwner) filter.visible_to = call.principal.user_id;
  auto workflows = call.tx->ListWorkflows(call.org_id(), filter, *page);
  if (!workflows.ok()) return workflows.error();
  array items;
  for (const store::Workflow& w : workflows->items) items.push_back(WorkflowJson(w));
  return server::JsonResponse(200, ListBody(std::move(items), workflows->next));
}

Result<Response> Api::Impl::CreateWorkflow(Call& call) {
  auto definition = LoadBodyDefinition(call);
  if (!definition.ok()) return definition.error();
  const model::Workflow& w = **definition;
  auto existing = call.tx->GetWorkflow(call.org_id(), w.id);
  if (!existing.ok()) return existing.error();
  if (existing->has_value()) {
    return MakeError(ErrorCode::kConflict,
                     "workflow " + w.id + " already exists; PUT a new version instead");
  }
  // Counted in this write transaction, before the insert: two racing creates cannot both
  // take the last slot.
  if (Status s = CheckQuota(call.tx->CountWorkflows(call.org_id()),
                            options_.max_workflows_per_org, "an org", "workflows",
                            "delete one first");
      !s.ok()) {
    return s.error();
  }
  store::Workflow row{.org_id = call.org_id(),
                      .id = w.id,
                      .name = w.name,
                      .visibility = std::string(model::VisibilityName(w.visibility)),
                      .latest_version = 1,
                      .live_version = 0,
                      .created_at = call.time_ms,
                      .updated_at = call.time_ms};
  store::WorkflowVersion version{.org_id = call.org_id(),
                                 .workflow_id = w.id,
                                 .version = 1,
                                 .definition = json::Serialize(w.source),
                                 .source = call.request.body,
                                 .created_by = call.principal.user_id,
                                 .created_at = call.time_ms};
  if (Status s = call.tx->InsertWorkflow(row); !s.ok()) return s.error();
  if (Status s = call.tx->InsertWorkflowVersion(version); !s.ok()) return s.error();
  if (Status s = call.Audit("workflow.create", w.id, object{{"version", 1}}); !s.ok()) {
    return s.error();
  }
  object body = WorkflowJson(row);
  body["version"] = 1;
  return server::JsonResponse(201, body);
}

Result<Response> Api::Impl::UpdateWorkflow(Call& call) {
  const std::string& id = call.request.params.at("id");
  auto existing = VisibleWorkflow(call, id);
  if (!existing.ok()) return existing.error();
  auto definition = LoadBodyDefinition(call);
  if (!definition.ok()) return definition.error();
  const model::Workflow& w = **definition;
  if (w.id != id) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the definition's id does not match the workflow in the path");
  }
  // Old versions are never deleted to make room (they are what runs and audits refer to).
  if (Status s = CheckQuota(call.tx->CountWorkflowVersions(call.org_id(), id),
                            options_.max_versions_per_workflow, "a workflow", "versions",
                            "create a new workflow instead");
      !s.ok()) {
    return s.error();
  }
  store::Workflow row = std::move(existing).value();
  const std::string visibility_before = row.visibility;
  row.latest_version += 1;
  row.name = w.name;
  if (row.live_version == 0) row.visibility = std::string(model::VisibilityName(w.visibility));
  row.updated_at = call.time_ms;
  store::WorkflowVersion version{.org_id = call.org_id(),
                                 .workflow_id = w.id,
                                 .version = row.latest_version,
                                 .definition = json::Serialize(w.source),
                                 .source = call.request.body,
                                 .created_by = call.principal.user_id,
                                 .created_at = call.time_ms};
  if (Status s = call.tx->InsertWorkflowVersion(version); !s.ok()) return s.error();
  if (Status s = call.tx->UpdateWorkflow(row); !s.ok()) return s.error();
  if (Status s = call.Audit("workflow.update", id, object{{"version", row.latest_version}});
      !s.ok()) {
    return s.error();
  }
  if (row.visibility != visibility_before) {
    if (Status s = call.Audit("workflow.visibility", id,
                              object{{"from", visibility_before}, {"to", row.visibility}});
        !s.ok()) {
      return s.error();
    }
  }
  object body = WorkflowJson(row);
  body["version"] = row.latest_version;
  return server::JsonResponse(200, body);
}

Result<Response> Api::Impl::GetWorkflow(Call& call) {
  auto workflow = VisibleWorkflow(call, call.request.params.at("id"));
  if (!workflow.ok()) return workflow.error();
  std::string_view requested = QueryParam(call.request, "version");
  int version = workflow->latest_version;
  if (requested == "live") {
    version = workflow->live_version;
    if (version == 0) return MakeError(ErrorCode::kNotFound, "the workflow has no live version");
  } else if (!requested.empty() && requested != "draft") {
    std::optional<int64_t> number = ParseDecimal(requested, 10'000'000);
    if (!number.has_value()) {
      return MakeError(ErrorCode::kInvalidArgument, "version must be draft, live or a number");
    }
    version = static_cast<int>(*number);
  }
  auto row = call.tx->GetWorkflowVersion(call.org_id(), workflow->id, version);
  if (!row.ok()) return row.error();
  if (!row->has_value()) return MakeError(ErrorCode::kNotFound, "version not found");
  object body = WorkflowJson(*workflow);
  body["version"] = version;
  auto definition = json::Parse((*row)->definition, {.max_bytes = (*row)->definition.size() + 1,
                                                     .max_depth = 256});
  body["definition"] = definition.ok() ? std::move(definition).value() : value(nullptr);
  return server::JsonResponse(200, body);
}

Result<Response> Api::Impl::DeleteWorkflow(Call& call) {
  const std::string& id = call.request.params.at("id");
  auto workflow = VisibleWorkflow(call, id);
  if (!workflow.ok()) return workflow.error();
  auto hooks = internal::DeleteWorkflowWebhooks(*call.tx, call.org_id(), id);
  if (!hooks.ok()) return hooks.error();
  auto deleted = call.tx->DeleteWorkflow(call.org_id(), id);
  if (!deleted.ok()) return deleted.error();
  if (Status s = call.Audit("workflow.delete", id, object{{"webhooks_deleted", *hooks}});
      !s.ok()) {
    return s.error();
  }
  return server::JsonResponse(200, object{{"id", id}, {"deleted", true}});
}

Result<Response> Api::Impl::ListVersions(Call& call) {
  auto workflow = VisibleWorkflow(call, call.request.params.at("id"));
  if (!workflow.ok()) return workflow.error();
  auto page = PageFromQuery(call.request);
  if (!page.ok()) return page.error();
  auto versions = call.tx->ListWorkflowVersions(call.org_id(), workflow->id, *page);
  if (!versions.ok()) return versions.error();
  array items;
  for (const auto& v : versions->items) {
    items.push_back(object{{"version", v.version},
                           {"live", v.version == workflow->live_version},
                           {"created_by", v.created_by},
                           {"created_at", TimeValue(v.created_at)}});
  }
  return server::JsonResponse(200, ListBody(std::move(items), versions->next));
}

Result<Response> Api::Impl::Publish(Call& call) {
  const std::string& id = call.request.params.at("id");
  auto workflow = VisibleWorkflow(call, id);
  if (!workflow.ok()) return workflow.error();
  const value* v = call.body.if_contains("version");
  if (v == nullptr || !v->is_int64() || v->as_int64() < 1 || v->as_int64() > 1'000'000) {
    return MakeError(ErrorCode::kInvalidArgument, "field \"version\" must be a version number");
  }
  int version = static_cast<int>(v->as_int64());
  auto row = call.tx->GetWorkflowVersion(call.org_id(), id, version);
  if (!row.ok()) return row.error();
  if (!row->has_value()) return MakeError(ErrorCode::kNotFound, "version not found");
  // Re-validate with today's rules and lint: a version saved under older rules, or a
  // public workflow without a strict inputs schema, does not go live.
  model::LoadResult loaded = model::LoadDefinition((*row)->definition, model::Format::kJson);
  if (!loaded.ok()) {
    call.definition_errors = loaded.errors;
    return MakeError(ErrorCode::kInvalidDefinition, "invalid definition");
  }
  store::Workflow updated = std::move(workflow).value();
  std::string before = updated.visibility;
  if (updated.live_version != version) {
    // The schedule of the new live version starts now: a tick from before it was live is
    // not one "missed while the server was down", so the scheduler must not catch it up.
    if (Status s = call.tx->PutScheduleLastFired(call.org_id(), id, call.time_ms); !s.ok()) {
      return s.error();
    }
  }
  updated.live_version = version;
  updated.scheduled = model::HasScheduleTrigger(*loaded.workflow);
  updated.visibility = std::string(model::VisibilityName(loaded.workflow->visibility));
  updated.name = loaded.workflow->name;
  updated.updated_at = call.time_ms;
  if (Status s = call.tx->UpdateWorkflow(updated); !s.ok()) return s.error();
  if (Status s = call.Audit("workflow.publish", id, object{{"version", version}}); !s.ok()) {
    return s.error();
  }
  if (before != updated.visibility) {
    if (Status s = call.Audit("workflow.visibility", id,
                              object{{"from", before}, {"to", updated.visibility}});
        !s.ok()) {
      return s.error();
    }
  }
  object body = WorkflowJson(updated);
  array warnings;
  for (const auto& w : loaded.warnings) {
    warnings.push_back(object{{"path", w.path}, {"code", ErrorCodeName(w.code)}, {"message", w.message}});
  }
  body["warnings"] = std::move(warnings);
  return server::JsonResponse(200, body);
}

// ----- runs -----

namespace {

// A run start with an Idempotency-Key, from its read to its commit's completion.
struct KeyedStart {
  store::RunIdempotencyKey claim;  // run_id and created_at are set in the commit
  std::string in_flight;           // its entry in Api::Impl::idem_in_flight_
  bool tracked = false;            // it made that entry (and removes it)
  std::atomic<bool> lost_race{false};  // set by the commit: a live key holds the scope
};

Result<double> WaitSeconds(const object& body, std::chrono::seconds max_wait) {
  double wait_s = 0;
  if (const value* w = body.if_contains("wait"); w != nullptr && !w->is_null()) {
    if (!w->is_number()) return MakeError(ErrorCode::kInvalidArgument, "wait must be seconds");
    wait_s = w->to_number<double>();
    if (!(wait_s >= 0)) return MakeError(ErrorCode::kInvalidArgument, "wait must be >= 0");
    wait_s = std::min<double>(wait_s, static_cast<double>(max_wait.count()));
  }
  return wait_s;
}

}  // namespace

Result<Response> Api::Impl::StartRun(Call& call) {
  const std::string& id = call.request.params.at("id");
  auto idempotency_key = IdempotencyKeyOf(call.request);
  if (!idempotency_key.ok()) return idempotency_key.error();
  // Only a request with the header pays for it: one read here, one statement in the
  // run's commit.
  std::optional<store::RunIdempotencyKey> claim;
  if (idempotency_key->has_value()) {
    claim.emplace();
    claim->org_id = call.org_id();
    claim->principal = IdempotencyPrincipal(call.principal);
    claim->key = std::string(**idempotency_key);
    claim->request_hash = IdempotencyRequestHash(id, call.request.body);
    auto stored = call.tx->GetRunIdempotencyKey(claim->org_id, claim->principal, claim->key);
    if (!stored.ok()) return stored.error();
    if (stored->has_value() &&
        (*stored)->created_at + kIdempotencyKeyLifetimeMs > call.time_ms) {
      return ReplayRun(call, **stored, claim->request_hash);
    }
  }
  auto workflow = VisibleWorkflow(call, id);
  if (!workflow.ok()) return workflow.error();
  auto requested = OptionalString(call.body, "version", 16);
  if (!requested.ok()) return requested.error();
  int version = 0;
  std::string which = requested->value_or("live");
  if (which == "live") {
    version = workflow->live_version;
    if (version == 0) {
      return MakeError(ErrorCode::kConflict,
                       "the workflow has no live version; publish one or run the draft");
    }
  } else if (which == "draft") {
    version = workflow->latest_version;
  } else {
    return MakeError(ErrorCode::kInvalidArgument, "version must be live or draft");
  }
  auto waited = WaitSeconds(call.body, options_.max_wait);
  if (!waited.ok()) return waited.error();
  const double wait_s = *waited;
  // The version is read in the request's snapshot (the workflow row above came from it
  // too) and handed to the run service loaded, which then does not read it again.
  auto stored = call.tx->GetWorkflowVersion(call.org_id(), id, version);
  if (!stored.ok()) return stored.error();
  if (!stored->has_value()) {
    return MakeError(ErrorCode::kNotFound,
                     "workflow " + id + " version " + std::to_string(version) + " not found");
  }
  auto loaded = deps_.workflows->Get(**stored);
  if (!loaded.ok()) return loaded.error();
  if (Status s = auth::CheckWorkflowAuthorization(*call.access, (*loaded)->authorization_roles,
                                                  (*loaded)->authorization_permissions);
      !s.ok()) {
    return s.error();
  }
  if (Status s = CheckChildWorkflows(call, **loaded); !s.ok()) return s.error();
  runs::Submission submission;
  submission.org_id = call.org_id();
  submission.workflow_id = id;
  submission.workflow_generation = workflow->generation;
  submission.version = version;
  if (const value* input = call.body.if_contains("input"); input != nullptr) {
    submission.input = *input;
  }
  submission.trigger = object{{"type", "api"}, {"received_at", TimeValue(call.time_ms)}};
  submission.actor = call.principal.Actor();
  submission.audit = call.Event("run.start", "", object{{"workflow", id}, {"version", version}});
  submission.workflow = std::move(*loaded);
  // With `wait` the caller waits for the outcome anyway: a side-effect-free workflow is
  // then executed by Submit itself and committed once, final (see rampart/runs/runs.h).
  submission.may_run_inline = wait_s > 0;
  // A keyed start: the key is claimed in the run's own commit (never one without the
  // other). A concurrent first use of the same key loses there: its whole commit (run,
  // audit event) rolls back and it answers for the winner's run instead.
  // One pointer, null without the header: the unkeyed path carries nothing more.
  std::shared_ptr<KeyedStart> keyed;
  if (claim.has_value()) {
    keyed = std::make_shared<KeyedStart>();
    keyed->in_flight = claim->org_id + '\n' + claim->principal + '\n' + claim->key;
    keyed->claim = std::move(*claim);
    submission.in_commit = [this, keyed](store::Tx& tx, const store::Run& run) -> Status {
      keyed->lost_race.store(false);
      store::RunIdempotencyKey key = keyed->claim;
      key.run_id = run.id;
      key.created_at = run.created_at;
      auto claimed =
          tx.ClaimRunIdempotencyKey(key, run.created_at - kIdempotencyKeyLifetimeMs + 1);
      if (!claimed.ok()) return claimed.error();
      if (!*claimed) {
        keyed->lost_race.store(true);
        return MakeError(ErrorCode::kConflict, "Idempotency-Key is in use");
      }
      // Expired keys go lazily, a bounded batch now and then, in a keyed commit only.
      const store::Millis last = idem_last_prune_.load(std::memory_order_relaxed);
      if (run.created_at - last > kIdempotencyPruneEveryMs) {
        idem_last_prune_.store(run.created_at, std::memory_order_relaxed);
        auto pruned = tx.PruneRunIdempotencyKeys(run.created_at - kIdempotencyKeyLifetimeMs,
                                                 kIdempotencyPruneBatch);
        if (!pruned.ok()) return pruned.error();
      }
      return Status::Ok();
    };
  }
  // The run is submitted after the request's read transaction: Submit commits on its
  // own (group-committed with other requests).
  // Nothing blocks meanwhile: the answer comes from the commit's completion, or from the
  // run service when the run settles or the wait times out.
  call.deferred = [this, submission = std::move(submission), wait_s, keyed = std::move(keyed),
                   client = call.client](Reply reply) mutable {
    if (keyed) {
      std::lock_guard lock(idem_mu_);
      keyed->tracked = idem_in_flight_.insert(keyed->in_flight).second;
      // The same key is being started right now: this one's commit loses to it, so it
      // must not execute a run first.
      if (!keyed->tracked) submission.may_run_inline = false;
    }
    deps_.runs->SubmitAsync(std::move(submission), [this, wait_s, reply, keyed, client](
                                                       Result<store::Run> run) {
      if (keyed && keyed->tracked) {
        std::lock_guard lock(idem_mu_);
        idem_in_flight_.erase(keyed->in_flight);
      }
      if (!run.ok()) {
        if (keyed && keyed->lost_race.load()) {
          return ReplayAfterLostRace(keyed->claim, wait_s, reply, client);
        }
        return reply(RunRefusal(run.error()));
      }
      if (wait_s > 0 && FinishedInline(*run)) {
        // Executed inline and already final: its record (status included) is the answer,
        // as GET .../runs/{id} would serve it, without parsing it back.
        Response response;
        response.status = 200;
        response.body = std::move(run->record);
        return reply(std::move(response));
      }
      if (wait_s <= 0) {
        return reply(
            server::JsonResponse(202, object{{"run_id", run->id}, {"status", run->status}}));
      }
      AnswerWhenSettled(*run, wait_s, /*replayed=*/false, reply, client);
    });
  };
  return Response{};
}

Result<Response> Api::Impl::ReplayRun(Call& call, const store::RunIdempotencyKey& stored,
                                      std::string_view request_hash) {
  if (stored.request_hash != request_hash) {
    return MakeError(ErrorCode::kConflict, "Idempotency-Key was used for a different request");
  }
  // The body is the one that started the run, so it parses as it did then.
  auto waited = WaitSeconds(call.body, options_.max_wait);
  if (!waited.ok()) return waited.error();
  // As visible as any run: the key does not outlive the caller's access to it.
  auto run = VisibleRun(call, stored.run_id);
  if (!run.ok()) return run.error();
  idempotent_replays_->fetch_add(1, std::memory_order_relaxed);
  call.deferred = [this, run = std::move(*run), wait_s = *waited,
                   client = call.client](Reply reply) {
    AnswerReplay(run, wait_s, std::move(reply), client);
  };
  return Response{};
}

void Api::Impl::ReplayAfterLostRace(const store::RunIdempotencyKey& mine, double wait_s,
                                    Reply reply, const server::Responder& client) {
  std::optional<store::RunIdempotencyKey> winner;
  std::optional<store::Run> run;
  Status read = deps_.store->Read([&](store::Tx& tx) -> Status {
    auto key = tx.GetRunIdempotencyKey(mine.org_id, mine.principal, mine.key);
    if (!key.ok()) return key.error();
    winner = std::move(*key);
    if (!winner || winner->request_hash != mine.request_hash) return Status::Ok();
    auto r = tx.GetRun(mine.org_id, winner->run_id);
    if (!r.ok()) return r.error();
    run = std::move(*r);
    return Status::Ok();
  });
  if (!read.ok()) return reply(read.error());
  if (winner && winner->request_hash != mine.request_hash) {
    return reply(MakeError(ErrorCode::kConflict,
                           "Idempotency-Key was used for a different request"));
  }
  if (!run) {
    // The concurrent request's commit failed too: nothing holds the key; a retry starts
    // the run.
    return reply(MakeError(ErrorCode::kConflict,
                           "a concurrent request with this Idempotency-Key did not complete; "
                           "retry"));
  }
  idempotent_replays_->fetch_add(1, std::memory_order_relaxed);
  AnswerReplay(*run, wait_s, std::move(reply), client);
}

void Api::Impl::AnswerReplay(const store::Run& run, double wait_s, Reply reply,
                             const server::Responder& client) {
  if (wait_s > 0 && store::IsFinalRunStatus(run.status)) {
    return reply(Replayed(server::JsonResponse(200, RunRecordJson(run))));
  }
  Response accepted =
      Replayed(server::JsonResponse(202, object{{"run_id", run.id}, {"status", run.status}}));
  if (wait_s <= 0 || run.status == "awaiting_approval") return reply(std::move(accepted));
  // Still queued or running: waits as the first request would have.
  AnswerWhenSettled(run, wait_s, /*replayed=*/true, std::move(reply), client);
}

void Api::Impl::AnswerWhenSettled(const store::Run& run, double wait_s, bool replayed,
                                  Reply reply, const server::Responder& client) {
  auto answer = [replayed](int status, value body) {
    Response r = server::JsonResponse(status, std::move(body));
    return replayed ? Replayed(std::move(r)) : r;
  };
  Response accepted = answer(202, object{{"run_id", run.id}, {"status", run.status}});
  const uint64_t waiter = deps_.runs->WaitAsync(
      run.org_id, run.id, std::chrono::milliseconds(static_cast<int64_t>(wait_s * 1000)),
      [reply, answer, accepted = std::move(accepted)](std::optional<store::Run> settled) mutable {
        if (!settled.has_value()) return reply(std::move(accepted));
        // spec/interfaces.md: the run record "when it finished within wait". A run that
        // stopped at an approval has not: 202 with its id and status, at once.
        if (!store::IsFinalRunStatus(settled->status)) {
          return reply(answer(202, object{{"run_id", settled->id}, {"status", settled->status}}));
        }
        reply(answer(200, RunRecordJson(*settled)));
      });
  EndWaitIfClientGone(*deps_.runs, client, run, waiter);
}

Result<Response> Api::Impl::ListRuns(Call& call) {
  auto page = PageFromQuery(call.request);
  if (!page.ok()) return page.error();
  store::RunFilter filter;
  filter.workflow_id = std::string(QueryParam(call.request, "workflow"));
  filter.status = std::string(QueryParam(call.request, "status"));
  static constexpr std::string_view kStatuses[] = {"queued",    "running", "awaiting_approval",
                                                   "succeeded", "failed",  "cancelled"};
  if (!filter.status.empty() &&
      std::find(std::begin(kStatuses), std::end(kStatuses), filter.status) == std::end(kStatuses)) {
    return MakeError(ErrorCode::kInvalidArgument, "unknown status");
  }
  // The rule of VisibleRun, in the store's query (filtering a page after reading it would
  // leave pages short and could end the list early).
  if (call.access->role != auth::kRoleOwner) filter.visible_to = call.principal.user_id;
  auto runs = call.tx->ListRuns(call.org_id(), filter, *page);
  if (!runs.ok()) return runs.error();
  array items;
  for (const store::Run& run : runs->items) items.push_back(RunSummaryJson(run));
  return server::JsonResponse(200, ListBody(std::move(items), runs->next));
}

Result<Response> Api::Impl::GetRun(Call& call) {
  auto run = VisibleRun(call, call.request.params.at("run_id"));
  if (!run.ok()) return run.error();
  return server::JsonResponse(200, RunRecordJson(*run));
}

Result<Response> Api::Impl::CancelRun(Call& call) {
  const std::string& run_id = call.request.params.at("run_id");
  auto run = VisibleRun(call, run_id);
  if (!run.ok()) return run.error();
  std::string org_id = call.org_id();
  store::AuditEvent event = call.Event("run.cancel", run_id);
  // On the io thread, which waits for the cancellation's commit (a rare request).
  call.deferred = [this, org_id, run_id, event](Reply reply) mutable {
    auto cancelled = deps_.runs->Cancel(org_id, run_id);
    // Audited with the real outcome, after the run service decided.
    event.outcome = cancelled.ok() ? "success" : "failure";
    if (!cancelled.ok()) event.details = json::Serialize(object{{"code", cancelled.error().code_name()}});
    (void)audit::Append(*deps_.store, event);
    if (!cancelled.ok()) return reply(cancelled.error());
    // The run's status after the request, one of the run statuses of spec/workflow.md: a
    // queued or waiting run is `cancelled` already; a running one stops between steps
    // (`cancel_requested`), and its record says when it is `cancelled`.
    const std::string& status = *cancelled;
    reply(server::JsonResponse(202, object{{"run_id", run_id},
                                           {"status", status},
                                           {"cancel_requested", status != "cancelled"}}));
  };
  return Response{};
}

// Decisions are audited (run.approve / run.reject) in the transaction that records them.
// A refused decider is audited as denied: that transaction then commits the audit event
// alone (nothing else was written) and the refusal is the response.
Result<Response> Api::Impl::DecideApproval(Call& call) {
  const std::string& run_id = call.request.params.at("run_id");
  auto step = RequiredString(call.body, "step", 300);
  if (!step.ok()) return step.error();
  auto decision = RequiredString(call.body, "decision", 16);
  if (!decision.ok()) return decision.error();
  if (*decision != "approve" && *decision != "reject") {
    return MakeError(ErrorCode::kInvalidArgument, "decision must be approve or reject");
  }
  auto comment = OptionalString(call.body, "comment", runs::kMaxApprovalComment);
  if (!comment.ok()) return comment.error();
  if (auto run = VisibleRun(call, run_id); !run.ok()) return run.error();

  runs::Approver approver;
  if (call.principal.kind != auth::Principal::Kind::kMasterKey) {
    approver.user_id = call.principal.user_id;
    approver.role = call.access->role;
    auto user = call.tx->GetUser(approver.user_id);
    if (!user.ok()) return user.error();
    if (user->has_value()) approver.email = (*user)->email;
  }
  runs::ApprovalDecision d{*step, *decision == "approve", comment->value_or("")};
  const std::string action = d.approve ? "run.approve" : "run.reject";
  auto outcome =
      runs::RecordApprovalDecision(*call.tx, call.org_id(), run_id, approver, d, call.time_ms);
  if (!outcome.ok()) {
    if (outcome.error().code != ErrorCode::kPermissionDenied) return outcome.error();
    if (Status s = call.Audit(action, run_id,
                              object{{"step", json::Excerpt(*step, 100)},
                                     {"reason", outcome.error().message}},
                              "denied");
        !s.ok()) {
      return s.error();
    }
    return server::ErrorResponse(outcome.error(), call.request.request_id);
  }
  if (Status s = call.Audit(action, run_id,
                            object{{"workflow", outcome->workflow_id},
                                   {"step", outcome->step},
                                   {"approvals", outcome->approvals},
                                   {"needed", outcome->needed}});
      !s.ok()) {
    return s.error();
  }
  if (outcome->settled) {
    call.after_commit = [this, org_id = call.org_id(), run_id] {
      (void)deps_.runs->Resume(org_id, run_id);
    };
  }
  return server::JsonResponse(
      200, object{{"run_id", run_id},
                  {"step", outcome->step},
                  {"decision", *decision},
                  {"approvals", outcome->approvals},
                  {"needed", outcome->needed},
                  {"status", outcome->settled ? "queued" : "awaiting_approval"}});
}

// ----- audit, public, metrics -----

// Pages two ways: `after=<seq>` / `next_after` (the spec's route table; next_after is the
// last seq shown, so a follower polls on with it), and the opaque `cursor` / `next_cursor`
// of every list (null on the last page).
Result<Response> Api::Impl::ListAudit(Call& call) {
  int64_t after = 0;
  int limit = 100;
  std::string_view a = QueryParam(call.request, "after");
  std::string_view cursor = QueryParam(call.request, "cursor");
  if (!a.empty() && !cursor.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "give after or cursor, not both");
  }
  if (!a.empty()) {
    std::optional<int64_t> n = ParseDecimal(a, INT64_MAX / 10);
    if (!n.has_value()) {
      return MakeError(ErrorCode::kInvalidArgument, "after must be an event sequence number");
    }
    after = *n;
  }
  if (!cursor.empty()) {
    auto decoded = DecodeCursor(cursor);
    if (!decoded.ok()) return decoded.error();
    std::optional<int64_t> n;
    if (decoded->starts_with(kAuditCursorPrefix)) {
      n = ParseDecimal(std::string_view(*decoded).substr(kAuditCursorPrefix.size()),
                       INT64_MAX / 10);
    }
    if (!n.has_value()) return MakeError(ErrorCode::kInvalidArgument, "invalid cursor");
    after = *n;
  }
  if (std::string_view l = QueryParam(call.request, "limit"); !l.empty()) {
    std::optional<int64_t> n = ParseDecimal(l, 500);
    if (!n.has_value() || *n < 1) {
      return MakeError(ErrorCode::kInvalidArgument, "limit must be an integer from 1 to 500");
    }
    limit = static_cast<int>(*n);
  }
  // One more than the page: whether another page follows.
  auto events = call.tx->ListAudit(call.org_id(), after, limit + 1);
  if (!events.ok()) return events.error();
  const bool more = events->size() > static_cast<size_t>(limit);
  if (more) events->pop_back();
  array items;
  for (const auto& e : *events) items.push_back(AuditJson(e));
  object body;
  body["next_after"] = events->empty() ? value(nullptr) : value(events->back().seq);
  body["items"] = std::move(items);
  body["next_cursor"] =
      more ? value(EncodeCursor(std::string(kAuditCursorPrefix) + std::to_string(events->back().seq)))
           : value(nullptr);
  return server::JsonResponse(200, body);
}

Result<Response> Api::Impl::RunPublic(Call& call) {
  const Error not_found = MakeError(ErrorCode::kNotFound, "workflow not found");
  auto org = call.tx->GetOrgBySlug(call.request.params.at("org_slug"));
  if (!org.ok()) return org.error();
  if (!org->has_value()) return not_found;
  const std::string& id = call.request.params.at("workflow_id");
  auto workflow = call.tx->GetWorkflow((*org)->id, id);
  if (!workflow.ok()) return workflow.error();
  if (!workflow->has_value() || (*workflow)->live_version == 0) return not_found;
  auto version = call.tx->GetWorkflowVersion((*org)->id, id, (*workflow)->live_version);
  if (!version.ok()) return version.error();
  if (!version->has_value()) return not_found;
  auto loaded = deps_.workflows->Get(**version);
  if (!loaded.ok()) return not_found;
  if ((*loaded)->visibility != model::Visibility::kPublic) return not_found;
  value input = object();
  if (!call.request.body.empty()) {
    auto parsed = json::Parse(call.request.body, {.max_bytes = call.request.body.size(), .max_depth = 32});
    if (!parsed.ok()) return MakeError(ErrorCode::kInvalidArgument, "the body must be JSON");
    input = std::move(parsed).value();
  }
  runs::Submission submission;
  submission.org_id = (*org)->id;
  submission.workflow_id = id;
  submission.workflow_generation = (*workflow)->generation;
  submission.version = (*workflow)->live_version;
  submission.input = std::move(input);
  submission.trigger = object{{"type", "public"}, {"received_at", TimeValue(call.time_ms)}};
  submission.actor = "public";
  submission.audit = call.Event("run.start", "", object{{"workflow", id}, {"version", (*workflow)->live_version}});
  submission.audit->org_id = (*org)->id;
  submission.audit->actor = "public";
  // The caller waits for the outcome: a side-effect-free workflow runs inline.
  submission.workflow = *loaded;
  submission.may_run_inline = true;
  call.deferred = [this, submission = std::move(submission),
                   client = call.client](Reply reply) mutable {
    std::string org_id = submission.org_id;
    deps_.runs->SubmitAsync(std::move(submission), [this, org_id, reply,
                                                    client](Result<store::Run> run) {
      if (!run.ok()) return reply(PublicRunRefusal(run.error()));
      // Only the run id, status and output leave: never the record.
      auto answer = [reply, submitted = *run](const std::optional<store::Run>& finished) {
        const store::Run& r = finished.has_value() ? *finished : submitted;
        object body{{"run_id", r.id}, {"status", r.status}, {"output", nullptr}};
        if (finished.has_value() && r.status == "succeeded") {
          value record = RunRecordJson(r);
          if (const value* output = record.as_object().if_contains("output")) body["output"] = *output;
        }
        reply(server::JsonResponse(finished.has_value() ? 200 : 202, body));
      };
      if (FinishedInline(*run)) return answer(*run);
      const uint64_t waiter = deps_.runs->WaitAsync(org_id, run->id, std::chrono::seconds(10), answer);
      EndWaitIfClientGone(*deps_.runs, client, *run, waiter);
    });
  };
  return Response{};
}

Result<Response> Api::Impl::Metrics(Call& call) {
  Response response;
  response.status = 200;
  response.content_type = "text/plain; version=0.0.4; charset=utf-8";
  response.body = deps_.metrics != nullptr ? deps_.metrics->RenderPrometheus() : std::string();
  return response;
}

// ----- setup token -----

Result<std::string> EnsureSetupToken(store::Store& store, const std::string& path, Clock& clock,
                                     Random& random) {
  std::string token;
  bool set_up = false;
  const store::Millis now = UnixMillis(clock.Now());
  Status status = store.Write([&](store::Tx& tx) -> Status {
    auto orgs = tx.CountOrgs();
    if (!orgs.ok()) return orgs.error();
    set_up = *orgs > 0;
    if (set_up) return Status::Ok();
    auto expires = tx.GetSetting(kSetupTokenExpiresKey);
    if (!expires.ok()) return expires.error();
    if (expires->has_value() && std::stoll(**expires) > now && ::access(path.c_str(), F_OK) == 0) {
      return Status::Ok();  // the unexpired token in the file is still valid
    }
    token = crypto::NewSetupToken(random);
    if (Status s = tx.PutSetting(kSetupTokenHashKey, crypto::Sha256Hex(token)); !s.ok()) return s;
    return tx.PutSetting(kSetupTokenExpiresKey, std::to_string(now + 3'600'000));
  });
  if (!status.ok()) return status.error();
  if (set_up) {
    ::unlink(path.c_str());  // a leftover token file is useless now; do not leave it around
    return std::string();
  }
  if (token.empty()) return path;
  ::unlink(path.c_str());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "cannot write the setup token file");
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok) return MakeError(ErrorCode::kInternal, "cannot write the setup token file");
  return path;
}

// ----- connectors -----

Result<Response> Api::Impl::ConnectorRoute(Call& call, Permission permission,
                                           Result<Response> (*handler)(ConnectorCall&)) {
  auto id = call.request.params.find("id");
  ConnectorCall connector_call{
      .store = *deps_.store,
      .read_tx = *call.tx,
      .keyring = deps_.keyring,
      .org_id = call.org_id(),
      .body = call.body,
      .id = id != call.request.params.end() ? std::string(id->second) : std::string(),
      .request = call.request,
      .now = call.time_ms,
      .max_connectors = options_.max_connectors_per_org,
      .reauthorize = [&call, permission](store::Tx& tx) -> Status {
        auto access = auth::AuthorizeOrg(tx, call.principal, call.org_id(), permission);
        if (!access.ok()) return access.error();
        return Status::Ok();
      },
      .audit = [&call](store::Tx& tx, std::string_view action, std::string_view target,
                       object details) -> Status {
        auto appended = tx.AppendAudit(call.Event(action, target, std::move(details)));
        if (!appended.ok()) return appended.error();
        return Status::Ok();
      },
  };
  return handler(connector_call);
}

Result<Response> Api::Impl::ListConnectors(Call& call) {
  return ConnectorRoute(call, Permission::kConnectorsRead, &ListConnectorsHandler);
}
Result<Response> Api::Impl::GetConnector(Call& call) {
  return ConnectorRoute(call, Permission::kConnectorsRead, &GetConnectorHandler);
}
Result<Response> Api::Impl::CreateConnector(Call& call) {
  return ConnectorRoute(call, Permission::kConnectorsWrite, &CreateConnectorHandler);
}
Result<Response> Api::Impl::UpdateConnector(Call& call) {
  return ConnectorRoute(call, Permission::kConnectorsWrite, &UpdateConnectorHandler);
}
Result<Response> Api::Impl::DeleteConnector(Call& call) {
  return ConnectorRoute(call, Permission::kConnectorsDelete, &DeleteConnectorHandler);
}

// ----- webhooks -----

Result<Response> Api::Impl::WebhookRoute(
    Call& call, Result<Response> (*handler)(internal::WebhookManageCall&)) {
  auto workflow = VisibleWorkflow(call, call.request.params.at("id"));
  if (!workflow.ok()) return workflow.error();
  auto hook_id = call.request.params.find("hook_id");
  internal::WebhookManageCall manage{
      .tx = *call.tx,
      .org_id = call.org_id(),
      .workflow_id = workflow->id,
      .hook_id = hook_id != call.request.params.end() ? hook_id->second : std::string(),
      .now = call.time_ms,
      .random = *deps_.random,
      .request = call.request,
      .audit = [&call](std::string_view action, std::string_view target,
                       object details) { return call.Audit(action, target, std::move(details)); },
  };
  return handler(manage);
}

Result<Response> Api::Impl::ListWebhooks(Call& call) {
  return WebhookRoute(call, &internal::ListWebhooksHandler);
}
Result<Response> Api::Impl::CreateWebhook(Call& call) {
  return WebhookRoute(call, &internal::CreateWebhookHandler);
}
Result<Response> Api::Impl::RotateWebhook(Call& call) {
  return WebhookRoute(call, &internal::RotateWebhookHandler);
}
Result<Response> Api::Impl::DeleteWebhook(Call& call) {
  return WebhookRoute(call, &internal::DeleteWebhookHandler);
}
Result<Response> Api::Impl::ReceiveHook(Call& call) {
  return internal::ReceiveWebhook(*webhooks_, call.request, &call.deferred, call.client);
}

// ----- support grants and diagnostics -----

SupportGrantCall Api::Impl::GrantCall(Call& call) {
  return SupportGrantCall{
      .tx = *call.tx,
      .org = call.access->org,
      .request = call.request,
      .body = call.body,
      .user_id = call.principal.user_id,
      .now = call.time_ms,
      .random = *deps_.random,
      .audit = [&call](std::string_view action, std::string_view target,
                       object details) { return call.Audit(action, target, std::move(details)); },
  };
}

Result<Response> Api::Impl::ListSupportGrants(Call& call) {
  SupportGrantCall grant_call = GrantCall(call);
  return ListSupportGrantsHandler(grant_call);
}
Result<Response> Api::Impl::CreateSupportGrant(Call& call) {
  SupportGrantCall grant_call = GrantCall(call);
  return CreateSupportGrantHandler(grant_call);
}
Result<Response> Api::Impl::RevokeSupportGrant(Call& call) {
  SupportGrantCall grant_call = GrantCall(call);
  return RevokeSupportGrantHandler(grant_call);
}

Result<Response> Api::Impl::Diagnostics(Call& call) {
  ServerInfo info{
      .version = options_.version,
      .build = options_.build,
      .uptime_s = std::chrono::duration_cast<std::chrono::seconds>(deps_.clock->Monotonic() -
                                                                   started_)
                      .count()};
  auto body = DiagnosticsBody(*call.tx, call.access->org, info);
  if (!body.ok()) return body.error();
  // The ping needs a connection of its own: after the transaction gave its back.
  call.deferred = [this, body = std::move(body).value()](Reply reply) mutable {
    body["store"] = object{{"reachable", deps_.store->Ping().ok()}};
    reply(server::JsonResponse(200, body));
  };
  return Response{};
}

Result<Response> Api::Impl::DiagnosticsLogs(Call& call) {
  return DiagnosticsLogsHandler(call.request, call.org_id(), deps_.org_log);
}

// ----- outbound execution hooks -----

// Deliveries show a run's event payloads (its outcome): the run's visibility applies.
Result<Response> Api::Impl::ListRunHooks(Call& call) {
  if (auto run = VisibleRun(call, call.request.params.at("run_id")); !run.ok()) {
    return run.error();
  }
  return internal::ListRunHooksHandler(*call.tx, call.org_id(), call.request.params.at("run_id"),
                                       call.request);
}
Result<Response> Api::Impl::RedeliverRunHooks(Call& call) {
  if (auto run = VisibleRun(call, call.request.params.at("run_id")); !run.ok()) {
    return run.error();
  }
  return internal::RedeliverRunHooksHandler(
      *call.tx, call.org_id(), call.request.params.at("run_id"), call.body, call.time_ms,
      [&call](std::string_view action, std::string_view target, object details) {
        return call.Audit(action, target, std::move(details));
      });
}

}  // namespace rampart::api
