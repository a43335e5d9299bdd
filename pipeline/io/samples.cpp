#include "pipeline/io/samples.h"

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
  pick(s.stimulus), pick(s.run), pick(s.onset_s), pick(s.duration_s), pick(s.volumes), pick(s.group), pick(s.feature_row);
}

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
    const auto ijk = r.read_ints("voxels/ijk");
    if (ijk.size() != size_t(3 * n_voxels))
      throw input_error("voxels/ijk has ", ijk.size(), " values; expected 3 x ", n_voxels, " voxels");
    s.ijk.resize(n_voxels, 3);
    for (size_t i = 0; i < ijk.size(); ++i) s.ijk.data()[i] = int32_t(ijk[i]);
    s.xyz = r.read_matrix_d("voxels/xyz");
    s.mask_voxels = int64_t(r.attr_double("/voxels", "mask_voxels"));
    s.dropped_voxels = int64_t(r.attr_double("/voxels", "dropped_voxels"));
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
    const size_t n = size_t(s.data.rows());
    if (s.stimulus.size() != n || s.run.size() != n || s.onset_s.size() != n)
      throw input_error("the sample table has ", s.stimulus.size(), " rows; data has ", n);
    if (!s.group.empty() && s.group.size() != n)
      throw input_error("samples/group has ", s.group.size(), " values; data has ", n, " rows");
    return s;
  });
}

}  // namespace v2c
