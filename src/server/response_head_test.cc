// SerializeResponseHead against Beast's serializer: the server used to build a
// http::response<string_body> per answer and write it with Beast; it now writes the head
// itself. The bytes on the wire must not change, so every case is serialized both ways.
#include <gtest/gtest.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "server/request_pipeline.h"

namespace rampart::server::internal {
namespace {

namespace http = boost::beast::http;

bool SafeText(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// What the server wrote before: the same steps as its old Respond().
std::string BeastBytes(const Response& response, bool close) {
  http::response<http::string_body> res;
  res.version(11);
  res.result(static_cast<unsigned>(response.status));
  for (const auto& [name, value] : response.headers) {
    if (name.empty() || !SafeText(name) || !SafeText(value)) continue;
    res.insert(name, value);
  }
  if (!response.content_type.empty() && SafeText(response.content_type)) {
    res.set(http::field::content_type, response.content_type);
  }
  res.body() = response.body;
  res.keep_alive(!close);
  res.prepare_payload();
  std::ostringstream out;
  out << res;
  return out.str();
}

std::string OurBytes(const Response& response, bool close) {
  std::string head = "stale bytes from an earlier response";
  const bool with_body = SerializeResponseHead(response, close, head);
  return with_body ? head + response.body : head;
}

TEST(ResponseHeadTest, SameBytesAsBeastsSerializer) {
  std::vector<Response> cases;
  Response ok;
  ok.body = R"({"ok":true})";
  ok.headers = {{"X-Content-Type-Options", "nosniff"},
                {"Cache-Control", "no-store"},
                {"X-Request-Id", "req_abcdefghijklmnopqrst"}};
  cases.push_back(ok);
  Response html;
  html.status = 201;
  html.content_type = "text/html; charset=utf-8";
  html.body = std::string(70000, 'x');
  html.headers = {{"Location", "/v1/orgs/o"}, {"x-lower-case", "v"}, {"Dup", "1"}, {"Dup", "2"}};
  cases.push_back(html);
  Response trimmed;
  trimmed.status = 401;
  trimmed.headers = {{"WWW-Authenticate", "  Bearer realm=\"rampart\"\t "},
                     {"Empty", ""},
                     {"Blank", " \t "},
                     {"Inner", "a  b\tc"}};
  trimmed.body = "{}";
  cases.push_back(trimmed);
  Response unsafe;
  unsafe.status = 400;
  unsafe.headers = {{"X-Injected", "a\r\nSet-Cookie: x=1"},
                    {"", "no name"},
                    {"Bad\nName", "v"},
                    {std::string("Nul\0", 4), "v"},
                    {"Kept", "yes"}};
  unsafe.content_type = "text/plain\r\nX-Evil: 1";
  unsafe.body = "bad";
  cases.push_back(unsafe);
  Response no_type;
  no_type.status = 404;
  no_type.content_type.clear();
  cases.push_back(no_type);
  Response no_content;
  no_content.status = 204;
  cases.push_back(no_content);
  for (int status : {200, 202, 301, 413, 429, 431, 500, 503, 299, 599, 999}) {
    Response r;
    r.status = status;
    r.body = "body of " + std::to_string(status);
    cases.push_back(r);
  }
  for (const Response& r : cases) {
    for (bool close : {false, true}) {
      EXPECT_EQ(OurBytes(r, close), BeastBytes(r, close)) << r.status << " close=" << close;
    }
  }
}

TEST(ResponseHeadTest, BodilessStatusesSendNoBody) {
  // Beast throws for these (a 204/304/1xx must not carry a body); the head says 0 bytes
  // and the body is not sent.
  for (int status : {101, 204, 304}) {
    Response r;
    r.status = status;
    r.body = "must not be sent";
    std::string head;
    EXPECT_FALSE(SerializeResponseHead(r, false, head));
    EXPECT_NE(head.find("\r\nContent-Length: 0\r\n\r\n"), std::string::npos) << head;
    EXPECT_EQ(head.find("must not"), std::string::npos);
  }
}

TEST(ResponseHeadTest, OversizedFieldsAreSkippedNotThrown) {
  Response r;
  r.headers = {{"Huge", std::string(70000, 'v')}, {"Kept", "yes"}};
  std::string head;
  EXPECT_TRUE(SerializeResponseHead(r, false, head));
  EXPECT_EQ(head.find("Huge"), std::string::npos);
  EXPECT_NE(head.find("\r\nKept: yes\r\n"), std::string::npos);
  EXPECT_LT(head.size(), 200u);
}

}  // namespace
}  // namespace rampart::server::internal
