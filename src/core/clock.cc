#include "rampart/core/clock.h"

#include <openssl/rand.h>
#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <mutex>
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

std::atomic<uint64_t> fork_generation{0};

class BlockRandom final : public Random {
 public:
  void Fill(uint8_t* out, size_t size) override {
    thread_local RandomBlock block(1024);
    block.Fill(SystemRandom(), out, size);
  }
};

}  // namespace

uint64_t ForkGeneration() {
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); });
  });
  return fork_generation.load(std::memory_order_relaxed);
}

RandomBlock::RandomBlock(size_t size) : bytes_(size), pos_(size) {}

void RandomBlock::Fill(Random& source, uint8_t* out, size_t size) {
  const uint64_t generation = ForkGeneration();
  if (generation != generation_) {
    generation_ = generation;
    pos_ = bytes_.size();
  }
  while (size > 0) {
    if (pos_ == bytes_.size()) {
      source.Fill(bytes_.data(), bytes_.size());
      pos_ = 0;
    }
    const size_t n = std::min(size, bytes_.size() - pos_);
    std::copy_n(bytes_.data() + pos_, n, out);
    // Used bytes are cleared so a byte can never be handed out twice.
    std::fill_n(bytes_.data() + pos_, n, uint8_t{0});
    pos_ += n;
    out += n;
    size -= n;
  }
}

Random& IdRandom() {
  static BlockRandom random;
  return random;
}

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
  return FormatRfc3339Millis(duration_cast<milliseconds>(t.time_since_epoch()).count());
}

std::string FormatRfc3339Millis(int64_t ms) {
  using namespace std::chrono;
  const long long secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const int millis = static_cast<int>(ms - secs * 1000);
  const long long days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  const long long sod = secs - days * 86400;
  const year_month_day ymd{sys_days{std::chrono::days{days}}};
  const int year = static_cast<int>(ymd.year());
  const int fields[] = {static_cast<int>(static_cast<unsigned>(ymd.month())),
                        static_cast<int>(static_cast<unsigned>(ymd.day())),
                        static_cast<int>(sod / 3600), static_cast<int>(sod / 60 % 60),
                        static_cast<int>(sod % 60)};
  if (year < 0 || year > 9999) {  // outside RFC 3339's four-digit years: the slow, general path
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, fields[0],
                  fields[1], fields[2], fields[3], fields[4], millis);
    return buf;
  }
  // Called for every step of every run: digits are written directly (snprintf and
  // gmtime_r cost ~15x more).
  std::string out = "0000-00-00T00:00:00.000Z";
  auto put = [&out](size_t pos, int value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10) out[pos + static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
  };
  put(0, year, 4);
  put(5, fields[0], 2);
  put(8, fields[1], 2);
  put(11, fields[2], 2);
  put(14, fields[3], 2);
  put(17, fields[4], 2);
  put(20, millis, 3);
  return out;
}

}  // namespace rampart
