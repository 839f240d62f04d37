#include "rampart/core/clock.h"

#include <openssl/rand.h>

#include <ctime>
#include <thread>

#include "rampart/core/check.h"

namespace rampart {
namespace {

class RealClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
  std::chrono::steady_clock::time_point Monotonic() const override {
    return std::chrono::steady_clock::now();
  }
  void SleepFor(std::chrono::nanoseconds duration) override {
    std::this_thread::sleep_for(duration);
  }
};

class OpenSslRandom final : public Random {
 public:
  void Fill(uint8_t* out, size_t size) override {
    RAMPART_CHECK(RAND_bytes(out, static_cast<int>(size)) == 1);
  }
};

}  // namespace

Clock& SystemClock() {
  static RealClock clock;
  return clock;
}

Random& SystemRandom() {
  static OpenSslRandom random;
  return random;
}

uint64_t Random::NextU64() {
  uint64_t v = 0;
  Fill(reinterpret_cast<uint8_t*>(&v), sizeof v);
  return v;
}

std::string FormatRfc3339(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const int millis = static_cast<int>(ms - static_cast<long long>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

}  // namespace rampart
