// `rampart backup` and `rampart restore`: an online, consistent copy of the store, and
// its installation into a new data directory.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/config.h"
#include "cli/data_dir.h"
#include "cli/report.h"
#include "rampart/cli/commands.h"
#include "rampart/core/clock.h"
#include "rampart/core/json.h"
#include "rampart/crypto/crypto.h"
#include "rampart/store/sqlite_backup.h"
#include "rampart/store/store.h"

namespace rampart::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMasterKeyNote =
    "the master key is not in the backup: connector secrets stay encrypted, and restoring "
    "needs the same master key (back it up separately)";

std::string Errno(int error) { return std::strerror(error); }

// The file and what SQLite may have put beside it.
void RemoveWithSideFiles(const std::string& path) {
  for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
    ::unlink((path + suffix).c_str());
  }
}

Status FsyncPath(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "cannot open " + path + ": " + Errno(errno));
  const bool synced = ::fsync(fd) == 0;
  const int error = errno;
  ::close(fd);
  if (!synced) return MakeError(ErrorCode::kInternal, "cannot fsync " + path + ": " + Errno(error));
  return Status::Ok();
}

std::string DirectoryOf(const std::string& file) {
  std::string dir = fs::path(file).parent_path().string();
  return dir.empty() ? "." : dir;
}

// A file descriptor closed with its owner (and the flock it holds with it).
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// A new name in `dir`, created O_EXCL with mode 0600. With `lock`, the file is flocked
// (LOCK_EX) before its name is returned and `lock` keeps it locked: a leftover of a
// process that died is the only kind another process can lock (RemoveDeadTemporaries).
Result<std::string> CreateTempFile(const std::string& dir, const std::string& stem,
                                   Fd* lock = nullptr) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::string path = dir + "/." + stem + ".tmp-" +
                       crypto::HexEncode(crypto::RandomBytes(SystemRandom(), 6));
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      if (lock == nullptr) {
        ::close(fd);
        return path;
      }
      *lock = Fd(fd);
      if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int error = errno;
        lock->Reset();
        // Another backup's clean-up (RemoveDeadTemporaries) locked it in the instant
        // before our lock, taking it for a dead one, and removes it: take a new name.
        if (error == EWOULDBLOCK) continue;
        ::unlink(path.c_str());
        return MakeError(ErrorCode::kInternal, "cannot lock " + path + ": " + Errno(error));
      }
      return path;
    }
    if (errno != EEXIST) {
      return MakeError(ErrorCode::kInternal, "cannot create a file in " + dir + ": " + Errno(errno));
    }
  }
  return MakeError(ErrorCode::kInternal, "cannot create a file in " + dir);
}

bool Exists(const std::string& path) {
  struct stat info {};
  return ::lstat(path.c_str(), &info) == 0;
}

// What a backup's reservation of its output name holds until the finished copy is
// renamed over it: no backup (a SQLite file) starts so, and `restore` refuses it.
constexpr std::string_view kReservationMark = "rampart backup in progress, pid ";

enum class Reserved { kOk, kExists, kInProgress, kFailed };

