// Inbound webhook triggers (spec/interfaces.md "Inbound webhook authentication",
// spec/security.md sections 2 and 6): trigger URL management and POST /hooks/{token}.
//
// POST /hooks/{token} does its checks in this order, and nothing after a failed check
// runs (in particular the body is never parsed and no run is created):
//   1. size, from the request head (before any body byte is read): the route's max_body
//      (ApiOptions::max_webhook_body), then the trigger's max_payload - the token is
//      resolved by the route's body_limit (WebhookReceiver::BodyLimit), so a declared
//      length over max_payload is answered 413 at once and a chunked body is cut off once
//      past it -> 413, counted as too_large by the route's on_too_large
//   2. token: well-formed "rwh_..." whose SHA-256 is a stored trigger, compared in
//      constant time -> 401 for anything unknown (rotated, deleted, or a workflow without
//      a live version carrying a webhook trigger): the URL token is a credential
//      (spec/security.md section 2), so its failure is the very 401 of a bad signature -
//      one answer for all, so the URL space cannot be probed for state
//   3. authentication by the live version's trigger `auth` with the secret of its
//      connector (decrypted here, never logged) -> 401, one message whatever was wrong
//   4. replay: timestamp within +-replay_window, delivery id not seen -> 409
//   5. ip_allowlist against the client address -> 403: the TCP peer, or, behind a
//      configured trusted proxy, the right-most X-Forwarded-For entry it vouches for
//      (api::ClientAddress, applied in Dispatch); a spoofed header from anyone else is
//      ignored.
//   6. rate limit: token bucket per trigger (rpm/burst, default 600/50), then per org
//      (ApiOptions::webhook_org_rpm/burst, across all its triggers), in memory -> 429
//   7. Content-Type application/json and a JSON body -> 400
//   8. inputs schema (RunService::Submit) -> 400 with the validation errors
//   9. durable enqueue -> 202 {run_id}, or with `mode: sync` the run's `respond` step
//      response (waiting at most ApiOptions::max_wait; 202 if the run is not done).
//
// Steps 1-3 need what the token resolves to (hook, live version, trigger spec, the
// connector's sealed secret). It is read from the store once and then kept in a
// TriggerCache (trigger_cache.h: invalidated by every change through the API, generation-
// checked against concurrent reads, bounded, expiring), so a request to a known trigger -
// a forgery flood included - is answered up to authentication without any store access.
// The plaintext secret exists only while one request is verified.
//
// Delivery ids are recorded in the store (unique key) only once every check up to the
// schema passed, and in the commit of the run they start, so neither a request rejected
// by 403/429/400 nor one whose run was not stored burns the id its sender will retry
// with. GitHub does not sign X-GitHub-Delivery: for github triggers the SHA-256 of the
// body is recorded as well, so a captured delivery replayed under a new id is still a
// replay.
#include <algorithm>
#include <atomic>
#include <limits>
#include <openssl/crypto.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/common.h"
#include "api/connectors.h"
#include "api/trigger_cache.h"
#include "rampart/api/api.h"
#include "rampart/audit/chain.h"
#include "rampart/core/json.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/tokens.h"
#include "rampart/model/workflow.h"
#include "rampart/webhooks/verify.h"

namespace rampart::api::internal {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;
using server::Request;
using server::Response;
using webhooks::Outcome;

constexpr size_t kDefaultMaxPayload = 1 << 20;
constexpr int kDefaultRpm = 600;
constexpr int kDefaultBurst = 50;
// Delivery ids are kept 48 h: 24 h (spec) plus the largest replay window, since a
// timestamp may be up to replay_window ahead of the clock.
constexpr store::Millis kDeliveryRetentionMs = 48LL * 3600 * 1000;
constexpr store::Millis kPruneEveryMs = 10 * 60 * 1000;
constexpr int kPruneBatch = 5000;
constexpr int kMaxHooksPerWorkflow = 20;

object WebhookJson(const store::Webhook& w) {
  return object{{"id", w.id},
                {"workflow_id", w.workflow_id},
                {"created_at", TimeValue(w.created_at)},
                {"rotated_at", TimeValue(w.rotated_at)},
                {"use_count", w.use_count},
                {"last_used_at", TimeValue(w.last_used_at)}};
}

std::string NewHookId(Random& random) {
  return "hk_" + crypto::NewOpaqueToken(random, "hka_").substr(4, 22);
}

// A sync trigger's answer for its settled run: the status and body of its `respond`
// step when that step succeeded, else the run id and status.
Response SyncAnswer(const store::Run& finished) {
  value record = RunRecordJson(finished);
  if (const value* steps = record.as_object().if_contains("steps");
      steps != nullptr && steps->is_array()) {
    for (const value& step : steps->get_array()) {
      if (!step.is_object()) continue;
      const object& o = step.get_object();
      const value* t = o.if_contains("type");
      const value* st = o.if_contains("status");
      const value* out = o.if_contains("output");
      if (t != nullptr && t->is_string() && t->get_string() == "respond" && st != nullptr &&
          st->is_string() && st->get_string() == "succeeded" && out != nullptr &&
          out->is_object()) {
        const value* status = out->get_object().if_contains("status");
        const value* body = out->get_object().if_contains("body");
        int code = status != nullptr && status->is_int64() ? static_cast<int>(status->get_int64())
                                                           : 200;
        Response response = server::JsonResponse(code, body != nullptr ? *body : value());
        response.headers.emplace_back("X-Rampart-Run-Id", finished.id);
        return response;
      }
    }
  }
  return server::JsonResponse(200, object{{"run_id", finished.id}, {"status", finished.status}});
}

Response Reject(const Error& error, const Request& request, int retry_after = 0) {
  return server::ErrorResponse(error, request.request_id, retry_after);
}

}  // namespace

