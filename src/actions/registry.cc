#include "rampart/core/check.h"
#include "actions/log/log_write.h"
#include "rampart/actions/action.h"

namespace rampart::actions {

void Registry::Register(std::string name, std::unique_ptr<Action> action) {
  RAMPART_CHECK(action != nullptr);
  actions_[std::move(name)] = std::move(action);
}

const Action* Registry::Find(std::string_view name) const {
  auto it = actions_.find(name);
  return it == actions_.end() ? nullptr : it->second.get();
}

Registry BuiltinRegistry() {
  Registry registry;
  registry.Register("log.write", MakeLogWrite());
  return registry;
}

}  // namespace rampart::actions
