// The data directory of `rampart serve` and `rampart restore` (internal to cli/).
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "rampart/core/result.h"
#include "rampart/store/store.h"

namespace rampart::cli {

// Creates the directory when missing, owner-only (0700).
inline Status EnsureDataDir(const std::string& data_dir) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return MakeError(ErrorCode::kInternal, "cannot create the data directory");
  ::chmod(data_dir.c_str(), 0700);
  return Status::Ok();
}

// The data directory held by one `rampart serve` for its lifetime: an exclusive flock on
// the directory itself (no lock file to leave behind; the kernel drops it when the process
// ends, kill -9 included). Two servers on one store would each run the queued runs and
// fail the other's running ones as interrupted at start. `rampart restore` takes it too,
// so that no server starts on a half-installed store. The other commands (audit verify,
// keys, users, backup) do not hold it: each of their writes is one SQLite transaction,
// safe beside a server. They only try it before migrating an older store
// (OpenStoreBesideServe).
class DataDirLock {
 public:
  static Result<DataDirLock> Take(const std::string& data_dir) {
    const int fd = ::open(data_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return MakeError(ErrorCode::kInternal, "cannot open the data directory");
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd);
      if (error == EWOULDBLOCK) {
        return MakeError(ErrorCode::kConflict,
                         "the data directory " + data_dir +
                             " is in use by another rampart serve; stop it first");
      }
      return MakeError(ErrorCode::kInternal, "cannot lock the data directory");
    }
    return DataDirLock(fd);
  }
  DataDirLock(DataDirLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  DataDirLock& operator=(DataDirLock&&) = delete;
  ~DataDirLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

// The store <data_dir>/rampart.db for a command other than `rampart serve` (keys, users,
// audit verify). A store at this binary's schema version is opened as is, beside a
// running serve or not. An older one is migrated only when no serve holds the data
// directory, and under its lock for the migration (no serve starts on it meanwhile; the
// lock is released when this returns): migrated under a running serve of an older
// binary, that server would go on writing with SQL of the schema it knows. When a serve
// holds it (or whether one does cannot be told), kConflict saying so, the file unchanged.
// A newer store is refused by OpenSqliteStore (kInternal).
Result<std::unique_ptr<store::Store>> OpenStoreBesideServe(const std::string& data_dir,
                                                           int read_connections = 4);

}  // namespace rampart::cli
