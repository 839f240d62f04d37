// Shared pieces of the API handlers: request body parsing with field allowlists, cursor
// encoding, JSON shapes of stored objects, per-source and per-principal rate limits.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <array>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rampart/core/clock.h"
#include "rampart/core/result.h"
#include "rampart/runs/runs.h"
#include "rampart/server/http.h"
#include "rampart/store/store.h"
#include "rampart/webhooks/verify.h"

namespace rampart::api {

// A run's wait (RunService::WaitAsync's id, 0 when it already answered) that ends when
// the client of `client` closes its connection first: its answer is dropped then, and the
// run goes on. `runs` must outlive the server's io threads.
void EndWaitIfClientGone(runs::RunService& runs, const server::Responder& client,
                         const store::Run& run, uint64_t waiter);

// RFC 3339 text of a stored time; null for 0 / nullopt.
boost::json::value TimeValue(store::Millis ms);
boost::json::value TimeValue(const std::optional<store::Millis>& ms);

// Whether a Content-Type value mentions `word` (lowercase ASCII, e.g. "json"), ignoring
// case: media types are case-insensitive (RFC 9110 8.3.1), so "Application/JSON" is JSON.
bool MediaTypeMentions(std::string_view content_type, std::string_view word);

// Parses a JSON object body and rejects any field outside `allowed` (kInvalidArgument
// naming the field). An empty body is {}.
Result<boost::json::object> ParseObjectBody(const server::Request& request,
                                            const std::vector<std::string>& allowed);

// Typed field access with kInvalidArgument errors that name the field.
Result<std::string> RequiredString(const boost::json::object& body, std::string_view field,
                                   size_t max_length);
Result<std::optional<std::string>> OptionalString(const boost::json::object& body,
                                                  std::string_view field, size_t max_length);

// A quota check, run in the create's own write transaction before the insert (so two
// racing creates cannot both take the last slot): `count` objects exist; at `limit` or
// more the create is refused with conflict, "<holder> has at most <limit> <things>;
// <remedy>".
Status CheckQuota(const Result<int64_t>& count, int64_t limit, std::string_view holder,
                  std::string_view things, std::string_view remedy);

// An object id: `prefix` ("org_", "usr_", "key_") + 20 base62 characters (119 random bits).
std::string NewObjectId(Random& random, std::string_view prefix);

// A query parameter that must be a decimal number in [0, max]: digits only (no sign, no
// spaces), at most 18 of them; nullopt otherwise.
std::optional<int64_t> ParseDecimal(std::string_view text, int64_t max);

// An RFC 3339 date-time ("2030-01-01T00:00:00Z", "...T02:00:00.5+02:00") as milliseconds
// since the epoch; nullopt when the text is not one (or is a date that does not exist, or
// is before 1970). Fractions beyond milliseconds are truncated.
std::optional<int64_t> ParseRfc3339Millis(std::string_view text);

// Opaque cursors: base64url of the store's keyset position.
std::string EncodeCursor(std::string_view store_next);
Result<std::string> DecodeCursor(std::string_view cursor);
// The query parameter `name` ("" when absent).
std::string_view QueryParam(const server::Request& request, std::string_view name);
// `limit` and `cursor` query parameters into a store page request.
Result<store::PageRequest> PageFromQuery(const server::Request& request);
boost::json::object ListBody(boost::json::array items, std::string_view store_next);
// The keyset position of an item of a short list read whole in the store's (created_at,
// id) order and paged in memory: created_at zero-padded to a fixed width, then the id, so
// positions compare as strings in that order and a page follows the previous one even
// when an item of it is gone meanwhile.
std::string CreatedAtPosition(int64_t created_at, std::string_view id);

boost::json::object OrgJson(const store::Org& org);
boost::json::object ApiKeyJson(const store::ApiKey& key);
boost::json::object WorkflowJson(const store::Workflow& workflow);
boost::json::object AuditJson(const store::AuditEvent& event);
// The run record of a stored run: the engine's record once final, else a partial one.
boost::json::value RunRecordJson(const store::Run& run);
// Submit returned the run already final, record included: it was executed inline
// (Submission::may_run_inline), so there is nothing to wait for.
bool FinishedInline(const store::Run& run);
boost::json::object RunSummaryJson(const store::Run& run);

// Untrusted text (a header, a path parameter) for an audit event: at most `max_chars` code
// points, then "..." when cut, with every byte that is not part of valid UTF-8 and every
// control or line-separator character (C0, DEL, C1, U+2028, U+2029) replaced by U+FFFD.
// A stored event then always serializes to valid UTF-8 JSON on one line, whatever the
// client sent (log injection, ASVS V16.4.1).
std::string AuditText(std::string_view text, size_t max_chars);

// The client address of a request: the TCP peer, unless the peer is one of `trusted`
// proxies; then the right-most X-Forwarded-For entry that is not a trusted proxy (the
// entries a client wrote itself, further left, are never believed).
std::string ClientAddress(const server::Request& request,
                          const std::vector<std::string>& trusted_cidrs);

// The key a source address is counted under by SourceLimiter: an IPv6 address by its /64
// ("2001:db8:1:2::/64"), since one host or one customer holds a whole /64 and counting
// single addresses would give it 2^64 budgets; an IPv4 address (IPv4-mapped IPv6 too) as
// itself; anything else unchanged.
std::string SourceKey(std::string_view address);

// Fixed-window counters per source (SourceKey of the address). Memory: at most
// `max_sources` windows. When a new source finds the table full, the windows that ended
// are dropped, and if that frees less than half of it, the half whose windows started
// first is dropped too, sources over their budget last (a flood of fresh sources neither
// gives a blocked source a new budget nor costs a scan of the table per request: one scan
// per max_sources / 2 new sources at most).
class SourceLimiter {
 public:
  explicit SourceLimiter(int per_minute, size_t max_sources = 100'000)
      : per_minute_(per_minute), max_sources_(std::max<size_t>(max_sources, 2)) {}
  // Counts one event; true when the source is over its budget for this minute (then
  // `retry_after` is the seconds until the window resets).
  bool Hit(std::string_view address, std::chrono::steady_clock::time_point now, int* retry_after);
  // True when the source is over budget, without counting.
  bool Blocked(std::string_view address, std::chrono::steady_clock::time_point now,
               int* retry_after);
  // Windows held now.
  size_t SizeForTest();

 private:
  struct Window {
    std::chrono::steady_clock::time_point start;
    int count = 0;
  };
  // REQUIRES(mutex_): makes room for a new source (see the class comment).
  void MakeRoom(std::chrono::steady_clock::time_point now);

  const int per_minute_;
  const size_t max_sources_;
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;  // guarded by mutex_
};

// Token buckets per authenticated principal (the API's request rate limit, ASVS V2.4.1):
// capacity `burst`, refilled at rpm/60 tokens per second; rpm 0 turns it off (every Take
// succeeds, nothing is stored). Keys are ids the server made (api key, user, support grant
// ids: their prefixes "key_", "usr_", "sgr_" keep the kinds apart).
//
// Thread-safety: Take may be called from any thread. The keys are spread over kShards
// webhooks::TokenBuckets (the same buckets as the webhook limits), each under its own
// mutex. Memory: at most max_keys buckets in all (max_keys / kShards per shard, evicted as
// TokenBuckets does).
class PrincipalRateLimiter {
 public:
  static constexpr size_t kShards = 16;
  PrincipalRateLimiter(int rpm, int burst, size_t max_keys = 100'000);

  bool enabled() const { return rpm_ > 0; }
  // Takes one token of `key`. True when allowed; otherwise `retry_after_seconds` (>= 1) is
  // the whole seconds until the next token.
  bool Take(std::string_view key, std::chrono::steady_clock::time_point now,
            int* retry_after_seconds);
  // Buckets held now (all shards).
  size_t SizeForTest();

 private:
  const int rpm_;
  const int burst_;
  std::array<std::unique_ptr<webhooks::TokenBuckets>, kShards> shards_;
};

}  // namespace rampart::api
