// Pieces for local runs (`rampart run`): child workflows from a directory, and a log
// sink writing JSON lines to a stream.
#pragma once

#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>

#include "rampart/engine/engine.h"

namespace rampart::engine {

// Finds `workflow` step children as <dir>/<id>.yaml, .yml or .json (the file's own `id`
// must match). Loaded definitions are cached. Thread-safe.
class DirectoryWorkflowSource final : public WorkflowSource {
 public:
  explicit DirectoryWorkflowSource(std::filesystem::path dir);
  Result<std::shared_ptr<const model::Workflow>> Find(std::string_view id) override;

 private:
  std::filesystem::path dir_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<const model::Workflow>, std::less<>> cache_;  // GUARDED_BY(mu_)
};

// Reads a whole file of at most `max_bytes`: a regular file, or a pipe or device (read
// until EOF or `max_bytes` + 1). kNotFound / kInvalidArgument (a directory, unreadable)
// / kLimitExceeded (too large). Messages name the file as given by the user.
Result<std::string> ReadFileBounded(const std::filesystem::path& path, size_t max_bytes);

// One JSON object per line. Thread-safe.
class StreamLogSink final : public actions::LogSink {
 public:
  explicit StreamLogSink(std::FILE* out) : out_(out) {}
  void Write(const boost::json::object& line) override;

 private:
  std::mutex mu_;
  std::FILE* out_;
};

}  // namespace rampart::engine
