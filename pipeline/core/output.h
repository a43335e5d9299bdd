// Outputs are written under a temporary name beside their final path and renamed into place
// only when complete, so a killed or failed stage never leaves a file that make (or a user)
// would take for a finished result. SIGINT/SIGTERM remove registered temporaries and exit 130.
//
// Before a stage computes anything, the stage framework claims its outputs (OutputSet): an
// output that exists (without --force), that is, contains or replaces one of the run's
// inputs, or that another run is writing is refused, and each claimed output is held under an
// exclusive lock until the run ends.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace v2c {

class AtomicOutput {
 public:
  // Refuses (usage error) when final_path exists and !force; creates the parent directory;
  // removes temporaries of the same output left by processes that no longer run.
  AtomicOutput(std::string final_path, bool force, bool is_directory = false);
  ~AtomicOutput();  // removes the temporary unless committed
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::string& temp_path() const { return temp_; }
  const std::string& final_path() const { return final_; }
  // Renames temp -> final: replaces an old output when forced; without force, refuses (usage
  // error) an output that appeared in the meantime instead of replacing it.
  void commit();

 private:
  std::string final_, temp_;
  bool is_directory_, force_, committed_ = false;
  int slot_ = -1;
};

// Commits several complete outputs of one stage as one step, the primary output (the one
// make tracks) last: every output is fully written before any is renamed, so a failure while
// writing (full disk, bad path) leaves none of them; only a kill between two renames can
// leave the secondary ones without the primary, which make then rebuilds.
void commit_together(const std::vector<AtomicOutput*>& secondary, AtomicOutput& primary);

// `message` with every temporary output path replaced by its final path: errors name the
// outputs the user asked for, never `.name.tmp-PID`.
std::string name_outputs(std::string message);

// An exclusive lock (flock) on `.NAME.lock` beside an output, held for the object's lifetime
// and removed with it; a second run asking for the same output is refused (usage error)
// naming the process that holds it. Missing parent directories are created, and removed
// again on release when nothing was written into them.
class OutputLock {
 public:
  explicit OutputLock(const std::string& output);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;

 private:
  std::string lock_path_;
  std::vector<std::filesystem::path> created_dirs_;  // innermost first
  int fd_ = -1, slot_ = -1;
};

// The inputs and outputs of one stage run (see the top of this file). Paths are compared after
// resolving symbolic links, `..` and hard links. An output may lie inside an input directory
// (a report inside its study, derivatives inside a BIDS tree) but never be, contain or replace
// a file the run reads: every file read is added as an input, and each addition is checked
// against the outputs claimed so far (and each output against the inputs so far).
class OutputSet {
 public:
  OutputSet();
  ~OutputSet();
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;

  // `option` names where the path came from in messages ("--out", "--samples").
  void add_input(const std::string& path, const std::string& option = "");
  // lock = false: checked like any output but not locked (a rank of a job that does not write).
  void add_output(const std::string& path, bool force, const std::string& option = "", bool lock = true);

 private:
  struct Entry;
  std::vector<Entry> inputs_, outputs_;
};

// Installs the SIGINT/SIGTERM handler (done by the stage framework).
void install_interrupt_cleanup();

// For long training loops: while deferred, SIGINT/SIGTERM only set a flag (a second signal
// still exits at once); the loop polls interrupt_requested(), writes a checkpoint and ends with
// an Error(ExitCode::interrupted).
void defer_interrupts(bool on);
bool interrupt_requested();

}  // namespace v2c
