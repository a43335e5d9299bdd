#include "pipeline/core/stage.h"

#include <cstdlib>

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <sstream>

#include "pipeline/core/log.h"
#include "pipeline/core/output.h"
#include "pipeline/core/parse.h"

extern "C" void openblas_set_num_threads(int num_threads);

namespace v2c {

const std::vector<std::string>& Args::all(const std::string& name) const {
  static const std::vector<std::string> none;
  auto it = values_.find(name);
  return it == values_.end() ? none : it->second;
}

std::string Args::one(const std::string& name, const std::string& fallback) const {
  const auto& v = all(name);
  return v.empty() ? fallback : v.front();
}

namespace {

// This process's rank in a job started by a launcher (OpenMPI, PMIx, MPICH/PMI, Slurm); 0 alone.
int launcher_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"})
    if (const char* v = std::getenv(var); v && *v) return std::atoi(v);
  return 0;
}

std::vector<OptionSpec> standard_options(const StageSpec& spec) {
  std::vector<OptionSpec> opts = {
      {"config", "FILE",
       "YAML config; this stage reads its section '" + (spec.config_section.empty() ? spec.name : spec.config_section) +
           "'",
       false, false, "", OptionRole::input},
      {"set", "KEY=VALUE",
       "override one config key (repeatable), e.g. --set " +
           (spec.config_section.empty() ? spec.name : spec.config_section) + ".KEY=VALUE",
       true, false, ""},
  };
  if (spec.has_output) {
    opts.push_back({"out", "PATH", spec.output_help, false, true, "", OptionRole::output});
    opts.push_back({"force", "", "overwrite an existing output", false, false, ""});
  }
  opts.push_back({"threads", "N", "worker threads (0 = all cores)", false, false, "0"});
  opts.push_back({"seed", "N", "random seed, recorded in every output", false, false, "1"});
  opts.push_back({"quiet", "", "warnings and errors only", false, false, ""});
  opts.push_back({"verbose", "", "debug messages too", false, false, ""});
  opts.push_back({"help", "", "this text", false, false, ""});
  opts.push_back({"help-markdown", "", "this text as Markdown (for the README reference)", false, false, ""});
  opts.push_back({"version", "", "print the version", false, false, ""});
  return opts;
}

std::string option_usage(const OptionSpec& o) {
  std::string s = "--" + o.name;
  if (!o.metavar.empty()) s += " " + o.metavar + (o.multiple && o.name != "set" ? "..." : "");
  return s;
}

std::string exit_code_table(bool markdown) {
  std::ostringstream os;
  for (ExitCode c : {ExitCode::ok, ExitCode::internal, ExitCode::usage, ExitCode::input, ExitCode::io,
                     ExitCode::numerical, ExitCode::interrupted}) {
    if (markdown)
      os << "| " << int(c) << " | " << exit_code_name(c) << " |\n";
    else
      os << "  " << int(c) << "  " << exit_code_name(c) << "\n";
  }
  return os.str();
}

std::string help_text(const StageSpec& spec, const config::Schema& schema) {
  std::ostringstream os;
  os << "v2c-" << spec.name << " — " << spec.summary << "\n\nUsage: v2c-" << spec.name << " [options]";
  if (!spec.positional.empty()) os << " " << spec.positional;
  os << "\n\n" << spec.description << "\n";
  if (!spec.positional.empty())
    os << "\nArguments:\n  " << spec.positional << "\n      " << spec.positional_help << "\n";
  auto print = [&](const std::vector<OptionSpec>& opts) {
    for (const auto& o : opts) {
      os << "  " << option_usage(o);
      if (o.required) os << " (required)";
      if (!o.default_value.empty()) os << " (default " << o.default_value << ")";
      os << "\n      " << o.help << "\n";
    }
  };
  if (!spec.options.empty()) {
    os << "\nOptions:\n";
    print(spec.options);
  }
  os << "\nStandard options:\n";
  print(standard_options(spec));
  if (!schema.fields().empty()) os << "\nConfig keys (section '" << schema.section() << "'):\n" << schema.help(2);
  os << "\nExit codes:\n" << exit_code_table(false);
  return os.str();
}

std::string help_markdown(const StageSpec& spec, const config::Schema& schema) {
  std::ostringstream os;
  os << "### v2c-" << spec.name << "\n\n" << spec.summary << "\n\n```\nv2c-" << spec.name << " [options]";
  if (!spec.positional.empty()) os << " " << spec.positional;
  os << "\n```\n\n" << spec.description << "\n\n| option | meaning | default |\n|---|---|---|\n";
  if (!spec.positional.empty()) os << "| `" << spec.positional << "` | " << spec.positional_help << " | |\n";
  for (const auto& o : spec.options)
    os << "| `" << option_usage(o) << "` | " << o.help << (o.required ? " (required)" : "") << " | " << o.default_value
       << " |\n";
  if (spec.has_output) os << "| `--out PATH` | " << spec.output_help << " (required) | |\n";
  os << "\nPlus the standard options (`--config`, `--set`, `--force`, `--threads`, `--seed`, `--quiet`, "
        "`--verbose`, `--help`).\n";
  if (!schema.fields().empty()) {
    os << "\nConfig section `" << schema.section()
       << "`:\n\n| key | type | default | rule | meaning |\n|---|---|---|---|---|\n";
    for (const auto& f : schema.fields()) {
      YAML::Emitter e;
      e.SetDoublePrecision(10);
      e << YAML::Flow << f->get();
      os << "| `" << f->name << "` | " << f->type << " | `" << e.c_str() << "` | " << f->rule << " | " << f->doc
         << " |\n";
    }
  }
  os << "\n";
  return os.str();
}

bool is_known(const std::vector<OptionSpec>& opts, const std::string& name, const OptionSpec** found) {
  for (const auto& o : opts)
    if (o.name == name) return *found = &o, true;
  return false;
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

class StageRunner {
 public:
  static int run(int argc, char** argv, const StageSpec& spec, config::Schema& schema, const StageBody& body) {
    log::set_stage_name("v2c-" + spec.name);
    install_interrupt_cleanup();
    StageContext ctx;
    ctx.spec = &spec;
    const auto start = std::chrono::steady_clock::now();
    try {
      const auto std_opts = standard_options(spec);
      Args& args = ctx.args;
      std::string current;  // option collecting values
      for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.size() > 2 && a.compare(0, 2, "--") == 0) {
          std::string name = a.substr(2), inline_value;
          const auto eq = name.find('=');
          const bool has_inline = eq != std::string::npos && name.substr(0, eq) != "set";
          if (has_inline) inline_value = name.substr(eq + 1), name = name.substr(0, eq);
          const OptionSpec* o = nullptr;
          if (!is_known(spec.options, name, &o) && !is_known(std_opts, name, &o))
            throw usage_error("unknown option '", a, "'; see v2c-", spec.name, " --help");
          if (o->metavar.empty()) {
            args.values_[name];  // a flag
            current.clear();
            continue;
          }
          if (has_inline) {
            args.values_[name].push_back(inline_value);
            current = o->multiple ? name : "";
            continue;
          }
          if (name == "set" || !o->multiple) {
            if (i + 1 >= argc) throw usage_error("option --", name, " needs a value (", o->metavar, ")");
            if (!o->multiple && args.has(name)) throw usage_error("option --", name, " given twice");
            args.values_[name].push_back(argv[++i]);
            current.clear();
          } else {
            args.values_[name];
            current = name;
          }
        } else if (!current.empty()) {
          args.values_[current].push_back(a);
        } else if (!spec.positional.empty()) {
          args.positionals_.push_back(a);
        } else {
          throw usage_error("unexpected argument '", a, "'; see v2c-", spec.name, " --help");
        }
      }
      if (args.has("help")) return std::cout << help_text(spec, schema), 0;
      if (args.has("help-markdown")) return std::cout << help_markdown(spec, schema), 0;
      if (args.has("version")) return std::cout << "v2c-" << spec.name << " " << version_string() << "\n", 0;

      for (const auto& o : spec.options) {
        if (o.required && !args.has(o.name)) throw usage_error("missing required option --", o.name, " ", o.metavar);
        if (args.has(o.name) && !o.metavar.empty() && args.all(o.name).empty())
          throw usage_error("option --", o.name, " needs at least one value (", o.metavar, ")");
      }
      if (!spec.positional.empty() && args.positionals().empty())
        throw usage_error("missing ", spec.positional, "; see v2c-", spec.name, " --help");
      if (args.has("quiet")) log::set_level(log::Level::quiet);
      if (args.has("verbose")) log::set_level(log::Level::verbose);

      if (args.has("config")) config::apply_file(schema, args.one("config"));
      for (const auto& s : args.all("set")) schema.apply_override(s);
      schema.validate();

      ctx.out = args.one("out");
      if (spec.has_output && ctx.out.empty()) throw usage_error("missing required option --out PATH");
      ctx.force = args.has("force");
      // Inputs first, then the outputs are checked against them and locked.
      for (const auto* opts : {&std_opts, &spec.options})
        for (const auto& o : *opts)
          if (o.role == OptionRole::input)
            for (const auto& v : args.all(o.name)) ctx.files.add_input(v, "--" + o.name);
      const bool writer = !spec.runs_on_ranks || launcher_rank() == 0;
      for (const auto* opts : {&std_opts, &spec.options})
        for (const auto& o : *opts)
          if (o.role == OptionRole::output)
            for (const auto& v : args.all(o.name)) ctx.files.add_output(v, ctx.force, "--" + o.name, writer);
      // More threads than cores only oversubscribe (OpenMP and OpenBLAS spin-wait): capped.
      const int threads = parse_int<int>(args.one("threads", "0"), "--threads", ExitCode::usage, 0, 1 << 20);
      ctx.threads = threads == 0 ? omp_get_num_procs() : std::min(threads, omp_get_num_procs());
      if (threads > ctx.threads)
        log::warn("--threads ", threads, ": this machine has ", ctx.threads, " cores; using ", ctx.threads);
      omp_set_num_threads(ctx.threads);
      openblas_set_num_threads(ctx.threads);
      ctx.seed = parse_int<uint64_t>(args.one("seed", "1"), "--seed", ExitCode::usage);

      std::string cmd;
      for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + shell_quote(argv[i]);
      ctx.provenance = {spec.name, cmd, version_string(), schema.to_yaml(), utc_now(), ctx.seed, ctx.threads, {}};
      log::debug("config:\n", schema.to_yaml());

      body(ctx);

      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      log::info("done in ", int(secs * 10 + 0.5) / 10.0, " s, peak memory ", int(log::peak_memory_mib()), " MiB",
                log::warning_count() ? cat(", ", log::warning_count(), " warning(s)") : std::string());
      return 0;
    } catch (const Error& e) {
      log::write_line("error: ", name_outputs(e.what()));
      return int(e.code());
    } catch (const std::bad_alloc&) {
      log::write_line("error: ", "out of memory");
      return int(ExitCode::numerical);
    } catch (const std::exception& e) {
      log::write_line("internal error: ", name_outputs(e.what()));
      return int(ExitCode::internal);
    } catch (...) {
      log::write_line("internal error: ", "an exception of unknown type (please report it with the command line)");
      return int(ExitCode::internal);
    }
  }
};

int run_stage(int argc, char** argv, const StageSpec& spec, config::Schema& schema, const StageBody& body) {
  return StageRunner::run(argc, argv, spec, schema, body);
}

}  // namespace v2c
