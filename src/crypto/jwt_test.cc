#include <gtest/gtest.h>
TEST(JwtPlaceholder, Builds) {}
