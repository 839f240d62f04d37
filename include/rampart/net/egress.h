// Egress policy (spec/interfaces.md "Configuration file" egress block, "Connectors"):
// which destinations outbound HTTP may reach.
//
// The server's policy (from the configuration file) is an EgressPolicy. An org's `egress`
// (PATCH /v1/orgs/{org}) and a connector's `egress` are EgressRules; every outbound call
// of an org's run uses server.Narrow(org).Narrow(connector). Org rules may only narrow
// (no allow_cidrs); a connector's may too - except allow_cidrs, which an owner may widen
// per connector (spec/interfaces.md).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/core/result.h"
#include "rampart/net/ip.h"
#include "rampart/net/url.h"

namespace rampart::net {

// A connector's `egress`: every field optional; absent means "as the org says".
struct EgressRules {
  std::optional<bool> allow_http;
  std::vector<Cidr> allow_cidrs;
  std::optional<std::vector<std::string>> allow_domains;
  std::vector<std::string> deny_domains;
  std::optional<std::vector<uint16_t>> allow_ports;
};

struct EgressPolicy {
  bool allow_http = false;                        // https only unless true
  std::vector<Cidr> allow_cidrs;                  // exceptions to the denied ranges
  std::vector<std::string> allow_domains;         // globs ("api.x.com", "*.x.com"); empty = any
  std::vector<std::string> deny_domains;          // globs; win over allow_domains
  std::vector<uint16_t> allow_ports = {443, 80};  // empty = none
  // Set by Narrow when two non-empty allow lists had no name in common: then the empty
  // allow_domains means "no name", not "any name".
  bool domains_restricted = false;

  // This policy narrowed by a connector's rules: allow_http only when both allow it;
  // allow_domains the names both lists allow; deny_domains the union; allow_ports the
  // intersection; allow_cidrs the union (the one widening a connector may do).
  EgressPolicy Narrow(const EgressRules& connector) const;

  // Scheme, port and host-name rules for one URL (no resolution): kSsrfBlocked naming
  // the rule that refused. IP-literal hosts pass the name rules only when no allow list
  // restricts names.
  Status CheckUrl(const Url& url) const;

  // DeniedRange(address, allow_cidrs).
  std::optional<std::string_view> DeniedAddress(const IpAddress& address) const {
    return DeniedRange(address, allow_cidrs);
  }
};

// The configuration file's `egress` block (kInvalidArgument naming the field on any
// unknown key or malformed value).
Result<EgressPolicy> ParseEgressPolicy(const boost::json::object& egress);
// A connector's `egress` object, same fields, all optional.
Result<EgressRules> ParseEgressRules(const boost::json::object& egress);
// An org's `egress` object: a connector's fields except allow_cidrs (kInvalidArgument
// naming it): widening the denied ranges stays a per-connector owner decision.
Result<EgressRules> ParseOrgEgressRules(const boost::json::object& egress);
// The same, from the JSON text the store keeps (store::Org::egress). A row that does not
// parse is kInternal "corrupted org egress rules": the caller fails closed (no request).
Result<EgressRules> ParseStoredOrgEgressRules(std::string_view stored);

// "*.example.com" matches any name strictly below example.com; other patterns match
// exactly. `host` and `pattern` are compared case-insensitively, one trailing dot ignored.
bool DomainMatches(std::string_view pattern, std::string_view host);

}  // namespace rampart::net
