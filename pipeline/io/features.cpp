#include "pipeline/io/features.h"

#include <H5Cpp.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "pipeline/core/error.h"
#include "pipeline/core/output.h"
#include "pipeline/core/parse.h"
#include "pipeline/io/tsv.h"

namespace v2c::features {
namespace {

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

std::string extension_of(const std::string& path) {
  return lower(std::filesystem::path(path).extension().string());
}

void require_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw io_error(path, ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw io_error(path, ": is a directory, expected a file");
}

// ---- .npy ----------------------------------------------------------------------------------
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
// magic "\x93NUMPY", major, minor, header length (uint16 LE in 1.0, uint32 LE in 2.0/3.0),
// then a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}.

// The part of Python literal syntax that .npy headers use.
struct PyValue {
  enum Kind { string, boolean, integer, none, tuple, list, dict } kind = none;
  std::string text;
  bool flag = false;
  int64_t number = 0;
  std::vector<PyValue> items;                            // tuple, list
  std::vector<std::pair<std::string, PyValue>> entries;  // dict
};

class PyLiteralParser {
 public:
  PyLiteralParser(const std::string& path, const std::string& text) : path_(path), s_(text) {}

  PyValue parse_all() {
    PyValue v = value();
    skip_space();
    if (i_ != s_.size()) fail("unexpected text after the header dict");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw input_error(path_, ": malformed .npy header (", what, " at character ", i_, "): ", s_);
  }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    skip_space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  PyValue value() {
    skip_space();
    if (i_ >= s_.size()) fail("unexpected end");
    const char c = s_[i_];
    PyValue v;
    if (c == '\'' || c == '"') {
      v.kind = PyValue::string;
      ++i_;
      while (i_ < s_.size() && s_[i_] != c) {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
        v.text += s_[i_++];
      }
      if (i_ >= s_.size()) fail("unterminated string");
      ++i_;
    } else if (c == '{') {
      v.kind = PyValue::dict;
      ++i_;
      while (!eat('}')) {
        PyValue key = value();
        if (key.kind != PyValue::string) fail("dict key is not a string");
        if (!eat(':')) fail("expected ':'");
        v.entries.emplace_back(key.text, value());
        if (!eat(',')) {
          if (!eat('}')) fail("expected ',' or '}'");
          break;
        }
      }
    } else if (c == '(' || c == '[') {
      const char close = c == '(' ? ')' : ']';
      v.kind = c == '(' ? PyValue::tuple : PyValue::list;
      ++i_;
      while (!eat(close)) {
        v.items.push_back(value());
        if (!eat(',')) {
          if (!eat(close)) fail(cat("expected ',' or '", close, "'"));
          break;
        }
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      v.kind = PyValue::integer;
      size_t start = i_++;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (!parse_int(std::string_view(s_).substr(start, i_ - start), v.number)) fail("bad integer");
      if (i_ < s_.size() && (s_[i_] == 'L' || s_[i_] == 'l')) ++i_;  // Python 2 long
    } else if (s_.compare(i_, 4, "True") == 0) {
      v.kind = PyValue::boolean, v.flag = true, i_ += 4;
    } else if (s_.compare(i_, 5, "False") == 0) {
      v.kind = PyValue::boolean, v.flag = false, i_ += 5;
    } else if (s_.compare(i_, 4, "None") == 0) {
      v.kind = PyValue::none, i_ += 4;
    } else {
      fail("unexpected character");
    }
    return v;
  }

  const std::string& path_;
  const std::string& s_;
  size_t i_ = 0;
};

float element_to_float(const unsigned char* p, size_t size, bool swap) {
  unsigned char b[8];
  for (size_t k = 0; k < size; ++k) b[k] = swap ? p[size - 1 - k] : p[k];
  if (size == 2) {
    uint16_t h;
    std::memcpy(&h, b, 2);
    return half_to_float(h);
  }
  if (size == 4) {
    float f;
    std::memcpy(&f, b, 4);
    return f;
  }
  double d;
  std::memcpy(&d, b, 8);
  return static_cast<float>(d);
}

MatrixF read_npy(const std::string& path) {
  require_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(path, ": cannot open for reading: ", std::strerror(errno));
  const auto file_size = static_cast<unsigned long long>(std::filesystem::file_size(path));

  unsigned char prefix[12] = {};
  in.read(reinterpret_cast<char*>(prefix), 10);
  if (in.gcount() < 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0)
    throw input_error(path, ": not a NumPy .npy file (magic string \\x93NUMPY missing)");
  const int major = prefix[6], minor = prefix[7];
  unsigned long long header_len = 0;
  size_t prefix_len = 10;
  if (major == 1) {
    header_len = prefix[8] | (prefix[9] << 8);
  } else if (major == 2 || major == 3) {
    in.read(reinterpret_cast<char*>(prefix + 10), 2);
    if (in.gcount() < 2) throw input_error(path, ": truncated .npy header");
    header_len = static_cast<unsigned long long>(prefix[8]) | (static_cast<unsigned long long>(prefix[9]) << 8) |
                 (static_cast<unsigned long long>(prefix[10]) << 16) |
                 (static_cast<unsigned long long>(prefix[11]) << 24);
    prefix_len = 12;
  } else {
    throw input_error(path, ": unsupported .npy format version ", major, ".", minor, " (supported: 1.0, 2.0, 3.0)");
  }
  if (prefix_len + header_len > file_size)
    throw input_error(path, ": truncated .npy header (header length ", header_len, ", file size ", file_size, ")");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  while (!header.empty() && (header.back() == '\n' || header.back() == ' ' || header.back() == '\0')) header.pop_back();

  const PyValue dict = PyLiteralParser(path, header).parse_all();
  if (dict.kind != PyValue::dict) throw input_error(path, ": .npy header is not a dict: ", header);
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape = nullptr;
  for (const auto& [key, val] : dict.entries) {
    if (key == "descr") descr = &val;
    else if (key == "fortran_order") fortran = &val;
    else if (key == "shape") shape = &val;
  }
  if (!descr || !fortran || !shape)
    throw input_error(path, ": .npy header lacks one of 'descr', 'fortran_order', 'shape': ", header);
  if (descr->kind != PyValue::string)
    throw input_error(path, ": structured .npy dtypes are not supported; expected a float array, header: ", header);
  if (fortran->kind != PyValue::boolean) throw input_error(path, ": .npy 'fortran_order' is not True/False: ", header);
  if (shape->kind != PyValue::tuple) throw input_error(path, ": .npy 'shape' is not a tuple: ", header);

  const std::string& dtype = descr->text;
  if (dtype.size() != 3 || (dtype[0] != '<' && dtype[0] != '>' && dtype[0] != '=') || dtype[1] != 'f' ||
      (dtype[2] != '2' && dtype[2] != '4' && dtype[2] != '8'))
    throw input_error(path, ": unsupported .npy dtype '", dtype,
                      "'; expected float16/32/64 ('<f2', '<f4', '<f8' or big-endian '>f4', '>f8')");
  const size_t item_size = static_cast<size_t>(dtype[2] - '0');
  const bool file_big_endian = dtype[0] == '>' || (dtype[0] == '=' && std::endian::native == std::endian::big);
  const bool swap = file_big_endian != (std::endian::native == std::endian::big);

  std::string shape_text = "(";
  for (size_t k = 0; k < shape->items.size(); ++k) {
    if (shape->items[k].kind != PyValue::integer || shape->items[k].number < 0)
      throw input_error(path, ": .npy 'shape' has a non-integer entry: ", header);
    shape_text += cat(k ? ", " : "", shape->items[k].number);
  }
  shape_text += shape->items.size() == 1 ? ",)" : ")";
  if (shape->items.size() != 2)
    throw input_error(path, ": expected a 2-D array (stimuli x features), found shape ", shape_text);
  const long long rows = shape->items[0].number, cols = shape->items[1].number;
  if (rows == 0 || cols == 0) throw input_error(path, ": empty feature array, shape ", shape_text);
  if (rows > INT_MAX || cols > INT_MAX) throw input_error(path, ": array too large, shape ", shape_text);

  const unsigned long long count = static_cast<unsigned long long>(rows) * static_cast<unsigned long long>(cols);
  const unsigned long long data_bytes = file_size - prefix_len - header_len;
  if (data_bytes != count * item_size)
    throw input_error(path, ": data size does not match the header: shape ", shape_text, " of ", dtype, " needs ",
                      count * item_size, " bytes, file holds ", data_bytes);
  std::vector<unsigned char> raw(count * item_size);
  in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(raw.size()));
  if (static_cast<unsigned long long>(in.gcount()) != raw.size()) throw io_error(path, ": read failed");

