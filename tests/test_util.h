// Small header-only helpers shared by the Boost.Test files:
//   TempDir            RAII temporary directory (removed with its contents on destruction)
//   run_command()      run a shell command, capturing its exit code and output
//   run_python()       run a /usr/bin/python3 snippet (the oracle: numpy, h5py, nibabel...)
//   python_has()       whether /usr/bin/python3 can import some modules
//   shared_data_dir()  the real-data folder: $V2C_SHARED_DATA, else ../shared/data from the repo root
//   needs_shared_data / needs_python   Boost.Test preconditions that skip a test with a message
//   check_error()      run a callable, check it throws v2c::Error with a given code and message parts
//   run_stage(), check_stage_failure()   run a built stage; check a failure's code, message and no output
//   spawn_stage()/wait_stage()           a stage in the background
//   check_refused()    a stage run that must fail with a code, a message and no output
//   TinyStudy          a small simulated study with two prepared subjects
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "pipeline/core/error.h"
#include "pipeline/core/types.h"

namespace v2c::test {

namespace fs = std::filesystem;

// [rows x cols] of N(0, 1) draws from std::mt19937_64(seed), row-major order.
inline MatrixF gaussian_matrix(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  MatrixF m(rows, cols);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = g(rng);
  return m;
}

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::string read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// A fresh directory under the system temp dir, deleted (recursively) when it goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "v2c-test") {
    std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("TempDir: mkdtemp failed for " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }
  // Full path of `name` inside the directory (not created).
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  // Writes `content` (bytes as given) to `name` and returns its full path.
  std::string write(const std::string& name, const std::string& content) const {
    const std::string p = file(name);
    std::ofstream out(p, std::ios::binary);
    out << content;
    if (!out) throw std::runtime_error("TempDir: cannot write " + p);
    return p;
  }

 private:
  fs::path path_;
};

struct CommandRun {
  int exit_code = -1;  // -1 when it did not exit normally
  std::string output;  // stdout and stderr together
};
using PythonResult = CommandRun;
using StageRun = CommandRun;

// Runs `command` with /bin/sh, capturing its stdout and stderr together.
inline CommandRun run_command(const std::string& command) {
  TempDir scratch("v2c-cmd");
  const std::string log = scratch.file("output.txt");
  const int status = std::system(("(" + command + ") > " + shell_quote(log) + " 2>&1").c_str());
  CommandRun r;
  r.output = read_text_file(log);
  if (status != -1 && WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

// Runs `code` with /usr/bin/python3, current directory `workdir` (default: unchanged).
inline PythonResult run_python(const std::string& code, const std::string& workdir = "") {
  TempDir scratch("v2c-py");
  const std::string script = scratch.write("script.py", code);
  std::string command;
  if (!workdir.empty()) command = "cd " + shell_quote(workdir) + " && ";
  return run_command(command + "/usr/bin/python3 " + shell_quote(script));
}

// As run_python, but throws std::runtime_error (with the script's output) unless it exits 0.
inline std::string run_python_ok(const std::string& code, const std::string& workdir = "") {
  PythonResult r = run_python(code, workdir);
  if (r.exit_code != 0)
    throw std::runtime_error("python oracle failed (exit " + std::to_string(r.exit_code) + "):\n" + r.output);
  return r.output;
}

// Whether /usr/bin/python3 imports every module in `modules` (cached per list).
inline bool python_has(const std::vector<std::string>& modules) {
  static std::map<std::vector<std::string>, bool> cache;
  auto it = cache.find(modules);
  if (it != cache.end()) return it->second;
  std::string code = "import sys\n";
  for (const auto& m : modules) code += "import " + m + "\n";
  const bool ok = run_python(code).exit_code == 0;
  cache[modules] = ok;
  return ok;
}

// The repository root: the nearest directory, from the current one upwards, that holds
// pipeline/core/error.h. Empty when none.
inline std::optional<fs::path> repo_root() {
  std::error_code ec;
  for (fs::path dir = fs::current_path(ec); !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / "pipeline" / "core" / "error.h", ec)) return dir;
    if (dir == dir.parent_path()) break;
  }
  return std::nullopt;
}

// $V2C_SHARED_DATA if set, else <repo root>/../shared/data; nullopt when that is not a directory.
inline std::optional<fs::path> shared_data_dir() {
  std::error_code ec;
  if (const char* env = std::getenv("V2C_SHARED_DATA"); env && *env) {
    if (fs::is_directory(env, ec)) return fs::path(env);
    return std::nullopt;
  }
  if (auto root = repo_root()) {
    fs::path p = *root / ".." / "shared" / "data";
    if (fs::is_directory(p, ec)) return fs::weakly_canonical(p, ec);
  }
  return std::nullopt;
}

// shared_data_dir() / relative, as a string; throws when the shared data is absent (use the
// needs_shared_data precondition so that the test is skipped first).
inline std::string shared_data(const std::string& relative) {
  auto dir = shared_data_dir();
  if (!dir) throw std::runtime_error("shared data folder not found (set V2C_SHARED_DATA)");
  return (*dir / relative).string();
}

// Boost.Test precondition: *boost::unit_test::precondition(needs_shared_data{"clip-vitb32/names_oid.txt"})
// skips the test unless the shared data folder holds `relative` (file or directory).
struct needs_shared_data {
  std::string relative;
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    auto dir = shared_data_dir();
    std::error_code ec;
    if (dir && fs::exists(*dir / relative, ec)) return true;
    boost::test_tools::assertion_result r(false);
    if (!dir)
      r.message() << "shared data not found (looked for $V2C_SHARED_DATA, then ../shared/data next to the repo)";
    else
      r.message() << (*dir / relative).string() << " not found in the shared data";
    return r;
  }
};

