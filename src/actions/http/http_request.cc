#include "actions/http/http_request.h"

#include <boost/json/parse.hpp>
#include <optional>

#include "actions/http/oauth2.h"
#include "actions/http/outbound.h"
#include "rampart/core/ascii.h"
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
    "method": {"enum": ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]},
    "url": {"type": "string", "minLength": 1, "maxLength": 8192},
    "query": {"type": "object", "maxProperties": 100,
              "additionalProperties": {"type": ["string", "number", "boolean"]}},
    "headers": {"type": "object", "maxProperties": 100,
                "propertyNames": {"pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$"},
                "additionalProperties": {"type": "string", "maxLength": 8192}},
    "json": {},
    "body": {"type": "string", "maxLength": 10485760},
    "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600},
    "max_response_bytes": {"type": "integer", "minimum": 1, "maximum": 10485760},
    "allow_http": {"type": "boolean"},
    "fail_on_status": {"type": "boolean"},
    "follow_redirects": {"type": "boolean"}
  },
  "required": ["url"],
  "not": {"required": ["json", "body"]},
  "additionalProperties": false
})";

// Framing and routing headers belong to the client, never to a workflow.
constexpr std::string_view kForbiddenHeaders[] = {
    "host",    "content-length", "transfer-encoding",   "connection",       "upgrade",   "te",
    "trailer", "expect",         "proxy-authorization", "proxy-connection", "keep-alive"};

Error BadConnector(const ConnectorSecrets& c, std::string what) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "connector '" + c.id + "' (" + c.type + "): " + std::move(what));
}

std::string OptionString(const ConnectorSecrets& c, std::string_view key) {
  const bj::value* v = c.options.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

const std::string* Secret(const ConnectorSecrets& c, const std::string& field) {
  auto it = c.secrets.find(field);
  return it == c.secrets.end() || it->second.empty() ? nullptr : &it->second;
}

// Replaces every {{ secrets.<field> }} of a custom header template.
Result<std::string> Substitute(const ConnectorSecrets& c, std::string_view tmpl) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find("{{", i);
    if (open == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    out.append(tmpl.substr(i, open - i));
    size_t close = tmpl.find("}}", open);
    if (close == std::string_view::npos) return BadConnector(c, "unterminated {{ in a header");
    std::string_view expr = tmpl.substr(open + 2, close - open - 2);
    while (!expr.empty() && expr.front() == ' ') expr.remove_prefix(1);
    while (!expr.empty() && expr.back() == ' ') expr.remove_suffix(1);
    if (expr.rfind("secrets.", 0) != 0) {
      return BadConnector(c, "header templates may only use {{ secrets.<field> }}");
    }
    const std::string* s = Secret(c, std::string(expr.substr(8)));
    if (s == nullptr) return BadConnector(c, "a header uses a secret field that is not set");
    out += *s;
    i = close + 2;
  }
  return out;
}

void SetHeader(net::HeaderPairs& headers, std::string name, std::string value) {
  std::string lower = AsciiLowered(name);
  std::erase_if(headers, [&](const auto& kv) { return AsciiLowered(kv.first) == lower; });
  headers.emplace_back(std::move(name), std::move(value));
}

// Puts the connector's credentials on the request. Query placement (api_key in: query)
// returns the parameter to append.
Status ApplyAuth(const ConnectorSecrets& c, net::HttpRequest& req, std::string& extra_query) {
  auto mark = [&](const std::string& name) { req.sensitive_headers.push_back(name); };
  if (c.type == "bearer") {
    const std::string* token = Secret(c, "token");
    if (!token) return BadConnector(c, "secret 'token' is not set");
    SetHeader(req.headers, "Authorization", "Bearer " + *token);
  } else if (c.type == "basic") {
    const std::string* password = Secret(c, "password");
    if (!password) return BadConnector(c, "secret 'password' is not set");
    std::string user = OptionString(c, "username");
    if (user.find(':') != std::string::npos) return BadConnector(c, "username contains ':'");
    SetHeader(req.headers, "Authorization",
              "Basic " + crypto::Base64Encode(user + ":" + *password));
  } else if (c.type == "api_key") {
    const std::string* key = Secret(c, "key");
    if (!key) return BadConnector(c, "secret 'key' is not set");
    std::string in = OptionString(c, "in");
    std::string name = OptionString(c, "name");
    if (name.empty()) return BadConnector(c, "option 'name' is not set");
    if (in == "header" || in.empty()) {
      SetHeader(req.headers, name, *key);
      mark(name);
    } else if (in == "query") {
      extra_query = outbound::PercentEncode(name) + "=" + outbound::PercentEncode(*key);
    } else if (in == "cookie") {
      SetHeader(req.headers, "Cookie", name + "=" + *key);
    } else {
      return BadConnector(c, "option 'in' must be header, query or cookie");
    }
  } else if (c.type == "custom") {
    const bj::value* h = c.options.if_contains("headers");
    if (h && h->is_object()) {
      for (const auto& kv : h->get_object()) {
        if (!kv.value().is_string()) return BadConnector(c, "header values must be strings");
        auto v = Substitute(c, kv.value().get_string());
        if (!v.ok()) return v.error();
        std::string name(kv.key());
        SetHeader(req.headers, name, std::move(v).value());
        mark(name);
      }
    }
  } else if (c.type == "oauth2") {
    // The access token is set by Execute once the egress policy is known (the token
    // request goes through it).
  } else if (c.type == "mtls") {
    const std::string* cert = Secret(c, "cert");
    const std::string* key = Secret(c, "key");
    if (!cert || !key) return BadConnector(c, "secrets 'cert' and 'key' must be set");
    req.client_cert_pem = *cert;
    req.client_key_pem = *key;
    if (const std::string* ca = Secret(c, "ca")) req.ca_pem = *ca;
  } else {
    return BadConnector(c, "this connector type cannot authenticate http.request");
  }
  return Status::Ok();
}

