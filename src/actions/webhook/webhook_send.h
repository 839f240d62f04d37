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

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "rampart/actions/action.h"

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

}  // namespace rampart::actions
