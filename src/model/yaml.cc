// YAML -> JSON with libyaml's event parser (see EventBuilder for why not a DOM parser).
#include <yaml.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "rampart/core/json.h"
#include "rampart/model/workflow.h"

namespace rampart::model {
namespace {

namespace bj = boost::json;

// YAML 1.2 core schema resolution of a plain (unquoted) scalar.
bj::value ResolvePlainScalar(std::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  const char* digits = (*begin == '-' || *begin == '+') ? begin + 1 : begin;
  bool all_digits = digits < end;
  for (const char* p = digits; p < end; ++p) {
    if (*p < '0' || *p > '9') {
      all_digits = false;
      break;
    }
  }
  if (all_digits) {
    int64_t v = 0;
    const char* from = *begin == '+' ? begin + 1 : begin;
    auto [ptr, ec] = std::from_chars(from, end, v);
    if (ec == std::errc() && ptr == end) return v;
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(begin + 2, end, v, s[1] == 'x' ? 16 : 8);
    if (ec == std::errc() && ptr == end) return v;
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "-.inf" || s == ".nan" ||
      s == ".NaN" || s == ".NAN") {
    // JSON has no infinities or NaN: keep the text.
    return bj::string(s);
  }
  // Float: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
  {
    const char* p = digits;
    bool mantissa = false;
    while (p < end && *p >= '0' && *p <= '9') {
      ++p;
      mantissa = true;
    }
    if (p < end && *p == '.') {
      ++p;
      while (p < end && *p >= '0' && *p <= '9') {
        ++p;
        mantissa = true;
      }
    }
    bool ok = mantissa;
    if (ok && p < end && (*p == 'e' || *p == 'E')) {
      ++p;
      if (p < end && (*p == '+' || *p == '-')) ++p;
      bool exp = false;
      while (p < end && *p >= '0' && *p <= '9') {
        ++p;
        exp = true;
      }
      ok = exp;
    }
    if (ok && p == end) {
      double d = std::strtod(std::string(s).c_str(), nullptr);
      if (std::isfinite(d)) return d;
    }
  }
  return bj::string(s);
}

// Builds one JSON value from libyaml's event stream. libyaml is an event parser without
// recursion, so nesting is bounded here (max_depth) and can never overflow the stack;
// aliases are expanded by copy, counted against max_nodes (alias bombs stop there).
class EventBuilder {
 public:
  EventBuilder(size_t max_depth, size_t max_nodes) : max_depth_(max_depth), max_nodes_(max_nodes) {}

  Result<bj::value> Build(std::string_view text) {
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
      return MakeError(ErrorCode::kInternal, "YAML parser could not start");
    }
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    Status status = Run(parser);
    yaml_parser_delete(&parser);
    if (!status.ok()) return status.error();
    if (documents_ == 0 || !have_root_) {
      return MakeError(ErrorCode::kInvalidDefinition, "empty document");
    }
    return std::move(root_);
  }

 private:
  struct Frame {
    bj::value value;
    bool is_map = false;
    bool have_key = false;
    // A mapping's key is inserted when it is read (null until its value comes), so the
    // duplicate check and the insertion are one lookup.
    size_t key_slot = 0;
    std::string anchor;
    size_t nodes_at_start = 0;
  };
  struct Anchor {
    bj::value value;
    size_t nodes = 1;
  };

  static std::string At(const yaml_mark_t& mark) {
    return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
  }

  Status Run(yaml_parser_t& parser) {
    while (true) {
      yaml_event_t event;
      if (!yaml_parser_parse(&parser, &event)) {
        std::string msg = "invalid YAML at " + At(parser.problem_mark) + ": " +
                          (parser.problem ? parser.problem : "syntax error");
        if (parser.context) msg += std::string(" ") + parser.context;
        return MakeError(ErrorCode::kInvalidDefinition, msg);
      }
      Status s = Handle(event);
      const bool end = event.type == YAML_STREAM_END_EVENT;
      yaml_event_delete(&event);
      if (!s.ok()) return s;
      if (end) return Status::Ok();
    }
  }

  Status Count(size_t n, const yaml_mark_t& mark) {
    nodes_ += n;
    if (nodes_ > max_nodes_) {
      return MakeError(ErrorCode::kLimitExceeded,
                       "YAML document expands to more than " + std::to_string(max_nodes_) +
                           " nodes (near " + At(mark) + "; anchors/aliases?)");
    }
    return Status::Ok();
  }

