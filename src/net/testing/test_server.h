// Tests and benchmarks only: a local HTTP(S) server on 127.0.0.1 (ephemeral port) for
// outbound HTTP tests, which must never send a packet anywhere but loopback.
//
// Routes: GET /ok -> {"ok":true}; GET /text -> text/plain "hello"; ANY /echo -> JSON of
// {method, query, body, authorization, headers}; GET /redirect?to=<url>&status=<code>
// -> that redirect; GET /loop -> 302 to /loop; GET /big?n=<bytes> -> n bytes;
// GET /slow?ms=<n> -> waits, then 200; GET /status?code=<n> -> that status.
// hits() counts every request that reached a handler.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "rampart/core/json.h"
#include "rampart/server/router.h"
#include "rampart/server/server.h"

namespace rampart::net::testing {

// A self-signed P-256 certificate for localhost (SAN DNS:localhost, IP:127.0.0.1 and
// the extra DNS name), valid for an hour. Files live in a temp dir removed on destruction.
class SelfSignedCert {
 public:
  explicit SelfSignedCert(const std::string& extra_dns = "public.test") {
    char tmpl[] = "/tmp/rampart_net_test_XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    dir_ = tmpl;
    cert_file_ = dir_ + "/cert.pem";
    key_file_ = dir_ + "/key.pem";
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
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
    std::string san = "DNS:localhost,IP:127.0.0.1,DNS:" + extra_dns;
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x509, x509, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
    X509_add_ext(x509, ext, -1);
    X509_EXTENSION_free(ext);
    X509_sign(x509, pkey, EVP_sha256());
    FILE* f = std::fopen(cert_file_.c_str(), "w");
    PEM_write_X509(f, x509);
    std::fclose(f);
    f = std::fopen(key_file_.c_str(), "w");
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
  const std::string& cert_file() const { return cert_file_; }
  const std::string& key_file() const { return key_file_; }
  const std::string& pem() const { return pem_; }

 private:
  std::string dir_, cert_file_, key_file_, pem_;
};

class TestServer {
 public:
  // tls: serve HTTPS with `cert`, which must outlive the server.
  // extra_routes: more routes (a test's own endpoints), added after the built-in ones.
  explicit TestServer(const SelfSignedCert* cert = nullptr,
                      std::vector<server::Route> extra_routes = {}) {
    Add("GET", "/ok", [](server::Request&) {
      return server::JsonResponse(200, boost::json::object{{"ok", true}});
    });
    Add("GET", "/text", [](server::Request&) {
      server::Response r;
      r.body = "hello";
      r.content_type = "text/plain";
      return r;
    });
    for (const char* m : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      Add(m, "/echo", [](server::Request& req) {
        boost::json::object o;
        o["method"] = req.method;
        boost::json::object q;
        for (const auto& [k, v] : req.query) q[k] = v;
        o["query"] = q;
        o["body"] = req.body;
        boost::json::object h;
        for (const auto& [k, v] : req.headers) {
          std::string n = k;
          for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          h[n] = v;
        }
        o["headers"] = h;
        return server::JsonResponse(200, o);
      });
    }
    Add("GET", "/redirect", [](server::Request& req) {
      server::Response r;
      r.status = std::atoi(std::string(req.QueryParam("status").value_or("302")).c_str());
      r.headers.emplace_back("Location", std::string(req.QueryParam("to").value_or("/ok")));
      return r;
    });
    Add("POST", "/redirect", [](server::Request& req) {
      server::Response r;
      r.status = std::atoi(std::string(req.QueryParam("status").value_or("302")).c_str());
      r.headers.emplace_back("Location", std::string(req.QueryParam("to").value_or("/ok")));
      return r;
    });
    Add("GET", "/loop", [](server::Request&) {
      server::Response r;
      r.status = 302;
      r.headers.emplace_back("Location", "/loop");
      return r;
    });
    Add("GET", "/big", [](server::Request& req) {
      server::Response r;
      r.content_type = "application/octet-stream";
      r.body.assign(std::stoul(std::string(req.QueryParam("n").value_or("1024"))), 'x');
      return r;
    });
    Add("GET", "/slow", [](server::Request& req) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::stoi(std::string(req.QueryParam("ms").value_or("1000")))));
      return server::JsonResponse(200, boost::json::object{{"slow", true}});
    });
    Add("GET", "/status", [](server::Request& req) {
      int code = std::atoi(std::string(req.QueryParam("code").value_or("500")).c_str());
      return server::JsonResponse(code, boost::json::object{{"status", code}});
    });
    for (server::Route& r : extra_routes) {
      auto handler = std::move(r.handler);
      r.handler = [this, handler](server::Request& req) {
        ++hits_;
        return handler(req);
      };
      router_.Add(std::move(r));
    }
    server::ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    if (cert) {
      options.tls_cert_file = cert->cert_file();
      options.tls_key_file = cert->key_file();
    }
    server_ = std::make_unique<server::HttpServer>(options, router_, nullptr);
    if (!server_->Start().ok()) std::abort();
  }
  ~TestServer() { server_->Stop(std::chrono::milliseconds(0)); }

  uint16_t port() const { return server_->port(); }
  int hits() const { return hits_.load(); }

 private:
  template <typename F>
  void Add(const char* method, const char* pattern, F f) {
    server::Route r;
    r.method = method;
    r.pattern = pattern;
    r.operation_id = std::string(method) + pattern;
    r.max_body = 16 << 20;
    r.handler = [this, f](server::Request& req) {
      ++hits_;
      return f(req);
    };
    router_.Add(std::move(r));
  }

  server::Router router_;
  std::atomic<int> hits_{0};
  std::unique_ptr<server::HttpServer> server_;
};

}  // namespace rampart::net::testing
