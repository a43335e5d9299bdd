#include "pipeline/prep/feature_join.h"

#include <map>
#include <set>

#include "pipeline/core/error.h"
#include "pipeline/core/log.h"
#include "pipeline/io/features.h"

namespace v2c::prep {

namespace {

void attach_onehot(Samples& out) {
  const std::set<std::string> distinct(out.stimulus.begin(), out.stimulus.end());
  out.feature_ids.assign(distinct.begin(), distinct.end());
  std::map<std::string, int32_t> row_of;
  for (const auto& id : out.feature_ids) row_of.emplace(id, int32_t(row_of.size()));
  const int64_t k = int64_t(out.feature_ids.size());
  out.features = MatrixF::Identity(k, k);
  out.feature_row.clear();
  for (const auto& s : out.stimulus) out.feature_row.push_back(row_of.at(s));
  out.feature_source = kOneHot;
}

}  // namespace

void attach_features(Samples& out, const FeatureJoin& join) {
  if (join.features == kOneHot) return attach_onehot(out);
  const int64_t n_samples = out.n_samples();
  features::FeatureOptions opts;
  opts.names_path = join.feature_names;
  opts.l2_normalize = join.l2_normalize;
  const features::FeatureTable table = features::read_features(join.features, opts);
  if (!table.merged_duplicates.empty()) {
    std::string ids;
    for (const auto& id : table.merged_duplicates) ids += (ids.empty() ? "'" : ", '") + id + "'";
    log::warn("'", join.features, "' lists ", ids, " more than once with identical vectors; the first row is used");
  }
  std::map<std::string, std::string> aliases;
  if (!join.feature_aliases.empty())
    aliases = features::read_aliases(join.feature_aliases, join.alias_from_column, join.alias_to_column);
  std::map<std::string, int32_t> row_of;  // feature id -> row of out.features
  std::vector<std::string> wanted;
  std::vector<int64_t> keep;
  std::vector<int32_t> feature_row;
  std::set<std::string> missing;
  for (int64_t i = 0; i < n_samples; ++i) {
    auto it = aliases.find(out.stimulus[size_t(i)]);
    const std::string id = it == aliases.end() ? out.stimulus[size_t(i)] : it->second;
    if (table.find(id) < 0) {
      if (join.missing == "error")
        throw input_error("stimulus '", out.stimulus[size_t(i)], "'",
                          it == aliases.end() ? std::string() : " (feature id '" + id + "')",
                          " has no feature vector in '", join.features,
                          "'; add it, alias it (--feature-aliases), exclude it (prepare.exclude_stimuli) or set "
                          "prepare.missing_features: drop");
      missing.insert(out.stimulus[size_t(i)]);
      continue;
    }
    if (!row_of.count(id)) row_of[id] = int32_t(wanted.size()), wanted.push_back(id);
    keep.push_back(i);
    feature_row.push_back(row_of[id]);
  }
  if (!missing.empty()) {
    std::string names;
    for (const auto& m : missing) names += (names.empty() ? "" : ", ") + m;
    log::warn("dropped ", n_samples - int64_t(keep.size()), " samples whose stimulus has no feature vector: ", names);
    if (keep.empty()) throw input_error("no sample has a feature vector in '", join.features, "'");
    keep_samples(out, keep);
  }
  out.feature_row = std::move(feature_row);
  out.feature_ids = wanted;
  out.features = features::lookup(table, wanted, "stimulus features");
  out.feature_source = join.features;
}

}  // namespace v2c::prep
