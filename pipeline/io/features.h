// Feature tables: stimulus id -> feature vector (e.g. CLIP embeddings), read from .npy (+ a
// names file; the .npy format itself is io/npy.h), HDF5, or CSV/TSV; and alias tables that map
// stimulus names onto feature ids.
// Every reader checks shapes, id counts, duplicate ids and finiteness, and names the file.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "pipeline/core/types.h"
#include "pipeline/io/npy.h"

namespace v2c::features {

struct FeatureTable {
  std::vector<std::string> ids;  // size n, unique
  MatrixF values;                // n x dim; row i is the vector of ids[i]
  std::string source;            // file it came from, for messages
  // Ids that the file listed more than once with bit-identical vectors (e.g. "Bench" and "Mouse"
  // in CLIP's OpenImages class list); only their first row is kept. For the caller to log.
  std::vector<std::string> merged_duplicates;

  // Row of `id`, or -1. Needs build_index() after ids change (read_features calls it).
  int find(const std::string& id) const;
  // (Re)builds the id -> row index; input_error naming the first duplicate id.
  void build_index();

 private:
  std::unordered_map<std::string, int> index_;
};

struct FeatureOptions {
  std::string names_path;              // .npy only: text file, one id per line, line i = row i
  std::string h5_values = "features";  // HDF5 only: 2-D float dataset, n x dim
  std::string h5_ids = "ids";          // HDF5 only: 1-D string dataset (fixed or variable length), n
  bool l2_normalize = false;           // divide each row by its Euclidean norm (zero row: error)
};

// By extension:
//   .npy          NumPy format 1.0/2.0/3.0, 2-D, dtype f2/f4/f8 little- or big-endian, C or
//                 Fortran order; ids from options.names_path (count must equal the rows).
//   .h5 / .hdf5   datasets options.h5_values and options.h5_ids.
//   .csv / .tsv   header row; first column the id, the others numbers.
// An id listed twice with identical vectors keeps its first row (see merged_duplicates); with
// different vectors it is an input_error. So ids are unique and values.rows() may be less than
// the rows in the file.
// Errors: missing file -> io_error; anything malformed, a non-finite value (named by its id)
// -> input_error.
FeatureTable read_features(const std::string& path, const FeatureOptions& options = {});

// Rows of `table` for stimulus_ids, in that order: stimulus_ids.size() x dim.
// An id without a vector -> input_error naming context, the stimulus, the feature file and a
// few of its ids.
MatrixF lookup(const FeatureTable& table, const std::vector<std::string>& stimulus_ids, const std::string& context);

// A two-column mapping read from a TSV/CSV with a header (by extension), e.g.
// category_to_clip.tsv: from_column "category" -> to_column "clip_name". Rows whose target is
// empty or "n/a" are skipped (no alias). A source listed twice with different targets is an
// input_error.
std::map<std::string, std::string> read_aliases(const std::string& path, const std::string& from_column,
                                                const std::string& to_column);

// Each id replaced by its alias where one exists, unchanged otherwise.
std::vector<std::string> apply_aliases(const std::map<std::string, std::string>& aliases,
                                       const std::vector<std::string>& ids);

// The .npy helpers (io/npy.h) under the names feature code and its tests use.
using npy::half_to_float;
using npy::write_npy;

}  // namespace v2c::features
