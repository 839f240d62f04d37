// webhook.send: a Standard Webhooks signed POST (https://www.standardwebhooks.com/)
// through the SSRF guard, signed with the secret of the step's `webhook_secret`
// connector (secrets.secret, "whsec_" + base64 key).
//
// with: {url, payload (any JSON: the body, serialized compactly), id (webhook-id;
//        default "msg_" + 22 base62 chars of 16 random bytes), headers {name: string}
//        (not the webhook-* ones), timeout (s, default 30, bounded by the step deadline),
//        max_response_bytes (default 1 MiB), allow_http (false)}
// Headers sent: webhook-id, webhook-timestamp (Unix seconds from the run's clock),
// webhook-signature "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>", content-type
// application/json. Redirects are not followed (a delivery goes where it was sent).
// Output: {webhook_id, status, headers, json | body | body_base64, redirects}.
// A non-2xx answer fails the step with action_failed (retryable): a delivery that was
// not accepted did not happen. Other errors as http.request.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rampart/actions/action.h"
#include "rampart/net/http_client.h"

namespace rampart::actions {

std::unique_ptr<Action> MakeWebhookSend(std::shared_ptr<net::HttpClient> client,
                                        std::shared_ptr<const net::EgressPolicy> egress,
                                        Random* random);

// The signing key of a Standard Webhooks secret: the base64 after "whsec_" (the prefix
// is optional); nullopt when it is not valid base64 or empty.
std::optional<std::string> DecodeWebhookSecret(std::string_view secret);

// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
std::string StandardWebhookSignature(std::string_view key, std::string_view id,
                                     std::string_view timestamp, std::string_view body);

// Signs `req` (its body as it is now) the Standard Webhooks way: appends Content-Type
// application/json, webhook-id `id`, webhook-timestamp (`now` in Unix seconds) and
// webhook-signature with `key`.
void AddStandardWebhookHeaders(net::HttpRequest& req, std::string_view key, std::string id,
                               std::chrono::system_clock::time_point now);

// The POST the server sends on its own behalf (outbound execution hooks, audit
// forwarding): `body` (JSON) signed as above, User-Agent `user_agent`, no redirects (it
// goes where it was configured, nowhere else), a 64 KiB cap on the answer, `timeout` per
// attempt, connecting within at most 10 s of it.
net::HttpRequest SignedJsonPost(std::string url, std::string body, std::string_view key,
                                std::string id, std::chrono::system_clock::time_point now,
                                std::chrono::milliseconds timeout, std::string_view user_agent);

}  // namespace rampart::actions
