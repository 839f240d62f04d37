// Result<T>: a value or an Error, Rampart's replacement for exceptions across module
// boundaries (g++ 12 has no std::expected in C++20 mode).
//
// Accessing value() of a failed result, or error() of a successful one, is a broken
// invariant and aborts through RAMPART_CHECK, in release builds too.
#pragma once

#include <type_traits>
#include <utility>
#include <variant>

#include "rampart/core/check.h"
#include "rampart/core/error.h"

namespace rampart {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    RAMPART_CHECK(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    RAMPART_CHECK(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    RAMPART_CHECK(ok());
    return std::get<0>(std::move(state_));
  }
  const Error& error() const& {
    RAMPART_CHECK(!ok());
    return std::get<1>(state_);
  }
  Error&& error() && {
    RAMPART_CHECK(!ok());
    return std::get<1>(std::move(state_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Error> state_;
};

// Status: success or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  static Status Ok() { return Status(); }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    RAMPART_CHECK(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace rampart