// Reserves `output` for this backup: a file of our own (kReservationMark and our pid,
// mode 0600), flocked by `lock` for as long as the backup runs, and linked to the name
// with link() (which, like O_EXCL, never replaces a file) only once locked, so that no
// other process can see it unlocked while this one lives. When the name exists, it is
// taken over only if it is such a reservation that nobody holds (its process was killed
// mid-copy, which nothing could clean up): it is ours then, locked. kInProgress when a
// live backup holds it; kExists for any other file (never touched).
Reserved ReserveOutput(const std::string& dir, const std::string& output, Fd* lock,
                       std::string* problem) {
  Fd mine;
  Result<std::string> staged = std::string();
  bool written = false, linked = false;
  int error = 0;
  // A clean-up by another backup to `output` may remove the staged file in the instant
  // between its creation and our lock (the link then finds no file): staged again.
  for (int attempt = 0; attempt < 4; ++attempt) {
    staged = CreateTempFile(dir, fs::path(output).filename().string(), &mine);
    if (!staged.ok()) {
      *problem = staged.error().message;
      return Reserved::kFailed;
    }
    const std::string mark = std::string(kReservationMark) + std::to_string(::getpid()) + "\n";
    written = ::write(mine.get(), mark.data(), mark.size()) == static_cast<ssize_t>(mark.size());
    linked = written && ::link(staged->c_str(), output.c_str()) == 0;
    error = errno;
    ::unlink(staged->c_str());
    if (linked || !written || error != ENOENT) break;
  }
  if (linked) {
    *lock = std::move(mine);
    return Reserved::kOk;
  }
  if (!written) {
    *problem = "cannot write " + *staged + ": " + Errno(error);
    return Reserved::kFailed;
  }
  if (error != EEXIST) {
    *problem = "cannot create " + output + ": " + Errno(error);
    return Reserved::kFailed;
  }
  // The name exists: a leftover reservation nobody holds is taken over.
  Fd theirs(::open(output.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat held {};
  if (theirs.get() < 0 || ::fstat(theirs.get(), &held) != 0 || !S_ISREG(held.st_mode) ||
      held.st_uid != ::geteuid() || held.st_size > 64) {
    return Reserved::kExists;
  }
  std::string text(static_cast<size_t>(held.st_size), '\0');
  if (::pread(theirs.get(), text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
      text.rfind(kReservationMark, 0) != 0) {
    return Reserved::kExists;
  }
  if (::flock(theirs.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return Reserved::kInProgress;
    return Reserved::kExists;
  }
  // Locked: its process is gone. Still the file at that name (not replaced by a finished
  // backup between the open and the lock)?
  struct stat now {};
  if (::lstat(output.c_str(), &now) != 0 || now.st_dev != held.st_dev ||
      now.st_ino != held.st_ino || now.st_size != held.st_size) {
    return Reserved::kExists;
  }
  *lock = std::move(theirs);
  return Reserved::kOk;
}

// Removes the temporaries (the copy, its side files, a reservation not yet linked) that
// backups to `output` left when they were killed: those nobody holds locked. Called
// holding `output`'s reservation, so no live backup to it is starting one meanwhile.
void RemoveDeadTemporaries(const std::string& dir, const std::string& output) {
  const std::string prefix = "." + fs::path(output).filename().string() + ".tmp-";
  DIR* listing = ::opendir(dir.c_str());
  if (listing == nullptr) return;
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(listing)) {
    const std::string_view name = entry->d_name;
    if (name.size() != prefix.size() + 12 || name.substr(0, prefix.size()) != prefix) continue;
    if (name.find_first_not_of("0123456789abcdef", prefix.size()) != std::string_view::npos) {
      continue;
    }
    names.emplace_back(name);
  }
  ::closedir(listing);
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    struct stat info {};
    if (fd.get() < 0 || ::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode) ||
        info.st_uid != ::geteuid() || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      continue;  // held by a live backup, or not ours
    }
    RemoveWithSideFiles(path);
  }
}

// Appends `backup.create` through the store (its own write transaction, chained like
// any other event; safe beside a running server, whose writer reads the chain head inside
// each of its transactions). Skipped, with the reason, when this user cannot write the
// store or it is at an older schema version (opening it would migrate it under a server
// that may be running an older binary).
Result<std::string> AppendBackupEvent(const std::string& data_dir, const std::string& db,
                                      const std::string& file, int64_t bytes,
                                      const store::SqliteFileInfo& info, int64_t* seq) {
  if (::access(db.c_str(), W_OK) != 0 || ::access(data_dir.c_str(), W_OK) != 0) {
    return std::string("no backup.create audit event: the store is not writable by this user");
  }
  if (info.schema_version != store::SqliteSchemaVersion()) {
    return std::string("no backup.create audit event: the store's schema version is older "
                       "than this binary's, and it is not migrated by a backup");
  }
  auto opened = store::OpenSqliteStore({.path = db, .read_connections = 1});
  if (!opened.ok()) return opened.error();
  store::AuditEvent event;
  event.time = UnixMillis(SystemClock().Now());
  event.actor = "system";
  event.action = "backup.create";
  event.target = "store";
  event.outcome = "success";
  event.details = json::Serialize(boost::json::object{
      {"file", file},
      {"bytes", bytes},
      {"schema_version", info.schema_version},
      {"audit_head_seq", info.audit_head_seq},
      {"audit_head_hash", info.audit_head_hash}});
  Status written = (*opened)->Write([&](store::Tx& tx) -> Status {
    auto appended = tx.AppendAudit(event);
    if (!appended.ok()) return appended.error();
    *seq = appended->seq;
    return Status::Ok();
  });
  if (!written.ok()) return written.error();
  return std::string();
}

}  // namespace

