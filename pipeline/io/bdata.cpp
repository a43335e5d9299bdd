#include "pipeline/io/bdata.h"

#include <H5Cpp.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <utility>

#include "pipeline/core/error.h"
#include "pipeline/core/parse.h"
#include "pipeline/io/h5_probe.h"

namespace v2c::bdata {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- HDF5 helpers (a foreign file: plain H5Cpp, no artifact conventions) ----

bool link_exists(const H5::H5File& file, const std::string& name) {
  // Walk the path so that a missing intermediate group is a plain "no".
  size_t start = 0;
  while (true) {
    const size_t slash = name.find('/', start);
    const std::string prefix = name.substr(0, slash);
    if (H5Lexists(file.getId(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

bool is_group(const H5::H5File& file, const std::string& name) {
  return link_exists(file, name) && file.childObjType(name) == H5O_TYPE_GROUP;
}
bool is_dataset(const H5::H5File& file, const std::string& name) {
  return link_exists(file, name) && file.childObjType(name) == H5O_TYPE_DATASET;
}

// Names of the members of a group, groups with a trailing '/'.
std::vector<std::string> members(const H5::Group& group) {
  std::vector<std::string> out;
  for (hsize_t i = 0; i < group.getNumObjs(); ++i) {
    std::string name = group.getObjnameByIdx(i);
    if (group.childObjType(name) == H5O_TYPE_GROUP) name += "/";
    out.push_back(name);
  }
  return out;
}

std::vector<int64_t> shape_of(const H5::DataSet& ds) {
  H5::DataSpace space = ds.getSpace();
  std::vector<hsize_t> dims(size_t(space.getSimpleExtentNdims()));
  if (!dims.empty()) space.getSimpleExtentDims(dims.data());
  return std::vector<int64_t>(dims.begin(), dims.end());
}

std::string shape_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s + "]";
}

// A numeric dataset of rank 1 or 2 as a [rows x cols] matrix (rank 1 read as one row).
MatrixD read_numeric(const H5::DataSet& ds, const std::string& file, const std::string& name) {
  const H5T_class_t cls = ds.getTypeClass();
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    throw input_error("'", file, "' dataset '", name, "': expected numbers, found HDF5 type class ", int(cls));
  const auto dims = shape_of(ds);
  if (dims.size() != 1 && dims.size() != 2)
    throw input_error("'", file, "' dataset '", name, "': expected 2 dims, found ", dims.size(), " ", shape_text(dims));
  MatrixD m(dims.size() == 2 ? dims[0] : 1, dims.back());
  if (m.size() > 0) ds.read(m.data(), H5::PredType::NATIVE_DOUBLE);
  return m;
}

// Every string of a string dataset (scalar or 1-D; fixed-length or variable-length), as the
// file's probe read it (h5_probe.h: this process never reads HDF5 strings itself).
std::vector<std::string> read_strings(const h5::FileStrings& strings, const H5::DataSet& ds, const std::string& file,
                                      const std::string& name) {
  if (ds.getTypeClass() != H5T_STRING)
    throw input_error("'", file, "' dataset '", name, "': expected strings, found HDF5 type class ",
                      int(ds.getTypeClass()));
  return h5::dataset_strings(strings, file, name);
}

// vmap as bdpy writes it: /vmap/<key>/<value as text> -> scalar label string.
std::map<std::string, std::map<double, std::string>> read_vmap(const H5::H5File& file, const std::string& path,
                                                               const h5::FileStrings& strings) {
  std::map<std::string, std::map<double, std::string>> vmap;
  if (!link_exists(file, "vmap")) return vmap;
  if (!is_group(file, "vmap")) throw input_error("'", path, "': /vmap is not a group");
  H5::Group root = file.openGroup("vmap");
  for (const std::string& member : members(root)) {
    if (member.back() != '/')
      throw input_error("'", path, "': /vmap/", member,
                        " is a dataset; expected a group /vmap/<key>/ of value -> label datasets");
    const std::string key = member.substr(0, member.size() - 1);
    auto& labels = vmap[key];
    H5::Group group = root.openGroup(key);
    for (const std::string& entry : members(group)) {
      const std::string where = "/vmap/" + key + "/" + entry;
      double value = 0;
      if (entry.back() == '/' || !parse_double(entry, value))
        throw input_error("'", path, "': ", where, ": expected a dataset named by a number (the value of '", key,
                          "' it labels)");
      const auto text = read_strings(strings, group.openDataSet(entry), path, where);
      if (text.size() != 1)
        throw input_error("'", path, "': ", where, ": expected one label string, found ", text.size());
      labels[value] = text[0];
    }
  }
  return vmap;
}

std::string list_keys(const std::vector<std::string>& keys) {
  constexpr size_t kMax = 60;
  std::string s;
  for (size_t i = 0; i < keys.size() && i < kMax; ++i) s += (i ? ", '" : "'") + keys[i] + "'";
  if (keys.size() > kMax) s += cat(" and ", keys.size() - kMax, " more");
  return keys.empty() ? "(none)" : s;
}

Error unknown_key(const BData& bd, const std::string& key, const std::string& context) {
  return input_error("'", bd.path, "' has no metadata key '", key, "'", context,
                     "; available keys: ", list_keys(bd.keys));
}

// Whole-string match of `pattern`, where '*' stands for any run of characters.
bool glob_match(const std::string& pattern, const std::string& text) {
  size_t p = 0, t = 0, star = std::string::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p, ++t;
    } else if (star != std::string::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// ---- expressions ----

struct Token {
  enum Kind { word, op, end } kind;
  std::string text;
  size_t pos;  // 0-based offset in the expression
};

bool is_operator(char c) { return c == '(' || c == ')' || c == '=' || c == '|' || c == '+' || c == '&' || c == '-'; }

std::vector<Token> tokenize(const std::string& expr) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < expr.size()) {
    const char c = expr[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (is_operator(c)) {
      tokens.push_back({Token::op, std::string(1, c), i++});
    } else {
      const size_t start = i;
      while (i < expr.size() && !is_operator(expr[i]) && !std::isspace(static_cast<unsigned char>(expr[i]))) ++i;
      tokens.push_back({Token::word, expr.substr(start, i - start), start});
    }
  }
  tokens.push_back({Token::end, "", expr.size()});
  return tokens;
}

// Recursive descent over
//   expr := term (('|' | '+' | '&' | '-') term)*      left to right, one precedence (as bdpy)
//   term := '(' expr ')' | KEY ['=' ['-'] NUMBER]
class Selector {
 public:
  Selector(const BData& bd, const std::string& expr) : bd_(bd), expr_(expr), tokens_(tokenize(expr)) {}

  std::vector<char> run() {
    std::vector<char> mask = expression();
    if (peek().kind != Token::end) fail("expected an operator (| & + -) or the end");
    return mask;
  }

 private:
  using Mask = std::vector<char>;

  const Token& peek() const { return tokens_[next_]; }
  const Token& take() { return tokens_[next_++]; }
  bool at_op(const char* ops) const {
    return peek().kind == Token::op && std::string(ops).find(peek().text[0]) != std::string::npos;
  }

  [[noreturn]] void fail(const std::string& what) const {
    const Token& t = peek();
    throw usage_error("column selection '", expr_, "': ", what, " at ",
                      t.kind == Token::end ? std::string("the end") : cat("'", t.text, "' (offset ", t.pos, ")"),
                      "; syntax: KEY = NUMBER, KEY, combined with | & - and parentheses");
  }

  Mask expression() {
    Mask mask = term();
    while (at_op("|+&-")) {
      const char op = take().text[0];
      const Mask rhs = term();
      for (size_t c = 0; c < mask.size(); ++c) {
        if (op == '|' || op == '+')
          mask[c] = mask[c] || rhs[c];
        else if (op == '&')
          mask[c] = mask[c] && rhs[c];
        else
          mask[c] = mask[c] && !rhs[c];
      }
    }
    return mask;
  }

  Mask term() {
    if (at_op("(")) {
      take();
      Mask mask = expression();
      if (!at_op(")")) fail("expected ')'");
      take();
      return mask;
    }
    if (peek().kind != Token::word) fail("expected a metadata key or '('");
    const std::string key = take().text;
    double value = 1;
    if (at_op("=")) {
      take();
      bool negative = false;
      if (at_op("-")) take(), negative = true;
      if (peek().kind != Token::word || !parse_double(peek().text, value)) fail("expected a number after '='");
      take();
      if (negative) value = -value;
    }
    return compare(key, value);
  }

  // Columns where (any key matching) `key` has metadata value `value`.
  Mask compare(const std::string& key, double value) const {
    std::vector<int64_t> rows;
    if (key.find('*') == std::string::npos) {
      const int64_t k = bd_.key_index(key);
      if (k < 0) throw unknown_key(bd_, key, cat(" (in column selection '", expr_, "')"));
      rows.push_back(k);
    } else {
      for (size_t k = 0; k < bd_.keys.size(); ++k)
        if (glob_match(key, bd_.keys[k])) rows.push_back(int64_t(k));
      if (rows.empty())
        throw input_error("'", bd_.path, "' has no metadata key matching '", key, "' (in column selection '", expr_,
                          "'); available keys: ", list_keys(bd_.keys));
    }
    Mask mask(size_t(bd_.n_columns()), 0);
    for (int64_t k : rows)
      for (int64_t c = 0; c < bd_.n_columns(); ++c)
        if (bd_.metadata(k, c) == value) mask[size_t(c)] = 1;
    return mask;
  }

  const BData& bd_;
  const std::string& expr_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
};

}  // namespace

int64_t BData::key_index(const std::string& key) const {
  for (size_t k = 0; k < keys.size(); ++k)
    if (keys[k] == key) return int64_t(k);
  return -1;
}

BData read_bdata(const std::string& path) {
  H5::Exception::dontPrint();  // errors are reported through v2c::Error
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw io_error("cannot open BData file '", path, "': no such file");
  std::unique_ptr<H5::H5File> file;
  h5::FileStrings strings;
  try {
    if (!H5::H5File::isHdf5(path)) throw input_error("'", path, "' is not an HDF5 file (BData files are HDF5)");
    strings = h5::probe_file(path);
    file = std::make_unique<H5::H5File>(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    throw io_error("cannot open HDF5 file '", path, "': ", e.getDetailMsg());
  }

  std::string current = "/";
  try {
    // bdpy's load() prefers the legacy names when present.
    const std::string data_name = is_dataset(*file, "dataSet") ? "dataSet" : "dataset";
    const std::string meta_name = is_group(*file, "metaData") ? "metaData" : "metadata";
    const std::vector<std::string> required = {data_name, meta_name + "/key", meta_name + "/value"};
    std::vector<std::string> missing;
    for (const auto& name : required)
      if (!is_dataset(*file, name)) missing.push_back("/" + name);
    if (!missing.empty()) {
      std::string found;
      for (const auto& m : members(file->openGroup("/"))) found += (found.empty() ? "/" : ", /") + m;
      if (is_group(*file, meta_name))
        for (const auto& m : members(file->openGroup(meta_name))) found += ", /" + meta_name + "/" + m;
      throw input_error(
          "'", path, "' is not a BData file: expected datasets /dataset, /metadata/key, ",
          "/metadata/value, optionally /metadata/description (or the legacy /dataSet, /metaData/...); missing ",
          list_keys(missing), "; found ", found.empty() ? std::string("nothing") : found);
    }

    BData bd;
    bd.path = path;
    current = "/" + data_name;
    const H5::DataSet data_ds = file->openDataSet(data_name);
    if (shape_of(data_ds).size() != 2)
      throw input_error("'", path, "' dataset ", current, ": expected [n_samples x n_columns], found ",
                        shape_text(shape_of(data_ds)));
    bd.dataset = read_numeric(data_ds, path, current);

    current = "/" + meta_name + "/key";
    bd.keys = read_strings(strings, file->openDataSet(meta_name + "/key"), path, current);
    current = "/" + meta_name + "/value";
    const H5::DataSet value_ds = file->openDataSet(meta_name + "/value");
    const auto value_shape = shape_of(value_ds);
    if (value_shape.size() == 1 && bd.keys.size() != 1)
      throw input_error("'", path, "' dataset ", current, " is 1-D ", shape_text(value_shape), " but there are ",
                        bd.keys.size(), " keys; expected [n_keys x n_columns]");
    bd.metadata = read_numeric(value_ds, path, current);
    const std::string desc_name = meta_name + "/description";
    if (is_dataset(*file, desc_name)) {
      current = "/" + desc_name;
      bd.descriptions = read_strings(strings, file->openDataSet(desc_name), path, current);
    } else {
      bd.descriptions.assign(bd.keys.size(), "");
    }

    if (bd.metadata.cols() != bd.dataset.cols())
      throw input_error("'", path, "': /", meta_name, "/value has ", bd.metadata.cols(), " columns ",
                        shape_text({bd.metadata.rows(), bd.metadata.cols()}), " but /", data_name, " has ",
                        bd.dataset.cols(), " ", shape_text({bd.dataset.rows(), bd.dataset.cols()}),
                        "; expected one metadata column per data column");
    if (int64_t(bd.keys.size()) != bd.metadata.rows())
      throw input_error("'", path, "': /", meta_name, "/key has ", bd.keys.size(), " keys but /", meta_name,
                        "/value has ", bd.metadata.rows(), " rows; expected one row per key");
    if (bd.descriptions.size() != bd.keys.size())
      throw input_error("'", path, "': /", meta_name, "/description has ", bd.descriptions.size(), " entries but /",
                        meta_name, "/key has ", bd.keys.size());
    for (size_t k = 0; k < bd.keys.size(); ++k)
      for (size_t j = k + 1; j < bd.keys.size(); ++j)
        if (bd.keys[k] == bd.keys[j])
          throw input_error("'", path, "': metadata key '", bd.keys[k], "' appears twice (rows ", k, " and ", j, ")");

    current = "/vmap";
    bd.vmap = read_vmap(*file, path, strings);
    return bd;
  } catch (const H5::Exception& e) {
    throw io_error("cannot read ", current, " of BData file '", path, "': ", e.getDetailMsg());
  }
}

std::vector<int64_t> select_columns(const BData& bd, const std::string& expression) {
  const std::vector<char> mask = Selector(bd, expression).run();
  std::vector<int64_t> out;
  for (size_t c = 0; c < mask.size(); ++c)
    if (mask[c]) out.push_back(int64_t(c));
  if (out.empty())
    throw input_error("column selection '", expression, "' selects no column of '", bd.path, "' (", bd.n_columns(),
                      " columns)");
  return out;
}

std::vector<double> column(const BData& bd, const std::string& key) {
  const int64_t k = bd.key_index(key);
  if (k < 0) throw unknown_key(bd, key, "");
  std::vector<int64_t> cols;
  for (int64_t c = 0; c < bd.n_columns(); ++c)
    if (bd.metadata(k, c) == 1) cols.push_back(c);
  if (cols.size() != 1)
    throw input_error("'", bd.path, "': metadata key '", key, "' flags ", cols.size(),
                      " columns (value 1); expected exactly one column");
  std::vector<double> out(size_t(bd.n_samples()));
  for (int64_t r = 0; r < bd.n_samples(); ++r) out[size_t(r)] = bd.dataset(r, cols[0]);
  return out;
}

std::string format_value(double v) {
  if (v == 0) return "0";  // also -0
  char buf[512];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  V2C_ASSERT(ec == std::errc(), "to_chars failed for ", v);
  return std::string(buf, ptr);
}

namespace {

// Per-voxel metadata of the three keys `names` for columns `cols`: [n_cols x 3]; false when a
// key is absent.
bool voxel_metadata(const BData& bd, const std::vector<int64_t>& cols, const char* const (&names)[3], MatrixD& out) {
  int64_t rows[3];
  for (int a = 0; a < 3; ++a)
    if ((rows[a] = bd.key_index(names[a])) < 0) return false;
  out.resize(int64_t(cols.size()), 3);
  for (size_t v = 0; v < cols.size(); ++v)
    for (int a = 0; a < 3; ++a) out(int64_t(v), a) = bd.metadata(rows[a], cols[v]);
  return true;
}

}  // namespace

Samples samples_from_bdata(const BData& bd, const BDataSelection& sel, const std::string& subject) {
  if (bd.n_samples() == 0) throw input_error("'", bd.path, "' has no samples (/dataset has 0 rows)");
  const std::vector<int64_t> voxels = select_columns(bd, sel.voxels);
  const std::vector<double> run = column(bd, sel.run);
  const std::vector<double> stimulus = column(bd, sel.stimulus);
  const std::vector<double> session =
      sel.session.empty() ? std::vector<double>(run.size(), 0) : column(bd, sel.session);
  const size_t n = size_t(bd.n_samples());

  Samples s;
  s.subject = subject;
  s.data.resize(bd.n_samples(), int64_t(voxels.size()));
  for (int64_t r = 0; r < bd.n_samples(); ++r)
    for (size_t v = 0; v < voxels.size(); ++v) {
      const float x = float(bd.dataset(r, voxels[v]));
      if (!std::isfinite(x))
        throw input_error("'", bd.path, "' /dataset row ", r, ", column ", voxels[v], " (selected voxel ", v,
                          "): ", bd.dataset(r, voxels[v]), " is not a finite float32 value; voxel data must be finite");
      s.data(r, int64_t(v)) = x;
    }

  // Runs in order of first appearance.
  std::map<std::pair<double, double>, int32_t> run_index;
  s.run.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(run[i]) || !std::isfinite(session[i]))
      throw input_error(
          "'", bd.path, "' sample ", i, " (0-based row) has no run: ",
          !std::isfinite(run[i]) ? cat("'", sel.run, "' is ", run[i]) : cat("'", sel.session, "' is ", session[i]));
    const auto [it, added] = run_index.try_emplace({session[i], run[i]}, int32_t(run_index.size()));
    if (added) {
      s.run_source.push_back(sel.session.empty()
                                 ? "run " + format_value(run[i])
                                 : "session " + format_value(session[i]) + " run " + format_value(run[i]));
      s.run_events.push_back(bd.path);
      s.run_volumes.push_back(0);
      s.run_tr_s.push_back(kNaN);
    }
    s.run[i] = it->second;
  }

  const auto vm = bd.vmap.find(sel.stimulus);
  s.stimulus.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(stimulus[i]))
      throw input_error("'", bd.path, "' sample ", i, " (0-based row) has no stimulus: '", sel.stimulus, "' is ",
                        stimulus[i]);
    if (vm == bd.vmap.end()) {
      s.stimulus[i] = format_value(stimulus[i]);
    } else {
      const auto label = vm->second.find(stimulus[i]);
      if (label == vm->second.end())
        throw input_error("'", bd.path, "' sample ", i, " (0-based row): '", sel.stimulus, "' value ",
                          format_value(stimulus[i]), " has no label in /vmap/", sel.stimulus, " (", vm->second.size(),
                          " labels)");
      s.stimulus[i] = label->second;
    }
  }
  s.onset_s.assign(n, 0.0);
  s.duration_s.assign(n, 0.0);
  s.volumes.assign(n, 0);

  const char* const ijk_keys[3] = {"voxel_i", "voxel_j", "voxel_k"};
  const char* const xyz_keys[3] = {"voxel_x", "voxel_y", "voxel_z"};
  MatrixD ijk;
  s.ijk.setConstant(int64_t(voxels.size()), 3, -1);
  if (voxel_metadata(bd, voxels, ijk_keys, ijk)) {
    for (int64_t v = 0; v < ijk.rows(); ++v)
      for (int a = 0; a < 3; ++a) {
        const double x = ijk(v, a);
        if (std::isnan(x)) continue;
        if (x != std::round(x) || x < 0 || x > std::numeric_limits<int32_t>::max())
          throw input_error("'", bd.path, "': metadata ", ijk_keys[a], " of voxel column ", voxels[size_t(v)], " is ",
                            x, "; expected a non-negative integer grid index");
        s.ijk(v, a) = int32_t(x);
      }
  }
  if (!voxel_metadata(bd, voxels, xyz_keys, s.xyz)) s.xyz.setConstant(int64_t(voxels.size()), 3, kNaN);
  s.grid_dims = {0, 0, 0};
  s.affine.setIdentity();
  s.mask_voxels = int64_t(voxels.size());
  s.dropped_voxels = 0;
  return s;
}

Samples samples_from_bdata(const std::string& path, const BDataSelection& sel, const std::string& subject) {
  return samples_from_bdata(read_bdata(path), sel, subject);
}

}  // namespace v2c::bdata
