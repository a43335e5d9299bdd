#include "pipeline/prep/auto_mask.h"

#include <algorithm>
#include <numeric>

#include "pipeline/core/error.h"

namespace v2c::prep {

namespace {
int64_t dim(const nifti::Header& h, size_t k) { return k < h.dims.size() ? h.dims[k] : 1; }
}  // namespace

std::vector<double> mean_image(const std::vector<std::string>& runs, const nifti::Header& grid) {
  const int64_t nv = grid.volume_size();
  std::vector<double> sum(size_t(nv), 0.0);
  int64_t volumes = 0;
  constexpr int64_t kBlock = 16384;  // voxels gathered at a time: n_volumes x 16384 floats
  for (const auto& path : runs) {
    const nifti::Image img = nifti::Image::load(path);
    V2C_ASSERT(img.header().volume_size() == nv);
    for (int64_t v0 = 0; v0 < nv; v0 += kBlock) {
      std::vector<int64_t> idx(size_t(std::min(kBlock, nv - v0)));
      std::iota(idx.begin(), idx.end(), v0);
      const MatrixF y = img.gather(idx);
      for (int64_t t = 0; t < y.rows(); ++t)
        for (size_t j = 0; j < idx.size(); ++j) sum[size_t(v0) + j] += double(y(t, int64_t(j)));
    }
    volumes += img.header().n_volumes();
  }
  for (double& s : sum) s /= double(volumes);
  return sum;
}

nifti::Mask mask_of(const std::vector<uint8_t>& inside, const nifti::Header& grid) {
  nifti::Mask m;
  const int64_t nx = dim(grid, 0), ny = dim(grid, 1);
  for (size_t v = 0; v < inside.size(); ++v) {
    if (!inside[v]) continue;
    const int64_t flat = int64_t(v);
    m.flat.push_back(flat);
    m.ijk.push_back({int32_t(flat % nx), int32_t((flat / nx) % ny), int32_t(flat / (nx * ny))});
  }
  return m;
}

}  // namespace v2c::prep
