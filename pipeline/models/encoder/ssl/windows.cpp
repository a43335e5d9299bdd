#include "pipeline/models/encoder/ssl/windows.h"

#include "pipeline/core/error.h"

namespace v2c::encoder::ssl {

WindowPool::WindowPool(const std::vector<const MatrixF*>& runs, int64_t length) : length_(length) {
  for (const MatrixF* r : runs)
    if (r->rows() >= length) runs_.push_back(r), starts_.push_back(r->rows() - length + 1), total_ += starts_.back();
}

void WindowPool::draw(int64_t N, Rng& rng, Mat<float>& X) const {
  V2C_ASSERT(total_ > 0, "drawing from an empty window pool");
  X.resize(N * length_, runs_[0]->cols());
  for (int64_t n = 0; n < N; ++n) {
    int64_t k = rng.below(total_);
    size_t r = 0;
    while (k >= starts_[r]) k -= starts_[r++];
    X.middleRows(n * length_, length_) = runs_[r]->middleRows(k, length_);
  }
}

}  // namespace v2c::encoder::ssl
