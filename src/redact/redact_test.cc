// A leak suite for the value scanner: every form spec/security.md promises to catch is
// planted in text or JSON and must come out redacted (or blocked); the boundaries of
// what value scanning cannot catch are pinned down too.
#include "rampart/redact/redact.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "rampart/core/json.h"
#include "redact/forms.h"

namespace rampart::redact {
namespace {

namespace bj = boost::json;

constexpr std::string_view kR = kRedactedText;

bj::value P(std::string_view text) {
  auto v = json::Parse(text);
  if (!v.ok()) ADD_FAILURE() << v.error().message;
  return v.ok() ? std::move(v).value() : bj::value();
}

// A JSON string's text, or a marker for any other kind.
std::string S(const bj::value& v) {
  return v.is_string() ? std::string(v.get_string()) : "<" + std::string(json::TypeName(v)) + ">";
}

std::string R(std::string_view before, std::string_view after) {
  return std::string(before) + std::string(kR) + std::string(after);
}

// Plants `form` in a sentence and checks it is caught and fully replaced.
void ExpectCaught(const SecretSet& set, const std::string& form) {
  SCOPED_TRACE("form: " + form);
  std::string text = "before " + form + " after";
  EXPECT_TRUE(set.Contains(text));
  bool found = false;
  std::string out = set.Redact(text, &found);
  EXPECT_TRUE(found);
  EXPECT_EQ(out, R("before ", " after"));
  EXPECT_FALSE(set.Contains(out));
}

TEST(Encoders, Rfc4648Vectors) {
  EXPECT_EQ(Base64("foobar", false, true), "Zm9vYmFy");
  EXPECT_EQ(Base64("fooba", false, true), "Zm9vYmE=");
  EXPECT_EQ(Base64("foob", false, true), "Zm9vYg==");
  EXPECT_EQ(Base64("foob", false, false), "Zm9vYg");
  EXPECT_EQ(Base64("\xfb\xff", false, true), "+/8=");
  EXPECT_EQ(Base64("\xfb\xff", true, false), "-_8");
  EXPECT_EQ(Hex("\x01\xab", false), "01ab");
  EXPECT_EQ(Hex("\x01\xab", true), "01AB");
}

TEST(SecretSet, RawSecretAnywhere) {
  SecretSet set;
  set.Add("s3cr3t-T0ken");
  ExpectCaught(set, "s3cr3t-T0ken");
  EXPECT_EQ(set.Redact("s3cr3t-T0ken"), kR);
  EXPECT_EQ(set.Redact("xs3cr3t-T0keny"), R("x", "y"));
  EXPECT_EQ(set.Redact("a s3cr3t-T0ken b s3cr3t-T0ken c"), R("a ", " b ") + std::string(kR) + " c");
}

TEST(SecretSet, Base64Forms) {
  // Lengths 9, 10, 11: no padding, "==" and "=".
  for (std::string secret : {"abc?>def~", "abc?>def~g", "abc?>def~gh"}) {
    SecretSet set;
    set.Add(secret);
    ExpectCaught(set, Base64(secret, false, true));
    ExpectCaught(set, Base64(secret, false, false));
    ExpectCaught(set, Base64(secret, true, false));
    ExpectCaught(set, Base64(secret, true, true));
  }
  // Literal vectors, so the test does not only trust the encoder under test.
  SecretSet set;
  set.Add("hunter2hunter2");
  ExpectCaught(set, "aHVudGVyMmh1bnRlcjI=");
  ExpectCaught(set, "aHVudGVyMmh1bnRlcjI");
  // Standard vs url alphabet differ on + and /: "\xfb\xff\xfe..." uses both.
  SecretSet binary;
  binary.Add("\xfb\xff\xfe\xfb\xff\xfe\x01");
  ExpectCaught(binary, "+//++//+AQ==");
  ExpectCaught(binary, "-__--__-AQ");
}

TEST(SecretSet, HexForms) {
  SecretSet set;
  set.Add("k\xee\x01y!");
  ExpectCaught(set, "6bee017921");
  ExpectCaught(set, "6BEE017921");
}

TEST(SecretSet, UrlEncodedForms) {
  SecretSet set;
  set.Add("p@ss w0rd/\xc3\xbc~*(x)");  // spaces, symbols and a non-ASCII letter
  // RFC 3986, %20 for spaces, both hex cases.
  ExpectCaught(set, "p%40ss%20w0rd%2F%C3%BC~%2A%28x%29");
  ExpectCaught(set, "p%40ss%20w0rd%2f%c3%bc~%2a%28x%29");
  // application/x-www-form-urlencoded: + for spaces, ~ encoded, * kept.
  ExpectCaught(set, "p%40ss+w0rd%2F%C3%BC%7E*%28x%29");
  ExpectCaught(set, "p%40ss+w0rd%2f%c3%bc%7e*%28x%29");
  // encodeURIComponent: keeps ~*().
  ExpectCaught(set, "p%40ss%20w0rd%2F%C3%BC~*(x)");
  // As a query parameter value.
  EXPECT_EQ(set.Redact("https://h.test/cb?code=p%40ss+w0rd%2F%C3%BC%7E*%28x%29&state=1"),
            R("https://h.test/cb?code=", "&state=1"));
}

// A value percent-encoded twice (a URL-encoded secret put into a query parameter and
// encoded again, as an upstream may reflect it): the second pass turns each '%' into %25.
TEST(SecretSet, UrlEncodedTwice) {
  SecretSet set;
  set.Add("p@ss w0rd/x");
  ExpectCaught(set, "p%2540ss%2520w0rd%252Fx");  // RFC 3986 twice
  ExpectCaught(set, "p%2540ss%2520w0rd%252fx");  // lower-case hex
  ExpectCaught(set, "p%2540ss+w0rd%252Fx");     // form-encoded, then %-encoded again
  EXPECT_EQ(set.Redact("https://h.test/r?next=%2Fcb%3Fcode%3Dp%2540ss%2520w0rd%252Fx"),
            R("https://h.test/r?next=%2Fcb%3Fcode%3D", ""));
}

// The percent-encoders of the standard libraries people reach for first, beyond the three
// above: Python's urllib.parse.quote with its default safe="/", PHP's urlencode (keeps
// only -_. and encodes ~ and *) and JavaScript's encodeURI (keeps the URL delimiters).
TEST(SecretSet, UrlEncodedFormsOfCommonLibraries) {
  SecretSet set;
  set.Add("a/b+c~d*e&f=g h");
  // urllib.parse.quote(s): "/" and "~" kept, space %20.
  ExpectCaught(set, "a/b%2Bc~d%2Ae%26f%3Dg%20h");
  ExpectCaught(set, "a/b%2bc~d%2ae%26f%3dg%20h");
  // PHP urlencode(s): "~" and "*" encoded, space "+".
  ExpectCaught(set, "a%2Fb%2Bc%7Ed%2Ae%26f%3Dg+h");
  ExpectCaught(set, "a%2fb%2bc%7ed%2ae%26f%3dg+h");
  // encodeURI(s): keeps ;,/?:@&=+$#-_.!~*'() and encodes the space.
  ExpectCaught(set, "a/b+c~d*e&f=g%20h");
  // As a query parameter value, Python-encoded.
  EXPECT_EQ(set.Redact("https://h.test/cb?code=a/b%2Bc~d%2Ae%26f%3Dg%20h&state=1"),
            R("https://h.test/cb?code=", "&state=1"));
}

TEST(SecretSet, JsonEscapedForms) {
  const std::string secret = "a\"b\\c\n\x01/\xc3\xa9z";
  SecretSet set;
  set.Add(secret);
  // What the core serializer writes between the quotes.
  std::string core = json::Serialize(bj::value(secret));
  ExpectCaught(set, core.substr(1, core.size() - 2));
  // What boost::json writes.
  std::string boost_form = bj::serialize(bj::value(secret));
  ExpectCaught(set, boost_form.substr(1, boost_form.size() - 2));
  // Literal variants: \/ , \u000a instead of \n, uppercase \u001F style, \u00e9 for é.
  ExpectCaught(set, R"(a\"b\\c\n\u0001\/\u00e9z)");
  ExpectCaught(set, R"(a\"b\\c\u000a\u0001/\u00e9z)");
  ExpectCaught(set, R"(a\"b\\c\u000A\u0001/)" "\xc3\xa9z");
  // Escaped twice: JSON text inside a JSON string (a log line carrying a body).
  ExpectCaught(set, R"(a\\\"b\\\\c\\n\\u0001/)" "\xc3\xa9z");
  // A whole serialized document: the secret inside it is redacted, the rest stays.
  bj::value doc = {{"token", secret}, {"ok", true}};
  std::string text = json::Serialize(doc);
  std::string out = set.Redact(text);
  EXPECT_EQ(out, R("{\"token\":\"", "\",\"ok\":true}"));
  // Supplementary plane characters as surrogate pairs.
  SecretSet emoji;
  emoji.Add("key-\xf0\x9f\x94\x91-42");
  ExpectCaught(emoji, R"(key-\ud83d\udd11-42)");
  ExpectCaught(emoji, R"(key-\uD83D\uDD11-42)");
  // Go's HTML-safe escaping.
  SecretSet html;
  html.Add("a<b>&c");
  ExpectCaught(html, R"(a\u003cb\u003e\u0026c)");
}

// A secret that is not valid UTF-8 (an overlong form, a surrogate, a code point past
// U+10FFFF, a truncated sequence) has no \uXXXX variant: it is caught as its bytes and
// byte-level forms, and adding it never aborts. The overlong "\xc1\xba" once decoded
// as 'z', made a 3-byte pattern out of a 4-byte secret and tripped the matcher's
// RAMPART_CHECK, which takes the whole process down (found by fuzz/redact_fuzz.cc).
TEST(SecretSet, SecretsThatAreNotUtf8) {
  for (const std::string& secret :
       {std::string("x\xc1\xba*"), std::string("ab\xe0\x80\xaf" "cd"), std::string("k\xed\xa0\x80y"),
        std::string("q\xf4\x90\x80\x80r"), std::string("abc\xe2\x82")}) {
    SecretSet set;
    set.Add(secret);
    ExpectCaught(set, secret);
    EXPECT_FALSE(set.Contains("xz*")) << "no decoded form of an invalid sequence";
  }
}

TEST(SecretSet, EmbeddedInLongerTextKeysAndNestedArrays) {
  SecretSet set;
  set.Add("tok_live_123456");
  bj::value v = P(R"({
    "headers": {"Authorization": "Bearer tok_live_123456"},
    "tok_live_123456": "as a key",
    "list": [[1, ["x", "prefix-tok_live_123456-suffix"]], {"deep": ["tok_live_123456"]}]
  })");
  bool found = false;
  ASSERT_TRUE(ScrubJsonInPlace(v, set, Policy::kRedact, &found).ok());
  EXPECT_TRUE(found);
  EXPECT_EQ(S(v.at("headers").at("Authorization")), R("Bearer ", ""));
  EXPECT_EQ(S(v.at(kR)), "as a key");
  EXPECT_EQ(S(v.at("list").at(0).at(1).at(1)), R("prefix-", "-suffix"));
  EXPECT_EQ(S(v.at("list").at(1).at("deep").at(0)), kR);
  EXPECT_EQ(v.at("list").at(0).at(0), 1);
  // The serialized form carries no registered form either.
  EXPECT_FALSE(set.Contains(json::Serialize(v)));
  EXPECT_FALSE(ContainsInJson(v, set));
}

TEST(SecretSet, BasicAuthAtEveryOffset) {
  const std::string secret = "correct-horse-battery";
  SecretSet set;
  set.Add(secret);
  for (std::string user : {"", "u", "us", "usr", "user", "admin", "someone@example.test"}) {
    for (std::string tail : {"", ":", "xy", "-trailing-context"}) {
      std::string plain = user + (user.empty() ? "" : ":") + secret + tail;
      std::string blob = Base64(plain, false, true);
      SCOPED_TRACE("plain: " + plain + " blob: " + blob);
      std::string header = "Authorization: Basic " + blob;
      EXPECT_TRUE(set.Contains(header));
      std::string out = set.Redact(header);
      EXPECT_NE(out.find(kR), std::string::npos);
      EXPECT_FALSE(set.Contains(out));
      // No decodable window of the redacted header still holds the secret: the
      // characters mixing secret and neighbour bits went with the match.
      size_t at = out.find(kR);
      std::string left = out.substr(std::string("Authorization: Basic ").size(),
                                    at - std::string("Authorization: Basic ").size());
      std::string right = out.substr(at + kR.size());
      EXPECT_LE(left.size() * 6, (user.empty() ? 0 : user.size() + 1) * 8 + 6);
      EXPECT_LE(right.size() * 6, tail.size() * 8 + 6 + 12);  // + padding
      // base64url too.
      std::string url_blob = Base64(plain, true, false);
      EXPECT_TRUE(set.Contains("token=" + url_blob));
      EXPECT_FALSE(set.Contains(set.Redact("token=" + url_blob)));
    }
  }
}

TEST(SecretSet, OverlappingSecretsMerge) {
  SecretSet set;
  set.Add("abcdefgh");
  set.Add("cdef");     // a substring of the first
  set.Add("ghijklm");  // overlaps the first's tail
  EXPECT_EQ(set.Redact("xxabcdefghijklmyy"), R("xx", "yy"));
  EXPECT_EQ(set.Redact("xxcdefyy"), R("xx", "yy"));
  // Adjacent matches become one placeholder.
  EXPECT_EQ(set.Redact("cdefcdef"), kR);
  EXPECT_EQ(set.Redact("cdef cdef"), R("", " ") + std::string(kR));
  EXPECT_EQ(set.size(), 3u);
  set.Add("cdef");  // duplicate: no-op
  EXPECT_EQ(set.size(), 3u);
}

TEST(SecretSet, PlaceholderIsNotRematched) {
  SecretSet set;
  set.Add("REDACTED");
  set.Add("***REDACTED***");
  set.Add("D***");
  EXPECT_FALSE(set.Contains(kR));
  EXPECT_EQ(set.Redact(kR), kR);
  std::string once = set.Redact("token REDACTED here");
  EXPECT_EQ(once, R("token ", " here"));
  EXPECT_EQ(set.Redact(once), once);
  EXPECT_FALSE(set.Contains(once));
  // Overlapping placeholders ("***" is both prefix and suffix) are placeholder text too.
  EXPECT_FALSE(set.Contains("***REDACTED***REDACTED***"));
  EXPECT_FALSE(set.Contains("***REDACTED******REDACTED***"));
}

TEST(SecretSet, StarSecretNextToPlaceholderConverges) {
  SecretSet set;
  set.Add("secret1");
  set.Add("x***");
  set.Add("***y");
  bool found = false;
  std::string out = set.Redact("axsecret1ya", &found);
  EXPECT_TRUE(found);
  EXPECT_FALSE(set.Contains(out));
  EXPECT_EQ(out, R("a", "a"));
  // "x" + placeholder would spell "x***": swallowed into one placeholder.
  EXPECT_EQ(set.Redact("xsecret1"), kR);
  EXPECT_EQ(set.Redact("secret1y"), kR);
}

TEST(SecretSet, NoFalsePositives) {
  SecretSet set;
  set.Add("sk_live_4eC39HqLyjWDarjtT1zdp7dc");
  set.Add("hunter22");
  const std::string text =
      "{\"run\":\"r_123\",\"steps\":[{\"id\":\"fetch\",\"status\":\"succeeded\","
      "\"output\":{\"body\":\"hunter2 is not hunter-22 nor HUNTER22\"}}],"
      "\"b64\":\"aGVsbG8gd29ybGQ=\",\"hex\":\"68656c6c6f\"}";
  bool found = true;
  EXPECT_EQ(set.Redact(text, &found), text);
  EXPECT_FALSE(found);
  EXPECT_FALSE(set.Contains(text));
  bj::value v = P(text);
  bj::value before = v;
  ASSERT_TRUE(ScrubJsonInPlace(v, set, Policy::kRedact, &found).ok());
  EXPECT_FALSE(found);
  EXPECT_EQ(v, before);
}

TEST(SecretSet, EmptySetAndEmptySecret) {
  SecretSet set;
  set.Add("");
  EXPECT_TRUE(set.empty());
  EXPECT_FALSE(set.Contains(""));
  EXPECT_FALSE(set.Contains("anything"));
  bool found = true;
  EXPECT_EQ(set.Redact("anything", &found), "anything");
  EXPECT_FALSE(found);
  bj::value v = P(R"({"a":[1,"b"]})");
  EXPECT_TRUE(ScrubJsonInPlace(v, set, Policy::kBlock).ok());
}

TEST(SecretSet, ShortSecretsMatchWholeValuesOnly) {
  SecretSet set;
  set.Add("abc");
  set.Add("42");
  EXPECT_TRUE(set.PatternsForTest().empty());
  EXPECT_EQ(set.Redact("abc"), kR);
  EXPECT_EQ(set.Redact("xabcx"), "xabcx");
  EXPECT_EQ(set.Redact("the abc of it"), "the abc of it");
  bj::value v = P(R"({"pin":"abc","note":"abcd","n":42,"m":420,"abc":1})");
  ASSERT_TRUE(ScrubJsonInPlace(v, set, Policy::kRedact).ok());
  EXPECT_EQ(S(v.at("pin")), kR);
  EXPECT_EQ(S(v.at("note")), "abcd");
  EXPECT_EQ(S(v.at("n")), kR);
  EXPECT_EQ(v.at("m"), 420);
  EXPECT_EQ(v.at(kR), 1);
  // The minimum applies to the raw secret: 4 bytes are scanned for everywhere.
  SecretSet four;
  four.Add("abcd");
  EXPECT_EQ(four.Redact("xabcdx"), R("x", "x"));
  ExpectCaught(four, "YWJjZA==");
}

TEST(SecretSet, NumericSecretsInNumbers) {
  SecretSet set;
  set.Add("123456");
  bj::value v = P(R"({"pin":123456,"bigger":91234567,"float":1234.56,"other":12345,
                              "s":"code 123456"})");
  bool found = false;
  ASSERT_TRUE(ScrubJsonInPlace(v, set, Policy::kRedact, &found).ok());
  EXPECT_TRUE(found);
  EXPECT_EQ(S(v.at("pin")), kR);  // a number becomes the placeholder string
  EXPECT_EQ(S(v.at("bigger")), kR);  // its text contains the secret
  EXPECT_EQ(v.at("float"), 1234.56);  // "1234.56": not the secret's text
  EXPECT_EQ(v.at("other"), 12345);
  EXPECT_EQ(S(v.at("s")), R("code ", ""));
  EXPECT_FALSE(set.Contains(json::Serialize(v)));
}

