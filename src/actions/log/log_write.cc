#include "actions/log/log_write.h"

#include <boost/json/parse.hpp>
#include <optional>

#include "rampart/core/check.h"

namespace rampart::actions {
namespace {

namespace bj = boost::json;

// Its top-level keys are mirrored in model::BuiltinActionArgKeys (the loader rejects
// any other key of `with`): a key added here goes there too.
constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "message": {"type": "string", "maxLength": 8192},
    "level": {"enum": ["debug", "info", "warn", "error"]},
    "fields": {"type": "object", "maxProperties": 50}
  },
  "required": ["message"],
  "additionalProperties": false
})";

class LogWrite final : public Action {
 public:
  LogWrite() {
    schema_ = CompileArgsSchema(kSchema);
  }

  const schema::Validator& ArgsSchema() const override { return *schema_; }

  Result<bj::value> Execute(const Context& ctx) const override {
    const bj::object& args = ctx.args.get_object();
    std::string_view level = "info";
    if (const bj::value* l = args.if_contains("level")) level = l->get_string();
    bj::object line;
    line["level"] = level;
    line["msg"] = args.at("message");
    if (const bj::value* f = args.if_contains("fields")) line["fields"] = *f;
    line["workflow"] = ctx.workflow;
    line["run_id"] = ctx.run_id;
    line["step"] = ctx.step_path;
    if (ctx.log) ctx.log->Write(line);
    bj::object out;
    out["level"] = level;
    out["message"] = args.at("message");
    return bj::value(std::move(out));
  }

 private:
  std::optional<schema::Validator> schema_;
};

}  // namespace

std::unique_ptr<Action> MakeLogWrite() { return std::make_unique<LogWrite>(); }

}  // namespace rampart::actions
