// The HTTP API of spec/interfaces.md: one route table (RegisterRoutes) that the server
// dispatches on, the OpenAPI document is generated from, and the authorization matrix
// tests iterate. This is the only module that maps errors to HTTP.
//
// Every handler authenticates, then authorizes against the org from the path with the
// route's permission (auth::AuthorizeOrg), inside the store transaction of the request.
// Mutations and their audit events commit in one transaction.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include <string_view>
#include <utility>
#include <vector>

#include "rampart/actions/action.h"
#include "rampart/auth/auth.h"
#include "rampart/core/clock.h"
#include "rampart/core/result.h"
#include "rampart/crypto/keyring.h"
#include "rampart/runs/runs.h"
#include "rampart/server/metrics.h"
#include "rampart/server/org_log.h"
#include "rampart/server/router.h"
#include "rampart/store/store.h"

namespace rampart::api {

struct ApiOptions {
  bool tls = false;                                 // Secure cookies
  std::string setup_token_path;                     // removed once setup succeeded
  size_t max_definition_bytes = 1 << 20;
  std::chrono::seconds max_wait{60};                // cap of a run request's `wait`
  int max_api_keys_per_org = 50;
  // Quotas on stored objects (config `quotas`), each checked by counting inside the
  // create's write transaction (so two concurrent creates cannot both pass): past one,
  // 409 conflict naming the limit. Nothing is ever deleted to make room.
  int max_workflows_per_org = 1000;
  int max_versions_per_workflow = 1000;  // version 1 included
  int max_connectors_per_org = 500;
  // Failed authentications from one source IP per minute before 429.
  int auth_failures_per_minute = 20;
  // Definitions refused for forbidden_secret_access (a workflow reaching for `secrets`
  // outside a connector) are audited as `definition.refused`, at most this many per org
  // per minute (the rest are only counted in /metrics).
  int definition_refusal_audits_per_minute = 10;
  // Peers whose X-Forwarded-For is believed (config `trusted_proxies`, CIDRs). The client
  // address is then the right-most X-Forwarded-For entry that is not itself a trusted
  // proxy; from any other peer the header is ignored. Empty: only the TCP peer counts.
  std::vector<std::string> trusted_proxies;
  // Public endpoint requests per source IP per minute.
  int public_requests_per_minute = 120;
  // POST /hooks/{token}: bodies over this are answered 413 by the server before being
  // read. A trigger's own max_payload (default 1 MiB, at most 64 MiB) is enforced below
  // it the same way: the token is resolved from the request head, and a declared length
  // over max_payload is answered 413 before any body byte is read (a chunked body is cut
  // off once past it).
  size_t max_webhook_body = 64 << 20;
  // Resolved triggers kept in memory (keyed by token hash; sealed secrets only), so a
  // request to a known trigger needs no store read. 0 disables the cache. Entries are
  // dropped on every change through this server and expire after max_age at the latest.
  size_t webhook_cache_entries = 4096;
  std::chrono::seconds webhook_cache_max_age{60};
  // POST /hooks/{token}: a token bucket per org across all its triggers, taken after the
  // trigger's own `rate_limit` (so one org's flood cannot take the whole server): refills
  // at rpm per minute, holds at most burst. Past it: 429 with Retry-After.
  int webhook_org_rpm = 60'000;
  int webhook_org_burst = 2'000;
  // Requests per authenticated principal (ASVS V2.4.1): a token bucket per API key, per
  // user (every session, JWT and master key request of one user shares it) and per
  // support grant, refilled at api_rpm per minute, holding at most api_burst. Past it:
  // 429 rate_limited with Retry-After, answered right after authentication (no handler
  // work, no audit event) and counted in /metrics (rampart_api_rate_limited). Public
  // routes and POST /hooks/{token} have their own limits. api_rpm 0 turns it off.
  int api_rpm = 60'000;
  int api_burst = 10'000;
  // What GET /v1/orgs/{org}/diagnostics reports as the server's version and build.
  std::string version = "dev";
  std::string build = "unknown";
};

struct ApiDeps {
  store::Store* store = nullptr;
  runs::RunService* runs = nullptr;
  runs::WorkflowCache* workflows = nullptr;
  const auth::Authenticator* authenticator = nullptr;
  server::Metrics* metrics = nullptr;  // /metrics; may be null
  Clock* clock = &SystemClock();
  Random* random = &SystemRandom();
  // Seals connector secrets (rampart serve always creates one). Null: connector routes
  // work for metadata, and setting a secret answers 500.
  crypto::Keyring* keyring = nullptr;
  // The server's log (rampart serve: the JSON lines on stderr): the Api writes a line for
  // each failed request of an org (operation and error code only). May be null.
  actions::LogSink* log = nullptr;
  // The per-org ring of recent log records that GET .../diagnostics/logs reads (fed by
  // that log). Null: the route answers no records.
  const server::OrgLogRing* org_log = nullptr;
};

class Api {
 public:
  Api(ApiDeps deps, ApiOptions options);
  // Destroy the Api once the server and the run service have stopped (nothing calls into
  // it any more) and before the store: it runs the logins its password workers still
  // hold, then waits until the store's writer thread has run every write it queued
  // (their transactions and completions refer to it), with one empty write.
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // Adds every route (the /v1 API, /p/..., /healthz, /readyz, /metrics, /v1/openapi.json).
  // The Api must outlive the router's use.
  void RegisterRoutes(server::Router& router);

