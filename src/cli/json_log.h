// The server's structured log: JSON lines through one spdlog logger, every line scrubbed
// by the redactor first (spec/security.md section 1: log lines are an exit).
//
// One JSON object per line: {"time": RFC 3339 UTC with microseconds, "level":
// debug|info|warn|error, "msg": ..., "fields": {...}} followed by any other keys of the
// line (run log lines carry workflow, run_id and step). spdlog stays out of this header.
#pragma once

#include <boost/json/object.hpp>
#include <cstdio>
#include <memory>
#include <string_view>

#include "rampart/actions/action.h"
#include "rampart/redact/redact.h"
#include "rampart/server/org_log.h"

namespace rampart::cli {

class JsonLog final : public actions::LogSink {
 public:
  // Writes to `out` (flushed per line). `secrets`: the process-wide secrets (master key
  // ...) redacted from every line, in addition to what each run's RedactingLogSink
  // already removed; must outlive the log. `org_log` (optional, must outlive the log)
  // receives every line after that redaction and keeps the org-attributed ones for the
  // diagnostics route (server/org_log.h). Thread-safe.
  JsonLog(std::FILE* out, const redact::SecretSet& secrets,
          server::OrgLogRing* org_log = nullptr);
  ~JsonLog() override;
  JsonLog(const JsonLog&) = delete;
  JsonLog& operator=(const JsonLog&) = delete;

  // A line of the engine or of log.write: {level, msg, fields?, workflow, run_id, step}.
  // An unknown or missing level is logged as info.
  void Write(const boost::json::object& line) override;

  // The server's own lines (startup, shutdown, background errors).
  void Log(std::string_view level, std::string_view msg, boost::json::object fields = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::cli
