// The keyring's master key (shared by `rampart serve` and `rampart keys rotate`) and
// `rampart keys rotate`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json/object.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "rampart/api/connectors.h"
#include "rampart/cli/commands.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/keyring.h"
#include "rampart/engine/local.h"
#include "rampart/model/workflow.h"
#include "rampart/store/store.h"

namespace rampart::cli {
namespace {

constexpr size_t kMinMasterKeyLength = 32;
constexpr size_t kMaxKeyFileBytes = 64 * 1024;
constexpr size_t kMaxConfigBytes = 256 * 1024;

// A file holding a secret: refused unless a regular file without group/other bits.
Result<std::string> ReadKeyFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot read the master key file");
  }
  if ((st.st_mode & 077) != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the master key file must have mode 0600 or 0400 (chmod 600 it)");
  }
  auto text = engine::ReadFileBounded(path, kMaxKeyFileBytes);
  if (!text.ok()) return MakeError(ErrorCode::kInvalidArgument, "cannot read the master key file");
  std::string key = std::move(text).value();
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) {
    key.pop_back();
  }
  if (key.size() < kMinMasterKeyLength) {
    return MakeError(ErrorCode::kInvalidArgument, "the master key must be at least 32 characters");
  }
  return key;
}

// Creates <data>/master.key with 32 random bytes (base64url, 43 characters), 0600,
// O_EXCL so two starting servers never overwrite each other's key.
Result<std::string> GenerateKeyFile(const std::string& path) {
  const std::string key = crypto::Base64UrlEncode(crypto::RandomBytes(SystemRandom(), 32));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return ReadKeyFile(path);
    return MakeError(ErrorCode::kInternal, "cannot create the master key file");
  }
  const std::string line = key + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written) {
    ::unlink(path.c_str());
    return MakeError(ErrorCode::kInternal, "cannot write the master key file");
  }
  return key;
}

int Fail(std::FILE* err, const Error& error, int code = kExitInvalid) {
  std::fprintf(err, "rampart: %s: %s\n", std::string(error.code_name()).c_str(),
               error.message.c_str());
  return code;
}

}  // namespace

Result<MasterKeyMaterial> KeyringMasterKey(const std::string& configured,
                                           const std::string& data_dir, bool generate) {
  MasterKeyMaterial out;
  if (!configured.empty()) {
    out.material = configured;
    return out;
  }
  out.path = data_dir + "/master.key";
  if (::access(out.path.c_str(), F_OK) == 0) {
    auto key = ReadKeyFile(out.path);
    if (!key.ok()) return key.error();
    out.material = std::move(key).value();
    return out;
  }
  if (!generate) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "no master key: set master_key_file, RAMPART_MASTER_KEY or "
                     "--master-key-stdin (or keep <data>/master.key)");
  }
  auto key = GenerateKeyFile(out.path);
  if (!key.ok()) return key.error();
  out.material = std::move(key).value();
  out.generated = true;
  return out;
}

int KeysRotate(const KeysRotateOptions& options, std::FILE* out, std::FILE* err) {
  std::string data_dir = options.data_dir;
  std::string key_file;
  if (!options.config.empty()) {
    auto text = engine::ReadFileBounded(options.config, kMaxConfigBytes);
    if (!text.ok()) {
      return Fail(err, MakeError(ErrorCode::kInvalidArgument, "cannot read the config file"));
    }
    auto doc = model::YamlToJson(*text);
    if (!doc.ok() || !(doc->is_object() || doc->is_null())) {
      return Fail(err, MakeError(ErrorCode::kInvalidArgument, "config: not a mapping"));
    }
    if (doc->is_object()) {
      const auto& o = doc->as_object();
      if (const auto* v = o.if_contains("data"); v != nullptr && v->is_string() && data_dir.empty()) {
        data_dir = std::string(v->as_string());
      }
      if (const auto* v = o.if_contains("master_key_file"); v != nullptr && v->is_string()) {
        key_file = std::string(v->as_string());
      }
    }
  }
  if (data_dir.empty()) data_dir = "./var";

  // The same precedence as `rampart serve`: file, stdin, environment, <data>/master.key.
  std::string configured;
  if (!key_file.empty()) {
    auto key = ReadKeyFile(key_file);
    if (!key.ok()) return Fail(err, key.error());
    configured = std::move(key).value();
  } else if (options.master_key_stdin) {
    std::getline(std::cin, configured);
    if (configured.size() < kMinMasterKeyLength) {
      return Fail(err, MakeError(ErrorCode::kInvalidArgument,
                                 "the master key must be at least 32 characters"));
    }
  } else if (const char* env = std::getenv("RAMPART_MASTER_KEY"); env != nullptr && *env != 0) {
    configured = env;
    if (configured.size() < kMinMasterKeyLength) {
      return Fail(err, MakeError(ErrorCode::kInvalidArgument,
                                 "RAMPART_MASTER_KEY must be at least 32 characters"));
    }
  }
  if (::access((data_dir + "/rampart.db").c_str(), F_OK) != 0) {
    std::fprintf(err, "rampart: no store in %s\n", data_dir.c_str());
    return kExitInvalid;
  }
  auto master = KeyringMasterKey(configured, data_dir, /*generate=*/false);
  if (!master.ok()) return Fail(err, master.error());
  auto store = store::OpenSqliteStore({.path = data_dir + "/rampart.db"});
  if (!store.ok()) return Fail(err, store.error());
  api::StoreKeyStore keys(**store);
  crypto::Keyring keyring(std::move(master->material), keys, SystemRandom());
  if (Status s = api::CheckMasterKey(**store, keyring); !s.ok()) return Fail(err, s.error());
  auto stats = api::RotateAllKeys(**store, keyring, options.batch_size);
  if (!stats.ok()) return Fail(err, stats.error(), kExitRunFailed);
  std::fprintf(out, "rampart: keys rotated: %lld orgs, %lld new key versions, %lld secrets re-encrypted\n",
               static_cast<long long>(stats->orgs), static_cast<long long>(stats->rotated),
               static_cast<long long>(stats->reencrypted));
  return kExitOk;
}

}  // namespace rampart::cli
