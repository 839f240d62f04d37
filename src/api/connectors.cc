#include "api/connectors.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <climits>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

#include "api/common.h"
#include "rampart/audit/chain.h"
#include "rampart/core/check.h"
#include "rampart/core/json.h"
#include "rampart/crypto/crypto.h"
#include "rampart/hooks/dispatcher.h"

namespace rampart::api {
namespace {

using boost::json::array;
using boost::json::object;
using boost::json::value;

constexpr size_t kMaxSecretBytes = 64 * 1024;
constexpr size_t kMaxOptionsBytes = 16 * 1024;
constexpr size_t kMaxUrlLength = 2048;
constexpr size_t kMaxListItems = 200;
constexpr size_t kMaxItemLength = 256;
constexpr int kMaxRotateDays = 3650;

Error Invalid(std::string_view field, std::string_view message) {
  return MakeError(ErrorCode::kInvalidArgument, std::string(field) + ": " + std::string(message));
}

Error NoConnector() { return MakeError(ErrorCode::kNotFound, "connector not found"); }

bool Contains(const std::vector<std::string_view>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// RFC 9110 token characters (header names, api_key `name`).
bool IsToken(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (unsigned char c : s) {
    if (!(std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                 std::string_view::npos)) {
      return false;
    }
  }
  return true;
}

bool ValidSecretFieldName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s) {
    if (!(std::islower(c) || std::isdigit(c) || c == '_')) return false;
  }
  return true;
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// https://host[...]: the scheme is not negotiable (plain http would send credentials in
// the clear); the SSRF guard of the HTTP client checks the host when it is used.
Status CheckHttpsUrl(std::string_view field, const value& v) {
  if (!v.is_string()) return Invalid(field, "must be an https:// URL");
  std::string_view url = v.as_string();
  constexpr std::string_view kScheme = "https://";
  if (url.size() > kMaxUrlLength || url.substr(0, kScheme.size()) != kScheme ||
      url.size() == kScheme.size() || url[kScheme.size()] == '/' || HasControl(url) ||
      url.find(' ') != std::string_view::npos) {
    return Invalid(field, "must be an https:// URL");
  }
  return Status::Ok();
}

Status CheckString(std::string_view field, const value& v, size_t max) {
  if (!v.is_string() || v.as_string().empty() || v.as_string().size() > max ||
      HasControl(v.as_string())) {
    return Invalid(field, "must be a non-empty string of at most " + std::to_string(max) +
                              " characters");
  }
  return Status::Ok();
}

Status CheckStringList(std::string_view field, const value& v) {
  if (!v.is_array() || v.as_array().size() > kMaxListItems) {
    return Invalid(field, "must be a list of at most " + std::to_string(kMaxListItems) +
                              " strings");
  }
  for (size_t i = 0; i < v.as_array().size(); ++i) {
    if (Status s = CheckString(std::string(field) + "[" + std::to_string(i) + "]",
                               v.as_array()[i], kMaxItemLength);
        !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

// The `{{ ... }}` templates of a custom header value: each must be `secrets.<field>`.
Result<std::vector<std::string>> SecretReferences(std::string_view field, std::string_view text) {
  std::vector<std::string> refs;
  size_t at = 0;
  while ((at = text.find("{{", at)) != std::string_view::npos) {
    const size_t end = text.find("}}", at + 2);
    if (end == std::string_view::npos) return Invalid(field, "unterminated {{ template");
    std::string_view inner = text.substr(at + 2, end - at - 2);
    while (!inner.empty() && inner.front() == ' ') inner.remove_prefix(1);
    while (!inner.empty() && inner.back() == ' ') inner.remove_suffix(1);
    constexpr std::string_view kPrefix = "secrets.";
    if (inner.substr(0, kPrefix.size()) != kPrefix ||
        !ValidSecretFieldName(inner.substr(kPrefix.size()))) {
      return Invalid(field, "templates may only be {{ secrets.<field> }}");
    }
    refs.emplace_back(inner.substr(kPrefix.size()));
    at = end + 2;
  }
  return refs;
}

Status CheckOption(const ConnectorTypeInfo& info, std::string_view key, const value& v) {
  const std::string field = "options." + std::string(key);
  if (key == "base_url" || key == "token_url") return CheckHttpsUrl(field, v);
  if (key == "username" || key == "client_id") return CheckString(field, v, kMaxItemLength);
  if (key == "in") {
    if (!v.is_string() || (v.as_string() != "header" && v.as_string() != "query" &&
                           v.as_string() != "cookie")) {
      return Invalid(field, "must be one of header, query, cookie");
    }
    return Status::Ok();
  }
  if (key == "name") {
    if (!v.is_string() || !IsToken(v.as_string())) {
      return Invalid(field, "must be a header/parameter name (letters, digits, -_.)");
    }
    return Status::Ok();
  }
  if (key == "scopes") return CheckStringList(field, v);
  if (key == "headers") {
    if (!v.is_object() || v.as_object().size() > 50) {
      return Invalid(field, "must be an object of at most 50 header names to strings");
    }
    for (const auto& header : v.as_object()) {
      const std::string hfield = field + "." + std::string(header.key());
      if (!IsToken(header.key())) return Invalid(hfield, "invalid header name");
      if (Status s = CheckString(hfield, header.value(), 8192); !s.ok()) return s;
      auto refs = SecretReferences(hfield, header.value().as_string());
      if (!refs.ok()) return refs.error();
    }
    return Status::Ok();
  }
  return Invalid(field, "unknown option for type " + std::string(info.type));
}

const std::vector<ConnectorTypeInfo>& Types() {
  static const std::vector<ConnectorTypeInfo> kTypes = {
      {"bearer", {"base_url"}, {}, {"token"}, {"token"}, false},
      {"basic", {"base_url", "username"}, {"username"}, {"password"}, {"password"}, false},
      {"api_key", {"base_url", "in", "name"}, {"in", "name"}, {"key"}, {"key"}, false},
      {"oauth2",
       {"base_url", "token_url", "scopes", "client_id"},
       {"token_url", "client_id"},
       {"client_secret", "refresh_token"},
       {"client_secret"},
       false},
      {"mtls", {"base_url"}, {}, {"cert", "key", "ca"}, {"cert", "key"}, false},
      {"custom", {"base_url", "headers"}, {}, {}, {}, true},
      {"webhook_secret", {}, {}, {"secret"}, {"secret"}, false},
  };
  return kTypes;
}

Status CheckOptions(const ConnectorTypeInfo& info, const object& options) {
  for (const auto& entry : options) {
    if (!Contains(info.options, entry.key())) {
      return Invalid("options." + std::string(entry.key()),
                     "unknown option for type " + std::string(info.type));
    }
    if (Status s = CheckOption(info, entry.key(), entry.value()); !s.ok()) return s;
  }
  for (std::string_view required : info.required_options) {
    if (!options.contains(required)) {
      return Invalid("options." + std::string(required),
                     "is required for type " + std::string(info.type));
    }
  }
  if (json::SerializedSizeAtMost(options, kMaxOptionsBytes + 1) > kMaxOptionsBytes) {
    return Invalid("options", "is larger than 16 KiB");
  }
  return Status::Ok();
}

Status CheckEgress(const value& v) {
  if (!v.is_object()) return Invalid("egress", "must be an object");
  for (const auto& entry : v.as_object()) {
    const std::string field = "egress." + std::string(entry.key());
    if (entry.key() == "allow_http") {
      if (!entry.value().is_bool()) return Invalid(field, "must be true or false");
    } else if (entry.key() == "allow_cidrs" || entry.key() == "allow_domains" ||
               entry.key() == "deny_domains") {
      if (Status s = CheckStringList(field, entry.value()); !s.ok()) return s;
    } else if (entry.key() == "allow_ports") {
      if (!entry.value().is_array() || entry.value().as_array().size() > 64) {
        return Invalid(field, "must be a list of ports");
      }
      for (const value& port : entry.value().as_array()) {
        if (!port.is_int64() || port.as_int64() < 1 || port.as_int64() > 65535) {
          return Invalid(field, "must be a list of ports 1..65535");
        }
      }
    } else {
      return Invalid(field, "unknown egress rule");
    }
  }
  return Status::Ok();
}

Result<object> ParseJsonObject(const std::string& text) {
  auto v = json::Parse(text);
  if (!v.ok() || !v->is_object()) return MakeError(ErrorCode::kInternal, "corrupted connector");
  return std::move(v->as_object());
}

Result<array> ParseJsonArray(const std::string& text) {
  auto v = json::Parse(text);
  if (!v.ok() || !v->is_array()) return MakeError(ErrorCode::kInternal, "corrupted connector");
  return std::move(v->as_array());
}

bool RotationDue(const store::Connector& c, store::Millis now) {
  if (c.rotate_every_days <= 0) return false;
  const store::Millis since = c.rotated_at.value_or(c.created_at);
  return since + static_cast<store::Millis>(c.rotate_every_days) * 86400000 <= now;
}

// Masked metadata: which secret fields are set and when, never a value or ciphertext.
Result<object> ConnectorJson(const store::Connector& c,
                             const std::vector<store::ConnectorSecret>& secrets,
                             store::Millis now) {
  auto options = ParseJsonObject(c.options);
  if (!options.ok()) return options.error();
  auto allowed = ParseJsonArray(c.allowed_workflows);
  if (!allowed.ok()) return allowed.error();
  auto egress = ParseJsonObject(c.egress);
  if (!egress.ok()) return egress.error();
  object secret_fields;
  if (const ConnectorTypeInfo* info = FindConnectorType(c.type); info != nullptr) {
    for (std::string_view field : info->secrets) {
      secret_fields[field] = object{{"set", false}};
    }
  }
  for (const store::ConnectorSecret& s : secrets) {
    secret_fields[s.field] = object{{"set", true}, {"updated_at", TimeValue(s.updated_at)}};
  }
  return object{{"id", c.id},
                {"type", c.type},
                {"options", std::move(*options)},
                {"secrets", std::move(secret_fields)},
                {"allowed_workflows", std::move(*allowed)},
                {"egress", std::move(*egress)},
                {"created_at", TimeValue(c.created_at)},
                {"updated_at", TimeValue(c.updated_at)},
                {"rotated_at", TimeValue(c.rotated_at)},
                {"rotate_every_days", c.rotate_every_days},
                {"rotation_due", RotationDue(c, now)}};
}

std::vector<std::string> Names(const std::vector<store::ConnectorSecret>& secrets) {
  std::vector<std::string> names;
  for (const auto& s : secrets) names.push_back(s.field);
  return names;
}

array NameArray(const std::vector<std::string>& names) {
  array out;
  for (const auto& n : names) out.emplace_back(n);
  return out;
}

void Wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

// The secrets of a request body, sealed for (org, connector): done before the write
// transaction because the org's first data key is created by a durable write of its own.
Result<std::vector<store::ConnectorSecret>> SealSecrets(ConnectorCall& call,
                                                         const std::string& connector_id,
                                                         std::map<std::string, std::string>& secrets) {
  std::vector<store::ConnectorSecret> sealed;
  if (secrets.empty()) return sealed;
  if (call.keyring == nullptr) {
    return MakeError(ErrorCode::kInternal, "connector secrets are unavailable: no keyring");
  }
  for (auto& [field, plaintext] : secrets) {
    auto out = call.keyring->Encrypt(call.org_id, connector_id, field, plaintext);
    Wipe(plaintext);
    if (!out.ok()) return out.error();
    auto version = crypto::Keyring::VersionOf(*out);
    if (!version.ok()) return version.error();
    sealed.push_back(store::ConnectorSecret{call.org_id, connector_id, field,
                                            std::move(out).value(), *version, call.now});
  }
  return sealed;
}

Status RunWrite(store::Store& store, const std::function<Status(store::Tx&)>& fn) {
  return store.Write(fn);
}

}  // namespace

bool ValidConnectorId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (size_t i = 0; i < id.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(id[i]);
    const bool alnum = std::islower(c) || std::isdigit(c);
    if (i == 0 ? !alnum : !(alnum || c == '_' || c == '-')) return false;
  }
  return true;
}

const ConnectorTypeInfo* FindConnectorType(std::string_view type) {
  for (const auto& info : Types()) {
    if (info.type == type) return &info;
  }
  return nullptr;
}

Result<ConnectorInput> ParseConnectorBody(const object& body, ConnectorBodyKind kind,
                                          std::string_view type) {
  static const std::vector<std::string_view> kLocalFields = {
      "id", "type", "options", "allowed_workflows", "egress", "rotate_every_days"};
  static const std::vector<std::string_view> kCreateFields = {
      "id",     "type",   "options", "secrets", "allowed_workflows",
      "egress", "rotate_every_days"};
  static const std::vector<std::string_view> kUpdateFields = {
      "options", "secrets", "allowed_workflows", "egress", "rotate_every_days"};
  const auto& allowed = kind == ConnectorBodyKind::kLocal    ? kLocalFields
                        : kind == ConnectorBodyKind::kCreate ? kCreateFields
                                                             : kUpdateFields;
  for (const auto& entry : body) {
    if (!Contains(allowed, entry.key())) {
      if (kind == ConnectorBodyKind::kLocal && entry.key() == "secrets") {
        return Invalid("secrets", "secrets of local connectors come from --secrets-file");
      }
      return Invalid(entry.key(), "unknown field");
    }
  }
  ConnectorInput in;
  if (kind == ConnectorBodyKind::kUpdate) {
    in.type = std::string(type);
  } else {
    const value* id = body.if_contains("id");
    if (id == nullptr || !id->is_string() || !ValidConnectorId(id->as_string())) {
      return Invalid("id", "is required and must match ^[a-z0-9][a-z0-9_-]{0,63}$");
    }
    in.id = std::string(id->as_string());
    const value* t = body.if_contains("type");
    if (t == nullptr || !t->is_string()) return Invalid("type", "is required");
    in.type = std::string(t->as_string());
  }
  const ConnectorTypeInfo* info = FindConnectorType(in.type);
  if (info == nullptr) {
    return Invalid("type",
                   "unknown connector type (bearer, basic, api_key, oauth2, mtls, custom, "
                   "webhook_secret)");
  }
  if (const value* v = body.if_contains("options"); v != nullptr) {
    if (!v->is_object()) return Invalid("options", "must be an object");
    if (Status s = CheckOptions(*info, v->as_object()); !s.ok()) return s.error();
    in.options = v->as_object();
  } else if (kind != ConnectorBodyKind::kUpdate) {
    if (Status s = CheckOptions(*info, object()); !s.ok()) return s.error();
  }
  if (const value* v = body.if_contains("secrets"); v != nullptr) {
    if (!v->is_object()) return Invalid("secrets", "must be an object of field names to strings");
    for (const auto& entry : v->as_object()) {
      const std::string field = "secrets." + std::string(entry.key());
      const bool known = info->any_secret_field ? ValidSecretFieldName(entry.key())
                                                : Contains(info->secrets, entry.key());
      if (!known) {
        return Invalid(field, info->any_secret_field
                                  ? "secret field names must match ^[a-z0-9_]{1,64}$"
                                  : "unknown secret field for type " + in.type);
      }
      if (!entry.value().is_string() || entry.value().as_string().empty() ||
          entry.value().as_string().size() > kMaxSecretBytes) {
        return Invalid(field, "must be a non-empty string of at most 64 KiB");
      }
      in.secrets.emplace(std::string(entry.key()), std::string(entry.value().as_string()));
    }
  }
  if (const value* v = body.if_contains("allowed_workflows"); v != nullptr) {
    if (Status s = CheckStringList("allowed_workflows", *v); !s.ok()) return s.error();
    in.allowed_workflows = v->as_array();
  }
  if (const value* v = body.if_contains("egress"); v != nullptr) {
    if (Status s = CheckEgress(*v); !s.ok()) return s.error();
    in.egress = v->as_object();
  }
  if (const value* v = body.if_contains("rotate_every_days"); v != nullptr && !v->is_null()) {
    if (!v->is_int64() || v->as_int64() < 0 || v->as_int64() > kMaxRotateDays) {
      return Invalid("rotate_every_days", "must be an integer 0..3650 (0: no rotation policy)");
    }
    in.rotate_every_days = static_cast<int>(v->as_int64());
  } else if (v != nullptr) {
    in.rotate_every_days = 0;
  }
  return in;
}

Status ValidateSecretSet(std::string_view type, const object& options,
                         const std::vector<std::string>& fields) {
  const ConnectorTypeInfo* info = FindConnectorType(type);
  if (info == nullptr) return Invalid("type", "unknown connector type");
  auto has = [&](std::string_view f) {
    return std::find(fields.begin(), fields.end(), f) != fields.end();
  };
  for (std::string_view required : info->required_secrets) {
    if (!has(required)) {
      return Invalid("secrets." + std::string(required),
                     "is required for type " + std::string(type));
    }
  }
  if (const value* headers = options.if_contains("headers");
      headers != nullptr && headers->is_object()) {
    for (const auto& header : headers->as_object()) {
      if (!header.value().is_string()) continue;
      const std::string field = "options.headers." + std::string(header.key());
      auto refs = SecretReferences(field, header.value().as_string());
      if (!refs.ok()) return refs.error();
      for (const std::string& ref : *refs) {
        if (!has(ref)) return Invalid(field, "uses secrets." + ref + ", which is not set");
      }
    }
  }
  return Status::Ok();
}

DecryptedConnector::~DecryptedConnector() {
  for (auto& [field, secret] : secrets) Wipe(secret);
}

// ----- local runs -----

Status ConnectorSource::ReplaceSecret(std::string_view /*connector_id*/,
                                      std::string_view /*field*/, std::string_view /*value*/,
                                      std::span<const std::string> /*expected*/,
                                      std::string_view /*step_path*/) {
  return MakeError(ErrorCode::kInternal, "connector secrets cannot be updated here");
}

namespace {

// Whether a connector of `type` may hold secret `field` (custom: any well-formed field).
bool DeclaresSecret(std::string_view type, std::string_view field) {
  const ConnectorTypeInfo* info = FindConnectorType(type);
  if (info == nullptr) return false;
  if (info->any_secret_field) return !field.empty();
  return std::find(info->secrets.begin(), info->secrets.end(), field) != info->secrets.end();
}

// Whether a stored secret is still one a replacement was computed from (constant time
// for each candidate).
bool IsOneOf(std::string_view stored, std::span<const std::string> expected) {
  bool match = false;
  for (const std::string& candidate : expected) {
    match = crypto::ConstantTimeEqual(stored, candidate) || match;
  }
  return match;
}

Error SecretChanged(std::string_view id, std::string_view field) {
  return MakeError(ErrorCode::kConflict, "connector " + std::string(id) + " secret " +
                                             std::string(field) + " changed meanwhile");
}

}  // namespace

Status InMemoryConnectorSource::ReplaceSecret(std::string_view connector_id,
                                              std::string_view field, std::string_view value,
                                              std::span<const std::string> expected,
                                              std::string_view /*step_path*/) {
  std::lock_guard lock(mu_);
  auto it = connectors_.find(connector_id);
  if (it == connectors_.end()) return NoConnector();
  if (!DeclaresSecret(it->second.type, field)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "connector " + it->second.id + " has no secret field " + std::string(field));
  }
  auto stored = it->second.secrets.find(std::string(field));
  if (!IsOneOf(stored == it->second.secrets.end() ? std::string_view() : stored->second,
               expected)) {
    return SecretChanged(connector_id, field);
  }
  std::string& slot = it->second.secrets[std::string(field)];
  Wipe(slot);
  slot.assign(value);
  return Status::Ok();
}

Result<DecryptedConnector> InMemoryConnectorSource::Load(std::string_view connector_id,
                                                         std::string_view workflow_id,
                                                         std::string_view /*step_path*/) {
  std::lock_guard lock(mu_);
  auto it = connectors_.find(connector_id);
  if (it == connectors_.end()) return NoConnector();
  const DecryptedConnector& c = it->second;
  if (!c.allowed_workflows.empty() &&
      std::find(c.allowed_workflows.begin(), c.allowed_workflows.end(), workflow_id) ==
          c.allowed_workflows.end()) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "connector " + c.id + " may not be used by workflow " +
                         std::string(workflow_id));
  }
  DecryptedConnector copy;
  copy.id = c.id;
  copy.type = c.type;
  copy.options = c.options;
  copy.secrets = c.secrets;
  copy.allowed_workflows = c.allowed_workflows;
  copy.egress = c.egress;
  return copy;
}