TEST(SecretSet, KeyCollisionsAfterRedaction) {
  SecretSet set;
  set.Add("alpha-secret");
  set.Add("beta-secret!");
  bj::value v = P(R"({"alpha-secret":1,"beta-secret!":2,"***REDACTED***~2":3,"z":4})");
  ASSERT_TRUE(ScrubJsonInPlace(v, set, Policy::kRedact).ok());
  const auto& obj = v.get_object();
  EXPECT_EQ(obj.size(), 4u);
  EXPECT_EQ(obj.at(kR), 1);
  EXPECT_EQ(obj.at(std::string(kR) + "~3"), 2);
  EXPECT_EQ(obj.at(std::string(kR) + "~2"), 3);
  EXPECT_EQ(obj.at("z"), 4);
}

TEST(SecretSet, BlockPolicyFailsAndDoesNotModify) {
  SecretSet set;
  set.Add("tok_live_123456");
  bj::value v = P(R"({"out":{"echo":"dG9rX2xpdmVfMTIzNDU2"},"n":1})");
  const bj::value before = v;
  bool found = false;
  Status st = ScrubJsonInPlace(v, set, Policy::kBlock, &found);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, ErrorCode::kSecretExposure);
  EXPECT_EQ(st.error().code_name(), "secret_exposure");
  EXPECT_EQ(st.error().message, "a step output contains a secret value");
  EXPECT_EQ(st.error().message.find("tok_live"), std::string::npos);
  EXPECT_TRUE(found);
  EXPECT_EQ(v, before);

  auto copy = ScrubJson(v, set, Policy::kBlock, "a hook payload");
  ASSERT_FALSE(copy.ok());
  EXPECT_EQ(copy.error().message, "a hook payload contains a secret value");
  auto redacted = ScrubJson(v, set, Policy::kRedact);
  ASSERT_TRUE(redacted.ok());
  EXPECT_EQ(S(redacted->at("out").at("echo")), kR);
  EXPECT_EQ(v, before);

  bj::value clean = P(R"({"a":"b"})");
  EXPECT_TRUE(ScrubJsonInPlace(clean, set, Policy::kBlock).ok());
}

