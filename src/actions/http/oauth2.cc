#include "actions/http/oauth2.h"

#include <boost/json/array.hpp>
#include <cmath>

#include "actions/http/outbound.h"
#include "rampart/core/ascii.h"
#include "rampart/core/check.h"
#include "rampart/core/json.h"
#include "rampart/crypto/crypto.h"

namespace rampart::actions::oauth2 {
namespace {

namespace bj = boost::json;

constexpr size_t kMaxTokenResponseBytes = 64 << 10;
constexpr size_t kMaxTokenLength = 16 << 10;

// RFC 6749 section 5.2: the error codes a token endpoint may answer with. Only these are
// repeated in an error message; anything else the endpoint says (error_description, the
// body) is never shown.
constexpr std::string_view kOAuthErrors[] = {"invalid_request",     "invalid_client",
                                             "invalid_grant",       "unauthorized_client",
                                             "unsupported_grant_type", "invalid_scope"};

Error Failed(const ConnectorSecrets& c, std::string what) {
  return MakeError(ErrorCode::kActionFailed,
                   "connector '" + c.id + "' (oauth2): " + std::move(what));
}

std::string OptionString(const ConnectorSecrets& c, std::string_view key) {
  const bj::value* v = c.options.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::string SecretOf(const ConnectorSecrets& c, const std::string& field) {
  auto it = c.secrets.find(field);
  return it == c.secrets.end() ? std::string() : it->second;
}

std::string Scopes(const ConnectorSecrets& c) {
  std::string out;
  const bj::value* v = c.options.if_contains("scopes");
  if (v == nullptr || !v->is_array()) return out;
  for (const bj::value& s : v->get_array()) {
    if (!s.is_string()) continue;
    if (!out.empty()) out += ' ';
    out += s.get_string();
  }
  return out;
}

// A token usable in an Authorization header: visible ASCII only (RFC 6750 b64token is
// narrower; anything that could split or smuggle a header is refused).
bool HeaderSafe(std::string_view token) {
  if (token.empty() || token.size() > kMaxTokenLength) return false;
  for (char ch : token) {
    auto u = static_cast<unsigned char>(ch);
    if (u <= 0x20 || u >= 0x7F) return false;
  }
  return true;
}

std::string Fingerprint(const ConnectorSecrets& c) {
  std::string material;
  for (const std::string& part : {OptionString(c, "token_url"), OptionString(c, "client_id"),
                                  SecretOf(c, "client_secret"), Scopes(c)}) {
    material += std::to_string(part.size()) + ":" + part;
  }
  return crypto::Sha256Hex(material);
}

// The error of a failed token request: the client's code with a message naming the host
// at most (HttpClient promises it), prefixed with the connector.
Error TransportError(const ConnectorSecrets& c, Error e) {
  e.message = "connector '" + c.id + "' (oauth2): token request failed: " + e.message;
  return e;
}

}  // namespace

TokenCache::TokenCache(std::shared_ptr<net::HttpClient> client) : client_(std::move(client)) {
  RAMPART_CHECK(client_ != nullptr);
}

std::shared_ptr<TokenCache::Entry> TokenCache::EntryFor(const std::string& key) {
  std::lock_guard lock(mu_);
  std::shared_ptr<Entry>& e = entries_[key];
  if (!e) e = std::make_shared<Entry>();
  return e;
}

std::string TokenCache::NewestRefresh(const ConnectorSecrets& connector, const Entry& entry) {
  // One the endpoint rotated replaces the one it was rotated from, even when this run
  // resolved the connector before.
  std::string refresh = SecretOf(connector, "refresh_token");
  for (int hops = 0; !refresh.empty() && hops < 16; ++hops) {
    auto it = entry.rotated.find(crypto::Sha256Hex(refresh));
    if (it == entry.rotated.end()) break;
    refresh = it->second;
  }
  return refresh;
}

Result<std::string> TokenCache::AccessToken(const Context& ctx, const ConnectorSecrets& connector,
                                            const net::EgressPolicy& policy,
                                            std::chrono::milliseconds timeout,
                                            std::string_view rejected) {
  if (connector.type != "oauth2") {
    return MakeError(ErrorCode::kInternal, "not an oauth2 connector");
  }
  const std::string org = ctx.org.empty() ? std::string("local") : std::string(ctx.org);
  std::shared_ptr<Entry> entry = EntryFor(org + '\n' + connector.id);
  std::lock_guard lock(entry->mu);
  const std::string fingerprint = Fingerprint(connector);
  if (entry->fingerprint != fingerprint) {
    // A new endpoint, client or secret: nothing fetched with the old one is used.
    entry->fingerprint = fingerprint;
    entry->access_token.clear();
    entry->rotated.clear();
  }
  if (!rejected.empty() && entry->access_token == rejected) entry->access_token.clear();
  if (!entry->access_token.empty()) {
    const std::string refresh = NewestRefresh(connector, *entry);
    if ((refresh.empty() ? std::string() : crypto::Sha256Hex(refresh)) != entry->grant) {
      entry->access_token.clear();
    }
  }
  if (!entry->access_token.empty() && ctx.clock.Now() < entry->valid_until) {
    if (ctx.connectors != nullptr) ctx.connectors->AddDerivedSecret(entry->access_token);
    return entry->access_token;
  }
  entry->access_token.clear();
  return Fetch(ctx, connector, policy, timeout, *entry);
}

Result<std::string> TokenCache::Fetch(const Context& ctx, const ConnectorSecrets& c,
                                      const net::EgressPolicy& policy,
                                      std::chrono::milliseconds timeout, Entry& entry) {
  const std::string token_url = OptionString(c, "token_url");
  const std::string client_id = OptionString(c, "client_id");
  const std::string client_secret = SecretOf(c, "client_secret");
  if (token_url.empty() || client_id.empty() || client_secret.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "connector '" + c.id +
                         "' (oauth2): options token_url, client_id and secret client_secret "
                         "must be set");
  }
  std::string refresh = NewestRefresh(c, entry);
  if (!refresh.empty() && ctx.connectors != nullptr) ctx.connectors->AddDerivedSecret(refresh);