Result<std::unique_ptr<InMemoryConnectorSource>> ParseLocalConnectors(const value& connectors,
                                                                      const value& secrets) {
  auto source = std::make_unique<InMemoryConnectorSource>();
  if (!connectors.is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "connectors: must be a list of connectors");
  }
  if (!secrets.is_null() && !secrets.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "secrets file: must be an object {\"<connector id>\": {\"<field>\": "
                     "\"<value>\"}}");
  }
  const object empty;
  const object& all_secrets = secrets.is_object() ? secrets.as_object() : empty;
  for (size_t i = 0; i < connectors.as_array().size(); ++i) {
    const value& entry = connectors.as_array()[i];
    const std::string where = "connectors[" + std::to_string(i) + "]";
    if (!entry.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, where + ": must be an object");
    }
    auto in = ParseConnectorBody(entry.as_object(), ConnectorBodyKind::kLocal);
    if (!in.ok()) {
      return MakeError(ErrorCode::kInvalidArgument, where + "." + in.error().message);
    }
    if (source->connectors_.count(in->id)) {
      return MakeError(ErrorCode::kInvalidArgument, where + ".id: duplicate connector " + in->id);
    }
    // The connector's secrets, validated by the same rules as an API body.
    object body;
    if (const value* s = all_secrets.if_contains(in->id); s != nullptr) body["secrets"] = *s;
    auto with_secrets = ParseConnectorBody(body, ConnectorBodyKind::kUpdate, in->type);
    if (!with_secrets.ok()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "secrets file: " + in->id + "." + with_secrets.error().message);
    }
    std::vector<std::string> fields;
    for (const auto& [field, v] : with_secrets->secrets) fields.push_back(field);
    const object options = in->options.value_or(object());
    if (Status s = ValidateSecretSet(in->type, options, fields); !s.ok()) {
      return MakeError(ErrorCode::kInvalidArgument, where + " (" + in->id + "): " + s.error().message);
    }
    DecryptedConnector c;
    c.id = in->id;
    c.type = in->type;
    c.options = options;
    c.secrets = std::move(with_secrets->secrets);
    if (in->allowed_workflows) {
      for (const value& w : *in->allowed_workflows) c.allowed_workflows.emplace_back(w.as_string());
    }
    c.egress = in->egress.value_or(object());
    source->connectors_.emplace(c.id, std::move(c));
  }
  for (const auto& entry : all_secrets) {
    if (!source->connectors_.count(entry.key())) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "secrets file: " + std::string(entry.key()) + ": no such connector");
    }
  }
  return source;
}

