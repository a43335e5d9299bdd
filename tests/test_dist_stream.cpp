// Streamed pretraining (stream_order.h, sample_source.h, sample_stream.h): the shuffle buffer's
// order (every row at most once per epoch, read before it is used, never more rows buffered than
// the buffer holds, exactly epoch_batches when everything fits, a function of seed and epoch), a
// stream resumed mid-epoch hands out the same batches, samples read from files equal samples in
// memory, and v2c-pretrain streaming from files trains bitwise the weights of pretrain() on the
// samples in memory, also after kill -9 and --resume; rows left out of a source are never used;
// with N ranks each reads only its rows of each batch and every rank gets the whole batch; reading
// ahead changes no batch.
#include <omp.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "pipeline/core/config.h"
#include "pipeline/dist/collectives.h"
#include "pipeline/io/h5.h"
#include "pipeline/models/encoder/pretrain.h"
#include "pipeline/models/encoder/sample_stream.h"
#include "pipeline/models/encoder/stream_order.h"
#include "tests/dist_samples.h"
#include "tests/test_util.h"
#include "tests/thread_communicator.h"

extern "C" void openblas_set_num_threads(int num_threads);
extern "C" int openblas_get_num_threads(void);

namespace fs = std::filesystem;
using namespace v2c;
using namespace v2c::encoder;

