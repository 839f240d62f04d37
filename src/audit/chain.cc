#include "rampart/audit/chain.h"

#include <string_view>

#include "rampart/crypto/crypto.h"

namespace rampart::audit {
namespace {

void AppendField(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
  out += '\n';
}

}  // namespace

std::string EventHash(const store::AuditEvent& event) {
  std::string canonical;
  canonical.reserve(256 + event.details.size());
  AppendField(canonical, "rampart-audit-v1");
  AppendField(canonical, event.prev_hash);
  AppendField(canonical, std::to_string(event.seq));
  AppendField(canonical, std::to_string(event.time));
  AppendField(canonical, event.org_id);
  AppendField(canonical, event.actor);
  AppendField(canonical, event.action);
  AppendField(canonical, event.target);
  AppendField(canonical, event.outcome);
  AppendField(canonical, event.source_ip);
  AppendField(canonical, event.user_agent);
  AppendField(canonical, event.details);
  return crypto::Sha256Hex(canonical);
}

Result<VerifyReport> Verify(store::Store& store) {
  VerifyReport report;
  std::string expected_prev = kGenesisHash;
  int64_t expected_seq = 1;
  int64_t after = 0;
  constexpr int kBatch = 1000;
  while (true) {
    std::vector<store::AuditEvent> batch;
    Status status = store.Read([&](store::Tx& tx) -> Status {
      auto events = tx.ListAllAudit(after, kBatch);
      if (!events.ok()) return events.error();
      batch = std::move(events).value();
      return Status::Ok();
    });
    if (!status.ok()) return status.error();
    for (const store::AuditEvent& event : batch) {
      auto fail = [&](const char* reason) {
        report.intact = false;
        report.first_bad_seq = event.seq;
        report.reason = reason;
      };
      if (event.seq != expected_seq) {
        // A deleted event leaves a gap; report the first event after it.
        fail("gap in sequence");
      } else if (event.prev_hash != expected_prev) {
        fail("broken link");
      } else if (EventHash(event) != event.hash) {
        fail("hash mismatch");
      }
      if (!report.intact) return report;
      ++report.events;
      expected_prev = event.hash;
      expected_seq = event.seq + 1;
      after = event.seq;
    }
    if (static_cast<int>(batch.size()) < kBatch) break;
  }
  return report;
}

}  // namespace rampart::audit
