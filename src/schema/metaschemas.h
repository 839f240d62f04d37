// Built-in meta-schemas: `$ref`/`$schema` targets every validator must know without
// fetching anything.
#pragma once

#include <string_view>
#include <vector>

namespace rampart::schema::internal {

struct MetaschemaText {
  std::string_view uri;   // without fragment
  std::string_view json;  // compact JSON text
};

const std::vector<MetaschemaText>& BuiltinMetaschemas();

}  // namespace rampart::schema::internal