// ----- management -----

Result<Response> ListWebhooksHandler(WebhookManageCall& call) {
  auto page = PageFromQuery(call.request);
  if (!page.ok()) return page.error();
  auto hooks = call.tx.ListWebhooks(call.org_id, call.workflow_id, *page);
  if (!hooks.ok()) return hooks.error();
  array items;
  for (const store::Webhook& w : hooks->items) items.push_back(WebhookJson(w));
  return server::JsonResponse(200, ListBody(std::move(items), hooks->next));
}

Result<Response> CreateWebhookHandler(WebhookManageCall& call) {
  auto existing = call.tx.ListWebhooks(call.org_id, call.workflow_id,
                                       {.after = "", .limit = kMaxHooksPerWorkflow});
  if (!existing.ok()) return existing.error();
  if (existing->items.size() >= static_cast<size_t>(kMaxHooksPerWorkflow)) {
    return MakeError(ErrorCode::kConflict, "a workflow has at most 20 trigger URLs");
  }
  const std::string token = crypto::NewOpaqueToken(call.random, crypto::kWebhookTokenPrefix);
  store::Webhook hook{.org_id = call.org_id,
                      .id = NewHookId(call.random),
                      .workflow_id = call.workflow_id,
                      .token_hash = crypto::Sha256Hex(token),
                      .created_at = call.now,
                      .rotated_at = std::nullopt,
                      .use_count = 0,
                      .last_used_at = std::nullopt};
  if (Status s = call.tx.InsertWebhook(hook); !s.ok()) return s.error();
  if (Status s = call.audit("webhook.create", hook.id, object{{"workflow", call.workflow_id}});
      !s.ok()) {
    return s.error();
  }
  object body = WebhookJson(hook);
  body["url"] = "/hooks/" + token;  // shown once: only its hash is stored
  return server::JsonResponse(201, body);
}

namespace {
Result<store::Webhook> HookOfWorkflow(WebhookManageCall& call) {
  auto hook = call.tx.GetWebhook(call.org_id, call.hook_id);
  if (!hook.ok()) return hook.error();
  if (!hook->has_value() || (*hook)->workflow_id != call.workflow_id) {
    return MakeError(ErrorCode::kNotFound, "webhook not found");
  }
  return std::move(**hook);
}
}  // namespace

Result<Response> RotateWebhookHandler(WebhookManageCall& call) {
  auto hook = HookOfWorkflow(call);
  if (!hook.ok()) return hook.error();
  const std::string token = crypto::NewOpaqueToken(call.random, crypto::kWebhookTokenPrefix);
  if (Status s = call.tx.RotateWebhook(call.org_id, hook->id, crypto::Sha256Hex(token), call.now);
      !s.ok()) {
    return s.error();
  }
  if (Status s = call.audit("webhook.rotate", hook->id, object{{"workflow", call.workflow_id}});
      !s.ok()) {
    return s.error();
  }
  hook->rotated_at = call.now;
  object body = WebhookJson(*hook);
  body["url"] = "/hooks/" + token;
  return server::JsonResponse(200, body);
}