  net::HttpRequest req;
  req.method = "POST";
  req.url = token_url;
  req.max_redirects = 0;  // credentials are never replayed to another location
  req.max_response_bytes = kMaxTokenResponseBytes;
  auto left = outbound::TimeLeft(ctx, static_cast<double>(timeout.count()) / 1000.0);
  if (!left.ok()) return std::move(left).error();
  req.timeout = *left;
  req.connect_timeout = std::min(req.timeout, std::chrono::milliseconds(10'000));
  req.headers.emplace_back(
      "Authorization",
      "Basic " + crypto::Base64Encode(outbound::PercentEncode(client_id) + ":" +
                                      outbound::PercentEncode(client_secret)));
  req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  req.headers.emplace_back("Accept", "application/json");
  if (refresh.empty()) {
    req.body = "grant_type=client_credentials";
  } else {
    req.body = "grant_type=refresh_token&refresh_token=" + outbound::PercentEncode(refresh);
  }
  if (std::string scopes = Scopes(c); !scopes.empty()) {
    req.body += "&scope=" + outbound::PercentEncode(scopes);
  }

  auto res = client_->Fetch(req, policy);
  if (!res.ok()) return TransportError(c, std::move(res).error());

  bj::value body;
  {
    json::ParseLimits limits;
    limits.max_bytes = kMaxTokenResponseBytes;
    auto parsed = json::Parse(res->body, limits);
    if (parsed.ok()) body = std::move(parsed).value();
  }
  if (res->status != 200) {
    std::string what = "the token endpoint answered HTTP " + std::to_string(res->status);
    if (body.is_object()) {
      const bj::value* code = body.get_object().if_contains("error");
      if (code != nullptr && code->is_string()) {
        for (std::string_view known : kOAuthErrors) {
          if (code->get_string() == known) what += " (" + std::string(known) + ")";
        }
      }
    }
    return Failed(c, std::move(what));
  }
  if (!body.is_object()) return Failed(c, "the token endpoint's answer is not a JSON object");
  const bj::object& o = body.get_object();
  const bj::value* access = o.if_contains("access_token");
  if (access == nullptr || !access->is_string() || !HeaderSafe(access->get_string())) {
    return Failed(c, "the token endpoint's answer has no usable access_token");
  }
  std::string access_token(access->get_string());
  // Registered before anything else happens with it (even a failure below).
  if (ctx.connectors != nullptr) ctx.connectors->AddDerivedSecret(access_token);
  if (const bj::value* type = o.if_contains("token_type")) {
    if (!type->is_string() || AsciiLowered(type->get_string()) != "bearer") {
      return Failed(c, "the token endpoint issued a token_type other than Bearer");
    }
  }
  std::chrono::seconds lifetime = kDefaultLifetime;
  if (const bj::value* e = o.if_contains("expires_in")) {
    double seconds = -1;
    if (e->is_number()) seconds = e->to_number<double>();
    if (e->is_string()) {
      try {
        seconds = std::stod(std::string(e->get_string()));
      } catch (...) {
        seconds = -1;
      }
    }
    if (!std::isfinite(seconds) || seconds < 0 || seconds > 10.0 * 365 * 86400) {
      return Failed(c, "the token endpoint's expires_in is not a number of seconds");
    }
    lifetime = std::chrono::seconds(static_cast<int64_t>(seconds));
  }

  bool grant_changed = false;
  if (const bj::value* r = o.if_contains("refresh_token")) {
    if (!r->is_string() || !HeaderSafe(r->get_string())) {
      return Failed(c, "the token endpoint's refresh_token is not usable");
    }
    std::string rotated(r->get_string());
    if (ctx.connectors != nullptr) ctx.connectors->AddDerivedSecret(rotated);
    const std::string previous = refresh;
    if (rotated != previous) {
      // Written only while the stored refresh_token is still the one this request was
      // made with (or the one this step resolved, which this process rotated into it
      // before): one an owner set meanwhile, or a connector created again under its id,
      // is another grant and keeps its token.
      const std::string expected[] = {previous, SecretOf(c, "refresh_token")};
      Status stored = ctx.connectors != nullptr
                          ? ctx.connectors->ReplaceSecret(c.id, "refresh_token", rotated,
                                                          expected, ctx.step_path)
                          : Status(MakeError(ErrorCode::kInternal, "no connector store"));
      grant_changed = !stored.ok() && (stored.error().code == ErrorCode::kConflict ||
                                       stored.error().code == ErrorCode::kNotFound);
      // The process keeps using the new token unless the connector changed under the
      // request (then the rotated token and its access token belong to no connector).
      if (!grant_changed && !previous.empty()) entry.rotated[crypto::Sha256Hex(previous)] = rotated;
      if (!stored.ok() && ctx.log != nullptr) {
        // The operator learns that the stored one is stale, or that the rotation was
        // dropped. The message carries no secret (it is redacted anyway).
        ctx.log->Write(bj::object{
            {"level", "warn"},
            {"msg", grant_changed ? "oauth2: the connector changed during the token request; "
                                    "the rotated refresh_token was dropped"
                                  : "oauth2: could not store the rotated refresh_token"},
            {"fields", bj::object{{"connector", c.id}, {"error", stored.error().message}}},
            {"workflow", ctx.workflow},
            {"run_id", ctx.run_id},
            {"step", ctx.step_path}});
      }
    }
  }

  if (lifetime > kExpirySkew && !grant_changed) {
    entry.access_token = access_token;
    entry.grant = refresh.empty() ? std::string() : crypto::Sha256Hex(NewestRefresh(c, entry));
    entry.valid_until = ctx.clock.Now() + (lifetime - kExpirySkew);
  }
  return access_token;
}

}  // namespace rampart::actions::oauth2
