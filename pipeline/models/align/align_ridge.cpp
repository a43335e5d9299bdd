#include "pipeline/models/align/align_ridge.h"

#include <Eigen/SVD>
#include <algorithm>
#include <limits>
#include <map>
#include <numeric>

#include "pipeline/core/error.h"
#include "pipeline/core/log.h"
#include "pipeline/math/metrics.h"
#include "pipeline/models/align/common_space.h"
#include "pipeline/models/cv.h"
#include "pipeline/models/encoder/finetune.h"
#include "pipeline/models/ridge.h"
#include "pipeline/study/shuffled_labels.h"
#include "pipeline/study/test_stimuli.h"

namespace v2c::align {

namespace {

using MF = linalg::Mat<float>;

// Each sample's feature vector [n x D]; input_error naming the subject without features.
MF feature_vectors(const Samples& s) {
  if (!s.has_features()) throw input_error("align-ridge: the samples of ", s.subject, " carry no stimulus features");
  MF y(s.n_samples(), s.features.cols());
  for (int64_t i = 0; i < s.n_samples(); ++i) {
    if (s.feature_row[size_t(i)] < 0)
      throw input_error("align-ridge: sample ", i, " of ", s.subject, " (", s.stimulus[size_t(i)],
                        ") has no feature vector");
    y.row(i) = s.features.row(s.feature_row[size_t(i)]);
  }
  return y;
}

// The responses of `rows` averaged per stimulus id, stimuli in order of first appearance;
// with `only`, stimuli outside it are skipped.
struct Averaged {
  std::vector<std::string> ids;
  MF mean;  // [ids x voxels]
};
// stimulus: the label of each sample of s (its own, or shuffled ones).
Averaged average_by_stimulus(const Samples& s, const std::vector<std::string>& stimulus,
                             const std::vector<int64_t>& rows, const std::map<std::string, int64_t>* only = nullptr) {
  std::map<std::string, int64_t> index;
  std::vector<int64_t> count;
  Averaged a;
  for (int64_t r : rows) {
    const std::string& id = stimulus[size_t(r)];
    if (only && !only->count(id)) continue;
    auto [it, fresh] = index.emplace(id, int64_t(a.ids.size()));
    if (fresh) a.ids.push_back(id), count.push_back(0);
    ++count[size_t(it->second)];
  }
  a.mean = MF::Zero(int64_t(a.ids.size()), s.n_voxels());
  for (int64_t r : rows) {
    const auto it = index.find(stimulus[size_t(r)]);
    if (it != index.end()) a.mean.row(it->second) += s.data.row(r);
  }
  for (size_t i = 0; i < count.size(); ++i) a.mean.row(int64_t(i)) /= float(count[i]);
  return a;
}

// The held-out subject's k-d principal space of its averaged, normalised training responses.
SubjectMap<float> principal_space(const MF& averaged, int features, bool standardize) {
  SubjectMap<float> m = voxel_normalizer(averaged, standardize);
  const MF z = m.normalize(averaged);
  const int64_t k = std::min<int64_t>({int64_t(features), z.rows(), z.cols()});
  Eigen::BDCSVD<Eigen::MatrixXf> svd(z, Eigen::ComputeThinV);
  if (svd.info() != Eigen::Success)
    throw numerical_error("align-ridge: the SVD of the held-out subject's ", z.rows(), "x", z.cols(),
                          " training responses failed");
  m.W = svd.matrixV().leftCols(k);
  return m;
}

std::vector<int64_t> all_but(int64_t n, const std::vector<int64_t>& drop) {
  std::vector<int64_t> keep;
  size_t d = 0;
  for (int64_t i = 0; i < n; ++i) {
    while (d < drop.size() && drop[d] < i) ++d;
    if (d < drop.size() && drop[d] == i) continue;
    keep.push_back(i);
  }
  return keep;
}

// The pooled training set of one fold, in the common space.
struct Pool {
  std::vector<MF> x, y;
  std::vector<int32_t> unit;
  cv::SampleTimes times;
  void add(const Samples& s, const std::vector<int64_t>& rows, const MF& mapped, const MF& targets, int32_t base) {
    x.push_back(mapped);
    y.push_back(targets);
    for (int64_t r : rows) {
      unit.push_back(base + s.run[size_t(r)]);
      times.run.push_back(base + s.run[size_t(r)]);
      times.onset_s.push_back(s.onset_s[size_t(r)]);
      times.end_s.push_back(s.onset_s[size_t(r)] + s.duration_s[size_t(r)]);
    }
  }
  static MF stack(const std::vector<MF>& parts) {
    int64_t n = 0;
    for (const MF& m : parts) n += m.rows();
    MF out(n, parts.front().cols());
    int64_t at = 0;
    for (const MF& m : parts) out.middleRows(at, m.rows()) = m, at += m.rows();
    return out;
  }
};

}  // namespace

Predictions align_ridge(const Samples& h, const Predictions& fold_file, const std::vector<Samples>& others,
                        const AlignRidgeConfig& cfg, const ridge::RidgeConfig& ridge_settings,
                        std::optional<uint64_t> shuffle_seed) {
  ridge_settings.validate();
  if (ridge_settings.mode != "decode")
    throw usage_error("align-ridge decodes (voxels -> features); config field 'ridge.mode' is '", ridge_settings.mode,
                      "'");
  const std::vector<cv::Fold> folds = encoder::folds_of(h, fold_file);
  const MF yh = feature_vectors(h);
  std::vector<MF> y_other;
  for (const Samples& o : others) {
    y_other.push_back(feature_vectors(o));
    if (y_other.back().cols() != yh.cols())
      throw input_error("align-ridge: ", o.subject, "'s features are ", y_other.back().cols(), "-d, ", h.subject, "'s ",
                        yh.cols(), "-d");
    if (o.subject == h.subject) throw usage_error("align-ridge: ", h.subject, " is both held out and a reference");
  }
  const int64_t n = h.n_samples();
  Predictions p;
  p.subject = h.subject;
  p.model = "align-ridge";
  p.mode = "decode";
  p.train_fraction = fold_file.train_fraction;
  p.predictions = MF::Constant(n, yh.cols(), std::numeric_limits<float>::quiet_NaN());
  p.truth = yh;
  p.stimulus = h.stimulus;
  p.run = h.run;
  p.fold.assign(size_t(n), -1);
  p.feature_row = h.feature_row;
  p.alphas = ridge_settings.alphas;
  p.fold_alpha = MatrixD::Constant(int64_t(folds.size()), yh.cols(), std::numeric_limits<double>::quiet_NaN());
  p.inner_score =
      MatrixD::Constant(int64_t(folds.size()), int64_t(p.alphas.size()), std::numeric_limits<double>::quiet_NaN());
  p.edge_low.assign(folds.size(), 0.0);
  p.edge_high.assign(folds.size(), 0.0);
  const int32_t stride = [&] {
    int32_t m = 0;
    for (int32_t r : h.run) m = std::max(m, r);
    for (const Samples& o : others)
      for (int32_t r : o.run) m = std::max(m, r);
    return m + 1;
  }();
  for (const cv::Fold& fold : folds) p.fold_train.push_back(fold.train);
  log::Progress progress("outer folds", int64_t(folds.size()));
  for (size_t f = 0; f < folds.size(); ++f) {
    const cv::Fold& fold = folds[f];
    if (fold.test.empty()) continue;
    if (fold.train.empty()) throw input_error("align-ridge: fold ", f, " of ", h.subject, " has no training rows");
    std::vector<int32_t> tested_mark(size_t(n), -1);
    for (int64_t r : fold.test) tested_mark[size_t(r)] = int32_t(f);
    study::TestStimuli tested;
    study::add_test_stimuli(h.stimulus, yh, tested_mark, tested);

    const Averaged ah = average_by_stimulus(h, h.stimulus, fold.train);
    const SubjectMap<float> mh = principal_space(ah.mean, cfg.features, cfg.standardize);
    const MF common = mh.apply(ah.mean);  // [n_h x k]
    std::map<std::string, int64_t> row_of;
    for (size_t i = 0; i < ah.ids.size(); ++i) row_of[ah.ids[i]] = int64_t(i);

    Pool pool;
    pool.add(h, fold.train, mh.apply(linalg::take_rows(h.data, fold.train)), linalg::take_rows(yh, fold.train), 0);
    int pooled = 0;
    for (size_t j = 0; j < others.size(); ++j) {
      const Samples& o = others[j];
      const std::vector<int64_t> keep =
          all_but(o.n_samples(), study::rows_showing(o.stimulus, y_other[j], tested));  // never a tested stimulus
      // The control: o's kept samples relabelled (stimulus ids and targets) among their own stimuli.
      std::vector<std::string> label = o.stimulus;
      MF y = linalg::take_rows(y_other[j], keep);
      if (shuffle_seed) {
        std::vector<bool> used(size_t(o.n_samples()), false);
        for (int64_t r : keep) used[size_t(r)] = true;
        const std::vector<int64_t> from =
            study::shuffled_label_rows(o.stimulus, used, study::shuffled_labels_seed(*shuffle_seed, o.subject));
        for (size_t i = 0; i < from.size(); ++i) label[i] = o.stimulus[size_t(from[i])];
        for (size_t k = 0; k < keep.size(); ++k) y.row(int64_t(k)) = y_other[j].row(from[size_t(keep[k])]);
      }
      const Averaged aj = average_by_stimulus(o, label, keep, &row_of);
      if (int64_t(aj.ids.size()) < cfg.min_shared) {
        log::debug("align-ridge: fold ", f, ": ", o.subject, " shares ", aj.ids.size(), " training stimuli with ",
                   h.subject, " (align.min_shared ", cfg.min_shared, "): not pooled");
        continue;
      }
      CommonSpace<float> space;
      space.standardize = cfg.standardize;
      space.common.resize(int64_t(aj.ids.size()), common.cols());
      for (size_t i = 0; i < aj.ids.size(); ++i) space.common.row(int64_t(i)) = common.row(row_of.at(aj.ids[i]));
      log::debug("align-ridge: fold ", f, ": ", o.subject, " mapped on ", aj.ids.size(),
                 " shared training stimuli into ", common.cols(), " dimensions");
      const SubjectMap<float> mj = map_new_subject(space, aj.mean);
      pool.add(o, keep, mj.apply(linalg::take_rows(o.data, keep)), y, int32_t(j + 1) * stride);
      ++pooled;
    }
    if (pooled == 0)
      log::warn("align-ridge: fold ", f, " of ", h.subject, ": no other subject shares ", cfg.min_shared,
                " training stimuli with it (align.min_shared); ridge on ", h.subject, " alone in its principal space");
    const MF x = Pool::stack(pool.x), y = Pool::stack(pool.y);
    std::vector<int64_t> all(size_t(x.rows()));
    std::iota(all.begin(), all.end(), 0);
    MatrixD mean_score;
    const std::vector<double> alpha = cv::select_alphas(x, y, pool.unit, all, ridge_settings, &mean_score, &pool.times);
    const MF pred = ridge::path_from_data(x, y, mh.apply(linalg::take_rows(h.data, fold.test))).predict(alpha);
    for (size_t i = 0; i < fold.test.size(); ++i) {
      p.predictions.row(fold.test[i]) = pred.row(int64_t(i));
      p.fold[size_t(fold.test[i])] = int32_t(f);
    }
    for (size_t t = 0; t < alpha.size(); ++t) p.fold_alpha(int64_t(f), int64_t(t)) = alpha[t];
    if (mean_score.rows() == int64_t(p.alphas.size()))
      for (int64_t a = 0; a < mean_score.rows(); ++a) p.inner_score(int64_t(f), a) = mean_score.row(a).mean();
    log::info("align-ridge: ", h.subject, " fold ", f, ": ", pooled, " of ", others.size(), " subjects pooled, ",
              x.rows(), " training samples in a ", x.cols(), "-d common space");
    progress.tick();
  }
  progress.done();
  p.profile_corr = metrics::profile_correlation(p.predictions, p.truth);
  p.pattern_corr = metrics::pattern_correlation(p.predictions, p.truth);
  p.r2 = metrics::r2(p.predictions, p.truth);
  return p;
}

}  // namespace v2c::align