namespace {

// Five subjects' training rows: uneven counts, gaps (excluded runs), one subject of 5 rows.
std::vector<std::vector<int64_t>> uneven_rows() {
  std::vector<std::vector<int64_t>> rows(5);
  const int64_t counts[5] = {37, 120, 5, 64, 250};
  for (size_t s = 0; s < 5; ++s)
    for (int64_t i = 0; int64_t(rows[s].size()) < counts[s]; ++i)
      if (i % 7 != 3) rows[s].push_back(i);
  return rows;
}

int64_t total_rows(const std::vector<std::vector<int64_t>>& rows) {
  int64_t n = 0;
  for (const auto& r : rows) n += int64_t(r.size());
  return n;
}

// Checks the invariants of one epoch's order; returns the rows it trains on.
int64_t check_order(const EpochOrder& o, const std::vector<std::vector<int64_t>>& train_rows, int64_t buffer_rows,
                    int batch_size) {
  // The chunks cover every training row once.
  std::vector<std::multiset<int64_t>> chunked(train_rows.size());
  for (const Chunk& c : o.chunks) chunked[c.subject].insert(c.rows.begin(), c.rows.end());
  for (size_t s = 0; s < train_rows.size(); ++s)
    BOOST_CHECK(chunked[s] == std::multiset<int64_t>(train_rows[s].begin(), train_rows[s].end()));
  BOOST_REQUIRE_EQUAL(o.chunks_before.size(), o.batches.size());
  std::vector<std::set<int64_t>> used(train_rows.size());
  int64_t n_used = 0;
  for (size_t b = 0; b < o.batches.size(); ++b) {
    const Batch& batch = o.batches[b];
    BOOST_CHECK(b == 0 || o.chunks_before[b] >= o.chunks_before[b - 1]);
    BOOST_CHECK_GE(batch.rows.size(), 2u);
    BOOST_CHECK_LE(batch.rows.size(), size_t(batch_size));
    // Every row of the batch was read before it, and is used once in the epoch.
    std::set<int64_t> read;
    for (int64_t c = 0; c < o.chunks_before[b]; ++c)
      if (o.chunks[size_t(c)].subject == batch.subject)
        read.insert(o.chunks[size_t(c)].rows.begin(), o.chunks[size_t(c)].rows.end());
    for (int64_t r : batch.rows) {
      BOOST_CHECK_MESSAGE(read.count(r), "batch " << b << " uses row " << r << " before its chunk is read");
      BOOST_CHECK_MESSAGE(used[batch.subject].insert(r).second, "row " << r << " used twice");
    }
    n_used += int64_t(batch.rows.size());
  }
  // When batch b is drawn the buffer holds the rows read, less those used before b and those
  // dropped (rows never used, as single rows, at most): never more than buffer_rows.
  const int64_t unused = total_rows(train_rows) - n_used;
  int64_t read = 0, before = 0;
  for (size_t b = 0, c = 0; b < o.batches.size(); ++b) {
    for (; int64_t(c) < o.chunks_before[b]; ++c) read += int64_t(o.chunks[c].rows.size());
    BOOST_CHECK_MESSAGE(read - before - unused <= buffer_rows,
                        "batch " << b << ": " << read << " rows read, " << before << " used, buffer " << buffer_rows);
    before += int64_t(o.batches[b].rows.size());
  }
  BOOST_CHECK_LE(o.peak_rows, buffer_rows);
  return n_used;
}

// Names of the parameters in which two encoder checkpoints differ (bitwise).
std::vector<std::string> differing_params(const std::string& a, const std::string& b) {
  const h5::ArtifactReader ra(a, "encoder_checkpoint", 1), rb(b, "encoder_checkpoint", 1);
  const auto names = ra.read_strings("param_names");
  BOOST_REQUIRE(names == rb.read_strings("param_names"));
  std::vector<std::string> out;
  for (const auto& n : names) {
    const MatrixF x = ra.read_matrix_f("params/" + n), y = rb.read_matrix_f("params/" + n);
    if (x.rows() != y.rows() || x.cols() != y.cols() ||
        std::memcmp(x.data(), y.data(), size_t(x.size()) * sizeof(float)) != 0)
      out.push_back(n);
  }
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "(none)" : s;
}

// The streaming settings of the stage tests: ~300 voxels, 0.1 MiB = ~88 rows of the ~270
// training rows, chunks of 8, batches of 16.
const std::vector<std::string> kStreamSets = {
    "pretrain.latent=32",    "pretrain.epochs=4",           "pretrain.batch_size=16", "pretrain.buffer_mib=0.1",
    "pretrain.chunk_rows=8", "pretrain.checkpoint_every=5", "pretrain.patience=1000", "pretrain.mixco=true"};

std::vector<std::string> stage_args(const std::vector<std::string>& samples, const std::string& out, bool resume) {
  std::vector<std::string> a = {"--samples"};
  a.insert(a.end(), samples.begin(), samples.end());
  a.insert(a.end(), {"--threads", "1", "--seed", "9", "--out", out});
  for (const auto& s : kStreamSets) a.insert(a.end(), {"--set", s});
  if (resume) a.push_back("--resume");
  return a;
}

// Each subject's rows in use: every sample but the one after each i % 11 == 4 (gaps in the rows).
std::vector<std::vector<int64_t>> rows_with_gaps(const std::vector<Samples>& samples) {
  std::vector<std::vector<int64_t>> rows(samples.size());
  for (size_t s = 0; s < samples.size(); ++s)
    for (int64_t i = 0; i < samples[s].n_samples(); i += (i % 11 == 4 ? 2 : 1)) rows[s].push_back(i);
  return rows;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(streaming)

BOOST_AUTO_TEST_CASE(shuffle_buffer_order_reads_before_use_uses_once_and_stays_in_the_buffer) {
  const auto rows = uneven_rows();
  const int64_t total = total_rows(rows);
  for (int64_t buffer : {16, 40, 100}) {
    for (int64_t chunk : {1, 8, 16}) {
      if (chunk > buffer) continue;
      const EpochOrder o = stream_order(rows, chunk, buffer, 12, 3, 0);
      const int64_t used = check_order(o, rows, buffer, 12);
      BOOST_TEST_MESSAGE("buffer " << buffer << ", chunks of " << chunk << ": " << o.batches.size() << " batches, "
                                   << used << " of " << total << " rows used, peak " << o.peak_rows);
      // Only single rows that cannot form a batch are left out.
      BOOST_CHECK_GE(used, total - int64_t(rows.size()) * (total / buffer + 1));
      BOOST_CHECK_GT(o.peak_rows, buffer - chunk);  // the buffer fills up
    }
  }
  // A function of (seed, epoch): the same twice, different across epochs and seeds.
  auto batches_equal = [](const EpochOrder& a, const EpochOrder& b) {
    if (a.batches.size() != b.batches.size() || a.chunks_before != b.chunks_before) return false;
    for (size_t i = 0; i < a.batches.size(); ++i)
      if (a.batches[i].subject != b.batches[i].subject || a.batches[i].rows != b.batches[i].rows) return false;
    return true;
  };
  BOOST_CHECK(batches_equal(stream_order(rows, 8, 40, 12, 3, 2), stream_order(rows, 8, 40, 12, 3, 2)));
  BOOST_CHECK(!batches_equal(stream_order(rows, 8, 40, 12, 3, 2), stream_order(rows, 8, 40, 12, 3, 1)));
  BOOST_CHECK(!batches_equal(stream_order(rows, 8, 40, 12, 3, 2), stream_order(rows, 8, 40, 12, 4, 2)));
}

BOOST_AUTO_TEST_CASE(a_buffer_holding_every_row_gives_the_in_memory_order) {
  const auto rows = uneven_rows();
  for (int64_t epoch : {0, 5}) {
    const EpochOrder o = stream_order(rows, 8, total_rows(rows), 12, 21, epoch);
    const auto expected = epoch_batches(rows, 12, 21, epoch);
    BOOST_REQUIRE_EQUAL(o.batches.size(), expected.size());
    for (size_t b = 0; b < expected.size(); ++b) {
      BOOST_CHECK_EQUAL(o.batches[b].subject, expected[b].subject);
      BOOST_CHECK(o.batches[b].rows == expected[b].rows);
    }
    check_order(o, rows, total_rows(rows), 12);
  }
}

// The "data" dataset is opened once per file (h5::RowReader); rows past its end are still an input
// error naming the file and the rows asked for, and nothing is read.
BOOST_AUTO_TEST_CASE(a_file_source_refuses_rows_past_the_end_naming_the_file) {
  test::TempDir dir("v2c-stream");
  const auto paths = test::two_simulated_subjects(dir);
  FileSource files(paths);
  const int64_t n = files.subjects()[0].n_samples();
  MF X;
  files.read_voxels(0, {n - 2, n - 1}, X);
  BOOST_CHECK_EQUAL(X.rows(), 2);
  try {
    files.read_voxels(0, {n - 1, n}, X);
    BOOST_ERROR("rows past the end were read");
  } catch (const Error& e) {
    BOOST_CHECK_EQUAL(int(e.code()), int(ExitCode::input));
    const std::string what = e.what();
    BOOST_CHECK_MESSAGE(what.find(paths[0]) != std::string::npos, what);
    BOOST_CHECK_MESSAGE(
        what.find("rows [" + std::to_string(n - 1) + ", " + std::to_string(n + 1) + ")") != std::string::npos, what);
  }
}

BOOST_AUTO_TEST_CASE(files_and_memory_give_the_same_batches_and_a_resumed_stream_continues_the_same) {
  test::TempDir dir("v2c-stream");
  const auto paths = test::two_simulated_subjects(dir);
  std::vector<Samples> samples;
  for (const auto& p : paths) samples.push_back(read_samples(p));
  MemorySource memory(samples);
  FileSource files(paths);
  BOOST_REQUIRE_EQUAL(files.subjects().size(), 2u);
  for (size_t s = 0; s < 2; ++s) BOOST_REQUIRE_EQUAL(files.subjects()[s].n_voxels, samples[s].n_voxels());
  const auto rows = rows_with_gaps(samples);
  const int64_t buffer = 40;
  const EpochOrder o = stream_order(rows, 8, buffer, 16, 5, 1);
  // Every batch from a stream started at 0 (files) and from memory; and from streams resumed at 1, 7, 13.
  std::vector<MF> X0, T0;
  SampleStream from_files(files, o, 0), from_memory(memory, o, 0);
  while (!from_files.done()) {
    MF X, T, Xm, Tm;
    from_files.next(X, T);
    from_memory.next(Xm, Tm);
    BOOST_CHECK(X == Xm);
    BOOST_CHECK(T == Tm);
    BOOST_CHECK_LE(from_files.rows_held(), buffer);
    X0.push_back(X), T0.push_back(T);
  }
  BOOST_CHECK_EQUAL(X0.size(), o.batches.size());
  // The values are the samples': batch rows of the in-memory matrices, and each row's stimulus
  // feature vector (held once for both subjects, who saw the same stimuli).
  BOOST_CHECK(X0[3] == rows_of(samples[o.batches[3].subject].data, o.batches[3].rows));
  for (size_t s = 0; s < 2; ++s) {
    const MF T = files.targets(s, rows[s]);
    for (size_t k = 0; k < rows[s].size(); ++k)
      BOOST_REQUIRE(T.row(int64_t(k)) == samples[s].features.row(samples[s].feature_row[size_t(rows[s][k])]));
  }
  BOOST_CHECK_EQUAL(files.n_distinct_stimuli(), std::max(samples[0].features.rows(), samples[1].features.rows()));
  for (int64_t first : {1, 7, 13}) {
    SampleStream resumed(files, o, first);
    BOOST_CHECK_LE(resumed.rows_held(), buffer);
    for (size_t b = size_t(first); b < o.batches.size(); ++b) {
      MF X, T;
      resumed.next(X, T);
      BOOST_CHECK_MESSAGE(X == X0[b] && T == T0[b], "resumed at " << first << ": batch " << b << " differs");
    }
    BOOST_CHECK(resumed.done());
  }
}

// Data-parallel: rank r of N reads only its rows of each batch (rows EvenSplit{B, N}.begin(r)..),
// and every rank's next() returns the whole batch, bitwise the one-process stream's; also resumed.
BOOST_AUTO_TEST_CASE(each_rank_reads_only_its_rows_of_each_batch_and_every_rank_gets_the_whole_batch) {
  test::TempDir dir("v2c-stream-ranks");
  const auto paths = test::two_simulated_subjects(dir);
  std::vector<Samples> samples;
  for (const auto& p : paths) samples.push_back(read_samples(p));
  const auto rows = rows_with_gaps(samples);
  const EpochOrder o = stream_order(rows, 8, 40, 16, 5, 1);
  MemorySource one_source(samples);
  SampleStream one(one_source, o, 0);
  std::vector<MF> X0, T0;
  while (!one.done()) {
    MF X, T;
    one.next(X, T);
    X0.push_back(X), T0.push_back(T);
  }
  for (int N : {2, 3})
    for (int64_t first : {int64_t(0), int64_t(7)}) {
      // What each rank must read: its share of every batch from `first` on.
      std::vector<int64_t> expected(static_cast<size_t>(N), 0);
      for (size_t b = size_t(first); b < o.batches.size(); ++b)
        for (int r = 0; r < N; ++r)
          expected[size_t(r)] += dist::EvenSplit{int64_t(o.batches[b].rows.size()), N}.count(r);
      std::vector<std::vector<MF>> X(static_cast<size_t>(N)), T(static_cast<size_t>(N));
      std::vector<int64_t> read(static_cast<size_t>(N));
      test::run_ranks(N, [&](dist::Communicator& comm) {
        MemorySource src(samples);  // one per rank, as each process opens its own files
        SampleStream st(src, o, first, &comm);
        while (!st.done()) {
          MF x, t;
          st.next(x, t);
          X[size_t(comm.rank())].push_back(x), T[size_t(comm.rank())].push_back(t);
        }
        read[size_t(comm.rank())] = st.rows_read();
      });
      for (int r = 0; r < N; ++r) {
        BOOST_CHECK_EQUAL(read[size_t(r)], expected[size_t(r)]);
        BOOST_REQUIRE_EQUAL(X[size_t(r)].size(), o.batches.size() - size_t(first));
        for (size_t k = 0; k < X[size_t(r)].size(); ++k)
          BOOST_CHECK_MESSAGE(X[size_t(r)][k] == X0[size_t(first) + k] && T[size_t(r)][k] == T0[size_t(first) + k],
                              N << " ranks from batch " << first << ": rank " << r << ", batch " << first + int64_t(k)
                                << " differs from one process");
      }
    }
}

namespace {

// Samples in memory whose reads are recorded: the thread of each read and the rows read.
class RecordingSource final : public SampleSource {
 public:
  explicit RecordingSource(const std::vector<Samples>& samples) : samples_(samples) {
    for (const auto& s : samples) add_table(s, s.n_voxels());
  }
  void read_voxels(size_t s, const std::vector<int64_t>& rows, MF& X) override {
    threads.push_back(std::this_thread::get_id());
    rows_read += int64_t(rows.size());
    X = rows_of(samples_[s].data, rows);
  }
  std::vector<std::thread::id> threads;
  int64_t rows_read = 0;

 private:
  const std::vector<Samples>& samples_;
};

}  // namespace

// Read-ahead: the same batches bitwise as without it (files, memory, resumed, 2 ranks), never
// more rows held than the buffer; the reads of the following batch's chunks happen on another
// thread, between two next() calls.
BOOST_AUTO_TEST_CASE(read_ahead_gives_the_same_batches_and_reads_the_next_chunks_while_the_caller_works) {
  test::TempDir dir("v2c-stream-ahead");
  const auto paths = test::two_simulated_subjects(dir);
  std::vector<Samples> samples;
  for (const auto& p : paths) samples.push_back(read_samples(p));
  const auto rows = rows_with_gaps(samples);
  const int64_t buffer = 40;
  const EpochOrder o = stream_order(rows, 8, buffer, 16, 5, 1);
  BOOST_REQUIRE_GT(o.batches.size(), 8u);
  MemorySource memory(samples);
  std::vector<MF> X0, T0;
  {
    SampleStream plain(memory, o, 0);
    while (!plain.done()) {
      MF X, T;
      plain.next(X, T);
      X0.push_back(X), T0.push_back(T);
    }
  }
  for (int64_t first : {int64_t(0), int64_t(7)}) {
    FileSource files(paths);
    SampleStream ahead(files, o, first, nullptr, true);
    for (size_t b = size_t(first); b < o.batches.size(); ++b) {
      MF X, T;
      ahead.next(X, T);
      BOOST_CHECK_MESSAGE(X == X0[b] && T == T0[b], "read-ahead from batch " << first << ": batch " << b << " differs");
      BOOST_CHECK_LE(ahead.rows_held(), buffer);
    }
    BOOST_CHECK(ahead.done());
  }
  // Which reads happen where: after next() returns batch b (and the read-ahead settles), the
  // source has read exactly the chunks before batch b + 1, the later ones on another thread.
  RecordingSource recorded(samples);
  SampleStream ahead(recorded, o, 0, nullptr, true);
  std::set<std::pair<size_t, int64_t>> used;  // rows some batch uses: the only ones read
  for (const Batch& batch : o.batches)
    for (int64_t r : batch.rows) used.insert({batch.subject, r});
  const auto rows_before = [&](size_t b) {
    int64_t n = 0;
    for (int64_t c = 0; c < o.chunks_before[b]; ++c)
      for (int64_t r : o.chunks[size_t(c)].rows) n += int64_t(used.count({o.chunks[size_t(c)].subject, r}));
    return n;
  };
  const size_t initial_reads = recorded.threads.size();
  BOOST_CHECK_EQUAL(recorded.rows_read, rows_before(0));
  for (size_t b = 0; b + 1 < o.batches.size(); ++b) {
    MF X, T;
    ahead.next(X, T);
    ahead.settle();
    BOOST_CHECK_EQUAL(recorded.rows_read, rows_before(b + 1));
  }
  const auto caller = std::this_thread::get_id();
  int64_t elsewhere = 0;
  for (size_t k = 0; k < recorded.threads.size(); ++k) {
    if (k < initial_reads) BOOST_CHECK(recorded.threads[k] == caller);  // the constructor's reads
    elsewhere += recorded.threads[k] != caller;
  }
  BOOST_CHECK_EQUAL(elsewhere, int64_t(recorded.threads.size() - initial_reads));
  BOOST_CHECK_GT(elsewhere, 0);
  // Two ranks, each reading ahead its own rows: every rank gets the one-process batches.
  std::vector<std::vector<MF>> X(2), T(2);
  test::run_ranks(2, [&](dist::Communicator& comm) {
    MemorySource src(samples);
    SampleStream st(src, o, 0, &comm, true);
    while (!st.done()) {
      MF x, t;
      st.next(x, t);
      X[size_t(comm.rank())].push_back(x), T[size_t(comm.rank())].push_back(t);
    }
  });
  for (int r = 0; r < 2; ++r) {
    BOOST_REQUIRE_EQUAL(X[size_t(r)].size(), o.batches.size());
    for (size_t b = 0; b < o.batches.size(); ++b)
      BOOST_CHECK_MESSAGE(X[size_t(r)][b] == X0[b] && T[size_t(r)][b] == T0[b],
                          "2 ranks with read-ahead: rank " << r << ", batch " << b << " differs");
  }
}

BOOST_AUTO_TEST_CASE(v2c_pretrain_streaming_from_files_equals_pretrain_in_memory_and_resumes_bitwise) {
  test::TempDir dir("v2c-stream-stage");
  const auto paths = test::two_simulated_subjects(dir);
  // The stage, streaming from the files.
  const std::string streamed = dir.file("streamed.h5");
  const auto r = test::run_stage("pretrain", stage_args(paths, streamed, false));
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
  BOOST_CHECK_MESSAGE(r.output.find("through a shuffle buffer of ") != std::string::npos, "the stage did not stream:\n"
                                                                                              << r.output);
  // A buffer that cannot hold a batch is refused before any work, naming the setting.
  const std::string refused = dir.file("refused.h5");
  auto small = stage_args(paths, refused, false);
  small.insert(small.end(), {"--set", "pretrain.buffer_mib=0.001"});
  test::check_stage_failure(test::run_stage("pretrain", small), 2, refused,
                            {"pretrain.buffer_mib = 0.001", "holds 0 samples of", "at least max(pretrain.batch_size"});
  // pretrain() on the samples in memory, one thread, the same settings.
  {
    const int saved_blas = openblas_get_num_threads(), saved_omp = omp_get_max_threads();
    openblas_set_num_threads(1);
    omp_set_num_threads(1);
    PretrainConfig cfg;
    config::Schema schema("pretrain");
    cfg.describe(schema);
    for (const auto& s : kStreamSets) schema.apply_override(s);
    schema.validate();
    std::vector<Samples> samples;
    for (const auto& p : paths) samples.push_back(read_samples(p));
    pretrain(samples, cfg, 9, dir.file("memory.h5"), Provenance{}, false, false);
    openblas_set_num_threads(saved_blas);
    omp_set_num_threads(saved_omp);
  }
  BOOST_CHECK_MESSAGE(
      differing_params(streamed, dir.file("memory.h5")).empty(),
      "streamed vs in memory: parameters differ: " << joined(differing_params(streamed, dir.file("memory.h5"))));
  // Leaving out every sample of runs 0 and 3 trains the weights of pretrain.exclude_runs = [0, 3].
  {
    const int saved_blas = openblas_get_num_threads(), saved_omp = omp_get_max_threads();
    openblas_set_num_threads(1);
    omp_set_num_threads(1);
    PretrainConfig cfg;
    config::Schema schema("pretrain");
    cfg.describe(schema);
    for (const auto& s : kStreamSets) schema.apply_override(s);
    FileSource left_out(paths);
    for (size_t s = 0; s < 2; ++s) {
      std::vector<int64_t> rows;
      for (int64_t i = 0; i < left_out.subjects()[s].n_samples(); ++i)
        if (left_out.subjects()[s].run[size_t(i)] % 3 == 0 && left_out.subjects()[s].run[size_t(i)] <= 3)
          rows.push_back(i);
      BOOST_REQUIRE(!rows.empty());
      left_out.leave_out(s, rows);
    }
    pretrain(left_out, cfg, 9, dir.file("left-out.h5"), Provenance{}, false, false);
    schema.apply_override("pretrain.exclude_runs=[0, 3]");
    FileSource whole(paths);
    pretrain(whole, cfg, 9, dir.file("excluded.h5"), Provenance{}, false, false);
    openblas_set_num_threads(saved_blas);
    omp_set_num_threads(saved_omp);
    BOOST_CHECK_MESSAGE(differing_params(dir.file("left-out.h5"), dir.file("excluded.h5")).empty(),
                        "leave_out vs exclude_runs: parameters differ: "
                            << joined(differing_params(dir.file("left-out.h5"), dir.file("excluded.h5"))));
    BOOST_CHECK(!differing_params(dir.file("left-out.h5"), streamed).empty());  // something was left out
  }
  // kill -9 once a checkpoint exists, then --resume: the uninterrupted run's weights, bitwise.
  const std::string out = dir.file("killed.h5");
  std::string cmd = test::shell_quote(test::stage_binary("pretrain"));
  for (const auto& a : stage_args(paths, out, false)) cmd += " " + test::shell_quote(a);
  const std::string script = "( " + cmd + " ) > " + test::shell_quote(dir.file("killed.log")) +
                             " 2>&1 & pid=$!; for i in $(seq 1 3000); do [ -f " + test::shell_quote(out + ".ckpt") +
                             " ] && break; sleep 0.005; done; kill -9 $pid; wait $pid; true";
  BOOST_REQUIRE_EQUAL(std::system(("bash -c " + test::shell_quote(script)).c_str()), 0);
  BOOST_REQUIRE_MESSAGE(!fs::exists(out), "the run finished before it was killed");
  BOOST_REQUIRE(fs::exists(out + ".ckpt"));
  const auto resumed = test::run_stage("pretrain", stage_args(paths, out, true));
  BOOST_REQUIRE_MESSAGE(resumed.exit_code == 0, resumed.output);
  BOOST_CHECK_MESSAGE(resumed.output.find("resumed from") != std::string::npos, resumed.output);
  const size_t at = resumed.output.find("resumed from");
  BOOST_TEST_MESSAGE(resumed.output.substr(at, resumed.output.find('\n', at) - at));
  BOOST_CHECK_MESSAGE(
      differing_params(out, streamed).empty(),
      "kill -9 + --resume vs uninterrupted: parameters differ: " << joined(differing_params(out, streamed)));
}

BOOST_AUTO_TEST_SUITE_END()
