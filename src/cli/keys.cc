// The keyring's master key (shared by `rampart serve` and the key tools), `rampart keys
// rotate` and `rampart keys rewrap`.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>

#include "cli/config.h"
#include "cli/data_dir.h"
#include "cli/report.h"
#include "rampart/api/connectors.h"
#include "rampart/cli/commands.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/keyring.h"
#include "rampart/store/store.h"

namespace rampart::cli {
namespace {

// Creates <data>/master.key with 32 random bytes (base64url, 43 characters), 0600,
// O_EXCL so two starting servers never overwrite each other's key.
Result<std::string> GenerateKeyFile(const std::string& path) {
  const std::string key = crypto::Base64UrlEncode(crypto::RandomBytes(SystemRandom(), 32));
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return ReadMasterKeyFile(path);
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
    auto key = ReadMasterKeyFile(out.path);
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

namespace {

// What `keys rotate` and `keys rewrap` share: the serve configuration, the store and a
// keyring with the current and the previous master keys.
struct KeyTool {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<api::StoreKeyStore> keys;
  std::unique_ptr<crypto::Keyring> keyring;
};

// Every failure is a bad configuration or a missing store (exit 2).
Result<KeyTool> OpenKeyTool(const KeysRotateOptions& options) {
  // The same configuration file and key precedence as `rampart serve`.
  auto config = LoadConfig(options.config);
  if (!config.ok()) return config.error();
  const std::string data_dir = DataDir(options.data_dir, *config);
  auto configured = OperatorMasterKey(*config, options.master_key_stdin);
  if (!configured.ok()) return configured.error();
  auto previous = PreviousMasterKeys(*config);
  if (!previous.ok()) return previous.error();
  if (::access((data_dir + "/rampart.db").c_str(), F_OK) != 0) {
    return MakeError(ErrorCode::kInvalidArgument, "no store in " + data_dir);
  }
  auto master = KeyringMasterKey(*configured, data_dir, /*generate=*/false);
  if (!master.ok()) return master.error();
  auto store = OpenStoreBesideServe(data_dir);
  if (!store.ok()) return store.error();
  KeyTool tool;
  tool.store = std::move(store).value();
  tool.keys = std::make_unique<api::StoreKeyStore>(*tool.store);
  tool.keyring = std::make_unique<crypto::Keyring>(
      std::move(master->material), std::move(previous).value(), *tool.keys, SystemRandom());
  return tool;
}

}  // namespace

int KeysRotate(const KeysRotateOptions& options, std::FILE* out, std::FILE* err) {
  auto tool = OpenKeyTool(options);
  if (!tool.ok()) return Fail(err, tool.error());
  store::Store& store = *tool->store;
  crypto::Keyring& keyring = *tool->keyring;
  if (Status s = api::CheckMasterKey(store, keyring); !s.ok()) return Fail(err, s.error());
  auto stats = api::RotateAllKeys(store, keyring, options.batch_size);
  if (!stats.ok()) return Fail(err, stats.error(), kExitRunFailed);
  std::fprintf(out, "rampart: keys rotated: %lld orgs, %lld new key versions, %lld secrets re-encrypted\n",
               static_cast<long long>(stats->orgs), static_cast<long long>(stats->rotated),
               static_cast<long long>(stats->reencrypted));
  return kExitOk;
}

int KeysRewrap(const KeysRewrapOptions& options, std::FILE* out, std::FILE* err) {
  if (options.batch_size <= 0) {
    return Fail(err, MakeError(ErrorCode::kInvalidArgument, "the batch size must be positive"));
  }
  auto tool = OpenKeyTool(options);
  if (!tool.ok()) return Fail(err, tool.error());
  const crypto::Keyring& keyring = *tool->keyring;
  // No CheckMasterKey first: the batches check every key they move, and a key that does
  // not open stops the rewrap at its batch (earlier batches stay committed, each whole).
  auto stats = api::RewrapDataKeys(*tool->store, keyring, SystemClock(), options.batch_size);
  if (!stats.ok()) return Fail(err, stats.error(), kExitRunFailed);
  std::string from;
  for (const auto& [id, n] : stats->from) {
    from += (from.empty() ? "" : ", ") + (id.empty() ? std::string("unrecorded") : id) + ": " +
            std::to_string(n);
  }
  std::fprintf(out,
               "rampart: master key rewrap: %lld data keys of %lld orgs re-wrapped under master "
               "key %s in %lld batches%s%s%s\n",
               static_cast<long long>(stats->rewrapped), static_cast<long long>(stats->orgs),
               keyring.master_key_id().c_str(), static_cast<long long>(stats->batches),
               from.empty() ? "" : " (from ", from.c_str(), from.empty() ? "" : ")");
  return kExitOk;
}

}  // namespace rampart::cli
