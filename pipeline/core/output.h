// Outputs are written under a temporary name beside their final path and renamed into place
// only when complete, so a killed or failed stage never leaves a file that make (or a user)
// would take for a finished result. SIGINT/SIGTERM remove registered temporaries and exit 130.
#pragma once

#include <string>

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
  void commit();  // rename temp -> final (replacing an old output when forced)

 private:
  std::string final_, temp_;
  bool is_directory_, committed_ = false;
  int slot_ = -1;
};

// Installs the SIGINT/SIGTERM handler (done by the stage framework).
void install_interrupt_cleanup();

// For long training loops: while deferred, SIGINT/SIGTERM only set a flag (a second signal
// still exits at once); the loop polls interrupt_requested(), writes a checkpoint and ends with
// an Error(ExitCode::interrupted).
void defer_interrupts(bool on);
bool interrupt_requested();

}  // namespace v2c
