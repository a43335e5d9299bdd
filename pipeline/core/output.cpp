#include "pipeline/core/output.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <utility>

#include "pipeline/core/error.h"

namespace fs = std::filesystem;

namespace v2c {
namespace {

// Signal-safe registry of temporaries: fixed slots, plain char buffers.
constexpr int kSlots = 64;
constexpr int kPathMax = 4096;
char g_temp_paths[kSlots][kPathMax];
volatile sig_atomic_t g_slot_used[kSlots];
volatile sig_atomic_t g_slot_is_dir[kSlots];
std::mutex g_slots_mutex;  // outputs are made from several threads; the signal handler only reads

int register_temp(const std::string& path, bool is_dir) {
  const std::lock_guard<std::mutex> lock(g_slots_mutex);
  for (int i = 0; i < kSlots; ++i) {
    if (!g_slot_used[i] && path.size() < kPathMax) {
      std::memcpy(g_temp_paths[i], path.c_str(), path.size() + 1);
      g_slot_is_dir[i] = is_dir;
      g_slot_used[i] = 1;
      return i;
    }
  }
  return -1;
}

// Temporary -> final path of every output of this process, for messages (name_outputs).
std::mutex g_names_mutex;
std::vector<std::pair<std::string, std::string>> g_names;

volatile sig_atomic_t g_defer = 0;
volatile sig_atomic_t g_requested = 0;

void on_signal(int sig) {
  if (g_defer && !g_requested) {
    g_requested = 1;
    const char msg[] = "\nvox2clip: interrupt received; finishing the step and writing a checkpoint (again to abort)\n";
    ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
    (void)ignored;
    return;
  }
  for (int i = 0; i < kSlots; ++i) {
    // A directory's files cannot be removed safely from here; its temp name is enough for make.
    if (g_slot_used[i] && !g_slot_is_dir[i]) unlink(g_temp_paths[i]);
  }
  const char msg[] = "\nvox2clip: interrupted; temporary outputs removed\n";
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof(msg) - 1);
  (void)ignored;
  (void)sig;
  _exit(130);
}

}  // namespace

void defer_interrupts(bool on) { g_defer = on ? 1 : 0; }
bool interrupt_requested() { return g_requested != 0; }

void install_interrupt_cleanup() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

AtomicOutput::AtomicOutput(std::string final_path, bool force, bool is_directory)
    : final_(std::move(final_path)), is_directory_(is_directory), force_(force) {
  if (final_.empty()) throw usage_error("no output path given (--out)");
  std::error_code ec;
  if (fs::exists(fs::symlink_status(final_, ec)) && !force)
    throw usage_error("output '", final_, "' already exists; pass --force to overwrite it");
  const fs::path p(final_);
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), ec);
    if (ec) throw io_error("cannot create directory '", p.parent_path().string(), "': ", ec.message());
  }
  const std::string prefix = "." + p.filename().string() + ".tmp-";
  temp_ = (p.parent_path() / (prefix + std::to_string(getpid()))).string();
  // Leftovers of killed runs (a dead process's temporary, e.g. a half-written study directory
  // after SIGKILL or SIGINT) are removed; a live process's temporary is left alone.
  const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + prefix.size(), &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (pid == getpid() || (kill(pid_t(pid), 0) != 0 && errno == ESRCH)) fs::remove_all(e.path(), ec);
  }
  slot_ = register_temp(temp_, is_directory_);
  std::lock_guard<std::mutex> lock(g_names_mutex);
  g_names.emplace_back(temp_, final_);
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) {
    std::error_code ec;
    fs::remove_all(temp_, ec);
  }
  if (slot_ >= 0) {
    const std::lock_guard<std::mutex> lock(g_slots_mutex);
    g_slot_used[slot_] = 0;
  }
}

