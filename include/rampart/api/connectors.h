// Connectors (spec/interfaces.md "Connectors", spec/security.md section 1): the per-type
// validation shared by the HTTP API and local runs, the source an engine asks for a
// connector with its secrets decrypted, and the key maintenance (rotation and
// re-encryption) used by `rampart keys rotate` and `rampart serve`.
//
// Secrets only exist in plaintext inside DecryptedConnector (wiped on destruction) and
// in the request that sets them; nothing here logs, and no error message carries a
// secret value.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/result.h"
#include "rampart/actions/action.h"
#include "rampart/crypto/keyring.h"
#include "rampart/engine/engine.h"
#include "rampart/runs/runs.h"
#include "rampart/store/store.h"

namespace rampart::api {

// ^[a-z0-9][a-z0-9_-]{0,63}$
bool ValidConnectorId(std::string_view id);

// The secret fields a type declares (custom: none declared, any ^[a-z0-9_]{1,64}$ allowed)
// and which of them a connector of the type must have.
struct ConnectorTypeInfo {
  std::string_view type;
  std::vector<std::string_view> options;           // allowed option keys
  std::vector<std::string_view> required_options;
  std::vector<std::string_view> secrets;           // declared secret fields
  std::vector<std::string_view> required_secrets;
  bool any_secret_field = false;                   // custom
};
// nullptr for an unknown type.
const ConnectorTypeInfo* FindConnectorType(std::string_view type);

// A connector body (API create/update body, or one entry of a local --connectors file)
// after validation. Absent fields stay nullopt (meaning "unchanged" for an update).
struct ConnectorInput {
  std::string id;
  std::string type;
  std::optional<boost::json::object> options;
  std::map<std::string, std::string> secrets;  // field -> value (non-empty)
  std::optional<boost::json::array> allowed_workflows;
  std::optional<boost::json::object> egress;
  std::optional<int> rotate_every_days;
};

enum class ConnectorBodyKind {
  kCreate,  // id and type required; secrets allowed
  kUpdate,  // id and type refused (they are the path and immutable)
  kLocal,   // id and type required; secrets refused (they come from the secrets file)
};

// Checks the shape of every field (kInvalidArgument naming the field; unknown fields,
// options and secret fields are refused, never ignored). For kUpdate,
// `type` is the stored connector's type. Type-dependent checks of the options and secret
// field names are done here too; whether every required secret is set is checked by
// ValidateSecretSet once the final set is known.
Result<ConnectorInput> ParseConnectorBody(const boost::json::object& body, ConnectorBodyKind kind,
                                          std::string_view type = "");

// The final set of secret fields of a connector of `type` with these options: every
// required secret present, and (custom) every {{ secrets.<field> }} of a header defined.
Status ValidateSecretSet(std::string_view type, const boost::json::object& options,
                         const std::vector<std::string>& fields);

// A connector ready for use by one step: secrets in plaintext (wiped on destruction).
struct DecryptedConnector {
  std::string id;
  std::string type;
  boost::json::object options;
  std::map<std::string, std::string> secrets;
  std::vector<std::string> allowed_workflows;  // empty: any workflow of the org
  boost::json::object egress;