// ----- server side -----

Result<DecryptedConnector> LoadConnectorForRun(store::Tx& tx, crypto::Keyring& keyring,
                                               std::string_view org_id,
                                               std::string_view connector_id,
                                               std::string_view workflow_id, store::Millis now,
                                               std::string_view actor,
                                               std::string_view step_path) {
  auto stored = tx.GetConnector(org_id, connector_id);
  if (!stored.ok()) return stored.error();
  if (!stored->has_value()) return NoConnector();
  const store::Connector& c = **stored;
  DecryptedConnector out;
  out.id = c.id;
  out.type = c.type;
  auto options = ParseJsonObject(c.options);
  auto allowed = ParseJsonArray(c.allowed_workflows);
  auto egress = ParseJsonObject(c.egress);
  if (!options.ok() || !allowed.ok() || !egress.ok()) {
    return MakeError(ErrorCode::kInternal, "corrupted connector");
  }
  out.options = std::move(*options);
  out.egress = std::move(*egress);
  for (const value& w : *allowed) {
    if (w.is_string()) out.allowed_workflows.emplace_back(w.as_string());
  }
  if (!out.allowed_workflows.empty() &&
      std::find(out.allowed_workflows.begin(), out.allowed_workflows.end(), workflow_id) ==
          out.allowed_workflows.end()) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "connector " + c.id + " may not be used by workflow " +
                         std::string(workflow_id));
  }
  auto secrets = tx.ListConnectorSecrets(org_id, connector_id);
  if (!secrets.ok()) return secrets.error();
  for (const store::ConnectorSecret& s : *secrets) {
    auto plain = keyring.Decrypt(org_id, connector_id, s.field, s.sealed);
    if (!plain.ok()) return plain.error();
    out.secrets.emplace(s.field, std::move(plain).value());
  }
  store::AuditEvent event;
  event.time = now;
  event.org_id = std::string(org_id);
  event.actor = std::string(actor);
  event.action = "connector.secret_use";
  event.target = c.id;
  event.outcome = "success";
  object details{{"workflow", workflow_id}};
  if (!step_path.empty()) details["step"] = step_path;
  details["fields"] = NameArray(Names(*secrets));
  event.details = json::Serialize(details);
  auto appended = tx.AppendAudit(std::move(event));
  if (!appended.ok()) return appended.error();
  return out;
}

