// Data-parallel pretraining (pipeline/dist, Trainer::set_communicator): the fixed-order
// collectives, and training split over ranks equal to one process with the same batches. Ranks are
// threads here (tests/thread_communicator.h); tests/test_dist_mpi.cpp runs the real thing under
// mpirun.
#include <omp.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>

#include "pipeline/dist/collectives.h"
#include "pipeline/models/encoder/model.h"
#include "pipeline/models/encoder/trainer.h"
#include "tests/thread_communicator.h"

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);

using namespace v2c;
using namespace v2c::encoder;

namespace {

// One BLAS and OpenMP thread per rank for the scope (ranks are threads of this process).
struct OneThread {
  int saved_blas = openblas_get_num_threads(), saved_omp = omp_get_max_threads();
  OneThread() {
    openblas_set_num_threads(1);
    omp_set_num_threads(1);
  }
  ~OneThread() {
    openblas_set_num_threads(saved_blas);
    omp_set_num_threads(saved_omp);
  }
};

// What one run of the training below ends with.
struct Trained {
  std::vector<std::vector<double>> values, m, v;  // per parameter
  std::vector<std::string> names;
  double last_loss = 0, last_norm = 0;
};

// A small encoder whose adapter spans several blocks of the fused update (3 of 2048 rows), trained
// with every loss, MixCo and dropout on batches of uneven sizes: 7 rows (split 2/2/3 over 3
// ranks), 2 rows (a rank without rows) and 12. In double precision: the first AdamW steps turn the
// rounding of near-zero gradient elements into visible weight differences (lr·g/(|g| + eps) is
// steep near |g| = eps), which in float would hide a real error behind 1e-5; in double a wrong
// row, mask or sum shows far above the 1e-10 that rounding reaches.
Trained train(dist::Communicator* comm, AdapterNorm how) {
  using S = double;
  omp_set_num_threads(1);
  EncoderConfig ec;
  ec.latent = 64;
  ec.n_blocks = 2;
  ec.dropout = 0.2;
  ec.clip_dim = 16;
  Encoder<S> enc(ec, 11);
  enc.add_subject("s1", 5000, {}, 12);
  enc.add_subject("s2", 700, {}, 13);
  LossConfig lc;
  lc.w_clip = 1, lc.w_siglip = 0.5, lc.w_mse = 1, lc.w_cos = 0.3;
  lc.mixco = true;
  lc.mixco_fraction = 0.5;
  AdamWConfig oc;
  oc.lr = 3e-3;
  oc.warmup_steps = 2;
  oc.total_steps = 12;
  oc.clip_norm = 0.5;  // active: the norm's parts from every rank matter
  Trainer<S> tr(enc, lc, oc, 14);
  tr.set_adapter_norm(how);
  if (comm) tr.set_communicator(*comm);
  Rng data(15);
  Trained out;
  for (int step = 0; step < 12; ++step) {
    const int64_t B = step % 3 == 0 ? 7 : step % 3 == 1 ? 2 : 12;
    const std::string subject = step % 4 == 3 ? "s2" : "s1";
    Mat<S> X(B, enc.n_voxels(subject)), T(B, 16);
    for (int64_t i = 0; i < X.size(); ++i) X.data()[i] = data.normal();
    for (int64_t i = 0; i < T.size(); ++i) T.data()[i] = data.normal();
    out.last_loss = tr.train_step(subject, X, T).total;
    out.last_norm = tr.last_grad_norm();
  }
  tr.gather_optimizer_state();
  for (const Param<S>* p : enc.params()) {
    out.names.push_back(p->name);
    out.values.emplace_back(p->value.data(), p->value.data() + p->value.size());
    out.m.emplace_back(p->m.data(), p->m.data() + p->m.size());
    out.v.emplace_back(p->v.data(), p->v.data() + p->v.size());
  }
  return out;
}

double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (double(a[i]) - double(b[i])) * (double(a[i]) - double(b[i]));
    den += double(b[i]) * double(b[i]);
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(distributed)

BOOST_AUTO_TEST_CASE(even_split_covers_every_item_once) {
  for (int64_t n : {0, 1, 7, 12, 100})
    for (int parts : {1, 2, 3, 8}) {
      const dist::EvenSplit s{n, parts};
      int64_t total = 0;
      for (int k = 0; k < parts; ++k) {
        BOOST_CHECK_EQUAL(s.begin(k), total);
        BOOST_CHECK_LE(s.count(k), n / parts + 1);
        total += s.count(k);
      }
      BOOST_CHECK_EQUAL(total, n);
    }
}

// Values whose float sum depends on the order: every rank must still get the one rank-order sum.
BOOST_AUTO_TEST_CASE(sum_in_rank_order_gives_every_rank_the_same_rank_order_sum) {
  for (int N : {1, 2, 3, 5}) {
    const int64_t n = 11;
    auto contribution = [](int r, int64_t i) {
      return float((r % 2 ? -1 : 1) * 1e7 + 0.37 * double(r + 1) * double(i + 1) + 1e-3 * double(r));
    };
    std::vector<std::vector<float>> got(static_cast<size_t>(N));
    std::vector<std::vector<double>> got_d(static_cast<size_t>(N));
    test::run_ranks(N, [&](dist::Communicator& comm) {
      std::vector<float> v(static_cast<size_t>(n));
      std::vector<double> d(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) v[size_t(i)] = contribution(comm.rank(), i), d[size_t(i)] = v[size_t(i)];
      dist::sum_in_rank_order(comm, v.data(), n);
      dist::sum_in_rank_order(comm, d.data(), n);
      got[size_t(comm.rank())] = v;
      got_d[size_t(comm.rank())] = d;
    });
    for (int64_t i = 0; i < n; ++i) {
      double expected = contribution(0, i);
      for (int r = 1; r < N; ++r) expected += double(contribution(r, i));
      for (int r = 0; r < N; ++r) {
        BOOST_CHECK_EQUAL(got[size_t(r)][size_t(i)], float(expected));
        BOOST_CHECK_EQUAL(got_d[size_t(r)][size_t(i)], expected);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(rows_are_gathered_in_rank_order) {
  const int N = 3;
  const int64_t rows = 7, cols = 4;
  std::vector<std::vector<double>> got(static_cast<size_t>(N));
  // Boost.Test's assertions are not thread-safe: each rank records what it saw, checked after the join.
  std::vector<int> any_some(static_cast<size_t>(N)), any_none(static_cast<size_t>(N));
  std::vector<double> broadcast(static_cast<size_t>(N));
  test::run_ranks(N, [&](dist::Communicator& comm) {
    const size_t r = size_t(comm.rank());
    const dist::EvenSplit split{rows, N};
    std::vector<double> full(static_cast<size_t>(rows * cols), -1.0);
    double* own = full.data() + split.begin(comm.rank()) * cols;
    for (int64_t i = 0; i < split.count(comm.rank()) * cols; ++i) own[i] = double(split.begin(comm.rank()) * cols + i);
    dist::allgather_rows(comm, own, full.data(), split, cols);  // in place
    got[r] = full;
    any_some[r] = dist::any(comm, comm.rank() == 2);
    any_none[r] = dist::any(comm, false);
    broadcast[r] = dist::broadcast_value(comm, 10.0 + comm.rank(), 1);
  });
  for (int r = 0; r < N; ++r) {
    for (int64_t i = 0; i < rows * cols; ++i) BOOST_CHECK_EQUAL(got[size_t(r)][size_t(i)], double(i));
    BOOST_CHECK(any_some[size_t(r)]);
    BOOST_CHECK(!any_none[size_t(r)]);
    BOOST_CHECK_EQUAL(broadcast[size_t(r)], 11.0);
  }
}

// The data-parallel step against one process on the same batches: every rank ends with the same
// weights and moments, equal to one process's up to the rounding of sums split across ranks.
// Automatic takes the adapter's norm from its gradient blocks on the 12-row batches and from the
// Gram matrices on the 7- and 2-row ones (latent 64 >= 8·B); each way is also run alone.
BOOST_AUTO_TEST_CASE(training_on_ranks_equals_one_process) {
  OneThread one;
  for (AdapterNorm how : {AdapterNorm::automatic, AdapterNorm::blocks, AdapterNorm::gram})
    BOOST_TEST_CONTEXT("adapter norm " << (how == AdapterNorm::gram     ? "gram"
                                           : how == AdapterNorm::blocks ? "blocks"
                                                                        : "automatic")) {
      const Trained single = train(nullptr, how);
      for (int N : {2, 3}) {
        std::vector<Trained> ranks(static_cast<size_t>(N));
        test::run_ranks(N, [&](dist::Communicator& comm) { ranks[size_t(comm.rank())] = train(&comm, how); });
        double worst = 0, worst_moment = 0;
        std::string worst_name;
        for (size_t k = 0; k < single.names.size(); ++k) {
          for (int r = 1; r < N; ++r) {
            const Trained& t = ranks[size_t(r)];
            BOOST_CHECK_MESSAGE(t.values[k] == ranks[0].values[k] && t.m[k] == ranks[0].m[k] && t.v[k] == ranks[0].v[k],
                                single.names[k] << " differs between rank 0 and rank " << r);
          }
          const double d = relative_difference(ranks[0].values[k], single.values[k]);
          if (d > worst) worst = d, worst_name = single.names[k];
          BOOST_REQUIRE_EQUAL(ranks[0].m[k].size(), single.m[k].size());
          worst_moment = std::max({worst_moment, relative_difference(ranks[0].m[k], single.m[k]),
                                   relative_difference(ranks[0].v[k], single.v[k])});
        }
        BOOST_TEST_MESSAGE(N << " ranks vs one process after 12 steps: weights within " << worst << " (" << worst_name
                             << "), AdamW moments within " << worst_moment << ", last loss " << ranks[0].last_loss
                             << " vs " << single.last_loss);
        BOOST_CHECK_SMALL(worst, 1e-10);
        BOOST_CHECK_SMALL(worst_moment, 1e-10);
        BOOST_CHECK_CLOSE_FRACTION(ranks[0].last_norm, single.last_norm, 1e-12);
        BOOST_CHECK_CLOSE_FRACTION(ranks[0].last_loss, single.last_loss, 1e-12);
      }
    }
}

BOOST_AUTO_TEST_SUITE_END()
