#include "pipeline/models/encoder_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <iomanip>
#include <limits>
#include <set>
#include <sstream>

#include "pipeline/core/error.h"
#include "pipeline/core/log.h"
#include "pipeline/core/output.h"
#include "pipeline/io/h5.h"
#include "pipeline/math/metrics.h"
#include "pipeline/models/cv.h"
#include "pipeline/models/encoder.h"

namespace fs = std::filesystem;

namespace v2c::encoder {

using MF = Mat<float>;

void TrainSettings::describe_training(config::Schema& s, bool architecture) {
  if (architecture) {
    s.field("latent", latent, "width of the shared latent space").range(2, 16384);
    s.field("n_blocks", n_blocks, "residual MLP blocks of the shared backbone").range(0, 64);
    s.field("dropout", dropout, "dropout probability inside each block").check(
        [](const double& d) { return d >= 0 && d < 1; }, "in [0, 1)");
  }
  s.field("w_clip", w_clip, "weight of the symmetric contrastive CLIP loss (learnable temperature)").min(0.0);
  s.field("w_siglip", w_siglip, "weight of SigLIP's sigmoid loss").min(0.0);
  s.field("w_mse", w_mse, "weight of the MSE to the target vector").min(0.0);
  s.field("w_cos", w_cos, "weight of the cosine loss 1 - cos(prediction, target)").min(0.0);
  s.field("mixco", mixco, "MixCo mixup of brain samples during the first third of training");
  s.field("lr", lr, "peak learning rate (AdamW)").check([](const double& v) { return v > 0; }, "> 0");
  s.field("weight_decay", weight_decay, "AdamW decoupled weight decay (weight matrices only)").min(0.0);
  s.field("warmup_fraction", warmup_fraction, "share of the steps with a linear warm-up, then cosine decay")
      .range(0.0, 1.0);
  s.field("clip_norm", clip_norm, "gradient clipping by global norm (0 = off)").min(0.0);
  s.field("epochs", epochs, "passes over the training samples").range(1, 100000);
  s.field("batch_size", batch_size, "samples per batch (one subject per batch)").range(2, 65536);
}

void PretrainConfig::describe(config::Schema& s) {
  describe_training(s, true);
  s.field("val_runs", val_runs, "last training runs of every subject held out for validation and early stopping")
      .range(0, 1000);
  s.field("patience", patience, "stop after this many epochs without a better validation top-1").range(1, 100000);
  s.field("checkpoint_every", checkpoint_every, "steps between checkpoints (<out>.ckpt; also on SIGINT/SIGTERM)")
      .range(1, 100000000);
  s.field("exclude_runs", exclude_runs,
          "run indices (0-based) left out of pretraining in every subject: the held-out subject's test runs, so the "
          "backbone never sees the novel test stimuli");
}

void FinetuneConfig::describe(config::Schema& s) {
  s.field("mode", mode, "adapter: train the new subject's adapter only (backbone frozen); full: everything (MindEye2)")
      .one_of({"adapter", "full"});
  s.field("adapter_init", adapter_init,
          "new adapter's start: ridge (voxels -> the pretrained latents of the same training stimuli in the "
          "--reference subjects; random when there are none) or random")
      .one_of({"ridge", "random"});
  s.field("train_fraction", train_fraction, "share of each outer fold's training runs used (its first runs, as ridge)")
      .check([](const double& f) { return f > 0 && f <= 1; }, "in (0, 1]");
  s.field("outer", outer, "outer folds when --folds-from is not given: loro, groups, explicit (as ridge)")
      .one_of({"loro", "groups", "explicit"});
  s.field("outer_folds", outer_folds, "outer: groups: number of folds").range(2, 1000);
  s.field("explicit_folds", explicit_folds, "outer: explicit: the run indices each fold tests (\"8 9\")");
  describe_training(s, true);
}

namespace {

struct SubjectData {
  std::string id;
  MF X, T;                          // [n x p], [n x D]
  std::vector<int32_t> run;
  std::vector<std::string> stimulus;
};

SubjectData subject_data(const Samples& s) {
  if (!s.has_features())
    throw input_error("samples of ", s.subject, " carry no stimulus features; run v2c-prepare with --features");
  SubjectData d;
  d.id = s.subject;
  d.X = s.data;
  d.T.resize(s.n_samples(), s.features.cols());
  for (int64_t i = 0; i < s.n_samples(); ++i) d.T.row(i) = s.features.row(s.feature_row[size_t(i)]);
  d.run = s.run;
  d.stimulus = s.stimulus;
  return d;
}

MF rows_of(const MF& m, const std::vector<int64_t>& rows) { return linalg::take_rows(m, rows); }

// Seeded batch order of one epoch: (subject, rows) pairs, shuffled.
struct Batch {
  size_t subject;
  std::vector<int64_t> rows;
};

std::vector<Batch> epoch_batches(const std::vector<std::vector<int64_t>>& train_rows, int batch_size, uint64_t seed,
                                 int64_t epoch) {
  Rng rng(seed * 1000003ULL + uint64_t(epoch) * 7919ULL + 17);
  std::vector<Batch> batches;
  for (size_t s = 0; s < train_rows.size(); ++s) {
    std::vector<int64_t> rows = train_rows[s];
    for (size_t i = rows.size(); i > 1; --i) std::swap(rows[i - 1], rows[size_t(rng.next() % i)]);
    for (size_t b = 0; b + 2 <= rows.size(); b += size_t(batch_size)) {
      const size_t e = std::min(rows.size(), b + size_t(batch_size));
      if (e - b < 2) break;  // a contrastive batch needs two samples
      batches.push_back({s, std::vector<int64_t>(rows.begin() + long(b), rows.begin() + long(e))});
    }
  }
  for (size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[size_t(rng.next() % i)]);
  return batches;
}

LossConfig loss_config(const TrainSettings& t) {
  LossConfig l;
  l.w_clip = t.w_clip, l.w_siglip = t.w_siglip, l.w_mse = t.w_mse, l.w_cos = t.w_cos, l.mixco = t.mixco;
  l.validate();
  return l;
}

AdamWConfig adamw_config(const TrainSettings& t, int64_t total_steps) {
  AdamWConfig o;
  o.lr = t.lr, o.weight_decay = t.weight_decay, o.clip_norm = t.clip_norm;
  o.total_steps = std::max<int64_t>(1, total_steps);
  o.warmup_steps = int64_t(t.warmup_fraction * double(o.total_steps));
  o.validate();
  return o;
}

EncoderConfig encoder_config(const TrainSettings& t, int clip_dim) {
  EncoderConfig e;
  e.latent = t.latent, e.n_blocks = t.n_blocks, e.dropout = t.dropout, e.clip_dim = clip_dim;
  e.validate();
  return e;
}

MF predict(Encoder<float>& enc, const std::string& subject, const MF& X) {
  MF out(X.rows(), enc.config().clip_dim);
  constexpr int64_t kChunk = 256;
  for (int64_t r = 0; r < X.rows(); r += kChunk) {
    const MF x = X.middleRows(r, std::min(kChunk, X.rows() - r));
    out.middleRows(r, x.rows()) = enc.forward(subject, x, false, nullptr);
  }
  return out;
}

// Top-1 of each row of `pred` among the distinct targets of these rows (chance 1/#distinct).
double top1_among_distinct(const MF& pred, const MF& target, const std::vector<std::string>& stim) {
  std::map<std::string, int64_t> index;
  std::vector<int64_t> row_of(stim.size());
  std::vector<int64_t> first;
  for (size_t i = 0; i < stim.size(); ++i) {
    auto [it, added] = index.emplace(stim[i], int64_t(first.size()));
    if (added) first.push_back(int64_t(i));
    row_of[i] = it->second;
  }
  const MF cand = rows_of(target, first);
  const auto best = metrics::nearest(pred, cand);
  double hits = 0;
  for (size_t i = 0; i < best.size(); ++i) hits += best[i] == row_of[i];
  return best.empty() ? 0.0 : hits / double(best.size());
}

struct StopState {
  double best = -1;
  int64_t best_epoch = -1, bad_epochs = 0;
};

void write_state(const std::string& path, const StopState& st) {
  AtomicOutput out(path, true);
  std::ofstream(out.temp_path()) << std::setprecision(17) << st.best << " " << st.best_epoch << " " << st.bad_epochs
                                 << "\n";
  out.commit();
}

StopState read_state(const std::string& path) {
  StopState st;
  std::ifstream in(path);
  if (!(in >> st.best >> st.best_epoch >> st.bad_epochs)) throw input_error("cannot read training state '", path, "'");
  return st;
}

// Copies backbone, head and loss parameters (everything but adapters) from a checkpoint file.
void load_backbone(Encoder<float>& enc, const std::string& path) {
  h5::ArtifactReader r(path, "encoder_checkpoint", 1);
  for (Param<float>* p : enc.params()) {
    if (p->name.rfind("adapter/", 0) == 0) continue;
    const std::string ds = "params/" + p->name;
    if (!r.has(ds)) throw input_error("pretrained model '", path, "' has no parameter '", p->name, "'");
    const MF v = r.read_matrix_f(ds);
    if (v.rows() != p->value.rows() || v.cols() != p->value.cols())
      throw input_error("pretrained model '", path, "': parameter '", p->name, "' is ", v.rows(), "x", v.cols(),
                        "; expected ", p->value.rows(), "x", p->value.cols());
    p->value = v;
  }
}

// Mean latent code (pretrained adapter output h0 = x W_j + b_j) of every stimulus over the
// reference subjects' samples.
std::map<std::string, Eigen::RowVectorXf> reference_latents(const std::string& pretrained,
                                                            const std::vector<Samples>& refs) {
  h5::ArtifactReader r(pretrained, "encoder_checkpoint", 1);
  std::map<std::string, Eigen::RowVectorXd> sum;
  std::map<std::string, int64_t> count;
  for (const Samples& ref : refs) {
    const std::string w = "params/adapter/" + ref.subject + "/W", b = "params/adapter/" + ref.subject + "/b";
    if (!r.has(w))
      throw input_error("reference subject '", ref.subject, "' has no adapter in the pretrained model '", pretrained, "'");
    const MF W = r.read_matrix_f(w), bias = r.read_matrix_f(b);
    if (W.rows() != ref.n_voxels())
      throw input_error("reference subject '", ref.subject, "': ", ref.n_voxels(), " voxels, but its adapter takes ",
                        W.rows());
    MF h;
    linalg::gemm(MF(ref.data), false, W, false, h);
    for (int64_t i = 0; i < h.rows(); ++i) {
      const std::string& st = ref.stimulus[size_t(i)];
      Eigen::RowVectorXd row = (h.row(i) + bias.row(0)).cast<double>();
      auto it = sum.find(st);
      if (it == sum.end()) sum.emplace(st, row), count[st] = 1;
      else it->second += row, ++count[st];
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
  cv::RidgeCvSettings s;
  for (int k = 0; k < 13; ++k) s.alphas.push_back(std::pow(10.0, -1.0 + k));  // 0.1 .. 1e11
  s.per_target_alpha = false;
  s.inner_folds = std::min<int>(5, int(runs.size()));
  linalg::RowVec<float> b;
  cv::select_and_fit<float>(X, H, run, s, init.W, b);
  init.b = b;
  return true;
}

}  // namespace

void pretrain(const std::vector<Samples>& samples, const PretrainConfig& cfg, uint64_t seed,
              const std::string& out_path, const Provenance& prov, bool force, bool resume) {
  if (samples.empty()) throw usage_error("v2c-pretrain needs at least one subject's samples");
  if (fs::exists(out_path) && !force) throw usage_error("output '", out_path, "' already exists; pass --force to overwrite it");
  std::vector<SubjectData> data;
  std::set<std::string> ids;
  for (const auto& s : samples) {
    data.push_back(subject_data(s));
    if (!ids.insert(s.subject).second) throw input_error("subject '", s.subject, "' is given twice");
  }
  const int clip_dim = int(data[0].T.cols());
  for (const auto& d : data)
    if (d.T.cols() != clip_dim)
      throw input_error("subject ", d.id, " has ", d.T.cols(), "-d features; ", data[0].id, " has ", clip_dim);
  // Training and validation rows: excluded runs dropped; the last val_runs runs validate.
  const std::set<int32_t> excluded(cfg.exclude_runs.begin(), cfg.exclude_runs.end());
  std::vector<std::vector<int64_t>> train_rows(data.size()), val_rows(data.size());
  for (size_t s = 0; s < data.size(); ++s) {
    std::set<int32_t> runs;
    for (int32_t r : data[s].run)
      if (!excluded.count(r)) runs.insert(r);
    if (int(runs.size()) <= cfg.val_runs)
      throw input_error("subject ", data[s].id, " has ", runs.size(), " usable run(s); pretrain.val_runs = ",
                        cfg.val_runs, " leaves none for training");
    std::set<int32_t> val;
    for (auto it = runs.rbegin(); it != runs.rend() && int(val.size()) < cfg.val_runs; ++it) val.insert(*it);
    for (int64_t i = 0; i < int64_t(data[s].run.size()); ++i) {
      const int32_t r = data[s].run[size_t(i)];
      if (excluded.count(r)) continue;
      (val.count(r) ? val_rows[s] : train_rows[s]).push_back(i);
    }
  }
  const int64_t steps_per_epoch = int64_t(epoch_batches(train_rows, cfg.batch_size, seed, 0).size());
  if (steps_per_epoch == 0) throw input_error("no training batch: too few samples for pretrain.batch_size");
  const int64_t total_steps = steps_per_epoch * cfg.epochs;

  Encoder<float> enc(encoder_config(cfg, clip_dim), seed);
  for (size_t s = 0; s < data.size(); ++s) enc.add_subject(data[s].id, data[s].X.cols(), {}, seed + 101 + s);
  Trainer<float> tr(enc, loss_config(cfg), adamw_config(cfg, total_steps), seed);
  const std::string ckpt = out_path + ".ckpt", state_path = out_path + ".ckpt.state", best = out_path + ".best";
  StopState st;
  if (resume && fs::exists(ckpt)) {
    load_checkpoint(ckpt, tr);
    st = read_state(state_path);
    log::info("resumed from ", ckpt, " at step ", tr.step(), " (epoch ", tr.step() / steps_per_epoch + 1, ")");
  } else if (resume) {
    log::warn("--resume: no checkpoint '", ckpt, "'; starting from scratch");
  }
  log::info("pretraining on ", data.size(), " subjects: ", steps_per_epoch, " steps/epoch x ", cfg.epochs,
            " epochs, batch ", cfg.batch_size, ", latent ", cfg.latent, ", ", cfg.n_blocks, " blocks");

  defer_interrupts(true);
  const auto save_ckpt = [&] {
    save_checkpoint(ckpt, tr, prov, true);
    write_state(state_path, st);
  };
  const auto t_start = std::chrono::steady_clock::now();
  bool stopped = false;
  while (tr.step() < total_steps && !stopped) {
    const int64_t epoch = tr.step() / steps_per_epoch;
    const std::vector<Batch> batches = epoch_batches(train_rows, cfg.batch_size, seed, epoch);
    LossParts sum;
    int64_t n_steps = 0;
    for (int64_t b = tr.step() % steps_per_epoch; b < steps_per_epoch; ++b) {
      const Batch& batch = batches[size_t(b)];
      const SubjectData& d = data[batch.subject];
      const LossParts lp = tr.train_step(d.id, rows_of(d.X, batch.rows), rows_of(d.T, batch.rows));
      sum.total += lp.total, sum.clip += lp.clip, sum.mse += lp.mse, ++n_steps;
      if (!std::isfinite(lp.total))
        throw numerical_error("pretraining diverged at step ", tr.step(), " (loss ", lp.total, "); lower pretrain.lr");
      if (tr.step() % cfg.checkpoint_every == 0) save_ckpt();
      if (interrupt_requested()) {
        save_ckpt();
        throw Error(ExitCode::interrupted, cat("interrupted at step ", tr.step(), "; checkpoint ", ckpt,
                                               " written: rerun with --resume to continue"));
      }
    }
    // Validation: top-1 among each subject's validation stimuli, averaged over subjects.
    double val = 0, chance = 0;
    int n_val = 0;
    for (size_t s = 0; s < data.size(); ++s) {
      if (val_rows[s].empty()) continue;
      const MF pred = predict(enc, data[s].id, rows_of(data[s].X, val_rows[s]));
      std::vector<std::string> stim;
      for (int64_t r : val_rows[s]) stim.push_back(data[s].stimulus[size_t(r)]);
      val += top1_among_distinct(pred, rows_of(data[s].T, val_rows[s]), stim);
      chance += 1.0 / double(std::set<std::string>(stim.begin(), stim.end()).size());
      ++n_val;
    }
    if (n_val) val /= n_val, chance /= n_val;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    log::info("epoch ", epoch + 1, "/", cfg.epochs, ": loss ", sum.total / std::max<int64_t>(n_steps, 1), " (clip ",
              sum.clip / std::max<int64_t>(n_steps, 1), ", mse ", sum.mse / std::max<int64_t>(n_steps, 1), ")",
              n_val ? cat(", validation top-1 ", val, " (chance ", chance, ")") : std::string(), ", lr ", tr.last_lr(),
              ", ", int(secs), " s");
    if (n_val == 0 || val > st.best) {
      st.best = val, st.best_epoch = epoch, st.bad_epochs = 0;
      save_checkpoint(best, tr, prov, true);
    } else if (++st.bad_epochs >= cfg.patience) {
      log::info("early stopping: no better validation top-1 for ", cfg.patience, " epochs (best ", st.best,
                " at epoch ", st.best_epoch + 1, ")");
      stopped = true;
    }
    save_ckpt();
  }
  defer_interrupts(false);
  // The output is the best validation model (the last one without validation runs).
  load_checkpoint(best, tr);
  save_checkpoint(out_path, tr, prov, force);
  std::error_code ec;
  for (const auto& p : {ckpt, state_path, best}) fs::remove(p, ec);
}

Predictions finetune(const Samples& s, const std::string& pretrained, const FinetuneConfig& cfg,
                     std::vector<int32_t> fold_of_sample, uint64_t seed, const std::vector<Samples>& references) {
  const SubjectData d = subject_data(s);
  std::map<std::string, Eigen::RowVectorXf> latents;
  if (!pretrained.empty() && cfg.adapter_init == "ridge" && !references.empty())
    latents = reference_latents(pretrained, references);
  const int64_t n = d.X.rows();
  // Folds: as given (e.g. read from the ridge predictions), else computed like ridge's.
  std::vector<cv::Fold> folds;
  if (fold_of_sample.empty()) {
    const auto expl = cv::parse_run_lists(cfg.explicit_folds, "finetune.explicit_folds");
    folds = cv::run_folds(d.run, {}, cfg.outer, cfg.outer_folds, expl);
  } else {
    if (int64_t(fold_of_sample.size()) != n)
      throw input_error("the fold assignment has ", fold_of_sample.size(), " samples; ", s.subject, " has ", n);
    const int n_folds = *std::max_element(fold_of_sample.begin(), fold_of_sample.end()) + 1;
    folds.resize(size_t(std::max(n_folds, 0)));
    for (int f = 0; f < n_folds; ++f)
      for (int64_t i = 0; i < n; ++i) (fold_of_sample[size_t(i)] == f ? folds[size_t(f)].test : folds[size_t(f)].train).push_back(i);
    if (folds.empty()) throw input_error("the fold assignment tests no sample");
  }
  cv::restrict_training_runs(folds, d.run, cfg.train_fraction);

  TrainSettings arch = cfg;
  if (!pretrained.empty()) {
    h5::ArtifactReader r(pretrained, "encoder_checkpoint", 1);
    arch.latent = int(r.attr_double("/", "latent"));
    arch.n_blocks = int(r.attr_double("/", "n_blocks"));
    arch.dropout = r.attr_double("/", "dropout");
    if (int(r.attr_double("/", "clip_dim")) != d.T.cols())
      throw input_error("pretrained model '", pretrained, "' predicts ", int(r.attr_double("/", "clip_dim")),
                        "-d vectors; ", s.subject, "'s features are ", d.T.cols(), "-d");
  }
  Predictions p;
  p.subject = s.subject;
  p.model = pretrained.empty() ? "encoder-scratch" : "encoder-" + cfg.mode;
  p.mode = "decode";
  p.train_fraction = cfg.train_fraction;
  p.predictions = MF::Constant(n, d.T.cols(), std::numeric_limits<float>::quiet_NaN());
  p.truth = d.T;
  p.stimulus = s.stimulus;
  p.run = s.run;
  p.fold.assign(size_t(n), -1);
  p.feature_row = s.feature_row;
  log::Progress progress("outer folds", int64_t(folds.size()));
  for (size_t f = 0; f < folds.size(); ++f) {
    const cv::Fold& fold = folds[f];
    Encoder<float> enc(encoder_config(arch, int(d.T.cols())), seed + 7 * f);
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
    Trainer<float> tr(enc, loss_config(cfg), adamw_config(cfg, spe * cfg.epochs), seed + f);
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
