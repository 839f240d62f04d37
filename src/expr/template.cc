// Templates (`text {{ expr }} text`), JSON trees of templates, and conditions.
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <limits>
#include <new>

#include "expr/access.h"
#include "expr/evaluator.h"
#include "expr/lexer.h"
#include "expr/parser.h"
#include "expr/value_ops.h"
#include "rampart/core/json.h"
#include "rampart/expr/expr.h"

namespace rampart::expr {

namespace bj = boost::json;
using internal::Access;
using internal::JsonTemplateNode;
using internal::Position;
using internal::TemplateParts;

namespace {

constexpr size_t kMaxTreeDepth = 256;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool AllSpace(std::string_view s) {
  for (char c : s) {
    if (!IsSpace(c)) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  size_t b = 0;
  while (b < s.size() && IsSpace(s[b])) ++b;
  size_t e = s.size();
  while (e > b && IsSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// Finds the `}}` closing the expression that starts at `i`, skipping string literals and
// balanced braces (object literals). Returns npos if there is none.
size_t FindClose(std::string_view text, size_t i) {
  size_t depth = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\'' || c == '"') {
      ++i;
      while (i < text.size() && text[i] != c) i += text[i] == '\\' ? 2 : 1;
      ++i;
      continue;
    }
    if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (depth == 0 && i + 1 < text.size() && text[i + 1] == '}') return i;
      if (depth > 0) --depth;
    }
    ++i;
  }
  return std::string_view::npos;
}

Result<Template> CompileTemplate(std::string_view text, const CompileOptions& options) {
  auto parts = std::make_shared<TemplateParts>();
  parts->limits = options.limits;
  size_t open = text.find("{{");
  if (open == std::string_view::npos) {
    parts->text = std::string(text);
    return Access::MakeTemplate(std::move(parts));
  }
  parts->literal = false;
  parts->texts.reserve(2);  // the usual case: one expression
  size_t last = 0;
  Position pos;  // position of text[last]
  while (open != std::string_view::npos) {
    parts->texts.emplace_back(text.substr(last, open - last));
    Position open_pos = internal::Advance(pos, text.substr(last, open - last));
    size_t begin = open + 2;
    size_t close = FindClose(text, begin);
    if (close == std::string_view::npos) {
      return MakeError(ErrorCode::kInvalidExpression,
                       internal::PositionMessage(open_pos, "'{{' without a matching '}}'"));
    }
    Position expr_pos = internal::Advance(open_pos, "{{");
    auto program = internal::CompileProgram(text.substr(begin, close - begin), expr_pos, options);
    if (!program.ok()) return std::move(program).error();
    parts->expressions.push_back(Access::MakeExpression(std::move(program).value()));
    last = close + 2;
    pos = internal::Advance(expr_pos, text.substr(begin, last - begin));
    open = text.find("{{", last);
  }
  parts->texts.emplace_back(text.substr(last));
  parts->single = parts->expressions.size() == 1 && AllSpace(parts->texts[0]) && AllSpace(parts->texts[1]);
  return Access::MakeTemplate(std::move(parts));
}

Result<Value> EvaluateTemplate(const TemplateParts& parts, const Scope& scope, Trace* trace) {
  if (parts.literal) return Value{bj::value(bj::string_view(parts.text)), false};
  if (parts.single) {
    return internal::EvaluateProgram(*Access::GetProgram(parts.expressions[0]), scope, trace);
  }
  const size_t cap = parts.limits.max_value_bytes;
  std::string out;
  bool tainted = false;
  auto too_big = [&] {
    return MakeError(ErrorCode::kExpressionLimit,
                     "interpolated text larger than " + std::to_string(cap) + " bytes");
  };
  for (size_t i = 0; i < parts.expressions.size(); ++i) {
    if (out.size() + parts.texts[i].size() > cap) return too_big();
    out += parts.texts[i];
    Status st = internal::AppendEvaluatedText(*Access::GetProgram(parts.expressions[i]), scope, trace,
                                              cap, out, tainted);
    if (!st.ok()) return st.error();
  }
  if (out.size() + parts.texts.back().size() > cap) return too_big();
  out += parts.texts.back();
  bj::value result(bj::string_view(out.data(), out.size()));
  if (internal::StringSizeUpperBound(out.size()) > cap &&
      json::SerializedSizeAtMost(result, cap) > cap) {
    return too_big();
  }
  return Value{std::move(result), tainted};
}

// Template::Evaluate; a null `parts` is the empty template.
Result<Value> EvaluateParts(const TemplateParts* parts, const Scope& scope, Trace* trace) {
  if (parts == nullptr) return Value{bj::value(""), false};
  try {
    return EvaluateTemplate(*parts, scope, trace);
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kExpressionLimit, "out of memory while evaluating the template");
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "internal error while evaluating the template");
  }
}

