#include "rampart/net/resolver.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

namespace rampart::net {
namespace {

Error Unresolvable(std::string_view host) {
  return MakeError(ErrorCode::kActionFailed, "could not resolve " + std::string(host));
}

}  // namespace

Result<std::vector<IpAddress>> SystemResolver::Resolve(std::string_view host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  std::string name(host);
  if (getaddrinfo(name.c_str(), nullptr, &hints, &list) != 0 || list == nullptr) {
    return Unresolvable(host);
  }
  std::vector<IpAddress> out;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    std::optional<IpAddress> ip;
    if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(sockaddr_in)) {
      sockaddr_in sin;
      std::memcpy(&sin, ai->ai_addr, sizeof sin);
      ip = IpAddress::V4(ntohl(sin.sin_addr.s_addr));
    } else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(sockaddr_in6)) {
      sockaddr_in6 sin6;
      std::memcpy(&sin6, ai->ai_addr, sizeof sin6);
      std::array<uint8_t, 16> b;
      std::memcpy(b.data(), &sin6.sin6_addr, 16);
      ip = IpAddress::V6(b);
    }
    if (ip && std::find(out.begin(), out.end(), *ip) == out.end()) out.push_back(*ip);
  }
  freeaddrinfo(list);
  if (out.empty()) return Unresolvable(host);
  return out;
}

void StaticResolver::Add(std::string host, std::vector<IpAddress> addresses) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = table_[std::move(host)];
  e.answers.clear();
  e.answers.push_back(std::move(addresses));
}

void StaticResolver::AddAnswer(std::string host, std::vector<IpAddress> addresses) {
  std::lock_guard<std::mutex> lock(mu_);
  table_[std::move(host)].answers.push_back(std::move(addresses));
}

Result<std::vector<IpAddress>> StaticResolver::Resolve(std::string_view host) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = table_.find(host);
  if (it == table_.end() || it->second.answers.empty()) return Unresolvable(host);
  Entry& e = it->second;
  size_t i = std::min(static_cast<size_t>(e.lookups), e.answers.size() - 1);
  ++e.lookups;
  if (e.answers[i].empty()) return Unresolvable(host);
  return e.answers[i];
}

int StaticResolver::lookups(std::string_view host) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = table_.find(host);
  return it == table_.end() ? 0 : it->second.lookups;
}

}  // namespace rampart::net
