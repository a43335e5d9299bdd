#include "pipeline/io/features.h"

#include <H5Cpp.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <filesystem>
#include <set>

#include "pipeline/core/error.h"
#include "pipeline/io/h5_probe.h"
#include "pipeline/io/tsv.h"

namespace v2c::features {
namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string extension_of(const std::string& path) { return lower(std::filesystem::path(path).extension().string()); }

void require_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw io_error(path, ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw io_error(path, ": is a directory, expected a file");
}

std::vector<std::string> read_names(const std::string& names_path, const std::string& values_path, Eigen::Index rows) {
  if (names_path.empty())
    throw usage_error(values_path, ": a .npy feature file needs a names file (one id per line, line i = row i)");
  const std::vector<TextLine> lines = read_lines(names_path, false);
  if (static_cast<Eigen::Index>(lines.size()) != rows)
    throw input_error("names file ", names_path, " has ", lines.size(), " ids but feature file ", values_path, " has ",
                      rows, " rows");
  std::vector<std::string> ids;
  ids.reserve(lines.size());
  for (const TextLine& line : lines) {
    if (line.text.empty()) throw input_error(names_path, " line ", line.number, ": empty id");
    ids.push_back(line.text);
  }
  return ids;
}

// ---- HDF5 ----------------------------------------------------------------------------------

std::string root_names(const H5::H5File& file) {
  std::string names;
  const hsize_t n = file.getNumObjs();
  for (hsize_t k = 0; k < n && k < 20; ++k) names += (k ? ", '" : "'") + file.getObjnameByIdx(k) + "'";
  return names.empty() ? "none" : names;
}

FeatureTable read_h5(const std::string& path, const FeatureOptions& options) {
  require_file(path);
  H5::Exception::dontPrint();
  FeatureTable table;
  const h5::FileStrings strings = h5::probe_file(path);
  try {
    H5::H5File file;
    try {
      file.openFile(path, H5F_ACC_RDONLY);
    } catch (const H5::Exception&) {
      throw input_error(path, ": cannot open as an HDF5 file");
    }
    for (const std::string* name : {&options.h5_values, &options.h5_ids})
      if (!file.nameExists(*name))
        throw input_error(path, ": no dataset '", *name, "'; top-level objects: ", root_names(file));

    H5::DataSet values_ds = file.openDataSet(options.h5_values);
    if (values_ds.getTypeClass() != H5T_FLOAT)
      throw input_error(path, ": dataset '", options.h5_values, "' must hold floating-point values");
    H5::DataSpace values_space = values_ds.getSpace();
    const int rank = values_space.getSimpleExtentNdims();
    hsize_t dims[H5S_MAX_RANK] = {};
    values_space.getSimpleExtentDims(dims);
    if (rank != 2) {
      std::string shape;
      for (int k = 0; k < rank; ++k) shape += cat(k ? ", " : "", dims[k]);
      throw input_error(path, ": dataset '", options.h5_values, "' must be 2-D (stimuli x features), found shape (",
                        shape, ")");
    }
    if (dims[0] == 0 || dims[1] == 0 || dims[0] > INT_MAX || dims[1] > INT_MAX)
      throw input_error(path, ": dataset '", options.h5_values, "' has unusable shape (", dims[0], ", ", dims[1], ")");
    table.values.resize(static_cast<Eigen::Index>(dims[0]), static_cast<Eigen::Index>(dims[1]));
    values_ds.read(table.values.data(), H5::PredType::NATIVE_FLOAT);

    H5::DataSet ids_ds = file.openDataSet(options.h5_ids);
    if (ids_ds.getTypeClass() != H5T_STRING)
      throw input_error(path, ": dataset '", options.h5_ids, "' must hold strings (fixed or variable length)");
    H5::DataSpace ids_space = ids_ds.getSpace();
    hsize_t n_ids = 0;
    if (ids_space.getSimpleExtentNdims() != 1)
      throw input_error(path, ": dataset '", options.h5_ids, "' must be 1-D, found ", ids_space.getSimpleExtentNdims(),
                        " dimensions");
    ids_space.getSimpleExtentDims(&n_ids);
    if (n_ids != dims[0])
      throw input_error(path, ": dataset '", options.h5_ids, "' has ", n_ids, " ids but '", options.h5_values, "' has ",
                        dims[0], " rows");

    table.ids = h5::dataset_strings(strings, path, options.h5_ids);  // read by the probe (h5_probe.h)
    for (size_t k = 0; k < table.ids.size(); ++k)
      if (table.ids[k].empty()) throw input_error(path, ": dataset '", options.h5_ids, "' entry ", k, " is empty");
  } catch (const H5::Exception& e) {
    throw input_error(path, ": HDF5 error in ", e.getFuncName(), ": ", e.getDetailMsg());
  }
  return table;
}

// ---- CSV/TSV -------------------------------------------------------------------------------

FeatureTable read_delimited(const std::string& path) {
  const Table t = read_table(path, 0, true);
  if (t.columns.size() < 2)
    throw input_error(path, ": expected a header with an id column and at least one feature column, found ",
                      t.columns.size(), " column(s)");
  if (t.rows.empty()) throw input_error(path, ": no feature rows after the header");
  FeatureTable table;
  const auto n = static_cast<Eigen::Index>(t.rows.size());
  const auto dim = static_cast<Eigen::Index>(t.columns.size() - 1);
  table.values.resize(n, dim);
  table.ids.reserve(t.rows.size());
  for (size_t r = 0; r < t.rows.size(); ++r) {
    if (t.cell(r, 0).empty()) throw input_error(t.where(r, 0), ": empty id");
    table.ids.push_back(t.cell(r, 0));
    for (Eigen::Index c = 0; c < dim; ++c)
      table.values(static_cast<Eigen::Index>(r), c) = static_cast<float>(t.number(r, static_cast<int>(c + 1)));
  }
  return table;
}

std::string quoted_list(const std::vector<std::string>& items, size_t max_items) {
  std::string out;
  for (size_t k = 0; k < items.size() && k < max_items; ++k) out += (k ? ", '" : "'") + items[k] + "'";
  if (items.size() > max_items) out += ", ...";
  return out;
}

// Drops later rows of an id whose vector equals its first row's; differing vectors are an error.
void merge_duplicates(FeatureTable& table) {
  std::unordered_map<std::string, Eigen::Index> first_row;
  std::vector<Eigen::Index> keep;
  keep.reserve(table.ids.size());
  for (size_t k = 0; k < table.ids.size(); ++k) {
    const auto r = static_cast<Eigen::Index>(k);
    auto [it, inserted] = first_row.emplace(table.ids[k], r);
    if (inserted) {
      keep.push_back(r);
      continue;
    }
    if (table.values.row(r) != table.values.row(it->second))
      throw input_error(table.source, ": duplicate id '", table.ids[k], "' (rows ", it->second + 1, " and ", r + 1,
                        ") with different feature vectors");
    if (std::find(table.merged_duplicates.begin(), table.merged_duplicates.end(), table.ids[k]) ==
        table.merged_duplicates.end())
      table.merged_duplicates.push_back(table.ids[k]);
  }
  if (keep.size() == table.ids.size()) return;
  MatrixF values(static_cast<Eigen::Index>(keep.size()), table.values.cols());
  std::vector<std::string> ids;
  ids.reserve(keep.size());
  for (size_t k = 0; k < keep.size(); ++k) {
    values.row(static_cast<Eigen::Index>(k)) = table.values.row(keep[k]);
    ids.push_back(std::move(table.ids[static_cast<size_t>(keep[k])]));
  }
  table.values = std::move(values);
  table.ids = std::move(ids);
}

}  // namespace

