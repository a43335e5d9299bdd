// Tests of the self-supervised kernels (pipeline/models/ssl): central finite-difference gradients
// (double) of every layer and objective, that the temporal model uses context (and causality holds),
// that masked entries cannot leak, thread-count independence, training on a planted dynamic
// against the baselines, and the baselines themselves (planted AR(1), brute-force oracle).
#include <omp.h>

#include <Eigen/Cholesky>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <functional>

#include "pipeline/models/encoder/adamw.h"
#include "pipeline/models/encoder/ssl/ar1_start.h"
#include "pipeline/models/encoder/ssl/baselines.h"
#include "pipeline/models/encoder/ssl/joint.h"
#include "pipeline/models/encoder/ssl/masked.h"
#include "pipeline/models/encoder/ssl/next_step.h"
#include "tests/test_util.h"

extern "C" void openblas_set_num_threads(int num_threads);

using namespace v2c;
using namespace v2c::encoder;
using namespace v2c::encoder::ssl;

namespace {

template <class S>
Mat<S> random_matrix(int64_t rows, int64_t cols, Rng& rng, double scale = 1.0) {
  Mat<S> m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = S(scale * rng.normal());
  return m;
}

// Relative error a tensor's analytic gradient may have against central differences (double,
// step 1e-6·max(1, |x|): truncation ~1e-12, rounding ~1e-10 relative).
constexpr double kGradTol = 1e-6;

// Worst relative error seen by the gradient checks of one test, reported at its end.
struct Worst {
  std::string what;
  double rel = 0;
  void see(const std::string& w, double r) {
    if (r >= rel) rel = r, what = w;
  }
};

// Central differences of f() with respect to every element of `value`, against `analytic`.
// Returns the tensor's relative error ‖analytic - numeric‖ / max(‖analytic‖, ‖numeric‖).
double fd_check(const std::string& label, Mat<double>& value, const Mat<double>& analytic,
                const std::function<double()>& f, Worst& worst) {
  BOOST_REQUIRE_EQUAL(analytic.rows(), value.rows());
  BOOST_REQUIRE_EQUAL(analytic.cols(), value.cols());
  Mat<double> numeric(value.rows(), value.cols());
  for (int64_t k = 0; k < value.size(); ++k) {
    const double orig = value.data()[k], h = 1e-6 * std::max(1.0, std::abs(orig));
    value.data()[k] = orig + h;
    const double fp = f();
    value.data()[k] = orig - h;
    const double fm = f();
    value.data()[k] = orig;
    numeric.data()[k] = (fp - fm) / (2 * h);
  }
  const double denom = std::max({analytic.norm(), numeric.norm(), 1e-12});
  const double rel = (analytic - numeric).norm() / denom;
  BOOST_CHECK_MESSAGE(rel <= kGradTol, label << ": relative error " << rel << " (|analytic| " << analytic.norm()
                                             << ", |numeric| " << numeric.norm() << ")");
  BOOST_CHECK_MESSAGE(numeric.norm() > 1e-8, label << ": gradient is zero; the check would prove nothing");
  worst.see(label, rel);
  return rel;
}

// Checks every parameter of `ps` that received a gradient from `with_grad` (after zero_grad), by
// central differences of `loss`; returns how many tensors were checked.
int check_params(const std::string& label, ParamSet<double>& ps, const std::function<void()>& with_grad,
                 const std::function<double()>& loss, Worst& worst) {
  ps.zero_grad();
  with_grad();
  int checked = 0;
  for (Param<double>* p : ps.all()) {
    if (p->grad.size() == 0) continue;
    const Mat<double> analytic = p->grad;
    fd_check(label + " " + p->name, p->value, analytic, loss, worst);
    ++checked;
  }
  return checked;
}

// Gives LayerNorm gains/biases non-trivial values (so their gradients are exercised).
void perturb_layer_norms(ParamSet<double>& ps, Rng& rng) {
  for (Param<double>* p : ps.all())
    if (p->name.find("/ln") != std::string::npos) p->value += random_matrix<double>(1, p->value.cols(), rng, 0.3);
}

double weighted_sum(const Mat<double>& out, const Mat<double>& R) { return (out.array() * R.array()).sum(); }

TemporalConfig small_temporal(int layers, int heads, int max_len) {
  TemporalConfig tc;
  tc.n_layers = layers;
  tc.n_heads = heads;
  tc.ff_mult = 2;
  tc.max_len = max_len;
  return tc;
}

// Pins OpenMP and OpenBLAS thread counts for the scope.
struct Threads {
  int saved;
  Threads(int omp, int blas) : saved(omp_get_max_threads()) {
    omp_set_num_threads(omp);
    openblas_set_num_threads(blas);
  }
  ~Threads() {
    omp_set_num_threads(saved);
    openblas_set_num_threads(saved);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(ssl)

BOOST_AUTO_TEST_CASE(layer_norm_linear_and_gelu_gradients_match_finite_differences) {
  Rng rng(1);
  ParamSet<double> ps("test");
  LayerNorm<double> ln;
  Linear<double> lin;
  ln.create(ps, "block/ln", 6);
  lin.create(ps, "block/lin", 6, 4, rng);
  perturb_layer_norms(ps, rng);
  Mat<double> X = random_matrix<double>(5, 6, rng, 1.5);
  const Mat<double> R = random_matrix<double>(5, 4, rng);
  // f(X) = Σ R ∘ Linear(GELU(LN(X)))
  Mat<double> y, g, out;
  auto loss = [&] {
    ln.forward(X, y);
    gelu_forward(y, g);
    lin.forward(g, out);
    return weighted_sum(out, R);
  };
  Mat<double> dX;
  auto grads = [&] {
    loss();
    Mat<double> dg, dy;
    lin.backward(R, &dg);
    gelu_backward(y, dg, dy);
    ln.backward(dy, dX);
  };
  Worst worst;
  BOOST_CHECK_EQUAL(check_params("ln+gelu+linear", ps, grads, loss, worst), 4);
  fd_check("ln+gelu+linear input", X, dX, loss, worst);
  BOOST_TEST_MESSAGE("layers: worst relative error " << worst.rel << " (" << worst.what << ")");
}

BOOST_AUTO_TEST_CASE(attention_gradients_match_finite_differences_causal_and_bidirectional) {
  Worst worst;
  for (bool causal : {false, true}) {
    Rng rng(2);
    ParamSet<double> ps("test");
    SelfAttention<double> attn;
    attn.create(ps, "attn", 8, 2, rng);
    const int64_t N = 3, T = 5;
    Mat<double> Y = random_matrix<double>(N * T, 8, rng);
    const Mat<double> R = random_matrix<double>(N * T, 8, rng);
    Mat<double> out, dY;
    auto loss = [&] {
      attn.forward(Y, N, T, causal, out);
      return weighted_sum(out, R);
    };
    auto grads = [&] {
      loss();
      attn.backward(R, dY);
    };
    const std::string label = causal ? "causal attention" : "bidirectional attention";
    BOOST_CHECK_EQUAL(check_params(label, ps, grads, loss, worst), 4);
    grads();
    const Mat<double> analytic = dY;
    fd_check(label + " input", Y, analytic, loss, worst);
  }
  BOOST_TEST_MESSAGE("attention: worst relative error " << worst.rel << " (" << worst.what << ")");
}

BOOST_AUTO_TEST_CASE(temporal_model_gradients_match_finite_differences) {
  Worst worst;
  for (bool causal : {false, true}) {
    Rng rng(3);
    ParamSet<double> ps("test");
    TemporalModel<double> tm(ps, "temporal", 8, small_temporal(2, 2, 7), rng);
    perturb_layer_norms(ps, rng);
    const int64_t N = 2, T = 5;  // T < max_len: the unused positions get no gradient
    Mat<double> H = random_matrix<double>(N * T, 8, rng);
    const Mat<double> R = random_matrix<double>(N * T, 8, rng);
    Mat<double> dH;
    auto loss = [&] { return weighted_sum(tm.forward(H, N, T, causal), R); };
    auto grads = [&] {
      loss();
      tm.backward(R, dH);
    };
    const std::string label = causal ? "causal temporal" : "bidirectional temporal";
    // pos + 2 x (ln1 g,b + qkv W,b + out W,b + ln2 g,b + fc1 W,b + fc2 W,b) + ln_f g,b
    BOOST_CHECK_EQUAL(check_params(label, ps, grads, loss, worst), 1 + 2 * 12 + 2);
    BOOST_CHECK(ps.get("temporal/pos").grad.bottomRows(2).isZero(0));
    grads();
    const Mat<double> analytic = dH;
    fd_check(label + " input", H, analytic, loss, worst);
  }
  BOOST_TEST_MESSAGE("temporal model: worst relative error " << worst.rel << " (" << worst.what << ")");
}

BOOST_AUTO_TEST_CASE(masked_prediction_gradients_match_finite_differences) {
  Worst worst;
  for (MaskKind kind : {MaskKind::time, MaskKind::voxel}) {
    SslConfig cfg;
    cfg.temporal = small_temporal(1, 2, 6);
    cfg.mask_token_std = 0.5;
    SslModel<double> model(8, cfg, 4);
    model.add_subject("s1", 9, 5);
    model.add_subject("s2", 4, 6);  // another subject: its adapter and read-out get no gradient
    Rng rng(7);
    perturb_layer_norms(model.params(), rng);
    const int64_t N = 3, T = 6;
    const Mat<double> X = random_matrix<double>(N * T, 9, rng);
    MaskConfig mc;
    mc.kind = kind;
    mc.ratio = 0.4;
    const Mask mask = draw_mask(mc, N, T, 9, rng);
    auto loss = [&] { return masked_prediction(model, "s1", X, N, T, mask, false).loss; };
    auto grads = [&] { masked_prediction(model, "s1", X, N, T, mask, true); };
    const std::string label = cat("masked (", mask_kind_name(kind), ")");
    // temporal: pos + 12 + ln_f 2; s1 adapter W, b + read-out W, b; the mask token when hiding time
    const int expected = 15 + 4 + (kind == MaskKind::time ? 1 : 0);
    BOOST_CHECK_EQUAL(check_params(label, model.params(), grads, loss, worst), expected);
    BOOST_CHECK(model.params().get("adapter/s2/W").grad.size() == 0);
    BOOST_CHECK_EQUAL(model.mask_token().grad.size() > 0, kind == MaskKind::time);
  }
  BOOST_TEST_MESSAGE("masked prediction: worst relative error " << worst.rel << " (" << worst.what << ")");
}

BOOST_AUTO_TEST_CASE(next_step_gradients_match_finite_differences) {
  Worst worst;
  for (int variant = 0; variant < 4; ++variant) {
    NextStepConfig nc;
    nc.all_positions = variant & 1;
    nc.residual = variant & 2;
    SslConfig cfg;
    cfg.temporal = small_temporal(2, 2, 5);
    SslModel<double> model(8, cfg, 8);
    model.add_subject("s1", 7, 9);
    Rng rng(10);
    perturb_layer_norms(model.params(), rng);
    const int64_t N = 3, T = 5;
    const Mat<double> Xw = random_matrix<double>(N * (T + 1), 7, rng);
    auto loss = [&] { return next_step_prediction(model, "s1", Xw, N, T, nc, false).loss; };
    auto grads = [&] { next_step_prediction(model, "s1", Xw, N, T, nc, true); };
    const std::string label =
        cat("next step (", nc.all_positions ? "all positions" : "last position", nc.residual ? ", residual" : "", ")");
    // temporal: pos + 2 x 12 + ln_f 2; adapter W, b; read-out W, b; residual: the skip weights
    // (perturbed from their start at ones); the mask token is not used
    model.skip("s1").value += random_matrix<double>(1, 7, rng, 0.3);
    BOOST_CHECK_EQUAL(check_params(label, model.params(), grads, loss, worst), 27 + 4 + (nc.residual ? 1 : 0));
    BOOST_CHECK(model.mask_token().grad.size() == 0);
  }
  BOOST_TEST_MESSAGE("next-time-point prediction: worst relative error " << worst.rel << " (" << worst.what << ")");
}

BOOST_AUTO_TEST_CASE(gradients_accumulate_across_objectives) {
  SslConfig cfg;
  cfg.temporal = small_temporal(1, 2, 6);
  SslModel<double> model(8, cfg, 11);
  model.add_subject("s1", 5, 12);
  Rng rng(13);
  const Mat<double> X = random_matrix<double>(2 * 6, 5, rng), Xw = random_matrix<double>(2 * 6, 5, rng);
  MaskConfig mc;
  const Mask mask = draw_mask(mc, 2, 6, 5, rng);
  auto grad_of = [&](bool masked, bool next) {
    model.params().zero_grad();
    if (masked) masked_prediction(model, "s1", X, 2, 6, mask, true);
    if (next) next_step_prediction(model, "s1", Xw, 2, 5, NextStepConfig{}, true);
    return model.params().get("temporal/layer0/attn/qkv/W").grad;
  };
  const Mat<double> a = grad_of(true, false), b = grad_of(false, true), both = grad_of(true, true);
  BOOST_CHECK_SMALL((both - a - b).norm() / both.norm(), 1e-12);
}

// The joint loss (ssl/joint.h): L_sup + w_n·L_next + w_m·L_masked with the adapter shared. Every
// parameter either model reaches, by central differences of the whole loss; the shared adapter's
// gradient must hold both parts (each alone is checked to be non-zero and to differ from the sum).
BOOST_AUTO_TEST_CASE(joint_loss_gradients_match_finite_differences) {
  Worst worst;
  for (MaskKind kind : {MaskKind::time, MaskKind::voxel}) {
    EncoderConfig ec;
    ec.latent = 8;
    ec.n_blocks = 1;
    ec.dropout = 0;
    ec.clip_dim = 5;
    Encoder<double> enc(ec, 21);
    enc.add_subject("s1", 6, {}, 22);
    LossConfig lc;
    lc.w_clip = 1, lc.w_siglip = 0.5, lc.w_mse = 1, lc.w_cos = 0.3;
    Trainer<double> tr(enc, lc, AdamWConfig{}, 23);
    SslConfig sc;
    sc.temporal = small_temporal(1, 2, 6);
    SslModel<double> ssl(8, sc, 24);
    ssl.add_subject("s1", 6, 25);
    Rng rng(26);
    perturb_layer_norms(ssl.params(), rng);
    ssl.skip("s1").value += random_matrix<double>(1, 6, rng, 0.3);
    SslTrainConfig cfg;
    cfg.model = sc;
    cfg.window = 4;
    cfg.w_next_step = 0.7;
    cfg.w_masked = 0.4;
    cfg.mask.kind = kind;
    cfg.mask.ratio = 0.3;
    const Mat<double> X = random_matrix<double>(4, 6, rng), T = random_matrix<double>(4, 5, rng);
    SslBatch<double> w;
    w.N = 2;
    w.next = random_matrix<double>(2 * 5, 6, rng);
    w.masked = random_matrix<double>(2 * 4, 6, rng);
    w.mask = draw_mask(cfg.mask, 2, 4, 6, rng);
    auto loss = [&] { return joint_loss(tr, ssl, "s1", X, T, w, cfg, false).total; };
    joint_loss(tr, ssl, "s1", X, T, w, cfg, true);
    const std::string label = cat("joint (", mask_kind_name(kind), ")");
    int checked = 0;
    for (Param<double>* p : enc.params()) {
      BOOST_REQUIRE_MESSAGE(p->grad.size() > 0, p->name << " has no gradient");
      const Mat<double> analytic = p->grad;
      fd_check(label + " encoder " + p->name, p->value, analytic, loss, worst);
      ++checked;
    }
    BOOST_CHECK_EQUAL(checked, 4 + 2 + 2 + 3 + 2);  // block, ln_f + head, loss scalars, adapter
    for (Param<double>* p : ssl.params().all()) {
      if (p->grad.size() == 0) continue;
      const Mat<double> analytic = p->grad;
      fd_check(label + " ssl " + p->name, p->value, analytic, loss, worst);
      ++checked;
    }
    // temporal: pos + 12 + ln_f 2; read-out W, b, skip; mask token when time points are hidden
    BOOST_CHECK_EQUAL(checked, 13 + 15 + 3 + (kind == MaskKind::time ? 1 : 0));
    BOOST_CHECK_EQUAL(ssl.adapter("s1").W->grad.size(), 0);  // the copy: its gradient went to the encoder
    // The shared adapter's gradient is the sum of both parts, each of them non-zero.
    const Mat<double> both = enc.param("adapter/s1/W").grad;
    tr.loss("s1", X, T, true);
    const Mat<double> supervised = enc.param("adapter/s1/W").grad;
    BOOST_CHECK_GT(supervised.norm(), 1e-6);
    BOOST_CHECK_GT((both - supervised).norm(), 1e-6 * both.norm());
  }
  BOOST_TEST_MESSAGE("joint loss: worst relative error " << worst.rel << " (" << worst.what << ")");
}

BOOST_AUTO_TEST_CASE(temporal_model_uses_context_and_causal_mode_never_looks_ahead) {
  Rng rng(14);
  ParamSet<double> ps("test");
  TemporalModel<double> tm(ps, "temporal", 8, small_temporal(2, 2, 6), rng);
  const int64_t N = 2, T = 6;
  const Mat<double> H = random_matrix<double>(N * T, 8, rng);
  for (bool causal : {false, true}) {
    const Mat<double> Z = tm.forward(H, N, T, causal);
    for (int64_t s = 0; s < T; ++s) {
      Mat<double> H2 = H;
      H2.row(s) += random_matrix<double>(1, 8, rng).row(0);  // time s of window 0
      const Mat<double> Z2 = tm.forward(H2, N, T, causal);
      for (int64_t t = 0; t < T; ++t) {
        const double change = (Z2.row(t) - Z.row(t)).norm();
        if (causal && s > t)
          BOOST_CHECK_MESSAGE(change == 0.0, "causal: output " << t << " moved when input " << s << " changed");
        else
          BOOST_CHECK_MESSAGE(change > 1e-6, (causal ? "causal" : "bidirectional")
                                                 << ": output " << t << " ignores input " << s);
      }
      BOOST_CHECK_MESSAGE((Z2.bottomRows(T) - Z.bottomRows(T)).norm() == 0.0, "window 1 saw window 0");
    }
    // attention weights: rows sum to 1, nothing above the diagonal when causal
    const Mat<double>& P = tm.attention(0).weights();
    BOOST_REQUIRE_EQUAL(P.rows(), N * 2 * T);
    for (int64_t r = 0; r < P.rows(); ++r) {
      BOOST_CHECK_CLOSE_FRACTION(P.row(r).sum(), 1.0, 1e-12);
      if (causal) BOOST_CHECK(P.row(r).tail(T - 1 - r % T).isZero(0));
    }
  }
}

BOOST_AUTO_TEST_CASE(masks_hide_exactly_k_per_window_and_are_reproducible) {
  MaskConfig mc;
  mc.ratio = 0.3;
  Rng a(5), b(5);
  const Mask m1 = draw_mask(mc, 7, 10, 50, a), m2 = draw_mask(mc, 7, 10, 50, b), m3 = draw_mask(mc, 7, 10, 50, a);
  BOOST_CHECK(m1.hidden == m2.hidden);
  BOOST_CHECK(m1.hidden != m3.hidden);
  for (int64_t n = 0; n < 7; ++n) {
    int k = 0;
    for (int64_t t = 0; t < 10; ++t) k += m1.time_hidden(n, t);
    BOOST_CHECK_EQUAL(k, 3);
  }
  mc.kind = MaskKind::voxel;
  const Mask mv = draw_mask(mc, 4, 10, 50, a);
  for (int64_t n = 0; n < 4; ++n) {
    int k = 0;
    for (int64_t v = 0; v < 50; ++v) k += mv.voxel_hidden(n, v);
    BOOST_CHECK_EQUAL(k, 15);
  }
  mc.ratio = 0.99;  // clamped: one time point stays visible
  const Mask m4 = draw_mask(mc, 1, 4, 3, a);
  int k = 0;
  for (int64_t v = 0; v < 3; ++v) k += m4.voxel_hidden(0, v);
  BOOST_CHECK_EQUAL(k, 2);
  mc.ratio = 1.0;
  test::check_error([&] { mc.validate(); }, ExitCode::usage, {"ratio = 1", "(0, 1)"});
  test::check_error([] { parse_mask_kind("space"); }, ExitCode::usage, {"'space'", "time or voxel"});
}

BOOST_AUTO_TEST_CASE(hidden_values_cannot_leak_into_their_reconstruction) {
  for (MaskKind kind : {MaskKind::time, MaskKind::voxel}) {
    SslConfig cfg;
    cfg.temporal = small_temporal(2, 2, 8);
    SslModel<double> model(8, cfg, 15);
    model.add_subject("s1", 6, 16);
    Rng rng(17);
    const int64_t N = 2, T = 8;
    const Mat<double> X = random_matrix<double>(N * T, 6, rng);
    MaskConfig mc;
    mc.kind = kind;
    const Mask mask = draw_mask(mc, N, T, 6, rng);
    Mat<double> rec, rec2, X2 = X;
    const SslLoss l1 = masked_prediction(model, "s1", X, N, T, mask, false, &rec);
    int64_t hidden = 0;
    for (int64_t i = 0; i < N * T; ++i)
      for (int64_t v = 0; v < 6; ++v) {
        const bool h = kind == MaskKind::time ? mask.time_hidden(i / T, i % T) : mask.voxel_hidden(i / T, v);
        if (h) X2(i, v) += 10.0, ++hidden;
      }
    BOOST_CHECK_EQUAL(l1.n_values, hidden);
    const SslLoss l2 = masked_prediction(model, "s1", X2, N, T, mask, false, &rec2);
    for (int64_t i = 0; i < N * T; ++i)
      for (int64_t v = 0; v < 6; ++v)
        if (X2(i, v) != X(i, v))
          BOOST_CHECK_MESSAGE(rec2(i, v) == rec(i, v), mask_kind_name(kind) << " mask: reconstruction of hidden (" << i
                                                                            << ", " << v << ") saw its value");
        else
          BOOST_CHECK(rec(i, v) == X(i, v));
    BOOST_CHECK(l2.loss > l1.loss);  // the targets moved, the predictions did not
  }
}

BOOST_AUTO_TEST_CASE(next_step_prediction_cannot_see_its_target_and_residual_starts_at_persistence) {
  SslConfig cfg;
  cfg.temporal = small_temporal(1, 2, 4);
  SslModel<double> model(8, cfg, 18);
  model.add_subject("s1", 5, 19);
  Rng rng(20);
  const int64_t N = 3, T = 4;
  Mat<double> Xw = random_matrix<double>(N * (T + 1), 5, rng), pred, pred2;
  NextStepConfig nc;
  nc.all_positions = true;
  next_step_prediction(model, "s1", Xw, N, T, nc, false, &pred);
  Mat<double> Xw2 = Xw;
  for (int64_t n = 0; n < N; ++n) Xw2.row(n * (T + 1) + T).setConstant(7.0);
  next_step_prediction(model, "s1", Xw2, N, T, nc, false, &pred2);
  BOOST_CHECK(pred == pred2);
  // residual with a zero read-out predicts the last context volume: persistence
  model.readout("s1").W->value.setZero();
  model.readout("s1").b->value.setZero();
  nc.residual = true;
  next_step_prediction(model, "s1", Xw, N, T, nc, false, &pred);
  for (int64_t n = 0; n < N; ++n) BOOST_CHECK(pred.row(n) == Xw.row(n * (T + 1) + T - 1));
  test::check_error([&] { next_step_prediction(model, "s1", Mat<double>(Xw.topRows(7)), N, T, nc, false); },
                    ExitCode::input, {"'s1'", "7 x 5", "expected 15 x 5"});
  test::check_error([&] { next_step_prediction(model, "s9", Xw, N, T, nc, false); }, ExitCode::input,
                    {"no subject 's9'"});
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_the_openmp_thread_count) {
  // Large enough for the attention loops to go parallel (N·heads·T²·d_k = 2^21 >= kParallelMin).
  const int64_t N = 64, T = 32, d = 32;
  Rng rng(21);
  ParamSet<float> ps("test");
  SelfAttention<float> attn;
  attn.create(ps, "attn", d, 4, rng);
  const Mat<float> Y = random_matrix<float>(N * T, d, rng), R = random_matrix<float>(N * T, d, rng);
  auto run = [&](int threads, Mat<float>& out, Mat<float>& dY, Mat<float>& gW) {
    Threads pin(threads, 1);
    ps.zero_grad();
    attn.forward(Y, N, T, true, out);
    attn.backward(R, dY);
    gW = ps.get("attn/qkv/W").grad;
  };
  Mat<float> o1, d1, g1, o2, d2, g2;
  run(1, o1, d1, g1);
  run(2, o2, d2, g2);
  BOOST_CHECK(o1 == o2);
  BOOST_CHECK(d1 == d2);
  BOOST_CHECK(g1 == g2);
}

BOOST_AUTO_TEST_CASE(trained_on_a_planted_dynamic_the_model_beats_persistence_and_ar1) {
  // A 2-D latent that rotates (period 8 volumes) and decays, seen through 12 voxels with
  // independent noise: per voxel, an AR(1) captures only the lag-1 correlation; the model can pool
  // voxels and context to track the latent's phase.
  const int64_t p = 12, run_len = 300;
  Rng rng(22);
  const Mat<float> A = random_matrix<float>(2, p, rng);
  const double rho = 0.97, theta = 2 * M_PI / 8;
  auto make_run = [&] {
    MatrixF x(run_len, p);
    double z0 = rng.normal(), z1 = rng.normal();
    for (int64_t t = 0; t < run_len; ++t) {
      const double n0 = rho * (std::cos(theta) * z0 - std::sin(theta) * z1) + 0.3 * rng.normal();
      const double n1 = rho * (std::sin(theta) * z0 + std::cos(theta) * z1) + 0.3 * rng.normal();
      z0 = n0;
      z1 = n1;
      for (int64_t v = 0; v < p; ++v) x(t, v) = float(z0 * A(0, v) + z1 * A(1, v) + 0.5 * rng.normal());
    }
    return x;
  };
  std::vector<MatrixF> train;
  for (int r = 0; r < 4; ++r) train.push_back(make_run());
  const MatrixF test_run = make_run();

  const int64_t T = 8, N = 16;
  SslConfig cfg;
  cfg.temporal = small_temporal(1, 2, T);
  SslModel<float> model(16, cfg, 23);
  model.add_subject("s1", p, 24);
  AdamWConfig oc;
  oc.lr = 3e-3;
  oc.total_steps = 600;
  oc.warmup_steps = 30;
  AdamW<float> opt(oc);
  NextStepConfig nc;
  nc.all_positions = true;
  Mat<float> batch(N * (T + 1), p);
  for (int64_t step = 0; step < oc.total_steps; ++step) {
    for (int64_t n = 0; n < N; ++n) {
      const MatrixF& run = train[size_t(rng.next() % train.size())];
      const int64_t t0 = int64_t(rng.next() % uint64_t(run_len - T));
      batch.middleRows(n * (T + 1), T + 1) = run.middleRows(t0, T + 1);
    }
    model.params().zero_grad();
    next_step_prediction(model, "s1", batch, N, T, nc, true);
    for (Param<float>* prm : model.params().all())
      if (prm->grad.size()) opt.update(*prm, opt.lr_at(step), 1.0);
  }
  // Every volume t >= T of the held-out run, predicted from the T before it.
  const int64_t n_windows = run_len - T;
  Mat<float> windows(n_windows * (T + 1), p), pred;
  for (int64_t k = 0; k < n_windows; ++k) windows.middleRows(k * (T + 1), T + 1) = test_run.middleRows(k, T + 1);
  NextStepConfig last;
  const double model_mse = next_step_prediction(model, "s1", windows, n_windows, T, last, false, &pred).loss;
  std::vector<const MatrixF*> train_ptrs;
  for (const auto& r : train) train_ptrs.push_back(&r);
  const Ar1 ar1 = fit_ar1(train_ptrs);
  const double ar1_mse = ar1_error(ar1, test_run, T).mse();
  const double persistence_mse = persistence_error(test_run, T).mse();
  BOOST_TEST_MESSAGE("planted rotation: next-step MSE model " << model_mse << ", AR(1) " << ar1_mse << ", persistence "
                                                              << persistence_mse);
  BOOST_CHECK_LT(model_mse, 0.8 * ar1_mse);
  BOOST_CHECK_LT(ar1_mse, persistence_mse);
}

BOOST_AUTO_TEST_CASE(ar1_start_predicts_what_the_ar1_baseline_predicts_before_any_step) {
  // Runs with voxel-specific AR(1) dynamics, intercepts and a shared noise source.
  const int64_t p = 9, T = 4;
  Rng rng(26);
  auto make_run = [&](int64_t n) {
    MatrixF x(n, p);
    for (int64_t v = 0; v < p; ++v) x(0, v) = float(rng.normal());
    for (int64_t t = 1; t < n; ++t) {
      const double shared = rng.normal();
      for (int64_t v = 0; v < p; ++v)
        x(t, v) = float(0.1 * double(v) * x(t - 1, v) + 0.2 * double(v) - 0.5 + 0.5 * shared + rng.normal());
    }
    return x;
  };
  const MatrixF train0 = make_run(50), train1 = make_run(40), heldout = make_run(30);
  const Ar1 fit = fit_ar1({&train0, &train1});
  // The held-out run's windows: every target t >= T, predicted from the T volumes before it.
  const int64_t N = heldout.rows() - T;
  MatrixF windows(N * (T + 1), p);
  for (int64_t k = 0; k < N; ++k) windows.middleRows(k * (T + 1), T + 1) = heldout.middleRows(k, T + 1);
  SslConfig cfg;
  cfg.temporal = small_temporal(1, 2, T);
  for (bool all_positions : {false, true}) {
    NextStepConfig nc;
    nc.residual = true;
    nc.all_positions = all_positions;
    // double: the AR(1) prediction x·a + c to 1e-12 (the temporal model's output is multiplied by
    // zeros; not bitwise: -march=x86-64-v3 lets the compiler fuse x·a + c on one side only)
    SslModel<double> model(8, cfg, 27);
    model.add_subject("s1", p, 28);
    perturb_layer_norms(model.params(), rng);
    start_at_ar1(model, "s1", fit);
    Mat<double> pred;
    next_step_prediction(model, "s1", Mat<double>(windows.cast<double>()), N, T, nc, false, &pred);
    BOOST_REQUIRE_EQUAL(pred.rows(), N);
    double worst = 0;
    for (int64_t k = 0; k < N; ++k)
      for (int64_t v = 0; v < p; ++v) {
        const double ar1 = double(heldout(k + T - 1, v)) * fit.a(v) + fit.c(v);
        worst = std::max(worst, std::abs(pred(k, v) - ar1) / std::max(1.0, std::abs(ar1)));
      }
    BOOST_CHECK_SMALL(worst, 1e-12);
    // float (the trained model's type): a and c rounded once; its error is the baseline's
    SslModel<float> model_f(8, cfg, 27);
    model_f.add_subject("s1", p, 28);
    start_at_ar1(model_f, "s1", fit);
    Mat<float> pred_f;
    next_step_prediction(model_f, "s1", Mat<float>(windows), N, T, nc, false, &pred_f);
    const MatrixF prev = heldout.middleRows(T - 1, N);
    BOOST_CHECK_SMALL((pred_f.cast<double>() - ar1_predict(fit, prev).cast<double>()).cwiseAbs().maxCoeff(), 1e-5);
  }
  SslModel<double> model(8, cfg, 27);
  model.add_subject("s1", p + 1, 28);
  test::check_error([&] { start_at_ar1(model, "s1", fit); }, ExitCode::input,
                    {"AR(1) start of 's1'", "9 voxels", "has 10"});
}

BOOST_AUTO_TEST_CASE(ar1_recovers_a_planted_process_and_matches_brute_force) {
  const VectorD a_true = (VectorD(5) << -0.3, 0.0, 0.4, 0.8, 0.95).finished();
  const VectorD c_true = (VectorD(5) << 0.5, -1.0, 0.0, 0.2, 0.1).finished();
  Rng rng(25);
  std::vector<MatrixF> runs;
  for (int r = 0; r < 3; ++r) {
    MatrixF x(2000, 5);
    for (int64_t v = 0; v < 5; ++v) {
      double prev = c_true(v) / (1 - a_true(v)) + 3.0 * r;  // a run-specific start far from the mean
      for (int64_t t = 0; t < x.rows(); ++t) {
        prev = a_true(v) * prev + c_true(v) + rng.normal();
        x(t, v) = float(prev);
      }
    }
    runs.push_back(x);
  }
  std::vector<const MatrixF*> ptrs{&runs[0], &runs[1], &runs[2]};
  const Ar1 fit = fit_ar1(ptrs);
  // 6,000 pairs: standard error of a <= 0.013, of c <= 0.03
  for (int64_t v = 0; v < 5; ++v) {
    BOOST_CHECK_SMALL(fit.a(v) - a_true(v), 0.05);
    BOOST_CHECK_SMALL(fit.c(v) - c_true(v), 0.12);
  }
  // Oracle: ordinary least squares of y on [x, 1] over the within-run pairs, by normal equations.
  for (int64_t v = 0; v < 5; ++v) {
    Eigen::Matrix2d G = Eigen::Matrix2d::Zero();
    Eigen::Vector2d b = Eigen::Vector2d::Zero();
    for (const MatrixF& x : runs)
      for (int64_t t = 1; t < x.rows(); ++t) {
        const Eigen::Vector2d row(x(t - 1, v), 1.0);
        G += row * row.transpose();
        b += row * double(x(t, v));
      }
    const Eigen::Vector2d sol = G.ldlt().solve(b);
    BOOST_CHECK_CLOSE_FRACTION(fit.a(v) + 1.0, sol(0) + 1.0, 1e-9);  // +1: a may be near 0
    BOOST_CHECK_CLOSE_FRACTION(fit.c(v) + 2.0, sol(1) + 2.0, 1e-9);
  }
  // Pairs never cross runs: one run of the three concatenated adds two false pairs and moves the fit.
  MatrixF joined(6000, 5);
  joined << runs[0], runs[1], runs[2];
  const Ar1 crossed = fit_ar1({&joined});
  BOOST_CHECK(crossed.a != fit.a);
  // Errors: persistence and AR(1) by hand on a short run
  MatrixF x(3, 5);
  x.setZero();
  x(1, 0) = 1.0f;
  x(2, 0) = 3.0f;
  BOOST_CHECK_CLOSE_FRACTION(persistence_error(x, 1).mse(), (1.0 + 4.0) / 10.0, 1e-12);
  Ar1 half{VectorD::Constant(5, 0.5), VectorD::Zero(5)};
  BOOST_CHECK_CLOSE_FRACTION(ar1_error(half, x, 2).mse(), (2.5 * 2.5) / 5.0, 1e-12);
  BOOST_CHECK((ar1_predict(half, x).row(2).cast<double>() - Eigen::RowVectorXd::Unit(5, 0) * 1.5).norm() == 0.0);
  test::check_error([] { fit_ar1({}); }, ExitCode::input, {"no training runs"});
  MatrixF one(1, 5);
  test::check_error([&] { fit_ar1({&one}); }, ExitCode::input, {"no pair of consecutive volumes"});
}

BOOST_AUTO_TEST_SUITE_END()
