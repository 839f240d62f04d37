#include "actions/webhook/webhook_send.h"

#include <gtest/gtest.h>

#include "actions/http/action_test_support.h"
#include "rampart/crypto/crypto.h"

namespace rampart::actions {
namespace {

namespace bj = boost::json;

TEST(StandardWebhooks, ReferenceVector) {
  // The Standard Webhooks reference libraries' test vector.
  auto key = DecodeWebhookSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(StandardWebhookSignature(*key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                                     R"({"test": 2432232314})"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  EXPECT_FALSE(DecodeWebhookSecret("whsec_").has_value());
  EXPECT_FALSE(DecodeWebhookSecret("whsec_not base64!").has_value());
}

class WebhookSendTest : public ::testing::Test {
 protected:
  WebhookSendTest() : action_(MakeWebhookSend(h_.client, h_.policy, &SystemRandom())) {
    h_.connectors.Add(
        {"hook", "webhook_secret", {}, {{"secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}, {}});
  }
  Result<bj::value> Run(std::string_view path, std::string_view extra = "",
                        std::string_view connector = "hook") {
    return h_.Run(
        *action_,
        bj::parse(R"({"url": ")" + h_.Url(path) +
                  R"(", "allow_http": true, "payload": {"type": "run.succeeded", "n": 1})" +
                  std::string(extra) + "}"),
        connector);
  }

  testing::Harness h_;
  std::unique_ptr<Action> action_;
};

TEST_F(WebhookSendTest, SignedDeliveryVerifies) {
  auto r = Run("/echo", R"(, "id": "msg_1")");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->at("webhook_id"), "msg_1");
  const bj::object& echo = r->at("json").as_object();
  const bj::object& headers = echo.at("headers").as_object();
  EXPECT_EQ(echo.at("method"), "POST");
  EXPECT_EQ(headers.at("webhook-id"), "msg_1");
  EXPECT_EQ(headers.at("webhook-timestamp"), "1614265330");
  EXPECT_EQ(headers.at("content-type"), "application/json");
  std::string body(echo.at("body").as_string());
  EXPECT_EQ(body, R"({"type":"run.succeeded","n":1})");
  auto key = crypto::Base64Decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
  std::string expected = "v1," + crypto::Base64Encode(crypto::DigestBytes(
                                     crypto::HmacSha256(*key, "msg_1.1614265330." + body)));
  EXPECT_EQ(headers.at("webhook-signature").as_string(), expected);
  // A generated id when none is given.
  auto g = Run("/echo");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(std::string_view(g->at("webhook_id").as_string()).substr(0, 4), "msg_");
  EXPECT_EQ(g->at("webhook_id").as_string().size(), 26u);
}

TEST_F(WebhookSendTest, FailuresAndRefusals) {
  auto r = Run("/status?code=500");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kActionFailed);
  EXPECT_TRUE(action_->Retryable(r.error()));
  // No redirects for deliveries.
  r = Run("/redirect?to=/ok");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kActionFailed);
  // Wrong connector, none, bad secret.
  h_.connectors.Add({"tok", "bearer", {}, {{"token", "t"}}, {}});
  EXPECT_EQ(Run("/ok", "", "tok").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Run("/ok", "", "").error().code, ErrorCode::kInvalidArgument);
  h_.connectors.Add({"badsecret", "webhook_secret", {}, {{"secret", "whsec_%%%"}}, {}});
  EXPECT_EQ(Run("/ok", "", "badsecret").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(Run("/ok", R"(, "headers": {"webhook-signature": "v1,forged"})").error().code,
            ErrorCode::kInvalidArgument);
  int hits = h_.server.hits();
  // The guard applies.
  auto blocked =
      h_.Run(*action_, bj::parse(R"({"url": "http://169.254.169.254/", "allow_http": true,
                                      "payload": {}})"),
             "hook");
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code, ErrorCode::kSsrfBlocked);
  EXPECT_EQ(h_.server.hits(), hits);
}

}  // namespace
}  // namespace rampart::actions
