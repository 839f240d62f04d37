#include "api/common.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <boost/json/parse.hpp>

#include "rampart/core/ascii.h"
#include "rampart/core/keep_highest.h"
#include "rampart/core/json.h"
#include "rampart/core/utf8.h"
#include "rampart/crypto/crypto.h"
#include "rampart/crypto/tokens.h"
#include "rampart/net/ip.h"

namespace rampart::api {


void EndWaitIfClientGone(runs::RunService& runs, const server::Responder& client,
                         const store::Run& run, uint64_t waiter) {
  if (waiter == 0) return;
  client.OnClientGone([&runs, org_id = run.org_id, run_id = run.id, waiter] {
    runs.EndWait(org_id, run_id, waiter);
  });
}

boost::json::value TimeValue(store::Millis ms) {
  if (ms == 0) return nullptr;
  return boost::json::string(FormatRfc3339Millis(ms));
}

boost::json::value TimeValue(const std::optional<store::Millis>& ms) {
  return ms.has_value() ? TimeValue(*ms) : boost::json::value(nullptr);
}

Status CheckQuota(const Result<int64_t>& count, int64_t limit, std::string_view holder,
                  std::string_view things, std::string_view remedy) {
  if (!count.ok()) return count.error();
  if (*count < limit) return Status::Ok();
  return MakeError(ErrorCode::kConflict, std::string(holder) + " has at most " +
                                             std::to_string(limit) + " " + std::string(things) +
                                             "; " + std::string(remedy));
}

bool MediaTypeMentions(std::string_view content_type, std::string_view word) {
  auto lower = [](unsigned char c) { return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c; };
  auto at = std::search(content_type.begin(), content_type.end(), word.begin(), word.end(),
                        [&](char a, char b) { return lower(a) == lower(b); });
  return at != content_type.end();
}

Result<boost::json::object> ParseObjectBody(const server::Request& request,
                                            const std::vector<std::string>& allowed) {
  if (request.body.empty()) return boost::json::object();
  auto content_type = request.Header("content-type");
  if (content_type.has_value() && !MediaTypeMentions(*content_type, "json")) {
    return MakeError(ErrorCode::kInvalidArgument, "the request body must be JSON");
  }
  auto parsed = json::Parse(request.body, {.max_bytes = request.body.size(), .max_depth = 64});
  if (!parsed.ok()) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid JSON body: " + parsed.error().message);
  }
  if (!parsed->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "the request body must be a JSON object");
  }
  boost::json::object body = std::move(parsed->as_object());
  for (const auto& entry : body) {
    bool known = false;
    for (const std::string& name : allowed) known = known || entry.key() == name;
    if (!known) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "unknown field \"" + json::Excerpt(entry.key(), 64) + "\"");
    }
  }
  return body;
}

Result<std::string> RequiredString(const boost::json::object& body, std::string_view field,
                                   size_t max_length) {
  auto value = OptionalString(body, field, max_length);
  if (!value.ok()) return value.error();
  if (!value->has_value() || (*value)->empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "field \"" + std::string(field) + "\" is required");
  }
  return std::move(**value);
}

Result<std::optional<std::string>> OptionalString(const boost::json::object& body,
                                                  std::string_view field, size_t max_length) {
  const boost::json::value* v = body.if_contains(field);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field \"" + std::string(field) + "\" must be a string");
  }
  if (v->as_string().size() > max_length) {
    return MakeError(ErrorCode::kInvalidArgument, "field \"" + std::string(field) +
                                                      "\" is longer than " +
                                                      std::to_string(max_length) + " bytes");
  }
  return std::optional<std::string>(std::string(v->as_string()));
}

std::string NewObjectId(Random& random, std::string_view prefix) {
  return crypto::NewOpaqueToken(random, prefix).substr(0, prefix.size() + 20);
}

std::optional<int64_t> ParseDecimal(std::string_view text, int64_t max) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  if (n > max) return std::nullopt;
  return n;
}

namespace {

// `count` digits at text[*at], advancing *at; -1 when they are not all digits.
int Digits(std::string_view text, size_t* at, size_t count) {
  if (*at + count > text.size()) return -1;
  int n = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = text[*at + i];
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  *at += count;
  return n;
}

bool Expect(std::string_view text, size_t* at, std::string_view one_of) {
  if (*at >= text.size() || one_of.find(text[*at]) == std::string_view::npos) return false;
  ++*at;
  return true;
}

// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

}  // namespace

