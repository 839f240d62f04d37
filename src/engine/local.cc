#include "rampart/engine/local.h"

#include "rampart/core/json.h"
#include <fstream>

namespace rampart::engine {

Result<std::string> ReadFileBounded(const std::filesystem::path& path, size_t max_bytes) {
  // Not only regular files: /dev/stdin and a shell's <(...) are pipes, and the read
  // below is bounded whatever the file is.
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) {
    return MakeError(ErrorCode::kNotFound, path.string() + ": no such file");
  }
  if (std::filesystem::is_directory(status)) {
    return MakeError(ErrorCode::kInvalidArgument, path.string() + ": is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return MakeError(ErrorCode::kInvalidArgument, path.string() + ": cannot be read");
  std::string data;
  data.resize(max_bytes + 1);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<size_t>(in.gcount()));
  if (data.size() > max_bytes) {
    return MakeError(ErrorCode::kLimitExceeded, path.string() + ": larger than " +
                                                    std::to_string(max_bytes) + " bytes");
  }
  return data;
}

DirectoryWorkflowSource::DirectoryWorkflowSource(std::filesystem::path dir) : dir_(std::move(dir)) {}

Result<std::shared_ptr<const model::Workflow>> DirectoryWorkflowSource::Find(std::string_view id) {
  std::lock_guard lock(mu_);
  if (auto it = cache_.find(id); it != cache_.end()) return it->second;
  // `id` was validated by the loader (^[a-z0-9][a-z0-9-]*$), so it cannot leave dir_.
  for (const char* ext : {".yaml", ".yml", ".json"}) {
    std::filesystem::path file = dir_ / (std::string(id) + ext);
    auto text = ReadFileBounded(file, model::kMaxDefinitionBytes);
    if (!text.ok()) {
      if (text.error().code == ErrorCode::kNotFound) continue;
      return text.error();
    }
    model::LoadResult loaded = model::LoadDefinition(*text);
    if (!loaded.ok()) {
      const auto& e = loaded.errors.front();
      return MakeError(ErrorCode::kInvalidDefinition, "workflow " + std::string(id) +
                                                          " is invalid: " + e.path + ": " +
                                                          e.message);
    }
    if (loaded.workflow->id != id) {
      return MakeError(ErrorCode::kInvalidDefinition,
                       "workflow file for " + std::string(id) + " declares id " + loaded.workflow->id);
    }
    cache_.emplace(std::string(id), loaded.workflow);
    return loaded.workflow;
  }
  return MakeError(ErrorCode::kNotFound, "workflow " + std::string(id) + " not found");
}

void StreamLogSink::Write(const boost::json::object& line) {
  std::string text = json::Serialize(line);
  text += '\n';
  std::lock_guard lock(mu_);
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

}  // namespace rampart::engine
