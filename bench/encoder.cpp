// Encoder training benchmark: samples/s of Trainer::train_step (forward, CLIP + MSE loss, backward,
// global-norm clipping, AdamW) for one subject, and this process's peak memory. The PyTorch peer
// (bench/peers/encoder_torch.py) trains the same model, losses and optimiser.
//   bench-encoder [VOXELS LATENT BLOCKS CLIP_DIM BATCH WARMUP_STEPS TIMED_STEPS]
//   defaults:      20000  1024   2      512      128   3            30
// Prints one line: ours_samples_per_s ours_peak_mib
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "pipeline/core/types.h"
#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/trainer.h"

using namespace v2c;

int main(int argc, char** argv) {
  auto arg = [&](int i, long def) { return argc > i ? std::atol(argv[i]) : def; };
  const int64_t p = arg(1, 20000), L = arg(2, 1024), blocks = arg(3, 2), D = arg(4, 512), B = arg(5, 128);
  const int warm = int(arg(6, 3)), timed = int(arg(7, 30));
  encoder::EncoderConfig ec;
  ec.latent = int(L);
  ec.n_blocks = int(blocks);
  ec.clip_dim = int(D);
  ec.dropout = 0.15;
  encoder::Encoder<float> enc(ec, 1);
  enc.add_subject("sub-01", p, {}, 2);
  encoder::LossConfig lc;
  lc.w_clip = 1.0;
  lc.w_mse = 1.0;
  encoder::AdamWConfig oc;
  oc.lr = 3e-4;
  oc.warmup_steps = 2;
  oc.total_steps = warm + timed;
  encoder::Trainer<float> tr(enc, lc, oc, 3);

  constexpr int kPool = 4;  // distinct batches, reused round-robin
  encoder::Rng rng(4);
  std::vector<MatrixF> X(kPool, MatrixF(B, p)), T(kPool, MatrixF(B, D));
  for (int k = 0; k < kPool; ++k) {
    for (int64_t i = 0; i < X[k].size(); ++i) X[k].data()[i] = float(rng.normal());
    for (int64_t i = 0; i < T[k].size(); ++i) T[k].data()[i] = float(rng.normal());
  }
  for (int s = 0; s < warm; ++s) tr.train_step("sub-01", X[s % kPool], T[s % kPool]);
  const auto t0 = std::chrono::steady_clock::now();
  double loss = 0;
  for (int s = 0; s < timed; ++s) loss = tr.train_step("sub-01", X[s % kPool], T[s % kPool]).total;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::fprintf(stderr, "bench-encoder: %d steps in %.3f s, last loss %.4f\n", timed, secs, loss);
  std::printf("%.1f %.1f\n", double(timed * B) / secs, double(ru.ru_maxrss) / 1024.0);
  return 0;
}
