// Stimulus features joined onto samples: each sample's stimulus (through an alias table, if any)
// gets its row of a feature table, or a one-hot vector of its stimulus (category decoding without a
// feature file).
#pragma once

#include <string>

#include "pipeline/io/samples.h"

namespace v2c::prep {

// `features` names a feature table (.npy with feature_names, .h5, .csv, .tsv), or is kOneHot.
constexpr const char* kOneHot = "onehot";

struct FeatureJoin {
  std::string features, feature_names, feature_aliases;
  bool l2_normalize = false;
  std::string missing = "error";
  std::string alias_from_column = "stimulus", alias_to_column = "feature";
};

// Fills out.feature_ids/features/feature_row/feature_source. From a table: every sample's
// stimulus (through the alias table, if any) must have a vector; `missing`: "error" (input error
// naming the stimulus) or "drop" (those samples are removed, with a warning). One-hot: the distinct
// stimuli of the samples, sorted, as ids; the vector of the k-th is the k-th unit vector.
void attach_features(Samples& samples, const FeatureJoin& join);

}  // namespace v2c::prep