int Backup(const BackupOptions& options, std::FILE* out, std::FILE* err) {
  if (options.output.empty()) return Fail(err, "--output FILE is required", kExitInvalid);
  auto config = LoadConfig(options.config);
  if (!config.ok()) return Fail(err, config.error().message, kExitInvalid);
  const std::string data_dir = DataDir(options.data_dir, *config);
  const std::string db = data_dir + "/rampart.db";
  if (::access(db.c_str(), F_OK) != 0) return Fail(err, "no store in " + data_dir, kExitInvalid);
  std::error_code ec;
  const std::string output = fs::absolute(options.output, ec).lexically_normal().string();
  if (ec) return Fail(err, "cannot resolve " + options.output, kExitInvalid);
  // The output's name, reserved (an existing path is never overwritten; see
  // ReserveOutput); the finished copy is renamed over this reservation, which goes on any
  // failure. Both stay locked (flock) while this process lives: what a killed backup left
  // is told apart from a live one's, and removed by the next backup to the same name.
  const std::string dir = DirectoryOf(output);
  Fd reservation;
  std::string problem;
  switch (ReserveOutput(dir, output, &reservation, &problem)) {
    case Reserved::kOk:
      break;
    case Reserved::kExists:
      return Fail(err, output + " exists: a backup never overwrites a file; choose a new name",
                  kExitInvalid);
    case Reserved::kInProgress:
      return Fail(err, "another rampart backup to " + output + " is in progress", kExitInvalid);
    case Reserved::kFailed:
      return Fail(err, problem, kExitRunFailed);
  }
  RemoveDeadTemporaries(dir, output);
  Fd temp_lock;
  auto temp = CreateTempFile(dir, fs::path(output).filename().string(), &temp_lock);
  if (!temp.ok()) {
    ::unlink(output.c_str());
    return Fail(err, temp.error().message, kExitRunFailed);
  }
  auto fail = [&](const std::string& message) {
    RemoveWithSideFiles(*temp);
    ::unlink(output.c_str());
    FsyncPath(dir, O_RDONLY | O_DIRECTORY).ok();
    return Fail(err, "backup failed, nothing written: " + message, kExitRunFailed);
  };
  if (Status s = store::BackupSqliteFile(db, *temp); !s.ok()) return fail(s.error().message);
  auto info = store::InspectSqliteFile(*temp);
  if (!info.ok()) return fail("the copy " + info.error().message);
  for (const char* suffix : {"-journal", "-wal"}) {
    if (Exists(*temp + suffix)) return fail("the copy left a " + std::string(suffix + 1) + " file");
  }
  ::unlink((*temp + "-shm").c_str());
  if (Status s = FsyncPath(*temp, O_RDONLY); !s.ok()) return fail(s.error().message);
  struct stat st {};
  if (::stat(temp->c_str(), &st) != 0) return fail("cannot stat the copy");
  const auto bytes = static_cast<int64_t>(st.st_size);
  // The event goes first: a process killed between the two leaves an event without its
  // backup (a rerun makes another, with its own event), never a backup without its event.
  int64_t event_seq = 0;
  auto skipped = AppendBackupEvent(data_dir, db, output, bytes, *info, &event_seq);
  if (!skipped.ok()) {
    return fail("the backup.create audit event could not be appended (" +
                skipped.error().message + "), so the backup was removed");
  }
  if (::rename(temp->c_str(), output.c_str()) != 0) return fail("cannot rename the copy: " + Errno(errno));
  if (Status s = FsyncPath(dir, O_RDONLY | O_DIRECTORY); !s.ok()) return fail(s.error().message);
  if (options.json) {
    boost::json::object o{
        {"path", output},
        {"bytes", bytes},
        {"schema_version", info->schema_version},
        {"audit_head", boost::json::object{{"seq", info->audit_head_seq},
                                           {"hash", info->audit_head_hash}}},
        {"audit_event_seq", event_seq > 0 ? boost::json::value(event_seq) : boost::json::value(nullptr)},
        {"master_key_included", false},
        {"note", kMasterKeyNote}};
    if (!skipped->empty()) o["audit_event_skipped"] = *skipped;
    std::fprintf(out, "%s\n", json::Serialize(o).c_str());
  } else {
    std::fprintf(out,
                 "rampart: backup written: %s (%lld bytes, schema version %d, audit head seq %lld "
                 "hash %s); %s\n",
                 output.c_str(), static_cast<long long>(bytes), info->schema_version,
                 static_cast<long long>(info->audit_head_seq),
                 info->audit_head_hash.empty() ? "-" : info->audit_head_hash.c_str(),
                 kMasterKeyNote);
    if (!skipped->empty()) std::fprintf(err, "rampart: %s\n", skipped->c_str());
  }
  return kExitOk;
}