void AtomicOutput::commit() {
  std::error_code ec;
  if (!fs::exists(temp_, ec)) throw io_error("internal: temporary output '", temp_, "' was never written");
  if (!force_) {
    // Never replace an output that appeared while this run was writing (a process that does
    // not take the output lock): the rename itself refuses.
    if (renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, final_.c_str(), RENAME_NOREPLACE) == 0) {
      committed_ = true;
      return;
    }
    if (errno == EEXIST)
      throw usage_error("output '", final_, "' appeared while this run was writing it; nothing was replaced");
    if (errno != EINVAL && errno != ENOSYS)
      throw io_error("cannot rename '", temp_, "' to '", final_, "': ", std::strerror(errno));
    if (fs::exists(fs::symlink_status(final_, ec)))  // no RENAME_NOREPLACE on this file system
      throw usage_error("output '", final_, "' appeared while this run was writing it; nothing was replaced");
  }
  if (is_directory_ && fs::exists(final_, ec)) {
    // rename() cannot replace a non-empty directory: move the old one aside first.
    const std::string old = temp_ + ".old";
    fs::rename(final_, old, ec);
    if (ec) throw io_error("cannot replace '", final_, "': ", ec.message());
    fs::rename(temp_, final_, ec);
    if (ec) throw io_error("cannot rename '", temp_, "' to '", final_, "': ", ec.message());
    fs::remove_all(old, ec);
  } else {
    fs::rename(temp_, final_, ec);
    if (ec) throw io_error("cannot rename '", temp_, "' to '", final_, "': ", ec.message());
  }
  committed_ = true;
}

void commit_together(const std::vector<AtomicOutput*>& secondary, AtomicOutput& primary) {
  for (AtomicOutput* out : secondary) out->commit();
  primary.commit();
}

std::string name_outputs(std::string message) {
  std::lock_guard<std::mutex> lock(g_names_mutex);
  for (const auto& [temp, final] : g_names) {
    for (size_t at = message.find(temp); at != std::string::npos; at = message.find(temp, at + final.size()))
      message.replace(at, temp.size(), final);
  }
  return message;
}

// ---- locks ----

namespace {

// "process 1234, v2c-ridge": the process holding a lock, from the pid written into the lock file.
std::string lock_holder(int fd) {
  char buf[32] = {};
  const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  const long pid = n > 0 ? std::strtol(buf, nullptr, 10) : 0;
  if (pid <= 0) return "another process";
  std::string name;
  std::ifstream(cat("/proc/", pid, "/comm")) >> name;
  return cat("process ", pid, name.empty() ? "" : ", " + name);
}

}  // namespace

OutputLock::OutputLock(const std::string& output) {
  const fs::path p = fs::absolute(output);
  std::error_code ec;
  for (fs::path dir = p.parent_path(); !dir.empty() && !fs::exists(dir, ec); dir = dir.parent_path()) {
    created_dirs_.push_back(dir);
    if (dir == dir.parent_path()) break;
  }
  fs::create_directories(p.parent_path(), ec);
  if (ec)
    throw io_error("cannot create directory '", p.parent_path().string(), "' for output '", output,
                   "': ", ec.message());
  lock_path_ = (p.parent_path() / ("." + p.filename().string() + ".lock")).string();
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd_ = open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd_ < 0)
      throw io_error("cannot create the lock '", lock_path_, "' of output '", output, "': ", std::strerror(errno));
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const std::string holder = err == EWOULDBLOCK ? lock_holder(fd_) : "";
      close(fd_);
      fd_ = -1;
      if (err == EWOULDBLOCK)
        throw usage_error("output '", output, "' is being written by another run (", holder,
                          "); wait for it to finish, or choose another output");
      throw io_error("cannot lock '", lock_path_, "' for output '", output, "': ", std::strerror(err));
    }
    // The holder before us may have removed the file between our open and our lock: then the
    // lock is on a file nobody else sees, so take the lock again on the path's current file.
    struct stat held {
    }, now{};
    if (fstat(fd_, &held) == 0 && stat(lock_path_.c_str(), &now) == 0 && held.st_dev == now.st_dev &&
        held.st_ino == now.st_ino) {
      // The pid is only for messages: a lock without it still excludes.
      const std::string pid = cat(getpid(), "\n");
      const bool written = ftruncate(fd_, 0) == 0 && pwrite(fd_, pid.data(), pid.size(), 0) == ssize_t(pid.size());
      (void)written;
      slot_ = register_temp(lock_path_, false);  // removed on SIGINT/SIGTERM too
      return;
    }
    close(fd_);
    fd_ = -1;
  }
  throw io_error("cannot lock '", lock_path_, "' for output '", output, "': it keeps being replaced");
}