// Boost.Test precondition: skips the test unless /usr/bin/python3 imports all `modules`.
struct needs_python {
  std::vector<std::string> modules;
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    if (python_has(modules)) return true;
    boost::test_tools::assertion_result r(false);
    r.message() << "/usr/bin/python3 cannot import";
    for (const auto& m : modules) r.message() << " " << m;
    r.message() << " (make setup-test installs the test oracles)";
    return r;
  }
};

// Checks that fn() throws v2c::Error with exit code `code` and a message containing every fragment.
// Returns the message ("" when nothing or something else was thrown) for further checks.
template <class Fn>
std::string check_error(Fn&& fn, v2c::ExitCode code, std::initializer_list<std::string> fragments) {
  try {
    fn();
  } catch (const v2c::Error& e) {
    const std::string msg = e.what();
    BOOST_CHECK_MESSAGE(e.code() == code, "exit code " << static_cast<int>(e.code()) << ", expected "
                                                       << static_cast<int>(code) << "; message: " << msg);
    for (const auto& f : fragments)
      BOOST_CHECK_MESSAGE(msg.find(f) != std::string::npos, "message lacks '" << f << "': " << msg);
    return msg;
  } catch (const std::exception& e) {
    BOOST_ERROR("expected v2c::Error, got std::exception: " << e.what());
    return "";
  }
  BOOST_ERROR("expected v2c::Error, nothing was thrown");
  return "";
}

// A built stage executable: $V2C_BIN_DIR/v2c-<name> (set by scripts/run-tests.sh), else
// <repo>/build/bin/v2c-<name>.
inline std::string stage_binary(const std::string& name) {
  if (const char* bin = std::getenv("V2C_BIN_DIR"); bin && *bin) return std::string(bin) + "/v2c-" + name;
  const auto root = repo_root();
  return ((root ? *root : fs::current_path()) / "build" / "bin" / ("v2c-" + name)).string();
}

// Runs v2c-<stage> with the arguments (each shell-quoted), capturing its output.
inline StageRun run_stage(const std::string& stage, const std::vector<std::string>& args) {
  std::string cmd = shell_quote(stage_binary(stage));
  for (const auto& a : args) cmd += " " + shell_quote(a);
  return run_command(cmd);
}

// The stage failed with `code`, said every fragment, and left neither `out` nor a temporary
// (".tmp-") beside it.
inline void check_stage_failure(const StageRun& r, int code, const std::string& out,
                                std::initializer_list<std::string> fragments) {
  BOOST_CHECK_MESSAGE(r.exit_code == code, "exit code " << r.exit_code << ", expected " << code << ":\n" << r.output);
  for (const auto& f : fragments)
    BOOST_CHECK_MESSAGE(r.output.find(f) != std::string::npos, "output lacks '" << f << "':\n" << r.output);
  BOOST_CHECK_MESSAGE(!fs::exists(out), "output '" << out << "' was left behind");
  for (const auto& e : fs::directory_iterator(fs::path(out).parent_path()))
    BOOST_CHECK_MESSAGE(e.path().filename().string().find(".tmp-") == std::string::npos,
                        "temporary left behind: " << e.path());
}

// Starts v2c-<stage> with the arguments in the background, its output going to `log`; returns
// its process id (wait for it with wait_stage).
inline pid_t spawn_stage(const std::string& stage, const std::vector<std::string>& args, const std::string& log) {
  const std::string bin = stage_binary(stage);
  std::vector<std::string> all = {bin};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), ::environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("spawn_stage: cannot start " + bin);
  return pid;
}

// Waits for a process started by spawn_stage: its exit code, or 128 + the signal that ended it.
inline int wait_stage(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Checks a stage run that must be refused: exit code `code`, every word in the output, no `out`.
inline void check_refused(const StageRun& r, int code, const std::string& out,
                          std::initializer_list<std::string> words) {
  BOOST_CHECK_MESSAGE(r.exit_code == code, "exit " << r.exit_code << ", expected " << code << ":\n" << r.output);
  for (const auto& w : words)
    BOOST_CHECK_MESSAGE(r.output.find(w) != std::string::npos, "output lacks '" << w << "':\n" << r.output);
  BOOST_CHECK_MESSAGE(!fs::exists(fs::symlink_status(out)), "output '" << out << "' exists");
}

// A two-subject simulated study (8 x 9 x 8 grid, 16-d features) prepared with features.
struct TinyStudy {
  TempDir dir{"v2c-tiny-study"};
  std::string bids = dir.file("bids"), s1 = dir.file("sub-01.h5"), s2 = dir.file("sub-02.h5");
  TinyStudy() {
    auto r = run_stage("simulate", {"--set", "simulate.n_subjects=2", "--set", "simulate.grid_dims=[8,9,8]", "--set",
                                    "simulate.feature_dim=16", "--quiet", "--out", bids});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    for (const auto& [sub, out] : {std::pair<std::string, std::string>{"sub-01", s1}, {"sub-02", s2}}) {
      r = run_stage("prepare", {"--bids", bids, "--subject", sub, "--features", bids + "/stimuli/features.h5", "--out",
                                out, "--quiet"});
      BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.output);
    }
  }
};

}  // namespace v2c::test
