// Matrix types shared across vox2clip. Row-major throughout: row i is sample (or stimulus) i,
// which is also the order h5py and numpy show (C order). Shapes are documented at each use.
#pragma once

#include <Eigen/Core>
#include <cstdint>

namespace v2c {

using MatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VectorF = Eigen::VectorXf;
using VectorD = Eigen::VectorXd;

}  // namespace v2c
