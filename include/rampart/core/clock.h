// Time and randomness come through these interfaces so that engines and tests are
// deterministic (LevelDB Env style). Implementations must be thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace rampart {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps shown to users.
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Monotonic time, for durations and deadlines.
  virtual std::chrono::steady_clock::time_point Monotonic() const = 0;
  // Blocks the calling thread (retry backoff). A fake clock advances instead.
  virtual void SleepFor(std::chrono::nanoseconds duration) = 0;
};

// The real clocks of the machine.
Clock& SystemClock();

class Random {
 public:
  virtual ~Random() = default;
  // Fills `size` bytes. The system implementation uses the OS CSPRNG.
  virtual void Fill(uint8_t* out, size_t size) = 0;
  uint64_t NextU64();
};

// OpenSSL's CSPRNG (RAND_bytes); aborts if the OS cannot provide randomness.
Random& SystemRandom();

// SystemRandom()'s bytes handed out from per-thread 1 KiB blocks, each byte once: for
// public identifiers (request and run ids) and retry jitter, which are drawn on every
// request. RAND_bytes costs a getpid() system call and a DRBG round per call; a block
// costs one per 1 KiB. Never for keys, tokens or salts (SystemRandom()). A forked child
// never reuses a block of its parent's (ForkGeneration()).
Random& IdRandom();

// How many times this process is a fork()ed child of the one that first asked (0 in the
// original process): buffers of random bytes compare it to drop what the parent held.
uint64_t ForkGeneration();

// A block of `size` bytes of a source's output handed out in order, each byte once (a
// byte handed out is cleared), refilled from the source when used up and dropped in a
// fork()ed child (ForkGeneration()), so two processes never hand out the same bytes.
// Serves IdRandom() (one per thread) and the keyring's nonces. Not thread-safe.
class RandomBlock {
 public:
  explicit RandomBlock(size_t size);
  void Fill(Random& source, uint8_t* out, size_t size);

 private:
  std::vector<uint8_t> bytes_;
  size_t pos_;
  uint64_t generation_ = 0;
};

// Milliseconds since the Unix epoch: how the store keeps wall-clock times.
inline int64_t UnixMillis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// RFC 3339 UTC with millisecond precision, e.g. "2026-11-24T18:41:41.123Z".
std::string FormatRfc3339(std::chrono::system_clock::time_point t);
// The same for milliseconds since the epoch (how the store keeps times): every year up to
// 9999, where a system_clock time_point (nanoseconds in 64 bits) ends in 2262.
std::string FormatRfc3339Millis(int64_t ms);

}  // namespace rampart