class HttpRequestAction final : public Action {
 public:
  HttpRequestAction(std::shared_ptr<net::HttpClient> client,
                    std::shared_ptr<const net::EgressPolicy> egress,
                    std::shared_ptr<oauth2::TokenCache> tokens)
      : client_(std::move(client)), egress_(std::move(egress)), tokens_(std::move(tokens)) {
    RAMPART_CHECK(client_ != nullptr && egress_ != nullptr);
    if (!tokens_) tokens_ = std::make_shared<oauth2::TokenCache>(client_);
    schema_ = CompileArgsSchema(kSchema);
  }

  const schema::Validator& ArgsSchema() const override { return *schema_; }

  Result<bj::value> Execute(const Context& ctx) const override {
    const bj::object& args = ctx.args.get_object();
    auto connector = outbound::LoadConnector(ctx);
    if (!connector.ok()) return std::move(connector).error();
    const ConnectorSecrets* conn = connector->has_value() ? &**connector : nullptr;

    net::HttpRequest req;
    if (const bj::value* m = args.if_contains("method")) req.method = m->get_string();
    std::string url(args.at("url").get_string());
    if (conn != nullptr && url.find("://") == std::string::npos) {
      std::string base = OptionString(*conn, "base_url");
      if (base.empty()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "a relative url needs a connector with options.base_url");
      }
      while (!base.empty() && base.back() == '/') base.pop_back();
      url = base + (url.front() == '/' ? "" : "/") + url;
    }
    std::string query;
    if (const bj::value* q = args.if_contains("query")) {
      for (const auto& kv : q->get_object()) {
        std::string value;
        if (kv.value().is_string()) {
          value = kv.value().get_string();
        } else {
          value = json::Serialize(kv.value());
        }
        if (!query.empty()) query += '&';
        query += outbound::PercentEncode(kv.key()) + "=" + outbound::PercentEncode(value);
      }
    }
    if (const bj::value* h = args.if_contains("headers")) {
      for (const auto& kv : h->get_object()) {
        std::string lower = AsciiLowered(kv.key());
        for (std::string_view f : kForbiddenHeaders) {
          if (lower == f) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "header '" + lower + "' is set by the client, not the step");
          }
        }
        req.headers.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
      }
    }
    if (const bj::value* j = args.if_contains("json")) {
      req.body = json::Serialize(*j);
      bool has_ct = false;
      for (const auto& [k, v] : req.headers) has_ct = has_ct || AsciiLowered(k) == "content-type";
      if (!has_ct) req.headers.emplace_back("Content-Type", "application/json");
    } else if (const bj::value* b = args.if_contains("body")) {
      req.body = b->get_string();
    }
    if (conn != nullptr) {
      std::string extra;
      if (Status s = ApplyAuth(*conn, req, extra); !s.ok()) return s.error();
      if (!extra.empty()) query = query.empty() ? extra : query + "&" + extra;
    }
    if (!query.empty()) {
      std::string_view u(url);
      u = u.substr(0, u.find('#'));
      url = std::string(u) + (u.find('?') == std::string_view::npos ? "?" : "&") + query;
    }
    req.url = std::move(url);

    auto policy = outbound::ApplyCommonArgs(ctx, args, *egress_, conn, req);
    if (!policy.ok()) return std::move(policy).error();
    if (const bj::value* f = args.if_contains("follow_redirects"); f && !f->get_bool()) {
      req.max_redirects = 0;
    }

    const bool oauth = conn != nullptr && conn->type == "oauth2";
    std::string token;
    if (oauth) {
      auto t = tokens_->AccessToken(ctx, *conn, *policy, req.timeout);
      if (!t.ok()) return std::move(t).error();
      token = std::move(t).value();
      SetHeader(req.headers, "Authorization", "Bearer " + token);
    }

    auto res = client_->Fetch(req, *policy);
    if (!res.ok()) return std::move(res).error();
    if (oauth && res->status == 401) {
      // The API no longer accepts the token (revoked, expired early): one new token and
      // one more attempt; a second 401 is the answer.
      auto t = tokens_->AccessToken(ctx, *conn, *policy, req.timeout, token);
      if (!t.ok()) return std::move(t).error();
      SetHeader(req.headers, "Authorization", "Bearer " + *t);
      auto left = outbound::TimeLeft(ctx, static_cast<double>(req.timeout.count()) / 1000.0);
      if (!left.ok()) return std::move(left).error();
      req.timeout = *left;
      req.connect_timeout = std::min(req.connect_timeout, req.timeout);
      res = client_->Fetch(req, *policy);
      if (!res.ok()) return std::move(res).error();
    }
    const bj::value* fail = args.if_contains("fail_on_status");
    if (fail && fail->get_bool() && (res->status < 200 || res->status > 299)) {
      return MakeError(ErrorCode::kActionFailed,
                       "the server answered HTTP " + std::to_string(res->status));
    }
    return outbound::ResponseOutput(*res);
  }

 private:
  std::shared_ptr<net::HttpClient> client_;
  std::shared_ptr<const net::EgressPolicy> egress_;
  std::shared_ptr<oauth2::TokenCache> tokens_;
  std::optional<schema::Validator> schema_;
};

}  // namespace

std::unique_ptr<Action> MakeHttpRequest(std::shared_ptr<net::HttpClient> client,
                                        std::shared_ptr<const net::EgressPolicy> egress,
                                        std::shared_ptr<oauth2::TokenCache> tokens) {
  return std::make_unique<HttpRequestAction>(std::move(client), std::move(egress),
                                             std::move(tokens));
}

}  // namespace rampart::actions