Result<Response> DeleteWebhookHandler(WebhookManageCall& call) {
  auto hook = HookOfWorkflow(call);
  if (!hook.ok()) return hook.error();
  auto deleted = call.tx.DeleteWebhook(call.org_id, hook->id);
  if (!deleted.ok()) return deleted.error();
  if (Status s = call.audit("webhook.delete", hook->id, object{{"workflow", call.workflow_id}});
      !s.ok()) {
    return s.error();
  }
  return server::JsonResponse(200, object{{"id", hook->id}, {"deleted", true}});
}

Result<int> DeleteWorkflowWebhooks(store::Tx& tx, std::string_view org_id,
                                   std::string_view workflow_id) {
  int deleted = 0;
  for (;;) {
    // Always the first page: what was listed is deleted before the next listing.
    auto hooks = tx.ListWebhooks(std::string(org_id), std::string(workflow_id),
                                 {.after = "", .limit = kMaxHooksPerWorkflow});
    if (!hooks.ok()) return hooks.error();
    if (hooks->items.empty()) return deleted;
    for (const store::Webhook& w : hooks->items) {
      auto gone = tx.DeleteWebhook(w.org_id, w.id);
      if (!gone.ok()) return gone.error();
      if (!*gone) return MakeError(ErrorCode::kInternal, "trigger URL vanished while deleted");
      ++deleted;
    }
  }
}

// ----- POST /hooks/{token} -----

// What a trigger URL resolved to: everything the checks need, read from the store once
// and then shared (immutable) by every request to that URL while it is cached. Holds the
// connector's sealed secret only: the plaintext exists while one request is verified.
struct ResolvedTrigger {
  store::Webhook hook;
  int version = 0;
  int64_t workflow_generation = 0;  // of the workflow row the version was read from
  std::shared_ptr<const model::Workflow> workflow;
  webhooks::AuthConfig auth;
  std::string connector_id;
  std::string secret_field;
  std::string sealed;
  std::vector<webhooks::Cidr> allowlist;
  size_t max_payload = kDefaultMaxPayload;
  int rpm = kDefaultRpm;
  int burst = kDefaultBurst;
  bool sync = false;
};

// What the token of one request resolved to, decided from the head (the route's
// body_limit) and handed to the handler through Request::route_state.
struct TriggerLookup {
  enum class Kind { kFound, kUnknown, kMisconfigured, kError };
  Kind kind = Kind::kUnknown;
  std::string token_hash;
  std::shared_ptr<const ResolvedTrigger> trigger;  // kFound
  size_t max_payload = 0;  // kFound and kMisconfigured
  Error error{ErrorCode::kInternal, ""};  // kError
  uint64_t generation = 0;  // of the trigger cache when resolved
  bool cached = false;      // found in the cache
};

class WebhookReceiver {
 public:
  WebhookReceiver(const ApiDeps& deps, const ApiOptions& options)
      : deps_(deps),
        options_(options),
        auth_failures_(options.auth_failures_per_minute),
        cache_(options.webhook_cache_entries,
               std::chrono::duration_cast<std::chrono::milliseconds>(options.webhook_cache_max_age)) {}

  // The body limit of a request, from its head: the trigger's max_payload when the token
  // resolves. Leaves the lookup in request.route_state for Receive.
  size_t BodyLimit(Request& request);
  Result<Response> Receive(Request& request, std::function<void(Reply)>* deferred,
                           const server::Responder& client);
  void InvalidateOrg(std::string_view org_id) { cache_.InvalidateOrg(org_id); }
  // A request the server answered 413 itself (over the route's or the trigger's limit).
  void CountTooLarge() { counters_.Count(Outcome::kTooLarge); }

  std::vector<std::pair<std::string, int64_t>> Counts() const {
    std::vector<std::pair<std::string, int64_t>> out;
    for (size_t i = 0; i < static_cast<size_t>(Outcome::kCount); ++i) {
      auto o = static_cast<Outcome>(i);
      out.emplace_back(std::string(webhooks::OutcomeName(o)), counters_.Get(o));
    }
    return out;
  }

 private:
  using Kind = TriggerLookup::Kind;

  Response Count(Outcome outcome, Response response) {
    counters_.Count(outcome);
    return response;
  }
  // The cache, else one store read transaction (whose result is cached when usable).
  TriggerLookup Resolve(const Request& request);
  TriggerLookup ResolveFromStore(std::string token_hash);
  TriggerLookup ResolveIn(store::Tx& tx, std::string token_hash);
  // The audit event of a failed authentication, unless this source was audited enough
  // this minute (then nullopt: the rejection is only counted).
  std::optional<store::AuditEvent> AuthFailureEvent(const ResolvedTrigger& target,
                                                    const Request& request);
  // Inside the run's commit: records the delivery ids linked to `run_id` (kConflict +
  // !*fresh on a replay), touches the hook, prunes old ids now and then.
  Status RecordDelivery(store::Tx& tx, const ResolvedTrigger& target,
                        const std::vector<std::string>& keys, std::string_view run_id,
                        store::Millis now, bool* fresh);

