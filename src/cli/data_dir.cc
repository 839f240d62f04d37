#include "cli/data_dir.h"

#include <optional>

namespace rampart::cli {

Result<std::unique_ptr<store::Store>> OpenStoreBesideServe(const std::string& data_dir,
                                                           int read_connections) {
  std::optional<DataDirLock> held;  // while the store migrates
  store::SqliteOptions options;
  options.path = data_dir + "/rampart.db";
  options.read_connections = read_connections;
  options.before_migrating = [&](int version) -> Status {
    auto lock = DataDirLock::Take(data_dir);
    if (lock.ok()) {
      held.emplace(std::move(lock).value());
      return Status::Ok();
    }
    const std::string at = "the store is at schema " + std::to_string(version);
    const std::string then =
        "; upgrade and restart serve first (it migrates at start), then run this command";
    if (lock.error().code == ErrorCode::kConflict) {
      return MakeError(ErrorCode::kConflict, at + " and a running rampart serve holds it" + then);
    }
    return MakeError(ErrorCode::kConflict,
                     at + " and whether a running rampart serve holds it cannot be told (" +
                         lock.error().message + ")" + then);
  };
  return store::OpenSqliteStore(options);
}

}  // namespace rampart::cli