std::optional<int64_t> ParseRfc3339Millis(std::string_view text) {
  size_t at = 0;
  const int year = Digits(text, &at, 4);
  if (year < 0 || !Expect(text, &at, "-")) return std::nullopt;
  const int month = Digits(text, &at, 2);
  if (month < 1 || month > 12 || !Expect(text, &at, "-")) return std::nullopt;
  const int day = Digits(text, &at, 2);
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int days_in_month = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
  if (day < 1 || day > days_in_month || !Expect(text, &at, "Tt")) return std::nullopt;
  const int hour = Digits(text, &at, 2);
  if (hour < 0 || hour > 23 || !Expect(text, &at, ":")) return std::nullopt;
  const int minute = Digits(text, &at, 2);
  if (minute < 0 || minute > 59 || !Expect(text, &at, ":")) return std::nullopt;
  const int second = Digits(text, &at, 2);
  if (second < 0 || second > 59) return std::nullopt;  // no leap second: it cannot be stored
  int64_t millis = 0;
  if (at < text.size() && text[at] == '.') {
    ++at;
    size_t digits = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (digits < 3) millis = millis * 10 + (text[at] - '0');
      ++digits;
      ++at;
    }
    if (digits == 0) return std::nullopt;
    for (size_t i = digits; i < 3; ++i) millis *= 10;
  }
  int64_t offset_minutes = 0;  // "Z", or a numeric offset
  if (!Expect(text, &at, "Zz")) {
    if (at >= text.size() || (text[at] != '+' && text[at] != '-')) return std::nullopt;
    const int sign = text[at] == '-' ? -1 : 1;
    ++at;
    const int oh = Digits(text, &at, 2);
    if (oh < 0 || oh > 23 || !Expect(text, &at, ":")) return std::nullopt;
    const int om = Digits(text, &at, 2);
    if (om < 0 || om > 59) return std::nullopt;
    offset_minutes = sign * (oh * 60 + om);
  }
  if (at != text.size()) return std::nullopt;
  const int64_t seconds = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 +
                          second - offset_minutes * 60;
  if (seconds < 0) return std::nullopt;
  return seconds * 1000 + millis;
}

std::string EncodeCursor(std::string_view store_next) {
  return crypto::Base64UrlEncode(store_next);
}

Result<std::string> DecodeCursor(std::string_view cursor) {
  if (cursor.size() > 512) return MakeError(ErrorCode::kInvalidArgument, "invalid cursor");
  auto decoded = crypto::Base64UrlDecode(cursor);
  if (!decoded.has_value()) return MakeError(ErrorCode::kInvalidArgument, "invalid cursor");
  return std::string(*decoded);
}

std::string_view QueryParam(const server::Request& request, std::string_view name) {
  for (const auto& [key, value] : request.query) {
    if (key == name) return value;
  }
  return {};
}

Result<store::PageRequest> PageFromQuery(const server::Request& request) {
  store::PageRequest page;
  std::string_view cursor = QueryParam(request, "cursor");
  if (!cursor.empty()) {
    auto after = DecodeCursor(cursor);
    if (!after.ok()) return after.error();
    page.after = std::move(after).value();
  }
  std::string_view limit = QueryParam(request, "limit");
  if (!limit.empty()) {
    std::optional<int64_t> n = ParseDecimal(limit, 200);
    if (!n.has_value() || *n < 1) {
      return MakeError(ErrorCode::kInvalidArgument, "limit must be an integer from 1 to 200");
    }
    page.limit = static_cast<int>(*n);
  }
  return page;
}

boost::json::object ListBody(boost::json::array items, std::string_view store_next) {
  boost::json::object body;
  body["items"] = std::move(items);
  body["next_cursor"] = store_next.empty() ? boost::json::value(nullptr)
                                           : boost::json::value(EncodeCursor(store_next));
  return body;
}

std::string CreatedAtPosition(int64_t created_at, std::string_view id) {
  const std::string created = std::to_string(created_at);
  return std::string(created.size() < 20 ? 20 - created.size() : 0, '0') + created + ":" +
         std::string(id);
}

boost::json::object OrgJson(const store::Org& org) {
  // The stored rules were validated when set; a row that does not parse shows as null
  // (and outbound calls of the org fail closed, see net::ParseStoredOrgEgressRules).
  boost::json::value egress = boost::json::object();
  if (!org.egress.empty() && org.egress != "{}") {
    auto parsed = json::Parse(org.egress);
    egress = parsed.ok() && parsed->is_object() ? std::move(parsed).value()
                                                : boost::json::value(nullptr);
  }
  return {{"id", org.id},
          {"slug", org.slug},
          {"name", org.name},
          {"max_concurrent_runs", org.max_concurrent_runs},
          {"egress", std::move(egress)},
          {"created_at", TimeValue(org.created_at)}};
}