  ApiDeps deps_;
  ApiOptions options_;
  webhooks::TokenBuckets buckets_;
  webhooks::RejectionCounters counters_;
  SourceLimiter auth_failures_;  // audits of failed authentication per source
  std::atomic<store::Millis> last_prune_{0};
  TriggerCache<ResolvedTrigger> cache_;
};

TriggerLookup WebhookReceiver::Resolve(const Request& request) {
  TriggerLookup out;
  auto token = request.params.find("token");
  if (token == request.params.end() ||
      !crypto::OpaqueTokenWellFormed(token->second, crypto::kWebhookTokenPrefix)) {
    return out;
  }
  std::string hash = crypto::Sha256Hex(token->second);
  // The generation first: an invalidation after it makes Receive resolve again.
  const uint64_t generation = cache_.Generation();
  if (auto hit = cache_.Find(hash, deps_.clock->Monotonic())) {
    out.kind = Kind::kFound;
    out.token_hash = std::move(hash);
    out.max_payload = hit->max_payload;
    out.trigger = std::move(hit);
    out.generation = generation;
    out.cached = true;
    return out;
  }
  return ResolveFromStore(std::move(hash));
}

TriggerLookup WebhookReceiver::ResolveFromStore(std::string token_hash) {
  const uint64_t generation = cache_.Generation();  // before the read (see TriggerCache)
  TriggerLookup out;
  Status read = deps_.store->Read([&](store::Tx& tx) -> Status {
    out = ResolveIn(tx, token_hash);
    return Status::Ok();
  });
  if (!read.ok()) {
    out = TriggerLookup{};
    out.kind = Kind::kError;
    out.error = read.error();
  }
  out.generation = generation;
  out.token_hash = std::move(token_hash);
  if (out.kind == Kind::kFound) {
    cache_.Insert(out.token_hash, out.trigger->hook.org_id, out.trigger, generation,
                  deps_.clock->Monotonic());
  }
  return out;
}

