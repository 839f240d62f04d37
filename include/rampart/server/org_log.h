// The recent server log records of each org, in memory, for the diagnostics route
// (GET /v1/orgs/{org}/diagnostics/logs) that owners and support grants read.
//
// The server's logger (cli::JsonLog) hands every line it writes, after its redaction, to
// Observe. Only lines the server itself attributed to an org are kept: a string "org" and
// a string "event" member, and no "run_id" (a run's lines carry what its workflow logged,
// which may be run data). Of such a line a record keeps the time, level, event, code and
// message and nothing else (never "fields"); the message is cut to kMaxMessageBytes and any
// word shaped like a Rampart credential (rpk_, rps_, rpt_, rss_, rwh_, csr_, whsec_ and
// the characters after it) is masked, so even a token that reached a message by mistake
// never leaves through this route.
//
// Bounds: at most `per_org` records per org (the oldest go first), `max_orgs` orgs and
// `max_records` records of all orgs together. Past either of the last two, the org written
// least recently goes first: its oldest records one by one for the record cap, all of them
// for the org cap. A record holds at most ~450 bytes of text, so the default cap bounds
// the ring to some tens of MiB however many orgs log (500 for each of 10,000 orgs would
// be 5 million records). Observe is O(1) amortized. Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rampart::server {

struct OrgLogRecord {
  int64_t time_ms = 0;  // Unix time
  std::string level;    // debug | info | warn | error
  std::string event;    // e.g. "request.failed", "run.failed"
  std::string code;     // an error code name, "" when none
  std::string message;
};

class OrgLogRing {
 public:
  static constexpr size_t kMaxMessageBytes = 300;

  static constexpr size_t kDefaultMaxRecords = 100'000;

  explicit OrgLogRing(size_t per_org = 500, size_t max_orgs = 10'000,
                      size_t max_records = kDefaultMaxRecords)
      : per_org_(per_org), max_orgs_(max_orgs), max_records_(max_records) {}

  // Keeps a record of `line` when it is an org's line (see above).
  void Observe(const boost::json::object& line, int64_t time_ms);
  // The org's newest records first, at most `limit`.
  std::vector<OrgLogRecord> Recent(std::string_view org_id, size_t limit) const;

  // Records held, all orgs together.
  size_t size() const;

  // `text` with every credential-shaped word masked ("rpk_***"), cut to `max_bytes` at a
  // UTF-8 character boundary.
  static std::string Sanitize(std::string_view text, size_t max_bytes);

 private:
  struct Ring {
    std::deque<OrgLogRecord> records;
    std::list<std::string>::iterator written;  // the org's place in written_
  };
  // Drops the oldest record of the org written least recently (the org once it is empty).
  void EvictOldest();  // requires mu_

  const size_t per_org_;
  const size_t max_orgs_;
  const size_t max_records_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Ring> rings_;  // guarded by mu_
  std::list<std::string> written_;  // guarded by mu_; orgs, least recently written first
  size_t records_ = 0;              // guarded by mu_; all rings' records
};

}  // namespace rampart::server
