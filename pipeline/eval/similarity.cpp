#include "pipeline/eval/similarity.h"

#include "pipeline/core/error.h"

namespace v2c::similarity {

Measure parse_measure(const std::string& name) {
  if (name == "cosine") return Measure::cosine;
  V2C_ASSERT(name == "pearson", "similarity measure '", name, "'");
  return Measure::pearson;
}

const char* measure_name(Measure m) { return m == Measure::cosine ? "cosine" : "pearson"; }

void transform_rows(MatrixF& rows, const Eigen::RowVectorXd& centre, Measure measure) {
  const int64_t d = rows.cols();
  V2C_ASSERT(centre.size() == 0 || centre.size() == d, "transform_rows(): centre of ", centre.size(), " for ", d,
             " dimensions");
  for (int64_t i = 0; i < rows.rows(); ++i) {
    Eigen::RowVectorXd v = rows.row(i).cast<double>();
    if (centre.size() == d) v -= centre;
    if (measure == Measure::pearson && d > 0) v.array() -= v.mean();
    rows.row(i) = v.cast<float>();
  }
}

MatrixD fold_means(const MatrixF& truth, const std::vector<std::vector<int64_t>>& rows_of_fold) {
  MatrixD out = MatrixD::Zero(int64_t(rows_of_fold.size()), truth.cols());
  for (size_t f = 0; f < rows_of_fold.size(); ++f) {
    V2C_ASSERT(!rows_of_fold[f].empty(), "fold_means(): fold ", f, " has no rows");
    for (int64_t r : rows_of_fold[f]) {
      V2C_ASSERT(r >= 0 && r < truth.rows(), "fold_means(): row ", r, " of ", truth.rows());
      out.row(int64_t(f)) += truth.row(r).cast<double>();
    }
    out.row(int64_t(f)) /= double(rows_of_fold[f].size());
  }
  return out;
}

}  // namespace v2c::similarity