TriggerLookup WebhookReceiver::ResolveIn(store::Tx& tx, std::string token_hash) {
  TriggerLookup out;
  auto fail = [&out](const Error& error) {
    out.kind = Kind::kError;
    out.error = error;
    return out;
  };
  auto hook = tx.GetWebhookByTokenHash(token_hash);
  if (!hook.ok()) return fail(hook.error());
  if (!hook->has_value() || !crypto::ConstantTimeEqual((*hook)->token_hash, token_hash)) {
    return out;
  }
  auto target = std::make_shared<ResolvedTrigger>();
  target->hook = std::move(**hook);
  const std::string& org_id = target->hook.org_id;
  auto workflow = tx.GetWorkflow(org_id, target->hook.workflow_id);
  if (!workflow.ok()) return fail(workflow.error());
  // (A workflow deleted and re-created under the same id does not inherit the old URLs:
  // they are deleted with it.)
  if (!workflow->has_value() || (*workflow)->live_version == 0) return out;
  target->version = (*workflow)->live_version;
  target->workflow_generation = (*workflow)->generation;
  auto version = tx.GetWorkflowVersion(org_id, target->hook.workflow_id, target->version);
  if (!version.ok()) return fail(version.error());
  if (!version->has_value()) return out;
  auto loaded = deps_.workflows->Get(**version);
  if (!loaded.ok()) return fail(loaded.error());
  target->workflow = std::move(loaded).value();
  const object* spec = nullptr;
  for (const model::Trigger& t : target->workflow->triggers) {
    if (t.type == "webhook" && t.spec.is_object()) {
      spec = &t.spec.get_object();
      break;
    }
  }
  if (spec == nullptr) return out;

  // From here on the URL is known: what cannot authenticate anyone is kMisconfigured
  // (the same 401 as a bad signature), after the size check.
  // The loader validated the trigger; read it defensively all the same.
  auto int_of = [](const object& o, std::string_view key, int64_t fallback) -> int64_t {
    const value* v = o.if_contains(key);
    return v != nullptr && v->is_int64() ? v->get_int64() : fallback;
  };
  target->max_payload = static_cast<size_t>(std::max<int64_t>(
      0, int_of(*spec, "max_payload", static_cast<int64_t>(kDefaultMaxPayload))));
  out.max_payload = target->max_payload;
  out.kind = Kind::kMisconfigured;
  const value* auth_v = spec->if_contains("auth");
  if (auth_v == nullptr || !auth_v->is_object()) return out;
  const object& auth = auth_v->get_object();
  auto str_of = [](const object& o, std::string_view key) -> std::string {
    const value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  };
  auto type = webhooks::ParseAuthType(str_of(auth, "type"));
  if (!type) return out;
  target->auth.type = *type;
  if (std::string h = str_of(auth, "header"); !h.empty()) target->auth.header = h;
  target->auth.timestamp_header = str_of(auth, "timestamp_header");
  target->auth.replay_window_seconds =
      int_of(*spec, "replay_window", webhooks::kDefaultReplayWindowSeconds);
  target->connector_id = str_of(auth, "connector");
  if (const value* ips = spec->if_contains("ip_allowlist"); ips != nullptr && ips->is_array()) {
    for (const value& c : ips->get_array()) {
      auto cidr = c.is_string() ? webhooks::ParseCidr(c.get_string()) : std::nullopt;
      // An entry that does not parse allows nothing (fail closed), but keeps the list
      // non-empty so the allowlist stays in force.
      target->allowlist.push_back(cidr.value_or(webhooks::Cidr{.length = -1}));
    }
    if (target->allowlist.empty()) target->allowlist.push_back(webhooks::Cidr{.length = -1});
  }
  if (const value* rl = spec->if_contains("rate_limit"); rl != nullptr && rl->is_object()) {
    target->rpm = static_cast<int>(int_of(rl->get_object(), "rpm", kDefaultRpm));
    target->burst = static_cast<int>(int_of(rl->get_object(), "burst", kDefaultBurst));
  }
  target->sync = str_of(*spec, "mode") == "sync";

  // The secret: a webhook_secret connector's `secret`, or a bearer connector's `token`.
  const bool bearer = target->auth.type == webhooks::AuthType::kBearer;
  target->secret_field = bearer ? "token" : "secret";
  auto connector = tx.GetConnector(org_id, target->connector_id);
  if (!connector.ok()) return fail(connector.error());
  bool usable = connector->has_value() &&
                (*connector)->type == (bearer ? "bearer" : "webhook_secret");
  if (usable) {
    auto allowed = json::Parse((*connector)->allowed_workflows);
    usable = allowed.ok() && allowed->is_array();
    if (usable && !allowed->get_array().empty()) {
      const auto& list = allowed->get_array();
      usable = std::any_of(list.begin(), list.end(), [&](const value& w) {
        return w.is_string() && w.get_string() == target->hook.workflow_id;
      });
    }
  }
  if (!usable) return out;
  auto secrets = tx.ListConnectorSecrets(org_id, target->connector_id);
  if (!secrets.ok()) return fail(secrets.error());
  usable = false;
  for (store::ConnectorSecret& s : *secrets) {
    if (s.field == target->secret_field) {
      target->sealed = std::move(s.sealed);
      usable = true;
    }
  }
  if (!usable) return out;
  out.kind = Kind::kFound;
  out.trigger = std::move(target);
  return out;
}

size_t WebhookReceiver::BodyLimit(Request& request) {
  auto lookup = std::make_shared<TriggerLookup>(Resolve(request));
  // An unknown token gets only the route's limit (and then 401): the size of a trigger
  // it has no URL of is nothing to tell it.
  const bool known = lookup->kind == Kind::kFound || lookup->kind == Kind::kMisconfigured;
  const size_t limit = known ? lookup->max_payload : std::numeric_limits<size_t>::max();
  // A declared length over it is answered 413 by the server from the head, a chunked body
  // cut off once past it: both counted by CountTooLarge (the route's on_too_large).
  request.route_state = std::move(lookup);
  return limit;
}