int FeatureTable::find(const std::string& id) const {
  V2C_ASSERT(index_.size() == ids.size(), "FeatureTable::find() before build_index() (", source, ")");
  auto it = index_.find(id);
  return it == index_.end() ? -1 : it->second;
}

void FeatureTable::build_index() {
  V2C_ASSERT(static_cast<Eigen::Index>(ids.size()) == values.rows(), source, ": ", ids.size(), " ids for ",
             values.rows(), " rows");
  index_.clear();
  index_.reserve(ids.size());
  for (size_t k = 0; k < ids.size(); ++k) {
    auto [it, inserted] = index_.emplace(ids[k], static_cast<int>(k));
    if (!inserted)
      throw input_error(source, ": duplicate id '", ids[k], "' (rows ", it->second + 1, " and ", k + 1, ")");
  }
}

FeatureTable read_features(const std::string& path, const FeatureOptions& options) {
  const std::string ext = extension_of(path);
  FeatureTable table;
  if (ext == ".npy") {
    table.values = npy::read_npy(path);
    table.ids = read_names(options.names_path, path, table.values.rows());
  } else if (ext == ".h5" || ext == ".hdf5") {
    table = read_h5(path, options);
  } else if (ext == ".csv" || ext == ".tsv") {
    table = read_delimited(path);
  } else {
    throw input_error(path, ": unknown feature file type '", ext, "'; expected .npy, .h5/.hdf5, .csv or .tsv");
  }
  table.source = path;

  for (Eigen::Index r = 0; r < table.values.rows(); ++r)
    for (Eigen::Index c = 0; c < table.values.cols(); ++c)
      if (!std::isfinite(table.values(r, c)))
        throw input_error(path, ": feature vector of '", table.ids[static_cast<size_t>(r)], "' (row ", r + 1,
                          ") has a non-finite value ", table.values(r, c), " in column ", c + 1);
  merge_duplicates(table);
  table.build_index();

  for (Eigen::Index r = 0; r < table.values.rows(); ++r) {
    if (options.l2_normalize) {
      const double norm = table.values.row(r).cast<double>().norm();
      if (!(norm > 0))
        throw input_error(path, ": feature vector of '", table.ids[static_cast<size_t>(r)],
                          "' is all zeros and cannot be L2-normalised");
      table.values.row(r) = (table.values.row(r).cast<double>() / norm).cast<float>();
    }
  }
  return table;
}

