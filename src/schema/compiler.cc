// Compilation: index every schema location of the documents involved (ids, anchors,
// dialect), then turn reachable locations into Nodes with a worklist (no recursion over
// the $ref graph, so cycles are fine), resolving `$ref`s to Node pointers.
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <exception>
#include <unordered_map>
#include <utility>

#include "rampart/core/json.h"
#include "schema/compiled.h"
#include "schema/ecma_regex.h"
#include "schema/metaschemas.h"
#include "schema/uri.h"

namespace rampart::schema {

struct Registry::Impl {
  std::unordered_map<std::string, boost::json::value> documents;  // URI w/o fragment -> schema
};

Registry::Registry() : impl_(std::make_unique<Impl>()) {}
Registry::~Registry() = default;
Registry::Registry(Registry&&) noexcept = default;
Registry& Registry::operator=(Registry&&) noexcept = default;

void Registry::Add(std::string uri, boost::json::value schema) {
  std::string base;
  std::string fragment;
  internal::SplitFragment(uri, &base, &fragment);
  impl_->documents[base] = std::move(schema);
}

namespace internal {
namespace {

constexpr std::string_view kVocabValidation = "https://json-schema.org/draft/2020-12/vocab/validation";
constexpr std::string_view kVocabFormatAssertion =
    "https://json-schema.org/draft/2020-12/vocab/format-assertion";
constexpr std::string_view kVocabValidation2019 = "https://json-schema.org/draft/2019-09/vocab/validation";

struct Dialectics {
  Dialect dialect = Dialect::k2020_12;
  bool validation = true;      // the validation vocabulary is in use
  bool format_assert = false;  // the format-assertion vocabulary is in use
};

// Where a schema location sits: its base URI, resource and dialect.
struct Location {
  Resource* resource = nullptr;
  std::string base;
  Dialectics dialect;
  std::string path;  // schema path for errors
  size_t depth = 0;
};

Error SchemaError(std::string_view path, std::string message) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "invalid schema at " + (path.empty() ? std::string("#") : std::string(path)) +
                       ": " + std::move(message));
}

// Depth of nested arrays/objects, iteratively (a hostile value may nest 10,000 deep).
bool DepthAtMost(const bj::value& root, size_t max_depth) {
  std::vector<std::pair<const bj::value*, size_t>> stack{{&root, 0}};
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (depth > max_depth) return false;
    if (v->is_array()) {
      for (const auto& e : v->get_array()) {
        if (e.is_array() || e.is_object()) stack.emplace_back(&e, depth + 1);
      }
    } else if (v->is_object()) {
      for (const auto& kv : v->get_object()) {
        if (kv.value().is_array() || kv.value().is_object()) stack.emplace_back(&kv.value(), depth + 1);
      }
    }
  }
  return true;
}

std::string StripEmptyFragment(std::string uri) {
  if (!uri.empty() && uri.back() == '#') uri.pop_back();
  return uri;
}

bool KnownDialect(std::string_view uri, Dialect* d) {
  std::string u = StripEmptyFragment(std::string(uri));
  if (u == "https://json-schema.org/draft/2020-12/schema") {
    *d = Dialect::k2020_12;
  } else if (u == "https://json-schema.org/draft/2019-09/schema") {
    *d = Dialect::k2019_09;
  } else if (u == "http://json-schema.org/draft-07/schema" ||
             u == "https://json-schema.org/draft-07/schema" ||
             u == "http://json-schema.org/draft-06/schema") {
    *d = Dialect::k7;
  } else {
    return false;
  }
  return true;
}

bool IsNonNegativeInteger(const bj::value& v, uint64_t* out) {
  if (v.is_uint64()) {
    *out = v.get_uint64();
    return true;
  }
  if (v.is_int64()) {
    if (v.get_int64() < 0) return false;
    *out = static_cast<uint64_t>(v.get_int64());
    return true;
  }
  if (v.is_double()) {
    double d = v.get_double();
    if (!(d >= 0) || std::trunc(d) != d) return false;
    *out = d >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(d);
    return true;
  }
  return false;
}

class Compiler {
 public:
  Compiler(const Options& options, const Registry* registry, CompiledSchema* out)
      : options_(options), registry_(registry), out_(out) {}

  Status CompileRoot(const bj::value& schema) {
    if (!DepthAtMost(schema, options_.max_schema_depth)) {
      return MakeError(ErrorCode::kLimitExceeded, "schema nesting deeper than " +
                                                      std::to_string(options_.max_schema_depth) +
                                                      " levels");
    }
    out_->documents.push_back(std::make_unique<bj::value>(schema));
    const bj::value* root = out_->documents.back().get();
    Dialectics d;
    d.dialect = options_.default_draft == Draft::k7 ? Dialect::k7 : Dialect::k2020_12;
    Status st = IndexDocument(root, "", d, "");
    if (!st.ok()) return st;
    // Compile every location of the root document, so that an invalid subschema is an
    // error even where no $ref reaches it.
    std::vector<const bj::value*> all;
    for (const auto& [v, loc] : locations_) all.push_back(v);
    out_->root = GetNode(root);
    for (const bj::value* v : all) GetNode(v);
    while (true) {
      st = Drain();
      if (!st.ok()) return st;
      if (!uses_dynamic_ref_) break;
      size_t before = nodes_.size();
      for (auto& [resource, anchors] : dynamic_anchor_locations_) {
        for (auto& [name, v] : anchors) {
          resource->dynamic_anchors[name] = GetNode(v);
        }
      }
      if (nodes_.size() == before && worklist_.empty()) break;
    }
    return Status::Ok();
  }