  DecryptedConnector() = default;
  DecryptedConnector(DecryptedConnector&&) = default;
  DecryptedConnector& operator=(DecryptedConnector&&) = default;
  DecryptedConnector(const DecryptedConnector&) = delete;
  DecryptedConnector& operator=(const DecryptedConnector&) = delete;
  ~DecryptedConnector();
};

// What an engine asks for a connector (`connector: <id>` of an action).
class ConnectorSource {
 public:
  virtual ~ConnectorSource() = default;
  // kNotFound when there is no such connector; kPermissionDenied when `workflow_id` is
  // not in its allowed_workflows (a non-empty list). `step_path`: the step using it.
  virtual Result<DecryptedConnector> Load(std::string_view connector_id,
                                          std::string_view workflow_id,
                                          std::string_view step_path) = 0;
  // Replaces secret `field` of the connector with `value` (an oauth2 refresh_token the
  // token endpoint rotated) while its stored value is one of `expected` (absent: ""),
  // compared in constant time in the same critical section or transaction as the write.
  // kConflict (nothing written) when it is not; kNotFound when the connector is gone;
  // kInvalidArgument when its type declares no such secret. Default: kInternal
  // (read-only source).
  virtual Status ReplaceSecret(std::string_view connector_id, std::string_view field,
                               std::string_view value, std::span<const std::string> expected,
                               std::string_view step_path);
};

// The engine's view (actions::ConnectorResolver) of a ConnectorSource. Does not own it.
class SourceConnectorResolver final : public actions::ConnectorResolver {
 public:
  explicit SourceConnectorResolver(ConnectorSource& source) : source_(source) {}
  Result<actions::ConnectorSecrets> Resolve(std::string_view connector_id,
                                            std::string_view workflow,
                                            std::string_view step_path) const override;
  Status ReplaceSecret(std::string_view connector_id, std::string_view field,
                       std::string_view value, std::span<const std::string> expected,
                       std::string_view step_path) const override;

 private:
  ConnectorSource& source_;
};

// Server runs: the org's stored connectors, decrypted for one run. Every use is a
// `connector.secret_use` audit event (actor "run:<run id>") in the same transaction.
// ReplaceSecret seals the new value with the keyring (the same AAD binding as the API:
// org, connector, field, key version), then in one Store::Write decrypts the stored value
// to compare it with the expected ones, replaces it and appends a
// `connector.secret_refresh` audit event (field and step, never the value).
class StoreConnectorSource final : public ConnectorSource {
 public:
  StoreConnectorSource(store::Store& store, crypto::Keyring& keyring, Clock& clock,
                       std::string org_id, std::string run_id)
      : store_(store), keyring_(keyring), clock_(clock), org_id_(std::move(org_id)),
        run_id_(std::move(run_id)) {}
  Result<DecryptedConnector> Load(std::string_view connector_id, std::string_view workflow_id,
                                  std::string_view step_path) override;
  Status ReplaceSecret(std::string_view connector_id, std::string_view field,
                       std::string_view value, std::span<const std::string> expected,
                       std::string_view step_path) override;

 private:
  store::Store& store_;
  crypto::Keyring& keyring_;
  Clock& clock_;
  std::string org_id_;
  std::string run_id_;
};

// Security events of server runs, as audit events of the run's org
// (`secret_exposure_attempt`, actor "run:<run id>", target the step path).
class AuditSecurityEvents final : public engine::SecurityEvents {
 public:
  AuditSecurityEvents(store::Store& store, Clock& clock, std::string org_id)
      : store_(store), clock_(clock), org_id_(std::move(org_id)) {}
  void SecretExposureAttempt(std::string_view run_id, std::string_view workflow,
                             std::string_view step_path) override;

 private:
  store::Store& store_;
  Clock& clock_;
  std::string org_id_;
};

// Both for one server run; the resolver also answers OrgEgress with the server's policy
// narrowed by the org's rules, read from the store at each outbound call.
runs::RunServices ServerRunServices(store::Store& store, crypto::Keyring& keyring, Clock& clock,
                                    const store::Run& run);

// Local runs (`rampart run --connectors FILE --secrets-file FILE`): connectors kept in
// memory for the run, never persisted: a rotated oauth2 refresh_token (ReplaceSecret)
// replaces the one in memory only; the secrets file is never written. Thread-safe.
class InMemoryConnectorSource final : public ConnectorSource {
 public:
  Result<DecryptedConnector> Load(std::string_view connector_id, std::string_view workflow_id,
                                  std::string_view step_path) override;
  Status ReplaceSecret(std::string_view connector_id, std::string_view field,
                       std::string_view value, std::span<const std::string> expected,
                       std::string_view step_path) override;
  size_t size() const { return connectors_.size(); }

