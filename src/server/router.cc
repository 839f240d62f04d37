#include "rampart/server/router.h"

#include <boost/json/array.hpp>
#include <algorithm>
#include <map>
#include <set>

#include "rampart/core/check.h"

namespace rampart::server {

namespace {

// Splits "/a/b" into {"a", "b"}; "/" into {""}. Expects a leading '/'.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.empty() || path[0] != '/') return segments;
  size_t start = 1;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      segments.push_back(path.substr(start));
      return segments;
    }
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
}

bool IsParamSegment(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

void Router::Add(Route route) {
  RAMPART_CHECK(!route.pattern.empty() && route.pattern[0] == '/');
  RAMPART_CHECK(!route.method.empty());
  RAMPART_CHECK(static_cast<bool>(route.handler) != static_cast<bool>(route.async_handler));
  Compiled compiled;
  for (std::string_view segment : SplitPath(route.pattern)) {
    bool is_param = IsParamSegment(segment);
    if (is_param) segment = segment.substr(1, segment.size() - 2);
    RAMPART_CHECK(!is_param || !segment.empty());
    RAMPART_CHECK(segment.find_first_of("{}") == std::string_view::npos);
    compiled.segments.emplace_back(segment);
    compiled.is_param.push_back(is_param);
  }
  for (const Route& existing : routes_) {
    RAMPART_CHECK(!(existing.method == route.method && existing.pattern == route.pattern));
  }
  routes_.push_back(std::move(route));
  compiled_.push_back(std::move(compiled));
}

const Route* Router::Find(std::string_view method, std::string_view path,
                          std::map<std::string, std::string>* params) const {
  std::vector<std::string_view> raw = SplitPath(path);
  if (raw.empty()) return nullptr;
  // Decode every segment once; a segment that does not decode matches nothing.
  std::vector<std::optional<std::string>> decoded(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string out;
    if (PercentDecode(raw[i], out)) decoded[i] = std::move(out);
  }
  const Route* best = nullptr;
  const Compiled* best_compiled = nullptr;
  for (size_t r = 0; r < routes_.size(); ++r) {
    const Compiled& c = compiled_[r];
    if (c.segments.size() != raw.size()) continue;
    if (!method.empty() && routes_[r].method != method) continue;
    bool ok = true;
    for (size_t i = 0; i < raw.size() && ok; ++i) {
      if (!decoded[i]) {
        ok = false;
      } else if (c.is_param[i]) {
        ok = !decoded[i]->empty() && decoded[i]->find('/') == std::string::npos;
      } else {
        ok = *decoded[i] == c.segments[i];
      }
    }
    if (!ok) continue;
    // Literal beats parameter at the first segment where two matches differ.
    if (best_compiled != nullptr) {
      bool better = false;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (c.is_param[i] != best_compiled->is_param[i]) {
          better = !c.is_param[i];
          break;
        }
      }
      if (!better) continue;
    }
    best = &routes_[r];
    best_compiled = &c;
  }
  if (best != nullptr && params != nullptr) {
    params->clear();
    for (size_t i = 0; i < raw.size(); ++i) {
      if (best_compiled->is_param[i]) (*params)[best_compiled->segments[i]] = *decoded[i];
    }
  }
  return best;
}

const Route* Router::Match(std::string_view method, std::string_view path,
                           std::map<std::string, std::string>& params,
                           bool& method_mismatch) const {
  method_mismatch = false;
  if (method.empty()) return nullptr;
  const Route* route = Find(method, path, &params);
  if (route == nullptr) {
    params.clear();
    method_mismatch = Find("", path, nullptr) != nullptr;
  }
  return route;
}

std::vector<std::string> Router::AllowedMethods(std::string_view path) const {
  std::set<std::string> methods;
  for (const Route& route : routes_) {
    if (methods.count(route.method) != 0) continue;
    if (Find(route.method, path, nullptr) != nullptr) methods.insert(route.method);
  }
  return {methods.begin(), methods.end()};
}

namespace {

std::string LowerMethod(std::string_view method) {
  std::string out(method);
  for (char& ch : out) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return out;
}

boost::json::object ErrorSchema() {
  boost::json::object inner{
      {"type", "object"},
      {"required", boost::json::array{"code", "message", "request_id"}},
      {"properties",
       boost::json::object{{"code", boost::json::object{{"type", "string"}}},
                           {"message", boost::json::object{{"type", "string"}}},
                           {"request_id", boost::json::object{{"type", "string"}}}}}};
  return boost::json::object{{"type", "object"},
                             {"required", boost::json::array{"error"}},
                             {"properties", boost::json::object{{"error", std::move(inner)}}}};
}

boost::json::object ErrorRef(std::string_view description) {
  return boost::json::object{
      {"description", description},
      {"content",
       boost::json::object{
           {"application/json",
            boost::json::object{
                {"schema", boost::json::object{{"$ref", "#/components/schemas/Error"}}}}}}}};
}

}  // namespace