TEST(SecretSet, Policies) {
  EXPECT_EQ(ParsePolicy("redact"), Policy::kRedact);
  EXPECT_EQ(ParsePolicy("block"), Policy::kBlock);
  EXPECT_FALSE(ParsePolicy("Block").has_value());
  EXPECT_EQ(PolicyName(Policy::kBlock), "block");
}

TEST(SecretSet, ScrubErrorKeepsCode) {
  SecretSet set;
  set.Add("pa55word!");
  Error e = ScrubError(MakeError(ErrorCode::kActionFailed, "login failed for pa55word!"), set);
  EXPECT_EQ(e.code, ErrorCode::kActionFailed);
  EXPECT_EQ(e.message, R("login failed for ", ""));
  Error whole = ScrubError(MakeError(ErrorCode::kActionFailed, "pa55word!"), set);
  EXPECT_EQ(whole.message, kR);
}

class CapturingSink : public actions::LogSink {
 public:
  void Write(const bj::object& line) override {
    std::lock_guard lock(mu_);
    lines.push_back(line);
  }
  std::mutex mu_;
  std::vector<bj::object> lines;
};

TEST(RedactingLogSink, ScrubsKeysAndValues) {
  SecretSet set;
  set.Add("tok_live_123456");
  CapturingSink inner;
  RedactingLogSink sink(inner, set);
  sink.Write(bj::object{{"msg", "calling with tok_live_123456"}, {"level", "info"}});
  sink.Write(bj::object{{"tok_live_123456", {1, 2}}, {"hex", Hex("tok_live_123456", false)}});
  sink.Write(bj::object{{"msg", "clean"}});
  ASSERT_EQ(inner.lines.size(), 3u);
  EXPECT_EQ(S(inner.lines[0].at("msg")), R("calling with ", ""));
  EXPECT_EQ(S(inner.lines[0].at("level")), "info");
  EXPECT_TRUE(inner.lines[1].contains(kR));
  EXPECT_EQ(S(inner.lines[1].at("hex")), kR);
  EXPECT_EQ(S(inner.lines[2].at("msg")), "clean");
}

