// The data directory of `rampart serve` and `rampart restore` (internal to cli/).
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <utility>

#include "rampart/core/result.h"

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
// keys, backup) do not take it: each of their writes is one SQLite transaction, safe
// beside a server.
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

}  // namespace rampart::cli
