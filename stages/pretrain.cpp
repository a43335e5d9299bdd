// v2c-pretrain: the shared nonlinear encoder, pretrained on many subjects; data-parallel when
// started by an MPI launcher (`mpirun -np N v2c-pretrain ...`), one process otherwise.
#include <omp.h>

#include "pipeline/core/log.h"
#include "pipeline/core/output.h"
#include "pipeline/core/stage.h"
#include "pipeline/dist/mpi_communicator.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"
#include "pipeline/models/encoder/pretrain.h"
#include "pipeline/models/encoder/ssl/joint_pretrain.h"
#include "pipeline/models/encoder/ssl/pretrain_ssl.h"
#include "pipeline/study/shuffled_labels.h"
#include "pipeline/study/test_stimuli.h"

extern "C" void openblas_set_num_threads(int num_threads);

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "pretrain",
    .summary = "pretrain the shared encoder (subject adapters + residual MLP backbone) on many subjects",
    .description =
        "Trains one linear adapter per subject into a shared latent space and a shared residual MLP from it to the "
        "stimulus feature (CLIP) space, with contrastive (CLIP/SigLIP) and MSE/cosine losses, AdamW, warm-up and "
        "cosine schedule and gradient clipping. The last runs of every subject validate (early stopping on "
        "validation top-1 retrieval). Checkpoints go to OUT.ckpt every pretrain.checkpoint_every steps and on "
        "SIGINT/SIGTERM; --resume continues from there. Every sample showing a stimulus that the held-out "
        "subjects' outer folds test (--heldout-samples with --heldout-folds, their v2c-ridge output) is left out "
        "of training and validation (pretrain.exclude_test_stimuli), and with --timeseries every time-series run "
        "with a volume showing one is left out of the self-supervised stage; the output records the stimulus ids it "
        "trained and validated on. Started by an MPI launcher "
        "(mpirun -np N, srun -n N), it trains data-parallel: each batch is split across the N processes, "
        "gradients are summed in a fixed order, rank 0 writes the checkpoints and OUT (on a file system every "
        "rank sees), and the weights equal a one-process run's to float rounding; --threads then defaults to "
        "the cores of this process divided by the ranks on its machine. The samples are read from their files "
        "pretrain.chunk_rows at a time through a shuffle buffer of pretrain.buffer_mib (the batch order a function "
        "of seed and epoch; a full shuffle when every sample fits), so memory holds the buffer, the sample tables "
        "and the model, not the samples.",
    .options = {{"samples", "FILE", "samples.h5 of every pretraining subject (with features)", true, true, "",
                 OptionRole::input},
                {"timeseries", "FILE",
                 "timeseries.h5 of subjects (labelled or not): a self-supervised stage "
                 "(pretrain.ssl_*) first fits their adapters, the start of the supervised one",
                 true, false, "", OptionRole::input},
                {"ssl-out", "FILE",
                 "with --timeseries: also write the encoder as the self-supervised stage left it "
                 "(its adapters, an untrained backbone), for fine-tuning without the CLIP stage",
                 false, false, "", OptionRole::output},
                {"heldout-samples", "FILE", "samples.h5 of each held-out subject (whose test stimuli are left out)",
                 true, false, "", OptionRole::input},
                {"heldout-folds", "FILE", "each held-out subject's v2c-ridge output: which samples its folds test",
                 true, false, "", OptionRole::input},
                {"shuffle-pooled-labels", "", study::kShufflePooledLabelsHelp, false, false, ""},
                {"resume", "", "continue from OUT.ckpt when it exists", false, false, ""}},
    .output_help = "the pretrained model (HDF5 encoder checkpoint)",
    .runs_on_ranks = true,
};

dist::Communicator* world = nullptr;

// The stimuli the held-out subjects' outer folds test (--heldout-samples with --heldout-folds);
// none (and a warning) without them.
study::TestStimuli heldout_test_stimuli(StageContext& ctx, const encoder::SampleSource& source) {
  const auto heldout = ctx.args.all("heldout-samples"), folds = ctx.args.all("heldout-folds");
  if (heldout.size() != folds.size())
    throw usage_error("give one --heldout-folds per --heldout-samples; found ", heldout.size(), " and ", folds.size());
  study::TestStimuli tested;
  if (heldout.empty()) {
    log::warn(
        "no --heldout-samples: nothing is left out, so pretraining may train on stimuli a held-out subject "
        "is later tested on");
    return tested;
  }
  for (size_t h = 0; h < heldout.size(); ++h) {
    ctx.add_input(heldout[h]);
    ctx.add_input(folds[h]);
    const Samples s = read_samples(heldout[h]);
    const Predictions p = read_predictions(folds[h]);
    if (p.subject != s.subject || p.stimulus != s.stimulus)
      throw input_error("--heldout-folds '", folds[h], "' holds the folds of ", p.subject, " (", p.stimulus.size(),
                        " samples); --heldout-samples '", heldout[h], "' is ", s.subject, " (", s.n_samples(), ")");
    if (!s.has_features()) throw input_error("--heldout-samples '", heldout[h], "' carries no stimulus features");
    for (const auto& sub : source.subjects())
      if (sub.id == s.subject)
        throw usage_error("subject ", s.subject, " is both held out (--heldout-samples) and pretrained on (--samples)");
    MatrixF vectors(s.n_samples(), s.features.cols());
    for (int64_t i = 0; i < s.n_samples(); ++i) vectors.row(i) = s.features.row(s.feature_row[size_t(i)]);
    study::add_test_stimuli(s.stimulus, vectors, p.fold, tested);
  }
  return tested;
}

