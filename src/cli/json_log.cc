#include "cli/json_log.h"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>

#include <boost/json/value.hpp>
#include <chrono>
#include <mutex>
#include <string>

#include "rampart/core/json.h"

namespace rampart::cli {
namespace {

namespace bj = boost::json;

// An spdlog sink over a FILE* the caller owns (stderr for the server).
class FileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit FileSink(std::FILE* out) : out_(out) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::fwrite(formatted.data(), 1, formatted.size(), out_);
  }
  void flush_() override { std::fflush(out_); }

 private:
  std::FILE* out_;
};

struct Level {
  std::string_view name;
  spdlog::level::level_enum spd;
};

Level LevelOf(std::string_view name) {
  if (name == "debug") return {"debug", spdlog::level::debug};
  if (name == "warn" || name == "warning") return {"warn", spdlog::level::warn};
  if (name == "error") return {"error", spdlog::level::err};
  return {"info", spdlog::level::info};
}

}  // namespace

struct JsonLog::Impl {
  const redact::SecretSet& secrets;
  std::shared_ptr<spdlog::logger> logger;
  server::OrgLogRing* org_log = nullptr;

  // `line` is scrubbed, reordered (level, msg, fields, the rest) and handed to spdlog,
  // whose pattern adds the time: {"time":"...",<the object's members>}.
  void Emit(bj::object line) {
    bj::value v(std::move(line));
    (void)redact::ScrubJsonInPlace(v, secrets, redact::Policy::kRedact, nullptr, "a log line");
    bj::object& in = v.as_object();
    if (org_log != nullptr) {
      org_log->Observe(in, std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count());
    }
    std::string_view level_name;
    if (const bj::value* l = in.if_contains("level"); l && l->is_string()) level_name = l->get_string();
    Level level = LevelOf(level_name);
    bj::object out;
    out["level"] = level.name;
    if (const bj::value* m = in.if_contains("msg")) {
      out["msg"] = *m;
    } else {
      out["msg"] = "";
    }
    if (const bj::value* f = in.if_contains("fields")) out["fields"] = *f;
    for (const auto& kv : in) {
      if (kv.key() == "level" || kv.key() == "msg" || kv.key() == "fields" || kv.key() == "time") {
        continue;
      }
      out[kv.key()] = kv.value();
    }
    std::string text = json::Serialize(out);
    // Members only: the pattern supplies the braces and the time.
    std::string_view members(text);
    members.remove_prefix(1);
    members.remove_suffix(1);
    logger->log(level.spd, spdlog::string_view_t(members.data(), members.size()));
  }
};

JsonLog::JsonLog(std::FILE* out, const redact::SecretSet& secrets, server::OrgLogRing* org_log)
    : impl_(std::make_unique<Impl>(Impl{secrets, nullptr, org_log})) {
  auto sink = std::make_shared<FileSink>(out);
  impl_->logger = std::make_shared<spdlog::logger>("rampart", std::move(sink));
  impl_->logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
      R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ",%v})", spdlog::pattern_time_type::utc));
  impl_->logger->set_level(spdlog::level::trace);
  impl_->logger->flush_on(spdlog::level::trace);
}

JsonLog::~JsonLog() = default;

void JsonLog::Write(const bj::object& line) { impl_->Emit(line); }

void JsonLog::Log(std::string_view level, std::string_view msg, bj::object fields) {
  bj::object line;
  line["level"] = level;
  line["msg"] = msg;
  if (!fields.empty()) line["fields"] = std::move(fields);
  impl_->Emit(std::move(line));
}

}  // namespace rampart::cli
