#include "pipeline/models/encoder/finetune.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
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
// latents (α by inner CV over the training runs, shared by all latent units); false where the
// rows are too few for it (kRidgeStartRows, kRidgeStartRuns: settings.h).
bool ridge_adapter(const SubjectData& d, const std::vector<int64_t>& train,
                   const std::map<std::string, Eigen::RowVectorXf>& latents, AdapterInit<float>& init) {
  std::vector<int64_t> rows;
  for (int64_t r : train)
    if (latents.count(d.stimulus[size_t(r)])) rows.push_back(r);
  std::vector<int32_t> run;
  std::set<int32_t> runs;
  for (int64_t r : rows) run.push_back(d.run[size_t(r)]), runs.insert(d.run[size_t(r)]);
  if (rows.size() < kRidgeStartRows || runs.size() < kRidgeStartRuns) return false;
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

// The inner split of a fold's training rows: its last `val_runs` runs validate. With `exclusive`
// (the outer fold trains on none of its test stimuli), rows of the other runs showing a validation
// stimulus are dropped from inner training too (never scored on a stimulus trained on); without it
// (category designs, where every run shows every stimulus and ridge's folds keep them), they stay,
// as in ridge's inner CV.
// Whether a fold's training rows show none of the stimuli its test rows show (ridge's `exclusive`,
// or test stimuli of their own): the inner split follows the same rule.
bool trains_on_none_it_tests(const SubjectData& d, const cv::Fold& fold) {
  std::set<std::string> tested;
  for (int64_t r : fold.test) tested.insert(d.stimulus[size_t(r)]);
  for (int64_t r : fold.train)
    if (tested.count(d.stimulus[size_t(r)])) return false;
  return true;
}

struct InnerSplit {
  std::vector<int64_t> train, validation;
  size_t n_runs = 0;
};

InnerSplit inner_split(const SubjectData& d, const std::vector<int64_t>& rows, int val_runs, bool exclusive) {
  std::set<int32_t> runs;
  for (int64_t r : rows) runs.insert(d.run[size_t(r)]);
  InnerSplit out;
  out.n_runs = runs.size();
  if (int(runs.size()) <= val_runs) return out;
  std::set<int32_t> val;
  for (auto it = runs.rbegin(); it != runs.rend() && int(val.size()) < val_runs; ++it) val.insert(*it);
  std::set<std::string> val_stimuli;
  for (int64_t r : rows)
    if (val.count(d.run[size_t(r)])) out.validation.push_back(r), val_stimuli.insert(d.stimulus[size_t(r)]);
  for (int64_t r : rows)
    if (!val.count(d.run[size_t(r)]) && !(exclusive && val_stimuli.count(d.stimulus[size_t(r)])))
      out.train.push_back(r);
  return out;
}

// Trains `enc` on `rows` for `epochs` epochs at peak learning rate `lr` (warm-up and cosine decay
// over cfg.epochs, so a shorter run is the same schedule stopped early). With validation rows,
// returns the mean Pearson correlation per target (ridge's α score) after each epoch; a diverged
// run scores -inf from there (final = false) or is a numerical_error (final = true).
std::vector<double> train_encoder(Encoder<float>& enc, const SubjectData& d, const std::vector<int64_t>& rows,
                                  const std::vector<int64_t>& validation, const FinetuneConfig& cfg, double lr,
                                  int64_t epochs, uint64_t seed, bool final) {
  const std::vector<std::vector<int64_t>> rs = {rows};
  const int64_t spe = int64_t(epoch_batches(rs, cfg.batch_size, seed, 0).size());
  if (spe == 0)
    throw input_error(rows.size(), " training samples are too few for finetune.batch_size = ", cfg.batch_size);
  AdamWConfig opt = cfg.schedule(spe * cfg.epochs);
  opt.lr = lr;
  Trainer<float> tr(enc, cfg.loss, opt, seed);
  std::vector<double> scores;
  const MF Xv = rows_of(d.X, validation), Tv = rows_of(d.T, validation);
  int64_t since_best = 0;
  double best = -std::numeric_limits<double>::infinity();
  for (int64_t e = 0; e < epochs; ++e) {
    bool diverged = false;
    for (const Batch& b : epoch_batches(rs, cfg.batch_size, seed, e)) {
      const LossParts lp = tr.train_step(d.id, rows_of(d.X, b.rows), rows_of(d.T, b.rows));
      if (std::isfinite(lp.total)) continue;
      if (final) throw numerical_error("fine-tuning diverged at learning rate ", lr, " (loss ", lp.total, ")");
      diverged = true;
      break;
    }
    if (validation.empty()) continue;
    if (diverged) break;
    scores.push_back(metrics::mean_finite(metrics::profile_correlation(predict(enc, d.id, Xv), Tv)));
    if (scores.back() > best)
      best = scores.back(), since_best = 0;
    else if (++since_best >= cfg.patience)
      break;  // early stopping
  }
  return scores;
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
                     const Predictions& fold_file, uint64_t seed, const std::vector<Samples>& references,
                     const SslAdapterFit& ssl_adapter) {
  V2C_ASSERT((cfg.adapter_init == "ssl") == bool(ssl_adapter), "finetune.adapter_init = ", cfg.adapter_init,
             ssl_adapter ? " with" : " without", " a self-supervised adapter fit");
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
  const std::vector<double> grid = cfg.lr_grid;
  p.lr_grid = grid;
  p.tuning_score =
      MatrixD::Constant(int64_t(folds.size()), int64_t(grid.size()), std::numeric_limits<double>::quiet_NaN());
  p.tuned_lr.assign(folds.size(), std::numeric_limits<double>::quiet_NaN());
  p.tuned_epochs.assign(folds.size(), 0);
  for (size_t f = 0; f < folds.size(); ++f) {
    const cv::Fold& fold = folds[f];
    if (fold.test.empty()) continue;
    // A fresh encoder: the pretrained backbone (if any) and a new adapter from `start` (empty: random).
    auto fresh = [&](const AdapterInit<float>& start) {
      auto enc = std::make_unique<Encoder<float>>(arch, seed + 7 * f);
      if (!pretrained.empty()) load_backbone(*enc, pretrained);
      enc->add_subject(d.id, d.X.cols(), start, seed + 11 * f + 3);
      if (!pretrained.empty() && cfg.mode == "adapter") {
        enc->set_trainable("", false);
        enc->set_trainable("adapter/", true);
      }
      return enc;
    };
    // Equal tuning: the learning rate and the number of epochs chosen on an inner split of this
    // fold's training runs only (its last runs validate), as ridge's inner CV chooses α.
    const InnerSplit inner = inner_split(d, fold.train, cfg.inner_val_runs, trains_on_none_it_tests(d, fold));
    if (inner.train.empty() || inner.validation.empty())
      throw input_error("fold ", f, ": ", inner.n_runs,
                        " training run(s); tuning fine-tuning needs more than "
                        "finetune.inner_val_runs = ",
                        cfg.inner_val_runs, " of them (the inner split)");
    // The new adapter's starts: one for the inner split's fits (from its training rows only) and one
    // for the final fit (from the fold's training rows). adapter_init ssl: never the fold's test
    // runs; the inner start never the inner validation runs either. adapter_init ridge: from each
    // one's rows' stimuli; when either cannot be fitted, every fit of the fold starts random, so
    // that the rate and epochs are always chosen from the kind of start the final fit uses.
    AdapterInit<float> start_inner, start_outer;
    if (ssl_adapter) {
      std::set<int32_t> test_runs, inner_excluded;
      for (int64_t r : fold.test) test_runs.insert(d.run[size_t(r)]);
      inner_excluded = test_runs;
      for (int64_t r : inner.validation) inner_excluded.insert(d.run[size_t(r)]);
      start_inner = ssl_adapter(inner_excluded, seed + 13 * f + 5);
      start_outer = ssl_adapter(test_runs, seed + 13 * f + 6);
    } else if (!latents.empty()) {
      const auto ridge_start = [&](const std::vector<int64_t>& train, AdapterInit<float>& init) {
        return with_context(cat("fitting the new adapter's ridge start (finetune.adapter_init = ridge) on ",
                                train.size(), " training rows of outer fold ", f, " of --folds-from"),
                            [&] { return ridge_adapter(d, train, latents, init); });
      };
      AdapterInit<float> a, b;
      if (ridge_start(inner.train, a) && ridge_start(fold.train, b)) {
        start_inner = std::move(a);
        start_outer = std::move(b);
      } else {
        log::warn("fold ", f, ": too few training runs with reference stimuli for a ridge start (",
                  a.W.size() ? "the final fit" : "the inner split's fits", " need ", kRidgeStartRows, " rows in ",
                  kRidgeStartRuns, " runs); every fit of this fold starts from a random adapter");
      }
    }
    double best = -std::numeric_limits<double>::infinity();
    double best_lr = grid.front();
    int64_t best_epochs = cfg.epochs;
    for (size_t g = 0; g < grid.size(); ++g) {
      auto enc = fresh(start_inner);
      const std::vector<double> scores =
          train_encoder(*enc, d, inner.train, inner.validation, cfg, grid[g], cfg.epochs, seed + f, false);
      for (size_t e = 0; e < scores.size(); ++e) {
        if (scores[e] > best) best = scores[e], best_lr = grid[g], best_epochs = int64_t(e) + 1;
        if (!(p.tuning_score(int64_t(f), int64_t(g)) >= scores[e])) p.tuning_score(int64_t(f), int64_t(g)) = scores[e];
      }
    }
    p.tuned_lr[f] = best_lr;
    p.tuned_epochs[f] = double(best_epochs);
    auto enc = fresh(start_outer);
    train_encoder(*enc, d, fold.train, {}, cfg, best_lr, best_epochs, seed + f, true);
    const MF pred = predict(*enc, d.id, rows_of(d.X, fold.test));
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
