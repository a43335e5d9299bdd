// v2c-plan: a study config -> make variables for pipeline.mk (subjects, held-out subjects and the
// subjects each one's encoder is pretrained on, learning-curve fractions, each subject's
// v2c-prepare arguments).
#include <algorithm>
#include <map>
#include <sstream>

#include "pipeline/core/format.h"
#include "pipeline/core/output.h"
#include "pipeline/core/stage.h"
#include "pipeline/core/text_file.h"
#include "pipeline/sim/config.h"
#include "pipeline/study/study.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "plan",
    .summary = "turn a study config into make variables for the pipeline (work/<study>/plan.mk)",
    .description =
        "Reads the config's `study` section (and simulate.n_subjects and simulate.unlabelled_subjects for simulated "
        "studies: UNLABELLED, subjects with rest runs only, for self-supervised pretraining) and writes the subjects, "
        "the held-out subjects (every subject in turn by default: leave-one-subject-out) with the subjects each "
        "one's encoder is pretrained on (all the others), the learning-curve fractions (and those that get the "
        "self-supervised rows) and each subject's v2c-prepare arguments as make variables. Each held-out subject gets "
        "its own pretraining, which leaves out "
        "every stimulus its outer folds test (v2c-pretrain --heldout-samples/--heldout-folds). pipeline.mk "
        "includes the result; nothing else reads it.",
    .options = {{"bids-dir", "DIR", "where a simulated study's BIDS tree lives (work/<study>/bids)", false, true, ""}},
    .output_help = "make fragment to write",
    .config_section = "study",
};

std::string quote(const std::string& s) {
  if (s.find_first_of(" '\"$\\") == std::string::npos) return s;
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : c == '$' ? std::string("$$") : std::string(1, c);
  return out + "'";
}

// The simulate section as v2c-simulate reads it, through its own schema (its defaults, its rules,
// unknown keys refused): n_subjects and unlabelled_subjects.
sim::StudyParams simulated_study(const StageContext& ctx) {
  sim::SimulateConfig sim_cfg;
  config::Schema schema("simulate");
  sim_cfg.describe(schema);
  if (ctx.args.has("config")) config::apply_file(schema, ctx.args.one("config"));
  schema.validate();
  return sim_cfg.p;
}