  Status Handle(const yaml_event_t& e) {
    switch (e.type) {
      case YAML_DOCUMENT_START_EVENT:
        if (++documents_ > 1) {
          return MakeError(ErrorCode::kInvalidDefinition, "expected exactly one YAML document");
        }
        return Status::Ok();
      case YAML_SCALAR_EVENT: {
        if (Status s = Count(1, e.start_mark); !s.ok()) return s;
        std::string_view text(reinterpret_cast<const char*>(e.data.scalar.value),
                              e.data.scalar.length);
        if (InKeyPosition()) return SetKey(text, e.start_mark);
        auto v = ResolveScalar(e, text);
        if (!v.ok()) return v.error();
        if (e.data.scalar.anchor) Remember(reinterpret_cast<const char*>(e.data.scalar.anchor), *v, 1);
        return Emit(std::move(v).value(), e.start_mark);
      }
      case YAML_ALIAS_EVENT: {
        std::string name(reinterpret_cast<const char*>(e.data.alias.anchor));
        auto it = anchors_.find(name);
        if (it == anchors_.end()) {
          return MakeError(ErrorCode::kInvalidDefinition,
                           "unknown alias *" + json::Excerpt(name) + " at " + At(e.start_mark));
        }
        if (InKeyPosition()) {
          return MakeError(ErrorCode::kInvalidDefinition,
                           "aliases cannot be mapping keys (" + At(e.start_mark) + ")");
        }
        if (Status s = Count(it->second.nodes, e.start_mark); !s.ok()) return s;
        return Emit(it->second.value, e.start_mark);
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        if (InKeyPosition()) {
          return MakeError(ErrorCode::kInvalidDefinition,
                           "mapping keys must be plain strings (" + At(e.start_mark) + ")");
        }
        if (stack_.size() + 1 > max_depth_) {
          return MakeError(ErrorCode::kLimitExceeded,
                           "YAML nesting deeper than " + std::to_string(max_depth_) + " levels");
        }
        if (Status s = Count(1, e.start_mark); !s.ok()) return s;
        const bool is_map = e.type == YAML_MAPPING_START_EVENT;
        const yaml_char_t* anchor = is_map ? e.data.mapping_start.anchor : e.data.sequence_start.anchor;
        const yaml_char_t* tag = is_map ? e.data.mapping_start.tag : e.data.sequence_start.tag;
        if (tag && std::string_view(reinterpret_cast<const char*>(tag)) !=
                       (is_map ? "tag:yaml.org,2002:map" : "tag:yaml.org,2002:seq")) {
          return MakeError(ErrorCode::kInvalidDefinition,
                           "YAML tags are not supported (" + At(e.start_mark) + ")");
        }
        Frame f;
        f.is_map = is_map;
        if (is_map) {
          f.value.emplace_object();
        } else {
          f.value.emplace_array();
        }
        if (anchor) f.anchor = reinterpret_cast<const char*>(anchor);
        f.nodes_at_start = nodes_;
        stack_.push_back(std::move(f));
        return Status::Ok();
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        Frame f = std::move(stack_.back());
        stack_.pop_back();
        if (!f.anchor.empty()) Remember(f.anchor, f.value, nodes_ - f.nodes_at_start + 1);
        return Emit(std::move(f.value), e.start_mark);
      }
      default:
        return Status::Ok();
    }
  }

  bool InKeyPosition() const { return !stack_.empty() && stack_.back().is_map && !stack_.back().have_key; }

  Status SetKey(std::string_view text, const yaml_mark_t& mark) {
    Frame& f = stack_.back();
    bj::object& obj = f.value.get_object();
    auto [it, inserted] = obj.emplace(text, nullptr);
    if (!inserted) {
      return MakeError(ErrorCode::kInvalidDefinition, "duplicate key '" + json::Excerpt(text) +
                                                          "' at " + At(mark));
    }
    f.key_slot = static_cast<size_t>(it - obj.begin());
    f.have_key = true;
    return Status::Ok();
  }

  Status Emit(bj::value v, const yaml_mark_t& mark) {
    if (stack_.empty()) {
      root_ = std::move(v);
      have_root_ = true;
      return Status::Ok();
    }
    Frame& f = stack_.back();
    if (f.is_map) {
      bj::object& obj = f.value.get_object();
      (obj.begin() + static_cast<std::ptrdiff_t>(f.key_slot))->value() = std::move(v);
      f.have_key = false;
    } else {
      f.value.get_array().push_back(std::move(v));
    }
    return Status::Ok();
  }

  void Remember(const std::string& name, const bj::value& v, size_t nodes) {
    anchors_[name] = Anchor{v, nodes};
  }

  static Result<bj::value> ResolveScalar(const yaml_event_t& e, std::string_view text) {
    const yaml_char_t* tag = e.data.scalar.tag;
    if (tag) {
      std::string_view t(reinterpret_cast<const char*>(tag));
      if (t == "tag:yaml.org,2002:str" || t == "!") return bj::value(bj::string(text));
      if (t == "tag:yaml.org,2002:int" || t == "tag:yaml.org,2002:float" ||
          t == "tag:yaml.org,2002:bool" || t == "tag:yaml.org,2002:null") {
        return ResolvePlainScalar(text);
      }
      return MakeError(ErrorCode::kInvalidDefinition,
                       "YAML tags are not supported (" + At(e.start_mark) + ")");
    }
    if (e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) return ResolvePlainScalar(text);
    return bj::value(bj::string(text));
  }

  size_t max_depth_;
  size_t max_nodes_;
  size_t nodes_ = 0;
  int documents_ = 0;
  bool have_root_ = false;
  bj::value root_;
  std::vector<Frame> stack_;
  std::map<std::string, Anchor> anchors_;
};

}  // namespace

Result<bj::value> YamlToJson(std::string_view text, size_t max_depth, size_t max_nodes) {
  return EventBuilder(max_depth, max_nodes).Build(text);
}

}  // namespace rampart::model