int Restore(const RestoreOptions& options, std::FILE* out, std::FILE* err) {
  if (options.backup.empty()) return Fail(err, "--backup FILE is required", kExitInvalid);
  auto config = LoadConfig(options.config);
  if (!config.ok()) return Fail(err, config.error().message, kExitInvalid);
  const std::string data_dir = DataDir(options.data_dir, *config);
  const Fd in(::open(options.backup.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat in_stat {};
  if (in.get() < 0 || ::fstat(in.get(), &in_stat) != 0 || !S_ISREG(in_stat.st_mode)) {
    const int error = errno;
    return Fail(err, "cannot read the backup file " + options.backup +
                         (in.get() < 0 ? ": " + Errno(error) : std::string(": not a regular file")),
                kExitInvalid);
  }
  // A new directory is made owner-only now; an existing one only once the store is in
  // (a refusal changes nothing).
  if (!Exists(data_dir)) {
    if (Status s = EnsureDataDir(data_dir); !s.ok()) return Fail(err, s.error().message, kExitInvalid);
  }
  auto lock = DataDirLock::Take(data_dir);
  if (!lock.ok()) {
    return Fail(err, lock.error().code == ErrorCode::kConflict
                         ? "the data directory " + data_dir +
                               " is in use by a running rampart serve: restore into a new "
                               "directory, or stop the server first"
                         : lock.error().message,
                kExitInvalid);
  }
  const std::string db = data_dir + "/rampart.db";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    if (Exists(db + suffix)) {
      return Fail(err, data_dir + " holds a store already (rampart.db" + std::string(suffix) +
                           "): restore only into a new data directory",
                  kExitInvalid);
    }
  }
  // A restore killed mid-copy left its temporary copy here: under the directory's flock
  // no restore of it is alive, so what is there is dead.
  RemoveDeadTemporaries(data_dir, data_dir + "/rampart.db.restore");
  auto temp = CreateTempFile(data_dir, "rampart.db.restore");
  if (!temp.ok()) return Fail(err, temp.error().message, kExitRunFailed);
  auto fail = [&](const std::string& message) {
    RemoveWithSideFiles(*temp);
    return Fail(err, "restore failed, nothing installed: " + message, kExitRunFailed);
  };
  {
    const int fd = ::open(temp->c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0) return fail("cannot open " + *temp + ": " + Errno(errno));
    std::string buffer(1 << 20, '\0');
    bool ok = true;
    std::string problem;
    while (ok) {
      const ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
      if (n == 0) break;
      if (n < 0) {
        if (errno == EINTR) continue;
        ok = false;
        problem = "cannot read the backup file: " + Errno(errno);
        break;
      }
      for (ssize_t done = 0; done < n;) {
        const ssize_t w = ::write(fd, buffer.data() + done, static_cast<size_t>(n - done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          ok = false;
          problem = "cannot write " + *temp + ": " + Errno(errno);
          break;
        }
        done += w;
      }
    }
    if (ok && ::fsync(fd) != 0) {
      ok = false;
      problem = "cannot fsync " + *temp + ": " + Errno(errno);
    }
    ::close(fd);
    if (!ok) return fail(problem);
  }
  // The copy is checked, not the file it came from: what was checked is what is installed.
  auto info = store::InspectSqliteFile(*temp);
  if (!info.ok()) return fail("the backup file " + info.error().message);
  for (const char* suffix : {"-journal", "-wal"}) {
    if (Exists(*temp + suffix)) return fail("the check left a " + std::string(suffix + 1) + " file");
  }
  ::unlink((*temp + "-shm").c_str());
  ::chmod(temp->c_str(), 0600);
  // link() never replaces: a store that appeared meanwhile (it cannot, under the lock)
  // stays as it was.
  // (A filesystem without hard links: rename, still under the lock, after the check.)
  const bool linked = ::link(temp->c_str(), db.c_str()) == 0 ||
                      (errno != EEXIST && !Exists(db) && ::rename(temp->c_str(), db.c_str()) == 0);
  if (!linked) {
    const int error = errno;
    RemoveWithSideFiles(*temp);
    if (error == EEXIST) {
      return Fail(err, data_dir + " holds a store already: restore only into a new data directory",
                  kExitInvalid);
    }
    return Fail(err, "restore failed, nothing installed: cannot install the store: " + Errno(error),
                kExitRunFailed);
  }
  ::unlink(temp->c_str());
  ::chmod(data_dir.c_str(), 0700);
  if (Status s = FsyncPath(data_dir, O_RDONLY | O_DIRECTORY); !s.ok()) {
    return Fail(err, "restored, but " + s.error().message, kExitRunFailed);
  }
  std::fprintf(out,
               "rampart: restored %s into %s (schema version %d%s, audit head seq %lld hash %s); "
               "start rampart serve with the master key the backup was taken with\n",
               options.backup.c_str(), db.c_str(), info->schema_version,
               info->schema_version < store::SqliteSchemaVersion() ? ", migrated at the next start"
                                                                   : "",
               static_cast<long long>(info->audit_head_seq),
               info->audit_head_hash.empty() ? "-" : info->audit_head_hash.c_str());
  return kExitOk;
}

}  // namespace rampart::cli