// Value scanning finds registered forms of whole secrets. A slice, a transformation or
// an unlisted encoding is the job of taint tracking (values computed from secrets.*),
// not of this scanner: these expectations document the boundary.
TEST(SecretSet, SlicesAndTransformsAreNotCaughtByValueScanning) {
  const std::string secret = "sk_live_4eC39HqLyjWDarjt";
  SecretSet set;
  set.Add(secret);
  EXPECT_FALSE(set.Contains(secret.substr(0, secret.size() - 1)));  // one byte short
  EXPECT_FALSE(set.Contains(secret.substr(3)));
  EXPECT_FALSE(set.Contains("SK_LIVE_4EC39HQLYJWDARJT"));           // upper-cased
  EXPECT_FALSE(set.Contains("sk_live_4eC39Hq" "\n" "LyjWDarjt"));   // split by a newline
  EXPECT_FALSE(set.Contains(Base64(Base64(secret, false, true), false, true)));  // nested
  bj::value split = bj::array{"sk_live_4eC39Hq", "LyjWDarjt"};    // across two strings
  EXPECT_FALSE(ContainsInJson(split, set));
  // ...while the whole secret with extra text on both sides is always caught.
  EXPECT_TRUE(set.Contains("prefix" + secret + "suffix"));
}

TEST(SecretSet, LargeTextManySecrets) {
  SecretSet set;
  std::vector<std::string> secrets;
  for (int i = 0; i < 100; ++i) {
    secrets.push_back("secret-value-" + std::to_string(i * 7919) + "-xyzzy");
    set.Add(secrets.back());
  }
  // ~10 MB of run-record-like text with a secret (or its base64) every ~64 KB.
  std::string chunk = R"({"id":"step-1","status":"succeeded","output":{"status":200,)"
                      R"("body":"lorem ipsum dolor sit amet ***** 0123456789abcdef"}},)";
  std::string text;
  text.reserve(10u << 20);
  size_t planted = 0;
  while (text.size() < (10u << 20)) {
    text += chunk;
    if (text.size() / 65536 > planted) {
      const std::string& s = secrets[planted % secrets.size()];
      text += planted % 2 ? s : Base64(s, false, true);
      ++planted;
    }
  }
  auto start = std::chrono::steady_clock::now();
  bool found = false;
  std::string out = set.Redact(text, &found);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(found);
  EXPECT_FALSE(set.Contains(out));
  size_t count = 0;
  for (size_t at = out.find(kR); at != std::string::npos; at = out.find(kR, at + 1)) ++count;
  EXPECT_EQ(count, planted);
  std::printf("redacted %zu bytes with %zu secrets in %lld ms (sanitized build)\n", text.size(),
              set.size(),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

TEST(SecretSet, ConcurrentScansAndAdds) {
  SecretSet set;
  set.Add("first-secret");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&set, t] {
      for (int i = 0; i < 200; ++i) {
        if (t == 0 && i % 50 == 0) set.Add("later-secret-" + std::to_string(i));
        EXPECT_EQ(set.Redact("x first-secret y"), R("x ", " y"));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(set.size(), 5u);
  EXPECT_EQ(set.Redact("later-secret-150"), kR);
}

// The prefilter + automaton against a naive search, on a small alphabet where partial
// matches, overlaps and restarts are frequent.
TEST(Matcher, AgreesWithNaiveSearch) {
  uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7fff;
  };
  for (int round = 0; round < 300; ++round) {
    SecretSet set;
    int count = 1 + static_cast<int>(next() % 4);
    for (int k = 0; k < count; ++k) {
      std::string secret;
      size_t len = 4 + next() % 6;
      for (size_t c = 0; c < len; ++c) secret += static_cast<char>('a' + next() % 3);
      set.Add(secret);
    }
    std::vector<std::string> patterns = set.PatternsForTest();
    std::string text;
    size_t len = next() % 200;
    for (size_t c = 0; c < len; ++c) text += static_cast<char>('a' + next() % 3);
    bool naive = false;
    std::vector<bool> covered(text.size(), false);
    for (const auto& pat : patterns) {
      for (size_t at = text.find(pat); at != std::string::npos; at = text.find(pat, at + 1)) {
        naive = true;
        for (size_t c = at; c < at + pat.size(); ++c) covered[c] = true;
      }
    }
    SCOPED_TRACE("text: " + text);
    ASSERT_EQ(set.Contains(text), naive);
    // Redact leaves at most the bytes no pattern covers (a base64 phase match may also
    // take one adjacent character).
    std::string out = set.Redact(text);
    EXPECT_FALSE(set.Contains(out));
    std::string kept;
    for (size_t c = 0; c < text.size(); ++c) {
      if (!covered[c]) kept += text[c];
    }
    std::string out_plain;
    for (size_t at = 0; at < out.size();) {
      if (out.compare(at, kR.size(), kR) == 0) {
        at += kR.size();
      } else {
        out_plain += out[at++];
      }
    }
    EXPECT_LE(out_plain.size(), kept.size());
  }
}

TEST(Matcher, RestartsAfterPartialPrefix) {
  SecretSet set;
  set.Add("abcdX");
  set.Add("cdcdcdY");
  EXPECT_EQ(set.Redact("abcabcdX"), R("abc", ""));
  EXPECT_EQ(set.Redact("abcdabcdX."), R("abcd", "."));
  EXPECT_EQ(set.Redact("cdcdcdcdY"), R("cd", ""));
  EXPECT_EQ(set.Redact("abcdcdcdY"), R("ab", ""));
  EXPECT_FALSE(set.Contains("abcdcdcdZ"));
}

TEST(Forms, PhasePatternsDropUnstableEdges) {
  // "user:" shifts the secret by 5 bytes = phase 2.
  const std::string secret = "0123456789";
  auto forms = DerivedForms(secret);
  std::string blob = Base64("user:" + secret + "!", false, true);
  bool any = false;
  for (const auto& f : forms) {
    if (f.left_ext && blob.find(f.text) != std::string::npos) any = true;
  }
  EXPECT_TRUE(any);
  SecretSet tiny;  // 4 bytes: full encodings only, no phase patterns (too short to be stable)
  tiny.Add("abcd");
  for (const auto& p : tiny.PatternsForTest()) EXPECT_GE(p.size(), 4u) << p;
}

}  // namespace
}  // namespace rampart::redact
