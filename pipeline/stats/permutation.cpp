#include "pipeline/stats/permutation.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include "pipeline/core/error.h"

namespace v2c::stats {

std::vector<int64_t> within_block_permutation(const std::vector<int64_t>& block_of_item, uint64_t seed, int64_t index) {
  std::map<int64_t, std::vector<int64_t>> items;  // blocks in ascending id order
  for (size_t i = 0; i < block_of_item.size(); ++i)
    if (block_of_item[i] >= 0) items[block_of_item[i]].push_back(int64_t(i));
  std::vector<int64_t> source(block_of_item.size());
  std::iota(source.begin(), source.end(), int64_t(0));
  std::mt19937_64 rng(seed + uint64_t(index));
  for (const auto& [block, members] : items) {
    std::vector<int64_t> shuffled = members;
    for (size_t j = shuffled.size(); j > 1; --j) {
      const size_t pick = std::uniform_int_distribution<size_t>(0, j - 1)(rng);
      std::swap(shuffled[j - 1], shuffled[pick]);
    }
    for (size_t j = 0; j < members.size(); ++j) source[size_t(members[j])] = shuffled[j];
  }
  return source;
}

PermutationResult permutation_test(const std::vector<int64_t>& block_of_item, const PermutedScore& score,
                                   const PermutationOptions& options) {
  V2C_ASSERT(options.n_perm >= 1, "n_perm ", options.n_perm);
  V2C_ASSERT(score, "no score function");
  PermutationResult r;
  std::vector<int64_t> identity(block_of_item.size());
  std::iota(identity.begin(), identity.end(), int64_t(0));
  r.observed = score(identity);
  const double threshold = r.observed - 1e-12 * std::max(1.0, std::abs(r.observed));
  r.null.resize(size_t(options.n_perm));
  for (int64_t b = 0; b < options.n_perm; ++b) {
    const double s = score(within_block_permutation(block_of_item, options.seed, b));
    r.null[size_t(b)] = s;
    if (!std::isfinite(s))
      ++r.n_nonfinite, ++r.n_at_least;
    else if (s >= threshold)
      ++r.n_at_least;
  }
  r.p_value = std::isfinite(r.observed) ? double(1 + r.n_at_least) / double(1 + options.n_perm) : std::nan("");
  return r;
}

}  // namespace v2c::stats