// Pretraining subject k's samples that show one of `tested`, ascending.
std::vector<int64_t> samples_showing(const encoder::SampleSource& source, size_t k, const study::TestStimuli& tested) {
  const encoder::SubjectTable& t = source.subjects()[k];
  std::vector<int64_t> all(size_t(t.n_samples()));
  for (int64_t i = 0; i < t.n_samples(); ++i) all[size_t(i)] = i;
  return study::rows_showing(t.stimulus, source.targets(k, all), tested);
}

// The held-out subjects' test stimuli, left out of every pretraining subject (or, with the
// exclusion off, counted and warned about).
void leave_out_heldout_test_stimuli(const encoder::PretrainConfig& cfg, encoder::SampleSource& source,
                                    const study::TestStimuli& tested) {
  if (tested.ids.empty()) return;
  int64_t showing = 0, total = 0;
  for (size_t k = 0; k < source.subjects().size(); ++k) {
    const encoder::SubjectTable& t = source.subjects()[k];
    const std::vector<int64_t> rows = samples_showing(source, k, tested);
    showing += int64_t(rows.size());
    total += t.n_samples();
    if (!cfg.exclude_test_stimuli) continue;
    if (int64_t(rows.size()) == t.n_samples())
      throw input_error("pretraining subject ", t.id, ": all ", t.n_samples(),
                        " samples show stimuli the held-out subjects are tested on; nothing is left to pretrain on "
                        "(test the held-out subjects on stimuli of their own, e.g. ridge.outer: explicit with novel-"
                        "stimulus test runs)");
    source.leave_out(k, rows);
  }
  if (cfg.exclude_test_stimuli)
    log::info("left out ", showing, " of ", total, " pretraining samples: they show one of the ", tested.ids.size(),
              " stimuli the held-out subjects are tested on");
  else if (showing > 0)
    log::warn("pretrain.exclude_test_stimuli is off: ", showing, " of ", total, " pretraining samples show one of the ",
              tested.ids.size(), " stimuli the held-out subjects are tested on (a leak)");
}

// The self-supervised stage's share of the same guard: every time-series run with a volume that
// entered a sample showing a tested stimulus is left out whole (the stage reads runs as sequences).
// tables: the subjects' time-series run tables; returns, per subject, the run indices left out.
std::vector<std::set<int64_t>> heldout_test_runs(const encoder::PretrainConfig& cfg,
                                                 const encoder::SampleSource& source, const study::TestStimuli& tested,
                                                 const std::vector<const TimeSeries*>& tables) {
  std::vector<std::set<int64_t>> left_out(tables.size());
  if (tested.ids.empty() || !cfg.exclude_test_stimuli) return left_out;
  int64_t dropped = 0, total = 0;
  for (size_t i = 0; i < tables.size(); ++i) {
    const TimeSeries& ts = *tables[i];
    total += ts.n_runs();
    for (size_t k = 0; k < source.subjects().size(); ++k) {
      if (source.subjects()[k].id != ts.subject) continue;
      std::vector<std::vector<int32_t>> sample_row;
      for (const TimeSeriesRun& r : ts.runs) sample_row.push_back(r.sample_row);
      for (size_t r : study::runs_with_samples(sample_row, samples_showing(source, k, tested)))
        left_out[i].insert(int64_t(r));
      dropped += int64_t(left_out[i].size());
      if (int64_t(left_out[i].size()) == ts.n_runs())
        throw input_error("pretraining subject ", ts.subject,
                          ": every time-series run shows a stimulus the held-out "
                          "subjects are tested on; nothing is left for the self-supervised stage");
    }
  }
  log::info("self-supervised stage: left out ", dropped, " of ", total,
            " time-series runs: they show a stimulus the held-out subjects are tested on");
  return left_out;
}

