#include "rampart/net/egress.h"

#include <algorithm>

#include "rampart/core/ascii.h"
#include "rampart/core/json.h"

namespace rampart::net {
namespace {

namespace bj = boost::json;

std::string_view StripDot(std::string_view s) {
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return s;
}


// Whether every name `inner` matches is matched by `outer`.
bool Covers(std::string_view outer, std::string_view inner) {
  if (inner.rfind("*.", 0) != 0) return DomainMatches(outer, inner);
  if (outer.rfind("*.", 0) != 0) return false;
  std::string_view in = StripDot(inner.substr(2)), out = StripDot(outer.substr(2));
  return EqualsIgnoreCase(in, out) || DomainMatches(outer, in);
}

Error Bad(std::string_view field, std::string message) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "egress." + std::string(field) + ": " + std::move(message));
}

Result<std::vector<std::string>> Globs(const bj::value& v, std::string_view field) {
  if (!v.is_array()) return Bad(field, "must be a list of domain names or *.domain globs");
  std::vector<std::string> out;
  for (const bj::value& e : v.get_array()) {
    if (!e.is_string()) return Bad(field, "must be a list of domain names or *.domain globs");
    std::string_view s = e.get_string();
    std::string_view name = s.rfind("*.", 0) == 0 ? s.substr(2) : s;
    auto url = ParseUrl("https://" + std::string(name) + "/");
    if (name.empty() || name.find_first_of("/?#@:[]*\\") != std::string_view::npos || !url.ok() ||
        url->ip) {
      return Bad(field, "'" + json::Excerpt(s) + "' is not a domain name or *.domain glob");
    }
    out.push_back((s.size() != name.size() ? "*." : "") + url->host);
  }
  return out;
}

Result<std::vector<Cidr>> Cidrs(const bj::value& v, std::string_view field) {
  if (!v.is_array()) return Bad(field, "must be a list of CIDRs");
  std::vector<Cidr> out;
  for (const bj::value& e : v.get_array()) {
    std::optional<Cidr> c;
    if (e.is_string()) c = ParseCidr(e.get_string());
    if (!c) {
      return Bad(field, "'" + (e.is_string() ? json::Excerpt(e.get_string()) : std::string("?")) +
                            "' is not a CIDR such as 127.0.0.1/32 (host bits zero)");
    }
    out.push_back(*c);
  }
  return out;
}

Result<std::vector<uint16_t>> Ports(const bj::value& v, std::string_view field) {
  if (!v.is_array()) return Bad(field, "must be a list of ports");
  std::vector<uint16_t> out;
  for (const bj::value& e : v.get_array()) {
    if (!e.is_int64() || e.get_int64() < 1 || e.get_int64() > 65535) {
      if (!(e.is_uint64() && e.get_uint64() >= 1 && e.get_uint64() <= 65535)) {
        return Bad(field, "ports are integers from 1 to 65535");
      }
      out.push_back(static_cast<uint16_t>(e.get_uint64()));
      continue;
    }
    out.push_back(static_cast<uint16_t>(e.get_int64()));
  }
  return out;
}

Result<EgressRules> ParseRules(const bj::object& egress) {
  EgressRules r;
  for (const auto& kv : egress) {
    std::string_view k = kv.key();
    const bj::value& v = kv.value();
    if (k == "allow_http") {
      if (!v.is_bool()) return Bad(k, "must be true or false");
      r.allow_http = v.get_bool();
    } else if (k == "allow_cidrs") {
      auto c = Cidrs(v, k);
      if (!c.ok()) return std::move(c).error();
      r.allow_cidrs = std::move(c).value();
    } else if (k == "allow_domains") {
      auto g = Globs(v, k);
      if (!g.ok()) return std::move(g).error();
      r.allow_domains = std::move(g).value();
    } else if (k == "deny_domains") {
      auto g = Globs(v, k);
      if (!g.ok()) return std::move(g).error();
      r.deny_domains = std::move(g).value();
    } else if (k == "allow_ports") {
      auto p = Ports(v, k);
      if (!p.ok()) return std::move(p).error();
      r.allow_ports = std::move(p).value();
    } else {
      return Bad(json::Excerpt(k), "unknown field");
    }
  }
  return r;
}

}  // namespace

bool DomainMatches(std::string_view pattern, std::string_view host) {
  pattern = StripDot(pattern);
  host = StripDot(host);
  if (pattern.rfind("*.", 0) == 0) {
    std::string_view suffix = pattern.substr(1);  // ".example.com"
    return host.size() > suffix.size() &&
           EqualsIgnoreCase(host.substr(host.size() - suffix.size()), suffix);
  }
  return EqualsIgnoreCase(pattern, host);
}

