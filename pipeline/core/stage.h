// The stage framework: one declaration per stage gives --help (with defaults), argument
// validation, config loading, logging set-up, the exit-code mapping and the README reference.
//
//   const v2c::StageSpec spec{ .name = "prepare", .summary = "...", .options = {...} };
//   void run(v2c::StageContext& ctx, PrepareConfig& cfg) { ... }
//   int main(int argc, char** argv) { return v2c::stage_main<PrepareConfig>(argc, argv, spec, run); }
//
// Standard options on every stage: --config FILE, --set key=value (repeatable), --out PATH,
// --force, --threads N, --seed N, --quiet, --verbose, --help, --help-markdown, --version.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pipeline/core/config.h"
#include "pipeline/core/error.h"
#include "pipeline/core/output.h"
#include "pipeline/core/provenance.h"

namespace v2c {

// What an option's values are: the framework checks inputs against outputs and claims the
// outputs (core/output.h, OutputSet) before the stage computes anything.
enum class OptionRole { value, input, output };

struct OptionSpec {
  std::string name;     // "bold" -> --bold
  std::string metavar;  // "FILE"; empty for a flag
  std::string help;
  bool multiple = false;  // one or more values, up to the next --option
  bool required = false;
  std::string default_value;  // shown in --help; empty = none
  OptionRole role = OptionRole::value;
};

struct StageSpec {
  std::string name;         // "prepare": executable v2c-prepare, config section "prepare"
  std::string summary;      // one line
  std::string description;  // a paragraph or two
  std::vector<OptionSpec> options;
  std::string positional;  // metavar of positional arguments ("FILE..."), empty = none
  std::string positional_help;
  bool has_output = true;  // --out is required and protected by --force
  std::string output_help = "output file";
  std::string config_section = "";  // config section read, when not the stage's name
  // The stage may run as N processes of one job (mpirun, srun): only the launcher's rank 0 (the
  // writer) locks the outputs; every rank still checks them against the inputs and --force.
  bool runs_on_ranks = false;
};

class Args {
 public:
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  const std::vector<std::string>& all(const std::string& name) const;  // empty if absent
  std::string one(const std::string& name, const std::string& fallback = "") const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  friend class StageRunner;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positionals_;
};

struct StageContext {
  const StageSpec* spec = nullptr;
  Args args;
  std::string out;  // --out ("" when the stage has none)
  bool force = false;
  int threads = 1;  // resolved: never 0
  uint64_t seed = 0;
  Provenance provenance;  // config_yaml filled once the config is final
  OutputSet files;        // --out and the options of role input/output, claimed before run()

  // A file the stage reads (recorded in the provenance; refused when it is an output).
  void add_input(const std::string& path) {
    files.add_input(path);
    provenance.inputs.push_back(path);
  }
  // An output the stage derives itself (e.g. a map beside --out), claimed like --out.
  void add_output(const std::string& path) { files.add_output(path, force); }
};

using StageBody = std::function<void(StageContext&)>;
int run_stage(int argc, char** argv, const StageSpec& spec, config::Schema& schema, const StageBody& body);

template <class Config>
int stage_main(int argc, char** argv, const StageSpec& spec, void (*run)(StageContext&, Config&)) {
  Config cfg;
  config::Schema schema(spec.config_section.empty() ? spec.name : spec.config_section);
  cfg.describe(schema);
  return run_stage(argc, argv, spec, schema, [&](StageContext& ctx) { run(ctx, cfg); });
}

// A stage without settings of its own.
struct NoConfig {
  void describe(config::Schema&) {}
};

std::string version_string();

}  // namespace v2c
