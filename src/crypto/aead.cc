#include "rampart/crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <memory>

#include "rampart/crypto/crypto.h"

namespace rampart::crypto {

namespace {

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

Error DecryptionFailed() { return MakeError(ErrorCode::kInternal, "decryption failed"); }

// The cipher, fetched once (the implicit fetch behind EVP_aes_256_gcm() costs a provider
// lookup on every init in OpenSSL 3).
const EVP_CIPHER* Gcm() {
  static const EVP_CIPHER* const kCipher = [] {
    const EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    return c != nullptr ? c : EVP_aes_256_gcm();
  }();
  return kCipher;
}

// One context per thread, reused: allocation and setup are a large part of the cost of
// sealing a small value. Reset after every use, which cleanses the key schedule.
class ThreadCtx {
 public:
  ThreadCtx() {
    thread_local CtxPtr ctx(EVP_CIPHER_CTX_new());
    ctx_ = ctx.get();
  }
  ~ThreadCtx() {
    if (ctx_ != nullptr) EVP_CIPHER_CTX_reset(ctx_);
  }
  ThreadCtx(const ThreadCtx&) = delete;
  ThreadCtx& operator=(const ThreadCtx&) = delete;
  EVP_CIPHER_CTX* get() const { return ctx_; }
  explicit operator bool() const { return ctx_ != nullptr; }

 private:
  EVP_CIPHER_CTX* ctx_ = nullptr;
};

}  // namespace

Result<std::string> Seal(std::string_view key, std::string_view plaintext,
                         std::string_view associated_data, Random& random) {
  if (key.size() != kAeadKeyBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "encryption key must be 32 bytes");
  }
  if (plaintext.size() > INT_MAX - kAeadOverheadBytes || associated_data.size() > INT_MAX) {
    return MakeError(ErrorCode::kInvalidArgument, "value too large to encrypt");
  }
  std::string nonce = RandomBytes(random, kAeadNonceBytes);
  std::string out(kAeadNonceBytes + plaintext.size() + kAeadTagBytes, '\0');
  out.replace(0, kAeadNonceBytes, nonce);
  auto* ct = reinterpret_cast<unsigned char*>(out.data()) + kAeadNonceBytes;

  ThreadCtx ctx;
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), Gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kAeadNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), Bytes(nonce)) != 1) {
    return MakeError(ErrorCode::kInternal, "encryption failed");
  }
  if (!associated_data.empty() &&
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1) {
    return MakeError(ErrorCode::kInternal, "encryption failed");
  }
  int written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), ct, &len, Bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1) {
      return MakeError(ErrorCode::kInternal, "encryption failed");
    }
    written = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), ct + written, &len) != 1 ||
      static_cast<size_t>(written + len) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kAeadTagBytes,
                          ct + plaintext.size()) != 1) {
    return MakeError(ErrorCode::kInternal, "encryption failed");
  }
  return out;
}

Result<std::string> Open(std::string_view key, std::string_view sealed,
                         std::string_view associated_data) {
  if (key.size() != kAeadKeyBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "encryption key must be 32 bytes");
  }
  if (sealed.size() < kAeadOverheadBytes || sealed.size() > INT_MAX ||
      associated_data.size() > INT_MAX) {
    return DecryptionFailed();
  }
  std::string_view nonce = sealed.substr(0, kAeadNonceBytes);
  std::string_view ciphertext =
      sealed.substr(kAeadNonceBytes, sealed.size() - kAeadOverheadBytes);
  std::string tag(sealed.substr(sealed.size() - kAeadTagBytes));
  std::string plaintext(ciphertext.size(), '\0');
  auto* pt = reinterpret_cast<unsigned char*>(plaintext.data());

  ThreadCtx ctx;
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), Gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kAeadNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, Bytes(key), Bytes(nonce)) != 1) {
    return DecryptionFailed();
  }
  if (!associated_data.empty() &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1) {
    return DecryptionFailed();
  }
  int written = 0;
  if (!ciphertext.empty()) {
    if (EVP_DecryptUpdate(ctx.get(), pt, &len, Bytes(ciphertext),
                          static_cast<int>(ciphertext.size())) != 1) {
      return DecryptionFailed();
    }
    written = len;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kAeadTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), pt + written, &len) != 1) {
    // Do not leave unauthenticated plaintext in freed memory.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return DecryptionFailed();
  }
  return plaintext;
}

}  // namespace rampart::crypto
