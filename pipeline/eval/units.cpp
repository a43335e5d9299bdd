#include "pipeline/eval/units.h"

#include <map>
#include <numeric>

#include "pipeline/core/error.h"

namespace v2c::eval {

std::vector<int64_t> independent_units(const std::vector<std::vector<int32_t>>& runs_of_query) {
  std::map<int32_t, int32_t> parent;  // union-find over run ids
  auto find = [&](int32_t r) {
    while (parent.at(r) != r) r = parent[r] = parent[parent[r]];
    return r;
  };
  for (const auto& runs : runs_of_query) {
    V2C_ASSERT(!runs.empty(), "independent_units(): a query without runs");
    for (int32_t r : runs) {
      V2C_ASSERT(r >= 0, "independent_units(): run ", r);
      parent.emplace(r, r);
    }
    for (int32_t r : runs) {
      const int32_t a = find(runs.front()), b = find(r);
      if (a != b) parent[std::max(a, b)] = std::min(a, b);  // the root is the component's smallest run
    }
  }
  std::map<int32_t, int64_t> unit_of_root;
  for (const auto& [run, p] : parent) {
    (void)p;
    unit_of_root.emplace(find(run), int64_t(unit_of_root.size()));
  }
  std::vector<int64_t> out;
  out.reserve(runs_of_query.size());
  for (const auto& runs : runs_of_query) out.push_back(unit_of_root.at(find(runs.front())));
  return out;
}

}  // namespace v2c::eval
