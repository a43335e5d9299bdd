#include "pipeline/stats/repeats.h"

#include <algorithm>
#include <map>

#include "pipeline/core/error.h"

namespace v2c::stats {

AveragedQueries average_repeats(const MatrixF& decoded, const std::vector<std::string>& stimulus,
                                const std::vector<int32_t>& fold, const std::vector<int64_t>& rows) {
  V2C_ASSERT(int64_t(stimulus.size()) == decoded.rows() && int64_t(fold.size()) == decoded.rows(), decoded.rows(),
             " decoded rows, ", stimulus.size(), " stimuli, ", fold.size(), " folds");
  AveragedQueries out;
  std::map<std::pair<int32_t, std::string>, size_t> query_of;
  std::vector<bool> seen(size_t(decoded.rows()), false);
  for (int64_t row : rows) {
    V2C_ASSERT(row >= 0 && row < decoded.rows(), "row ", row, " of ", decoded.rows());
    V2C_ASSERT(!seen[size_t(row)], "row ", row, " given twice");
    V2C_ASSERT(fold[size_t(row)] >= 0, "row ", row, " was never tested (fold ", fold[size_t(row)], ")");
    seen[size_t(row)] = true;
    const auto [it, fresh] =
        query_of.emplace(std::make_pair(fold[size_t(row)], stimulus[size_t(row)]), out.members.size());
    if (fresh) {
      out.stimulus.push_back(stimulus[size_t(row)]);
      out.fold.push_back(fold[size_t(row)]);
      out.members.emplace_back();
    }
    out.members[it->second].push_back(row);
  }
  const auto m = int64_t(out.members.size());
  out.values.resize(m, decoded.cols());
  for (int64_t q = 0; q < m; ++q) {
    auto& members = out.members[size_t(q)];
    std::sort(members.begin(), members.end());
    Eigen::RowVectorXd sum = Eigen::RowVectorXd::Zero(decoded.cols());
    for (int64_t row : members) sum += decoded.row(row).cast<double>();
    out.values.row(q) = (sum / double(members.size())).cast<float>();
  }
  return out;
}

}  // namespace v2c::stats
