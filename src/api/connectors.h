// The connector routes' handlers (internal to api/). api.cc authenticates and authorizes
// the request inside a read transaction, then hands over a ConnectorCall; a mutation runs
// in its own Store::Write (after any encryption, which may have to create the org's
// first data key durably) and re-checks the caller's permission inside that transaction.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <string>
#include <string_view>

#include "rampart/api/connectors.h"
#include "rampart/core/result.h"
#include "rampart/crypto/keyring.h"
#include "rampart/server/http.h"
#include "rampart/store/store.h"

namespace rampart::api {

struct ConnectorCall {
  store::Store& store;
  store::Tx& read_tx;               // the request's snapshot (authorization done)
  crypto::Keyring* keyring;         // null: secrets cannot be set (answers 500)
  std::string org_id;
  const boost::json::object& body;  // allowlisted by the route
  std::string id;                   // the path's {id}, "" for the collection
  const server::Request& request;
  store::Millis now = 0;
  // Connectors an org may hold (ApiOptions::max_connectors_per_org); create answers 409
  // past it, counted inside its write transaction.
  int max_connectors = 500;
  // Re-authorizes the caller in `tx` (the write transaction) for the route's permission.
  std::function<Status(store::Tx&)> reauthorize;
  // Appends an audit event of this request in `tx`.
  std::function<Status(store::Tx&, std::string_view action, std::string_view target,
                       boost::json::object details)>
      audit;
};

Result<server::Response> ListConnectorsHandler(ConnectorCall& call);
Result<server::Response> GetConnectorHandler(ConnectorCall& call);
Result<server::Response> CreateConnectorHandler(ConnectorCall& call);
Result<server::Response> UpdateConnectorHandler(ConnectorCall& call);
Result<server::Response> DeleteConnectorHandler(ConnectorCall& call);

}  // namespace rampart::api
