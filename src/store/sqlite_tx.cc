#include "store/sqlite_tx.h"

#include "store/sqlite_store_internal.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <map>
#include <utility>

#include "rampart/audit/chain.h"
#include "rampart/core/error.h"
#include "store/sqlite_store_internal.h"

namespace rampart::store {
namespace {

constexpr int kMaxPageLimit = 200;
constexpr int64_t kNoUpperBound = std::numeric_limits<int64_t>::max();

// ---- Cursors ---------------------------------------------------------------------------
//
// A cursor is "<kind>.<fields>": text fields hex-encoded (so the cursor is URL-safe and
// any byte survives), numbers in decimal. Anything that does not parse back exactly is
// kInvalidArgument "invalid cursor": a client can only hand back what it was given.

Error InvalidCursor() { return MakeError(ErrorCode::kInvalidArgument, "invalid cursor"); }

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

std::optional<std::string> HexDecode(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = nibble(hex[i]);
    const int low = nibble(hex[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high << 4 | low);
  }
  return out;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// Splits "<kind>.<rest>"; nullopt when the prefix is not `kind`.
std::optional<std::string_view> CursorBody(std::string_view cursor, std::string_view kind) {
  if (cursor.size() <= kind.size() + 1 || cursor.substr(0, kind.size()) != kind ||
      cursor[kind.size()] != '.') {
    return std::nullopt;
  }
  return cursor.substr(kind.size() + 1);
}

Result<std::string> DecodeTextCursor(std::string_view cursor, std::string_view kind) {
  auto body = CursorBody(cursor, kind);
  if (!body) return InvalidCursor();
  auto text = HexDecode(*body);
  if (!text) return InvalidCursor();
  return *std::move(text);
}

// A positive sequence/version number.
Result<int64_t> DecodeNumberCursor(std::string_view cursor, std::string_view kind) {
  auto body = CursorBody(cursor, kind);
  if (!body) return InvalidCursor();
  auto number = ParseInt(*body);
  if (!number || *number <= 0) return InvalidCursor();
  return *number;
}

int ClampLimit(int limit) { return std::clamp(limit, 1, kMaxPageLimit); }

// ---- Row helpers -----------------------------------------------------------------------

template <typename T, typename ReadRow>
Result<std::optional<T>> QueryOne(Stmt& stmt, ReadRow read) {
  auto row = stmt.Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<T>();
  return std::optional<T>(read(stmt));
}

template <typename T, typename ReadRow>
Result<std::vector<T>> QueryAll(Stmt& stmt, ReadRow read) {
  std::vector<T> items;
  for (;;) {
    auto row = stmt.Step();
    if (!row.ok()) return row.error();
    if (!*row) return items;
    items.push_back(read(stmt));
  }
}

Result<int64_t> QueryCount(Stmt& stmt) {
  auto row = stmt.Step();
  if (!row.ok()) return row.error();
  if (!*row) return DatabaseError();
  return stmt.ColInt(0);
}

// Reads up to `limit` items of a statement that was bound with LIMIT limit + 1: the
// extra row only tells that a next page exists, whose cursor is that of the last item.
template <typename T, typename ReadRow, typename MakeCursor>
Result<Page<T>> QueryPage(Stmt& stmt, int limit, ReadRow read, MakeCursor make_cursor) {
  Page<T> page;
  std::string last_cursor;
  for (;;) {
    auto row = stmt.Step();
    if (!row.ok()) return row.error();
    if (!*row) return page;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next = std::move(last_cursor);
      return page;
    }
    page.items.push_back(read(stmt));
    if (static_cast<int>(page.items.size()) == limit) last_cursor = make_cursor(stmt);
  }
}

Status ChangedOne(Stmt& stmt, const char* what) {
  if (stmt.Changes() == 0) return MakeError(ErrorCode::kNotFound, what);
  return Status::Ok();
}

// ---- Orgs, users, memberships, sessions -------------------------------------------------

// The columns ReadOrg reads, in its order.
#define RAMPART_ORG_COLUMNS "id, slug, name, max_concurrent_runs, created_at, egress"

Org ReadOrg(const Stmt& s) {
  return Org{s.ColText(0), s.ColText(1), s.ColText(2), static_cast<int>(s.ColInt(3)),
             s.ColInt(4), s.ColText(5)};
}

User ReadUser(const Stmt& s) {
  return User{s.ColText(0), s.ColText(1), s.ColText(2), s.ColInt(3), s.ColInt(4) != 0,
              s.ColInt(5) != 0};
}

Membership ReadMembership(const Stmt& s) {
  return Membership{s.ColText(0), s.ColText(1), s.ColText(2), s.ColInt(3)};
}

Session ReadSession(const Stmt& s) {
  return Session{s.ColText(0), s.ColText(1), s.ColText(2), s.ColInt(3),
                 s.ColInt(4),  s.ColInt(5),  s.ColInt(6) != 0};
}

ApiKey ReadApiKey(const Stmt& s) {
  return ApiKey{s.ColText(0), s.ColText(1),  s.ColText(2),    s.ColText(3),
                s.ColText(4), s.ColText(5),  s.ColText(6),    s.ColInt(7),
                s.ColOptInt(8), s.ColOptInt(9), s.ColOptInt(10)};
}

Workflow ReadWorkflow(const Stmt& s) {
  return Workflow{s.ColText(0), s.ColText(1), s.ColText(2), s.ColText(3),
                  static_cast<int>(s.ColInt(4)), static_cast<int>(s.ColInt(5)),
                  s.ColInt(6), s.ColInt(7), s.ColInt(8) != 0, s.ColInt(9)};
}

WorkflowVersion ReadWorkflowVersion(const Stmt& s) {
  return WorkflowVersion{s.ColText(0), s.ColText(1), static_cast<int>(s.ColInt(2)),
                         s.ColText(3), s.ColText(4), s.ColText(5), s.ColInt(6)};
}

// Column 0 is the run's seq (the cursor), not part of Run.
Run ReadRun(const Stmt& s) {
  Run run;
  run.org_id = s.ColText(1);
  run.id = s.ColText(2);
  run.workflow_id = s.ColText(3);
  run.version = static_cast<int>(s.ColInt(4));
  run.status = s.ColText(5);
  run.input = s.ColText(6);
  run.trigger = s.ColText(7);
  run.record = s.ColText(8);
  run.error_code = s.ColText(9);
  run.actor = s.ColText(10);
  run.created_at = s.ColInt(11);
  run.started_at = s.ColInt(12);
  run.finished_at = s.ColInt(13);
  run.attempts = static_cast<int>(s.ColInt(14));
  run.cancel_requested = s.ColInt(15) != 0;
  run.wake_at = s.ColInt(16);
  run.workflow_generation = s.ColInt(17);
  return run;
}

AuditEvent ReadAudit(const Stmt& s) {
  AuditEvent event;
  event.seq = s.ColInt(0);
  event.time = s.ColInt(1);
  event.org_id = s.ColText(2);
  event.actor = s.ColText(3);
  event.action = s.ColText(4);
  event.target = s.ColText(5);
  event.outcome = s.ColText(6);
  event.source_ip = s.ColText(7);
  event.user_agent = s.ColText(8);
  event.details = s.ColText(9);
  event.prev_hash = s.ColText(10);
  event.hash = s.ColText(11);
  return event;
}

#define RAMPART_RUN_COLUMNS                                                           \
  "seq, org_id, id, workflow_id, version, status, input_json, trigger_json, record_json, " \
  "error_code, actor, created_at, started_at, finished_at, attempts, cancel_requested, wake_at, " \
  "workflow_generation"
#define RAMPART_AUDIT_COLUMNS                                                         \
  "seq, time, org_id, actor, action, target, outcome, source_ip, user_agent, details, "   \
  "prev_hash, hash"
#define RAMPART_API_KEY_COLUMNS                                                       \
  "id, org_id, user_id, name, hash, hint, scope, created_at, expires_at, last_used_at, " \
  "revoked_at"
#define RAMPART_WORKFLOW_COLUMNS \
  "org_id, id, name, visibility, latest_version, live_version, created_at, updated_at, " \
  "scheduled, generation"
#define RAMPART_VERSION_COLUMNS \
  "org_id, workflow_id, version, definition, source, created_by, created_at"

}  // namespace

Status SqliteTx::InsertOrg(const Org& org) {
  Stmt s(conn_,
         "INSERT INTO orgs (id, slug, name, max_concurrent_runs, created_at, egress) "
         "VALUES (?, ?, ?, ?, ?, ?)");
  return s.Text(org.id).Text(org.slug).Text(org.name).Int(org.max_concurrent_runs)
      .Int(org.created_at).Text(org.egress).Run();
}

Status SqliteTx::UpdateOrg(const Org& org) {
  Stmt s(conn_, "UPDATE orgs SET name = ?, max_concurrent_runs = ?, egress = ? WHERE id = ?");
  Status status =
      s.Text(org.name).Int(org.max_concurrent_runs).Text(org.egress).Text(org.id).Run();
  if (!status.ok()) return status;
  return ChangedOne(s, "org not found");
}

Result<std::optional<Org>> SqliteTx::GetOrg(std::string_view org_id) {
  Stmt s(conn_, "SELECT " RAMPART_ORG_COLUMNS " FROM orgs WHERE id = ?");
  s.Text(org_id);
  return QueryOne<Org>(s, ReadOrg);
}

Result<std::optional<Org>> SqliteTx::GetOrgBySlug(std::string_view slug) {
  Stmt s(conn_, "SELECT " RAMPART_ORG_COLUMNS " FROM orgs WHERE slug = ?");
  s.Text(slug);
  return QueryOne<Org>(s, ReadOrg);
}

Result<std::vector<Org>> SqliteTx::ListOrgsOfUser(std::string_view user_id) {
  Stmt s(conn_,
         "SELECT o.id, o.slug, o.name, o.max_concurrent_runs, o.created_at, o.egress "
         "FROM memberships m JOIN orgs o ON o.id = m.org_id "
         "WHERE m.user_id = ? ORDER BY o.created_at, o.id");
  s.Text(user_id);
  return QueryAll<Org>(s, ReadOrg);
}

Result<int64_t> SqliteTx::CountOrgs() {
  Stmt s(conn_, "SELECT count(*) FROM orgs");
  return QueryCount(s);
}

Status SqliteTx::InsertUser(const User& user) {
  Stmt s(conn_,
         "INSERT INTO users (id, email, password_hash, created_at, must_change_password) "
         "VALUES (?, ?, ?, ?, ?)");
  return s.Text(user.id).Text(user.email).Text(user.password_hash).Int(user.created_at)
      .Int(user.must_change_password ? 1 : 0).Run();
}

Result<std::optional<User>> SqliteTx::GetUser(std::string_view user_id) {
  Stmt s(conn_,
         "SELECT id, email, password_hash, created_at, must_change_password, disabled "
         "FROM users "
         "WHERE id = ?");
  s.Text(user_id);
  return QueryOne<User>(s, ReadUser);
}

Result<std::optional<User>> SqliteTx::GetUserByEmail(std::string_view email) {
  Stmt s(conn_,
         "SELECT id, email, password_hash, created_at, must_change_password, disabled "
         "FROM users "
         "WHERE email = ?");
  s.Text(email);
  return QueryOne<User>(s, ReadUser);
}

Result<std::vector<User>> SqliteTx::ListUsers() {
  Stmt s(conn_,
         "SELECT id, email, password_hash, created_at, must_change_password, disabled "
         "FROM users ORDER BY created_at, id");
  return QueryAll<User>(s, ReadUser);
}

Status SqliteTx::SetUserPassword(std::string_view user_id, std::string_view password_hash,
                                 bool must_change_password) {
  Stmt s(conn_, "UPDATE users SET password_hash = ?, must_change_password = ? WHERE id = ?");
  Status status = s.Text(password_hash).Int(must_change_password ? 1 : 0).Text(user_id).Run();
  if (!status.ok()) return status;
  if (s.Changes() == 0) return MakeError(ErrorCode::kNotFound, "user not found");
  return Status::Ok();
}

Status SqliteTx::SetUserDisabled(std::string_view user_id, bool disabled) {
  Stmt s(conn_, "UPDATE users SET disabled = ? WHERE id = ?");
  Status status = s.Int(disabled ? 1 : 0).Text(user_id).Run();
  if (!status.ok()) return status;
  if (s.Changes() == 0) return MakeError(ErrorCode::kNotFound, "user not found");
  return Status::Ok();
}

Result<bool> SqliteTx::DeleteUser(std::string_view user_id) {
  // The foreign keys cascade too; deleting explicitly keeps this independent of them.
  for (const char* sql : {"DELETE FROM sessions WHERE user_id = ?",
                          "DELETE FROM memberships WHERE user_id = ?"}) {
    Stmt s(conn_, sql);
    if (Status status = s.Text(user_id).Run(); !status.ok()) return status.error();
  }
  Stmt s(conn_, "DELETE FROM users WHERE id = ?");
  Status status = s.Text(user_id).Run();
  if (!status.ok()) return status.error();
  return s.Changes() > 0;
}

Status SqliteTx::UpsertMembership(const Membership& m) {
  // created_at is kept from the first insert: a role change is not a new membership.
  Stmt s(conn_,
         "INSERT INTO memberships (org_id, user_id, role, created_at) VALUES (?, ?, ?, ?) "
         "ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role");
  return s.Text(m.org_id).Text(m.user_id).Text(m.role).Int(m.created_at).Run();
}

Result<std::optional<Membership>> SqliteTx::GetMembership(std::string_view org_id,
                                                          std::string_view user_id) {
  Stmt s(conn_,
         "SELECT org_id, user_id, role, created_at FROM memberships "
         "WHERE org_id = ? AND user_id = ?");
  s.Text(org_id).Text(user_id);
  return QueryOne<Membership>(s, ReadMembership);
}

Result<std::optional<MemberOrg>> SqliteTx::GetMemberOrg(std::string_view org_id,
                                                        std::string_view user_id) {
  Stmt s(conn_, kMemberOrgSql);
  s.Text(org_id).Text(user_id);
  return QueryOne<MemberOrg>(s, [](const Stmt& row) {
    return MemberOrg{ReadMembership(row),
                     Org{row.ColText(4), row.ColText(5), row.ColText(6),
                         static_cast<int>(row.ColInt(7)), row.ColInt(8), row.ColText(9)}};
  });
}

Result<Page<Membership>> SqliteTx::ListMembers(std::string_view org_id, const PageRequest& page) {
  const int limit = ClampLimit(page.limit);
  auto cursor = [](const Stmt& s) { return "m." + HexEncode(s.ColText(1)); };
  if (page.after.empty()) {
    Stmt s(conn_,
           "SELECT org_id, user_id, role, created_at FROM memberships "
           "WHERE org_id = ? ORDER BY user_id LIMIT ?");
    s.Text(org_id).Int(limit + 1);
    return QueryPage<Membership>(s, limit, ReadMembership, cursor);
  }
  auto after = DecodeTextCursor(page.after, "m");
  if (!after.ok()) return after.error();
  Stmt s(conn_,
         "SELECT org_id, user_id, role, created_at FROM memberships "
         "WHERE org_id = ? AND user_id > ? ORDER BY user_id LIMIT ?");
  s.Text(org_id).Text(*after).Int(limit + 1);
  return QueryPage<Membership>(s, limit, ReadMembership, cursor);
}

Result<bool> SqliteTx::DeleteMembership(std::string_view org_id, std::string_view user_id) {
  Stmt s(conn_, "DELETE FROM memberships WHERE org_id = ? AND user_id = ?");
  Status status = s.Text(org_id).Text(user_id).Run();
  if (!status.ok()) return status.error();
  return s.Changes() > 0;
}

Result<int64_t> SqliteTx::CountOwners(std::string_view org_id) {
  Stmt s(conn_, "SELECT count(*) FROM memberships WHERE org_id = ? AND role = 'owner'");
  s.Text(org_id);
  return QueryCount(s);
}

Result<std::vector<Membership>> SqliteTx::ListMembershipsOfUser(std::string_view user_id) {
  Stmt s(conn_,
         "SELECT org_id, user_id, role, created_at FROM memberships "
         "WHERE user_id = ? ORDER BY org_id");
  s.Text(user_id);
  return QueryAll<Membership>(s, ReadMembership);
}

Status SqliteTx::InsertSession(const Session& session) {
  Stmt s(conn_,
         "INSERT INTO sessions (token_hash, user_id, csrf_hash, created_at, last_seen_at, "
         "expires_at, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)");
  return s.Text(session.token_hash).Text(session.user_id).Text(session.csrf_hash)
      .Int(session.created_at).Int(session.last_seen_at).Int(session.expires_at)
      .Int(session.revoked ? 1 : 0).Run();
}

Result<std::optional<Session>> SqliteTx::GetSession(std::string_view token_hash) {
  Stmt s(conn_,
         "SELECT token_hash, user_id, csrf_hash, created_at, last_seen_at, expires_at, revoked "
         "FROM sessions WHERE token_hash = ?");
  s.Text(token_hash);
  return QueryOne<Session>(s, ReadSession);
}

Status SqliteTx::TouchSession(std::string_view token_hash, Millis now) {
  Stmt s(conn_, "UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?");
  return s.Int(now).Text(token_hash).Run();
}

Status SqliteTx::RevokeSession(std::string_view token_hash) {
  Stmt s(conn_, "UPDATE sessions SET revoked = 1 WHERE token_hash = ?");
  return s.Text(token_hash).Run();
}

Result<int64_t> SqliteTx::RevokeUserSessions(std::string_view user_id) {
  Stmt s(conn_, "UPDATE sessions SET revoked = 1 WHERE user_id = ? AND revoked = 0");
  Status status = s.Text(user_id).Run();
  if (!status.ok()) return status.error();
  return static_cast<int64_t>(s.Changes());
}

Status SqliteTx::InsertApiKey(const ApiKey& key) {
  Stmt s(conn_,
         "INSERT INTO api_keys (" RAMPART_API_KEY_COLUMNS
         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  return s.Text(key.id).Text(key.org_id).Text(key.user_id).Text(key.name).Text(key.hash)
      .Text(key.hint).Text(key.scope).Int(key.created_at).OptInt(key.expires_at)
      .OptInt(key.last_used_at).OptInt(key.revoked_at).Run();
}

Result<std::optional<ApiKey>> SqliteTx::GetApiKeyByHash(std::string_view hash) {
  Stmt s(conn_, "SELECT " RAMPART_API_KEY_COLUMNS " FROM api_keys WHERE hash = ?");
  s.Text(hash);
  return QueryOne<ApiKey>(s, ReadApiKey);
}

Result<std::optional<ApiKey>> SqliteTx::GetApiKey(std::string_view org_id, std::string_view id) {
  Stmt s(conn_, "SELECT " RAMPART_API_KEY_COLUMNS " FROM api_keys WHERE org_id = ? AND id = ?");
  s.Text(org_id).Text(id);
  return QueryOne<ApiKey>(s, ReadApiKey);
}

Result<Page<ApiKey>> SqliteTx::ListApiKeys(std::string_view org_id, const PageRequest& page) {
  const int limit = ClampLimit(page.limit);
  auto cursor = [](const Stmt& s) {
    return "k." + std::to_string(s.ColInt(7)) + "." + HexEncode(s.ColText(0));
  };
  if (page.after.empty()) {
    Stmt s(conn_,
           "SELECT " RAMPART_API_KEY_COLUMNS
           " FROM api_keys WHERE org_id = ? ORDER BY created_at, id LIMIT ?");
    s.Text(org_id).Int(limit + 1);
    return QueryPage<ApiKey>(s, limit, ReadApiKey, cursor);
  }
  auto body = CursorBody(page.after, "k");
  if (!body) return InvalidCursor();
  const size_t dot = body->find('.');
  if (dot == std::string_view::npos) return InvalidCursor();
  auto created_at = ParseInt(body->substr(0, dot));
  auto id = HexDecode(body->substr(dot + 1));
  if (!created_at || !id) return InvalidCursor();
  Stmt s(conn_,
         "SELECT " RAMPART_API_KEY_COLUMNS
         " FROM api_keys WHERE org_id = ? AND (created_at, id) > (?, ?) "
         "ORDER BY created_at, id LIMIT ?");
  s.Text(org_id).Int(*created_at).Text(*id).Int(limit + 1);
  return QueryPage<ApiKey>(s, limit, ReadApiKey, cursor);
}

Result<int64_t> SqliteTx::CountActiveApiKeys(std::string_view org_id, Millis now) {
  Stmt s(conn_,
         "SELECT count(*) FROM api_keys WHERE org_id = ? AND revoked_at IS NULL "
         "AND (expires_at IS NULL OR expires_at > ?)");
  s.Text(org_id).Int(now);
  return QueryCount(s);
}

Result<bool> SqliteTx::RevokeApiKey(std::string_view org_id, std::string_view id, Millis now) {
  Stmt s(conn_,
         "UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND id = ? AND revoked_at IS NULL");
  Status status = s.Int(now).Text(org_id).Text(id).Run();
  if (!status.ok()) return status.error();
  return s.Changes() > 0;
}

Result<int64_t> SqliteTx::RevokeUserApiKeys(std::string_view user_id, Millis now) {
  Stmt s(conn_,
         "UPDATE api_keys SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL");
  Status status = s.Int(now).Text(user_id).Run();
  if (!status.ok()) return status.error();
  return static_cast<int64_t>(s.Changes());
}

Status SqliteTx::TouchApiKey(std::string_view id, Millis now) {
  Stmt s(conn_, "UPDATE api_keys SET last_used_at = ? WHERE id = ?");
  return s.Int(now).Text(id).Run();
}

// The generation is the store's: a new random one per row, 1 .. 2^53 (w.generation is
// not read), so a workflow created again under a deleted one's id never shares it.
Status SqliteTx::InsertWorkflow(const Workflow& w) {
  Stmt s(conn_,
         "INSERT INTO workflows (" RAMPART_WORKFLOW_COLUMNS
         ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, (random() & 9007199254740991) + 1)");
  return s.Text(w.org_id).Text(w.id).Text(w.name).Text(w.visibility).Int(w.latest_version)
      .Int(w.live_version).Int(w.created_at).Int(w.updated_at).Int(w.scheduled ? 1 : 0).Run();
}

Status SqliteTx::UpdateWorkflow(const Workflow& w) {
  Stmt s(conn_,
         "UPDATE workflows SET name = ?, visibility = ?, latest_version = ?, live_version = ?, "
         "updated_at = ?, scheduled = ? WHERE org_id = ? AND id = ?");
  Status status = s.Text(w.name).Text(w.visibility).Int(w.latest_version).Int(w.live_version)
                      .Int(w.updated_at).Int(w.scheduled ? 1 : 0).Text(w.org_id).Text(w.id).Run();
  if (!status.ok()) return status;
  return ChangedOne(s, "workflow not found");
}

Result<std::optional<Workflow>> SqliteTx::GetWorkflow(std::string_view org_id,
                                                      std::string_view id) {
  Stmt s(conn_, "SELECT " RAMPART_WORKFLOW_COLUMNS " FROM workflows WHERE org_id = ? AND id = ?");
  s.Text(org_id).Text(id);
  return QueryOne<Workflow>(s, ReadWorkflow);
}

Result<Page<Workflow>> SqliteTx::ListWorkflows(std::string_view org_id,
                                               const WorkflowFilter& filter,
                                               const PageRequest& page) {
  const int limit = ClampLimit(page.limit);
  std::string after;
  if (!page.after.empty()) {
    auto decoded = DecodeTextCursor(page.after, "w");
    if (!decoded.ok()) return decoded.error();
    after = *std::move(decoded);
  }
  // One statement per combination; the primary key (org_id, id) serves the filter, the
  // keyset and the order. The visibility test probes the primary key of workflow_versions
  // (version 1) for a private workflow only: hidden workflows are skipped inside the
  // query, before the LIMIT, so pages stay full and the cursor is always a listed id.
  static const std::array<std::string, 4> kSql = [] {
    std::array<std::string, 4> sql;
    for (size_t i = 0; i < sql.size(); ++i) {
      std::string& q = sql[i];
      q = "SELECT " RAMPART_WORKFLOW_COLUMNS " FROM workflows w WHERE w.org_id = ?";
      if ((i & 1) != 0) q += " AND w.id > ?";
      if ((i & 2) != 0) {
        q += " AND (w.visibility <> 'private' OR EXISTS (SELECT 1 FROM workflow_versions v "
             "WHERE v.org_id = w.org_id AND v.workflow_id = w.id AND v.version = 1 AND "
             "v.created_by = ?))";
      }
      q += " ORDER BY w.id LIMIT ?";
    }
    return sql;
  }();
  const bool by_after = !page.after.empty();
  const bool by_visibility = filter.visible_to.has_value();
  Stmt s(conn_, kSql[(by_after ? 1 : 0) + (by_visibility ? 2 : 0)].c_str());
  s.Text(org_id);
  if (by_after) s.Text(after);
  if (by_visibility) s.Text(*filter.visible_to);
  s.Int(limit + 1);
  return QueryPage<Workflow>(s, limit, ReadWorkflow,
                             [](const Stmt& row) { return "w." + HexEncode(row.ColText(1)); });
}

Result<bool> SqliteTx::DeleteWorkflow(std::string_view org_id, std::string_view id) {
  // Versions go with it (ON DELETE CASCADE); runs have no foreign key: they are history.
  // What belongs to this creation of the id goes too, so that a workflow created again
  // under it starts clean: its schedule state (a new schedule, not one that missed every
  // tick since the delete), its trigger URLs (they died with it) and the hook endpoints
  // that answered its deliveries 410.
  Stmt s(conn_, "DELETE FROM workflows WHERE org_id = ? AND id = ?");
  Status status = s.Text(org_id).Text(id).Run();
  if (!status.ok()) return status.error();
  const bool deleted = s.Changes() > 0;
  for (const char* sql : {"DELETE FROM schedule_state WHERE org_id = ? AND workflow_id = ?",
                          "DELETE FROM webhooks WHERE org_id = ? AND workflow_id = ?",
                          "DELETE FROM hook_endpoints_disabled WHERE org_id = ? AND workflow_id = ?"}) {
    Stmt more(conn_, sql);
    if (Status st = more.Text(org_id).Text(id).Run(); !st.ok()) return st.error();
  }
  return deleted;
}

// Both counts walk the primary key (org_id, id) / (org_id, workflow_id, version): a
// covering index search, never a table scan (QuotaCountsAreIndexSearches in sqlite_store_test).
Result<int64_t> SqliteTx::CountWorkflows(std::string_view org_id) {
  Stmt s(conn_, kCountWorkflowsSql);
  s.Text(org_id);
  return QueryCount(s);
}

Result<int64_t> SqliteTx::CountWorkflowVersions(std::string_view org_id,
                                                std::string_view workflow_id) {
  Stmt s(conn_, kCountWorkflowVersionsSql);
  s.Text(org_id).Text(workflow_id);
  return QueryCount(s);
}

Status SqliteTx::InsertWorkflowVersion(const WorkflowVersion& v) {
  Stmt s(conn_,
         "INSERT INTO workflow_versions (" RAMPART_VERSION_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?, ?)");
  return s.Text(v.org_id).Text(v.workflow_id).Int(v.version).Text(v.definition).Text(v.source)
      .Text(v.created_by).Int(v.created_at).Run();
}

Result<std::optional<WorkflowVersion>> SqliteTx::GetWorkflowVersion(std::string_view org_id,
                                                                    std::string_view workflow_id,
                                                                    int version) {
  Stmt s(conn_,
         "SELECT " RAMPART_VERSION_COLUMNS
         " FROM workflow_versions WHERE org_id = ? AND workflow_id = ? AND version = ?");
  s.Text(org_id).Text(workflow_id).Int(version);
  return QueryOne<WorkflowVersion>(s, ReadWorkflowVersion);
}

Result<Page<WorkflowVersion>> SqliteTx::ListWorkflowVersions(std::string_view org_id,
                                                             std::string_view workflow_id,
                                                             const PageRequest& page) {
  const int limit = ClampLimit(page.limit);
  int64_t before = kNoUpperBound;
  if (!page.after.empty()) {
    auto after = DecodeNumberCursor(page.after, "v");
    if (!after.ok()) return after.error();
    before = *after;
  }
  Stmt s(conn_,
         "SELECT " RAMPART_VERSION_COLUMNS
         " FROM workflow_versions WHERE org_id = ? AND workflow_id = ? AND version < ? "
         "ORDER BY version DESC LIMIT ?");
  s.Text(org_id).Text(workflow_id).Int(before).Int(limit + 1);
  return QueryPage<WorkflowVersion>(s, limit, ReadWorkflowVersion, [](const Stmt& row) {
    return "v." + std::to_string(row.ColInt(2));
  });
}

Status SqliteTx::InsertRun(const Run& r) {
  Stmt s(conn_,
         "INSERT INTO runs (org_id, id, workflow_id, version, status, input_json, trigger_json, "
         "record_json, error_code, actor, created_at, started_at, finished_at, attempts, "
         "cancel_requested, wake_at, workflow_generation) "
         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  return s.Text(r.org_id).Text(r.id).Text(r.workflow_id).Int(r.version).Text(r.status)
      .Text(r.input).Text(r.trigger).Text(r.record).Text(r.error_code).Text(r.actor)
      .Int(r.created_at).Int(r.started_at).Int(r.finished_at).Int(r.attempts)
      .Int(r.cancel_requested ? 1 : 0).Int(r.wake_at).Int(r.workflow_generation).Run();
}

Status SqliteTx::UpdateRun(const Run& r) {
  // The identity and what the run was started with (workflow, version, input, trigger,
  // actor, created_at) never change.
  Stmt s(conn_,
         "UPDATE runs SET status = ?, record_json = ?, error_code = ?, started_at = ?, "
         "finished_at = ?, attempts = ?, cancel_requested = ?, wake_at = ? "
         "WHERE org_id = ? AND id = ?");
  Status status = s.Text(r.status).Text(r.record).Text(r.error_code).Int(r.started_at)
                      .Int(r.finished_at).Int(r.attempts).Int(r.cancel_requested ? 1 : 0)
                      .Int(r.wake_at).Text(r.org_id).Text(r.id).Run();
  if (!status.ok()) return status;
  return ChangedOne(s, "run not found");
}

Result<std::optional<Run>> SqliteTx::GetRun(std::string_view org_id, std::string_view id) {
  Stmt s(conn_, "SELECT " RAMPART_RUN_COLUMNS " FROM runs WHERE id = ? AND org_id = ?");
  s.Text(id).Text(org_id);
  return QueryOne<Run>(s, ReadRun);
}

Result<Page<Run>> SqliteTx::ListRuns(std::string_view org_id, const RunFilter& filter,
                                     const PageRequest& page) {
  const int limit = ClampLimit(page.limit);
  int64_t before = kNoUpperBound;
  if (!page.after.empty()) {
    auto after = DecodeNumberCursor(page.after, "r");
    if (!after.ok()) return after.error();
    before = *after;
  }
  // One statement per filter combination, so each one has an index that serves both
  // the filter and the order. The visibility test probes two primary keys per run read
  // (workflows, then version 1 of a private one), so it needs no index of its own. A run
  // of another generation than its workflow row is a deleted workflow's of the same id
  // (owners only).
  static const std::array<std::string, 8> kSql = [] {
    std::array<std::string, 8> sql;
    for (size_t i = 0; i < sql.size(); ++i) {
      std::string& q = sql[i];
      q = "SELECT " RAMPART_RUN_COLUMNS " FROM runs r WHERE r.org_id = ?";
      if ((i & 1) != 0) q += " AND r.workflow_id = ?";
      if ((i & 2) != 0) q += " AND r.status = ?";
      q += " AND r.seq < ?";
      if ((i & 4) != 0) {
        q += " AND EXISTS (SELECT 1 FROM workflows w WHERE w.org_id = r.org_id AND "
             "w.id = r.workflow_id AND w.generation = r.workflow_generation AND (w.visibility <> 'private' OR EXISTS (SELECT 1 FROM "
             "workflow_versions v WHERE v.org_id = w.org_id AND v.workflow_id = w.id AND "
             "v.version = 1 AND v.created_by = ?)))";
      }
      q += " ORDER BY r.seq DESC LIMIT ?";
    }
    return sql;
  }();
  const bool by_workflow = !filter.workflow_id.empty();
  const bool by_status = !filter.status.empty();
  const bool by_visibility = filter.visible_to.has_value();
  Stmt s(conn_,
         kSql[(by_workflow ? 1 : 0) + (by_status ? 2 : 0) + (by_visibility ? 4 : 0)].c_str());
  s.Text(org_id);
  if (by_workflow) s.Text(filter.workflow_id);
  if (by_status) s.Text(filter.status);
  s.Int(before);
  if (by_visibility) s.Text(*filter.visible_to);
  s.Int(limit + 1);
  return QueryPage<Run>(s, limit, ReadRun,
                        [](const Stmt& row) { return "r." + std::to_string(row.ColInt(0)); });
}

// Queued, running and awaiting_approval runs have finished_at = 0 (migration 16): those
// statuses are listed and counted from the partial index runs_unfinished, whose condition
// the statements state word for word (SQLite only uses a partial index whose condition the
// query implies). Final statuses (tests, tools) read the table.
const char* const kUnfinishedRunsSqlForTest =
    "SELECT " RAMPART_RUN_COLUMNS " FROM runs WHERE finished_at = 0 AND status = ? "
    "ORDER BY seq LIMIT ?";
const char* const kCountUnfinishedRunsSqlForTest =
    "SELECT count(*) FROM runs WHERE finished_at = 0 AND status = ?";

Result<std::vector<Run>> SqliteTx::ListRunsByStatus(std::string_view status, int limit) {
  if (limit <= 0) return std::vector<Run>();
  Stmt s(conn_, !IsFinalRunStatus(status)
                    ? kUnfinishedRunsSqlForTest
                    : "SELECT " RAMPART_RUN_COLUMNS
                      " FROM runs WHERE status = ? ORDER BY seq LIMIT ?");
  s.Text(status).Int(limit);
  return QueryAll<Run>(s, ReadRun);
}

// Reads the partial index runs_to_wake (migration 6: its condition stated), the due runs
// only, in wake_at order.
const char* const kRunsToWakeSqlForTest =
    "SELECT " RAMPART_RUN_COLUMNS
    " FROM runs WHERE wake_at > 0 AND wake_at <= ? AND status = 'awaiting_approval' "
    "ORDER BY wake_at LIMIT ?";

Result<std::vector<Run>> SqliteTx::ListRunsToWake(Millis now, int limit) {
  if (limit <= 0) return std::vector<Run>();
  Stmt s(conn_, kRunsToWakeSqlForTest);
  s.Int(now).Int(limit);
  return QueryAll<Run>(s, ReadRun);
}

Result<int64_t> SqliteTx::CountRunsByStatus(std::string_view status) {
  Stmt s(conn_, !IsFinalRunStatus(status) ? kCountUnfinishedRunsSqlForTest
                                           : "SELECT count(*) FROM runs WHERE status = ?");
  s.Text(status);
  return QueryCount(s);
}

Result<int64_t> SqliteTx::CountRuns(std::string_view org_id) {
  // Covered by runs_by_org (org_id, seq): the index is counted, no run row is read.
  Stmt s(conn_, "SELECT count(*) FROM runs WHERE org_id = ?");
  s.Text(org_id);
  return QueryCount(s);
}

Result<AuditEvent> SqliteTx::AppendAudit(AuditEvent event) {
  if (!audit_.head) {
    // The chain continues from the newer of the last row and the recorded head. They
    // agree unless someone tampered with the table; continuing from the head then keeps
    // the evidence (a gap or broken link at the next event) instead of papering over a
    // deleted tail. Read once per transaction: nobody else writes while it is open.
    audit::ChainHead head{0, audit::kGenesisHash};
    {
      Stmt s(conn_, "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1");
      auto row = s.Step();
      if (!row.ok()) return row.error();
      if (*row) {
        head.seq = s.ColInt(0);
        head.hash = s.ColText(1);
      }
    }
    auto head_text = GetSetting(audit::kHeadSettingKey);
    if (!head_text.ok()) return head_text.error();
    if (head_text->has_value()) {
      auto recorded = audit::ParseHead(**head_text);
      if (recorded && recorded->seq >= head.seq) head = std::move(*recorded);
    }
    audit_.head = std::move(head);
  }
  event.seq = audit_.head->seq + 1;
  event.prev_hash = audit_.head->hash;
  event.hash = audit::EventHash(event);
  {
    Stmt s(conn_, "INSERT INTO audit_events (" RAMPART_AUDIT_COLUMNS
                  ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    Status status = s.Int(event.seq).Int(event.time).Text(event.org_id).Text(event.actor)
                        .Text(event.action).Text(event.target).Text(event.outcome)
                        .Text(event.source_ip).Text(event.user_agent).Text(event.details)
                        .Text(event.prev_hash).Text(event.hash).Run();
    if (!status.ok()) return status.error();
  }
  audit_.head = audit::ChainHead{event.seq, event.hash};
  audit_.dirty = true;
  return event;
}

Status SqliteTx::FinishTransaction() {
  if (!audit_.dirty) return Status::Ok();
  Status status = PutSetting(audit::kHeadSettingKey, audit::FormatHead(*audit_.head));
  if (status.ok()) audit_.dirty = false;
  return status;
}

Result<std::vector<AuditEvent>> SqliteTx::ListAudit(std::string_view org_id, int64_t after_seq,
                                                    int limit) {
  if (limit <= 0) return std::vector<AuditEvent>();
  Stmt s(conn_, "SELECT " RAMPART_AUDIT_COLUMNS
                " FROM audit_events WHERE org_id = ? AND seq > ? ORDER BY seq LIMIT ?");
  s.Text(org_id).Int(after_seq).Int(limit);
  return QueryAll<AuditEvent>(s, ReadAudit);
}

Result<std::vector<AuditEvent>> SqliteTx::ListAllAudit(int64_t after_seq, int limit) {
  if (limit <= 0) return std::vector<AuditEvent>();
  Stmt s(conn_,
         "SELECT " RAMPART_AUDIT_COLUMNS " FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?");
  s.Int(after_seq).Int(limit);
  return QueryAll<AuditEvent>(s, ReadAudit);
}

Result<int64_t> SqliteTx::AuditHeadSeq() {
  Stmt s(conn_, "SELECT COALESCE(MAX(seq), 0) FROM audit_events");
  auto head = QueryOne<int64_t>(s, [](const Stmt& row) { return row.ColInt(0); });
  if (!head.ok()) return head.error();
  return head->value_or(0);
}

Result<int64_t> SqliteTx::GetAuditForwardedSeq(std::string_view destination) {
  Stmt s(conn_, "SELECT forwarded_seq FROM audit_forward_state WHERE destination = ?");
  s.Text(destination);
  auto seq = QueryOne<int64_t>(s, [](const Stmt& row) { return row.ColInt(0); });
  if (!seq.ok()) return seq.error();
  return seq->value_or(0);
}

Status SqliteTx::AdvanceAuditForwardedSeq(std::string_view destination, int64_t seq, Millis now) {
  Stmt s(conn_,
         "INSERT INTO audit_forward_state (destination, forwarded_seq, updated_at) "
         "VALUES (?, ?, ?) ON CONFLICT (destination) DO UPDATE SET "
         "forwarded_seq = MAX(forwarded_seq, excluded.forwarded_seq), "
         "updated_at = excluded.updated_at");
  return s.Text(destination).Int(seq).Int(now).Run();
}

Result<int64_t> SqliteTx::DeleteAuditThrough(int64_t through_seq) {
  // The trigger audit_events_no_delete aborts the statement (and so deletes nothing)
  // when an event past the recorded checkpoint would go.
  Stmt s(conn_, "DELETE FROM audit_events WHERE seq <= ?");
  Status status = s.Int(through_seq).Run();
  if (!status.ok()) return status.error();
  return s.Changes();
}

// ---- Data keys and connectors -----------------------------------------------------------

namespace {

#define RAMPART_CONNECTOR_COLUMNS                                                     \
  "org_id, id, type, options_json, allowed_workflows_json, egress_json, created_at, "   \
  "updated_at, rotated_at, rotate_every_days"
#define RAMPART_SECRET_COLUMNS \
  "org_id, connector_id, field, sealed, key_version, updated_at"

constexpr int64_t kMillisPerDay = 86400000;

Connector ReadConnector(const Stmt& s) {
  Connector c;
  c.org_id = s.ColText(0);
  c.id = s.ColText(1);
  c.type = s.ColText(2);
  c.options = s.ColText(3);
  c.allowed_workflows = s.ColText(4);
  c.egress = s.ColText(5);
  c.created_at = s.ColInt(6);
  c.updated_at = s.ColInt(7);
  c.rotated_at = s.ColOptInt(8);
  c.rotate_every_days = static_cast<int>(s.ColInt(9));
  return c;
}

ConnectorSecret ReadSecret(const Stmt& s) {
  return ConnectorSecret{s.ColText(0), s.ColText(1), s.ColText(2),
                         s.ColBlob(3), s.ColInt(4),  s.ColInt(5)};
}

#define RAMPART_DATA_KEY_COLUMNS "org_id, version, wrapped, created_at, kek_id"

DataKey ReadDataKey(const Stmt& row) {
  return DataKey{row.ColText(0), row.ColInt(1), row.ColBlob(2), row.ColInt(3),
                 row.ColText(4)};  // NULL reads as ""
}

}  // namespace

Status SqliteTx::InsertDataKey(const DataKey& key) {
  // "" is stored as NULL, like the rows from before schema 8.
  Stmt s(conn_, "INSERT INTO data_keys (" RAMPART_DATA_KEY_COLUMNS
                ") VALUES (?, ?, ?, ?, NULLIF(?, ''))");
  return s.Text(key.org_id)
      .Int(key.version)
      .Blob(key.wrapped)
      .Int(key.created_at)
      .Text(key.kek_id)
      .Run();
}

Result<std::vector<DataKey>> SqliteTx::ListDataKeys(std::string_view org_id) {
  Stmt s(conn_, "SELECT " RAMPART_DATA_KEY_COLUMNS " FROM data_keys WHERE org_id = ? "
                "ORDER BY version");
  s.Text(org_id);
  return QueryAll<DataKey>(s, ReadDataKey);
}

Result<std::vector<DataKey>> SqliteTx::ListDataKeysNotWrappedBy(std::string_view kek_id,
                                                                int limit) {
  if (limit <= 0) return std::vector<DataKey>();
  Stmt s(conn_, "SELECT " RAMPART_DATA_KEY_COLUMNS " FROM data_keys "
                "WHERE kek_id IS NULL OR kek_id != ? ORDER BY org_id, version LIMIT ?");
  s.Text(kek_id).Int(limit);
  return QueryAll<DataKey>(s, ReadDataKey);
}

Status SqliteTx::UpdateDataKeyWrapping(const DataKey& key) {
  Stmt s(conn_,
         "UPDATE data_keys SET wrapped = ?, kek_id = NULLIF(?, '') "
         "WHERE org_id = ? AND version = ?");
  s.Blob(key.wrapped).Text(key.kek_id).Text(key.org_id).Int(key.version);
  if (Status st = s.Run(); !st.ok()) return st;
  return ChangedOne(s, "data key not found");
}

Result<std::vector<std::string>> SqliteTx::ListOrgIds() {
  Stmt s(conn_, "SELECT id FROM orgs ORDER BY id");
  return QueryAll<std::string>(s, [](const Stmt& row) { return row.ColText(0); });
}

// By the primary key (org_id, id): an index search (QuotaCountsAreIndexSearches in sqlite_store_test).
Result<int64_t> SqliteTx::CountConnectors(std::string_view org_id) {
  Stmt s(conn_, kCountConnectorsSql);
  s.Text(org_id);
  return QueryCount(s);
}

Status SqliteTx::InsertConnector(const Connector& c) {
  Stmt s(conn_, "INSERT INTO connectors (" RAMPART_CONNECTOR_COLUMNS
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  return s.Text(c.org_id).Text(c.id).Text(c.type).Text(c.options).Text(c.allowed_workflows)
      .Text(c.egress).Int(c.created_at).Int(c.updated_at).OptInt(c.rotated_at)
      .Int(c.rotate_every_days).Run();
}

Status SqliteTx::UpdateConnector(const Connector& c) {
  Stmt s(conn_,
         "UPDATE connectors SET options_json = ?, allowed_workflows_json = ?, egress_json = ?, "
         "updated_at = ?, rotated_at = ?, rotate_every_days = ? WHERE org_id = ? AND id = ?");
  Status status = s.Text(c.options).Text(c.allowed_workflows).Text(c.egress).Int(c.updated_at)
                      .OptInt(c.rotated_at).Int(c.rotate_every_days).Text(c.org_id).Text(c.id)
                      .Run();
  if (!status.ok()) return status;
  return ChangedOne(s, "connector not found");
}

Result<std::optional<Connector>> SqliteTx::GetConnector(std::string_view org_id,
                                                        std::string_view id) {
  Stmt s(conn_,
         "SELECT " RAMPART_CONNECTOR_COLUMNS " FROM connectors WHERE org_id = ? AND id = ?");
  s.Text(org_id).Text(id);
  return QueryOne<Connector>(s, ReadConnector);
}

Result<Page<Connector>> SqliteTx::ListConnectors(std::string_view org_id,
                                                 const ConnectorFilter& filter,
                                                 const PageRequest& page) {
  const int limit = ClampLimit(page.limit);
  std::string after;
  if (!page.after.empty()) {
    auto decoded = DecodeTextCursor(page.after, "c");
    if (!decoded.ok()) return decoded.error();
    after = std::move(decoded).value();
  }
  // "" sorts before every id, so the first page needs no separate statement. Due: a
  // rotation policy whose period has passed since the last rotation (or the creation).
  static constexpr const char* kSql[2] = {
      "SELECT " RAMPART_CONNECTOR_COLUMNS
      " FROM connectors WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?",
      "SELECT " RAMPART_CONNECTOR_COLUMNS
      " FROM connectors WHERE org_id = ? AND id > ? AND rotate_every_days > 0 AND "
      "coalesce(rotated_at, created_at) + rotate_every_days * ? <= ? ORDER BY id LIMIT ?",
  };
  Stmt s(conn_, kSql[filter.due_only ? 1 : 0]);
  s.Text(org_id).Text(after);
  if (filter.due_only) s.Int(kMillisPerDay).Int(filter.now);
  s.Int(limit + 1);
  return QueryPage<Connector>(s, limit, ReadConnector,
                              [](const Stmt& row) { return "c." + HexEncode(row.ColText(1)); });
}

Result<bool> SqliteTx::DeleteConnector(std::string_view org_id, std::string_view id) {
  // Secrets go with it (ON DELETE CASCADE).
  Stmt s(conn_, "DELETE FROM connectors WHERE org_id = ? AND id = ?");
  Status status = s.Text(org_id).Text(id).Run();
  if (!status.ok()) return status.error();
  return s.Changes() > 0;
}

Status SqliteTx::PutConnectorSecret(const ConnectorSecret& secret) {
  Stmt s(conn_,
         "INSERT INTO connector_secrets (" RAMPART_SECRET_COLUMNS
         ") VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, connector_id, field) DO UPDATE SET "
         "sealed = excluded.sealed, key_version = excluded.key_version, "
         "updated_at = excluded.updated_at");
  return s.Text(secret.org_id).Text(secret.connector_id).Text(secret.field).Blob(secret.sealed)
      .Int(secret.key_version).Int(secret.updated_at).Run();
}

Result<std::vector<ConnectorSecret>> SqliteTx::ListConnectorSecrets(
    std::string_view org_id, std::string_view connector_id) {
  Stmt s(conn_, "SELECT " RAMPART_SECRET_COLUMNS
                " FROM connector_secrets WHERE org_id = ? AND connector_id = ? ORDER BY field");
  s.Text(org_id).Text(connector_id);
  return QueryAll<ConnectorSecret>(s, ReadSecret);
}

Result<std::vector<ConnectorSecret>> SqliteTx::ListSecretsBelowVersion(std::string_view org_id,
                                                                       int64_t version,
                                                                       int limit) {
  if (limit <= 0) return std::vector<ConnectorSecret>();
  Stmt s(conn_, "SELECT " RAMPART_SECRET_COLUMNS
                " FROM connector_secrets WHERE org_id = ? AND key_version < ? "
                "ORDER BY key_version, connector_id, field LIMIT ?");
  s.Text(org_id).Int(version).Int(limit);
  return QueryAll<ConnectorSecret>(s, ReadSecret);
}

// ---- Webhooks ----------------------------------------------------------------------------

namespace {

#define RAMPART_WEBHOOK_COLUMNS \
  "org_id, id, workflow_id, token_hash, created_at, rotated_at, use_count, last_used_at"

Webhook ReadWebhook(const Stmt& s) {
  Webhook w;
  w.org_id = s.ColText(0);
  w.id = s.ColText(1);
  w.workflow_id = s.ColText(2);
  w.token_hash = s.ColText(3);
  w.created_at = s.ColInt(4);
  w.rotated_at = s.ColOptInt(5);
  w.use_count = s.ColInt(6);
  w.last_used_at = s.ColOptInt(7);
  return w;
}

}  // namespace

Status SqliteTx::InsertWebhook(const Webhook& w) {
  Stmt s(conn_, "INSERT INTO webhooks (" RAMPART_WEBHOOK_COLUMNS
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  return s.Text(w.org_id).Text(w.id).Text(w.workflow_id).Text(w.token_hash).Int(w.created_at)
      .OptInt(w.rotated_at).Int(w.use_count).OptInt(w.last_used_at).Run();
}

Result<std::optional<Webhook>> SqliteTx::GetWebhookByTokenHash(std::string_view token_hash) {
  Stmt s(conn_, "SELECT " RAMPART_WEBHOOK_COLUMNS " FROM webhooks WHERE token_hash = ?");
  s.Text(token_hash);
  return QueryOne<Webhook>(s, ReadWebhook);
}

Result<std::optional<Webhook>> SqliteTx::GetWebhook(std::string_view org_id,
                                                    std::string_view id) {
  Stmt s(conn_, "SELECT " RAMPART_WEBHOOK_COLUMNS " FROM webhooks WHERE org_id = ? AND id = ?");
  s.Text(org_id).Text(id);
  return QueryOne<Webhook>(s, ReadWebhook);
}

Result<Page<Webhook>> SqliteTx::ListWebhooks(std::string_view org_id,
                                             std::string_view workflow_id,
                                             const PageRequest& page) {
  const int limit = ClampLimit(page.limit);
  std::string after;
  if (!page.after.empty()) {
    auto decoded = DecodeTextCursor(page.after, "h");
    if (!decoded.ok()) return decoded.error();
    after = std::move(decoded).value();
  }
  Stmt s(conn_, "SELECT " RAMPART_WEBHOOK_COLUMNS
                " FROM webhooks WHERE org_id = ? AND workflow_id = ? AND id > ? ORDER BY id "
                "LIMIT ?");
  s.Text(org_id).Text(workflow_id).Text(after).Int(limit + 1);
  return QueryPage<Webhook>(s, limit, ReadWebhook,
                            [](const Stmt& row) { return "h." + HexEncode(row.ColText(1)); });
}

Status SqliteTx::RotateWebhook(std::string_view org_id, std::string_view id,
                               std::string_view token_hash, Millis now) {
  Stmt s(conn_, "UPDATE webhooks SET token_hash = ?, rotated_at = ? WHERE org_id = ? AND id = ?");
  Status status = s.Text(token_hash).Int(now).Text(org_id).Text(id).Run();
  if (!status.ok()) return status;
  return ChangedOne(s, "webhook not found");
}

Result<bool> SqliteTx::DeleteWebhook(std::string_view org_id, std::string_view id) {
  // Delivery ids go with it (ON DELETE CASCADE).
  Stmt s(conn_, "DELETE FROM webhooks WHERE org_id = ? AND id = ?");
  Status status = s.Text(org_id).Text(id).Run();
  if (!status.ok()) return status.error();
  return s.Changes() > 0;
}

Status SqliteTx::TouchWebhook(std::string_view org_id, std::string_view id, Millis now) {
  Stmt s(conn_,
         "UPDATE webhooks SET use_count = use_count + 1, last_used_at = ? "
         "WHERE org_id = ? AND id = ?");
  return s.Int(now).Text(org_id).Text(id).Run();
}

Result<bool> SqliteTx::WebhookDeliverySeen(std::string_view org_id, std::string_view hook_id,
                                           std::string_view delivery_id) {
  Stmt s(conn_,
         "SELECT 1 FROM webhook_deliveries WHERE org_id = ? AND hook_id = ? AND delivery_id = ?");
  s.Text(org_id).Text(hook_id).Text(delivery_id);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  return *row;
}

Result<bool> SqliteTx::RecordWebhookDelivery(std::string_view org_id, std::string_view hook_id,
                                             std::string_view delivery_id, Millis now,
                                             std::string_view run_id) {
  if (run_id.empty()) return MakeError(ErrorCode::kInvalidArgument, "delivery without a run");
  // The primary key decides between concurrent deliveries of the same id: exactly one
  // insert changes a row. The run id is stored in the same statement: a later UPDATE
  // would seek the same random leaf a second time.
  Stmt s(conn_,
         "INSERT INTO webhook_deliveries (org_id, hook_id, delivery_id, seen_at, run_id) "
         "VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, hook_id, delivery_id) DO NOTHING");
  Status status = s.Text(org_id).Text(hook_id).Text(delivery_id).Int(now).Text(run_id).Run();
  if (!status.ok()) return status.error();
  return s.Changes() > 0;
}

Result<int64_t> SqliteTx::PruneWebhookDeliveries(Millis before, int limit) {
  if (limit <= 0) return int64_t{0};
  Stmt s(conn_,
         "DELETE FROM webhook_deliveries WHERE (org_id, hook_id, delivery_id) IN ("
         "SELECT org_id, hook_id, delivery_id FROM webhook_deliveries WHERE seen_at < ? "
         "LIMIT ?)");
  Status status = s.Int(before).Int(limit).Run();
  if (!status.ok()) return status.error();
  return s.Changes();
}

// ---- Idempotency keys of run starts --------------------------------------------------

Result<std::optional<RunIdempotencyKey>> SqliteTx::GetRunIdempotencyKey(
    std::string_view org_id, std::string_view principal, std::string_view key) {
  Stmt s(conn_,
         "SELECT request_hash, run_id, created_at FROM run_idempotency_keys "
         "WHERE org_id = ? AND principal = ? AND idem_key = ?");
  s.Text(org_id).Text(principal).Text(key);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  if (!*row) return std::optional<RunIdempotencyKey>();
  RunIdempotencyKey k;
  k.org_id = std::string(org_id);
  k.principal = std::string(principal);
  k.key = std::string(key);
  k.request_hash = s.ColText(0);
  k.run_id = s.ColText(1);
  k.created_at = s.ColInt(2);
  return std::optional<RunIdempotencyKey>(std::move(k));
}

Result<bool> SqliteTx::ClaimRunIdempotencyKey(const RunIdempotencyKey& key,
                                              Millis replace_before) {
  if (key.run_id.empty()) return MakeError(ErrorCode::kInvalidArgument, "key without a run");
  // The primary key decides between concurrent first uses: exactly one statement changes
  // a row. An expired key is taken over by the same statement (the UPSERT's WHERE).
  Stmt s(conn_,
         "INSERT INTO run_idempotency_keys "
         "(org_id, principal, idem_key, request_hash, run_id, created_at) "
         "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (org_id, principal, idem_key) DO UPDATE SET "
         "request_hash = excluded.request_hash, run_id = excluded.run_id, "
         "created_at = excluded.created_at WHERE run_idempotency_keys.created_at < ?");
  Status status = s.Text(key.org_id)
                      .Text(key.principal)
                      .Text(key.key)
                      .Text(key.request_hash)
                      .Text(key.run_id)
                      .Int(key.created_at)
                      .Int(replace_before)
                      .Run();
  if (!status.ok()) return status.error();
  return s.Changes() > 0;
}

Result<int64_t> SqliteTx::PruneRunIdempotencyKeys(Millis before, int limit) {
  if (limit <= 0) return int64_t{0};
  Stmt s(conn_,
         "DELETE FROM run_idempotency_keys WHERE (org_id, principal, idem_key) IN ("
         "SELECT org_id, principal, idem_key FROM run_idempotency_keys WHERE created_at < ? "
         "LIMIT ?)");
  Status status = s.Int(before).Int(limit).Run();
  if (!status.ok()) return status.error();
  return s.Changes();
}

// ---- Outbound hook deliveries --------------------------------------------------------

#define RAMPART_HOOK_DELIVERY_COLUMNS                                                       \
  "org_id, id, run_id, workflow_id, url, secret, event, payload, status, attempts, "       \
  "next_attempt_at, created_at, updated_at"

namespace {

HookDelivery ReadHookDelivery(const Stmt& s) {
  HookDelivery d;
  d.org_id = s.ColText(0);
  d.id = s.ColText(1);
  d.run_id = s.ColText(2);
  d.workflow_id = s.ColText(3);
  d.url = s.ColText(4);
  d.secret = s.ColText(5);
  d.event = s.ColText(6);
  d.payload = s.ColText(7);
  d.status = s.ColText(8);
  d.attempts = static_cast<int>(s.ColInt(9));
  d.next_attempt_at = s.ColInt(10);
  d.created_at = s.ColInt(11);
  d.updated_at = s.ColInt(12);
  return d;
}

}  // namespace

Status SqliteTx::InsertHookDelivery(const HookDelivery& d) {
  Stmt s(conn_, "INSERT INTO hook_deliveries (" RAMPART_HOOK_DELIVERY_COLUMNS
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  return s.Text(d.org_id)
      .Text(d.id)
      .Text(d.run_id)
      .Text(d.workflow_id)
      .Text(d.url)
      .Text(d.secret)
      .Text(d.event)
      .Text(d.payload)
      .Text(d.status)
      .Int(d.attempts)
      .Int(d.next_attempt_at)
      .Int(d.created_at)
      .Int(d.updated_at)
      .Run();
}

Status SqliteTx::UpdateHookDelivery(const HookDelivery& d) {
  Stmt s(conn_,
         "UPDATE hook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, "
         "updated_at = ? WHERE org_id = ? AND id = ?");
  Status status = s.Text(d.status)
                      .Int(d.attempts)
                      .Int(d.next_attempt_at)
                      .Int(d.updated_at)
                      .Text(d.org_id)
                      .Text(d.id)
                      .Run();
  if (!status.ok()) return status;
  return ChangedOne(s, "hook delivery not found");
}

Result<std::optional<HookDelivery>> SqliteTx::GetHookDelivery(std::string_view org_id,
                                                              std::string_view id) {
  Stmt s(conn_, "SELECT " RAMPART_HOOK_DELIVERY_COLUMNS
                " FROM hook_deliveries WHERE org_id = ? AND id = ?");
  s.Text(org_id).Text(id);
  return QueryOne<HookDelivery>(s, ReadHookDelivery);
}

Result<std::vector<HookDelivery>> SqliteTx::ListHookDeliveriesOfRun(std::string_view org_id,
                                                                    std::string_view run_id) {
  Stmt s(conn_, "SELECT " RAMPART_HOOK_DELIVERY_COLUMNS
                " FROM hook_deliveries WHERE org_id = ? AND run_id = ? "
                "ORDER BY created_at, id LIMIT 100");
  s.Text(org_id).Text(run_id);
  return QueryAll<HookDelivery>(s, ReadHookDelivery);
}

Result<std::vector<HookDelivery>> SqliteTx::ListDueHookDeliveries(Millis now, int limit) {
  Stmt s(conn_, "SELECT " RAMPART_HOOK_DELIVERY_COLUMNS
                " FROM hook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at LIMIT ?");
  s.Int(now).Int(std::clamp(limit, 1, 1000));
  return QueryAll<HookDelivery>(s, ReadHookDelivery);
}

Status SqliteTx::InsertHookAttempt(const HookAttempt& a) {
  Stmt s(conn_,
         "INSERT INTO hook_attempts (org_id, delivery_id, attempt, time, status_code, "
         "latency_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?)");
  return s.Text(a.org_id)
      .Text(a.delivery_id)
      .Int(a.attempt)
      .Int(a.time)
      .Int(a.status_code)
      .Int(a.latency_ms)
      .Text(a.error)
      .Run();
}

Result<std::vector<HookAttempt>> SqliteTx::ListHookAttempts(std::string_view org_id,
                                                            std::string_view delivery_id) {
  Stmt s(conn_,
         "SELECT org_id, delivery_id, attempt, time, status_code, latency_ms, error "
         "FROM hook_attempts WHERE org_id = ? AND delivery_id = ? ORDER BY attempt");
  s.Text(org_id).Text(delivery_id);
  return QueryAll<HookAttempt>(s, [](const Stmt& row) {
    HookAttempt a;
    a.org_id = row.ColText(0);
    a.delivery_id = row.ColText(1);
    a.attempt = static_cast<int>(row.ColInt(2));
    a.time = row.ColInt(3);
    a.status_code = static_cast<int>(row.ColInt(4));
    a.latency_ms = row.ColInt(5);
    a.error = row.ColText(6);
    return a;
  });
}

Status SqliteTx::SetHookEndpointDisabled(std::string_view org_id, std::string_view workflow_id,
                                         std::string_view url, bool disabled, Millis now) {
  if (!disabled) {
    Stmt s(conn_,
           "DELETE FROM hook_endpoints_disabled WHERE org_id = ? AND workflow_id = ? AND url = ?");
    return s.Text(org_id).Text(workflow_id).Text(url).Run();
  }
  Stmt s(conn_,
         "INSERT INTO hook_endpoints_disabled (org_id, workflow_id, url, disabled_at) "
         "VALUES (?, ?, ?, ?) ON CONFLICT (org_id, workflow_id, url) DO NOTHING");
  return s.Text(org_id).Text(workflow_id).Text(url).Int(now).Run();
}

Result<bool> SqliteTx::HookEndpointDisabled(std::string_view org_id,
                                            std::string_view workflow_id, std::string_view url) {
  Stmt s(conn_,
         "SELECT 1 FROM hook_endpoints_disabled WHERE org_id = ? AND workflow_id = ? AND url = ?");
  s.Text(org_id).Text(workflow_id).Text(url);
  auto row = s.Step();
  if (!row.ok()) return row.error();
  return *row;
}

Result<std::vector<LiveWorkflow>> SqliteTx::ListScheduledWorkflows(std::string_view after_org,
                                                                   std::string_view after_id,
                                                                   int limit) {
  // The partial index workflows_scheduled (migration 18) holds these rows only.
  Stmt s(conn_,
         "SELECT org_id, id, live_version, generation FROM workflows "
         "WHERE scheduled = 1 AND live_version > 0 AND (org_id, id) > (?, ?) "
         "ORDER BY org_id, id LIMIT ?");
  s.Text(after_org).Text(after_id).Int(limit);
  return QueryAll<LiveWorkflow>(s, [](const Stmt& row) {
    return LiveWorkflow{row.ColText(0), row.ColText(1), static_cast<int>(row.ColInt(2)),
                        row.ColInt(3)};
  });
}

Result<std::optional<Millis>> SqliteTx::GetScheduleLastFired(std::string_view org_id,
                                                            std::string_view workflow_id) {
  Stmt s(conn_, "SELECT last_fired_at FROM schedule_state WHERE org_id = ? AND workflow_id = ?");
  s.Text(org_id).Text(workflow_id);
  return QueryOne<Millis>(s, [](const Stmt& row) { return row.ColInt(0); });
}

Status SqliteTx::PutScheduleLastFired(std::string_view org_id, std::string_view workflow_id,
                                      Millis last_fired_at) {
  Stmt s(conn_,
         "INSERT INTO schedule_state (org_id, workflow_id, last_fired_at) VALUES (?, ?, ?) "
         "ON CONFLICT (org_id, workflow_id) DO UPDATE SET last_fired_at = excluded.last_fired_at");
  return s.Text(org_id).Text(workflow_id).Int(last_fired_at).Run();
}

Result<std::optional<std::string>> SqliteTx::GetSetting(std::string_view key) {
  Stmt s(conn_, "SELECT value FROM settings WHERE key = ?");
  s.Text(key);
  return QueryOne<std::string>(s, [](const Stmt& row) { return row.ColText(0); });
}

Status SqliteTx::PutSetting(std::string_view key, std::string_view value) {
  Stmt s(conn_,
         "INSERT INTO settings (key, value) VALUES (?, ?) "
         "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  return s.Text(key).Text(value).Run();
}

Status SqliteTx::DeleteSetting(std::string_view key) {
  Stmt s(conn_, "DELETE FROM settings WHERE key = ?");
  return s.Text(key).Run();
}

// ---- Support grants -----------------------------------------------------------------------

namespace {

#define RAMPART_SUPPORT_GRANT_COLUMNS \
  "org_id, id, hash, created_by, reason, created_at, expires_at, revoked_at"

SupportGrant ReadSupportGrant(const Stmt& s) {
  return SupportGrant{s.ColText(0), s.ColText(1), s.ColText(2), s.ColText(3),
                      s.ColText(4), s.ColInt(5),  s.ColInt(6),  s.ColOptInt(7)};
}

}  // namespace

Status SqliteTx::InsertSupportGrant(const SupportGrant& g) {
  Stmt s(conn_, "INSERT INTO support_grants (" RAMPART_SUPPORT_GRANT_COLUMNS
                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  return s.Text(g.org_id).Text(g.id).Text(g.hash).Text(g.created_by).Text(g.reason)
      .Int(g.created_at).Int(g.expires_at).OptInt(g.revoked_at).Run();
}

Result<std::optional<SupportGrant>> SqliteTx::GetSupportGrantByHash(std::string_view hash) {
  Stmt s(conn_, "SELECT " RAMPART_SUPPORT_GRANT_COLUMNS " FROM support_grants WHERE hash = ?");
  s.Text(hash);
  return QueryOne<SupportGrant>(s, ReadSupportGrant);
}

Result<std::optional<SupportGrant>> SqliteTx::GetSupportGrant(std::string_view org_id,
                                                              std::string_view id) {
  Stmt s(conn_, "SELECT " RAMPART_SUPPORT_GRANT_COLUMNS
                " FROM support_grants WHERE org_id = ? AND id = ?");
  s.Text(org_id).Text(id);
  return QueryOne<SupportGrant>(s, ReadSupportGrant);
}

Result<Page<SupportGrant>> SqliteTx::ListSupportGrants(std::string_view org_id,
                                                       const PageRequest& page) {
  const int limit = ClampLimit(page.limit);
  auto cursor = [](const Stmt& s) {
    return "g." + std::to_string(s.ColInt(5)) + "." + HexEncode(s.ColText(1));
  };
  if (page.after.empty()) {
    Stmt s(conn_, "SELECT " RAMPART_SUPPORT_GRANT_COLUMNS
                  " FROM support_grants WHERE org_id = ? ORDER BY created_at, id LIMIT ?");
    s.Text(org_id).Int(limit + 1);
    return QueryPage<SupportGrant>(s, limit, ReadSupportGrant, cursor);
  }
  auto body = CursorBody(page.after, "g");
  if (!body) return InvalidCursor();
  const size_t dot = body->find('.');
  if (dot == std::string_view::npos) return InvalidCursor();
  auto created_at = ParseInt(body->substr(0, dot));
  auto id = HexDecode(body->substr(dot + 1));
  if (!created_at || !id) return InvalidCursor();
  Stmt s(conn_, "SELECT " RAMPART_SUPPORT_GRANT_COLUMNS
                " FROM support_grants WHERE org_id = ? AND (created_at, id) > (?, ?) "
                "ORDER BY created_at, id LIMIT ?");
  s.Text(org_id).Int(*created_at).Text(*id).Int(limit + 1);
  return QueryPage<SupportGrant>(s, limit, ReadSupportGrant, cursor);
}

Result<int64_t> SqliteTx::CountActiveSupportGrants(std::string_view org_id, Millis now) {
  Stmt s(conn_, "SELECT count(*) FROM support_grants WHERE org_id = ? AND revoked_at IS NULL "
                "AND expires_at > ?");
  s.Text(org_id).Int(now);
  return QueryCount(s);
}

Result<bool> SqliteTx::RevokeSupportGrant(std::string_view org_id, std::string_view id,
                                          Millis now) {
  Stmt s(conn_, "UPDATE support_grants SET revoked_at = ? "
                "WHERE org_id = ? AND id = ? AND revoked_at IS NULL");
  Status status = s.Int(now).Text(org_id).Text(id).Run();
  if (!status.ok()) return status.error();
  return s.Changes() > 0;
}

// The WHERE repeats the partial index's condition word for word (runs_final_by_finished,
// migration 11: finished_at > 0): SQLite only uses a partial index whose condition the
// query states. The index is named (INDEXED BY): without statistics the planner could pick
// another index, read every final run and sort them; named, the statement fails to
// prepare rather than fall back to a scan. The status is checked on the row as well.
#define RAMPART_PURGEABLE_RUNS_SQL                                                       \
  "SELECT org_id, id FROM runs INDEXED BY runs_final_by_finished "                       \
  "WHERE finished_at > 0 AND finished_at < ? "                                            \
  "AND status IN ('succeeded', 'failed', 'cancelled') ORDER BY finished_at LIMIT ?"

const char* const kPurgeableRunsSqlForTest = RAMPART_PURGEABLE_RUNS_SQL;

Result<std::vector<std::pair<std::string, int64_t>>> SqliteTx::PurgeFinishedRuns(Millis before,
                                                                                 int limit) {
  std::vector<std::pair<std::string, int64_t>> counts;
  if (limit <= 0) return counts;
  std::vector<std::pair<std::string, std::string>> due;  // (org id, run id)
  {
    Stmt s(conn_, RAMPART_PURGEABLE_RUNS_SQL);
    s.Int(before).Int(limit);
    auto rows = QueryAll<std::pair<std::string, std::string>>(
        s, [](const Stmt& row) { return std::make_pair(row.ColText(0), row.ColText(1)); });
    if (!rows.ok()) return rows.error();
    due = std::move(rows).value();
  }
  std::map<std::string, int64_t> per_org;
  for (const auto& [org_id, run_id] : due) {
    // hook_attempts follow their delivery (ON DELETE CASCADE); hook_deliveries_by_run.
    Stmt hooks(conn_, "DELETE FROM hook_deliveries WHERE org_id = ? AND run_id = ?");
    if (Status st = hooks.Text(org_id).Text(run_id).Run(); !st.ok()) return st.error();
    Stmt run(conn_, "DELETE FROM runs WHERE id = ? AND org_id = ?");
    if (Status st = run.Text(run_id).Text(org_id).Run(); !st.ok()) return st.error();
    per_org[org_id] += run.Changes();
  }
  for (auto& [org_id, n] : per_org) {
    if (n > 0) counts.emplace_back(org_id, n);
  }
  return counts;
}

Result<std::vector<std::pair<std::string, int64_t>>> SqliteTx::CountOrgRunsByStatus(
    std::string_view org_id) {
  // runs_by_org_status covers it: no run row is read.
  Stmt s(conn_, "SELECT status, count(*) FROM runs WHERE org_id = ? GROUP BY status "
                "ORDER BY status");
  s.Text(org_id);
  return QueryAll<std::pair<std::string, int64_t>>(
      s, [](const Stmt& row) { return std::make_pair(row.ColText(0), row.ColInt(1)); });
}

}  // namespace rampart::store
