// SqliteStore: the embedded Store (rampart/store/store.h) over SQLite in WAL mode.
//
// Writes. One writer thread owns the only read-write connection. WriteAsync() queues a
// job (its function and its completion) and returns; the writer takes every queued job
// (up to max_group), opens one transaction, runs each job inside its own savepoint
// (rolled back alone when the job fails) and commits once: with synchronous=FULL that is
// one fsync for the whole group, so throughput grows with the number of concurrent
// writers instead of being capped at one fsync per write. Only after that COMMIT returned
// does the writer call the group's completions, in queue order, so a completion never
// sees a change that is not durable yet. Write() is WriteAsync() plus a wait on a promise:
// one code path for both.
//
// Reads. A fixed pool of read-only connections; WAL lets them read a consistent
// snapshot while the writer commits.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>

#include "rampart/core/error.h"
#include "store/migrations.h"
#include "store/sqlite_connection.h"
#include "store/sqlite_store_internal.h"
#include "store/sqlite_tx.h"

namespace rampart::store {
namespace {

constexpr int kMaxReadConnections = 64;

// Transaction control, prepared once per connection like every other statement.
constexpr const char* kBeginImmediate = "BEGIN IMMEDIATE";
constexpr const char* kBegin = "BEGIN";
constexpr const char* kCommit = "COMMIT";
constexpr const char* kRollback = "ROLLBACK";
constexpr const char* kSavepoint = "SAVEPOINT job";
constexpr const char* kRelease = "RELEASE job";
constexpr const char* kRollbackTo = "ROLLBACK TO job";

// Runs a caller's function: an exception must not cross the store's boundary (nor kill
// the writer thread), so it becomes kInternal.
Status RunGuarded(const std::function<Status(Tx&)>& fn, Tx& tx) {
  try {
    return fn(tx);
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "store function threw an exception");
  }
}

struct WriteJob {
  std::function<Status(Tx&)> fn;
  std::function<void(Status)> done;
};

// Calls a job's completion on the writer thread: an exception must not end the thread
// (every later writer would wait forever), so it is swallowed; the caller's status was
// already final.
void Complete(WriteJob& job, Status status) {
  if (!job.done) return;
  try {
    job.done(std::move(status));
  } catch (...) {
  }
}

struct ReadSlot {
  std::unique_ptr<SqliteConnection> conn;
  std::unique_ptr<SqliteTx> tx;
};

class SqliteStore;

// The read transaction this thread is inside, so a nested Read() of the same store reuses
// it instead of waiting for a second connection (which could deadlock a small pool).
struct ActiveRead {
  const SqliteStore* store = nullptr;
  SqliteTx* tx = nullptr;
};
thread_local ActiveRead active_read;

class SqliteStore final : public Store {
 public:
  SqliteStore(const SqliteOptions& options, std::unique_ptr<SqliteConnection> writer,
              std::vector<std::unique_ptr<ReadSlot>> readers)
      : max_group_(std::max(1, options.max_group)),
        writer_conn_(std::move(writer)),
        writer_tx_(*writer_conn_),
        readers_(std::move(readers)) {
    for (auto& slot : readers_) free_readers_.push_back(slot.get());
    writer_thread_ = std::thread([this] { WriterLoop(); });
  }

  ~SqliteStore() override {
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    queue_cv_.notify_one();
    writer_thread_.join();
  }

  Status Read(const std::function<Status(Tx&)>& fn) override {
    if (active_read.store == this) return RunGuarded(fn, *active_read.tx);
    ReadSlot* slot = Checkout();
    Status status;
    if (!slot->conn->Exec(kBegin).ok()) {
      status = DatabaseError();
    } else {
      const ActiveRead outer = active_read;
      active_read = ActiveRead{this, slot->tx.get()};
      status = RunGuarded(fn, *slot->tx);
      active_read = outer;
      // Ending a read transaction cannot lose data; a failure here only means the
      // connection is unwell, which the caller should hear about.
      if (!slot->conn->Exec(kCommit).ok()) {
        slot->conn->Exec(kRollback).ok();
        if (status.ok()) status = DatabaseError();
      }
    }
    Return(slot);
    return status;
  }

