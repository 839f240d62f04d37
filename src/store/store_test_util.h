// Helpers for tests of the store and its users (test-only; internal to src/).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "rampart/store/store.h"

namespace rampart::store::testing {

// A fresh directory under the test temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "rampart_store_XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline Status StatusOf(const Status& status) { return status; }
template <typename T>
Status StatusOf(const Result<T>& result) {
  return result.ok() ? Status::Ok() : Status(result.error());
}

// Runs f(tx) in a read transaction and returns what it returned.
template <typename F>
auto ReadWith(Store& store, F f) -> decltype(f(std::declval<Tx&>())) {
  std::optional<decltype(f(std::declval<Tx&>()))> out;
  Status status = store.Read([&](Tx& tx) {
    out.emplace(f(tx));
    return Status::Ok();
  });
  EXPECT_TRUE(status.ok());
  return std::move(*out);
}

// Runs f(tx) in a write transaction (rolled back when it fails) and returns its result.
template <typename F>
auto WriteWith(Store& store, F f) -> decltype(f(std::declval<Tx&>())) {
  std::optional<decltype(f(std::declval<Tx&>()))> out;
  Status status = store.Write([&](Tx& tx) {
    out.emplace(f(tx));
    return StatusOf(*out);
  });
  if (!out.has_value()) {
    ADD_FAILURE() << "Write() did not run its function: " << status.error().message;
    std::abort();
  }
  return std::move(*out);
}

}  // namespace rampart::store::testing