  MatrixF values(rows, cols);
  const bool fortran_order = fortran->flag;
  for (unsigned long long k = 0; k < count; ++k) {
    const float v = element_to_float(raw.data() + k * item_size, item_size, swap);
    if (fortran_order)
      values(static_cast<Eigen::Index>(k % rows), static_cast<Eigen::Index>(k / rows)) = v;
    else
      values(static_cast<Eigen::Index>(k / cols), static_cast<Eigen::Index>(k % cols)) = v;
  }
  return values;
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
      throw input_error(path, ": dataset '", options.h5_ids, "' must be 1-D, found ",
                        ids_space.getSimpleExtentNdims(), " dimensions");
    ids_space.getSimpleExtentDims(&n_ids);
    if (n_ids != dims[0])
      throw input_error(path, ": dataset '", options.h5_ids, "' has ", n_ids, " ids but '", options.h5_values,
                        "' has ", dims[0], " rows");

    H5::StrType str_type = ids_ds.getStrType();
    table.ids.reserve(n_ids);
    if (str_type.isVariableStr()) {
      std::vector<char*> buffer(n_ids, nullptr);
      ids_ds.read(buffer.data(), str_type);
      for (char* s : buffer) table.ids.emplace_back(s ? s : "");
      H5::DataSet::vlenReclaim(buffer.data(), str_type, ids_space);
    } else {
      const size_t width = str_type.getSize();
      std::vector<char> buffer(n_ids * width);
      ids_ds.read(buffer.data(), str_type);
      const bool space_padded = str_type.getStrpad() == H5T_STR_SPACEPAD;
      for (hsize_t k = 0; k < n_ids; ++k) {
        std::string s(buffer.data() + k * width, width);
        s.resize(std::strlen(s.c_str()));
        if (space_padded)
          while (!s.empty() && s.back() == ' ') s.pop_back();
        table.ids.push_back(std::move(s));
      }
    }
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

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float32.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf / NaN
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));         // rebias 15 -> 127
}

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
    table.values = read_npy(path);
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

namespace {
template <class M>
void write_npy_matrix(const std::string& path, const M& m, const char* descr) {
  static_assert(std::endian::native == std::endian::little, "write_npy writes little-endian data");
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" +
                       std::to_string(m.rows()) + ", " + std::to_string(m.cols()) + "), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  AtomicOutput out(path, true);
  std::ofstream f(out.temp_path(), std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = uint16_t(header.size());
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  f.write(reinterpret_cast<const char*>(m.data()), std::streamsize(m.size() * sizeof(typename M::Scalar)));
  f.close();
  if (!f) throw io_error("cannot write '", path, "'");
  out.commit();
}
}  // namespace

void write_npy(const std::string& path, const MatrixF& m) { write_npy_matrix(path, m, "<f4"); }
void write_npy(const std::string& path, const MatrixD& m) { write_npy_matrix(path, m, "<f8"); }

}  // namespace v2c::features
