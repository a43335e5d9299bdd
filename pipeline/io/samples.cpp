#include "pipeline/io/samples.h"

#include <algorithm>
#include <cmath>

#include "pipeline/core/error.h"
#include "pipeline/io/h5.h"

namespace v2c {

void keep_samples(Samples& s, const std::vector<int64_t>& rows) {
  auto pick = [&](auto& v) {
    if (v.empty()) return;
    std::remove_reference_t<decltype(v)> kept;
    kept.reserve(rows.size());
    for (int64_t i : rows) kept.push_back(v[size_t(i)]);
    v = std::move(kept);
  };
  MatrixF data(int64_t(rows.size()), s.data.cols());
  for (size_t k = 0; k < rows.size(); ++k) data.row(int64_t(k)) = s.data.row(rows[k]);
  s.data = std::move(data);
  pick(s.stimulus), pick(s.run), pick(s.onset_s), pick(s.duration_s), pick(s.volumes), pick(s.group),
      pick(s.feature_row);
}

namespace {

// The first non-finite value of a row-major matrix as "row i, column j", or "" when all are finite.
template <class M>
std::string first_nonfinite(const M& m) {
  for (int64_t i = 0; i < m.rows(); ++i)
    for (int64_t j = 0; j < m.cols(); ++j)
      if (!std::isfinite(m(i, j))) return cat("row ", i, ", column ", j, " is ", m(i, j));
  return "";
}

// Every length, index and value of a samples file is checked before anything uses it: an index
// read from a file that points outside its table would read or write out of bounds.
// `v`: the voxels (columns of /data), also when /data itself was not read.
void check_samples(const Samples& s, int64_t v) {
  const int64_t n = s.n_samples(), n_runs = int64_t(s.run_source.size());
  auto length = [](const char* name, size_t found, int64_t expected, const char* what) {
    if (int64_t(found) != expected)
      throw input_error("dataset '", name, "' has ", found, " entries; expected ", expected, " (", what, ")");
  };
  length("samples/stimulus", s.stimulus.size(), n, "one per row of /data");
  length("samples/run", s.run.size(), n, "one per row of /data");
  length("samples/onset", s.onset_s.size(), n, "one per row of /data");
  length("samples/duration", s.duration_s.size(), n, "one per row of /data");
  length("samples/volumes", s.volumes.size(), n, "one per row of /data");
  length("voxels/xyz", size_t(s.xyz.rows()), v, "one row per column of /data");
  if (s.xyz.cols() != 3) throw input_error("dataset 'voxels/xyz' has ", s.xyz.cols(), " columns; expected 3");
  length("runs/events", s.run_events.size(), n_runs, "one per entry of /runs/source");
  length("runs/volumes", s.run_volumes.size(), n_runs, "one per entry of /runs/source");
  length("runs/tr", s.run_tr_s.size(), n_runs, "one per entry of /runs/source");
  for (int64_t i = 0; i < n; ++i) {
    if (s.run[size_t(i)] < 0 || s.run[size_t(i)] >= n_runs)
      throw input_error("dataset 'samples/run': entry ", i, " is ", s.run[size_t(i)], "; expected a run index in [0, ",
                        n_runs, ") (/runs/source has ", n_runs, " runs)");
    if (s.volumes[size_t(i)] < 0)  // 0: unknown (samples from BData)
      throw input_error("dataset 'samples/volumes': entry ", i, " is ", s.volumes[size_t(i)], "; expected >= 0");
  }
  for (int64_t r = 0; r < n_runs; ++r) {
    if (s.run_volumes[size_t(r)] < 0)
      throw input_error("dataset 'runs/volumes': entry ", r, " is ", s.run_volumes[size_t(r)], "; expected >= 0");
  }
  // The grid: all zero (no grid: samples not from NIfTI) or every voxel inside it.
  const bool no_grid = s.grid_dims[0] == 0 && s.grid_dims[1] == 0 && s.grid_dims[2] == 0;
  for (int k = 0; k < 3 && !no_grid; ++k)
    if (s.grid_dims[k] < 1 || s.grid_dims[k] > (int64_t{1} << 31))
      throw input_error("dataset 'grid/dims': axis ", k, " is ", s.grid_dims[k], "; expected 1 to 2^31 voxels");
  for (int64_t j = 0; j < v && !no_grid; ++j)
    for (int k = 0; k < 3; ++k)
      if (s.ijk(j, k) < 0 || s.ijk(j, k) >= s.grid_dims[k])
        throw input_error("dataset 'voxels/ijk': voxel ", j, " is (", s.ijk(j, 0), ", ", s.ijk(j, 1), ", ", s.ijk(j, 2),
                          "), outside the grid ", s.grid_dims[0], " x ", s.grid_dims[1], " x ", s.grid_dims[2],
                          " (grid/dims)");
  if (!s.affine.allFinite()) throw input_error("dataset 'grid/affine' holds non-finite values");
  if (const std::string bad = first_nonfinite(s.data); !bad.empty())
    throw input_error("dataset 'data': ", bad, "; samples must be finite (v2c-prepare drops non-finite voxels)");
  if (s.has_features()) {
    length("features/ids", s.feature_ids.size(), s.features.rows(), "one per row of /features/values");
    length("samples/feature_row", s.feature_row.size(), n, "one per row of /data");
    for (int64_t i = 0; i < n; ++i)
      if (s.feature_row[size_t(i)] < 0 || s.feature_row[size_t(i)] >= s.features.rows())
        throw input_error("dataset 'samples/feature_row': entry ", i, " is ", s.feature_row[size_t(i)],
                          "; expected a row of /features/values in [0, ", s.features.rows(), ")");
    if (const std::string bad = first_nonfinite(s.features); !bad.empty())
      throw input_error("dataset 'features/values': ", bad, "; features must be finite");
  }
}

int64_t count_attr(const h5::ArtifactReader& r, const std::string& object, const std::string& name) {
  const double v = r.attr_double(object, name);
  if (!(v >= 0 && v <= 9e15) || v != std::floor(v))
    throw input_error("attribute '", object, "@", name, "' is ", v, "; expected a count");
  return int64_t(v);
}

}  // namespace

void write_samples(const std::string& path, const Samples& s, const Provenance& prov, bool force) {
  h5::ArtifactWriter w(path, "samples", kSamplesFormatVersion, prov, force);
  w.attr("/", "subject", s.subject);
  w.write("data", s.data);
  w.write("samples/stimulus", s.stimulus);
  w.write("samples/run", s.run);
  w.write("samples/onset", s.onset_s);
  w.write("samples/duration", s.duration_s);
  w.write("samples/volumes", s.volumes);
  if (!s.group.empty()) w.write("samples/group", s.group);
  w.write("voxels/ijk", std::vector<int32_t>(s.ijk.data(), s.ijk.data() + s.ijk.size()), 3);
  w.write("voxels/xyz", s.xyz);
  w.attr("/voxels", "mask_voxels", s.mask_voxels);
  w.attr("/voxels", "dropped_voxels", s.dropped_voxels);
  w.attr("/voxels", "mask_source", s.mask_source);
  w.attr("/voxels", "mask_method", s.mask_method);
  w.attr("/samples", "mode", s.sample_mode);
  w.attr("/samples", "dropped_events", int64_t(s.dropped_stimulus.size()));
  if (!s.dropped_stimulus.empty()) {
    w.write("dropped_events/stimulus", s.dropped_stimulus);
    w.write("dropped_events/run", s.dropped_run);
    w.write("dropped_events/onset", s.dropped_onset_s);
    w.write("dropped_events/reason", s.dropped_reason);
  }
  w.write("grid/dims", std::vector<int64_t>(s.grid_dims.begin(), s.grid_dims.end()));
  w.write("grid/affine", MatrixD(s.affine));
  w.write("runs/source", s.run_source);
  w.write("runs/events", s.run_events);
  w.write("runs/volumes", s.run_volumes);
  w.write("runs/tr", s.run_tr_s);
  if (s.has_features()) {
    w.write("features/ids", s.feature_ids);
    w.write("features/values", s.features);
    w.write("samples/feature_row", s.feature_row);
    w.attr("/features", "source", s.feature_source);
  }
  w.commit();
}

Samples read_samples(const std::string& path, bool with_data) {
  return with_context("reading samples file '" + path + "'", [&] {
    h5::ArtifactReader r(path, "samples", kSamplesFormatVersion);
    Samples s;
    s.subject = r.attr_string("/", "subject");
    if (with_data) {
      s.data = r.read_matrix_f("data");
    } else {
      const auto shape = r.shape("data");
      if (shape.size() != 2) throw input_error("dataset 'data' has ", shape.size(), " dimensions; expected 2");
      s.data = MatrixF(shape[0], 0);
    }
    const int64_t n_voxels = with_data ? s.data.cols() : r.shape("data")[1];
    s.stimulus = r.read_strings("samples/stimulus");
    s.run = r.read_int32s("samples/run");
    s.onset_s = r.read_doubles("samples/onset");
    s.duration_s = r.read_doubles("samples/duration");
    s.volumes = r.read_int32s("samples/volumes");
    if (r.has("samples/group")) s.group = r.read_int32s("samples/group");
    const auto ijk = r.read_int32s("voxels/ijk");
    if (ijk.size() != size_t(3 * n_voxels))
      throw input_error("dataset 'voxels/ijk' has ", ijk.size(), " values; expected 3 x ", n_voxels, " voxels");
    s.ijk.resize(n_voxels, 3);
    std::copy(ijk.begin(), ijk.end(), s.ijk.data());
    s.xyz = r.read_matrix_d("voxels/xyz");
    s.mask_voxels = count_attr(r, "/voxels", "mask_voxels");
    s.dropped_voxels = count_attr(r, "/voxels", "dropped_voxels");
    if (r.has_attr("/voxels", "mask_source")) s.mask_source = r.attr_string("/voxels", "mask_source");
    if (r.has_attr("/voxels", "mask_method")) s.mask_method = r.attr_string("/voxels", "mask_method");
    if (r.has_attr("/samples", "mode")) s.sample_mode = r.attr_string("/samples", "mode");
    const auto dims = r.read_ints("grid/dims");
    if (dims.size() != 3) throw input_error("grid/dims has ", dims.size(), " values; expected 3");
    for (int k = 0; k < 3; ++k) s.grid_dims[k] = dims[k];
    const MatrixD aff = r.read_matrix_d("grid/affine");
    if (aff.rows() != 4 || aff.cols() != 4) throw input_error("grid/affine is not 4x4");
    s.affine = aff;
    s.run_source = r.read_strings("runs/source");
    s.run_events = r.read_strings("runs/events");
    s.run_volumes = r.read_int32s("runs/volumes");
    s.run_tr_s = r.read_doubles("runs/tr");
    if (r.has("dropped_events/stimulus")) {
      s.dropped_stimulus = r.read_strings("dropped_events/stimulus");
      s.dropped_run = r.read_int32s("dropped_events/run");
      s.dropped_onset_s = r.read_doubles("dropped_events/onset");
      s.dropped_reason = r.read_strings("dropped_events/reason");
    }
    if (r.has("features/values")) {
      s.feature_ids = r.read_strings("features/ids");
      s.features = r.read_matrix_f("features/values");
      s.feature_row = r.read_int32s("samples/feature_row");
      s.feature_source = r.attr_string("/features", "source");
    }
    check_samples(s, n_voxels);
    if (!s.group.empty() && int64_t(s.group.size()) != s.n_samples())
      throw input_error("dataset 'samples/group' has ", s.group.size(), " entries; expected ", s.n_samples(),
                        " (one per row of /data)");
    return s;
  });
}

}  // namespace v2c