void run(StageContext& ctx, study::StudyConfig& cfg) {
  const std::string bids = ctx.args.one("bids-dir");
  std::vector<std::string> subjects = cfg.subjects;
  std::vector<std::string> unlabelled;  // simulated subjects with rest runs only: pretraining data
  std::map<std::string, std::string> prepare_args;
  if (cfg.source == "simulate") {
    const sim::StudyParams sim = simulated_study(ctx);
    subjects.clear();
    for (int i = 1; i <= sim.n_subjects + sim.unlabelled_subjects; ++i)
      (i <= sim.n_subjects ? subjects : unlabelled).push_back(cat("sub-", i < 10 ? "0" : "", i));
    for (const auto& s : subjects)
      prepare_args[s] = cat("--bids ", quote(bids), " --subject ", s, " --task ", quote(cfg.task), " --features ",
                            quote(bids + "/stimuli/features.h5"));
    for (const auto& s : unlabelled)
      prepare_args[s] = cat("--bids ", quote(bids), " --subject ", s, " --task ", quote(cfg.task));
  } else if (cfg.source == "bids") {
    if (cfg.bids_root.empty() || subjects.empty())
      throw usage_error("config field 'study.bids_root' and 'study.subjects' are needed for source bids");
    for (const auto& s : subjects) {
      std::string a = cat("--bids ", quote(cfg.bids_root), " --subject ", s, " --task ", quote(cfg.task));
      if (!cfg.mask.empty()) a += " --mask " + quote(cfg.mask);
      prepare_args[s] = a;
    }
  } else {  // files: one subject
    if (cfg.bold.empty() || cfg.mask.empty() || (cfg.events.empty() && cfg.labels.empty()))
      throw usage_error("source files needs study.bold, study.mask and study.events or study.labels");
    if (subjects.empty()) subjects = {"sub-01"};
    if (subjects.size() != 1)
      throw usage_error("source files describes one subject; study.subjects has ", subjects.size());
    std::string a = "--subject " + subjects[0] + " --mask " + quote(cfg.mask) + " --bold";
    for (const auto& b : cfg.bold) a += " " + quote(b);
    if (!cfg.labels.empty())
      a += " --labels " + quote(cfg.labels);
    else {
      a += " --events";
      for (const auto& e : cfg.events) a += " " + quote(e);
    }
    prepare_args[subjects[0]] = a;
  }
  if (cfg.source != "simulate") {
    for (auto& [s, a] : prepare_args) {
      if (!cfg.features.empty()) a += " --features " + quote(cfg.features);
      if (!cfg.feature_names.empty()) a += " --feature-names " + quote(cfg.feature_names);
      if (!cfg.feature_aliases.empty()) a += " --feature-aliases " + quote(cfg.feature_aliases);
    }
  }
  std::vector<std::string> heldout = cfg.heldout;
  if (heldout.empty() && subjects.size() > 1) heldout = subjects;  // leave-one-subject-out
  for (const auto& h : heldout)
    if (std::find(subjects.begin(), subjects.end(), h) == subjects.end())
      throw usage_error("config field 'study.heldout' names ", h, ", which is not one of the study's ", subjects.size(),
                        " subjects");
  for (double f : cfg.self_supervised_fractions)
    if (std::find(cfg.train_fractions.begin(), cfg.train_fractions.end(), f) == cfg.train_fractions.end()) {
      std::string train;
      for (double t : cfg.train_fractions) train += (train.empty() ? "" : ", ") + shortest_decimal(t);
      throw usage_error("config field 'study.self_supervised_fractions' has ", shortest_decimal(f),
                        ", which is not one of study.train_fractions [", train, "]");
    }
  const std::vector<double>& ssl_fractions =
      cfg.self_supervised_fractions.empty() ? cfg.train_fractions : cfg.self_supervised_fractions;
  std::map<std::string, std::vector<std::string>> pretrain_for;  // held-out subject -> everyone else
  for (const auto& h : heldout)
    for (const auto& s : subjects)
      if (s != h) pretrain_for[h].push_back(s);

  AtomicOutput out(ctx.out, ctx.force);
  std::ostringstream mk;
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
    return s;
  };
  mk << "# written by v2c-plan from the study config; do not edit\n";
  mk << "SUBJECTS := " << list(subjects) << "\n";
  mk << "HELDOUT := " << list(heldout) << "\n";
  mk << "UNLABELLED := " << list(unlabelled) << "\n";
  for (const auto& [h, others] : pretrain_for) mk << "PRETRAIN_FOR_" << h << " := " << list(others) << "\n";
  mk << "FRACTIONS :=";
  for (double f : cfg.train_fractions) mk << " " << shortest_decimal(f);  // exact: 0.125 stays 0.125
  mk << "\nSTUDY_SOURCE := " << cfg.source << "\n";
  mk << "SELF_SUPERVISED := " << (cfg.self_supervised ? "1" : "") << "\n";
  mk << "SSL_FRACTIONS :=";
  for (double f : ssl_fractions) mk << " " << shortest_decimal(f);
  mk << "\n";
  mk << "POOLED_FLAGS := " << (cfg.control == "shuffled_pooled_labels" ? "--shuffle-pooled-labels" : "") << "\n";
  for (const auto& [s, a] : prepare_args) mk << "PREPARE_ARGS_" << s << " := " << a << "\n";
  write_text(out.temp_path(), mk.str());
  out.commit();
}

}  // namespace

int main(int argc, char** argv) { return stage_main<study::StudyConfig>(argc, argv, spec, run); }
