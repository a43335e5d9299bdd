#include "pipeline/report/gather.h"

#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <tuple>

#include "pipeline/core/error.h"
#include "pipeline/core/format.h"
#include "pipeline/core/log.h"
#include "pipeline/io/h5.h"
#include "pipeline/io/h5_probe.h"
#include "pipeline/io/nifti/image.h"
#include "pipeline/io/predictions.h"

namespace v2c::report {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct ArtifactKind {
  bool is_vox2clip = false;
  std::string kind;
  int version = 0;
};

// The kind and version of a vox2clip artifact without committing to one (ArtifactReader
// insists on a kind). Throws v2c::Error when the file is not HDF5 or cannot be read.
ArtifactKind peek_kind(const std::string& path) {
  H5::Exception::dontPrint();
  ArtifactKind k;
  try {
    if (!H5::H5File::isHdf5(path)) throw input_error("'", path, "' is not an HDF5 file");
    const h5::FileStrings strings = h5::probe_file(path);  // strings come from the probe (h5_probe.h)
    const auto kind = strings.attributes.find("/@vox2clip_format");
    if (kind == strings.attributes.end() || kind->second.size() != 1) return k;
    k.kind = kind->second.front();
    H5::H5File f(path, H5F_ACC_RDONLY);
    if (H5Aexists_by_name(f.getId(), "/", "vox2clip_format_version", H5P_DEFAULT) > 0) {
      H5::Attribute v(H5Aopen_by_name(f.getId(), "/", "vox2clip_format_version", H5P_DEFAULT, H5P_DEFAULT));
      double version = 0;
      if (v.getTypeClass() == H5T_INTEGER || v.getTypeClass() == H5T_FLOAT)
        v.read(H5::PredType::NATIVE_DOUBLE, &version);
      k.version = std::isfinite(version) && std::abs(version) < 1e6 ? int(version) : 0;
    }
    k.is_vox2clip = true;
    return k;
  } catch (const H5::Exception& e) {
    throw io_error("cannot read HDF5 file '", path, "': ", e.getDetailMsg());
  }
}

std::string optional_attr(const h5::ArtifactReader& r, const std::string& object, const std::string& name) {
  try {
    return r.attr_string(object, name);
  } catch (const Error&) {
    return "";
  }
}

double optional_attr_double(const h5::ArtifactReader& r, const std::string& object, const std::string& name) {
  try {
    return r.attr_double(object, name);
  } catch (const Error&) {
    return std::nan("");
  }
}

std::vector<MetricRow> read_retrieval(const std::string& path) {
  h5::ArtifactReader r(path, "retrieval", kRetrievalMaxVersion);
  MetricRow base;
  base.source = path;
  base.subject = r.attr_string("/", "subject");
  base.model = r.attr_string("/", "model");
  base.train_fraction = r.attr_double("/", "train_fraction");
  base.candidate_set = optional_attr(r, "/", "candidate_set");
  base.ci_method = optional_attr(r, "/metrics", "ci_method");
  if (base.ci_method.empty()) base.ci_method = optional_attr(r, "/", "ci_method");
  const auto names = r.read_strings("metrics/name");
  const auto value = r.read_doubles("metrics/value");
  const auto low = r.read_doubles("metrics/ci_low");
  const auto high = r.read_doubles("metrics/ci_high");
  const auto chance = r.read_doubles("metrics/chance");
  const auto n_candidates = r.read_ints("metrics/n_candidates");
  const size_t k = names.size();
  const auto p_permutation =
      r.has("metrics/p_permutation") ? r.read_doubles("metrics/p_permutation") : std::vector<double>(k, std::nan(""));
  for (const auto& [name, n] : {std::pair<const char*, size_t>{"value", value.size()},
                                {"ci_low", low.size()},
                                {"ci_high", high.size()},
                                {"chance", chance.size()},
                                {"n_candidates", n_candidates.size()},
                                {"p_permutation", p_permutation.size()}})
    if (n != k) throw input_error("'", path, "': /metrics/", name, " has ", n, " entries, /metrics/name has ", k);
  std::vector<MetricRow> rows;
  for (size_t i = 0; i < k; ++i) {
    MetricRow m = base;
    m.metric = names[i];
    m.value = value[i];
    m.ci_low = low[i];
    m.ci_high = high[i];
    m.chance = chance[i];
    m.n_candidates = n_candidates[i];
    m.p_permutation = p_permutation[i];
    rows.push_back(m);
  }
  return rows;
}

PredictionsSummary read_predictions_summary(const std::string& path) {
  h5::ArtifactReader r(path, "predictions", kPredictionsFormatVersion);
  PredictionsSummary p;
  p.path = path;
  p.subject = r.attr_string("/", "subject");
  p.model = r.attr_string("/", "model");
  p.mode = optional_attr(r, "/", "mode");
  p.train_fraction = r.attr_double("/", "train_fraction");
  if (r.has("predictions")) {
    const auto shape = r.shape("predictions");
    if (shape.size() == 2) p.n_samples = shape[0], p.n_targets = shape[1];
  }
  p.mean_profile_corr = optional_attr_double(r, "/metrics", "mean_profile_corr");
  p.mean_pattern_corr = optional_attr_double(r, "/metrics", "mean_pattern_corr");
  p.mean_r2 = optional_attr_double(r, "/metrics", "mean_r2");
  if (r.has("folds/alphas") && r.has("folds/alpha")) {
    p.alphas = r.read_doubles("folds/alphas");
    const MatrixD a = r.read_matrix_d("folds/alpha");
    p.n_folds = a.rows();
    p.fold_alpha.assign(a.data(), a.data() + a.size());
  }
  if (r.has("folds/edge_low")) p.edge_low = r.read_doubles("folds/edge_low");
  if (r.has("folds/edge_high")) p.edge_high = r.read_doubles("folds/edge_high");
  return p;
}

EncodingMap read_map(const std::string& path, const std::string& subject) {
  const nifti::Image img = nifti::Image::load(path);
  const nifti::Header& h = img.header();
  if (h.n_volumes() != 1)
    throw input_error("'", path, "': an encoding map should be one 3D volume, found ", h.n_volumes(), " volumes");
  EncodingMap m;
  m.path = path;
  m.subject = subject;
  std::string stem = fs::path(path).filename().string();
  stem = stem.substr(0, stem.size() - std::string(".nii.gz").size());
  m.label = subject + " · " + stem;
  m.nx = h.dims.size() > 0 ? h.dims[0] : 1;
  m.ny = h.dims.size() > 1 ? h.dims[1] : 1;
  m.nz = h.dims.size() > 2 ? h.dims[2] : 1;
  m.values.resize(size_t(h.volume_size()));
  for (int64_t v = 0; v < h.volume_size(); ++v) m.values[size_t(v)] = float(img.value(v));
  // Flip an axis whose world direction is mostly -x (or -y); permuted axes are shown as stored.
  auto dominant = [&](int col) {
    int best = 0;
    for (int row = 1; row < 3; ++row)
      if (std::abs(h.affine(row, col)) > std::abs(h.affine(best, col))) best = row;
    return best;
  };
  m.flip_x = dominant(0) == 0 && h.affine(0, 0) < 0;
  m.flip_y = dominant(1) == 1 && h.affine(1, 1) < 0;
  return m;
}

// The subject of a file that does not record one: from a sibling predictions file, else the
// directory name.
std::string subject_for_map(const fs::path& map_path, const std::vector<PredictionsSummary>& preds) {
  std::string name = map_path.filename().string();
  const std::string stem = name.substr(0, name.size() - std::string("_corr.nii.gz").size());
  const std::string sibling = (map_path.parent_path() / (stem + ".h5")).string();
  for (const auto& p : preds)
    if (p.path == sibling) return p.subject;
  return map_path.parent_path().filename().string();
}

}  // namespace

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  return shortest_decimal(v);
}

