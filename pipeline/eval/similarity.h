// How a decoded vector is compared with a candidate stimulus vector (kernels: no I/O).
//
// Retrieval ranks candidates by the cosine of two vectors after optional transforms of both:
//   centring   subtract a centre vector μ [d] from the query AND from every candidate. With μ
//              the TRAINING fold's target mean, the similarity judges what the model predicts
//              beyond the mean it learnt: ridge's predictions are ȳ_train + signal, and under
//              block designs (leave-one-block-out, one class per block) ȳ_train points away from
//              the held-out class, so raw cosine ranks the true candidate last (issue 10: top-1
//              0.00 with one-hot targets, chance 0.17). μ must come from training rows only
//              (training_rows.h), never from the test rows.
//   pearson    subtract each vector's own mean over its d entries; cosine of the results is
//              Pearson's correlation across dimensions, the similarity of Kamitani-lab
//              identification (Horikawa & Kamitani 2017, "Generic decoding of seen and imagined
//              objects", Nat. Commun. 8:15037: correlation between decoded and candidate feature
//              vectors).
// Order: centring first, then the per-vector mean (both are linear, the order matters only in
// that the Pearson step comes last, so the result is exactly a correlation).
//
// Layout: row-major float32 matrices [n x d], one vector per row; centres [d] double. Means are
// accumulated in double.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "pipeline/core/types.h"

namespace v2c::similarity {

enum class Measure {
  cosine,   // dot / (|q| |c|)
  pearson,  // cosine of the vectors minus their own mean over the d dimensions
};

// "cosine" | "pearson" (asserted: config validation names the field first).
Measure parse_measure(const std::string& name);
const char* measure_name(Measure m);

// The transform of one set of vectors [n x d], in place: rows minus `centre` (when it has d
// entries; empty: no centring), then, for pearson, each row minus its own mean.
void transform_rows(MatrixF& rows, const Eigen::RowVectorXd& centre, Measure measure);

// Mean of truth's rows listed in rows_of_fold[f], per fold: [n_folds x d] (double). A fold
// without rows is an error of the caller (asserted).
MatrixD fold_means(const MatrixF& truth, const std::vector<std::vector<int64_t>>& rows_of_fold);

}  // namespace v2c::similarity
