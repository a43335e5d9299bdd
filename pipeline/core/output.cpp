#include "pipeline/core/output.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <mutex>

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
    : final_(std::move(final_path)), is_directory_(is_directory) {
  if (final_.empty()) throw usage_error("no output path given (--out)");
  std::error_code ec;
  if (fs::exists(final_, ec) && !force)
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

}  // namespace v2c