  // Requests to POST /hooks/{token} by outcome ("accepted", "unauthenticated",
  // "replayed", "too_large", "forbidden_source", "rate_limited", "invalid_payload",
  // "unknown_hook", "internal"), since start. Also exported on /metrics as
  // rampart_webhook_requests{outcome}.
  std::vector<std::pair<std::string, int64_t>> WebhookOutcomes() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// When the store has no org yet and no unexpired setup token, creates one ("rpt_...",
// valid 1 h, stored hashed), writes it to `path` with mode 0600 and returns the path.
// Returns "" when the server is already set up. Never logs the token.
Result<std::string> EnsureSetupToken(store::Store& store, const std::string& path, Clock& clock,
                                     Random& random);

// ----- Internal to api/: the webhook handlers of webhooks.cc, routed by api.cc. -----
namespace internal {

// A trigger URL management request, authorized (webhooks:manage) and with the workflow
// visible to the caller.
struct WebhookManageCall {
  store::Tx& tx;
  std::string org_id;
  std::string workflow_id;
  std::string hook_id;  // "" for the collection
  store::Millis now = 0;
  Random& random;
  const server::Request& request;
  // Appends an audit event of the request in `tx`.
  std::function<Status(std::string_view action, std::string_view target,
                       boost::json::object details)>
      audit;
};
Result<server::Response> ListWebhooksHandler(WebhookManageCall& call);
Result<server::Response> CreateWebhookHandler(WebhookManageCall& call);
Result<server::Response> RotateWebhookHandler(WebhookManageCall& call);
Result<server::Response> DeleteWebhookHandler(WebhookManageCall& call);

// Deletes every trigger URL of a workflow (in the workflow's delete transaction, so a
// workflow re-created under the same id never inherits them). Returns how many.
Result<int> DeleteWorkflowWebhooks(store::Tx& tx, std::string_view org_id,
                                   std::string_view workflow_id);

// POST /hooks/{token}. State: per-trigger token buckets, outcome counters.
class WebhookReceiver;
std::shared_ptr<WebhookReceiver> NewWebhookReceiver(const ApiDeps& deps,
                                                    const ApiOptions& options);
// The route's body_limit: resolves the token (trigger cache, else one store read) and
// answers the trigger's max_payload, leaving the lookup in request.route_state.
size_t WebhookBodyLimit(WebhookReceiver& receiver, server::Request& request);
// The route's on_too_large: counts a request the server answered 413 itself (over the
// route's limit or the trigger's max_payload, declared or cut off while read).
void WebhookTooLarge(WebhookReceiver& receiver);
// The answer to one request, given once: at once, or later from the store's writer
// thread or a run service thread (no io thread waits meanwhile).
using Reply = std::function<void(Result<server::Response>)>;

// The handler, outside any transaction: every check, answered at once when one fails.
// An accepted delivery sets `deferred` to its run's submission (and, for a sync trigger,
// the wait for its outcome), which answers through the Reply it is given.
// A sync trigger's wait ends early when `client` goes away (its connection closed).
Result<server::Response> ReceiveWebhook(WebhookReceiver& receiver, server::Request& request,
                                        std::function<void(Reply)>* deferred,
                                        const server::Responder& client);
// Drops what the trigger cache holds for the org; called after every commit that can
// change what a trigger URL resolves to (see src/api/trigger_cache.h).
void InvalidateWebhookTriggers(WebhookReceiver& receiver, std::string_view org_id);
std::vector<std::pair<std::string, int64_t>> WebhookOutcomeCounts(const WebhookReceiver& receiver);

// Outbound execution hooks of a run (handlers in hooks.cc, routed by api.cc).
// The list is paged by the request's limit and cursor (next_cursor), as every list is.
Result<server::Response> ListRunHooksHandler(store::Tx& tx, const std::string& org_id,
                                             const std::string& run_id,
                                             const server::Request& request);
Result<server::Response> RedeliverRunHooksHandler(
    store::Tx& tx, const std::string& org_id, const std::string& run_id,
    const boost::json::object& body, store::Millis now,
    const std::function<Status(std::string_view, std::string_view, boost::json::object)>& audit);

}  // namespace internal

}  // namespace rampart::api
