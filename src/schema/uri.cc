#include "schema/uri.h"

#include <cctype>

namespace rampart::schema::internal {
namespace {

struct Parts {
  bool has_scheme = false;
  std::string scheme;
  bool has_authority = false;
  std::string authority;
  std::string path;
  bool has_query = false;
  std::string query;
  bool has_fragment = false;
  std::string fragment;
};

size_t SchemeLength(std::string_view s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return 0;
  for (size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == ':') return i;
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return 0;
  }
  return 0;
}

Parts Parse(std::string_view s) {
  Parts p;
  if (size_t h = s.find('#'); h != std::string_view::npos) {
    p.has_fragment = true;
    p.fragment = std::string(s.substr(h + 1));
    s = s.substr(0, h);
  }
  if (size_t q = s.find('?'); q != std::string_view::npos) {
    p.has_query = true;
    p.query = std::string(s.substr(q + 1));
    s = s.substr(0, q);
  }
  if (size_t n = SchemeLength(s); n > 0) {
    p.has_scheme = true;
    p.scheme = std::string(s.substr(0, n));
    for (char& c : p.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    s = s.substr(n + 1);
  }
  if (s.substr(0, 2) == "//") {
    s = s.substr(2);
    size_t slash = s.find('/');
    p.has_authority = true;
    p.authority = std::string(s.substr(0, slash));
    s = slash == std::string_view::npos ? std::string_view() : s.substr(slash);
  }
  p.path = std::string(s);
  return p;
}

// RFC 3986 section 5.2.4.
std::string RemoveDotSegments(std::string_view in) {
  std::string out;
  while (!in.empty()) {
    if (in.substr(0, 3) == "../") {
      in.remove_prefix(3);
    } else if (in.substr(0, 2) == "./") {
      in.remove_prefix(2);
    } else if (in.substr(0, 3) == "/./") {
      in.remove_prefix(2);
    } else if (in == "/.") {
      in = "/";
    } else if (in.substr(0, 4) == "/../" || in == "/..") {
      in = in.size() == 3 ? std::string_view("/") : in.substr(3);
      size_t last = out.rfind('/');
      out.erase(last == std::string::npos ? 0 : last);
    } else if (in == "." || in == "..") {
      in = {};
    } else {
      size_t start = in[0] == '/' ? 1 : 0;
      size_t next = in.find('/', start);
      if (next == std::string_view::npos) next = in.size();
      out.append(in.substr(0, next));
      in.remove_prefix(next);
    }
  }
  return out;
}

std::string Merge(const Parts& base, const std::string& ref_path) {
  if (base.has_authority && base.path.empty()) return "/" + ref_path;
  size_t last = base.path.rfind('/');
  if (last == std::string::npos) return ref_path;
  return base.path.substr(0, last + 1) + ref_path;
}

std::string Recompose(const Parts& p) {
  std::string out;
  if (p.has_scheme) out += p.scheme + ":";
  if (p.has_authority) out += "//" + p.authority;
  out += p.path;
  if (p.has_query) out += "?" + p.query;
  if (p.has_fragment) out += "#" + p.fragment;
  return out;
}

}  // namespace

bool HasScheme(std::string_view uri) { return SchemeLength(uri) > 0; }

std::string ResolveUri(std::string_view base, std::string_view ref) {
  if (base.empty()) return std::string(ref);
  Parts r = Parse(ref);
  Parts b = Parse(base);
  Parts t;
  if (r.has_scheme) {
    t = r;
    t.path = RemoveDotSegments(r.path);
  } else {
    if (r.has_authority) {
      t.has_authority = true;
      t.authority = r.authority;
      t.path = RemoveDotSegments(r.path);
      t.has_query = r.has_query;
      t.query = r.query;
    } else {
      if (r.path.empty()) {
        t.path = b.path;
        if (r.has_query) {
          t.has_query = true;
          t.query = r.query;
        } else {
          t.has_query = b.has_query;
          t.query = b.query;
        }
      } else {
        if (r.path[0] == '/') {
          t.path = RemoveDotSegments(r.path);
        } else if (!b.has_authority && b.path.find('/') == std::string::npos) {
          // Opaque base (e.g. "urn:uuid:..."): a relative path replaces the last segment
          // only for hierarchical URIs; keep the reference as is.
          t.path = r.path;
        } else {
          t.path = RemoveDotSegments(Merge(b, r.path));
        }
        t.has_query = r.has_query;
        t.query = r.query;
      }
      t.has_authority = b.has_authority;
      t.authority = b.authority;
    }
    t.has_scheme = b.has_scheme;
    t.scheme = b.scheme;
  }
  t.has_fragment = r.has_fragment;
  t.fragment = r.fragment;
  return Recompose(t);
}

void SplitFragment(std::string_view uri, std::string* without_fragment, std::string* fragment) {
  size_t h = uri.find('#');
  if (h == std::string_view::npos) {
    *without_fragment = std::string(uri);
    fragment->clear();
    return;
  }
  *without_fragment = std::string(uri.substr(0, h));
  *fragment = std::string(uri.substr(h + 1));
}

std::string PercentDecode(std::string_view text) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int hi = hex(text[i + 1]);
      int lo = hex(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

}  // namespace rampart::schema::internal