boost::json::object ApiKeyJson(const store::ApiKey& key) {
  return {{"id", key.id},
          {"name", key.name},
          {"scope", key.scope},
          {"hint", key.hint},
          {"created_by", key.user_id},
          {"created_at", TimeValue(key.created_at)},
          {"expires_at", TimeValue(key.expires_at)},
          {"last_used_at", TimeValue(key.last_used_at)},
          {"revoked_at", TimeValue(key.revoked_at)}};
}

boost::json::object WorkflowJson(const store::Workflow& workflow) {
  return {{"id", workflow.id},
          {"name", workflow.name},
          {"visibility", workflow.visibility},
          {"latest_version", workflow.latest_version},
          {"live_version", workflow.live_version == 0 ? boost::json::value(nullptr)
                                                      : boost::json::value(workflow.live_version)},
          {"created_at", TimeValue(workflow.created_at)},
          {"updated_at", TimeValue(workflow.updated_at)}};
}

boost::json::object AuditJson(const store::AuditEvent& event) {
  boost::json::object o{{"seq", event.seq},
                        {"time", TimeValue(event.time)},
                        {"org", event.org_id},
                        {"actor", event.actor},
                        {"action", event.action},
                        {"target", event.target},
                        {"outcome", event.outcome},
                        {"source_ip", event.source_ip},
                        {"user_agent", event.user_agent},
                        {"hash", event.hash},
                        {"prev_hash", event.prev_hash}};
  auto details = json::Parse(event.details.empty() ? std::string_view("{}") : event.details);
  o["details"] = details.ok() ? std::move(details).value() : boost::json::object();
  return o;
}

bool FinishedInline(const store::Run& run) {
  return !run.record.empty() && store::IsFinalRunStatus(run.status);
}

boost::json::value RunRecordJson(const store::Run& run) {
  if (!run.record.empty()) {
    auto record = json::Parse(run.record, {.max_bytes = run.record.size() + 1, .max_depth = 256});
    if (record.ok() && record->is_object()) {
      // The record stays authoritative for its content; the stored status wins while a
      // run is still changing (awaiting approval -> cancelled).
      record->as_object()["status"] = run.status;
      return std::move(record).value();
    }
  }
  boost::json::object o;
  o["run_id"] = run.id;
  o["workflow"] = run.workflow_id;
  o["version"] = run.version;
  o["status"] = run.status;
  auto input = json::Parse(run.input.empty() ? std::string_view("{}") : run.input,
                           {.max_bytes = run.input.size() + 2, .max_depth = 256});
  o["input"] = input.ok() ? std::move(input).value() : boost::json::value(nullptr);
  o["output"] = nullptr;
  if (run.error_code.empty()) {
    o["error"] = nullptr;
  } else {
    o["error"] = boost::json::object{{"code", run.error_code}, {"message", run.error_code}};
  }
  o["started_at"] = TimeValue(run.started_at);
  o["finished_at"] = TimeValue(run.finished_at);
  o["steps"] = boost::json::array();
  return o;
}

boost::json::object RunSummaryJson(const store::Run& run) {
  return {{"run_id", run.id},
          {"workflow", run.workflow_id},
          {"version", run.version},
          {"status", run.status},
          {"error_code", run.error_code.empty() ? boost::json::value(nullptr)
                                                : boost::json::value(run.error_code)},
          {"actor", run.actor},
          {"created_at", TimeValue(run.created_at)},
          {"started_at", TimeValue(run.started_at)},
          {"finished_at", TimeValue(run.finished_at)}};
}

std::string AuditText(std::string_view text, size_t max_chars) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(std::min(text.size(), max_chars * 4) + 3);
  size_t chars = 0;
  size_t i = 0;
  while (i < text.size() && chars < max_chars) {
    uint32_t cp = 0;
    const size_t len = Utf8Decode(text, i, &cp);
    if (len == 0) {
      out += kReplacement;  // one replacement per bad byte
      i += 1;
    } else {
      const bool control =
          cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
      if (control) {
        out += kReplacement;
      } else {
        out.append(text.substr(i, len));
      }
      i += len;
    }
    ++chars;
  }
  if (i < text.size()) out += "...";
  return out;
}