 private:
  friend Result<std::unique_ptr<InMemoryConnectorSource>> ParseLocalConnectors(
      const boost::json::value&, const boost::json::value&);
  std::mutex mu_;
  std::map<std::string, DecryptedConnector, std::less<>> connectors_;  // GUARDED_BY(mu_)
};

// `connectors`: a list of connector objects (no secrets); `secrets`: an object
// {"<connector id>": {"<field>": "<value>"}} (null = no secrets file). Validated exactly
// like the API; errors (kInvalidArgument) name the connector and field, never a value.
Result<std::unique_ptr<InMemoryConnectorSource>> ParseLocalConnectors(
    const boost::json::value& connectors, const boost::json::value& secrets);

// The server side: reads the connector of the org, enforces allowed_workflows, decrypts
// its secrets and appends a `connector.secret_use` audit event (actor `actor`, details:
// workflow, step path when not empty, and field names) in `tx`, which must be a write
// transaction.
Result<DecryptedConnector> LoadConnectorForRun(store::Tx& tx, crypto::Keyring& keyring,
                                               std::string_view org_id,
                                               std::string_view connector_id,
                                               std::string_view workflow_id, store::Millis now,
                                               std::string_view actor,
                                               std::string_view step_path);

// The keyring's key store over the store: each insert is its own durable Store::Write.
class StoreKeyStore final : public crypto::KeyStore {
 public:
  explicit StoreKeyStore(store::Store& store) : store_(store) {}
  Result<std::vector<crypto::WrappedDataKey>> ListDataKeys(std::string_view org_id) override;
  Status InsertDataKey(const crypto::WrappedDataKey& key) override;

 private:
  store::Store& store_;
};

struct ReencryptStats {
  int64_t orgs = 0;         // orgs visited
  int64_t rotated = 0;      // data key versions added
  int64_t reencrypted = 0;  // secrets moved to the newest version
};

// Moves every connector secret of every org to its org's newest key version, in batches
// of `batch_size` secrets, each batch one Store::Write (a secret changed concurrently is
// re-read inside the batch, so nothing is lost). Safe to run again or concurrently with
// the server. Must not be called from inside a Store function.
Result<ReencryptStats> ReencryptSecrets(store::Store& store, crypto::Keyring& keyring,
                                        int batch_size = 100);

// Unwraps the data keys of every org: the wrong master key fails here, at start-up, with
// the keyring's "cannot decrypt: wrong master key or corrupted data".
Status CheckMasterKey(store::Store& store, crypto::Keyring& keyring);

// `rampart keys rotate`: adds a key version to every org, then ReencryptSecrets.
Result<ReencryptStats> RotateAllKeys(store::Store& store, crypto::Keyring& keyring,
                                     int batch_size = 100);

struct RewrapStats {
  int64_t rewrapped = 0;  // data keys moved under the current master key
  int64_t orgs = 0;       // orgs they belong to
  int64_t batches = 0;    // committed batches that moved at least one key
  // How many came from each master key id ("" for keys without a recorded id).
  std::map<std::string, int64_t> from;
};

// `rampart keys rewrap`: re-wraps every data key of every org that is not wrapped by
// the keyring's current master key, in batches of `batch_size` keys, each batch one
// Store::Write together with one `master_key.rewrap` audit event per org in it (actor
// "system", details: rewrapped count, from_master_keys and to_master_key ids, never key
// material). A batch commits whole or not at all; an error (kInternal naming the key id
// when a data key's master key is not configured) stops at that batch, leaving the
// earlier ones committed. Idempotent, and safe next to a server: the data keys do not
// change, only their wrapping, so keys a server has unwrapped stay valid, and a server
// reloading keys finds either wrapping, both of which its keyring opens when it has the
// same master keys. Must not be called from inside a Store function.
Result<RewrapStats> RewrapDataKeys(store::Store& store, const crypto::Keyring& keyring,
                                   Clock& clock, int batch_size = 100);

}  // namespace rampart::api