MatrixF lookup(const FeatureTable& table, const std::vector<std::string>& stimulus_ids, const std::string& context) {
  MatrixF out(static_cast<Eigen::Index>(stimulus_ids.size()), table.values.cols());
  std::vector<std::string> missing;
  std::set<std::string> missing_seen;
  for (size_t k = 0; k < stimulus_ids.size(); ++k) {
    const int row = table.find(stimulus_ids[k]);
    if (row < 0) {
      if (missing_seen.insert(stimulus_ids[k]).second) missing.push_back(stimulus_ids[k]);
      continue;
    }
    out.row(static_cast<Eigen::Index>(k)) = table.values.row(row);
  }
  if (missing.empty()) return out;

  std::string message = cat("stimulus '", missing.front(), "' has no feature vector in ", table.source);
  if (missing.size() > 1)
    message += cat(" (", missing.size() - 1, " more stimuli missing: ",
                   quoted_list(std::vector<std::string>(missing.begin() + 1, missing.end()), 5), ")");
  const std::string wanted = lower(missing.front());
  for (const std::string& id : table.ids)
    if (lower(id) == wanted) {
      message += cat("; did you mean '", id, "'?");
      break;
    }
  message += cat("; it has ", table.ids.size(), " ids, e.g. ", quoted_list(table.ids, 5),
                 " (map stimulus names to feature ids with an alias table)");
  if (!context.empty()) message = context + ": " + message;
  throw input_error(message);
}

std::map<std::string, std::string> read_aliases(const std::string& path, const std::string& from_column,
                                                const std::string& to_column) {
  const Table t = read_table(path, 0, true);
  const int from = t.column(from_column);
  const int to = t.column(to_column);
  std::map<std::string, std::string> aliases;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const std::string& key = t.cell(r, from);
    const std::string& target = t.cell(r, to);
    if (key.empty()) throw input_error(t.where(r, from), ": empty name");
    if (target.empty() || target == "n/a") continue;
    auto [it, inserted] = aliases.emplace(key, target);
    if (!inserted && it->second != target)
      throw input_error(t.where(r, from), ": '", key, "' is mapped twice, to '", it->second, "' and to '", target, "'");
  }
  return aliases;
}

std::vector<std::string> apply_aliases(const std::map<std::string, std::string>& aliases,
                                       const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const std::string& id : ids) {
    auto it = aliases.find(id);
    out.push_back(it == aliases.end() ? id : it->second);
  }
  return out;
}

}  // namespace v2c::features
