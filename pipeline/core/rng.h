// Random numbers: the one home of vox2clip's generators, seed derivation and transforms.
//
// Every draw goes through our own transforms (not the standard library's distributions), so a
// seed gives the same numbers with every compiler and standard library. Two engines:
//   std::mt19937_64   (Matsumoto & Nishimura 1998; bit-exact by the C++ standard) for the
//                     simulated study: StreamRng;
//   Xoshiro256ss      (Blackman & Vigna 2018, xoshiro256**) for training: TrainingRng, whose whole
//                     state is the engine's 4 words, so it goes into checkpoints.
// and one set of transforms over either engine (Random<Engine, ...>): uniform, below, normal,
// gamma, beta, shuffle.
//
// Box-Muller draws two uniforms and yields two normals. StreamRng keeps the second (sine) one
// for the next call; TrainingRng drops it so its state stays the engine's words (checkpointable).
// The two therefore give different normal sequences from the same engine; each is fixed.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "pipeline/core/error.h"

namespace v2c::rng {

// SplitMix64's output function (Steele, Lea & Flood 2014) of x + the golden gamma: a bijective
// 64-bit mix, used to seed engines, derive streams and key counter-based draws.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A seed for one independent stream of a component: splitmix64 chained over (seed, stream,
// index), so changing one component (stream) or item (index) leaves the others' draws alone.
inline uint64_t derive_seed(uint64_t seed, uint64_t stream, uint64_t index = 0) {
  return splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ index);
}

// xoshiro256** 1.0: 64-bit outputs, period 2^256 - 1, state 4 words seeded from splitmix64.
class Xoshiro256ss {
 public:
  using result_type = uint64_t;
  using State = std::array<uint64_t, 4>;

  explicit Xoshiro256ss(uint64_t seed = 0) {
    uint64_t x = seed;
    for (auto& w : s_) {
      x += 0x9E3779B97F4A7C15ull;
      w = splitmix64(x);
    }
  }
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return std::numeric_limits<result_type>::max(); }
  result_type operator()() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  State state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

 private:
  static uint64_t rotl(uint64_t v, int k) { return (v << k) | (v >> (64 - k)); }
  State s_;
};

// What normal() does with the second output of a Box-Muller pair (see the file comment).
enum class SecondNormal { drop, keep };

// The transforms, over a 64-bit engine (full-range outputs).
template <class Engine, SecondNormal kSecond>
class Random {
  static_assert(Engine::min() == 0 && Engine::max() == std::numeric_limits<uint64_t>::max(),
                "Random needs an engine with 64 random bits per output");

 public:
  explicit Random(uint64_t seed = 0) : engine_(seed) {}

  uint64_t next() { return engine_(); }                          // 64 random bits
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1), 53 random bits
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

  // Uniform integer in [0, n), n >= 1; unbiased (rejects the top 2^64 mod n outputs, which for
  // small n practically never happens, so it almost always equals next() % n).
  int64_t below(int64_t n) {
    V2C_ASSERT(n >= 1, "Random::below(", n, ")");
    const uint64_t range = uint64_t(n);
    const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
    uint64_t x;
    do x = next();
    while (x >= limit);
    return int64_t(x % range);
  }

  // N(0, 1), Box-Muller: r cos(2 pi u2) with r = sqrt(-2 log(1 - u1)); the sine partner is kept
  // for the next call or dropped (kSecond).
  double normal() {
    if constexpr (kSecond == SecondNormal::keep) {
      if (has_spare_) {
        has_spare_ = false;
        return spare_;
      }
    }
    const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
    const double u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    if constexpr (kSecond == SecondNormal::keep) {
      spare_ = r * std::sin(2.0 * kPi * u2);
      has_spare_ = true;
    }
    return r * std::cos(2.0 * kPi * u2);
  }

  // Gamma(shape, 1), shape > 0: Marsaglia & Tsang (2000); shape < 1 as Gamma(shape + 1) U^(1/shape).
  double gamma(double shape) {
    if (shape < 1.0) {
      const double g = gamma(shape + 1.0);
      return g * std::pow(1.0 - uniform(), 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const double u = uniform();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
      if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v;
    }
  }

  // Beta(a, b) = X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b); 0.5 when both underflow to 0.
  double beta(double a, double b) {
    const double x = gamma(a), y = gamma(b);
    return x + y > 0 ? x / (x + y) : 0.5;
  }

  // Fisher-Yates, from the back.
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[size_t(below(int64_t(i)))]);
  }

  Engine& engine() { return engine_; }
  const Engine& engine() const { return engine_; }

 private:
  static constexpr double kPi = 3.14159265358979323846;
  Engine engine_;
  bool has_spare_ = false;
  double spare_ = 0;
};

// The simulated study's generator (one per seed stream, derive_seed).
using StreamRng = Random<std::mt19937_64, SecondNormal::keep>;
// The trainer's generator: state() is engine().state(), 4 words, stored in checkpoints.
using TrainingRng = Random<Xoshiro256ss, SecondNormal::drop>;

}  // namespace v2c::rng
