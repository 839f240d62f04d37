// YAML -> JSON with yaml-cpp. yaml-cpp throws; every exception is caught here and
// becomes an error, so nothing escapes the model module.
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <string>

#include "rampart/core/json.h"
#include "rampart/model/workflow.h"

namespace rampart::model {
namespace {

namespace bj = boost::json;

// YAML 1.2 core schema resolution of a plain (unquoted) scalar.
bj::value ResolvePlainScalar(const std::string& s) {
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
      double d = std::strtod(s.c_str(), nullptr);
      if (std::isfinite(d)) return d;
    }
  }
  return bj::string(s);
}

struct Converter {
  size_t max_depth;
  size_t max_nodes;
  size_t nodes = 0;
  std::string error;

  bool Convert(const YAML::Node& node, size_t depth, bj::value& out) {
    if (++nodes > max_nodes) {
      error = "YAML document expands to more than " + std::to_string(max_nodes) +
              " nodes (anchors/aliases?)";
      return false;
    }
    if (depth > max_depth) {
      error = "YAML nesting deeper than " + std::to_string(max_depth) + " levels";
      return false;
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out = nullptr;
        return true;
      case YAML::NodeType::Scalar:
        if (node.Tag() == "?") {
          out = ResolvePlainScalar(node.Scalar());
        } else {
          out = bj::string(node.Scalar());
        }
        return true;
      case YAML::NodeType::Sequence: {
        bj::array& arr = out.emplace_array();
        arr.reserve(node.size());
        for (const auto& child : node) {
          bj::value v;
          if (!Convert(child, depth + 1, v)) return false;
          arr.push_back(std::move(v));
        }
        return true;
      }
      case YAML::NodeType::Map: {
        bj::object& obj = out.emplace_object();
        for (const auto& kv : node) {
          if (!kv.first.IsScalar()) {
            error = "line " + std::to_string(kv.first.Mark().line + 1) +
                    ": mapping keys must be plain strings";
            return false;
          }
          const std::string& key = kv.first.Scalar();
          if (obj.contains(key)) {
            error = "line " + std::to_string(kv.first.Mark().line + 1) + ": duplicate key '" +
                    json::Excerpt(key) + "'";
            return false;
          }
          bj::value v;
          if (!Convert(kv.second, depth + 1, v)) return false;
          obj.emplace(key, std::move(v));
        }
        return true;
      }
    }
    return true;
  }
};

// yaml-cpp's own recursion guard throws at a depth it picks; catch deep flow nesting
// earlier with a cheap scan so the parser never recurses that far.
bool FlowNestingWithin(std::string_view text, size_t max_depth) {
  size_t depth = 0;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    } else if (c == '\n') {
      quote = 0;
    }
  }
  return true;
}

}  // namespace

Result<bj::value> YamlToJson(std::string_view text, size_t max_depth, size_t max_nodes) {
  if (!FlowNestingWithin(text, max_depth)) {
    return MakeError(ErrorCode::kLimitExceeded,
                     "YAML nesting deeper than " + std::to_string(max_depth) + " levels");
  }
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(std::string(text));
    if (docs.size() != 1) {
      return MakeError(ErrorCode::kInvalidDefinition,
                       docs.empty() ? "empty document" : "expected exactly one YAML document");
    }
    Converter converter{max_depth, max_nodes, 0, {}};
    bj::value out;
    if (!converter.Convert(docs[0], 0, out)) {
      return MakeError(converter.error.find("deeper") != std::string::npos ||
                               converter.error.find("expands") != std::string::npos
                           ? ErrorCode::kLimitExceeded
                           : ErrorCode::kInvalidDefinition,
                       converter.error);
    }
    return out;
  } catch (const YAML::Exception& e) {
    std::string msg = "invalid YAML";
    if (!e.mark.is_null()) {
      msg += " at line " + std::to_string(e.mark.line + 1) + ", column " +
             std::to_string(e.mark.column + 1);
    }
    msg += ": " + json::Excerpt(e.msg, 120);
    return MakeError(ErrorCode::kInvalidDefinition, msg);
  } catch (const std::exception&) {
    return MakeError(ErrorCode::kInvalidDefinition, "invalid YAML");
  }
}

}  // namespace rampart::model