Result<std::vector<crypto::WrappedDataKey>> StoreKeyStore::ListDataKeys(std::string_view org_id) {
  std::vector<crypto::WrappedDataKey> out;
  Status status = store_.Read([&](store::Tx& tx) -> Status {
    auto keys = tx.ListDataKeys(org_id);
    if (!keys.ok()) return keys.error();
    for (store::DataKey& k : *keys) {
      if (k.version <= 0 || k.version > UINT32_MAX) {
        return MakeError(ErrorCode::kInternal, "corrupted data key");
      }
      out.push_back({std::move(k.org_id), static_cast<uint32_t>(k.version),
                     std::move(k.wrapped), k.created_at, std::move(k.kek_id)});
    }
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return out;
}

Status StoreKeyStore::InsertDataKey(const crypto::WrappedDataKey& key) {
  return store_.Write([&](store::Tx& tx) {
    return tx.InsertDataKey({key.org_id, key.version, key.wrapped, key.created_at, key.kek_id});
  });
}

Result<ReencryptStats> ReencryptSecrets(store::Store& store, crypto::Keyring& keyring,
                                        int batch_size) {
  ReencryptStats stats;
  std::vector<std::string> orgs;
  Status listed = store.Read([&](store::Tx& tx) -> Status {
    auto ids = tx.ListOrgIds();
    if (!ids.ok()) return ids.error();
    orgs = std::move(ids).value();
    return Status::Ok();
  });
  if (!listed.ok()) return listed.error();
  for (const std::string& org : orgs) {
    ++stats.orgs;
    // The newest version now; secrets below it move up. A rotation meanwhile only means
    // a later pass has more to do.
    auto newest = keyring.CurrentVersion(org);
    if (!newest.ok()) return newest.error();
    for (;;) {
      int64_t moved = 0;
      Status batch = store.Write([&](store::Tx& tx) -> Status {
        moved = 0;
        // Read inside the write transaction: a secret replaced by the API since the last
        // batch is re-read here, never overwritten with an older value.
        auto stale = tx.ListSecretsBelowVersion(org, *newest, batch_size);
        if (!stale.ok()) return stale.error();
        for (store::ConnectorSecret& s : *stale) {
          auto plain = keyring.Decrypt(org, s.connector_id, s.field, s.sealed);
          if (!plain.ok()) return plain.error();
          auto sealed = keyring.Encrypt(org, s.connector_id, s.field, *plain);
          Wipe(*plain);
          if (!sealed.ok()) return sealed.error();
          auto version = crypto::Keyring::VersionOf(*sealed);
          if (!version.ok()) return version.error();
          s.sealed = std::move(sealed).value();
          s.key_version = *version;
          if (Status put = tx.PutConnectorSecret(s); !put.ok()) return put;
          ++moved;
        }
        return Status::Ok();
      });
      if (!batch.ok()) return batch.error();
      stats.reencrypted += moved;
      if (moved < batch_size) break;
    }
  }
  return stats;
}

Status CheckMasterKey(store::Store& store, crypto::Keyring& keyring) {
  std::vector<std::string> orgs;
  Status listed = store.Read([&](store::Tx& tx) -> Status {
    auto ids = tx.ListOrgIds();
    if (!ids.ok()) return ids.error();
    orgs = std::move(ids).value();
    return Status::Ok();
  });
  if (!listed.ok()) return listed;
  for (const std::string& org : orgs) {
    if (Status s = keyring.CheckOrg(org); !s.ok()) return s;
  }
  return Status::Ok();
}

Result<ReencryptStats> RotateAllKeys(store::Store& store, crypto::Keyring& keyring,
                                     int batch_size) {
  std::vector<std::string> orgs;
  Status listed = store.Read([&](store::Tx& tx) -> Status {
    auto ids = tx.ListOrgIds();
    if (!ids.ok()) return ids.error();
    orgs = std::move(ids).value();
    return Status::Ok();
  });
  if (!listed.ok()) return listed.error();
  int64_t rotated = 0;
  for (const std::string& org : orgs) {
    auto version = keyring.Rotate(org);
    if (!version.ok()) return version.error();
    ++rotated;
  }
  auto stats = ReencryptSecrets(store, keyring, batch_size);
  if (!stats.ok()) return stats.error();
  stats->rotated = rotated;
  return stats;
}

Result<RewrapStats> RewrapDataKeys(store::Store& store, const crypto::Keyring& keyring,
                                   Clock& clock, int batch_size) {
  RAMPART_CHECK(batch_size > 0);
  RewrapStats stats;
  std::set<std::string> orgs;
  for (;;) {
    // Per org of this batch: how many keys came from which master key id.
    std::map<std::string, std::map<std::string, int64_t>> per_org;
    int64_t moved = 0;
    Status batch = store.Write([&](store::Tx& tx) -> Status {
      per_org.clear();
      moved = 0;
      // Read inside the write transaction: a key added or re-wrapped since the last
      // batch is seen as it is now.
      auto stale = tx.ListDataKeysNotWrappedBy(keyring.master_key_id(), batch_size);
      if (!stale.ok()) return stale.error();
      for (store::DataKey& k : *stale) {
        if (k.version <= 0 || k.version > UINT32_MAX) {
          return MakeError(ErrorCode::kInternal, "corrupted data key");
        }
        auto rewrapped = keyring.Rewrap(
            {k.org_id, static_cast<uint32_t>(k.version), k.wrapped, k.created_at, k.kek_id});
        if (!rewrapped.ok()) return rewrapped.error();
        ++per_org[k.org_id][k.kek_id];
        k.wrapped = std::move(rewrapped->wrapped);
        k.kek_id = rewrapped->kek_id;
        if (Status s = tx.UpdateDataKeyWrapping(k); !s.ok()) return s;
        ++moved;
      }
      const store::Millis now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    clock.Now().time_since_epoch())
                                    .count();
      for (const auto& [org, sources] : per_org) {
        int64_t count = 0;
        array from_ids;
        for (const auto& [id, n] : sources) {
          count += n;
          from_ids.emplace_back(id.empty() ? "unrecorded" : id);
        }
        store::AuditEvent event;
        event.time = now;
        event.org_id = org;
        event.actor = "system";
        event.action = "master_key.rewrap";
        event.target = "data_keys";
        event.outcome = "success";
        event.details = json::Serialize(object{{"rewrapped", count},
                                               {"from_master_keys", std::move(from_ids)},
                                               {"to_master_key", keyring.master_key_id()}});
        auto appended = tx.AppendAudit(std::move(event));
        if (!appended.ok()) return appended.error();
      }
      return Status::Ok();
    });
    if (!batch.ok()) return batch.error();
    if (moved > 0) ++stats.batches;
    stats.rewrapped += moved;
    for (const auto& [org, sources] : per_org) {
      orgs.insert(org);
      for (const auto& [id, n] : sources) stats.from[id] += n;
    }
    if (moved < batch_size) break;
  }
  stats.orgs = static_cast<int64_t>(orgs.size());
  return stats;
}

// ----- HTTP handlers -----

Result<server::Response> ListConnectorsHandler(ConnectorCall& call) {
  auto page = PageFromQuery(call.request);
  if (!page.ok()) return page.error();
  std::string_view due = QueryParam(call.request, "due");
  if (!due.empty() && due != "true" && due != "false") {
    return Invalid("due", "must be true or false");
  }
  store::ConnectorFilter filter{.due_only = due == "true", .now = call.now};
  auto connectors = call.read_tx.ListConnectors(call.org_id, filter, *page);
  if (!connectors.ok()) return connectors.error();
  array items;
  for (const store::Connector& c : connectors->items) {
    auto secrets = call.read_tx.ListConnectorSecrets(call.org_id, c.id);
    if (!secrets.ok()) return secrets.error();
    auto item = ConnectorJson(c, *secrets, call.now);
    if (!item.ok()) return item.error();
    items.push_back(std::move(*item));
  }
  return server::JsonResponse(200, ListBody(std::move(items), connectors->next));
}

Result<server::Response> GetConnectorHandler(ConnectorCall& call) {
  if (!ValidConnectorId(call.id)) return NoConnector();
  auto c = call.read_tx.GetConnector(call.org_id, call.id);
  if (!c.ok()) return c.error();
  if (!c->has_value()) return NoConnector();
  auto secrets = call.read_tx.ListConnectorSecrets(call.org_id, call.id);
  if (!secrets.ok()) return secrets.error();
  auto body = ConnectorJson(**c, *secrets, call.now);
  if (!body.ok()) return body.error();
  return server::JsonResponse(200, *body);
}

Result<server::Response> CreateConnectorHandler(ConnectorCall& call) {
  auto in = ParseConnectorBody(call.body, ConnectorBodyKind::kCreate);
  if (!in.ok()) return in.error();
  const object options = in->options.value_or(object());
  std::vector<std::string> fields;
  for (const auto& [field, v] : in->secrets) fields.push_back(field);
  if (Status s = ValidateSecretSet(in->type, options, fields); !s.ok()) return s.error();

  store::Connector c;
  c.org_id = call.org_id;
  c.id = in->id;
  c.type = in->type;
  c.options = json::Serialize(options);
  c.allowed_workflows = json::Serialize(in->allowed_workflows.value_or(array()));
  c.egress = json::Serialize(in->egress.value_or(object()));
  c.created_at = call.now;
  c.updated_at = call.now;
  c.rotate_every_days = in->rotate_every_days.value_or(0);

  auto sealed = SealSecrets(call, c.id, in->secrets);
  if (!sealed.ok()) return sealed.error();
  Status written = RunWrite(call.store, [&](store::Tx& tx) -> Status {
    if (Status s = call.reauthorize(tx); !s.ok()) return s;
    if (Status s = CheckQuota(tx.CountConnectors(call.org_id), call.max_connectors, "an org",
                              "connectors", "delete one first");
        !s.ok()) {
      return s;
    }
    Status inserted = tx.InsertConnector(c);
    if (!inserted.ok()) {
      if (inserted.error().code == ErrorCode::kConflict) {
        return MakeError(ErrorCode::kConflict, "a connector with this id exists");
      }
      return inserted;
    }
    for (const store::ConnectorSecret& s : *sealed) {
      if (Status put = tx.PutConnectorSecret(s); !put.ok()) return put;
    }
    return call.audit(tx, "connector.create", c.id,
                      object{{"type", c.type}, {"secret_fields", NameArray(fields)}});
  });
  if (!written.ok()) return written.error();
  auto body = ConnectorJson(c, *sealed, call.now);
  if (!body.ok()) return body.error();
  return server::JsonResponse(201, *body);
}

Result<server::Response> UpdateConnectorHandler(ConnectorCall& call) {
  if (!ValidConnectorId(call.id)) return NoConnector();
  auto before = call.read_tx.GetConnector(call.org_id, call.id);
  if (!before.ok()) return before.error();
  if (!before->has_value()) return NoConnector();
  const std::string type = (*before)->type;
  auto in = ParseConnectorBody(call.body, ConnectorBodyKind::kUpdate, type);
  if (!in.ok()) return in.error();
  std::vector<std::string> changed_secrets;
  for (const auto& [field, v] : in->secrets) changed_secrets.push_back(field);
  auto sealed = SealSecrets(call, call.id, in->secrets);
  if (!sealed.ok()) return sealed.error();

  store::Connector c;
  std::vector<store::ConnectorSecret> secrets_after;
  Status written = RunWrite(call.store, [&](store::Tx& tx) -> Status {
    if (Status s = call.reauthorize(tx); !s.ok()) return s;
    auto current = tx.GetConnector(call.org_id, call.id);
    if (!current.ok()) return current.error();
    if (!current->has_value() || (*current)->type != type) return NoConnector();
    c = **current;
    array changed;
    if (in->options) {
      c.options = json::Serialize(*in->options);
      changed.emplace_back("options");
    }
    if (in->allowed_workflows) {
      c.allowed_workflows = json::Serialize(*in->allowed_workflows);
      changed.emplace_back("allowed_workflows");
    }
    if (in->egress) {
      c.egress = json::Serialize(*in->egress);
      changed.emplace_back("egress");
    }
    if (in->rotate_every_days) {
      c.rotate_every_days = *in->rotate_every_days;
      changed.emplace_back("rotate_every_days");
    }
    auto existing = tx.ListConnectorSecrets(call.org_id, call.id);
    if (!existing.ok()) return existing.error();
    std::vector<std::string> fields = Names(*existing);
    for (const std::string& f : changed_secrets) {
      if (std::find(fields.begin(), fields.end(), f) == fields.end()) fields.push_back(f);
    }
    auto options = ParseJsonObject(c.options);
    if (!options.ok()) return options.error();
    if (Status s = ValidateSecretSet(type, *options, fields); !s.ok()) return s;
    c.updated_at = call.now;
    if (!sealed->empty()) c.rotated_at = call.now;
    if (Status s = tx.UpdateConnector(c); !s.ok()) return s;
    for (const store::ConnectorSecret& s : *sealed) {
      if (Status put = tx.PutConnectorSecret(s); !put.ok()) return put;
    }
    auto after = tx.ListConnectorSecrets(call.org_id, call.id);
    if (!after.ok()) return after.error();
    secrets_after = std::move(after).value();
    return call.audit(tx, "connector.update", c.id,
                      object{{"changed", std::move(changed)},
                             {"secret_fields", NameArray(changed_secrets)}});
  });
  if (!written.ok()) return written.error();
  auto body = ConnectorJson(c, secrets_after, call.now);
  if (!body.ok()) return body.error();
  return server::JsonResponse(200, *body);
}

Result<server::Response> DeleteConnectorHandler(ConnectorCall& call) {
  if (!ValidConnectorId(call.id)) return NoConnector();
  Status written = RunWrite(call.store, [&](store::Tx& tx) -> Status {
    if (Status s = call.reauthorize(tx); !s.ok()) return s;
    auto deleted = tx.DeleteConnector(call.org_id, call.id);
    if (!deleted.ok()) return deleted.error();
    if (!*deleted) return NoConnector();
    return call.audit(tx, "connector.delete", call.id, object());
  });
  if (!written.ok()) return written.error();
  return server::JsonResponse(200, object{{"id", call.id}, {"deleted", true}});
}

// ----- the engine side -----

Result<actions::ConnectorSecrets> SourceConnectorResolver::Resolve(
    std::string_view connector_id, std::string_view workflow, std::string_view step_path) const {
  auto loaded = source_.Load(connector_id, workflow, step_path);
  if (!loaded.ok()) return loaded.error();
  actions::ConnectorSecrets out;
  out.id = loaded->id;
  out.type = loaded->type;
  out.options = loaded->options;
  out.egress = loaded->egress;
  // The plaintext leaves the wiped DecryptedConnector here; ConnectorSecrets lives only
  // for the step that asked for it.
  out.secrets = loaded->secrets;
  return out;
}

Status SourceConnectorResolver::ReplaceSecret(std::string_view connector_id,
                                              std::string_view field, std::string_view value,
                                              std::span<const std::string> expected,
                                              std::string_view step_path) const {
  return source_.ReplaceSecret(connector_id, field, value, expected, step_path);
}

Result<DecryptedConnector> StoreConnectorSource::Load(std::string_view connector_id,
                                                      std::string_view workflow_id,
                                                      std::string_view step_path) {
  std::optional<DecryptedConnector> out;
  const store::Millis now = UnixMillis(clock_.Now());
  Status status = store_.Write([&](store::Tx& tx) -> Status {
    auto loaded = LoadConnectorForRun(tx, keyring_, org_id_, connector_id, workflow_id, now,
                                      "run:" + run_id_, step_path);
    if (!loaded.ok()) return loaded.error();
    out.emplace(std::move(loaded).value());
    return Status::Ok();
  });
  if (!status.ok()) return status.error();
  return std::move(*out);
}

Status StoreConnectorSource::ReplaceSecret(std::string_view connector_id, std::string_view field,
                                           std::string_view value,
                                           std::span<const std::string> expected,
                                           std::string_view step_path) {
  if (!ValidConnectorId(connector_id)) return NoConnector();
  const std::string id(connector_id);
  const std::string name(field);
  // Sealed before the transaction: an org's first Encrypt writes a data key durably.
  std::string plain(value);
  auto sealed = keyring_.Encrypt(org_id_, id, name, plain);
  Wipe(plain);
  if (!sealed.ok()) return sealed.error();
  auto version = crypto::Keyring::VersionOf(*sealed);
  if (!version.ok()) return version.error();
  const store::Millis now = UnixMillis(clock_.Now());
  return store_.Write([&](store::Tx& tx) -> Status {
    auto c = tx.GetConnector(org_id_, id);
    if (!c.ok()) return c.error();
    if (!c->has_value()) return NoConnector();
    if (!DeclaresSecret((*c)->type, name)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "connector " + id + " has no secret field " + name);
    }
    // The value the token request was made with must still be the stored one: a PATCH
    // of the secret, or the connector deleted and created again under its id, while the
    // request was in flight is another grant, which the rotated value must not replace.
    auto secrets = tx.ListConnectorSecrets(org_id_, id);
    if (!secrets.ok()) return secrets.error();
    std::string current;
    for (const store::ConnectorSecret& s : *secrets) {
      if (s.field != name) continue;
      auto opened = keyring_.Decrypt(org_id_, id, name, s.sealed);
      if (!opened.ok()) return opened.error();
      current = std::move(opened).value();
    }
    const bool unchanged = IsOneOf(current, expected);
    Wipe(current);
    if (!unchanged) return SecretChanged(id, name);
    if (Status put = tx.PutConnectorSecret({org_id_, id, name, *sealed, *version, now});
        !put.ok()) {
      return put;
    }
    store::AuditEvent event;
    event.time = now;
    event.org_id = org_id_;
    event.actor = "run:" + run_id_;
    event.action = "connector.secret_refresh";
    event.target = id;
    event.outcome = "success";
    object details{{"field", name}};
    if (!step_path.empty()) details["step"] = step_path;
    event.details = json::Serialize(details);
    auto appended = tx.AppendAudit(std::move(event));
    if (!appended.ok()) return appended.error();
    return Status::Ok();
  });
}

