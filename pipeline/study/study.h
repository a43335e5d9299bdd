// The study a config describes, for the Makefile pipeline (pipeline.mk): where the data comes
// from, which subjects, which are held out (each one's encoder pretrained on all the others,
// without the stimuli its folds test), and the learning-curve fractions.
// v2c-plan turns it into make variables (work/<study>/plan.mk).
#pragma once

#include <string>
#include <vector>

#include "pipeline/core/config.h"

namespace v2c::study {

struct StudyConfig {
  std::string source = "simulate";
  std::string bids_root = "";
  std::string task = "sim";
  std::vector<std::string> subjects = {};
  std::vector<std::string> heldout = {};
  std::vector<double> train_fractions = {0.25, 0.5, 1.0};
  std::vector<std::string> bold = {};
  std::vector<std::string> events = {};
  std::string labels = "";
  std::string mask = "";
  std::string features = "";
  std::string feature_names = "";
  std::string feature_aliases = "";
  bool self_supervised = false;
  std::vector<double> self_supervised_fractions = {};
  std::string control = "none";

  void describe(config::Schema& s) {
    s.field("source", source,
            "where the runs come from: simulate (v2c-simulate into work/<study>/bids), bids (a BIDS tree), files (one "
            "subject given file by file)")
        .one_of({"simulate", "bids", "files"});
    s.field("bids_root", bids_root, "source bids: the BIDS root");
    s.field("task", task, "BIDS task label of the runs");
    s.field("subjects", subjects, "source bids: subject ids (sub-XX); simulate: sub-01.. from simulate.n_subjects");
    s.field("heldout", heldout,
            "subjects the encoder is fine-tuned on, each after a pretraining on all the other subjects that leaves out "
            "the stimuli its folds test (default: every subject in turn, leave-one-subject-out; none with one "
            "subject)");
    s.field("train_fractions", train_fractions, "learning curve: shares of each fold's training runs")
        .check(
            [](const std::vector<double>& v) {
              if (v.empty()) return false;
              for (double f : v)
                if (!(f > 0 && f <= 1)) return false;
              return true;
            },
            "a non-empty list of numbers in (0, 1]");
    s.field("bold", bold, "source files: the run files (one 4D file per run, or one file with --labels)");
    s.field("events", events, "source files: one events.tsv per bold file");
    s.field("labels", labels, "source files: a per-volume 'label run' file instead of events");
    s.field("mask", mask, "source files/bids: the brain or ROI mask");
    s.field("features", features, "stimulus feature table (.npy/.h5/.csv); simulate: the study's own");
    s.field("feature_names", feature_names, ".npy features: one id per line");
    s.field("feature_aliases", feature_aliases, "TSV mapping stimulus ids to feature ids");
    s.field("self_supervised", self_supervised,
            "also prepare every subject's time series (timeseries.h5), pretrain a second encoder whose CLIP stage "
            "starts from a self-supervised stage on the pretraining subjects' time series (pretrain.ssl_*), and "
            "fine-tune it like the first (rows encoder-ssl-adapter, encoder-ssl-full, encoder-ssl-only-full)");
    s.field("self_supervised_fractions", self_supervised_fractions,
            "self_supervised: the training fractions that get the self-supervised rows, each one of train_fractions "
            "(empty: all of them)")
        .check(
            [](const std::vector<double>& v) {
              for (double f : v)
                if (!(f > 0 && f <= 1)) return false;
              return true;
            },
            "a list of numbers in (0, 1]");
    s.field("control", control,
            "none, or shuffled_pooled_labels: the negative control in which every model that pools other subjects "
            "(pretraining and its fine-tuning's reference subjects, align-ridge) sees their stimulus labels permuted "
            "(the stages' --shuffle-pooled-labels, study/shuffled_labels.h); ridge and encoder-scratch are unchanged")
        .one_of({"none", "shuffled_pooled_labels"});
  }
};

}  // namespace v2c::study
