// The contrastive losses with repeated stimuli in a batch: identical targets are never negatives
// of each other's predictions (an exact small example, and the gradient by finite differences).
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "pipeline/core/rng.h"
#include "pipeline/models/encoder/losses.h"

using namespace v2c;
using namespace v2c::encoder;
using linalg::Mat;

namespace {

// Targets: rows 0 and 1 the same vector t, row 2 another u. Prediction 1 lies closer to t than
// prediction 0, so treating copy 1 as a negative of target 0 would push prediction 1 away from t.
struct Batch {
  Mat<double> P{3, 3}, T{3, 3};
  Batch() {
    T << 1, 0, 0, 1, 0, 0, 0, 1, 0;
    P << 0.6, 0.5, 0.2, 0.95, 0.1, 0.0, 0.1, 0.9, 0.3;
  }
};

double cosine(const Mat<double>& a, int64_t i, const Mat<double>& b, int64_t j) {
  return a.row(i).dot(b.row(j)) / (a.row(i).norm() * b.row(j).norm());
}

LossConfig only(double clip, double siglip) {
  LossConfig c;
  c.w_clip = clip;
  c.w_siglip = siglip;
  c.w_mse = 0;
  c.w_cos = 0;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(encoder_losses)

BOOST_AUTO_TEST_CASE(clip_loss_masks_the_other_copies_of_a_target) {
  const Batch b;
  LossScalars<double> sc;
  sc.logit_scale = std::log(5.0);
  const LossParts parts = loss_and_grad<double>(only(1, 0), b.P, b.T, {}, {}, sc, nullptr, nullptr);
  // By hand: l(i, j) = 5 cos(P_i, T_j). Rows: prediction 0 over targets {0, 2} (copy 1 masked),
  // prediction 1 over {1, 2}, prediction 2 over {0, 1, 2}. Columns: target 0 over predictions
  // {0, 2}, target 1 over {1, 2}, target 2 over {0, 1, 2}. Loss = (rows + columns) / (2 B).
  auto l = [&](int64_t i, int64_t j) { return 5.0 * cosine(b.P, i, b.T, j); };
  auto nll = [](double pos, std::initializer_list<double> all) {
    double s = 0;
    for (double x : all) s += std::exp(x);
    return -(pos - std::log(s));
  };
  const double rows =
      nll(l(0, 0), {l(0, 0), l(0, 2)}) + nll(l(1, 1), {l(1, 1), l(1, 2)}) + nll(l(2, 2), {l(2, 0), l(2, 1), l(2, 2)});
  const double cols =
      nll(l(0, 0), {l(0, 0), l(2, 0)}) + nll(l(1, 1), {l(1, 1), l(2, 1)}) + nll(l(2, 2), {l(0, 2), l(1, 2), l(2, 2)});
  BOOST_CHECK_CLOSE_FRACTION(parts.clip, (rows + cols) / 6.0, 1e-12);
}

BOOST_AUTO_TEST_CASE(siglip_labels_copies_of_a_target_positive) {
  const Batch b;
  LossScalars<double> sc;
  sc.siglip_t = std::log(4.0);
  sc.siglip_b = -1.0;
  const LossParts parts = loss_and_grad<double>(only(0, 1), b.P, b.T, {}, {}, sc, nullptr, nullptr);
  double expected = 0;
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) {
      const double z = 4.0 * cosine(b.P, i, b.T, j) - 1.0;
      const bool positive = i == j || (i < 2 && j < 2);  // pairs (0, 1) and (1, 0) share the target
      expected -= positive ? -std::log1p(std::exp(-z)) : -std::log1p(std::exp(z));
    }
  BOOST_CHECK_CLOSE_FRACTION(parts.siglip, expected / 3.0, 1e-12);
}

// Equal values are equal targets whatever their sign bit: a copy with -0 where the other has +0
// is masked like an exact copy.
BOOST_AUTO_TEST_CASE(a_target_with_negative_zeros_is_a_copy) {
  const Batch b;
  Batch signed_zero;
  signed_zero.T(1, 1) = -0.0;
  signed_zero.T(1, 2) = -0.0;
  LossScalars<double> sc;
  sc.logit_scale = std::log(5.0);
  const double plain = loss_and_grad<double>(only(1, 0), b.P, b.T, {}, {}, sc, nullptr, nullptr).clip;
  BOOST_CHECK_EQUAL(loss_and_grad<double>(only(1, 0), signed_zero.P, signed_zero.T, {}, {}, sc, nullptr, nullptr).clip,
                    plain);
}

BOOST_AUTO_TEST_CASE(gradients_with_repeated_targets_match_finite_differences) {
  const Batch b;
  LossScalars<double> sc;
  sc.logit_scale = std::log(5.0);
  sc.siglip_t = std::log(4.0);
  sc.siglip_b = -1.0;
  const LossConfig cfg = only(1.0, 0.7);
  Mat<double> dP;
  LossScalars<double> dsc;
  loss_and_grad<double>(cfg, b.P, b.T, {}, {}, sc, &dP, &dsc);
  Mat<double> numeric(3, 3);
  for (int64_t k = 0; k < 9; ++k) {
    Mat<double> P = b.P;
    const double h = 1e-6;
    P.data()[k] += h;
    const double fp = loss_and_grad<double>(cfg, P, b.T, {}, {}, sc, nullptr, nullptr).total;
    P.data()[k] -= 2 * h;
    const double fm = loss_and_grad<double>(cfg, P, b.T, {}, {}, sc, nullptr, nullptr).total;
    numeric.data()[k] = (fp - fm) / (2 * h);
  }
  BOOST_CHECK_SMALL((dP - numeric).norm() / numeric.norm(), 1e-6);
  // Prediction 1, already closest to t, is pulled towards t by clip, not pushed away: the loss
  // decreases along t's direction orthogonal to P_1.
  const Mat<double> P1 = b.P.row(1);
  Mat<double> t_perp = b.T.row(1) - (b.T.row(1).dot(P1.row(0)) / P1.squaredNorm()) * P1;
  Mat<double> dclip;
  loss_and_grad<double>(only(1, 0), b.P, b.T, {}, {}, sc, &dclip, nullptr);
  BOOST_CHECK_LT(dclip.row(1).dot(t_perp.row(0)), 0.0);
}

// A workspace reused across calls of other shapes and contents (as the trainer's, step after step)
// gives bitwise the loss, dloss/dP and scalar gradients of a call without one.
BOOST_AUTO_TEST_CASE(a_reused_workspace_changes_nothing) {
  rng::TrainingRng rng(7);
  const auto random = [&](int64_t r, int64_t c) {
    Mat<float> m(r, c);
    for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = float(rng.normal());
    return m;
  };
  LossConfig cfg;
  cfg.w_clip = 1;
  cfg.w_siglip = 0.5;
  cfg.w_mse = 1;
  cfg.w_cos = 0.25;
  const LossScalars<float> sc{2.0f, 2.3f, -10.0f};
  LossWorkspace<float> ws;
  for (const int64_t B : {9, 5, 12, 12}) {
    const Mat<float> P = random(B, 6), T = random(B, 6);
    Mat<float> dP_fresh, dP_reused;
    LossScalars<float> ds_fresh, ds_reused;
    const LossParts fresh = loss_and_grad<float>(cfg, P, T, {}, {}, sc, &dP_fresh, &ds_fresh);
    const LossParts reused = loss_and_grad<float>(cfg, P, T, {}, {}, sc, &dP_reused, &ds_reused, &ws);
    BOOST_CHECK_EQUAL(fresh.total, reused.total);
    BOOST_CHECK_EQUAL(fresh.clip, reused.clip);
    BOOST_CHECK_EQUAL(fresh.siglip, reused.siglip);
    BOOST_CHECK(dP_fresh == dP_reused);
    BOOST_CHECK_EQUAL(ds_fresh.logit_scale, ds_reused.logit_scale);
    BOOST_CHECK_EQUAL(ds_fresh.siglip_t, ds_reused.siglip_t);
    BOOST_CHECK_EQUAL(ds_fresh.siglip_b, ds_reused.siglip_b);
  }
}

BOOST_AUTO_TEST_SUITE_END()
