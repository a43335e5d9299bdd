// v2c-pretrain under mpirun, as users launch it: two ranks give the weights of one process with the
// same global batch and seed, and a job whose rank is killed (kill -9) resumes from rank 0's
// checkpoint to the weights of an uninterrupted job.
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "pipeline/io/h5.h"
#include "tests/dist_samples.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;
namespace utf = boost::unit_test;

namespace {

// Boost.Test precondition: skips the suite unless mpirun is on the PATH.
boost::test_tools::assertion_result mpirun_found(utf::test_unit_id) {
  if (std::system("command -v mpirun > /dev/null 2>&1") == 0) return true;
  boost::test_tools::assertion_result r(false);
  r.message() << "mpirun not found (make setup installs openmpi-bin)";
  return r;
}

// OpenMPI's mpirun -np N, allowed as root and on fewer cores than ranks; a rank waiting in a
// collective yields its core (the ranks share the cores of a busy test machine).
std::string mpirun(int np) {
  return std::string("mpirun") + (geteuid() == 0 ? " --allow-run-as-root" : "") +
         " --oversubscribe --mca mpi_yield_when_idle 1 -np " + std::to_string(np);
}

std::string command(const std::string& launcher, const std::vector<std::string>& args) {
  std::string cmd = launcher.empty() ? "" : launcher + " ";
  cmd += test::shell_quote(test::stage_binary("pretrain"));
  for (const auto& a : args) cmd += " " + test::shell_quote(a);
  return cmd;
}

// Runs `cmd` through bash, output to `log`; returns the exit status.
int run_logged(const std::string& cmd, const std::string& log) {
  const std::string line = cmd + " > " + test::shell_quote(log) + " 2>&1";
  const int status = std::system(("bash -c " + test::shell_quote(line)).c_str());
  return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Largest per-parameter relative difference ‖a - b‖ / ‖b‖ of two encoder checkpoints; `bitwise`
// tells whether every parameter is identical.
double max_relative_difference(const std::string& a, const std::string& b, bool& bitwise, std::string& worst) {
  const h5::ArtifactReader ra(a, "encoder_checkpoint", 1), rb(b, "encoder_checkpoint", 1);
  const auto names = ra.read_strings("param_names");
  BOOST_REQUIRE(names == rb.read_strings("param_names"));
  double out = 0;
  bitwise = true;
  for (const auto& n : names) {
    const MatrixF x = ra.read_matrix_f("params/" + n), y = rb.read_matrix_f("params/" + n);
    BOOST_REQUIRE(x.rows() == y.rows() && x.cols() == y.cols());
    if (std::memcmp(x.data(), y.data(), size_t(x.size()) * sizeof(float)) != 0) bitwise = false;
    const double d = (x.cast<double>() - y.cast<double>()).norm() / std::max(y.cast<double>().norm(), 1e-30);
    if (d > out) out = d, worst = n;
  }
  return out;
}

int64_t trained_steps(const std::string& checkpoint) {
  return h5::ArtifactReader(checkpoint, "encoder_checkpoint", 1).read_ints("trainer/step").at(0);
}

// v2c-pretrain's arguments for the two simulated subjects: one thread, `seed`, and each of `sets`
// (KEY=VALUE) as a --set.
std::vector<std::string> pretrain_args(const std::vector<std::string>& samples, int seed,
                                       const std::vector<std::string>& sets) {
  std::vector<std::string> args = {"--samples"};
  args.insert(args.end(), samples.begin(), samples.end());
  args.insert(args.end(), {"--threads", "1", "--seed", std::to_string(seed)});
  for (const std::string& kv : sets) args.insert(args.end(), {"--set", kv});
  return args;
}

struct TwoRanks {
  int64_t steps;      // trained by each job
  double difference;  // largest relative weight difference of two ranks against one process
};

// v2c-pretrain on the two simulated subjects with pretrain_args(seed, sets), in one process and
// under mpirun -np 2 (in a temporary directory named after `name`); checks that the job ran
// data-parallel, that its log holds every line of `log_has`, and that both trained the same number
// of steps.
TwoRanks two_ranks_and_one(const std::string& name, int seed, const std::vector<std::string>& sets,
                           const std::vector<std::string>& log_has) {
  test::TempDir dir(name);
  const std::vector<std::string> args = pretrain_args(test::two_simulated_subjects(dir), seed, sets);
  auto with_out = [&](const std::string& out) {
    auto a = args;
    a.insert(a.end(), {"--out", out});
    return a;
  };
  BOOST_REQUIRE_EQUAL(run_logged(command("", with_out(dir.file("one.h5"))), dir.file("one.log")), 0);
  const int code = run_logged(command(mpirun(2), with_out(dir.file("two.h5"))), dir.file("two.log"));
  const std::string log = test::read_text_file(dir.file("two.log"));
  BOOST_REQUIRE_MESSAGE(code == 0, "mpirun -np 2 v2c-pretrain exited " << code << ":\n" << log);
  for (const std::string& line : log_has)
    BOOST_CHECK_MESSAGE(log.find(line) != std::string::npos, "the job's log lacks '" << line << "':\n" << log);
  const int64_t steps = trained_steps(dir.file("one.h5"));
  BOOST_CHECK_EQUAL(trained_steps(dir.file("two.h5")), steps);
  bool bitwise = false;
  std::string worst;
  const double difference = max_relative_difference(dir.file("two.h5"), dir.file("one.h5"), bitwise, worst);
  BOOST_TEST_MESSAGE("mpirun -np 2 vs one process after " << steps << " steps: largest relative weight difference "
                                                          << difference << " (" << worst << ")");
  return {steps, difference};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(distributed_mpi, *utf::precondition(mpirun_found))

// 2 subjects x 5 epochs of 10 batches of 36 (one subject each, as always) = 50 steps, with MixCo
// and dropout; one thread per process so that nothing but the split across ranks rounds.
BOOST_AUTO_TEST_CASE(two_ranks_equal_one_process_after_50_steps) {
  const TwoRanks r = two_ranks_and_one("v2c-mpi", 7,
                                       {"pretrain.latent=64", "pretrain.epochs=5", "pretrain.batch_size=36",
                                        "pretrain.val_runs=0", "pretrain.mixco=true", "pretrain.w_siglip=0.5"},
                                       {"data-parallel: MPI, 2 ranks"});
  BOOST_CHECK_EQUAL(r.steps, 50);
  BOOST_CHECK_SMALL(r.difference, 1e-5);
}

// Latent 64 at batch 8 takes the trainer's other way to the adapter's gradient norm (the Gram
// matrices, L >= 8·B, as latent 1024 at batch 128 does; trainer.h): two ranks still equal one process.
BOOST_AUTO_TEST_CASE(two_ranks_equal_one_process_with_the_gram_matrix_norm) {
  const TwoRanks r = two_ranks_and_one(
      "v2c-mpi-gram", 9,
      {"pretrain.latent=64", "pretrain.epochs=2", "pretrain.batch_size=8", "pretrain.val_runs=0", "pretrain.mixco=true"},
      {"data-parallel: MPI, 2 ranks"});
  BOOST_CHECK_GE(r.steps, 50);
  BOOST_CHECK_SMALL(r.difference, 1e-5);
}

// The same with the samples streamed through a shuffle buffer of ~88 of the ~270 training rows
// (chunks of 8): every rank reads the same batches, so two ranks still equal one process.
BOOST_AUTO_TEST_CASE(two_ranks_streaming_equal_one_process) {
  const TwoRanks r = two_ranks_and_one("v2c-mpi-stream", 7,
                                       {"pretrain.latent=64", "pretrain.epochs=4", "pretrain.batch_size=16",
                                        "pretrain.buffer_mib=0.1", "pretrain.chunk_rows=8", "pretrain.mixco=true"},
                                       {"data-parallel: MPI, 2 ranks", "through a shuffle buffer of "});
  BOOST_CHECK_GT(r.steps, 40);
  BOOST_CHECK_SMALL(r.difference, 1e-5);
}

// kill -9 of rank 1 (and, in a second job, of rank 0, the writer) once a checkpoint exists; the
// launcher ends the job; `--resume` under mpirun reaches the uninterrupted job's weights bitwise.
BOOST_AUTO_TEST_CASE(a_killed_rank_resumes_to_the_weights_of_an_uninterrupted_job) {
  test::TempDir dir("v2c-mpi-kill");
  const auto samples = test::two_simulated_subjects(dir);
  const std::vector<std::string> common =
      pretrain_args(samples, 8,
                    {"pretrain.latent=64", "pretrain.epochs=10", "pretrain.batch_size=36",
                     "pretrain.checkpoint_every=5", "pretrain.patience=1000", "pretrain.mixco=true"});
  auto with_out = [&](const std::string& out, bool resume) {
    auto a = common;
    a.insert(a.end(), {"--out", out});
    if (resume) a.push_back("--resume");
    return a;
  };
  const std::string straight = dir.file("straight.h5");
  BOOST_REQUIRE_EQUAL(run_logged(command(mpirun(2), with_out(straight, false)), straight + ".log"), 0);
  for (int victim : {1, 0}) {
    const std::string out = dir.file("killed-" + std::to_string(victim) + ".h5"), q = test::shell_quote(out + ".ckpt");
    // Start the job, wait for its first checkpoint, find the victim among mpirun's children by its
    // OMPI_COMM_WORLD_RANK, kill -9 it, and record how the job ended.
    const std::string script =
        command(mpirun(2), with_out(out, false)) + " > " + test::shell_quote(out + ".log") + " 2>&1 & job=$!; " +
        "for i in $(seq 1 3000); do [ -f " + q + " ] && break; sleep 0.01; done; " +
        "for p in $(pgrep -P $job); do if tr '\\0' '\\n' < /proc/$p/environ | grep -qx OMPI_COMM_WORLD_RANK=" +
        std::to_string(victim) + "; then kill -9 $p; echo killed > " + test::shell_quote(out + ".victim") +
        "; fi; done; wait $job; echo $? > " + test::shell_quote(out + ".code");
    BOOST_REQUIRE_EQUAL(std::system(("bash -c " + test::shell_quote(script)).c_str()), 0);
    BOOST_REQUIRE_MESSAGE(fs::exists(out + ".victim"), "rank " << victim << " was not found among mpirun's children:\n"
                                                               << test::read_text_file(out + ".log"));
    std::ifstream code_in(out + ".code");
    int code = 0;
    code_in >> code;
    BOOST_CHECK_MESSAGE(code != 0, "the job whose rank " << victim << " was killed exited 0");
    BOOST_REQUIRE_MESSAGE(!fs::exists(out), "the job finished before rank " << victim << " was killed");
    BOOST_REQUIRE(fs::exists(out + ".ckpt"));
    const int resumed = run_logged(command(mpirun(2), with_out(out, true)), out + ".resumed.log");
    const std::string log = test::read_text_file(out + ".resumed.log");
    BOOST_REQUIRE_MESSAGE(resumed == 0, "the resumed job exited " << resumed << ":\n" << log);
    BOOST_CHECK_MESSAGE(log.find("resumed from") != std::string::npos, "the job did not resume:\n" << log);
    bool bitwise = false;
    std::string worst;
    const double d = max_relative_difference(out, straight, bitwise, worst);
    BOOST_CHECK_MESSAGE(bitwise, "kill -9 of rank " << victim << " and --resume: weights differ from the uninterrupted "
                                                    << "job's by up to " << d << " (" << worst << ")");
  }
}

BOOST_AUTO_TEST_SUITE_END()