// Where BuildNode is in the tree, as a chain up to the root: the JSON Pointer is spelled
// out only for a failure, not for every node.
struct TreePath {
  const TreePath* parent = nullptr;  // null at the root
  std::string_view key;              // the member name, unless `is_index`
  size_t index = 0;
  bool is_index = false;

  std::string Pointer() const {
    if (parent == nullptr) return "";
    std::string up = parent->Pointer();
    return is_index ? json::PointerAppend(up, index) : json::PointerAppend(up, key);
  }
};

bool BuildNodeParts(const bj::value& v, const CompileOptions& options, const TreePath& path,
                    size_t depth, JsonTemplateNode& node,
                    std::vector<JsonTemplate::Failure>& failures);

// Compiles `v` into `node` and sets its fixed_bytes.
bool BuildNode(const bj::value& v, const CompileOptions& options, const TreePath& path,
               size_t depth, JsonTemplateNode& node, std::vector<JsonTemplate::Failure>& failures) {
  if (!BuildNodeParts(v, options, path, depth, node, failures)) return false;
  constexpr size_t kUncapped = std::numeric_limits<size_t>::max() - 1;
  switch (node.kind) {
    case JsonTemplateNode::Kind::kConst:
      node.fixed_bytes = json::SerializedSizeAtMost(node.constant, kUncapped);
      break;
    case JsonTemplateNode::Kind::kTemplate: node.fixed_bytes = 0; break;
    case JsonTemplateNode::Kind::kArray:
    case JsonTemplateNode::Kind::kObject: {
      const size_t n = node.children.size();
      size_t bytes = 2 + (n == 0 ? 0 : n - 1);
      for (const JsonTemplateNode& child : node.children) bytes += child.fixed_bytes;
      for (const std::string& key : node.keys) {
        bytes += json::SerializedSizeAtMost(bj::value(bj::string_view(key)), kUncapped) + 1;
      }
      node.fixed_bytes = bytes;
      break;
    }
  }
  return true;
}

bool BuildNodeParts(const bj::value& v, const CompileOptions& options, const TreePath& path,
                    size_t depth, JsonTemplateNode& node,
                    std::vector<JsonTemplate::Failure>& failures) {
  node.limits = options.limits;
  if (depth > kMaxTreeDepth) {
    failures.push_back(
        {path.Pointer(), MakeError(ErrorCode::kExpressionLimit, "JSON tree nested too deeply")});
    return false;
  }
  switch (v.kind()) {
    case bj::kind::string: {
      std::string_view s = v.get_string();
      if (s.find("{{") == std::string_view::npos) {
        node.kind = JsonTemplateNode::Kind::kConst;
        node.constant = v;
        return true;
      }
      auto t = CompileTemplate(s, options);
      if (!t.ok()) {
        failures.push_back({path.Pointer(), std::move(t).error()});
        return false;
      }
      node.kind = JsonTemplateNode::Kind::kTemplate;
      node.tmpl = std::move(t).value();
      if (node.tmpl.is_single_expression()) {
        node.program = Access::GetProgram(node.tmpl.expressions()[0]);
      }
      return true;
    }
    case bj::kind::array: {
      const auto& arr = v.get_array();
      node.kind = JsonTemplateNode::Kind::kArray;
      node.children.resize(arr.size());
      bool ok = true;
      bool constant = true;
      for (size_t i = 0; i < arr.size(); ++i) {
        const TreePath child{&path, {}, i, true};
        ok = BuildNode(arr[i], options, child, depth + 1, node.children[i], failures) && ok;
        constant = constant && node.children[i].kind == JsonTemplateNode::Kind::kConst;
      }
      if (ok && constant) {
        node = JsonTemplateNode{};
        node.limits = options.limits;
        node.constant = v;
      }
      return ok;
    }
    case bj::kind::object: {
      const auto& obj = v.get_object();
      node.kind = JsonTemplateNode::Kind::kObject;
      node.children.resize(obj.size());
      node.keys.reserve(obj.size());
      bool ok = true;
      bool constant = true;
      size_t i = 0;
      for (const auto& kv : obj) {
        node.keys.emplace_back(kv.key());
        const TreePath child{&path, kv.key(), 0, false};
        ok = BuildNode(kv.value(), options, child, depth + 1, node.children[i], failures) && ok;
        constant = constant && node.children[i].kind == JsonTemplateNode::Kind::kConst;
        ++i;
      }
      if (ok && constant) {
        node = JsonTemplateNode{};
        node.limits = options.limits;
        node.constant = v;
      }
      return ok;
    }
    default:
      node.kind = JsonTemplateNode::Kind::kConst;
      node.constant = v;
      return true;
  }
}