  Status Write(const std::function<Status(Tx&)>& fn) override {
    // From inside a Write() function (or a completion) this would wait for the writer
    // thread, which is the caller itself: fail instead of deadlocking.
    if (std::this_thread::get_id() == writer_id_.load()) {
      return MakeError(ErrorCode::kInternal, "Write() called from inside a Write() function");
    }
    std::promise<Status> promise;
    std::future<Status> result = promise.get_future();
    // `fn` outlives the job: this frame waits for the completion below.
    WriteAsync([&fn](Tx& tx) { return fn(tx); },
               [&promise](Status status) { promise.set_value(std::move(status)); });
    return result.get();
  }

  void WriteAsync(std::function<Status(Tx&)> fn, std::function<void(Status)> done) override {
    {
      std::lock_guard lock(queue_mutex_);
      queue_.push_back(WriteJob{std::move(fn), std::move(done)});
    }
    queue_cv_.notify_one();
  }

  Status Ping() override {
    ReadSlot* slot = Checkout();
    Status status;
    {
      Stmt s(*slot->conn, "SELECT count(*) FROM sqlite_schema");
      auto row = s.Step();
      if (!row.ok() || !*row) status = DatabaseError();
    }
    Return(slot);
    return status;
  }

  WriteStats Stats() const override {
    WriteStats stats{commits_.load(), jobs_.load(), grouped_commits_.load(),
                     largest_group_.load(), 0};
    std::lock_guard lock(queue_mutex_);
    stats.queued = static_cast<int64_t>(queue_.size());
    return stats;
  }

  size_t QueuedWrites() {
    std::lock_guard lock(queue_mutex_);
    return queue_.size();
  }

 private:
  ReadSlot* Checkout() {
    std::unique_lock lock(readers_mutex_);
    readers_cv_.wait(lock, [this] { return !free_readers_.empty(); });
    ReadSlot* slot = free_readers_.back();
    free_readers_.pop_back();
    return slot;
  }

  void Return(ReadSlot* slot) {
    {
      std::lock_guard lock(readers_mutex_);
      free_readers_.push_back(slot);
    }
    readers_cv_.notify_one();
  }

  void WriterLoop() {
    writer_id_.store(std::this_thread::get_id());
    std::vector<WriteJob> group;
    for (;;) {
      {
        std::unique_lock lock(queue_mutex_);
        queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        // Queued jobs are drained before stopping (including those queued by the
        // completions of earlier ones): their callers wait for them.
        if (queue_.empty()) return;
        const size_t take = std::min(queue_.size(), static_cast<size_t>(max_group_));
        group.assign(std::make_move_iterator(queue_.begin()),
                     std::make_move_iterator(queue_.begin() + static_cast<ptrdiff_t>(take)));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<ptrdiff_t>(take));
      }
      RunGroup(group);
      group.clear();
    }
  }

  // Runs `jobs` in one transaction and commits once; then completes every job.
  void RunGroup(std::vector<WriteJob>& jobs) {
    std::vector<Status> results(jobs.size());
    sqlite3* db = writer_conn_->db();
    size_t next = 0;
    while (next < jobs.size()) {
      const size_t first = next;
      if (!writer_conn_->Exec(kBeginImmediate).ok()) {
        for (size_t i = first; i < jobs.size(); ++i) results[i] = DatabaseError();
        break;
      }
      writer_tx_.BeginTransaction();
      bool transaction_lost = false;
      while (next < jobs.size()) {
        results[next] = RunJob(jobs[next].fn);
        ++next;
        if (sqlite3_get_autocommit(db) != 0) {
          // SQLite rolled the whole transaction back (I/O error, out of memory, ...):
          // the jobs run so far in it are lost; the rest get a fresh transaction.
          for (size_t i = first; i < next; ++i) results[i] = DatabaseError();
          transaction_lost = true;
          break;
        }
      }
      if (transaction_lost) continue;
      if (!writer_tx_.FinishTransaction().ok() || !writer_conn_->Exec(kCommit).ok()) {
        writer_conn_->Exec(kRollback).ok();
        for (size_t i = first; i < next; ++i) results[i] = DatabaseError();
        continue;
      }
      RecordCommit(static_cast<int64_t>(next - first));
    }
    // Every transaction of the group has ended (committed or rolled back): no completion
    // runs while a change it could observe is still pending.
    for (size_t i = 0; i < jobs.size(); ++i) Complete(jobs[i], std::move(results[i]));
  }