boost::json::object OpenApiDocument(const Router& router, std::string_view title,
                                    std::string_view version) {
  boost::json::object paths;
  for (const Route& route : router.routes()) {
    boost::json::value& slot = paths[route.pattern];
    if (!slot.is_object()) slot.emplace_object();
    boost::json::object& item = slot.as_object();
    boost::json::object op;
    op["operationId"] = route.operation_id;
    if (!route.summary.empty()) op["summary"] = route.summary;
    op["x-rampart-permission"] = route.permission;
    boost::json::array parameters;
    for (std::string_view segment : SplitPath(route.pattern)) {
      if (!IsParamSegment(segment)) continue;
      parameters.push_back(boost::json::object{
          {"name", segment.substr(1, segment.size() - 2)},
          {"in", "path"},
          {"required", true},
          {"schema", boost::json::object{{"type", "string"}}}});
    }
    for (const std::string& name : route.query_parameters) {
      parameters.push_back(boost::json::object{{"name", name},
                                               {"in", "query"},
                                               {"required", false},
                                               {"schema", boost::json::object{{"type", "string"}}}});
    }
    for (const auto& [name, description] : route.header_parameters) {
      parameters.push_back(boost::json::object{{"name", name},
                                               {"in", "header"},
                                               {"required", false},
                                               {"description", description},
                                               {"schema", boost::json::object{{"type", "string"}}}});
    }
    if (!parameters.empty()) op["parameters"] = std::move(parameters);
    if (!route.request_schema.is_null()) {
      boost::json::object content;
      for (const std::string& type : route.request_media_types) {
        content[type] = boost::json::object{{"schema", route.request_schema}};
      }
      op["requestBody"] =
          boost::json::object{{"required", true}, {"content", std::move(content)}};
    }
    if (!route.body_fields.empty()) {
      boost::json::array fields;
      for (const auto& f : route.body_fields) fields.emplace_back(f);
      op["x-rampart-body-fields"] = std::move(fields);
    }
    boost::json::object responses;
    boost::json::object success{{"description", "Success"}};
    if (!route.response_headers.empty()) {
      boost::json::object headers;
      for (const auto& [name, description] : route.response_headers) {
        headers[name] = boost::json::object{
            {"description", description}, {"schema", boost::json::object{{"type", "string"}}}};
      }
      success["headers"] = std::move(headers);
    }
    responses[std::to_string(route.success_status)] = success;
    for (int status : route.other_success_statuses) {
      responses[std::to_string(status)] = success;
    }
    const bool needs_credentials = !route.permission.empty() || route.authenticated;
    responses["400"] = ErrorRef("Invalid request");
    if (needs_credentials) {
      responses["401"] = ErrorRef("Unauthenticated");
      responses["403"] = ErrorRef("Permission denied");
    }
    responses["404"] = ErrorRef("Not found");
    // A state-changing route can meet a conflicting state (an existing id, a replayed
    // delivery, a quota); a route that reads a body refuses one past its limit.
    if (route.method != "GET") {
      responses["409"] = ErrorRef("Conflict");
      if (route.max_body > 0) responses["413"] = ErrorRef("Payload too large");
    }
    responses["429"] = ErrorRef("Rate limited");
    responses["500"] = ErrorRef("Internal error");
    for (int status : route.other_error_statuses) {
      static const std::map<int, std::string_view> kDescriptions = {
          {401, "Unauthenticated"}, {403, "Permission denied"}, {503, "Unavailable"}};
      auto d = kDescriptions.find(status);
      responses[std::to_string(status)] =
          ErrorRef(d != kDescriptions.end() ? d->second : std::string_view("Error"));
    }
    op["responses"] = std::move(responses);
    if (!needs_credentials) op["security"] = boost::json::array{};
    item[LowerMethod(route.method)] = std::move(op);
  }
  boost::json::object doc;
  doc["openapi"] = "3.1.0";
  doc["info"] = boost::json::object{{"title", title}, {"version", version}};
  doc["paths"] = std::move(paths);
  doc["components"] = boost::json::object{
      {"schemas", boost::json::object{{"Error", ErrorSchema()}}},
      {"securitySchemes",
       boost::json::object{
           {"bearerAuth", boost::json::object{{"type", "http"}, {"scheme", "bearer"}}},
           {"cookieAuth", boost::json::object{{"type", "apiKey"},
                                              {"in", "cookie"},
                                              {"name", "rampart_session"}}}}}};
  doc["security"] = boost::json::array{boost::json::object{{"bearerAuth", boost::json::array{}}},
                                       boost::json::object{{"cookieAuth", boost::json::array{}}}};
  return doc;
}

}  // namespace rampart::server