// The running serialized size of the values a JsonTemplate evaluates, checked against
// the cap after each one. A double's exact size needs shortest round-trip formatting,
// the costly part, while the total is almost always far below the cap: doubles are held
// back and counted at their largest size, and formatted only when that bound could pass
// the cap. The outcome is exactly that of summing every exact size.
class SizeBudget {
 public:
  explicit SizeBudget(size_t cap) : cap_(cap) {}

  // Adds `v`; false once the exact total is larger than the cap.
  bool Add(const bj::value& v) {
    if (v.is_double() && pending_ < kMaxPending) {
      pending_doubles_[pending_++] = v.get_double();
    } else {
      known_ += json::SerializedSizeAtMost(v, cap_);
    }
    if (known_ + kMaxDoubleBytes * pending_ <= cap_) return true;
    for (size_t i = 0; i < pending_; ++i) {
      known_ += json::SerializedSizeAtMost(bj::value(pending_doubles_[i]), cap_);
    }
    pending_ = 0;
    return known_ <= cap_;
  }

  // At least the total of the values added: exact but for the doubles held back.
  size_t UpperBound() const { return known_ + kMaxDoubleBytes * pending_; }

 private:
  static constexpr size_t kMaxPending = 8;
  static constexpr size_t kMaxDoubleBytes = 24;  // "-1.2345678901234567e-308"
  size_t cap_;
  size_t known_ = 0;
  size_t pending_ = 0;
  double pending_doubles_[kMaxPending];  // the first `pending_` are set
};

// Evaluates `node` into `out` (which keeps its storage). On failure, `where` receives the
// JSON Pointer of the failing string.
bool EvalNode(const JsonTemplateNode& node, const Scope& scope, bj::value& out, bool& tainted,
              SizeBudget& budget, Error& error, std::string& where) {
  switch (node.kind) {
    case JsonTemplateNode::Kind::kConst: out = node.constant; return true;
    case JsonTemplateNode::Kind::kTemplate: {
      // What Template::Evaluate does, with fewer indirections (and straight into `out` for
      // a single expression).
      bool t = false;
      if (node.program != nullptr) {
        if (!internal::EvaluateProgramInto(*node.program, scope, nullptr, out, t, error)) {
          return false;
        }
      } else {
        auto v = EvaluateParts(Access::GetParts(node.tmpl), scope, nullptr);
        if (!v.ok()) {
          error = std::move(v).error();
          return false;
        }
        out = std::move(v->json);
        t = v->tainted;
      }
      if (!budget.Add(out)) {
        const size_t cap = node.limits.max_value_bytes;
        error = MakeError(ErrorCode::kExpressionLimit,
                          "evaluated values larger than " + std::to_string(cap) + " bytes in total");
        return false;
      }
      tainted = tainted || t;
      return true;
    }
    case JsonTemplateNode::Kind::kArray: {
      // Elements are evaluated in place: no temporary per element.
      bj::array& arr = out.emplace_array();
      arr.reserve(node.children.size());
      for (size_t i = 0; i < node.children.size(); ++i) {
        bj::value& e = arr.emplace_back(nullptr);
        if (!EvalNode(node.children[i], scope, e, tainted, budget, error, where)) {
          where = json::PointerAppend("", i) + where;
          return false;
        }
      }
      return true;
    }
    case JsonTemplateNode::Kind::kObject: {
      // Keys are distinct (they come from a JSON object), so each emplace inserts.
      bj::object& obj = out.emplace_object();
      obj.reserve(node.children.size());
      // A workflow's compiled programs are many and rarely all in cache: ask for the
      // programs of the later members while the first ones evaluate.
      for (const JsonTemplateNode& child : node.children) __builtin_prefetch(child.program);
      for (size_t i = 0; i < node.children.size(); ++i) {
        bj::value& e = obj.emplace(node.keys[i], nullptr).first->value();
        if (!EvalNode(node.children[i], scope, e, tainted, budget, error, where)) {
          where = json::PointerAppend("", node.keys[i]) + where;
          return false;
        }
      }
      return true;
    }
  }
  return false;
}

