// The trainer's random numbers: xoshiro256** (Blackman & Vigna), small, fast, and its whole state
// (4 words) goes into checkpoints.
#pragma once

#include <array>
#include <cstdint>

namespace v2c::encoder {

// SplitMix64's output function of x + the golden gamma (seeds the engine, keys dropout masks).
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next();
  double uniform();                  // [0, 1)
  double normal();                   // N(0, 1), Box-Muller
  double gamma(double shape);        // Gamma(shape, 1), Marsaglia-Tsang
  double beta(double a, double b);   // Beta(a, b)
  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

 private:
  std::array<uint64_t, 4> s_;
};

}  // namespace v2c::encoder
