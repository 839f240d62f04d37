// Name resolution for outbound HTTP. The SSRF guard resolves every name itself, checks
// every address, and pins the connection to them, so the HTTP library never looks a name
// up on its own.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/result.h"
#include "rampart/net/ip.h"

namespace rampart::net {

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Every A and AAAA address of `host` (a lowercase name, never an IP literal), in the
  // resolver's order, duplicates removed. No addresses: kActionFailed
  // "could not resolve <host>". Must be thread-safe.
  virtual Result<std::vector<IpAddress>> Resolve(std::string_view host) = 0;
};

// getaddrinfo (AF_UNSPEC, SOCK_STREAM). Bounded only by the system resolver's own
// timeouts (resolv.conf).
class SystemResolver final : public Resolver {
 public:
  Result<std::vector<IpAddress>> Resolve(std::string_view host) override;
};

// Tests: a fixed table. Each name maps to a list of answers; the n-th lookup of a name
// gets the n-th answer, the last one repeating (to model DNS rebinding between two
// lookups). Unknown names fail like NXDOMAIN. Thread-safe.
class StaticResolver final : public Resolver {
 public:
  void Add(std::string host, std::vector<IpAddress> addresses);
  // Appends another answer for `host` (returned by its next lookup).
  void AddAnswer(std::string host, std::vector<IpAddress> addresses);
  Result<std::vector<IpAddress>> Resolve(std::string_view host) override;
  int lookups(std::string_view host) const;

 private:
  struct Entry {
    std::vector<std::vector<IpAddress>> answers;
    int lookups = 0;
  };
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> table_;
};

}  // namespace rampart::net
