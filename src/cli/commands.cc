#include "rampart/cli/commands.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <optional>
#include <iostream>
#include <iterator>


#include "rampart/actions/action.h"
#include "cli/build_info.h"
#include "cli/config.h"
#include "rampart/api/connectors.h"
#include "rampart/core/json.h"
#include "rampart/engine/engine.h"
#include "rampart/engine/local.h"
#include "rampart/model/workflow.h"

#ifndef RAMPART_VERSION
#define RAMPART_VERSION "0.0.0"
#endif
#ifndef RAMPART_BUILD_TYPE
#define RAMPART_BUILD_TYPE "unknown"
#endif

namespace rampart::cli {
namespace {

namespace bj = boost::json;

// Text for one line of a terminal: control characters (a newline or an escape sequence
// in a key, a value or a file name, which may come from an untrusted definition or
// input) are written as \u00XX, so they can neither split a line nor drive the terminal.
std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

void PrintErrors(std::FILE* err, const std::string& prefix,
                 const std::vector<model::DefinitionError>& errors, std::string_view kind = "") {
  for (const auto& e : errors) {
    std::fprintf(err, "%s%s: %s: %s\n", OneLine(prefix).c_str(),
                 e.path.empty() ? "/" : OneLine(e.path).c_str(),
                 kind.empty() ? std::string(ErrorCodeName(e.code)).c_str() : std::string(kind).c_str(),
                 OneLine(e.message).c_str());
  }
}

Result<bj::value> ReadInput(const std::string& source) {
  if (source.empty()) return bj::value(bj::object());
  std::string text;
  if (source == "-") {
    std::string chunk(65536, '\0');
    while (true) {
      ssize_t n = ::read(STDIN_FILENO, chunk.data(), chunk.size());
      if (n <= 0) break;
      text.append(chunk.data(), static_cast<size_t>(n));
      if (text.size() > model::kMaxDefinitionBytes) {
        return MakeError(ErrorCode::kLimitExceeded, "input is larger than 1 MiB");
      }
    }
  } else {
    auto r = engine::ReadFileBounded(source, model::kMaxDefinitionBytes);
    if (!r.ok()) return r.error();
    text = std::move(r).value();
  }
  auto v = json::Parse(text, {.max_bytes = model::kMaxDefinitionBytes, .max_depth = 64});
  if (!v.ok()) return MakeError(v.error().code, "input is not valid JSON: " + v.error().message);
  return v;
}

std::string Compact(const bj::value& v, size_t max = 100) {
  std::string s = json::Serialize(v);
  return json::Excerpt(s, max);
}

// A readable step-by-step summary of a run record.
void PrintSummary(std::FILE* out, const bj::object& rec) {
  std::fprintf(out, "run %s  workflow %s  version %lld\n", rec.at("run_id").get_string().c_str(),
               OneLine(rec.at("workflow").get_string()).c_str(),
               static_cast<long long>(rec.at("version").to_number<int64_t>()));
  for (const auto& sv : rec.at("steps").get_array()) {
    const bj::object& s = sv.get_object();
    std::string_view status = s.at("status").get_string();
    const char* mark = status == "succeeded" ? "ok  "
                       : status == "skipped" ? "skip"
                       : status == "failed"  ? "FAIL"
                                             : "wait";
    double ms = s.contains("duration_ms") ? s.at("duration_ms").to_number<double>() : 0.0;
    std::fprintf(out, "  %s %-32s %-9s %8.3f ms", mark, s.at("path").get_string().c_str(),
                 s.at("type").get_string().c_str(), ms);
    if (const bj::value* d = s.if_contains("decision")) {
      std::fprintf(out, "  if %s -> %s", OneLine(d->at("expression").get_string()).c_str(),
                   d->at("result").get_bool() ? "true" : "false");
      const bj::object& values = d->at("values").get_object();
      if (!values.empty()) std::fprintf(out, " %s", Compact(values, 80).c_str());
    }
    if (const bj::value* b = s.if_contains("branch")) {
      std::fprintf(out, "  took %s", b->get_string().c_str());
    }
    if (const bj::value* e = s.if_contains("error"); e && e->is_object()) {
      std::fprintf(out, "  %s: %s", e->at("code").get_string().c_str(),
                   OneLine(e->at("message").get_string()).c_str());
    } else if (const bj::value* o = s.if_contains("output"); o && status == "succeeded") {
      std::fprintf(out, "  => %s", Compact(*o, 80).c_str());
    }
    std::fputc('\n', out);
  }
  std::string_view status = rec.at("status").get_string();
  std::fprintf(out, "status: %s", std::string(status).c_str());
  if (const bj::value& e = rec.at("error"); e.is_object()) {
    std::fprintf(out, "  error: %s: %s", e.at("code").get_string().c_str(),
                 OneLine(e.at("message").get_string()).c_str());
    if (const bj::value* st = e.get_object().if_contains("step")) {
      std::fprintf(out, " (step %s)", st->get_string().c_str());
    }
  }
  std::fputc('\n', out);
  if (!rec.at("output").is_null()) std::fprintf(out, "output: %s\n", Compact(rec.at("output"), 2000).c_str());
}

constexpr size_t kMaxConnectorsFileBytes = 1 << 20;

// --connectors FILE (JSON or YAML list) and --secrets-file FILE (JSON, mode 0600/0400):
// validated like the API's connector bodies and kept in memory for the run only.
Result<std::unique_ptr<api::InMemoryConnectorSource>> LoadLocalConnectors(
    const RunOptions& options) {
  bj::value connectors = bj::array();
  bj::value secrets = nullptr;
  if (!options.secrets_file.empty()) {
    auto text = ReadPrivateFile(options.secrets_file, kMaxConnectorsFileBytes, "the secrets file");
    if (!text.ok()) return text.error();
    // The parser's message may quote the input: never echo a secrets file.
    auto parsed = json::Parse(*text, {.max_bytes = kMaxConnectorsFileBytes, .max_depth = 8});
    if (!parsed.ok()) {
      return MakeError(ErrorCode::kInvalidArgument, "the secrets file is not valid JSON");
    }
    secrets = std::move(parsed).value();
  }
  if (!options.connectors_file.empty()) {
    auto text = engine::ReadFileBounded(options.connectors_file, kMaxConnectorsFileBytes);
    if (!text.ok()) {
      return MakeError(ErrorCode::kInvalidArgument, "cannot read the connectors file");
    }
    auto parsed = model::YamlToJson(*text);
    if (!parsed.ok()) {
      return MakeError(ErrorCode::kInvalidArgument, "connectors file: " + parsed.error().message);
    }
    connectors = std::move(parsed).value();
  }
  return api::ParseLocalConnectors(connectors, secrets);
}

}  // namespace

int Run(const RunOptions& options, std::FILE* out, std::FILE* err) {
  auto text = engine::ReadFileBounded(options.file, model::kMaxDefinitionBytes);
  if (!text.ok()) {
    std::fprintf(err, "/: %s: %s\n",
                 text.error().code == ErrorCode::kLimitExceeded ? "invalid_definition"
                                                                : "invalid_argument",
                 OneLine(text.error().message).c_str());
    return kExitInvalid;
  }
  model::LoadResult loaded = model::LoadDefinition(*text);
  if (!loaded.ok()) {
    PrintErrors(err, "", loaded.errors);
    return kExitInvalid;
  }
  auto input = ReadInput(options.input);
  if (!input.ok()) {
    std::fprintf(err, "/: invalid_input: %s\n", OneLine(input.error().message).c_str());
    return kExitInvalid;
  }
  // Connectors of the run, validated here and held in memory for the run's duration.
  std::unique_ptr<api::InMemoryConnectorSource> connectors;
  if (!options.connectors_file.empty() || !options.secrets_file.empty()) {
    auto loaded_connectors = LoadLocalConnectors(options);
    if (!loaded_connectors.ok()) {
      std::fprintf(err, "/: invalid_argument: %s\n",
                 OneLine(loaded_connectors.error().message).c_str());
      return kExitInvalid;
    }
    connectors = std::move(loaded_connectors).value();
  }
  std::filesystem::path dir = options.workflows_dir.empty()
                                  ? std::filesystem::path(options.file).parent_path()
                                  : std::filesystem::path(options.workflows_dir);
  if (dir.empty()) dir = ".";
  engine::DirectoryWorkflowSource children(dir);
  auto config = LoadConfig(options.config);
  if (!config.ok()) {
    std::fprintf(err, "/: invalid_argument: %s\n", OneLine(config.error().message).c_str());
    return kExitInvalid;
  }
  actions::BuiltinOptions builtin_options;
  builtin_options.egress = config->egress;
  // db.query's database: <data>/db/local.sqlite; --data, else the config's `data`.
  builtin_options.data_dir = DataDir(options.data_dir, *config);
  actions::Registry registry = actions::BuiltinRegistry(builtin_options);
  engine::StreamLogSink log(err);
  engine::Env env;
  env.actions = &registry;
  env.workflows = &children;
  env.log = &log;
  if (config->max_run_record_bytes > 0) {
    env.max_run_record_bytes = static_cast<size_t>(config->max_run_record_bytes);
  }
  std::optional<api::SourceConnectorResolver> resolver;
  if (connectors != nullptr) {
    resolver.emplace(*connectors);
    env.connectors = &*resolver;
  }
  engine::Engine engine(env);

  auto input_errors = engine.ValidateInput(*loaded.workflow, *input);
  if (!input_errors.empty()) {
    for (const auto& e : input_errors) {
      std::fprintf(err, "%s: invalid_input: %s\n",
                   e.instance_path.empty() ? "/" : OneLine(e.instance_path).c_str(),
                   OneLine(e.message).c_str());
    }
    return kExitInvalid;
  }
  engine::RunRequest req;
  req.input = std::move(input).value();
  req.redaction = config->redaction;
  bj::object trigger;
  trigger["type"] = "manual";
  trigger["received_at"] = FormatRfc3339(SystemClock().Now());
  req.trigger = std::move(trigger);
  engine::RunResult result = engine.Run(*loaded.workflow, std::move(req));
  if (options.json) {
    std::string s = json::Serialize(result.record);
    s += '\n';
    std::fwrite(s.data(), 1, s.size(), out);
  } else {
    PrintSummary(out, result.record);
  }
  return result.succeeded() ? kExitOk : kExitRunFailed;
}

int Validate(const std::vector<std::string>& files, std::FILE* out, std::FILE* err) {
  int code = kExitOk;
  for (const auto& file : files) {
    auto text = engine::ReadFileBounded(file, model::kMaxDefinitionBytes);
    if (!text.ok()) {
      std::fprintf(err, "%s: /: invalid_definition: %s\n", OneLine(file).c_str(),
                   OneLine(text.error().message).c_str());
      code = kExitInvalid;
      continue;
    }
    model::LoadResult loaded = model::LoadDefinition(*text);
    PrintErrors(err, file + ": ", loaded.warnings, "warning");
    if (!loaded.ok()) {
      PrintErrors(err, file + ": ", loaded.errors);
      code = kExitInvalid;
    } else {
      std::fprintf(out, "%s: ok (%zu steps)\n", OneLine(file).c_str(), loaded.workflow->step_count);
    }
  }
  return code;
}

std::string VersionText() {
  return std::string("rampart ") + RAMPART_VERSION + " (commit " + GitCommit() + ", " +
         RAMPART_BUILD_TYPE + " build, " +
#if defined(__clang__)
         "clang " __clang_version__
#else
         "g++ " __VERSION__
#endif
         + ")";
}

}  // namespace rampart::cli