Study gather_study(const std::string& study_dir) {
  std::error_code ec;
  if (!fs::is_directory(study_dir, ec)) throw io_error("study directory '", study_dir, "' not found");
  Study s;
  s.dir = study_dir;
  fs::path dir_path = fs::path(study_dir).lexically_normal();
  if (dir_path.filename().empty()) dir_path = dir_path.parent_path();
  s.name = dir_path.filename().string();
  if (s.name.empty() || s.name == ".") s.name = fs::absolute(study_dir, ec).lexically_normal().filename().string();

  std::vector<fs::path> subject_dirs;
  for (const auto& e : fs::directory_iterator(study_dir, ec))
    if (e.is_directory() && e.path().filename().string().rfind("sub-", 0) == 0) subject_dirs.push_back(e.path());
  if (ec) throw io_error("cannot list study directory '", study_dir, "': ", ec.message());
  std::sort(subject_dirs.begin(), subject_dirs.end());

  std::vector<fs::path> h5_files, map_files;
  for (const auto& d : subject_dirs) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      const std::string name = e.path().filename().string();
      if (!e.is_regular_file() || name.empty() || name[0] == '.') continue;
      if (ends_with(name, ".h5"))
        h5_files.push_back(e.path());
      else if (ends_with(name, "_corr.nii.gz"))
        map_files.push_back(e.path());
    }
  }
  std::sort(h5_files.begin(), h5_files.end());
  std::sort(map_files.begin(), map_files.end());

  // Inputs and models a study keeps beside its results (timeseries.h5 of the self-supervised stage,
  // a held-out subject's pretrained encoder): not results, and not worth a warning.
  static const std::set<std::string> quiet_kinds = {"samples", "features", "simulation_truth", "timeseries",
                                                    "encoder_checkpoint"};
  for (const auto& f : h5_files) {
    const std::string path = f.string();
    try {
      const ArtifactKind k = peek_kind(path);
      if (!k.is_vox2clip) {
        log::warn("skipping '", path, "': not a vox2clip artifact (no vox2clip_format attribute)");
      } else if (k.kind == "retrieval" || k.kind == "predictions") {
        const int max_version = k.kind == "retrieval" ? kRetrievalMaxVersion : kPredictionsFormatVersion;
        if (k.version > max_version) {
          log::warn("skipping '", path, "': ", k.kind, " format version ", k.version, " is newer than this ",
                    "vox2clip reads (", max_version, ")");
          continue;
        }
        if (k.kind == "retrieval") {
          for (auto& row : read_retrieval(path)) s.metrics.push_back(std::move(row));
        } else {
          s.predictions.push_back(read_predictions_summary(path));
        }
        s.inputs.push_back(path);
      } else if (quiet_kinds.count(k.kind)) {
        log::debug("not a result file: ", path, " (", k.kind, ")");
      } else {
        log::warn("skipping '", path, "': unknown vox2clip file kind '", k.kind, "' (version ", k.version, ")");
      }
    } catch (const Error& e) {
      log::warn("skipping '", path, "': ", e.what());
    }
  }
  for (const auto& f : map_files) {
    const std::string path = f.string();
    try {
      s.maps.push_back(read_map(path, subject_for_map(f, s.predictions)));
      s.inputs.push_back(path);
    } catch (const Error& e) {
      log::warn("skipping encoding map '", path, "': ", e.what());
    }
  }

  auto key = [](const MetricRow& m) {
    return std::tie(m.subject, m.model, m.train_fraction, m.metric, m.candidate_set, m.source);
  };
  std::stable_sort(s.metrics.begin(), s.metrics.end(),
                   [&](const MetricRow& a, const MetricRow& b) { return key(a) < key(b); });
  for (size_t i = 1; i < s.metrics.size(); ++i) {
    const MetricRow &a = s.metrics[i - 1], &b = s.metrics[i];
    if (a.subject == b.subject && a.model == b.model && a.train_fraction == b.train_fraction && a.metric == b.metric &&
        a.candidate_set == b.candidate_set)
      log::warn("two retrieval results for ", a.subject, " / ", a.model, " / train_fraction ",
                format_number(a.train_fraction), " / ", a.metric, ": '", a.source, "' and '", b.source,
                "'; the summaries use the first");
  }
  return s;
}

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string results_csv(const std::vector<MetricRow>& rows) {
  std::string out = "subject,model,train_fraction,metric,value,ci_low,ci_high,chance,n_candidates,p_permutation\n";
  for (const auto& r : rows)
    out += cat(csv_field(r.subject), ",", csv_field(r.model), ",", format_number(r.train_fraction), ",",
               csv_field(r.metric), ",", format_number(r.value), ",", format_number(r.ci_low), ",",
               format_number(r.ci_high), ",", format_number(r.chance), ",", r.n_candidates, ",",
               format_number(r.p_permutation), "\n");
  return out;
}

