#include <boost/json/parse.hpp>

#include "rampart/core/check.h"
#include "actions/db/db_query.h"
#include "actions/http/http_request.h"
#include "actions/log/log_write.h"
#include "actions/webhook/webhook_send.h"
#include "rampart/actions/action.h"
#include "rampart/net/egress.h"
#include "rampart/net/http_client.h"
#include "rampart/net/resolver.h"

namespace rampart::actions {

schema::Validator CompileArgsSchema(std::string_view json_schema) {
  auto v = schema::Validator::Compile(boost::json::parse(json_schema));
  RAMPART_CHECK(v.ok());
  return std::move(v).value();
}

void Registry::Register(std::string name, std::unique_ptr<Action> action) {
  RAMPART_CHECK(action != nullptr);
  actions_[std::move(name)] = std::move(action);
}

const Action* Registry::Find(std::string_view name) const {
  auto it = actions_.find(name);
  return it == actions_.end() ? nullptr : it->second.get();
}

Registry BuiltinRegistry() { return BuiltinRegistry(BuiltinOptions{}); }

Registry BuiltinRegistry(const BuiltinOptions& options) {
  std::shared_ptr<net::HttpClient> http = options.http;
  if (!http) {
    // One resolver for the process; it is stateless and lives as long as any client.
    static net::SystemResolver* resolver = new net::SystemResolver();
    http = std::make_shared<net::CurlHttpClient>(*resolver);
  }
  std::shared_ptr<const net::EgressPolicy> egress = options.egress;
  if (!egress) egress = std::make_shared<const net::EgressPolicy>();
  Random* random = options.random ? options.random : &SystemRandom();
  Registry registry;
  registry.Register("log.write", MakeLogWrite());
  registry.Register("http.request", MakeHttpRequest(http, egress));
  registry.Register("webhook.send", MakeWebhookSend(http, egress, random));
  std::shared_ptr<db::DatabaseProvider> databases;
  if (!options.data_dir.empty()) {
    databases = std::make_shared<db::FileDatabaseProvider>(options.data_dir);
  }
  registry.Register("db.query", MakeDbQuery(std::move(databases)));
  return registry;
}

}  // namespace rampart::actions