  // One job inside the group's transaction, in its own savepoint.
  Status RunJob(const std::function<Status(Tx&)>& fn) {
    if (!writer_conn_->Exec(kSavepoint).ok()) return DatabaseError();
    const SqliteTx::AuditMark mark = writer_tx_.Mark();
    Status status = RunGuarded(fn, writer_tx_);
    if (sqlite3_get_autocommit(writer_conn_->db()) != 0) return status;  // see RunGroup
    if (status.ok() && writer_conn_->Exec(kRelease).ok()) return status;
    if (status.ok()) status = DatabaseError();
    // ROLLBACK TO keeps the savepoint open; RELEASE then removes it, leaving the
    // transaction as it was before the job (and the audit head with it).
    writer_conn_->Exec(kRollbackTo).ok();
    writer_conn_->Exec(kRelease).ok();
    writer_tx_.Restore(mark);
    return status;
  }

  void RecordCommit(int64_t jobs) {
    commits_.fetch_add(1);
    jobs_.fetch_add(jobs);
    if (jobs > 1) grouped_commits_.fetch_add(1);
    int64_t largest = largest_group_.load();
    while (jobs > largest && !largest_group_.compare_exchange_weak(largest, jobs)) {
    }
  }

  const int max_group_;

  std::unique_ptr<SqliteConnection> writer_conn_;  // used by the writer thread only
  SqliteTx writer_tx_;
  std::thread writer_thread_;
  std::atomic<std::thread::id> writer_id_{};

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<WriteJob> queue_;   // guarded by queue_mutex_
  bool stopping_ = false;        // guarded by queue_mutex_

  std::vector<std::unique_ptr<ReadSlot>> readers_;
  std::mutex readers_mutex_;
  std::condition_variable readers_cv_;
  std::vector<ReadSlot*> free_readers_;  // guarded by readers_mutex_

  std::atomic<int64_t> commits_{0};
  std::atomic<int64_t> jobs_{0};
  std::atomic<int64_t> grouped_commits_{0};
  std::atomic<int64_t> largest_group_{0};
};

// Creates the file with mode 0600 when missing, before SQLite opens it (SQLite would use
// 0644); SQLite gives the -wal and -shm files the mode of the database file.
Status CreateDatabaseFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kInternal, "cannot open the database file");
  ::close(fd);
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteOptions& options) {
  if (options.path.empty()) {
    return MakeError(ErrorCode::kInternal, "no database file configured");
  }
  Status created = CreateDatabaseFile(options.path);
  if (!created.ok()) return created.error();
  auto writer = SqliteConnection::Open(options.path, /*read_only=*/false, options.synchronous_full);
  if (!writer.ok()) return writer.error();
  Status migrated = ApplyMigrations((*writer)->db(), options.before_migrating);
  if (!migrated.ok()) return migrated.error();

  const int read_connections = std::clamp(options.read_connections, 1, kMaxReadConnections);
  std::vector<std::unique_ptr<ReadSlot>> readers;
  for (int i = 0; i < read_connections; ++i) {
    auto conn = SqliteConnection::Open(options.path, /*read_only=*/true, options.synchronous_full);
    if (!conn.ok()) return conn.error();
    auto slot = std::make_unique<ReadSlot>();
    slot->conn = std::move(conn).value();
    slot->tx = std::make_unique<SqliteTx>(*slot->conn);
    readers.push_back(std::move(slot));
  }
  return std::unique_ptr<Store>(
      new SqliteStore(options, std::move(writer).value(), std::move(readers)));
}

GroupCommitStats GroupCommitStatsForTest(Store& store) {
  return dynamic_cast<SqliteStore&>(store).Stats();  // checks that it is a SqliteStore
}

size_t QueuedWritesForTest(Store& store) {
  return dynamic_cast<SqliteStore&>(store).QueuedWrites();
}

}  // namespace rampart::store