const GroupSummary* find_group(const std::vector<GroupSummary>& groups, const std::string& model, double f,
                               const std::string& metric) {
  for (const auto& g : groups)
    if (g.model == model && g.train_fraction == f && g.metric == metric) return &g;
  return nullptr;
}

const MetricRow* find_row(const std::vector<MetricRow>& rows, const std::string& subject, const std::string& model,
                          double f, const std::string& metric) {
  for (const auto& m : rows)
    if (m.subject == subject && m.model == model && m.train_fraction == f && m.metric == metric) return &m;
  return nullptr;
}

std::vector<GroupSummary> summarise(const std::vector<MetricRow>& rows) {
  std::map<std::tuple<std::string, double, std::string>, std::vector<const MetricRow*>> groups;
  for (const auto& r : rows) {
    auto& g = groups[{r.model, r.train_fraction, r.metric}];
    bool duplicate = false;
    for (const MetricRow* other : g) duplicate = duplicate || other->subject == r.subject;
    if (!duplicate) g.push_back(&r);
  }
  constexpr double z = 1.959963984540054;
  std::vector<GroupSummary> out;
  for (const auto& [k, members] : groups) {
    GroupSummary g;
    std::tie(g.model, g.train_fraction, g.metric) = k;
    g.n_subjects = int(members.size());
    double sum = 0, var = 0, chance = 0;
    for (const MetricRow* m : members) {
      g.subjects.push_back(m->subject);
      g.values.push_back(m->value);
      sum += m->value;
      chance += m->chance;
      const double se = (m->ci_high - m->ci_low) / (2 * z);
      var += se * se;
    }
    const double n = double(members.size());
    g.mean = sum / n;
    g.chance = chance / n;
    if (members.size() == 1) {
      g.ci_low = members[0]->ci_low;
      g.ci_high = members[0]->ci_high;
    } else {
      const double half = z * std::sqrt(var) / n;
      g.ci_low = g.mean - half;
      g.ci_high = g.mean + half;
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<std::string> model_order(const std::vector<std::string>& models) {
  std::vector<std::string> out(models.begin(), models.end());
  std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    const bool ra = a == "ridge", rb = b == "ridge";
    if (ra != rb) return ra;
    return a < b;
  });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace v2c::report
