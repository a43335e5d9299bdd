// Automatic brain mask from the mean EPI image (kernel: no I/O): the algorithm of nilearn's
// masking.compute_epi_mask (after T. Nichols' heuristic), implemented from its description.
//
//   1. mean image (the caller's: the mean over every volume of the runs); non-finite -> 0;
//   2. if opening > 0: Gaussian smoothing of FWHM 1 voxel along each axis (sigma = 1/sqrt(8 ln 2)
//      voxels, kernel truncated at 4 sigma -> radius 2, mirror-reflected edges: d c b a | a b c d);
//   3. the sorted values (zeros left out with exclude_zeros), the cut-offs
//      lo = floor(lower_cutoff * N), hi = min(floor(upper_cutoff * N), N - 1), and the largest gap
//      between consecutive sorted values in [lo, hi] (the first one if several): the threshold is
//      the middle of that gap, and the mask is every voxel with smoothed mean >= threshold;
//   4. if opening > 0: `opening` binary erosions; if connected: only the largest 6-connected
//      component is kept (ties: the one reached first in C order, k fastest); if opening > 0:
//      2 * opening dilations then `opening` erosions. Morphology uses the 6-neighbour cross and
//      counts voxels outside the grid as outside the mask.
// tests/oracle/epi_mask_numpy.py is a plain numpy version of the same steps.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace v2c::prep {

struct EpiMaskParams {
  double lower_cutoff = 0.2;   // share of the sorted values below which no threshold is sought
  double upper_cutoff = 0.85;  // share above which no threshold is sought
  int opening = 2;             // erosions of the morphological opening (0: no smoothing, no opening)
  bool connected = true;       // keep the largest connected component only
  bool exclude_zeros = false;  // leave zeros out of the histogram (zero-padded, resliced images)
};

struct EpiMask {
  std::vector<uint8_t> inside;  // [nx*ny*nz], flat index i + nx*(j + ny*k), 1 = brain
  double threshold = 0;         // on the smoothed mean image
  int64_t n_inside = 0;
};

// mean: [nx*ny*nz] values of the mean image, x fastest. Returns an empty mask (n_inside 0) when
// nothing survives; the caller decides. An input_error when there are too few values to cut.
EpiMask compute_epi_mask(const std::vector<double>& mean, const std::array<int64_t, 3>& dims,
                         const EpiMaskParams& params = {});

// Dice overlap 2|A∩B| / (|A| + |B|) of two masks of the same size (1 when both are empty).
double dice(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b);

}  // namespace v2c::prep