void run(StageContext& ctx, encoder::PretrainConfig& cfg) {
  if (world->size() > 1) {
    if (world->rank() != 0) log::set_level(log::Level::quiet);  // rank 0 speaks for the job
    if (!ctx.args.has("threads")) {
      ctx.threads = std::max(1, omp_get_num_procs() / world->local_size());
      omp_set_num_threads(ctx.threads);
      openblas_set_num_threads(ctx.threads);
      ctx.provenance.threads = ctx.threads;
    }
  }
  for (const auto& path : ctx.args.all("samples")) ctx.add_input(path);
  encoder::FileSource subjects(ctx.args.all("samples"));  // read in chunks while training
  encoder::ssl::SslPretrainResult ssl;                    // empty without --timeseries
  const std::string ssl_out = ctx.args.one("ssl-out");
  if (!ssl_out.empty()) {
    if (!ctx.args.has("timeseries")) throw usage_error("--ssl-out needs --timeseries FILE...");
    AtomicOutput{ssl_out, ctx.force};  // refuses an existing file before any work
  }
  if (cfg.ssl_joint && (!ctx.args.has("timeseries") || !ssl_out.empty() || !cfg.supervised))
    throw usage_error(
        "pretrain.ssl_joint adds the self-supervised objectives to the CLIP stage's steps: it needs "
        "--timeseries, pretrain.supervised: true and no --ssl-out");
  const study::TestStimuli tested = heldout_test_stimuli(ctx, subjects);
  std::vector<TimeSeries> series;                        // joint mode: in memory
  std::unique_ptr<encoder::TimeSeriesFileSource> files;  // the self-supervised stage: streamed
  std::unique_ptr<encoder::ssl::JointPretraining> joint;
  encoder::SslHooks hooks;
  if (ctx.args.has("timeseries")) {
    const std::vector<std::string> paths = ctx.args.all("timeseries");
    for (const auto& path : paths) ctx.add_input(path);
    std::vector<const TimeSeries*> tables;
    if (cfg.ssl_joint) {
      for (const auto& path : paths) series.push_back(read_timeseries(path));
      for (const TimeSeries& ts : series) tables.push_back(&ts);
    } else {
      files = std::make_unique<encoder::TimeSeriesFileSource>(paths);  // run tables now, volumes as streamed
      for (size_t i = 0; i < paths.size(); ++i) tables.push_back(&files->table(i));
    }
    for (size_t i = 0; i < paths.size(); ++i)
      for (const encoder::SubjectTable& s : subjects.subjects())
        if (s.id == tables[i]->subject && s.n_voxels != tables[i]->n_voxels())
          throw input_error("'", paths[i], "' has ", tables[i]->n_voxels(), " voxels for ", s.id, "; its samples have ",
                            s.n_voxels, " (prepare both in one v2c-prepare call)");
    const std::vector<std::set<int64_t>> left_out = heldout_test_runs(cfg, subjects, tested, tables);
    if (cfg.ssl_joint) {
      for (size_t i = 0; i < series.size(); ++i)
        for (auto r = left_out[i].rbegin(); r != left_out[i].rend(); ++r) {
          series[i].runs.erase(series[i].runs.begin() + std::ptrdiff_t(*r));
          series[i].data.erase(series[i].data.begin() + std::ptrdiff_t(*r));
        }
      std::map<std::string, int64_t> voxels;
      for (const encoder::SubjectTable& s : subjects.subjects()) voxels[s.id] = s.n_voxels;
      joint = std::make_unique<encoder::ssl::JointPretraining>(series, voxels, cfg, ctx.seed);
      hooks.step = [&](encoder::Trainer<float>& tr, const std::string& s, const encoder::Mat<float>& X,
                       const encoder::Mat<float>& T) { return joint->step(tr, s, X, T); };
      hooks.temporal = [&] { return joint->temporal(); };
    } else {
      ssl = encoder::ssl::pretrain_ssl(*files, left_out, cfg, ctx.seed);
      hooks.adapter_init = ssl.adapters;
      hooks.temporal = [&] { return ssl.temporal; };
    }
    if (!ssl_out.empty()) {
      encoder::ssl::write_self_supervised_encoder(subjects, cfg, ssl, ctx.seed, ssl_out, ctx.provenance, ctx.force);
      log::info("self-supervised encoder (untrained backbone) -> ", ssl_out);
    }
  } else if (!cfg.supervised) {
    throw usage_error("pretrain.supervised: false trains only the self-supervised stage; give --timeseries FILE...");
  }
  if (!cfg.supervised) {
    encoder::ssl::write_self_supervised_encoder(subjects, cfg, ssl, ctx.seed, ctx.out, ctx.provenance, ctx.force);
    log::info("self-supervised encoder (untrained backbone) -> ", ctx.out);
    return;
  }
  leave_out_heldout_test_stimuli(cfg, subjects, tested);
  if (ctx.args.has("shuffle-pooled-labels")) {  // after the leave-out: never a tested stimulus's label
    subjects.shuffle_labels(ctx.seed, cfg.exclude_runs);
    log::info("negative control (--shuffle-pooled-labels): the stimulus labels of all ", subjects.subjects().size(),
              " pretraining subjects permuted (seed ", ctx.seed, ")");
  }
  encoder::pretrain(subjects, cfg, ctx.seed, ctx.out, ctx.provenance, ctx.force, ctx.args.has("resume"), world, hooks);
  log::info("pretrained encoder -> ", ctx.out);
}

}  // namespace

int main(int argc, char** argv) {
  const auto comm = dist::connect_world(&argc, &argv);
  world = comm.get();
  const int code = stage_main<encoder::PretrainConfig>(argc, argv, spec, run);
  if (code != 0 && world->size() > 1) world->abort(code);  // the other ranks must not wait for this one
  return code;
}