EgressPolicy EgressPolicy::Narrow(const EgressRules& c) const {
  EgressPolicy out = *this;
  if (c.allow_http.has_value()) out.allow_http = allow_http && *c.allow_http;
  for (const Cidr& cidr : c.allow_cidrs) {
    if (std::find(out.allow_cidrs.begin(), out.allow_cidrs.end(), cidr) == out.allow_cidrs.end()) {
      out.allow_cidrs.push_back(cidr);
    }
  }
  for (const std::string& d : c.deny_domains) out.deny_domains.push_back(d);
  if (c.allow_domains.has_value() && !c.allow_domains->empty()) {
    const bool org_any = allow_domains.empty() && !domains_restricted;
    if (org_any) {
      out.allow_domains = *c.allow_domains;
    } else {
      // The names both lists allow: each pattern of one list covered by the other.
      std::vector<std::string> both;
      for (const std::string& p : *c.allow_domains) {
        for (const std::string& o : allow_domains) {
          if (Covers(o, p)) {
            both.push_back(p);
            break;
          }
        }
      }
      for (const std::string& o : allow_domains) {
        for (const std::string& p : *c.allow_domains) {
          if (Covers(p, o) && std::find(both.begin(), both.end(), o) == both.end()) {
            both.push_back(o);
            break;
          }
        }
      }
      out.allow_domains = std::move(both);
      out.domains_restricted = true;
    }
  }
  if (c.allow_ports.has_value()) {
    std::vector<uint16_t> ports;
    for (uint16_t p : allow_ports) {
      if (std::find(c.allow_ports->begin(), c.allow_ports->end(), p) != c.allow_ports->end()) {
        ports.push_back(p);
      }
    }
    out.allow_ports = std::move(ports);
  }
  return out;
}

Status EgressPolicy::CheckUrl(const Url& url) const {
  if (url.scheme != "https" && !(url.scheme == "http" && allow_http)) {
    return MakeError(ErrorCode::kSsrfBlocked,
                     "scheme '" + url.scheme + "' is not allowed: only https (http when allowed)");
  }
  if (std::find(allow_ports.begin(), allow_ports.end(), url.port) == allow_ports.end()) {
    return MakeError(ErrorCode::kSsrfBlocked,
                     "port " + std::to_string(url.port) + " is not an allowed port");
  }
  if (!url.ip) {
    for (const std::string& d : deny_domains) {
      if (DomainMatches(d, url.host)) {
        return MakeError(ErrorCode::kSsrfBlocked, "host " + url.host + " is in deny_domains");
      }
    }
  }
  if (!allow_domains.empty() || domains_restricted) {
    bool ok = false;
    if (!url.ip) {
      for (const std::string& d : allow_domains) ok = ok || DomainMatches(d, url.host);
    }
    if (!ok) {
      return MakeError(ErrorCode::kSsrfBlocked, "host " + url.host + " is not in allow_domains");
    }
  }
  return Status::Ok();
}

Result<EgressPolicy> ParseEgressPolicy(const bj::object& egress) {
  auto r = ParseRules(egress);
  if (!r.ok()) return std::move(r).error();
  EgressPolicy p;
  p.allow_http = r->allow_http.value_or(false);
  p.allow_cidrs = r->allow_cidrs;
  if (r->allow_domains) p.allow_domains = *r->allow_domains;
  p.deny_domains = r->deny_domains;
  if (r->allow_ports) p.allow_ports = *r->allow_ports;
  return p;
}

Result<EgressRules> ParseEgressRules(const bj::object& egress) { return ParseRules(egress); }

Result<EgressRules> ParseOrgEgressRules(const bj::object& egress) {
  if (egress.contains("allow_cidrs")) {
    return Bad("allow_cidrs",
               "is not an org rule: org rules only narrow the server's policy (an owner may "
               "widen the denied ranges per connector)");
  }
  return ParseRules(egress);
}

Result<EgressRules> ParseStoredOrgEgressRules(std::string_view stored) {
  if (stored.empty() || stored == "{}") return EgressRules{};
  auto v = json::Parse(stored);
  if (!v.ok() || !v->is_object()) {
    return MakeError(ErrorCode::kInternal, "corrupted org egress rules");
  }
  auto rules = ParseOrgEgressRules(v->as_object());
  if (!rules.ok()) return MakeError(ErrorCode::kInternal, "corrupted org egress rules");
  return rules;
}

}  // namespace rampart::net
