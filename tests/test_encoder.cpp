// Tests of the shared brain encoder (pipeline/models/encoder/): finite-difference gradients of every
// layer and loss (double), AdamW / schedule / clipping against hand computation, the fused adapter
// update against the plain one, an overfit sanity check, bitwise checkpoint/resume, freezing.
#include <omp.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "pipeline/io/h5.h"
#include "pipeline/models/encoder/checkpoint.h"
#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/parallel.h"
#include "pipeline/models/encoder/trainer.h"
#include "tests/test_util.h"

using namespace v2c;
using namespace v2c::encoder;

namespace {

template <class S>
Mat<S> random_matrix(int64_t rows, int64_t cols, Rng& rng, double scale = 1.0) {
  Mat<S> m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = S(scale * rng.normal());
  return m;
}

// Pins OpenMP (and so our kernels) to n threads for the scope.
struct Threads {
  int saved;
  explicit Threads(int n) : saved(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(saved); }
};

struct Tiny {
  EncoderConfig cfg;
  Tiny(int latent, int blocks, double dropout, int clip_dim) {
    cfg.latent = latent;
    cfg.n_blocks = blocks;
    cfg.dropout = dropout;
    cfg.clip_dim = clip_dim;
  }
};

// Central finite differences of Trainer::loss against its analytic gradients, for every trainable
// parameter that received a gradient. Returns the worst tensor-wise relative error.
int gradient_check(Encoder<double>& enc, const LossConfig& lc, const Mat<double>& X, const Mat<double>& T,
                   const std::string& label) {
  for (Param<double>* p : enc.params()) p->grad.resize(0, 0);
  AdamWConfig oc;
  oc.total_steps = 10;
  Trainer<double> tr(enc, lc, oc, 77);
  const Rng saved = tr.rng();
  tr.loss("s1", X, T, true);
  double worst = 0;
  int checked = 0;
  for (Param<double>* p : enc.params()) {
    if (p->grad.size() == 0) continue;
    const Mat<double> analytic = p->grad;
    Mat<double> numeric(analytic.rows(), analytic.cols());
    for (int64_t k = 0; k < p->value.size(); ++k) {
      const double orig = p->value.data()[k], h = 1e-6 * std::max(1.0, std::abs(orig));
      p->value.data()[k] = orig + h;
      tr.rng() = saved;
      const double fp = tr.loss("s1", X, T, false).total;
      p->value.data()[k] = orig - h;
      tr.rng() = saved;
      const double fm = tr.loss("s1", X, T, false).total;
      p->value.data()[k] = orig;
      numeric.data()[k] = (fp - fm) / (2 * h);
    }
    const double denom = std::max({analytic.norm(), numeric.norm(), 1e-10});
    const double rel = (analytic - numeric).norm() / denom;
    BOOST_CHECK_MESSAGE(rel <= 1e-3, label << ": " << p->name << " relative error " << rel << " (|analytic| "
                                           << analytic.norm() << ", |numeric| " << numeric.norm() << ")");
    worst = std::max(worst, rel);
    ++checked;
  }
  BOOST_TEST_MESSAGE(label << ": " << checked << " tensors, worst relative error " << worst);
  return checked;
}

// Flattened copy of every parameter value (for bitwise comparisons).
template <class S>
std::vector<S> snapshot(const Encoder<S>& enc, bool moments = false) {
  std::vector<S> out;
  for (const Param<S>* p : enc.params()) {
    out.insert(out.end(), p->value.data(), p->value.data() + p->value.size());
    if (moments) {
      out.insert(out.end(), p->m.data(), p->m.data() + p->m.size());
      out.insert(out.end(), p->v.data(), p->v.data() + p->v.size());
    }
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(encoder)

BOOST_AUTO_TEST_CASE(gradients_of_every_layer_and_loss_match_finite_differences) {
  Tiny t(6, 2, 0.3, 5);
  Encoder<double> enc(t.cfg, 1);
  enc.add_subject("s1", 7, {}, 2);
  Rng rng(3);
  // Non-trivial LayerNorm gains/biases and loss scalars, so that their gradients are exercised.
  for (Param<double>* p : enc.params())
    if (p->name.find("/ln/") != std::string::npos) p->value += random_matrix<double>(1, p->value.cols(), rng, 0.3);
  enc.param("loss/siglip_b").value(0, 0) = -1.5;
  enc.param("loss/siglip_t").value(0, 0) = 0.7;
  enc.param("loss/logit_scale").value(0, 0) = 1.2;
  const Mat<double> X = random_matrix<double>(4, 7, rng), T = random_matrix<double>(4, 5, rng);

  struct Case {
    const char* label;
    LossConfig lc;
  };
  std::vector<Case> cases;
  auto only = [](double c, double s, double m, double k) {
    LossConfig lc;
    lc.w_clip = c;
    lc.w_siglip = s;
    lc.w_mse = m;
    lc.w_cos = k;
    return lc;
  };
  cases.push_back({"clip", only(1, 0, 0, 0)});
  cases.push_back({"siglip", only(0, 1, 0, 0)});
  cases.push_back({"mse", only(0, 0, 1, 0)});
  cases.push_back({"cos", only(0, 0, 0, 1)});
  LossConfig mix = only(0.7, 0.5, 0.3, 0.2);
  mix.mixco = true;
  mix.mixco_fraction = 1.0;
  mix.mixco_prob = 1.0;
  mix.mixco_alpha = 1.0;
  cases.push_back({"all losses + MixCo soft targets", mix});
  for (const Case& c : cases) {
    // adapter W and b, 2 x (LN g, b, W, b), head LN g, b, W, b, plus the loss scalars in use
    const int expected = 2 + 8 + 4 + (c.lc.w_clip > 0 ? 1 : 0) + (c.lc.w_siglip > 0 ? 2 : 0);
    BOOST_CHECK_EQUAL(gradient_check(enc, c.lc, X, T, c.label), expected);
  }
}

BOOST_AUTO_TEST_CASE(dropout_masks_are_applied_and_reproducible) {
  Tiny t(32, 1, 0.5, 4);
  Encoder<double> enc(t.cfg, 1);
  enc.add_subject("s1", 5, {}, 2);
  Rng rng(3);
  const Mat<double> X = random_matrix<double>(8, 5, rng);
  Rng a(11), b(11);
  const Mat<double> ya = enc.forward("s1", X, true, &a);
  const Mat<double> yb = enc.forward("s1", X, true, &b);
  const Mat<double> yc = enc.forward("s1", X, true, &a);
  const Mat<double> ye = enc.forward("s1", X, false, nullptr);
  BOOST_CHECK((ya.array() == yb.array()).all());
  BOOST_CHECK((ya - yc).norm() > 1e-6);
  BOOST_CHECK((ya - ye).norm() > 1e-6);
}

BOOST_AUTO_TEST_CASE(adamw_step_matches_hand_computation) {
  AdamWConfig oc;
  oc.lr = 0.1;
  oc.beta1 = 0.9;
  oc.beta2 = 0.999;
  oc.eps = 1e-8;
  oc.weight_decay = 0.1;
  AdamW<double> opt(oc);
  Param<double> p;
  p.name = "w";
  p.decay = true;
  p.value.resize(1, 3);
  p.value << 1.0, -2.0, 0.5;
  Param<double> q = p;
  q.decay = false;
  const double g1[3] = {0.1, -0.2, 0.3}, g2[3] = {-0.4, 0.05, 0.3};
  double w[3] = {1.0, -2.0, 0.5}, wq[3] = {1.0, -2.0, 0.5}, m[3] = {}, v[3] = {};
  const double scale = 0.5;
  for (int step = 1; step <= 2; ++step) {
    const double* g = step == 1 ? g1 : g2;
    p.grad = Eigen::Map<const Mat<double>>(g, 1, 3);
    q.grad = p.grad;
    opt.update(p, oc.lr, scale);
    opt.update(q, oc.lr, scale);
    for (int k = 0; k < 3; ++k) {
      const double gs = g[k] * scale;
      m[k] = 0.9 * m[k] + 0.1 * gs;
      v[k] = 0.999 * v[k] + 0.001 * gs * gs;
      const double mhat = m[k] / (1 - std::pow(0.9, step)), vhat = v[k] / (1 - std::pow(0.999, step));
      w[k] = w[k] * (1 - 0.1 * 0.1) - 0.1 * mhat / (std::sqrt(vhat) + 1e-8);
      wq[k] = wq[k] - 0.1 * mhat / (std::sqrt(vhat) + 1e-8);
    }
  }
  BOOST_CHECK_EQUAL(p.steps, 2);
  for (int k = 0; k < 3; ++k) {
    BOOST_CHECK_CLOSE_FRACTION(p.value(0, k), w[k], 1e-12);
    BOOST_CHECK_CLOSE_FRACTION(q.value(0, k), wq[k], 1e-12);
    BOOST_CHECK_CLOSE_FRACTION(p.m(0, k), m[k], 1e-12);
    BOOST_CHECK_CLOSE_FRACTION(p.v(0, k), v[k], 1e-12);
  }
}

// The float kernel (8 lanes, then a scalar tail) against the same hand computation in double: 21
// weights (two full lanes and a tail of 5), updated whole and as ranges that start mid-lane.
BOOST_AUTO_TEST_CASE(adamw_float_kernel_matches_hand_computation_in_lanes_and_tail) {
  AdamWConfig oc;
  oc.lr = 0.05;
  oc.weight_decay = 0.1;
  AdamW<float> opt(oc);
  constexpr int n = 21;
  Param<float> whole, ranges;
  whole.name = ranges.name = "w";
  whole.decay = ranges.decay = true;
  whole.value.resize(3, 7);
  for (int k = 0; k < n; ++k) whole.value.data()[k] = float(std::sin(1.0 + k));
  ranges.value = whole.value;
  double w[n], m[n] = {}, v[n] = {};
  for (int k = 0; k < n; ++k) w[k] = double(whole.value.data()[k]);
  const double scale = 0.7;
  for (int step = 1; step <= 3; ++step) {
    Mat<float> g(3, 7);
    for (int k = 0; k < n; ++k) g.data()[k] = float(std::cos(0.3 * k * step) * (k % 3 == 0 ? 1e-3 : 1.0));
    whole.grad = g;
    opt.update(whole, oc.lr, scale);
    opt.begin(ranges);
    opt.update_range(ranges, 0, 3, g.data(), oc.lr, scale);
    opt.update_range(ranges, 3, 18, g.data() + 3, oc.lr, scale);
    for (int k = 0; k < n; ++k) {
      const double gs = double(g.data()[k]) * scale;
      m[k] = 0.9 * m[k] + 0.1 * gs;
      v[k] = 0.999 * v[k] + 0.001 * gs * gs;
      const double mhat = m[k] / (1 - std::pow(0.9, step)), vhat = v[k] / (1 - std::pow(0.999, step));
      w[k] = w[k] * (1 - 0.05 * 0.1) - 0.05 * mhat / (std::sqrt(vhat) + 1e-8);
    }
  }
  for (int k = 0; k < n; ++k) {
    BOOST_TEST_CONTEXT("weight " << k) {
      BOOST_CHECK_CLOSE_FRACTION(double(whole.value.data()[k]), w[k], 2e-6);
      BOOST_CHECK_CLOSE_FRACTION(double(ranges.value.data()[k]), w[k], 2e-6);
      BOOST_CHECK_CLOSE_FRACTION(double(whole.m.data()[k]), m[k], 2e-6);
      BOOST_CHECK_CLOSE_FRACTION(double(whole.v.data()[k]), v[k], 2e-5);
    }
  }
}

BOOST_AUTO_TEST_CASE(warmup_then_cosine_schedule) {
  AdamWConfig oc;
  oc.lr = 1.0;
  oc.min_lr = 0.1;
  oc.warmup_steps = 4;
  oc.total_steps = 14;
  AdamW<float> opt(oc);
  BOOST_CHECK_CLOSE_FRACTION(opt.lr_at(0), 0.25, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(opt.lr_at(2), 0.75, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(opt.lr_at(3), 1.0, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(opt.lr_at(4), 1.0, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(opt.lr_at(9), 0.55, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(opt.lr_at(14), 0.1, 1e-12);
  BOOST_CHECK_CLOSE_FRACTION(opt.lr_at(100), 0.1, 1e-12);
  test::check_error(
      [] {
        AdamWConfig bad;
        bad.total_steps = 0;
        bad.validate();
      },
      ExitCode::usage, {"optimizer.total_steps", "0"});
}

// train_step (blocked adapter gradient and norm, block update) equals the plain
// path: materialised gradients, explicit global norm, clipping, AdamW per parameter.
BOOST_AUTO_TEST_CASE(fused_train_step_equals_plain_clipped_adamw) {
  Tiny t(8, 2, 0.2, 6);
  LossConfig lc;
  lc.w_clip = 1;
  lc.w_siglip = 0.5;
  lc.w_mse = 1;
  AdamWConfig oc;
  oc.lr = 1e-2;
  oc.warmup_steps = 1;
  oc.total_steps = 5;
  oc.clip_norm = 0.05;  // small enough to clip
  // Both ways of getting the adapter's share of the norm: its gradient blocks' sums of squares, and
  // the Gram matrices with each block applied while in cache (trainer.h, Speed).
  for (AdapterNorm how : {AdapterNorm::blocks, AdapterNorm::gram}) {
    BOOST_TEST_CONTEXT("adapter norm " << (how == AdapterNorm::gram ? "gram" : "blocks")) {
      Encoder<double> a(t.cfg, 1), b(t.cfg, 1);
      // 40000 voxels x latent 8: three of the trainer's adapter blocks (2^17 elements each), the last partial.
      a.add_subject("s1", 40000, {}, 2);
      b.add_subject("s1", 40000, {}, 2);
      Rng rng(5);
      Trainer<double> ta(a, lc, oc, 9), tb(b, lc, oc, 9);
      ta.set_adapter_norm(how);
      for (int step = 0; step < 3; ++step) {
        const Mat<double> X = random_matrix<double>(5, 40000, rng), T = random_matrix<double>(5, 6, rng);
        ta.train_step("s1", X, T);
        tb.loss("s1", X, T, true);
        double sq = 0;
        std::vector<Param<double>*> path = b.path_params("s1");
        path.push_back(&b.param("loss/logit_scale"));
        path.push_back(&b.param("loss/siglip_t"));
        path.push_back(&b.param("loss/siglip_b"));
        for (Param<double>* p : path) sq += p->grad.squaredNorm();
        const double norm = std::sqrt(sq);
        BOOST_CHECK_CLOSE_FRACTION(ta.last_grad_norm(), norm, 1e-9);
        BOOST_CHECK(norm > oc.clip_norm);
        const double scale = std::min(1.0, oc.clip_norm / (norm + 1e-6));
        for (Param<double>* p : path) tb.optimizer().update(*p, tb.optimizer().lr_at(step), scale);
        Param<double>& ls = b.param("loss/logit_scale");
        ls.value(0, 0) = std::clamp(ls.value(0, 0), 0.0, lc.max_logit_scale);
        tb.set_step(step + 1);
      }
      const auto wa = snapshot(a, true), wb = snapshot(b, true);
      BOOST_REQUIRE_EQUAL(wa.size(), wb.size());
      double worst = 0;
      for (size_t i = 0; i < wa.size(); ++i) worst = std::max(worst, std::abs(wa[i] - wb[i]));
      BOOST_CHECK_SMALL(worst, 1e-10);
    }
  }
}

// The two ways of the adapter's norm (trainer.h, Speed) compute every gradient block by the same
// call: without clipping the weights are bitwise the same; with clipping only the norm's rounding
// differs. Float, latent 64 and batch 8 (automatic takes gram there), three adapter blocks.
BOOST_AUTO_TEST_CASE(gram_and_blocks_adapter_norms_give_the_same_weights) {
  Tiny t(64, 2, 0.1, 16);
  LossConfig lc;
  lc.w_clip = 1;
  lc.w_mse = 1;
  for (double clip : {0.0, 0.05}) {
    AdamWConfig oc;
    oc.lr = 1e-3;
    oc.total_steps = 5;
    oc.clip_norm = clip;
    std::vector<std::vector<float>> w;
    std::vector<double> norms;
    for (AdapterNorm how : {AdapterNorm::blocks, AdapterNorm::gram, AdapterNorm::automatic}) {
      Encoder<float> enc(t.cfg, 1);
      enc.add_subject("s1", 5000, {}, 2);
      Trainer<float> tr(enc, lc, oc, 3);
      tr.set_adapter_norm(how);
      Rng rng(8);
      for (int s = 0; s < 5; ++s)
        tr.train_step("s1", random_matrix<float>(8, 5000, rng), random_matrix<float>(8, 16, rng));
      norms.push_back(tr.last_grad_norm());
      w.push_back(snapshot(enc));
    }
    BOOST_TEST_CONTEXT("clip_norm " << clip) {
      BOOST_CHECK(w[1] == w[2]);  // automatic = gram at L >= 8·B
      BOOST_CHECK_CLOSE_FRACTION(norms[0], norms[1], 1e-5);
      BOOST_CHECK(norms[0] > 0.05);  // so the clipped run clips
      if (clip == 0) {
        BOOST_CHECK(w[0] == w[1]);
      } else {
        double num = 0, den = 0;
        for (size_t i = 0; i < w[0].size(); ++i) {
          num += double(w[0][i] - w[1][i]) * double(w[0][i] - w[1][i]);
          den += double(w[0][i]) * double(w[0][i]);
        }
        BOOST_TEST_MESSAGE("gram vs blocks, clipped: relative weight difference " << std::sqrt(num / den));
        BOOST_CHECK_SMALL(std::sqrt(num / den), 1e-5);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(tiny_model_overfits_a_synthetic_mapping) {
  Tiny t(32, 1, 0.0, 8);
  Encoder<float> enc(t.cfg, 1);
  enc.add_subject("s1", 20, {}, 2);
  Rng rng(4);
  const Mat<float> X = random_matrix<float>(16, 20, rng), A = random_matrix<float>(20, 8, rng, 0.3);
  Mat<float> T = (X * A).array().tanh().matrix();
  LossConfig lc;
  lc.w_clip = 1;
  lc.w_mse = 1;
  AdamWConfig oc;
  oc.lr = 3e-3;
  oc.warmup_steps = 10;
  oc.total_steps = 300;
  Trainer<float> tr(enc, lc, oc, 5);
  const LossParts first = tr.train_step("s1", X, T);
  LossParts last;
  for (int s = 1; s < 300; ++s) last = tr.train_step("s1", X, T);
  BOOST_TEST_MESSAGE("overfit: loss " << first.total << " -> " << last.total << " (clip " << first.clip << " -> "
                                      << last.clip << ", mse " << first.mse << " -> " << last.mse << ")");
  BOOST_CHECK_LT(last.total, first.total / 10);
  BOOST_CHECK_LT(last.mse, first.mse / 10);
}

BOOST_AUTO_TEST_CASE(checkpoint_resume_is_bitwise_identical) {
  Threads one(1);
  test::TempDir dir;
  Tiny t(16, 2, 0.2, 8);
  LossConfig lc;
  lc.w_clip = 1;
  lc.w_siglip = 0.5;
  lc.w_mse = 0.5;
  lc.w_cos = 0.5;
  lc.mixco = true;
  lc.mixco_fraction = 0.5;  // MixCo switches off midway through the resumed half
  AdamWConfig oc;
  oc.lr = 1e-2;
  oc.warmup_steps = 2;
  oc.total_steps = 12;
  Rng rng(6);
  std::vector<Mat<float>> X, T;
  for (int k = 0; k < 4; ++k) {
    X.push_back(random_matrix<float>(6, 30, rng));
    T.push_back(random_matrix<float>(6, 8, rng));
  }
  const int n = 6;
  auto make = [&](uint64_t seed) {
    auto enc = std::make_unique<Encoder<float>>(t.cfg, seed);
    enc->add_subject("sub-01", 30, {}, seed + 1);
    enc->add_subject("sub-02", 30, {}, seed + 2);
    return enc;
  };
  auto subject = [](int s) { return s % 3 == 2 ? "sub-02" : "sub-01"; };

  auto full = make(1);
  Trainer<float> tf(*full, lc, oc, 42);
  for (int s = 0; s < 2 * n; ++s) tf.train_step(subject(s), X[s % 4], T[s % 4]);

  auto half = make(1);
  Trainer<float> th(*half, lc, oc, 42);
  for (int s = 0; s < n; ++s) th.train_step(subject(s), X[s % 4], T[s % 4]);
  const std::string path = dir.file("ckpt.h5");
  Provenance prov;
  prov.stage = "test";
  save_checkpoint(path, th, prov, false);
  test::check_error([&] { save_checkpoint(path, th, prov, false); }, ExitCode::usage, {"ckpt.h5"});

  auto resumed = make(99);  // different initial weights and Rng: everything must come from the file
  Trainer<float> tr(*resumed, lc, oc, 1234);
  load_checkpoint(path, tr);
  BOOST_CHECK_EQUAL(tr.step(), n);
  for (int s = n; s < 2 * n; ++s) tr.train_step(subject(s), X[s % 4], T[s % 4]);

  const auto a = snapshot(*full, true), b = snapshot(*resumed, true);
  BOOST_REQUIRE_EQUAL(a.size(), b.size());
  BOOST_CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
  for (const Param<float>* p : full->params()) BOOST_CHECK_EQUAL(p->steps, resumed->param(p->name).steps);

  // Refusals: another architecture, another artifact kind.
  EncoderConfig wide = t.cfg;
  wide.latent = 17;
  Encoder<float> other(wide, 1);
  other.add_subject("sub-01", 30);
  other.add_subject("sub-02", 30);
  Trainer<float> to(other, lc, oc, 1);
  test::check_error([&] { load_checkpoint(path, to); }, ExitCode::input, {"latent", "17"});
  {
    h5::ArtifactWriter w(dir.file("other.h5"), "samples", 1, prov, false);
    w.write("x", std::vector<double>{1.0});
    w.commit();
  }
  test::check_error([&] { load_checkpoint(dir.file("other.h5"), tr); }, ExitCode::input,
                    {"samples", "encoder_checkpoint"});
}

BOOST_AUTO_TEST_CASE(frozen_backbone_trains_only_the_adapter) {
  Tiny t(16, 2, 0.1, 8);
  Encoder<float> enc(t.cfg, 1);
  enc.add_subject("s1", 40, {}, 2);
  BOOST_CHECK_EQUAL(enc.set_trainable("", false), 17);
  BOOST_CHECK_EQUAL(enc.set_trainable("adapter/", true), 2);
  std::map<std::string, Mat<float>> before;
  for (const Param<float>* p : enc.params()) before[p->name] = p->value;
  LossConfig lc;
  lc.w_clip = 1;
  lc.w_mse = 1;
  AdamWConfig oc;
  oc.lr = 1e-2;
  Trainer<float> tr(enc, lc, oc, 3);
  Rng rng(8);
  for (int s = 0; s < 3; ++s) tr.train_step("s1", random_matrix<float>(6, 40, rng), random_matrix<float>(6, 8, rng));
  for (const Param<float>* p : enc.params()) {
    const bool adapter = p->name.rfind("adapter/", 0) == 0;
    const bool same = (p->value.array() == before[p->name].array()).all();
    BOOST_CHECK_MESSAGE(same != adapter, p->name << (adapter ? " did not change" : " changed while frozen"));
    if (!adapter) {
      BOOST_CHECK_MESSAGE(p->grad.size() == 0 && p->m.size() == 0 && p->v.size() == 0,
                          p->name << " holds a gradient or optimiser state while frozen");
      BOOST_CHECK_EQUAL(p->steps, 0);
    } else {
      BOOST_CHECK_EQUAL(p->steps, 3);
    }
  }
}

// Every product, sum and update is cut into fixed blocks or tiles (trainer.h): the weights after
// training with 1 and with 2 threads are bitwise the same.
BOOST_AUTO_TEST_CASE(weights_do_not_depend_on_the_thread_count) {
  LossConfig lc;
  lc.w_clip = 1;
  lc.w_mse = 1;
  AdamWConfig oc;
  oc.lr = 1e-3;
  oc.total_steps = 4;
  oc.clip_norm = 0.05;  // clipping on: the gradient norm's every bit reaches the weights
  // Latent 64: three adapter blocks of 2048 rows; latent 1024: three of the minimum 256 rows, and
  // a batch of 128, so the [128 x 1024] GELU, LayerNorm and bias passes run on both threads too.
  struct Shape {
    int latent;
    int64_t voxels, batch;
  };
  for (const Shape& shape : {Shape{64, 5000, 32}, Shape{1024, 600, 128}}) {
    const auto [latent, voxels, batch] = shape;
    if (latent == 1024) BOOST_REQUIRE(batch * latent >= kParallelMin);  // the parallel row passes are reached
    const Tiny t(latent, 2, 0.1, 16);
    for (AdapterNorm how : {AdapterNorm::blocks, AdapterNorm::gram}) {
      std::vector<std::vector<float>> w;
      for (int threads : {1, 2}) {
        Threads pin(threads);
        Encoder<float> enc(t.cfg, 1);
        enc.add_subject("s1", voxels, {}, 2);
        Trainer<float> tr(enc, lc, oc, 3);
        tr.set_adapter_norm(how);
        Rng rng(8);
        for (int s = 0; s < 4; ++s)
          tr.train_step("s1", random_matrix<float>(batch, voxels, rng), random_matrix<float>(batch, 16, rng));
        w.push_back(snapshot(enc));
      }
      double num = 0, den = 0;
      for (size_t i = 0; i < w[0].size(); ++i) {
        num += double(w[0][i] - w[1][i]) * double(w[0][i] - w[1][i]);
        den += double(w[0][i]) * double(w[0][i]);
      }
      const char* name = how == AdapterNorm::gram ? "gram" : "blocks";
      BOOST_TEST_MESSAGE("latent " << latent << ", 1 vs 2 threads (" << name << "): relative weight difference "
                                   << std::sqrt(num / den));
      BOOST_CHECK_MESSAGE(w[0] == w[1],
                          "latent " << latent << ", adapter norm " << name << ": weights differ between 1 and 2 threads");
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_shapes_and_configs_are_reported) {
  Tiny t(8, 1, 0.1, 4);
  Encoder<float> enc(t.cfg, 1);
  enc.add_subject("s1", 10);
  Rng rng(1);
  const Mat<float> X = random_matrix<float>(3, 9, rng);
  test::check_error([&] { enc.forward("s1", X, false, nullptr); }, ExitCode::input, {"s1", "10 voxels", "9 columns"});
  test::check_error([&] { enc.forward("s9", X, false, nullptr); }, ExitCode::input, {"s9"});
  test::check_error([&] { enc.add_subject("s1", 10); }, ExitCode::usage, {"s1", "twice"});
  AdapterInit<float> init;
  init.W = random_matrix<float>(10, 8, rng);
  init.b = random_matrix<float>(1, 8, rng);
  enc.add_subject("ridge", 10, init);
  BOOST_CHECK((enc.param("adapter/ridge/W").value.array() == init.W.array()).all());
  BOOST_CHECK((enc.param("adapter/ridge/b").value.array() == init.b.array()).all());
  init.W = Mat<float>::Zero(10, 7);
  test::check_error([&] { enc.add_subject("s2", 10, init); }, ExitCode::input, {"10 x 7", "10 x 8"});
  EncoderConfig bad = t.cfg;
  bad.dropout = 1.0;
  test::check_error([&] { bad.validate(); }, ExitCode::usage, {"encoder.dropout", "[0, 1)"});
  LossConfig none;
  none.w_clip = 0;
  none.w_mse = 0;
  test::check_error([&] { none.validate(); }, ExitCode::usage, {"every weight is 0"});
}

BOOST_AUTO_TEST_SUITE_END()