Result<Response> WebhookReceiver::Receive(Request& request, std::function<void(Reply)>* deferred,
                                          const server::Responder& client) {
  // The lookup the head decided on, unless an invalidation happened while the body was
  // read (then resolve again: the trigger may have been rotated or changed meanwhile).
  auto stashed = std::static_pointer_cast<const TriggerLookup>(request.route_state);
  TriggerLookup lookup = stashed != nullptr && stashed->generation == cache_.Generation()
                             ? *stashed
                             : Resolve(request);
  // Error answers are built only when given (they serialize JSON).
  auto unauthenticated = [&request] {
    return Reject(MakeError(ErrorCode::kUnauthenticated, "authentication required"), request);
  };
  // Every answer before authentication: unknown, oversized, misconfigured.
  auto before_auth = [&](const TriggerLookup& l) -> std::optional<Response> {
    if (l.kind == Kind::kError) return Count(Outcome::kInternal, Reject(l.error, request));
    // A token that is no credential fails authentication like a bad signature.
    if (l.kind == Kind::kUnknown) return Count(Outcome::kUnknownHook, unauthenticated());
    // The server enforced the limit while reading; checked again in case it changed since.
    if (request.body.size() > l.max_payload) {
      return Count(Outcome::kTooLarge,
                   Reject(MakeError(ErrorCode::kPayloadTooLarge,
                                    "request body exceeds " + std::to_string(l.max_payload) +
                                        " bytes"),
                          request));
    }
    // A misconfigured trigger cannot authenticate anyone: the same 401 as a bad signature.
    if (l.kind == Kind::kMisconfigured) return Count(Outcome::kUnauthenticated, unauthenticated());
    return std::nullopt;
  };
  if (auto answer = before_auth(lookup)) return std::move(*answer);
  if (deps_.keyring == nullptr) {
    return Count(Outcome::kInternal, Reject(MakeError(ErrorCode::kInternal, ""), request));
  }
  auto decrypt = [this](const ResolvedTrigger& t) {
    return deps_.keyring->Decrypt(t.hook.org_id, t.connector_id, t.secret_field, t.sealed);
  };
  auto secret = decrypt(*lookup.trigger);
  if (!secret.ok() && lookup.cached) {
    // A cached sealed value that no longer opens: drop it and read the connector again.
    cache_.Erase(lookup.token_hash);
    lookup = ResolveFromStore(lookup.token_hash);
    if (auto answer = before_auth(lookup)) return std::move(*answer);
    secret = decrypt(*lookup.trigger);
  }
  if (!secret.ok()) return Count(Outcome::kInternal, Reject(secret.error(), request));
  const ResolvedTrigger& target = *lookup.trigger;
  const store::Millis now = UnixMillis(deps_.clock->Now());
  auto headers = [&request](std::string_view name) { return request.Header(name); };
  auto verified = webhooks::Verify(target.auth, headers, request.body, *secret, now / 1000);
  // Wipe the plaintext as soon as it served.
  OPENSSL_cleanse(secret->data(), secret->size());
  const std::string& org_id = target.hook.org_id;
  if (!verified.ok()) {
    if (verified.error().code == ErrorCode::kConflict) {
      return Count(Outcome::kReplayed,
                   Reject(MakeError(ErrorCode::kConflict, "replayed or stale delivery"), request));
    }
    std::optional<store::AuditEvent> event = AuthFailureEvent(target, request);
    if (!event.has_value()) return Count(Outcome::kUnauthenticated, unauthenticated());
    // Audited before the 401 leaves, without holding the io thread for the commit.
    *deferred = [this, event = std::move(*event),
                 answer = Count(Outcome::kUnauthenticated, unauthenticated())](Reply reply) {
      audit::AppendAsync(*deps_.store, event, [reply, answer](Status) { reply(answer); });
    };
    return Response{};
  }
  std::vector<std::string> keys;
  if (!verified->delivery_id.empty()) keys.push_back("id:" + verified->delivery_id);
  if (target.auth.type == webhooks::AuthType::kGithub) {
    keys.push_back("sha256:" + crypto::Sha256Hex(request.body));
  }
  auto replayed = [&request] {
    return Reject(MakeError(ErrorCode::kConflict, "replayed or stale delivery"), request);
  };
  if (!keys.empty()) {
    bool seen = false;
    Status read = deps_.store->Read([&](store::Tx& tx) -> Status {
      for (const std::string& k : keys) {
        auto s = tx.WebhookDeliverySeen(org_id, target.hook.id, k);
        if (!s.ok()) return s.error();
        seen = seen || *s;
      }
      return Status::Ok();
    });
    if (!read.ok()) return Count(Outcome::kInternal, Reject(read.error(), request));
    if (seen) return Count(Outcome::kReplayed, replayed());
  }
  // request.remote_ip is already the client address (trusted proxies resolved).
  if (!target.allowlist.empty() && !webhooks::IpAllowed(request.remote_ip, target.allowlist)) {
    return Count(Outcome::kForbiddenSource,
                 Reject(MakeError(ErrorCode::kPermissionDenied, "source address not allowed"),
                        request));
  }
  // The trigger's own bucket, then its org's (every trigger of the org draws from it, so
  // one org's flood cannot take the whole server). Hook ids ("hk_...") and org bucket keys
  // ("org:" + id) cannot collide.
  int retry_after = 0;
  const auto mono = deps_.clock->Monotonic();
  if (!buckets_.Take(target.hook.id, target.rpm, target.burst, mono, &retry_after) ||
      !buckets_.Take("org:" + org_id, options_.webhook_org_rpm, options_.webhook_org_burst, mono,
                     &retry_after)) {
    return Count(Outcome::kRateLimited,
                 Reject(MakeError(ErrorCode::kRateLimited, "too many requests"), request,
                        retry_after));
  }
  std::string content_type(request.Header("content-type").value_or(""));
  std::transform(content_type.begin(), content_type.end(), content_type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view media = std::string_view(content_type).substr(0, content_type.find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  if (media != "application/json" &&
      !(media.size() > 5 && media.substr(media.size() - 5) == "+json")) {
    return Count(Outcome::kInvalidPayload,
                 Reject(MakeError(ErrorCode::kInvalidArgument,
                                  "Content-Type must be application/json"),
                        request));
  }
  auto input = json::Parse(request.body, {.max_bytes = request.body.size() + 1, .max_depth = 64});
  if (!input.ok()) {
    return Count(Outcome::kInvalidPayload,
                 Reject(MakeError(ErrorCode::kInvalidArgument, "the body must be JSON"), request));
  }

  const std::string actor = "hook:" + target.hook.id;
  runs::Submission submission;
  submission.org_id = org_id;
  submission.workflow_id = target.hook.workflow_id;
  submission.workflow_generation = target.workflow_generation;
  submission.version = target.version;
  submission.input = std::move(input).value();
  submission.trigger = object{{"type", "webhook"},
                              {"received_at", TimeValue(now)},
                              {"delivery_id", verified->delivery_id.empty()
                                                  ? value(nullptr)
                                                  : value(verified->delivery_id)},
                              {"hook_id", target.hook.id}};
  submission.actor = actor;
  store::AuditEvent event;
  event.time = now;
  event.org_id = org_id;
  event.actor = actor;
  event.action = "run.start";
  event.outcome = "success";
  event.source_ip = request.remote_ip;
  event.user_agent = AuditText(request.Header("user-agent").value_or(""), 200);
  // The connector whose secret authenticated the delivery (its use is audited here, with
  // the run it started: rejected deliveries are counted, not audited one by one).
  event.details = json::Serialize(object{{"workflow", target.hook.workflow_id},
                                         {"version", target.version},
                                         {"hook", target.hook.id},
                                         {"connector", target.connector_id},
                                         {"delivery_id", verified->delivery_id}});
  submission.audit = std::move(event);
  // A side-effect-free workflow runs inline (when its org has room), sync or not: its run
  // is committed once, already final, before the answer, instead of queued and then
  // finished in a second commit. Durability is the same (the answer follows the commit),
  // and a sync caller gets its `respond` step at once.
  submission.workflow = target.workflow;
  submission.may_run_inline = true;
  // The delivery ids are recorded with the run in the run's own commit: one
  // durable write per accepted delivery, and a concurrent duplicate that passed the
  // read-only check above loses on the unique key (409) with nothing stored.
  // What the commit and its completion share (the request outlives both: it is answered
  // from the completion).
  struct Pending {
    std::shared_ptr<const ResolvedTrigger> target;
    std::vector<std::string> keys;
    store::Millis now = 0;
    std::atomic<bool> fresh{true};
  };
  auto pending = std::make_shared<Pending>();
  pending->target = lookup.trigger;
  pending->keys = std::move(keys);
  pending->now = now;
  // Always: besides recording the delivery ids (none for bearer or an hmac-sha256 trigger
  // without a timestamp header), the commit counts the URL's use (spec/security.md 2).
  {
    submission.in_commit = [this, pending](store::Tx& tx, const store::Run& run) -> Status {
      bool fresh = true;
      Status recorded =
          RecordDelivery(tx, *pending->target, pending->keys, run.id, pending->now, &fresh);
      pending->fresh = fresh;
      return recorded;
    };
  }
  // Submitted (and, for a sync trigger, waited for) without holding the io thread.
  *deferred = [this, &request, replayed, pending, submission = std::move(submission),
               client](Reply reply) mutable {
    deps_.runs->SubmitAsync(std::move(submission), [this, &request, replayed, pending, reply,
                                                    client](Result<store::Run> run) {
      if (!run.ok()) {
        if (!pending->fresh) return reply(Count(Outcome::kReplayed, replayed()));
        if (run.error().code == ErrorCode::kInvalidInput) {
          return reply(Count(Outcome::kInvalidPayload, Reject(run.error(), request)));
        }
        if (run.error().code == ErrorCode::kRateLimited) {
          return reply(Count(Outcome::kRateLimited, Reject(run.error(), request, 5)));
        }
        if (run.error().code == ErrorCode::kLimitExceeded) {
          // The org's stored-run quota: 429 (409 means a replay here), nothing stored.
          return reply(Count(Outcome::kRateLimited,
                             Reject(MakeError(ErrorCode::kRateLimited, run.error().message),
                                    request, 60)));
        }
        return reply(Count(Outcome::kInternal, Reject(run.error(), request)));
      }
      counters_.Count(Outcome::kAccepted);
      const ResolvedTrigger& trigger = *pending->target;
      if (!trigger.sync) return reply(server::JsonResponse(202, object{{"run_id", run->id}}));
      if (FinishedInline(*run)) return reply(SyncAnswer(*run));
      const int64_t timeout_ms = std::min<int64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_wait).count(),
          static_cast<int64_t>(trigger.workflow->timeout_s * 1000));
      const uint64_t waiter = deps_.runs->WaitAsync(
          trigger.hook.org_id, run->id, std::chrono::milliseconds(timeout_ms),
          [reply, run_id = run->id](std::optional<store::Run> finished) {
            if (finished.has_value()) return reply(SyncAnswer(*finished));
            reply(server::JsonResponse(202, object{{"run_id", run_id}}));
          });
      EndWaitIfClientGone(*deps_.runs, client, *run, waiter);
    });
  };
  return Response{};
}