void CollectSteps(const JsonTemplateNode& node, std::vector<std::string>& out) {
  if (node.kind == JsonTemplateNode::Kind::kTemplate) {
    for (const auto& e : node.tmpl.expressions()) {
      for (const auto& s : e.referenced_steps()) {
        if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
      }
    }
  }
  for (const auto& child : node.children) CollectSteps(child, out);
}

const std::vector<Expression>& NoExpressions() {
  static const std::vector<Expression> kNone;
  return kNone;
}

}  // namespace

Result<Template> Template::Compile(std::string_view text, const CompileOptions& options) {
  try {
    return CompileTemplate(text, options);
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kExpressionLimit, "out of memory while compiling the template");
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "internal error while compiling the template");
  }
}

Result<Value> Template::Evaluate(const Scope& scope, Trace* trace) const {
  return EvaluateParts(parts_.get(), scope, trace);
}

bool Template::is_literal() const { return parts_ == nullptr || parts_->literal; }
bool Template::is_single_expression() const { return parts_ != nullptr && parts_->single; }
const std::vector<Expression>& Template::expressions() const {
  return parts_ == nullptr ? NoExpressions() : parts_->expressions;
}

Result<JsonTemplate> JsonTemplate::Compile(const bj::value& tree, const CompileOptions& options,
                                           std::vector<Failure>* failures) {
  try {
    std::vector<Failure> local;
    std::vector<Failure>& all = failures != nullptr ? *failures : local;
    const size_t before = all.size();
    auto root = std::make_shared<JsonTemplateNode>();
    BuildNode(tree, options, TreePath{}, 0, *root, all);
    if (all.size() > before) return all[before].error;
    return Access::MakeJsonTemplate(std::move(root));
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kExpressionLimit, "out of memory while compiling templates");
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "internal error while compiling templates");
  }
}

Result<Value> JsonTemplate::Evaluate(const Scope& scope) const {
  size_t bytes = 0;
  return Evaluate(scope, &bytes);
}

Result<Value> JsonTemplate::Evaluate(const Scope& scope, size_t* bytes) const {
  return Evaluate(scope, bytes, {});
}

Result<Value> JsonTemplate::Evaluate(const Scope& scope, size_t* bytes,
                                     bj::storage_ptr storage) const {
  *bytes = 4;  // null
  if (root_ == nullptr) return Value{bj::value(std::move(storage)), false};
  try {
    Value out{bj::value(std::move(storage)), false};
    Error error;
    std::string where;
    SizeBudget budget(root_->limits.max_value_bytes);
    if (!EvalNode(*root_, scope, out.json, out.tainted, budget, error, where)) {
      if (!where.empty()) error.message = "at " + where + ": " + error.message;
      return error;
    }
    *bytes = root_->fixed_bytes + budget.UpperBound();
    return out;
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kExpressionLimit, "out of memory while evaluating templates");
  } catch (...) {
    return MakeError(ErrorCode::kInternal, "internal error while evaluating templates");
  }
}

bool JsonTemplate::is_constant() const {
  return root_ == nullptr || root_->kind == JsonTemplateNode::Kind::kConst;
}

std::vector<std::string> JsonTemplate::ReferencedSteps() const {
  std::vector<std::string> out;
  if (root_ != nullptr) CollectSteps(*root_, out);
  return out;
}

Result<Expression> CompileCondition(std::string_view text, const CompileOptions& options) {
  std::string_view t = Trim(text);
  if (t.size() >= 4 && t.substr(0, 2) == "{{" && t.substr(t.size() - 2) == "}}") {
    auto tmpl = Template::Compile(text, options);
    if (!tmpl.ok()) return std::move(tmpl).error();
    if (!tmpl->is_single_expression()) {
      return MakeError(ErrorCode::kInvalidExpression,
                       internal::PositionMessage(
                           Position{}, "a condition is a bare expression or exactly one '{{ }}'"));
    }
    return tmpl->expressions()[0];
  }
  return Expression::Compile(text, options);
}

}  // namespace rampart::expr
