// BData reader: the Kamitani lab's HDF5 format (python package bdpy, BrainDecoderToolbox2), in
// which the Horikawa 2017 (Generic Object Decoding) and Horikawa 2020 (emotion videos) fMRI data
// are published. Reading only; vox2clip never writes BData.
//
// Layout, as bdpy's BData.save() writes it (and BData.load() reads it):
//   /dataset               [n_samples x n_columns] float64: voxel values and design columns
//                          (Run, Label, Block, ...) side by side
//   /metadata/key          [n_keys] strings (fixed-length bytes from bdpy; variable-length accepted)
//   /metadata/description  [n_keys] strings (optional here: empty when absent)
//   /metadata/value        [n_keys x n_columns] float64; value(k, c) is metadata key k of column c:
//                          1 where a flag key (VoxelData, ROI_V1, Run, Label...) applies, NaN where
//                          it does not; other keys carry numbers (voxel_x...)
//   /vmap/<key>/<value>    optional scalar string: the label of `value` (its text, e.g. "3.0",
//                          parsed as a number) in the column flagged by <key>
//   /header/...            ignored
// Older files name the first two /dataSet and /metaData (either may be legacy independently).
// Not supported: the MATLAB (.mat) and pickled (.npy) BData variants.
//
// Column selection expressions (bdpy's BData.select, minus its ranking operators):
//   KEY = NUMBER     columns whose metadata KEY equals NUMBER (NaN equals nothing)
//   KEY              shorthand for KEY = 1
//   a | b, a + b     union;   a & b   intersection;   a - b   a and not b
//   ( ... )          grouping
// The binary operators share one precedence and apply left to right, as in bdpy:
// "A = 1 | B = 1 & C = 1" is "(A = 1 | B = 1) & C = 1". KEY may contain '*' (any run of
// characters, matched against the whole key, as bdpy does); a wildcard KEY selects a column when
// any matching key satisfies the condition. Blanks around tokens are ignored. Not supported:
// bdpy's '@' and 'top' ranking operators.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pipeline/core/types.h"
#include "pipeline/io/samples.h"

namespace v2c::bdata {

struct BData {
  std::string path;
  MatrixD dataset;                        // [n_samples x n_columns]
  std::vector<std::string> keys;          // [n_keys] metadata keys, distinct
  std::vector<std::string> descriptions;  // [n_keys]
  MatrixD metadata;                       // [n_keys x n_columns], NaN where a key does not apply
  // vmap[key][value] = label, for the column(s) flagged by `key`.
  std::map<std::string, std::map<double, std::string>> vmap;

  int64_t n_samples() const { return dataset.rows(); }
  int64_t n_columns() const { return dataset.cols(); }
  // Row of `key` in `metadata`, -1 when absent.
  int64_t key_index(const std::string& key) const;
};

// Reads and validates a BData file. Errors: io_error when it cannot be opened; input_error when
// it is not HDF5, lacks the BData datasets (the message lists what was expected and found), or
// has inconsistent shapes (metadata columns vs dataset columns, keys vs metadata rows).
BData read_bdata(const std::string& path);

// Indices (ascending, 0-based) of the columns an expression selects (syntax above).
// Errors: usage_error for a malformed expression; input_error for a key the file lacks (listing
// the available keys) or an expression that selects no column.
std::vector<int64_t> select_columns(const BData& bd, const std::string& expression);

// The one column flagged by `key` (metadata value 1), as bdpy's get(key): [n_samples].
// input_error when the key is missing or flags no column or more than one.
std::vector<double> column(const BData& bd, const std::string& key);

// Which columns make up a Samples file; each field names BData metadata keys.
struct BDataSelection {
  std::string voxels = "VoxelData = 1";  // expression selecting the voxel columns
  std::string run = "Run";               // key of the run column
  std::string stimulus = "Label";        // key of the stimulus column (labels via its vmap if any)
  std::string session;                   // optional key of a session column: when set, a run is a
                                         // (session, run) pair, for files whose run numbers restart
};

// One subject's Samples from a BData file:
//   data        the selected voxel columns, float32, values as stored (NaN kept)
//   run         runs renumbered 0..n_runs-1 in order of first appearance; run_source keeps the
//               original numbers as text ("run 3", or "session 2 run 3"), run_events the file
//   stimulus    the vmap label of the stimulus value when the key has a vmap, else the value in
//               the shortest decimal that reads back exactly, never in exponent form ("3",
//               "1.000001", "1518878.008432"); a NaN stimulus or a value missing from the vmap is
//               an input_error
//   onset_s, duration_s, volumes: 0 (BData carries no timing); run_volumes 0, run_tr_s NaN
//   ijk         metadata voxel_i/voxel_j/voxel_k of each voxel column when all three keys exist,
//               as stored (no change of base); -1 where absent or NaN
//   xyz         metadata voxel_x/voxel_y/voxel_z (mm) when all three exist, else NaN
//   grid_dims   {0, 0, 0} (unknown); affine identity; mask_voxels = n_voxels; no features
Samples samples_from_bdata(const std::string& path, const BDataSelection& sel, const std::string& subject);
// As above, from a BData already read.
Samples samples_from_bdata(const BData& bd, const BDataSelection& sel, const std::string& subject);

// The shortest fixed-notation text that reads back as `v` ("3", "1.000001", "-0.5").
std::string format_value(double v);

}  // namespace v2c::bdata