Status WebhookReceiver::RecordDelivery(store::Tx& tx, const ResolvedTrigger& target,
                                       const std::vector<std::string>& keys,
                                       std::string_view run_id, store::Millis now,
                                       bool* fresh) {
  const bool prune = now - last_prune_.load(std::memory_order_relaxed) > kPruneEveryMs;
  if (prune) last_prune_.store(now, std::memory_order_relaxed);
  *fresh = true;
  for (const std::string& k : keys) {
    auto r = tx.RecordWebhookDelivery(target.hook.org_id, target.hook.id, k, now, run_id);
    if (!r.ok()) return r.error();
    if (!*r) {
      *fresh = false;
      // Rolls back the run and the other keys of this request with the transaction.
      return MakeError(ErrorCode::kConflict, "replay");
    }
  }
  if (Status s = tx.TouchWebhook(target.hook.org_id, target.hook.id, now); !s.ok()) return s;
  if (prune) {
    auto n = tx.PruneWebhookDeliveries(now - kDeliveryRetentionMs, kPruneBatch);
    if (!n.ok()) return n.error();
  }
  return Status::Ok();
}

std::optional<store::AuditEvent> WebhookReceiver::AuthFailureEvent(const ResolvedTrigger& target,
                                                                   const Request& request) {
  int retry_after = 0;
  if (auth_failures_.Hit(request.remote_ip, deps_.clock->Monotonic(), &retry_after)) {
    return std::nullopt;
  }
  store::AuditEvent event;
  event.time = UnixMillis(deps_.clock->Now());
  event.org_id = target.hook.org_id;
  event.actor = "anonymous";
  event.action = "webhook.auth_failed";
  event.target = target.hook.id;
  event.outcome = "failure";
  event.source_ip = request.remote_ip;
  event.user_agent = AuditText(request.Header("user-agent").value_or(""), 200);
  event.details = json::Serialize(object{{"workflow", target.hook.workflow_id}});
  return event;
}

std::shared_ptr<WebhookReceiver> NewWebhookReceiver(const ApiDeps& deps,
                                                    const ApiOptions& options) {
  return std::make_shared<WebhookReceiver>(deps, options);
}

size_t WebhookBodyLimit(WebhookReceiver& receiver, Request& request) {
  return receiver.BodyLimit(request);
}

Result<Response> ReceiveWebhook(WebhookReceiver& receiver, Request& request,
                                std::function<void(Reply)>* deferred,
                                const server::Responder& client) {
  return receiver.Receive(request, deferred, client);
}

void WebhookTooLarge(WebhookReceiver& receiver) { receiver.CountTooLarge(); }

void InvalidateWebhookTriggers(WebhookReceiver& receiver, std::string_view org_id) {
  receiver.InvalidateOrg(org_id);
}

std::vector<std::pair<std::string, int64_t>> WebhookOutcomeCounts(const WebhookReceiver& receiver) {
  return receiver.Counts();
}

}  // namespace rampart::api::internal
