#include "rampart/core/result.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace rampart {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return MakeError(ErrorCode::kInvalidArgument, "odd");
  return v / 2;
}

TEST(ResultTest, CarriesValueOrError) {
  auto ok = Half(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = Half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().code_name(), "invalid_argument");
  EXPECT_EQ(bad.error().message, "odd");
}

TEST(ResultTest, StatusDefaultsToOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  Status e = MakeError(ErrorCode::kTimeout, "late");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.error().code_name(), "timeout");
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  auto bad = Half(1);
  EXPECT_DEATH({ (void)bad.value(); }, "RAMPART_CHECK failed");
}

TEST(ErrorCodeTest, EveryCodeHasADistinctSnakeCaseName) {
  std::set<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(ErrorCode::kStatementNotAllowed); ++c) {
    auto name = ErrorCodeName(static_cast<ErrorCode>(c));
    EXPECT_TRUE(names.insert(name).second) << name;
    for (char ch : name) EXPECT_TRUE((ch >= 'a' && ch <= 'z') || ch == '_') << name;
  }
}

}  // namespace
}  // namespace rampart
