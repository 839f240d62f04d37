#include "rampart/runs/retention.h"

#include <boost/json/object.hpp>
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "rampart/core/json.h"

namespace rampart::runs {

RunRetention::RunRetention(store::Store& store, Clock& clock, RetentionOptions options)
    : store_(store), clock_(clock), options_(std::move(options)), periodic_(options_.interval) {}

RunRetention::~RunRetention() { Stop(); }

void RunRetention::Start() {
  if (options_.retention_days <= 0) return;
  periodic_.Start([this] {
    auto swept = RunOnce();
    if (!swept.ok() && options_.on_error) options_.on_error(swept.error());
  });
}

void RunRetention::Stop() { periodic_.Stop(); }

Result<int64_t> RunRetention::RunOnce() {
  if (options_.retention_days <= 0) return int64_t{0};
  const auto now = clock_.Now();
  const auto cutoff = now - std::chrono::hours(24) * options_.retention_days;
  const store::Millis now_ms = UnixMillis(now);
  const store::Millis cutoff_ms = UnixMillis(cutoff);
  const std::string cutoff_text = FormatRfc3339(cutoff);
  const int batch = std::max(1, options_.batch);
  int64_t total = 0;
  for (;;) {
    if (periodic_.stopping()) break;
    int64_t deleted = 0;
    RunQuotaTicket ticket;
    auto sweep = [&](store::Tx& tx) -> Status {
      deleted = 0;
      ticket.Reset();
      auto purged = tx.PurgeFinishedRuns(cutoff_ms, batch);
      if (!purged.ok()) return purged.error();
      for (const auto& [org_id, count] : *purged) {
        store::AuditEvent event;
        event.time = now_ms;
        event.org_id = org_id;
        event.actor = "system";
        event.action = "runs.purged";
        event.outcome = "success";
        event.details = json::Serialize(
            boost::json::object{{"count", count}, {"cutoff", cutoff_text}});
        auto appended = tx.AppendAudit(std::move(event));
        if (!appended.ok()) return appended.error();
        deleted += count;
      }
      if (options_.quota != nullptr) {
        for (const auto& [org_id, count] : *purged) options_.quota->Deleted(org_id, count, &ticket);
      }
      return Status::Ok();
    };
    Status written =
        options_.quota == nullptr
            ? store_.Write(sweep)
            : WriteWithCompletion(store_, sweep, [&](const Status& status) {
                options_.quota->Complete(ticket, status);
              });
    if (!written.ok()) return written.error();
    total += deleted;
    if (deleted < batch) break;
  }
  return total;
}

}  // namespace rampart::runs