OutputLock::~OutputLock() {
  if (slot_ >= 0) g_slot_used[slot_] = 0;
  if (fd_ >= 0) {
    unlink(lock_path_.c_str());  // while still holding the lock (see the constructor)
    close(fd_);
  }
  std::error_code ec;
  for (const auto& dir : created_dirs_) fs::remove(dir, ec);  // only when empty
}

// ---- inputs and outputs of a run ----

struct OutputSet::Entry {
  std::string path, option;
  fs::path resolved;  // absolute, symbolic links and `..` resolved
  bool exists = false, is_directory = false;
  dev_t dev = 0;
  ino_t ino = 0;
  std::unique_ptr<OutputLock> lock;

  Entry(const std::string& p, const std::string& opt) : path(p), option(opt) {
    std::error_code ec;
    resolved = fs::weakly_canonical(fs::absolute(p, ec), ec);
    if (ec) resolved = fs::absolute(p, ec).lexically_normal();
    struct stat st {};
    if (stat(p.c_str(), &st) == 0) exists = true, is_directory = S_ISDIR(st.st_mode), dev = st.st_dev, ino = st.st_ino;
  }
  std::string name() const { return option.empty() ? cat("'", path, "'") : cat("'", path, "' (", option, ")"); }
  bool same(const Entry& o) const {
    return resolved == o.resolved || (exists && o.exists && dev == o.dev && ino == o.ino);
  }
  // Whether this path lies strictly inside `dir`.
  bool inside(const Entry& dir) const {
    auto a = resolved.begin(), b = dir.resolved.begin();
    for (; b != dir.resolved.end(); ++a, ++b)
      if (a == resolved.end() || *a != *b) return false;
    return a != resolved.end();
  }
};

OutputSet::OutputSet() = default;
OutputSet::~OutputSet() = default;

namespace {
void check_pair(const std::string& out, bool same, bool out_contains_in, const std::string& in) {
  if (same) throw usage_error("output ", out, " is the input ", in, "; write the output elsewhere");
  if (out_contains_in)
    throw usage_error("output ", out, " contains the input ", in, "; writing it would destroy the input");
}
}  // namespace

void OutputSet::add_input(const std::string& path, const std::string& option) {
  if (path.empty()) return;
  Entry in(path, option);
  for (const Entry& out : outputs_) check_pair(out.name(), in.same(out), in.inside(out), in.name());
  inputs_.push_back(std::move(in));
}

void OutputSet::add_output(const std::string& path, bool force, const std::string& option, bool lock) {
  Entry out(path, option);
  std::error_code ec;
  if (path.empty()) throw usage_error("no output path given", option.empty() ? "" : cat(" (", option, ")"));
  for (const Entry& in : inputs_) check_pair(out.name(), out.same(in), in.inside(out), in.name());
  for (const Entry& other : outputs_) {
    if (out.same(other)) throw usage_error("output ", out.name(), " is also output ", other.name());
    if (out.inside(other) || other.inside(out))
      throw usage_error("outputs ", out.name(), " and ", other.name(), " lie inside one another");
  }
  if (fs::exists(fs::symlink_status(path, ec)) && !force)
    throw usage_error("output '", path, "' already exists; pass --force to overwrite it");
  if (lock) out.lock = std::make_unique<OutputLock>(path);
  outputs_.push_back(std::move(out));
}

}  // namespace v2c