void AuditSecurityEvents::SecretExposureAttempt(std::string_view run_id,
                                                std::string_view workflow,
                                                std::string_view step_path) {
  store::AuditEvent event;
  event.time = UnixMillis(clock_.Now());
  event.org_id = org_id_;
  event.actor = "run:" + std::string(run_id);
  event.action = "secret_exposure_attempt";
  event.target = std::string(step_path);
  event.outcome = "denied";
  event.details = json::Serialize(object{{"workflow", workflow}});
  (void)audit::Append(store_, event);
}

namespace {

// Owns the per-run source behind the resolver the engine sees.
class OwningResolver final : public actions::ConnectorResolver {
 public:
  OwningResolver(std::unique_ptr<ConnectorSource> source, store::Store& store,
                 std::string org_id)
      : source_(std::move(source)), resolver_(*source_), store_(store),
        org_id_(std::move(org_id)) {}
  Result<actions::ConnectorSecrets> Resolve(std::string_view connector_id,
                                            std::string_view workflow,
                                            std::string_view step_path) const override {
    return resolver_.Resolve(connector_id, workflow, step_path);
  }
  Status ReplaceSecret(std::string_view connector_id, std::string_view field,
                       std::string_view value, std::span<const std::string> expected,
                       std::string_view step_path) const override {
    return resolver_.ReplaceSecret(connector_id, field, value, expected, step_path);
  }
  // Read at every outbound call rather than once per run or cached: one primary-key read
  // next to an HTTP request, and a PATCH that committed can never be missed.
  Result<net::EgressPolicy> OrgEgress(const net::EgressPolicy& server) const override {
    auto rules = hooks::LoadOrgEgressRules(store_, org_id_);
    if (!rules.ok()) return std::move(rules).error();
    return server.Narrow(*rules);
  }

 private:
  std::unique_ptr<ConnectorSource> source_;
  SourceConnectorResolver resolver_;
  store::Store& store_;
  std::string org_id_;
};

}  // namespace

runs::RunServices ServerRunServices(store::Store& store, crypto::Keyring& keyring, Clock& clock,
                                    const store::Run& run) {
  runs::RunServices services;
  services.connectors = std::make_unique<OwningResolver>(
      std::make_unique<StoreConnectorSource>(store, keyring, clock, run.org_id, run.id), store,
      run.org_id);
  services.security = std::make_unique<AuditSecurityEvents>(store, clock, run.org_id);
  return services;
}

}  // namespace rampart::api
