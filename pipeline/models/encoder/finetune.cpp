#include "pipeline/models/encoder/finetune.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "pipeline/core/error.h"
#include "pipeline/core/log.h"
#include "pipeline/math/metrics.h"
#include "pipeline/models/cv.h"
#include "pipeline/models/encoder/checkpoint.h"
#include "pipeline/models/encoder/trainer.h"
#include "pipeline/models/encoder/training_data.h"

namespace v2c::encoder {

namespace {

// Mean latent code (pretrained adapter output h0 = x W_j + b_j) of every stimulus over the
// reference subjects' samples.
std::map<std::string, Eigen::RowVectorXf> reference_latents(const std::string& pretrained,
                                                            const std::vector<Samples>& refs) {
  std::map<std::string, Eigen::RowVectorXd> sum;
  std::map<std::string, int64_t> count;
  for (const Samples& ref : refs) {
    MF W, bias;
    if (!read_adapter(pretrained, ref.subject, W, bias))
      throw input_error("reference subject '", ref.subject, "' has no adapter in the pretrained model '", pretrained,
                        "'");
    if (W.rows() != ref.n_voxels())
      throw input_error("reference subject '", ref.subject, "': ", ref.n_voxels(), " voxels, but its adapter takes ",
                        W.rows());
    MF h;
    linalg::gemm(MF(ref.data), false, W, false, h);
    for (int64_t i = 0; i < h.rows(); ++i) {
      const std::string& st = ref.stimulus[size_t(i)];
      Eigen::RowVectorXd row = (h.row(i) + bias.row(0)).cast<double>();
      auto it = sum.find(st);
      if (it == sum.end())
        sum.emplace(st, row), count[st] = 1;
      else
        it->second += row, ++count[st];
    }
  }
  std::map<std::string, Eigen::RowVectorXf> mean;
  for (const auto& [st, v] : sum) mean[st] = (v / double(count[st])).cast<float>();
  return mean;
}

// The new adapter's start: ridge from the training rows' voxels to their stimuli's reference
// latents (α by inner CV over the training runs, shared by all latent units).
bool ridge_adapter(const SubjectData& d, const std::vector<int64_t>& train,
                   const std::map<std::string, Eigen::RowVectorXf>& latents, AdapterInit<float>& init) {
  std::vector<int64_t> rows;
  for (int64_t r : train)
    if (latents.count(d.stimulus[size_t(r)])) rows.push_back(r);
  std::vector<int32_t> run;
  std::set<int32_t> runs;
  for (int64_t r : rows) run.push_back(d.run[size_t(r)]), runs.insert(d.run[size_t(r)]);
  if (rows.size() < 4 || runs.size() < 2) return false;
  const MF X = rows_of(d.X, rows);
  MF H(int64_t(rows.size()), latents.begin()->second.size());
  for (size_t i = 0; i < rows.size(); ++i) H.row(int64_t(i)) = latents.at(d.stimulus[size_t(rows[i])]);
  ridge::RidgeConfig s;
  s.alphas.clear();
  for (int k = 0; k < 13; ++k) s.alphas.push_back(std::pow(10.0, -1.0 + k));  // 0.1 .. 1e11
  s.alpha_per_target = false;
  s.inner_folds = std::min<int>(5, int(runs.size()));
  linalg::RowVec<float> b;
  cv::select_and_fit<float>(X, H, run, s, init.W, b);
  init.b = b;
  return true;
}

}  // namespace

std::vector<cv::Fold> folds_of(const Samples& s, const Predictions& folds) {
  const int64_t n = s.n_samples();
  if (folds.subject != s.subject)
    throw input_error("the fold file is of ", folds.subject, " (from '", folds.samples_path, "'); the samples are of ",
                      s.subject, ": the folds of another subject");
  if (int64_t(folds.fold.size()) != n || folds.stimulus != s.stimulus)
    throw input_error("the fold file of ", folds.subject, " (from '", folds.samples_path, "') has ", folds.fold.size(),
                      " samples; ", s.subject, " has ", n, folds.fold.size() == size_t(n) ? " with other stimuli" : "",
                      ": the folds of other samples");
  if (folds.fold_train.empty())
    throw input_error("the fold file of ", folds.subject,
                      " holds no training rows (/folds/train_rows: written by an older v2c-ridge); rerun v2c-ridge");
  std::vector<cv::Fold> out(folds.fold_train.size());
  for (size_t f = 0; f < out.size(); ++f) {
    out[f].train = folds.fold_train[f];
    out[f].test = fold_test_rows(folds, int(f));
  }
  return out;
}

Predictions finetune(const Samples& s, const std::string& pretrained, const FinetuneConfig& cfg,
                     const Predictions& fold_file, uint64_t seed, const std::vector<Samples>& references) {
  const SubjectData d = subject_data(s);
  std::map<std::string, Eigen::RowVectorXf> latents;
  if (!pretrained.empty() && cfg.adapter_init == "ridge" && !references.empty())
    latents = reference_latents(pretrained, references);
  const int64_t n = d.X.rows();
  const std::vector<cv::Fold> folds = folds_of(s, fold_file);

  EncoderConfig arch = cfg.model;
  if (!pretrained.empty()) {
    arch = read_architecture(pretrained);
    if (arch.clip_dim != d.T.cols())
      throw input_error("pretrained model '", pretrained, "' predicts ", arch.clip_dim, "-d vectors; ", s.subject,
                        "'s features are ", d.T.cols(), "-d");
  }
  arch.clip_dim = int(d.T.cols());
  Predictions p;
  p.subject = s.subject;
  p.model = pretrained.empty() ? "encoder-scratch" : "encoder-" + cfg.mode;
  p.mode = "decode";
  p.train_fraction = fold_file.train_fraction;
  p.predictions = MF::Constant(n, d.T.cols(), std::numeric_limits<float>::quiet_NaN());
  p.truth = d.T;
  p.stimulus = s.stimulus;
  p.run = s.run;
  p.fold.assign(size_t(n), -1);
  p.feature_row = s.feature_row;
  for (const cv::Fold& fold : folds) p.fold_train.push_back(fold.train);
  log::Progress progress("outer folds", int64_t(folds.size()));
  for (size_t f = 0; f < folds.size(); ++f) {
    const cv::Fold& fold = folds[f];
    if (fold.test.empty()) continue;
    Encoder<float> enc(arch, seed + 7 * f);
    if (!pretrained.empty()) load_backbone(enc, pretrained);
    AdapterInit<float> init;
    if (!latents.empty() && !ridge_adapter(d, fold.train, latents, init))
      log::warn("fold ", f, ": too few training runs with reference stimuli for a ridge start; random adapter");
    enc.add_subject(d.id, d.X.cols(), init, seed + 11 * f + 3);
    if (!pretrained.empty() && cfg.mode == "adapter") {
      enc.set_trainable("", false);
      enc.set_trainable("adapter/", true);
    }
    const std::vector<std::vector<int64_t>> rows = {fold.train};
    const int64_t spe = int64_t(epoch_batches(rows, cfg.batch_size, seed, 0).size());
    if (spe == 0) throw input_error("fold ", f, " has too few training samples for finetune.batch_size");
    Trainer<float> tr(enc, cfg.loss, cfg.schedule(spe * cfg.epochs), seed + f);
    for (int64_t e = 0; e < cfg.epochs; ++e)
      for (const Batch& b : epoch_batches(rows, cfg.batch_size, seed + f, e)) {
        const LossParts lp = tr.train_step(d.id, rows_of(d.X, b.rows), rows_of(d.T, b.rows));
        if (!std::isfinite(lp.total))
          throw numerical_error("fine-tuning diverged in fold ", f, " (loss ", lp.total, "); lower finetune.lr");
      }
    const MF pred = predict(enc, d.id, rows_of(d.X, fold.test));
    for (size_t i = 0; i < fold.test.size(); ++i) {
      p.predictions.row(fold.test[i]) = pred.row(int64_t(i));
      p.fold[size_t(fold.test[i])] = int32_t(f);
    }
    progress.tick();
  }
  progress.done();
  p.profile_corr = metrics::profile_correlation(p.predictions, p.truth);
  p.pattern_corr = metrics::pattern_correlation(p.predictions, p.truth);
  p.r2 = metrics::r2(p.predictions, p.truth);
  p.fold_alpha.resize(int64_t(folds.size()), 0);
  p.inner_score.resize(int64_t(folds.size()), 0);
  p.edge_low.assign(folds.size(), 0.0);
  p.edge_high.assign(folds.size(), 0.0);
  return p;
}

}  // namespace v2c::encoder
