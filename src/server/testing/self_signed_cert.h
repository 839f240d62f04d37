// Tests and benchmarks only: a self-signed certificate for TLS servers on loopback.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace rampart::server::testing {

// A self-signed P-256 certificate for CN=localhost (SAN DNS:localhost, IP:127.0.0.1 unless
// `ip_san` is false, and the extra DNS name), valid for an hour. Its PEM files live in a
// temp dir removed on destruction. Aborts if OpenSSL or the file system fails (a broken
// test environment).
class SelfSignedCert {
 public:
  explicit SelfSignedCert(const std::string& extra_dns = "public.test", bool ip_san = true) {
    char tmpl[] = "/tmp/rampart_cert_test_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    dir_ = tmpl;
    cert_file_ = dir_ + "/cert.pem";
    key_file_ = dir_ + "/key.pem";
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
    if (pkey == nullptr) std::abort();
    X509* x509 = X509_new();
    X509_set_version(x509, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x509), 1);
    X509_gmtime_adj(X509_getm_notBefore(x509), -60);
    X509_gmtime_adj(X509_getm_notAfter(x509), 3600);
    X509_set_pubkey(x509, pkey);
    X509_NAME* name = X509_get_subject_name(x509);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
    X509_set_issuer_name(x509, name);
    std::string san =
        std::string("DNS:localhost,") + (ip_san ? "IP:127.0.0.1," : "") + "DNS:" + extra_dns;
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x509, x509, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
    if (ext == nullptr) std::abort();
    X509_add_ext(x509, ext, -1);
    X509_EXTENSION_free(ext);
    if (X509_sign(x509, pkey, EVP_sha256()) <= 0) std::abort();
    FILE* f = std::fopen(cert_file_.c_str(), "w");
    if (f == nullptr) std::abort();
    PEM_write_X509(f, x509);
    std::fclose(f);
    f = std::fopen(key_file_.c_str(), "w");
    if (f == nullptr) std::abort();
    PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x509);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    pem_.assign(data, static_cast<size_t>(len));
    BIO_free(bio);
    X509_free(x509);
    EVP_PKEY_free(pkey);
  }
  ~SelfSignedCert() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  SelfSignedCert(const SelfSignedCert&) = delete;
  SelfSignedCert& operator=(const SelfSignedCert&) = delete;

  const std::string& cert_file() const { return cert_file_; }
  const std::string& key_file() const { return key_file_; }
  const std::string& pem() const { return pem_; }

 private:
  std::string dir_, cert_file_, key_file_, pem_;
};

}  // namespace rampart::server::testing
