#include "pipeline/models/encoder/pretrain.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>

#include "pipeline/core/error.h"
#include "pipeline/core/log.h"
#include "pipeline/core/output.h"
#include "pipeline/dist/collectives.h"
#include "pipeline/math/metrics.h"
#include "pipeline/models/encoder/checkpoint.h"
#include "pipeline/models/encoder/sample_stream.h"
#include "pipeline/models/encoder/stream_order.h"
#include "pipeline/models/encoder/trainer.h"
#include "pipeline/models/encoder/training_data.h"

namespace fs = std::filesystem;

namespace v2c::encoder {

namespace {

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

// Test seam (tests/test_reliability.cpp): V2C_TEST_KILL_AT=<suffix>:<k> ends the process with
// SIGKILL right after the k-th write of the file ending in <suffix> (ckpt, best), as a kill -9
// at that moment would.
void kill_if_asked(const std::string& path) {
  static const char* spec = std::getenv("V2C_TEST_KILL_AT");
  static std::map<std::string, int64_t> writes;
  if (!spec) return;
  const std::string s = spec;
  const size_t colon = s.find(':');
  if (colon == std::string::npos) return;
  const std::string suffix = s.substr(0, colon);
  if (path.size() < suffix.size() || path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) return;
  if (std::to_string(++writes[suffix]) == s.substr(colon + 1)) std::raise(SIGKILL);
}

// What the ranks must agree on: every parameter's values, the step and the Rng state.
uint64_t state_fingerprint(const Trainer<float>& tr) {
  uint64_t h = dist::fingerprint(nullptr, 0);
  for (const Param<float>* p : tr.encoder().params())
    h = dist::fingerprint(p->value.data(), p->value.size() * int64_t(sizeof(float)), h);
  const int64_t step = tr.step();
  const auto rng = tr.rng().engine().state();
  h = dist::fingerprint(&step, sizeof(step), h);
  return dist::fingerprint(rng.data(), int64_t(sizeof(rng)), h);
}

}  // namespace

void pretrain(const std::vector<Samples>& samples, const PretrainConfig& cfg, uint64_t seed,
              const std::string& out_path, const Provenance& prov, bool force, bool resume, dist::Communicator* comm) {
  if (samples.empty()) throw usage_error("v2c-pretrain needs at least one subject's samples");
  MemorySource source(samples);
  pretrain(source, cfg, seed, out_path, prov, force, resume, comm);
}

void pretrain(SampleSource& source, const PretrainConfig& cfg, uint64_t seed, const std::string& out_path,
              const Provenance& prov, bool force, bool resume, dist::Communicator* comm_or_null, const SslHooks& ssl) {
  dist::Communicator& comm = comm_or_null ? *comm_or_null : dist::serial();
  const std::map<std::string, AdapterInit<float>>& adapter_init = ssl.adapter_init;
  if (ssl.step && (comm.size() > 1 || resume))
    throw usage_error(
        "pretrain.ssl_joint runs in one process and cannot --resume (the self-supervised model is not "
        "in the checkpoints)");
  const bool writer = comm.rank() == 0;
  const std::vector<SubjectTable>& data = source.subjects();
  if (data.empty()) throw usage_error("v2c-pretrain needs at least one subject's samples");
  if (fs::exists(out_path) && !force)
    throw usage_error("output '", out_path, "' already exists; pass --force to overwrite it");
  std::set<std::string> ids;
  for (const auto& d : data)
    if (!ids.insert(d.id).second) throw input_error("subject '", d.id, "' is given twice");
  const int clip_dim = int(source.feature_dim());
  // Training and validation rows: excluded runs and left-out rows dropped; the last val_runs runs
  // (of those with rows left) validate.
  const std::set<int32_t> excluded(cfg.exclude_runs.begin(), cfg.exclude_runs.end());
  std::vector<std::vector<int64_t>> train_rows(data.size()), val_rows(data.size());
  for (size_t s = 0; s < data.size(); ++s) {
    const auto used = [&](int64_t i) {
      return !excluded.count(data[s].run[size_t(i)]) && !(data[s].left_out.size() && data[s].left_out[size_t(i)]);
    };
    std::set<int32_t> runs;
    for (int64_t i = 0; i < data[s].n_samples(); ++i)
      if (used(i)) runs.insert(data[s].run[size_t(i)]);
    if (int(runs.size()) <= cfg.val_runs)
      throw input_error("subject ", data[s].id, " has ", runs.size(),
                        " usable run(s); pretrain.val_runs = ", cfg.val_runs, " leaves none for training");
    std::set<int32_t> val;
    for (auto it = runs.rbegin(); it != runs.rend() && int(val.size()) < cfg.val_runs; ++it) val.insert(*it);
    for (int64_t i = 0; i < int64_t(data[s].run.size()); ++i) {
      if (used(i)) (val.count(data[s].run[size_t(i)]) ? val_rows[s] : train_rows[s]).push_back(i);
    }
  }
  // What the model is trained and validated on (stimulus ids), recorded in the output.
  StimulusRecord record;
  record.recorded = true;
  {
    std::set<std::string> train_ids, val_ids;
    for (size_t s = 0; s < data.size(); ++s) {
      for (int64_t r : train_rows[s]) train_ids.insert(data[s].stimulus[size_t(r)]);
      for (int64_t r : val_rows[s]) val_ids.insert(data[s].stimulus[size_t(r)]);
    }
    record.train.assign(train_ids.begin(), train_ids.end());
    record.validation.assign(val_ids.begin(), val_ids.end());
  }
  // The shuffle buffer in rows of the widest subject; the epochs' orders (indices only) fix the
  // steps of every epoch up front: the schedule needs their total, a resumed run its epoch.
  int64_t p_max = 1, n_train = 0;
  for (size_t s = 0; s < data.size(); ++s)
    p_max = std::max(p_max, data[s].n_voxels), n_train += int64_t(train_rows[s].size());
  const auto buffer_rows = int64_t(cfg.buffer_mib * double(1 << 20) / double(sizeof(float) * size_t(p_max)));
  if (buffer_rows < std::max<int64_t>(cfg.batch_size, cfg.chunk_rows))
    throw usage_error("pretrain.buffer_mib = ", cfg.buffer_mib, " holds ", buffer_rows, " samples of ", p_max,
                      " voxels; it must hold at least max(pretrain.batch_size, pretrain.chunk_rows) = ",
                      std::max<int64_t>(cfg.batch_size, cfg.chunk_rows));
  const auto order_of = [&](int64_t epoch) {
    return stream_order(train_rows, cfg.chunk_rows, buffer_rows, cfg.batch_size, seed, epoch);
  };
  std::vector<int64_t> epoch_start(size_t(cfg.epochs) + 1, 0);
  for (int64_t e = 0; e < cfg.epochs; ++e)
    epoch_start[size_t(e) + 1] = epoch_start[size_t(e)] + int64_t(order_of(e).batches.size());
  const int64_t steps_per_epoch = epoch_start[1];
  if (steps_per_epoch == 0) throw input_error("no training batch: too few samples for pretrain.batch_size");
  const int64_t total_steps = epoch_start.back();
  const auto epoch_of = [&](int64_t step) {
    return int64_t(std::upper_bound(epoch_start.begin(), epoch_start.end(), step) - epoch_start.begin()) - 1;
  };

  EncoderConfig model = cfg.model;
  model.clip_dim = clip_dim;
  Encoder<float> enc(model, seed);
  for (size_t s = 0; s < data.size(); ++s) {
    const auto init = adapter_init.find(data[s].id);
    enc.add_subject(data[s].id, data[s].n_voxels, init == adapter_init.end() ? AdapterInit<float>{} : init->second,
                    seed + 101 + s);
  }
  Trainer<float> tr(enc, cfg.loss, cfg.schedule(total_steps), seed);
  if (comm.size() > 1) tr.set_communicator(comm);
  const std::string ckpt = out_path + ".ckpt", best = out_path + ".best";
  // Early stopping's state, written into each checkpoint (one file, one rename: F16).
  EarlyStopping st;
  st.recorded = true;
  bool stopped = false;
  // Rank 0's checkpoint is the one every rank resumes from.
  const bool have_ckpt = dist::broadcast_value(comm, resume && fs::exists(ckpt) ? 1.0 : 0.0) > 0;
  if (have_ckpt) {
    if (!fs::exists(ckpt))
      throw io_error("rank ", comm.rank(), " cannot see rank 0's checkpoint '", ckpt,
                     "': OUT must be on a file system every rank sees");
    load_checkpoint(ckpt, tr);
    st = read_early_stopping(ckpt);
    if (!st.recorded)
      throw input_error("checkpoint '", ckpt,
                        "' holds no early-stopping state (written by an older vox2clip): ", "rerun without --resume");
    // Killed after early stopping's last checkpoint: stopped then, stops now.
    stopped = st.bad_epochs >= cfg.patience;
    log::info("resumed from ", ckpt, " at step ", tr.step(), " (epoch ", epoch_of(tr.step()) + 1, ")");
  } else if (resume) {
    log::warn("--resume: no checkpoint '", ckpt, "'; starting from scratch");
  }
  if (comm.size() > 1) dist::check_same_on_every_rank(comm, state_fingerprint(tr), "the model state at start");
  log::info("pretraining on ", data.size(), " subjects: ", steps_per_epoch, " steps/epoch x ", cfg.epochs,
            " epochs, batch ", cfg.batch_size, ", latent ", cfg.model.latent, ", ", cfg.model.n_blocks, " blocks",
            comm.size() > 1 ? cat("; data-parallel: ", comm.describe()) : std::string());
  if (n_train > buffer_rows)
    log::info("streaming ", n_train, " training samples through a shuffle buffer of ", buffer_rows, " (",
              cfg.buffer_mib, " MiB at ", p_max, " voxels), chunks of ", cfg.chunk_rows);

  defer_interrupts(true);
  // Collective: every rank's share of the optimiser state to every rank, then rank 0 writes.
  const auto save_model = [&](const std::string& path, const EarlyStopping& stopping) {
    tr.gather_optimizer_state();
    if (comm.size() > 1)
      dist::check_same_on_every_rank(comm, state_fingerprint(tr), cat("the model state at step ", tr.step()));
    if (writer) {
      save_checkpoint(path, tr, prov, true, {}, {}, stopping);
      kill_if_asked(path);
    }
  };
  const auto save_ckpt = [&] { save_model(ckpt, st); };
  // `reading`: the epoch's stream, whose read-ahead must end before the checkpoint is written.
  const auto stop_if_interrupted = [&](SampleStream* reading) {
    if (dist::any(comm, interrupt_requested())) {
      if (reading) reading->settle();
      save_ckpt();
      throw Error(ExitCode::interrupted, cat("interrupted at step ", tr.step(), "; checkpoint ", ckpt,
                                             " written: rerun with --resume to continue"));
    }
  };
  const auto t_start = std::chrono::steady_clock::now();
  MF X, T;
  while (tr.step() < total_steps && !stopped) {
    const int64_t epoch = epoch_of(tr.step());
    const EpochOrder order = order_of(epoch);
    const int64_t n_batches = int64_t(order.batches.size());
    // Reads overlap training (read-ahead) unless a self-supervised step may read files of its own.
    SampleStream stream(source, order, tr.step() - epoch_start[size_t(epoch)], &comm, !ssl.step);
    LossParts sum;
    int64_t n_steps = 0, n_samples = 0;
    const auto t_epoch = std::chrono::steady_clock::now();
    const std::clock_t cpu_epoch = std::clock();  // this process's CPU time, every thread
    while (!stream.done()) {
      const int64_t b = stream.batch_index();
      const Batch& batch = stream.next(X, T);
      const LossParts lp =
          ssl.step ? ssl.step(tr, data[batch.subject].id, X, T) : tr.train_step(data[batch.subject].id, X, T);
      sum.total += lp.total, sum.clip += lp.clip, sum.mse += lp.mse, ++n_steps;
      n_samples += int64_t(batch.rows.size());
      if (!std::isfinite(lp.total))
        throw numerical_error("pretraining diverged at step ", tr.step(), " (loss ", lp.total, "); lower pretrain.lr");
      // The epoch's last step is checkpointed after validation (below), so that a checkpoint at an
      // epoch boundary always has that epoch's early-stopping state.
      if (b + 1 == n_batches) break;
      if (tr.step() % cfg.checkpoint_every == 0) {
        stream.settle();
        save_ckpt();
      }
      stop_if_interrupted(&stream);
    }
    const double train_secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_epoch).count();
    const double cpu_secs = double(std::clock() - cpu_epoch) / CLOCKS_PER_SEC;
    // Validation (rank 0): top-1 among each subject's validation stimuli, averaged over subjects.
    double val = 0, chance = 0;
    int n_val = 0;
    for (size_t s = 0; s < data.size(); ++s) {
      if (val_rows[s].empty()) continue;
      ++n_val;
      if (!writer) continue;
      const MF pred = predict(enc, data[s].id, source.voxels(s, val_rows[s]));
      std::vector<std::string> stim;
      for (int64_t r : val_rows[s]) stim.push_back(data[s].stimulus[size_t(r)]);
      val += top1_among_distinct(pred, source.targets(s, val_rows[s]), stim);
      chance += 1.0 / double(std::set<std::string>(stim.begin(), stim.end()).size());
    }
    if (n_val) val /= n_val, chance /= n_val;
    val = dist::broadcast_value(comm, val);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    log::info("epoch ", epoch + 1, "/", cfg.epochs, ": loss ", sum.total / std::max<int64_t>(n_steps, 1), " (clip ",
              sum.clip / std::max<int64_t>(n_steps, 1), ", mse ", sum.mse / std::max<int64_t>(n_steps, 1), ")",
              n_val ? cat(", validation top-1 ", val, " (chance ", chance, ")") : std::string(), ", lr ", tr.last_lr(),
              ", ", int(double(n_samples) / std::max(train_secs, 1e-9)), " samples/s (",
              int(double(n_samples) / std::max(cpu_secs, 1e-9)), " per CPU second), ", int(secs), " s");
    if (n_val == 0 || val > st.best) {
      st.best = val, st.best_epoch = epoch, st.bad_epochs = 0;
      save_model(best, {});
    } else if (++st.bad_epochs >= cfg.patience) {
      log::info("early stopping: no better validation top-1 for ", cfg.patience, " epochs (best ", st.best,
                " at epoch ", st.best_epoch + 1, ")");
      stopped = true;
    }
    save_ckpt();
    stop_if_interrupted(nullptr);
  }
  defer_interrupts(false);
  if (!writer) return;
  // The output is the best validation model (the last one without validation runs).
  load_checkpoint(best, tr);
  save_checkpoint(out_path, tr, prov, force, record, ssl.temporal ? ssl.temporal() : ssl::TemporalSnapshot{});
  std::error_code ec;
  for (const auto& p : {ckpt, best}) fs::remove(p, ec);
}

}  // namespace v2c::encoder
