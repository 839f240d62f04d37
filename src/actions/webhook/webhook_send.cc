#include "actions/webhook/webhook_send.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <chrono>

#include "actions/http/outbound.h"
#include "rampart/core/check.h"
#include "rampart/core/json.h"
#include "rampart/crypto/crypto.h"
#include "rampart/net/http_client.h"

namespace rampart::actions {
namespace {

namespace bj = boost::json;

// Its top-level keys are mirrored in model::BuiltinActionArgKeys (the loader rejects
// any other key of `with`): a key added here goes there too.
constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "url": {"type": "string", "minLength": 1, "maxLength": 8192},
    "payload": {},
    "id": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"},
    "headers": {"type": "object", "maxProperties": 50,
                "propertyNames": {"pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$"},
                "additionalProperties": {"type": "string", "maxLength": 8192}},
    "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
    "max_response_bytes": {"type": "integer", "minimum": 1, "maximum": 10485760},
    "allow_http": {"type": "boolean"}
  },
  "required": ["url", "payload"],
  "additionalProperties": false
})";

constexpr std::string_view kReserved[] = {
    "webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "content-length",
    "host",       "transfer-encoding", "connection",        "expect"};

class WebhookSend final : public Action {
 public:
  WebhookSend(std::shared_ptr<net::HttpClient> client,
              std::shared_ptr<const net::EgressPolicy> egress, Random* random)
      : client_(std::move(client)), egress_(std::move(egress)), random_(random) {
    RAMPART_CHECK(client_ != nullptr && egress_ != nullptr && random_ != nullptr);
    schema_ = CompileArgsSchema(kSchema);
  }

  const schema::Validator& ArgsSchema() const override { return *schema_; }

  Result<bj::value> Execute(const Context& ctx) const override {
    const bj::object& args = ctx.args.get_object();
    if (ctx.connector.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "webhook.send needs `connector:` naming a webhook_secret connector");
    }
    auto connector = outbound::LoadConnector(ctx);
    if (!connector.ok()) return std::move(connector).error();
    const ConnectorSecrets& conn = **connector;
    if (conn.type != "webhook_secret") {
      return MakeError(ErrorCode::kInvalidArgument,
                       "connector '" + conn.id + "' is not a webhook_secret connector");
    }
    auto secret = conn.secrets.find("secret");
    std::optional<std::string> key;
    if (secret != conn.secrets.end()) key = DecodeWebhookSecret(secret->second);
    if (!key) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "connector '" + conn.id + "': secret is not a whsec_<base64> key");
    }

    std::string id;
    if (const bj::value* i = args.if_contains("id")) {
      id = i->get_string();
    } else {
      id = "msg_" + crypto::Base62Encode(crypto::RandomBytes(*random_, 16), 22);
    }
    net::HttpRequest req;
    req.method = "POST";
    req.url = args.at("url").get_string();
    req.body = json::Serialize(args.at("payload"));
    req.max_redirects = 0;
    req.max_response_bytes = 1 << 20;
    if (const bj::value* h = args.if_contains("headers")) {
      for (const auto& kv : h->get_object()) {
        std::string lower(kv.key());
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        for (std::string_view r : kReserved) {
          if (lower == r) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "header '" + lower + "' is set by webhook.send");
          }
        }
        req.headers.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
      }
    }
    AddStandardWebhookHeaders(req, *key, id, ctx.clock.Now());  // id is also in the output

    auto policy = outbound::ApplyCommonArgs(ctx, args, *egress_, &conn, req);
    if (!policy.ok()) return std::move(policy).error();

    auto res = client_->Fetch(req, *policy);
    if (!res.ok()) return std::move(res).error();
    if (res->status < 200 || res->status > 299) {
      return MakeError(ErrorCode::kActionFailed,
                       "the webhook endpoint answered HTTP " + std::to_string(res->status));
    }
    bj::value out = outbound::ResponseOutput(*res);
    out.get_object()["webhook_id"] = id;
    return out;
  }

 private:
  std::shared_ptr<net::HttpClient> client_;
  std::shared_ptr<const net::EgressPolicy> egress_;
  Random* random_;
  std::optional<schema::Validator> schema_;
};

}  // namespace

std::optional<std::string> DecodeWebhookSecret(std::string_view secret) {
  if (secret.rfind("whsec_", 0) == 0) secret.remove_prefix(6);
  auto key = crypto::Base64Decode(secret);
  if (!key || key->empty()) return std::nullopt;
  return key;
}

std::string StandardWebhookSignature(std::string_view key, std::string_view id,
                                     std::string_view timestamp, std::string_view body) {
  std::string message;
  message.reserve(id.size() + timestamp.size() + body.size() + 2);
  message.append(id).append(".").append(timestamp).append(".").append(body);
  return "v1," + crypto::Base64Encode(crypto::DigestBytes(crypto::HmacSha256(key, message)));
}

void AddStandardWebhookHeaders(net::HttpRequest& req, std::string_view key, std::string id,
                               std::chrono::system_clock::time_point now) {
  std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  std::string signature = StandardWebhookSignature(key, id, timestamp, req.body);
  req.headers.emplace_back("Content-Type", "application/json");
  req.headers.emplace_back("webhook-id", std::move(id));
  req.headers.emplace_back("webhook-timestamp", std::move(timestamp));
  req.headers.emplace_back("webhook-signature", std::move(signature));
}

net::HttpRequest SignedJsonPost(std::string url, std::string body, std::string_view key,
                                std::string id, std::chrono::system_clock::time_point now,
                                std::chrono::milliseconds timeout, std::string_view user_agent) {
  net::HttpRequest req;
  req.method = "POST";
  req.url = std::move(url);
  req.body = std::move(body);
  req.max_redirects = 0;
  req.max_response_bytes = 64 << 10;
  req.timeout = timeout;
  req.connect_timeout = std::min(timeout, std::chrono::milliseconds(10'000));
  req.headers.emplace_back("User-Agent", std::string(user_agent));
  AddStandardWebhookHeaders(req, key, std::move(id), now);
  return req;
}

std::unique_ptr<Action> MakeWebhookSend(std::shared_ptr<net::HttpClient> client,
                                        std::shared_ptr<const net::EgressPolicy> egress,
                                        Random* random) {
  return std::make_unique<WebhookSend>(std::move(client), std::move(egress), random);
}

}  // namespace rampart::actions