 private:
  Status Drain() {
    while (!worklist_.empty()) {
      auto [node, v] = worklist_.front();
      worklist_.pop_front();
      Status st = CompileNode(node, v);
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  // ---- $schema ----

  Status ResolveDialect(std::string_view uri, const std::string& path, Dialectics* out) {
    Dialect d;
    if (KnownDialect(uri, &d)) {
      *out = Dialectics{d, true, false};
      return Status::Ok();
    }
    // A custom meta-schema: its own $schema gives the dialect, its $vocabulary the
    // vocabularies in use.
    std::string base = StripEmptyFragment(std::string(uri));
    const bj::value* meta = FindDocumentSource(base);
    if (meta == nullptr || !meta->is_object()) {
      return SchemaError(path, "unsupported $schema '" + json::Excerpt(uri) +
                                   "' (not a known dialect nor a registered meta-schema)");
    }
    const bj::object& mo = meta->get_object();
    const bj::value* parent = mo.if_contains("$schema");
    if (parent == nullptr || !parent->is_string() || !KnownDialect(parent->get_string(), &d)) {
      return SchemaError(path, "meta-schema '" + json::Excerpt(uri) + "' has an unsupported $schema");
    }
    *out = Dialectics{d, true, false};
    if (const bj::value* vocab = mo.if_contains("$vocabulary"); vocab && vocab->is_object()) {
      const bj::object& vo = vocab->get_object();
      out->validation = vo.contains(kVocabValidation) || vo.contains(kVocabValidation2019);
      out->format_assert = vo.contains(kVocabFormatAssertion);
    }
    return Status::Ok();
  }

  // A registered or built-in document, not yet copied.
  const bj::value* FindDocumentSource(const std::string& uri) {
    if (registry_ != nullptr) {
      const auto& docs = registry_->impl().documents;
      if (auto it = docs.find(uri); it != docs.end()) return &it->second;
    }
    if (auto it = builtin_.find(uri); it != builtin_.end()) return &it->second;
    for (const auto& m : BuiltinMetaschemas()) {
      if (m.uri == uri) {
        auto parsed = json::Parse(m.json, json::ParseLimits{1 << 20, 64});
        if (!parsed.ok()) return nullptr;
        auto [it, inserted] = builtin_.emplace(uri, std::move(parsed).value());
        return &it->second;
      }
    }
    return nullptr;
  }

  // ---- indexing ----

  Status IndexDocument(const bj::value* doc, const std::string& uri, Dialectics d,
                       const std::string& path_prefix) {
    auto res = std::make_unique<Resource>();
    res->uri = uri;
    Resource* resource = res.get();
    out_->resources.push_back(std::move(res));
    uris_[uri] = doc;
    Location loc;
    loc.resource = resource;
    loc.base = uri;
    loc.dialect = d;
    loc.path = path_prefix;
    loc.depth = 0;
    return Index(doc, loc);
  }

  Status Index(const bj::value* v, Location loc) {
    if (loc.depth > options_.max_schema_depth) {
      return MakeError(ErrorCode::kLimitExceeded, "schema nesting deeper than " +
                                                      std::to_string(options_.max_schema_depth) +
                                                      " levels");
    }
    if (locations_.count(v) != 0) return Status::Ok();
    if (!v->is_object()) {
      if (v->is_bool()) locations_.emplace(v, loc);
      return Status::Ok();
    }
    const bj::object& o = v->get_object();
    if (const bj::value* s = o.if_contains("$schema"); s != nullptr && s->is_string()) {
      Status st = ResolveDialect(s->get_string(), loc.path, &loc.dialect);
      if (!st.ok()) return st;
    }
    Dialect d = loc.dialect.dialect;
    const bj::value* id = o.if_contains("$id");
    if (d == Dialect::k7 && o.contains("$ref")) id = nullptr;  // $ref hides siblings in draft-7
    if (id != nullptr && id->is_string()) {
      std::string text(id->get_string());
      if (d == Dialect::k7 && !text.empty() && text[0] == '#') {
        uris_[loc.base + text] = v;  // draft-7 plain-name fragment: an anchor
      } else {
        std::string resolved = ResolveUri(loc.base, text);
        std::string base;
        std::string fragment;
        SplitFragment(resolved, &base, &fragment);
        if (base != loc.base) {
          auto res = std::make_unique<Resource>();
          res->uri = base;
          loc.resource = res.get();
          out_->resources.push_back(std::move(res));
        }
        loc.base = base;
        uris_[base] = v;
        if (!fragment.empty() && d == Dialect::k7) uris_[base + "#" + fragment] = v;
      }
    }
    if (d != Dialect::k7) {
      if (const bj::value* a = o.if_contains("$anchor"); a != nullptr && a->is_string()) {
        uris_[loc.base + "#" + std::string(a->get_string())] = v;
      }
      if (d == Dialect::k2020_12) {
        if (const bj::value* a = o.if_contains("$dynamicAnchor"); a != nullptr && a->is_string()) {
          std::string name(a->get_string());
          uris_[loc.base + "#" + name] = v;
          dynamic_anchor_locations_[loc.resource].emplace_back(name, v);
        }
      }
    }
    locations_.emplace(v, loc);

    Location child = loc;
    child.depth = loc.depth + 1;
    auto single = [&](std::string_view kw) -> Status {
      if (const bj::value* s = o.if_contains(kw)) {
        child.path = json::PointerAppend(loc.path, kw);
        return Index(s, child);
      }
      return Status::Ok();
    };
    auto map = [&](std::string_view kw) -> Status {
      if (const bj::value* m = o.if_contains(kw); m != nullptr && m->is_object()) {
        for (const auto& kv : m->get_object()) {
          child.path = json::PointerAppend(json::PointerAppend(loc.path, kw), kv.key());
          Status st = Index(&kv.value(), child);
          if (!st.ok()) return st;
        }
      }
      return Status::Ok();
    };
    auto array = [&](std::string_view kw) -> Status {
      if (const bj::value* a = o.if_contains(kw); a != nullptr && a->is_array()) {
        size_t i = 0;
        for (const auto& e : a->get_array()) {
          child.path = json::PointerAppend(json::PointerAppend(loc.path, kw), i++);
          Status st = Index(&e, child);
          if (!st.ok()) return st;
        }
      }
      return Status::Ok();
    };
    static constexpr std::string_view kSingles[] = {
        "additionalProperties", "unevaluatedProperties", "unevaluatedItems", "additionalItems",
        "contains", "propertyNames", "not", "if", "then", "else"};
    static constexpr std::string_view kMaps[] = {"$defs", "definitions", "properties",
                                                 "patternProperties", "dependentSchemas",
                                                 "dependencies"};
    static constexpr std::string_view kArrays[] = {"allOf", "anyOf", "oneOf", "prefixItems"};
    for (auto kw : kSingles) {
      Status st = single(kw);
      if (!st.ok()) return st;
    }
    for (auto kw : kMaps) {
      Status st = map(kw);
      if (!st.ok()) return st;
    }
    for (auto kw : kArrays) {
      Status st = array(kw);
      if (!st.ok()) return st;
    }
    if (const bj::value* items = o.if_contains("items")) {
      Status st = items->is_array() ? array("items") : single("items");
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  // ---- $ref resolution ----

  Result<const bj::value*> Resolve(std::string_view ref, const Location& loc,
                                   const std::string& keyword_path) {
    std::string absolute = ResolveUri(loc.base, ref);
    std::string doc_uri;
    std::string fragment;
    SplitFragment(absolute, &doc_uri, &fragment);
    fragment = PercentDecode(fragment);
    auto it = uris_.find(doc_uri);
    if (it == uris_.end()) {
      const bj::value* source = FindDocumentSource(doc_uri);
      if (source == nullptr) {
        if (HasScheme(doc_uri) && doc_uri.rfind("urn:", 0) != 0) {
          return SchemaError(keyword_path,
                             "remote $ref '" + json::Excerpt(absolute) +
                                 "' is not registered (Rampart never fetches schemas over the "
                                 "network; register it in a schema::Registry)");
        }
        return SchemaError(keyword_path, "unresolvable $ref '" + json::Excerpt(absolute) + "'");
      }
      if (!DepthAtMost(*source, options_.max_schema_depth)) {
        return MakeError(ErrorCode::kLimitExceeded,
                         "referenced schema '" + json::Excerpt(doc_uri) + "' nests too deeply");
      }
      out_->documents.push_back(std::make_unique<bj::value>(*source));
      const bj::value* doc = out_->documents.back().get();
      Dialectics d = loc.dialect;
      d.validation = true;
      d.format_assert = false;
      Status st = IndexDocument(doc, doc_uri, d, doc_uri + "#");
      if (!st.ok()) return st.error();
      uris_[doc_uri] = doc;
      it = uris_.find(doc_uri);
    }
    const bj::value* target = it->second;
    if (fragment.empty()) return target;
    if (fragment[0] != '/') {
      auto a = uris_.find(doc_uri + "#" + fragment);
      if (a == uris_.end()) {
        return SchemaError(keyword_path, "unresolvable $ref '" + json::Excerpt(absolute) +
                                             "': no such anchor");
      }
      return a->second;
    }
    // JSON Pointer, walked from the resource; locations not indexed yet (e.g. under an
    // unknown keyword) are indexed on the way with the nearest enclosing location.
    const Location* nearest = &locations_.at(target);
    std::string path = nearest->path;
    size_t steps = 0;
    size_t start = 1;
    while (start <= fragment.size()) {
      size_t slash = fragment.find('/', start);
      if (slash == std::string::npos) slash = fragment.size();
      std::string token;
      for (size_t i = start; i < slash; ++i) {
        if (fragment[i] == '~' && i + 1 < slash && (fragment[i + 1] == '0' || fragment[i + 1] == '1')) {
          token += fragment[i + 1] == '0' ? '~' : '/';
          ++i;
        } else {
          token += fragment[i];
        }
      }
      const bj::value* next = nullptr;
      if (target->is_object()) {
        next = target->get_object().if_contains(token);
      } else if (target->is_array()) {
        char* end = nullptr;
        unsigned long long idx = std::strtoull(token.c_str(), &end, 10);
        bool numeric = !token.empty() && *end == '\0' && (token == "0" || token[0] != '0');
        if (numeric && idx < target->get_array().size()) next = &target->get_array()[idx];
      }
      if (next == nullptr) {
        return SchemaError(keyword_path, "unresolvable $ref '" + json::Excerpt(absolute) +
                                             "': no such location");
      }
      target = next;
      path = json::PointerAppend(path, token);
      ++steps;
      if (auto l = locations_.find(target); l != locations_.end()) {
        nearest = &l->second;
        path = nearest->path;
        steps = 0;
      }
      start = slash + 1;
    }
    if (locations_.count(target) == 0) {
      Location loc2 = *nearest;
      loc2.path = path;
      loc2.depth = nearest->depth + steps;
      Status st = Index(target, loc2);
      if (!st.ok()) return st.error();
    }
    return target;
  }

  // ---- nodes ----

  const Node* GetNode(const bj::value* v) {
    if (auto it = nodes_.find(v); it != nodes_.end()) return it->second;
    auto node = std::make_unique<Node>();
    Node* raw = node.get();
    out_->nodes.push_back(std::move(node));
    nodes_[v] = raw;
    worklist_.emplace_back(raw, v);
    return raw;
  }

  // A subschema reached through a keyword: must be a schema (object or boolean).
  Result<const Node*> Sub(const bj::value* v, const std::string& path) {
    if (!v->is_object() && !v->is_bool()) {
      return SchemaError(path, "expected a schema (object or boolean), got " +
                                   std::string(json::TypeName(*v)));
    }
    if (locations_.count(v) == 0) return SchemaError(path, "subschema was not indexed");
    return GetNode(v);
  }

  Status CompileNode(Node* node, const bj::value* v) {
    Status st = CompileKeywords(node, v);
    if (!st.ok()) return st;
    node->leaf = true;
    for (const Keyword& k : node->keywords) {
      switch (k.kind) {
        case Kw::kObject: case Kw::kPropertyNames: case Kw::kDependentSchemas:
        case Kw::kPrefixItems: case Kw::kItems: case Kw::kContains: case Kw::kRef:
        case Kw::kDynamicRef: case Kw::kAllOf: case Kw::kAnyOf: case Kw::kOneOf: case Kw::kNot:
        case Kw::kIf: case Kw::kUnevaluatedItems: case Kw::kUnevaluatedProperties:
          node->leaf = false;
          break;
        default:
          break;
      }
    }
    return Status::Ok();
  }

  Status CompileKeywords(Node* node, const bj::value* v) {
    const Location& loc = locations_.at(v);
    node->path = loc.path;
    node->resource = loc.resource;
    if (v->is_bool()) {
      if (!v->get_bool()) {
        Keyword k;
        k.kind = Kw::kFalse;
        k.name = "false";
        k.path = loc.path;
        node->keywords.push_back(std::move(k));
        node->always_false = true;
      }
      return Status::Ok();
    }
    if (!v->is_object()) {
      return SchemaError(loc.path, "expected a schema (object or boolean), got " +
                                       std::string(json::TypeName(*v)));
    }
    const bj::object& o = v->get_object();
    Dialect d = loc.dialect.dialect;
    bool validation = loc.dialect.validation;
    auto path_of = [&](std::string_view kw) { return json::PointerAppend(loc.path, kw); };
    auto add = [&](Kw kind, const char* name) -> Keyword& {
      Keyword k;
      k.kind = kind;
      k.name = name;
      k.path = path_of(name);
      node->keywords.push_back(std::move(k));
      return node->keywords.back();
    };
    auto count_kw = [&](const char* name, Kw kind) -> Status {
      const bj::value* x = o.if_contains(name);
      if (x == nullptr) return Status::Ok();
      uint64_t n = 0;
      if (!IsNonNegativeInteger(*x, &n)) return SchemaError(path_of(name), "must be a non-negative integer");
      add(kind, name).count = n;
      return Status::Ok();
    };
#define RAMPART_TRY(expr)             \
  do {                                \
    Status st_ = (expr);              \
    if (!st_.ok()) return st_;        \
  } while (false)

    bool ref_only = d == Dialect::k7 && o.contains("$ref");

    if (!ref_only && validation) {
      if (const bj::value* t = o.if_contains("type")) {
        uint32_t mask = 0;
        auto bit = [&](std::string_view name) -> uint32_t {
          if (name == "null") return kTypeNull;
          if (name == "boolean") return kTypeBoolean;
          if (name == "object") return kTypeObject;
          if (name == "array") return kTypeArray;
          if (name == "number") return kTypeNumber | kTypeInteger;
          if (name == "string") return kTypeString;
          if (name == "integer") return kTypeInteger;
          return 0;
        };
        if (t->is_string()) {
          mask = bit(t->get_string());
          if (mask == 0) return SchemaError(path_of("type"), "unknown type '" + json::Excerpt(t->get_string()) + "'");
        } else if (t->is_array()) {
          for (const auto& e : t->get_array()) {
            uint32_t b = e.is_string() ? bit(e.get_string()) : 0;
            if (b == 0) return SchemaError(path_of("type"), "invalid type name");
            mask |= b;
          }
        } else {
          return SchemaError(path_of("type"), "must be a string or an array of strings");
        }
        add(Kw::kType, "type").types = mask;
      }
      if (const bj::value* c = o.if_contains("const")) add(Kw::kConst, "const").value = c;
      if (const bj::value* e = o.if_contains("enum")) {
        if (!e->is_array()) return SchemaError(path_of("enum"), "must be an array");
        add(Kw::kEnum, "enum").value = e;
      }
      if (const bj::value* m = o.if_contains("multipleOf")) {
        if (!m->is_number() || !(m->to_number<double>() > 0)) {
          return SchemaError(path_of("multipleOf"), "must be a number greater than 0");
        }
        add(Kw::kMultipleOf, "multipleOf").value = m;
      }
      static constexpr std::pair<const char*, Kw> kLimits[] = {
          {"maximum", Kw::kMaximum},
          {"exclusiveMaximum", Kw::kExclusiveMaximum},
          {"minimum", Kw::kMinimum},
          {"exclusiveMinimum", Kw::kExclusiveMinimum}};
      for (const auto& [name, kind] : kLimits) {
        if (const bj::value* x = o.if_contains(name)) {
          if (!x->is_number()) return SchemaError(path_of(name), "must be a number");
          add(kind, name).value = x;
        }
      }
      RAMPART_TRY(count_kw("maxLength", Kw::kMaxLength));
      RAMPART_TRY(count_kw("minLength", Kw::kMinLength));
      if (const bj::value* p = o.if_contains("pattern")) {
        if (!p->is_string()) return SchemaError(path_of("pattern"), "must be a string");
        Keyword& k = add(Kw::kPattern, "pattern");
        k.source = std::string(p->get_string());
        auto re = CompileRegex(k.source, k.path);
        if (!re.ok()) return re.error();
        k.regex = std::move(re).value();
      }
      RAMPART_TRY(count_kw("maxItems", Kw::kMaxItems));
      RAMPART_TRY(count_kw("minItems", Kw::kMinItems));
      if (const bj::value* u = o.if_contains("uniqueItems")) {
        if (!u->is_bool()) return SchemaError(path_of("uniqueItems"), "must be a boolean");
        if (u->get_bool()) add(Kw::kUniqueItems, "uniqueItems");
      }
      RAMPART_TRY(count_kw("maxProperties", Kw::kMaxProperties));
      RAMPART_TRY(count_kw("minProperties", Kw::kMinProperties));
      if (const bj::value* r = o.if_contains("required")) {
        if (!r->is_array()) return SchemaError(path_of("required"), "must be an array of strings");
        Keyword k;
        for (const auto& e : r->get_array()) {
          if (!e.is_string()) return SchemaError(path_of("required"), "must be an array of strings");
          k.names.emplace_back(e.get_string());
        }
        if (!k.names.empty()) {
          Keyword& added = add(Kw::kRequired, "required");
          added.names = std::move(k.names);
        }
      }
      if (d != Dialect::k7) {
        if (const bj::value* dr = o.if_contains("dependentRequired")) {
          if (!dr->is_object()) return SchemaError(path_of("dependentRequired"), "must be an object");
          Keyword& k = add(Kw::kDependentRequired, "dependentRequired");
          for (const auto& kv : dr->get_object()) {
            DependentRequired dep;
            dep.property = std::string(kv.key());
            if (!kv.value().is_array()) return SchemaError(k.path, "members must be arrays of strings");
            for (const auto& e : kv.value().get_array()) {
              if (!e.is_string()) return SchemaError(k.path, "members must be arrays of strings");
              dep.required.emplace_back(e.get_string());
            }
            k.dependent_required.push_back(std::move(dep));
          }
        }
      }
    }
    if (!ref_only) {
      if (const bj::value* f = o.if_contains("format")) {
        bool assert = options_.format == FormatMode::kAssert || loc.dialect.format_assert;
        if (f->is_string()) {
          FormatKind kind = LookupFormat(f->get_string());
          if (assert && kind != FormatKind::kUnknown) {
            Keyword& k = add(Kw::kFormat, "format");
            k.format = kind;
            k.source = std::string(f->get_string());
          }
        }
      }
    }

    if (!ref_only && d == Dialect::k7) {
      // Draft-7 lets content keywords assert; 2019-09 and later make them annotations.
      const bj::value* enc = o.if_contains("contentEncoding");
      const bj::value* media = o.if_contains("contentMediaType");
      bool base64 = enc != nullptr && enc->is_string() && enc->get_string() == "base64";
      bool json_media = media != nullptr && media->is_string() && media->get_string() == "application/json";
      if (base64 || json_media) {
        Keyword& k = add(Kw::kContent, base64 ? "contentEncoding" : "contentMediaType");
        k.flag = base64;
        k.source = json_media ? "application/json" : "";
      }
    }

    if (!ref_only) {
      // Object applicators.
      const bj::value* props = o.if_contains("properties");
      const bj::value* pattern_props = o.if_contains("patternProperties");
      const bj::value* additional = o.if_contains("additionalProperties");
      if (props != nullptr || pattern_props != nullptr || additional != nullptr) {
        auto group = std::make_unique<ObjectGroup>();
        group->properties_path = path_of("properties");
        if (props != nullptr) {
          if (!props->is_object()) return SchemaError(path_of("properties"), "must be an object");
          for (const auto& kv : props->get_object()) {
            auto sub = Sub(&kv.value(), json::PointerAppend(path_of("properties"), kv.key()));
            if (!sub.ok()) return sub.error();
            group->index.emplace(std::string_view(kv.key()),
                                 static_cast<uint32_t>(group->properties.size()));
            group->properties.push_back(PropertyEntry{std::string_view(kv.key()), *sub});
          }
        }
        if (pattern_props != nullptr) {
          if (!pattern_props->is_object()) {
            return SchemaError(path_of("patternProperties"), "must be an object");
          }
          for (const auto& kv : pattern_props->get_object()) {
            std::string p = json::PointerAppend(path_of("patternProperties"), kv.key());
            auto sub = Sub(&kv.value(), p);
            if (!sub.ok()) return sub.error();
            auto re = CompileRegex(kv.key(), p);
            if (!re.ok()) return re.error();
            PatternEntry e;
            e.regex = std::move(re).value();
            e.source = std::string(kv.key());
            e.node = *sub;
            e.path = p;
            group->patterns.push_back(std::move(e));
          }
        }
        if (additional != nullptr) {
          group->additional_path = path_of("additionalProperties");
          auto sub = Sub(additional, group->additional_path);
          if (!sub.ok()) return sub.error();
          group->additional = *sub;
        }
        // Fold `required` into the object pass when it only names declared properties
        // (and there are at most 64 of them): one lookup per member instead of one per name.
        for (auto kw = node->keywords.begin(); kw != node->keywords.end(); ++kw) {
          if (kw->kind != Kw::kRequired || group->properties.size() > 64) continue;
          std::vector<uint32_t> positions;
          for (const auto& name : kw->names) {
            auto found = group->index.find(name);
            if (found == group->index.end()) break;
            positions.push_back(found->second);
          }
          if (positions.size() != kw->names.size()) break;
          for (uint32_t p : positions) group->required_mask |= uint64_t{1} << p;
          group->required = std::move(positions);
          group->required_path = kw->path;
          node->keywords.erase(kw);
          break;
        }
        Keyword& k = add(Kw::kObject, props != nullptr ? "properties" : pattern_props != nullptr
                                                                          ? "patternProperties"
                                                                          : "additionalProperties");
        k.object = std::move(group);
      }
      if (const bj::value* pn = o.if_contains("propertyNames")) {
        auto sub = Sub(pn, path_of("propertyNames"));
        if (!sub.ok()) return sub.error();
        add(Kw::kPropertyNames, "propertyNames").child = *sub;
      }
      if (d != Dialect::k7) {
        if (const bj::value* ds = o.if_contains("dependentSchemas")) {
          if (!ds->is_object()) return SchemaError(path_of("dependentSchemas"), "must be an object");
          Keyword& k = add(Kw::kDependentSchemas, "dependentSchemas");
          for (const auto& kv : ds->get_object()) {
            auto sub = Sub(&kv.value(), json::PointerAppend(k.path, kv.key()));
            if (!sub.ok()) return sub.error();
            k.dependent_schemas.push_back(DependentSchema{std::string(kv.key()), *sub});
          }
        }
      }
      if (const bj::value* deps = o.if_contains("dependencies")) {
        // draft-7 (and the 2019+ compatibility reading): arrays are dependentRequired,
        // schemas are dependentSchemas.
        if (!deps->is_object()) return SchemaError(path_of("dependencies"), "must be an object");
        Keyword req;
        Keyword sch;
        for (const auto& kv : deps->get_object()) {
          std::string p = json::PointerAppend(path_of("dependencies"), kv.key());
          if (kv.value().is_array()) {
            DependentRequired dep;
            dep.property = std::string(kv.key());
            for (const auto& e : kv.value().get_array()) {
              if (!e.is_string()) return SchemaError(p, "must be an array of strings");
              dep.required.emplace_back(e.get_string());
            }
            req.dependent_required.push_back(std::move(dep));
          } else {
            auto sub = Sub(&kv.value(), p);
            if (!sub.ok()) return sub.error();
            sch.dependent_schemas.push_back(DependentSchema{std::string(kv.key()), *sub});
          }
        }
        if (!req.dependent_required.empty() && validation) {
          add(Kw::kDependentRequired, "dependencies").dependent_required =
              std::move(req.dependent_required);
        }
        if (!sch.dependent_schemas.empty()) {
          add(Kw::kDependentSchemas, "dependencies").dependent_schemas =
              std::move(sch.dependent_schemas);
        }
      }

      // Array applicators.
      const bj::value* items = o.if_contains("items");
      size_t prefix = 0;
      if (d == Dialect::k2020_12) {
        if (const bj::value* pi = o.if_contains("prefixItems")) {
          if (!pi->is_array()) return SchemaError(path_of("prefixItems"), "must be an array");
          Keyword& k = add(Kw::kPrefixItems, "prefixItems");
          size_t i = 0;
          for (const auto& e : pi->get_array()) {
            auto sub = Sub(&e, json::PointerAppend(k.path, i++));
            if (!sub.ok()) return sub.error();
            k.children.push_back(*sub);
          }
          prefix = k.children.size();
        }
        if (items != nullptr) {
          auto sub = Sub(items, path_of("items"));
          if (!sub.ok()) return sub.error();
          Keyword& k = add(Kw::kItems, "items");
          k.child = *sub;
          k.count = prefix;
        }
      } else if (items != nullptr) {
        if (items->is_array()) {
          Keyword& k = add(Kw::kPrefixItems, "items");
          size_t i = 0;
          for (const auto& e : items->get_array()) {
            auto sub = Sub(&e, json::PointerAppend(k.path, i++));
            if (!sub.ok()) return sub.error();
            k.children.push_back(*sub);
          }
          prefix = k.children.size();
          if (const bj::value* ai = o.if_contains("additionalItems")) {
            auto sub2 = Sub(ai, path_of("additionalItems"));
            if (!sub2.ok()) return sub2.error();
            Keyword& k2 = add(Kw::kItems, "additionalItems");
            k2.child = *sub2;
            k2.count = prefix;
          }
        } else {
          auto sub = Sub(items, path_of("items"));
          if (!sub.ok()) return sub.error();
          Keyword& k = add(Kw::kItems, "items");
          k.child = *sub;
          k.count = 0;
        }
      }
      if (const bj::value* c = o.if_contains("contains")) {
        auto sub = Sub(c, path_of("contains"));
        if (!sub.ok()) return sub.error();
        uint64_t min_contains = 1;
        uint64_t max_contains = 0;
        bool has_max = false;
        if (d != Dialect::k7 && validation) {
          if (const bj::value* x = o.if_contains("minContains")) {
            if (!IsNonNegativeInteger(*x, &min_contains)) {
              return SchemaError(path_of("minContains"), "must be a non-negative integer");
            }
          }
          if (const bj::value* x = o.if_contains("maxContains")) {
            if (!IsNonNegativeInteger(*x, &max_contains)) {
              return SchemaError(path_of("maxContains"), "must be a non-negative integer");
            }
            has_max = true;
          }
        }
        Keyword& k = add(Kw::kContains, "contains");
        k.child = *sub;
        k.count = min_contains;
        k.count2 = max_contains;
        k.flag = has_max;
      }
    }

    // $ref (and $dynamicRef).
    if (const bj::value* r = o.if_contains("$ref")) {
      if (!r->is_string()) return SchemaError(path_of("$ref"), "must be a string");
      std::string p = path_of("$ref");
      auto target = Resolve(r->get_string(), loc, p);
      if (!target.ok()) return target.error();
      auto sub = Sub(*target, p);
      if (!sub.ok()) return sub.error();
      add(Kw::kRef, "$ref").child = *sub;
    }
    if (!ref_only && d == Dialect::k2020_12) {
      if (const bj::value* r = o.if_contains("$dynamicRef")) {
        if (!r->is_string()) return SchemaError(path_of("$dynamicRef"), "must be a string");
        std::string p = path_of("$dynamicRef");
        auto target = Resolve(r->get_string(), loc, p);
        if (!target.ok()) return target.error();
        auto sub = Sub(*target, p);
        if (!sub.ok()) return sub.error();
        Keyword& k = add(Kw::kDynamicRef, "$dynamicRef");
        k.child = *sub;
        // Dynamic only if the initial target carries a matching $dynamicAnchor.
        std::string text(r->get_string());
        size_t hash = text.find('#');
        std::string name = hash == std::string::npos ? "" : text.substr(hash + 1);
        if (!name.empty() && name[0] != '/' && (*target)->is_object()) {
          const bj::value* anchor = (*target)->get_object().if_contains("$dynamicAnchor");
          if (anchor != nullptr && anchor->is_string() && anchor->get_string() == name) {
            k.source = name;
            uses_dynamic_ref_ = true;
          }
        }
      }
    }

    if (!ref_only) {
      static constexpr std::pair<const char*, Kw> kCombinators[] = {
          {"allOf", Kw::kAllOf}, {"anyOf", Kw::kAnyOf}, {"oneOf", Kw::kOneOf}};
      for (const auto& [name, kind] : kCombinators) {
        if (const bj::value* a = o.if_contains(name)) {
          if (!a->is_array() || a->get_array().empty()) {
            return SchemaError(path_of(name), "must be a non-empty array");
          }
          Keyword& k = add(kind, name);
          size_t i = 0;
          for (const auto& e : a->get_array()) {
            auto sub = Sub(&e, json::PointerAppend(k.path, i++));
            if (!sub.ok()) return sub.error();
            k.children.push_back(*sub);
          }
        }
      }
      if (const bj::value* n = o.if_contains("not")) {
        auto sub = Sub(n, path_of("not"));
        if (!sub.ok()) return sub.error();
        add(Kw::kNot, "not").child = *sub;
      }
      if (const bj::value* i = o.if_contains("if")) {
        auto sub = Sub(i, path_of("if"));
        if (!sub.ok()) return sub.error();
        const Node* then_node = nullptr;
        const Node* else_node = nullptr;
        if (const bj::value* t = o.if_contains("then")) {
          auto s2 = Sub(t, path_of("then"));
          if (!s2.ok()) return s2.error();
          then_node = *s2;
        }
        if (const bj::value* e = o.if_contains("else")) {
          auto s3 = Sub(e, path_of("else"));
          if (!s3.ok()) return s3.error();
          else_node = *s3;
        }
        Keyword& k = add(Kw::kIf, "if");
        k.child = *sub;
        k.then_node = then_node;
        k.else_node = else_node;
      }
      if (d != Dialect::k7) {
        if (const bj::value* u = o.if_contains("unevaluatedItems")) {
          auto sub = Sub(u, path_of("unevaluatedItems"));
          if (!sub.ok()) return sub.error();
          add(Kw::kUnevaluatedItems, "unevaluatedItems").child = *sub;
          node->unevaluated_items = true;
        }
        if (const bj::value* u = o.if_contains("unevaluatedProperties")) {
          auto sub = Sub(u, path_of("unevaluatedProperties"));
          if (!sub.ok()) return sub.error();
          add(Kw::kUnevaluatedProperties, "unevaluatedProperties").child = *sub;
          node->unevaluated_properties = true;
        }
      }
    }
#undef RAMPART_TRY
    return Status::Ok();
  }

  // Bounds on the regular expressions of one schema: RE2 keeps each program, and a DFA
  // cache of up to ~1/3 of its 8 MiB budget, for the validator's lifetime.
  static constexpr size_t kMaxRegexes = 1000;
  static constexpr int64_t kMaxRegexProgramTotal = 4'000'000;  // RE2 instructions

  Result<std::shared_ptr<const CompiledPattern>> CompileRegex(std::string_view source, const std::string& path) {
    auto cached = regexes_.find(std::string(source));
    if (cached != regexes_.end()) return cached->second;
    RegexTranslation t = TranslateEcmaRegex(source);
    if (t.status == RegexStatus::kInvalid) {
      return SchemaError(path, "invalid ECMA-262 regular expression '" + json::Excerpt(source) +
                                   "': " + t.message);
    }
    if (t.status == RegexStatus::kUnsupported) {
      return SchemaError(path, "regular expression '" + json::Excerpt(source) +
                                   "' is not supported: " + t.message);
    }
    if (regexes_.size() >= kMaxRegexes) {
      return MakeError(ErrorCode::kLimitExceeded,
                       "schema has more than " + std::to_string(kMaxRegexes) + " distinct patterns");
    }
    RE2::Options opts;
    opts.set_log_errors(false);
    opts.set_encoding(RE2::Options::EncodingUTF8);
    auto re = std::make_unique<const RE2>(t.re2, opts);
    if (!re->ok()) {
      return SchemaError(path, "regular expression '" + json::Excerpt(source) +
                                   "' is not supported by RE2: " + json::Excerpt(re->error()));
    }
    regex_program_total_ += re->ProgramSize();
    if (regex_program_total_ > kMaxRegexProgramTotal) {
      return MakeError(ErrorCode::kLimitExceeded, "the schema's patterns are too large in total");
    }
    auto compiled = std::make_shared<CompiledPattern>();
    compiled->re2 = std::move(re);
    compiled->has_simple = BuildSimplePattern(source, &compiled->simple);
    regexes_.emplace(std::string(source), compiled);
    return std::shared_ptr<const CompiledPattern>(std::move(compiled));
  }

  const Options& options_;
  const Registry* registry_;
  CompiledSchema* out_;
  std::unordered_map<const bj::value*, Location> locations_;
  std::unordered_map<std::string, const bj::value*> uris_;
  std::unordered_map<const bj::value*, Node*> nodes_;
  std::deque<std::pair<Node*, const bj::value*>> worklist_;
  std::unordered_map<Resource*, std::vector<std::pair<std::string, const bj::value*>>>
      dynamic_anchor_locations_;
  std::unordered_map<std::string, bj::value> builtin_;
  bool uses_dynamic_ref_ = false;
  std::unordered_map<std::string, std::shared_ptr<const CompiledPattern>> regexes_;
  int64_t regex_program_total_ = 0;
};

}  // namespace
}  // namespace internal

Result<Validator> Validator::Compile(const boost::json::value& schema, const Options& options,
                                     const Registry* registry) {
  try {
    auto compiled = std::make_shared<internal::CompiledSchema>();
    compiled->options = options;
    internal::Compiler compiler(compiled->options, registry, compiled.get());
    Status st = compiler.CompileRoot(schema);
    if (!st.ok()) return st.error();
    Validator v;
    v.compiled_ = std::move(compiled);
    return v;
  } catch (const std::exception&) {
    return MakeError(ErrorCode::kInternal, "schema compilation failed (out of memory)");
  }
}

bool Validator::Validate(const boost::json::value& instance,
                         std::vector<ValidationError>* errors) const {
  if (compiled_ == nullptr) return false;
  try {
    return internal::Evaluate(*compiled_, instance, errors);
  } catch (const std::exception&) {
    if (errors != nullptr) {
      errors->push_back(ValidationError{"", "", "", "validation failed (out of memory)"});
    }
    return false;
  }
}

}  // namespace rampart::schema
