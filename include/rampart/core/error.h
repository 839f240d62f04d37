// The closed set of error codes Rampart reports, and the Error value that carries one.
//
// Every code here is part of the external contract (spec/interfaces.md, workflow.md,
// expressions.md, security.md): its text form is what users, scripts and tests see.
// Messages must be safe to show a user: no secret values, file paths of the host,
// stack traces or internal SQL.
#pragma once

#include <string>
#include <string_view>

namespace rampart {

enum class ErrorCode {
  // API-level codes (spec/interfaces.md).
  kInvalidArgument,
  kInvalidDefinition,
  kUnauthenticated,
  kPermissionDenied,
  kNotFound,
  kConflict,
  kPayloadTooLarge,
  kRateLimited,
  kInternal,
  // Definition and run codes (spec/workflow.md, spec/expressions.md).
  kInvalidExpression,
  kInvalidInput,
  kLimitExceeded,
  kForbiddenSecretAccess,
  kTimeout,
  kStepFailed,
  kActionFailed,
  kUnknownAction,
  kInterrupted,
  kCancelled,
  kApprovalRejected,  // an approver rejected the run's approval step
  // Expression evaluation codes.
  kTypeError,
  kDivisionByZero,
  kExpressionLimit,
  kUnknownFilter,
  kInvalidRegex,
  // Security codes.
  kSecretExposure,
  kSsrfBlocked,
  kStatementNotAllowed,
};

// The stable snake_case name of a code, e.g. "limit_exceeded".
std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  std::string_view code_name() const { return ErrorCodeName(code); }
};

inline Error MakeError(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace rampart
