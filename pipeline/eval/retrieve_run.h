// v2c-retrieve's work: decode-mode predictions + the stimuli's feature vectors (+ a gallery) ->
// identification metrics with chance levels and confidence intervals, per-query ranks and top-k
// lists (retrieval.h5, docs/retrieval.md). The search and the metrics are the kernels of
// pipeline/eval/retrieval.h; this file chooses queries and candidates and writes the result.
#pragma once

#include <algorithm>
#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include "pipeline/core/config.h"
#include "pipeline/core/provenance.h"
#include "pipeline/io/features.h"
#include "pipeline/io/predictions.h"
#include "pipeline/io/samples.h"

namespace v2c::retrieve {

constexpr int kRetrievalFormatVersion = 1;

struct RetrieveConfig {
  std::string candidates = "test";
  std::string queries = "all";
  std::string novel_pattern = "^test-";
  bool average_repeats = true;
  std::string similarity = "cosine";
  std::string centre = "train_mean";
  int k = 5;
  int among_n = 300;
  int draws = 30;
  int bootstrap = 2000;
  int permutations = 1000;
  std::string scan = "automatic";
  std::string alias_from_column = "stimulus";
  std::string alias_to_column = "category";

  void describe(config::Schema& s) {
    s.field("candidates", candidates,
            "test: the distinct stimuli of the evaluated samples; gallery: those plus every vector of --gallery; "
            "categories: the --gallery vectors (labels), each sample's true one given by --gallery-aliases")
        .one_of({"test", "gallery", "categories"});
    s.field("queries", queries, "all: every out-of-fold prediction; novel: only stimuli matching novel_pattern")
        .one_of({"all", "novel"});
    s.field("novel_pattern", novel_pattern, "queries: novel: ECMAScript regex searched in the stimulus id")
        .check(
            [](const std::string& p) {
              // std::regex compiles and matches recursively: a long or deeply nested pattern
              // overflows the stack, so both are bounded before it sees the pattern.
              int depth = 0, deepest = 0;
              for (char c : p) deepest = std::max(deepest, depth += c == '(' ? 1 : c == ')' ? -1 : 0);
              if (p.empty() || p.size() > 200 || deepest > 10) return false;
              try {
                std::regex r(p);
                return true;
              } catch (const std::regex_error&) {
                return false;
              }
            },
            "a valid regular expression of 1 to 200 characters, groups nested at most 10 deep");
    s.field("average_repeats", average_repeats,
            "average the decoded vectors of the presentations of a stimulus tested in one outer fold into one query "
            "(Kamitani lab, MindEye)");
    s.field("similarity", similarity,
            "cosine, or pearson (correlation across dimensions, Kamitani-lab identification) of decoded and candidate "
            "vectors")
        .one_of({"cosine", "pearson"});
    s.field("centre", centre,
            "none, or train_mean: queries and candidates minus the mean target of the training rows of the query's "
            "outer fold")
        .one_of({"none", "train_mean"});
    s.field("k", k, "neighbours stored per query in /queries/top_k").range(1, 1000);
    s.field("among_n", among_n,
            "top-1/top-5 among n (MindEye): the true candidate plus n-1 random others; clipped to the pool")
        .min(2);
    s.field("draws", draws, "random draws of the n-1 others per query").min(1);
    s.field("bootstrap", bootstrap, "bootstrap resamples of the independent units (runs) for the 95% intervals")
        .min(100);
    s.field("permutations", permutations,
            "label permutations within runs for the per-subject test of top-1/top-5/pairwise identification "
            "(0 = no test)")
        .min(0);
    s.field("scan", scan, "search scan precision (results exact either way; docs/retrieval.md)")
        .one_of({"automatic", "float32", "bfloat16"});
    s.field("alias_from_column", alias_from_column, "--gallery-aliases: column holding the stimulus id");
    s.field("alias_to_column", alias_to_column, "--gallery-aliases: column holding its gallery (category) id");
  }
};

struct RetrieveInputs {
  Predictions predictions;
  Samples samples;                             // needs features
  features::FeatureTable gallery;              // empty unless candidates = gallery | categories
  std::map<std::string, std::string> aliases;  // stimulus -> gallery id (categories)
};

struct Metric {
  std::string name;
  double value = 0, ci_low = 0, ci_high = 0, chance = 0;
  int64_t n_candidates = 0, n_queries = 0;
  int64_t n_units = 0;                  // independent units the interval resampled
  double p_permutation = std::nan("");  // per-subject permutation p-value (NaN: not tested)
};

struct RetrievalReport {
  std::string subject, model, candidate_set, scan, similarity, centre;
  int64_t permutations = 0;  // label permutations of the test (0: none)
  double train_fraction = 1.0;
  std::vector<Metric> metrics;
  std::vector<std::string> candidate_ids;   // [N]
  std::vector<std::string> query_stimulus;  // [n]
  std::vector<int64_t> query_truth;         // [n] row of candidate_ids
  std::vector<int64_t> query_rank;          // [n] 1 = best
  std::vector<double> query_pairwise;       // [n]
  std::vector<int64_t> query_unit;          // [n] unit of independence (eval/units.h)
  std::vector<int32_t> query_top_k;         // [n x k] rows of candidate_ids
  int64_t k = 0;
};

// Throws input_error for encode-mode predictions, no query left, a true stimulus missing from
// the candidates, or mismatched dimensions.
RetrievalReport run_retrieval(const RetrieveInputs& in, const RetrieveConfig& cfg, uint64_t seed);

void write_retrieval(const std::string& path, const RetrievalReport& r, const Provenance& prov, bool force);

// The metrics as a small text table (one line per metric), for the log.
std::vector<std::string> metric_table(const RetrievalReport& r);

}  // namespace v2c::retrieve