std::string ClientAddress(const server::Request& request,
                          const std::vector<std::string>& trusted_cidrs) {
  if (trusted_cidrs.empty()) return request.remote_ip;
  auto trusted = [&](std::string_view text) {
    auto address = net::ParseIp(text);
    if (!address.has_value()) return false;
    for (const std::string& c : trusted_cidrs) {
      auto cidr = net::ParseCidr(c);
      if (cidr.has_value() && cidr->Contains(*address)) return true;
    }
    return false;
  };
  if (!trusted(request.remote_ip)) return request.remote_ip;
  // Repeated X-Forwarded-For lines are one list in order (RFC 9110 5.3): a proxy that adds
  // its own line after the client's must not leave the client's line to be believed.
  std::string joined;
  for (const auto& [name, value] : request.headers) {
    if (!EqualsIgnoreCase(name, "x-forwarded-for")) continue;
    if (!joined.empty()) joined += ',';
    joined += value;
  }
  std::string_view chain = joined;
  std::string client = request.remote_ip;
  // Right to left: each hop appended the address it saw; stop at the first hop that is
  // not one of ours.
  while (!chain.empty()) {
    size_t comma = chain.rfind(',');
    std::string_view entry = comma == std::string_view::npos ? chain : chain.substr(comma + 1);
    chain = comma == std::string_view::npos ? std::string_view() : chain.substr(0, comma);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    auto address = net::ParseIp(entry);
    if (!address.has_value()) break;  // garbage: keep the last address we could trust
    client = std::string(entry);
    if (!trusted(entry)) break;
  }
  return client;
}

std::string SourceKey(std::string_view address) {
  std::optional<net::IpAddress> ip = net::ParseIp(address);
  if (!ip.has_value()) return std::string(address);
  if (ip->is_v4()) return ip->ToString();
  std::array<uint8_t, 16> bytes = ip->bytes();
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(std::begin(kMappedPrefix), std::end(kMappedPrefix), bytes.begin())) {
    return net::IpAddress::V4(static_cast<uint32_t>(bytes[12]) << 24 | bytes[13] << 16 |
                              bytes[14] << 8 | bytes[15])
        .ToString();
  }
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return net::IpAddress::V6(bytes).ToString() + "/64";
}

bool SourceLimiter::Hit(std::string_view address, std::chrono::steady_clock::time_point now,
                        int* retry_after) {
  const std::string source = SourceKey(address);
  std::lock_guard lock(mutex_);
  auto it = windows_.find(source);
  if (it == windows_.end()) {
    if (windows_.size() >= max_sources_) MakeRoom(now);
    it = windows_.emplace(source, Window{}).first;
  }
  Window& w = it->second;
  if (w.count == 0 || now - w.start >= std::chrono::minutes(1)) {
    w.start = now;
    w.count = 0;
  }
  ++w.count;
  if (w.count <= per_minute_) return false;
  auto left = std::chrono::duration_cast<std::chrono::seconds>(w.start + std::chrono::minutes(1) - now);
  *retry_after = std::max<int>(1, static_cast<int>(left.count()));
  return true;
}

bool SourceLimiter::Blocked(std::string_view address, std::chrono::steady_clock::time_point now,
                            int* retry_after) {
  const std::string source = SourceKey(address);
  std::lock_guard lock(mutex_);
  auto it = windows_.find(source);
  if (it == windows_.end() || now - it->second.start >= std::chrono::minutes(1) ||
      it->second.count < per_minute_) {
    return false;
  }
  auto left = std::chrono::duration_cast<std::chrono::seconds>(it->second.start +
                                                               std::chrono::minutes(1) - now);
  *retry_after = std::max<int>(1, static_cast<int>(left.count()));
  return true;
}

size_t SourceLimiter::SizeForTest() {
  std::lock_guard lock(mutex_);
  return windows_.size();
}

void SourceLimiter::MakeRoom(std::chrono::steady_clock::time_point now) {
  std::erase_if(windows_, [&](const auto& kv) {
    return now - kv.second.start >= std::chrono::minutes(1);
  });
  // Of the live windows, half stay: over budget first, then the latest started.
  KeepHighestRanked(windows_, max_sources_ / 2, [this](const Window& w) {
    return std::pair(w.count >= per_minute_, w.start);
  });
}

PrincipalRateLimiter::PrincipalRateLimiter(int rpm, int burst, size_t max_keys)
    : rpm_(std::max(rpm, 0)), burst_(std::max(burst, 1)) {
  for (auto& shard : shards_) {
    shard = std::make_unique<webhooks::TokenBuckets>(std::max<size_t>(1, max_keys / kShards));
  }
}

bool PrincipalRateLimiter::Take(std::string_view key, std::chrono::steady_clock::time_point now,
                                int* retry_after_seconds) {
  if (rpm_ <= 0) return true;
  return shards_[std::hash<std::string_view>()(key) % kShards]->Take(key, rpm_, burst_, now,
                                                                      retry_after_seconds);
}

size_t PrincipalRateLimiter::SizeForTest() {
  size_t n = 0;
  for (auto& shard : shards_) n += shard->size();
  return n;
}

}  // namespace rampart::api
