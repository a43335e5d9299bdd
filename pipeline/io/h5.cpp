#include "pipeline/io/h5.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "pipeline/core/error.h"
#include "pipeline/core/memory.h"
#include "pipeline/io/h5_probe.h"

namespace v2c::h5 {
namespace {

struct SilenceHdf5 {
  SilenceHdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
const SilenceHdf5 silence_hdf5;

// Why HDF5's last call failed: the innermost entry of its error stack, which for a failed
// write carries the system's reason ("errno = 28, error message = 'No space left on device'").
std::string hdf5_reason() {
  std::string reason;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
        if (n == 0 && e->desc) *static_cast<std::string*>(out) = e->desc;
        return 0;
      },
      &reason);
  const size_t at = reason.find("error message = '");
  if (at != std::string::npos) {
    const size_t from = at + 17, to = reason.find('\'', from);
    return reason.substr(from, to == std::string::npos ? std::string::npos : to - from);
  }
  return reason.empty() ? std::string("unknown HDF5 error") : reason;
}

// An HDF5 identifier closed by its own close function when the scope ends.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) { other.id_ = H5I_INVALID_HID; }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool ok() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

Handle utf8_string_type() {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  return t;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when the bytes there are not one.
size_t utf8_length(const std::string& s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  const size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xC0) != 0x80) return 0;
  if (n == 3 && ((c == 0xE0 && b(i + 1) < 0xA0) || (c == 0xED && b(i + 1) >= 0xA0))) return 0;  // overlong, surrogate
  if (n == 4 && ((c == 0xF0 && b(i + 1) < 0x90) || (c == 0xF4 && b(i + 1) >= 0x90))) return 0;  // overlong, > U+10FFFF
  return n;
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// `s` with every byte that is not part of valid UTF-8 written as \xHH (for messages and provenance).
std::string escape_invalid_utf8(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_length(s, i);
    if (n > 0) {
      out.append(s, i, n);
      i += n;
    } else {
      out += cat("\\x", "0123456789ABCDEF"[static_cast<unsigned char>(s[i]) >> 4],
                 "0123456789ABCDEF"[static_cast<unsigned char>(s[i]) & 15]);
      ++i;
    }
  }
  return out;
}

}  // namespace

ArtifactWriter::ArtifactWriter(const std::string& path, const std::string& kind, int format_version,
                               const Provenance& prov, bool force)
    : out_(path, force) {
  file_ = H5Fcreate(out_.temp_path().c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (file_ < 0) throw io_error("cannot create '", path, "': ", hdf5_reason());
  attr("/", "vox2clip_format", kind);
  attr("/", "vox2clip_format_version", int64_t(format_version));
  {
    Handle g(H5Gcreate2(file_, "provenance", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!g.ok()) throw io_error("cannot write group '/provenance' in '", path, "': ", hdf5_reason());
  }
  attr("/provenance", "stage", prov.stage);
  attr("/provenance", "command_line", prov.command_line);
  attr("/provenance", "version", prov.version);
  attr("/provenance", "config", prov.config_yaml);
  attr("/provenance", "seed", int64_t(prov.seed));
  attr("/provenance", "threads", int64_t(prov.threads));
  attr("/provenance", "created_utc", prov.created_utc);
  std::vector<std::string> inputs = prov.inputs;
  for (auto& p : inputs) {
    std::error_code ec;
    const auto abs = std::filesystem::absolute(p, ec);
    if (!ec) p = abs.lexically_normal().string();
  }
  write("provenance/inputs", inputs);
}

ArtifactWriter::~ArtifactWriter() { abandon(); }

// A file still open here is a failed one (a write or the flush failed, e.g. on a full disk).
// It cannot be closed normally: H5Fclose would retry the failed writes, and a failed
// H5Fclose leaves a half-freed file behind that crashes HDF5's exit handler (HDF5 1.10). So
// its descriptor is first pointed at an anonymous in-memory file, where the close's writes
// succeed; the incomplete temporary is then removed by AtomicOutput.
void ArtifactWriter::abandon() noexcept {
  if (file_ < 0) return;
  void* handle = nullptr;
  if (H5Fget_vfd_handle(file_, H5P_DEFAULT, &handle) >= 0 && handle) {
    const int fd = *static_cast<int*>(handle);
    const int sink = memfd_create("v2c-abandoned-hdf5", MFD_CLOEXEC);
    if (sink >= 0) {
      dup2(sink, fd);
      close(sink);
    }
  }
  H5Fclose(file_);
  file_ = H5I_INVALID_HID;
}

namespace {

// `dcpl`: dataset creation properties (H5P_DEFAULT, or chunking).
void write_dataset(hid_t file, const std::string& file_name, const std::string& name, hid_t mem_type, hid_t file_type,
                   const void* data, const std::vector<hsize_t>& dims, hid_t dcpl = H5P_DEFAULT) {
  const auto fail = [&](const char* what) {
    return io_error("cannot ", what, " dataset '", name, "' in '", file_name, "': ", hdf5_reason());
  };
  Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  if (!space.ok() || !lcpl.ok() || H5Pset_create_intermediate_group(lcpl.get(), 1) < 0) throw fail("create");
  Handle ds(H5Dcreate2(file, name.c_str(), file_type, space.get(), lcpl.get(), dcpl, H5P_DEFAULT), H5Dclose);
  if (!ds.ok()) throw fail("create");
  bool empty = false;
  for (auto d : dims) empty = empty || d == 0;
  if (!empty && H5Dwrite(ds.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) throw fail("write");
}

// A scalar attribute on a group or dataset ("/" for the root).
void write_scalar_attr(hid_t file, const std::string& file_name, const std::string& object, const std::string& name,
                       hid_t file_type, hid_t mem_type, const void* value) {
  const auto fail = [&] {
    return io_error("cannot write attribute '", object, "@", name, "' in '", file_name, "': ", hdf5_reason());
  };
  Handle obj(H5Oopen(file, object.empty() ? "/" : object.c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.ok()) throw fail();
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(obj.get(), name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!attr.ok() || H5Awrite(attr.get(), mem_type, value) < 0) throw fail();
}

}  // namespace

void ArtifactWriter::write(const std::string& name, const MatrixF& m) {
  write_dataset(file_, path(), name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, m.data(),
                {hsize_t(m.rows()), hsize_t(m.cols())});
}
void ArtifactWriter::write(const std::string& name, const MatrixD& m) {
  write_dataset(file_, path(), name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, m.data(),
                {hsize_t(m.rows()), hsize_t(m.cols())});
}
void ArtifactWriter::write(const std::string& name, const std::vector<float>& v) {
  write_dataset(file_, path(), name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, v.data(), {v.size()});
}
void ArtifactWriter::write(const std::string& name, const std::vector<double>& v) {
  write_dataset(file_, path(), name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, v.data(), {v.size()});
}
void ArtifactWriter::write(const std::string& name, const std::vector<int32_t>& v) {
  write_dataset(file_, path(), name, H5T_NATIVE_INT32, H5T_STD_I32LE, v.data(), {v.size()});
}
void ArtifactWriter::write(const std::string& name, const std::vector<int32_t>& v, int64_t cols) {
  V2C_ASSERT(cols > 0 && v.size() % size_t(cols) == 0);
  write_dataset(file_, path(), name, H5T_NATIVE_INT32, H5T_STD_I32LE, v.data(),
                {hsize_t(v.size() / size_t(cols)), hsize_t(cols)});
}
void ArtifactWriter::write(const std::string& name, const std::vector<int64_t>& v) {
  write_dataset(file_, path(), name, H5T_NATIVE_INT64, H5T_STD_I64LE, v.data(), {v.size()});
}
void ArtifactWriter::write(const std::string& name, const std::vector<std::string>& v) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!valid_utf8(v[i]))
      throw input_error("cannot write dataset '", name, "' in '", path(), "': entry ", i, " ('",
                        escape_invalid_utf8(v[i].substr(0, 80)), v[i].size() > 80 ? "..." : "",
                        "') is not valid UTF-8 (save text inputs as UTF-8)");
  std::vector<const char*> ptrs;
  for (const auto& s : v) ptrs.push_back(s.c_str());
  const Handle t = utf8_string_type();
  write_dataset(file_, path(), name, t.get(), t.get(), ptrs.data(), {v.size()});
}

void ArtifactWriter::write_chunked(const std::string& name, const MatrixF& m, int64_t chunk_rows) {
  V2C_ASSERT(m.rows() >= 1 && m.cols() >= 1, "chunked dataset ", name, " must not be empty");
  const hsize_t chunk[2] = {hsize_t(std::clamp<int64_t>(chunk_rows, 1, m.rows())), hsize_t(m.cols())};
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (!dcpl.ok() || H5Pset_chunk(dcpl.get(), 2, chunk) < 0)
    throw io_error("cannot create dataset '", name, "' in '", path(), "': ", hdf5_reason());
  write_dataset(file_, path(), name, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, m.data(), {hsize_t(m.rows()), hsize_t(m.cols())},
                dcpl.get());
}

void ArtifactWriter::attr(const std::string& object, const std::string& name, const std::string& value) {
  const std::string text = valid_utf8(value) ? value : escape_invalid_utf8(value);  // provenance: never refused
  const char* p = text.c_str();
  const Handle t = utf8_string_type();
  write_scalar_attr(file_, path(), object, name, t.get(), t.get(), &p);
}
void ArtifactWriter::attr(const std::string& object, const std::string& name, double value) {
  write_scalar_attr(file_, path(), object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}
void ArtifactWriter::attr(const std::string& object, const std::string& name, int64_t value) {
  write_scalar_attr(file_, path(), object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void ArtifactWriter::finish() {
  V2C_ASSERT(file_ >= 0, "'", path(), "' finished twice");
  // HDF5 1.10 cannot close a file whose flush failed (its metadata cache stays half-flushed),
  // so the disk space of the whole file is reserved first: a full disk or quota shows up
  // here, and abandon() can still close the file.
  hsize_t size = 0;
  void* handle = nullptr;
  if (H5Fget_filesize(file_, &size) < 0 || H5Fget_vfd_handle(file_, H5P_DEFAULT, &handle) < 0 || !handle)
    throw io_error("cannot write '", path(), "': ", hdf5_reason());
  const int rc = posix_fallocate(*static_cast<int*>(handle), 0, off_t(size));
  if (rc != 0 && rc != EINVAL && rc != EOPNOTSUPP) throw io_error("cannot write '", path(), "': ", std::strerror(rc));
  if (H5Fflush(file_, H5F_SCOPE_GLOBAL) < 0) throw io_error("cannot write '", path(), "': ", hdf5_reason());
  const herr_t status = H5Fclose(file_);
  file_ = H5I_INVALID_HID;
  if (status < 0) throw io_error("cannot write '", path(), "': ", hdf5_reason());
}

void ArtifactWriter::commit() {
  finish();
  out_.commit();
}

// ---- reader ----
//
// Every HDF5 call of the reader runs inside reading(), which turns the library's exceptions
// (H5::Exception is no std::exception: left alone it aborts the process) into an input error
// naming the file and the object.

namespace {
template <class Fn>
decltype(auto) reading(const std::string& path, const std::string& object, Fn&& fn) {
  try {
    return fn();
  } catch (const H5::Exception& e) {
    throw input_error("'", path, "': cannot read '", object, "': ", hdf5_reason(), " (", e.getFuncName(), ")");
  }
}
}  // namespace

ArtifactReader::ArtifactReader(const std::string& path, const std::string& kind, int max_version) : path_(path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw io_error("cannot open '", path, "': no such file");
  if (access(path.c_str(), R_OK) != 0) throw io_error("cannot open '", path, "': ", std::strerror(errno));
  strings_ = probe_file(path);
  try {
    if (!H5::H5File::isHdf5(path)) throw input_error("'", path, "' is not an HDF5 file");
    file_ = std::make_unique<H5::H5File>(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    throw input_error("'", path, "' is not a readable HDF5 file: ", hdf5_reason());
  }
  std::string found;
  try {
    found = attr_string("/", "vox2clip_format");
  } catch (const Error&) {
    throw input_error("'", path, "' is not a vox2clip artifact (no vox2clip_format attribute); expected a '", kind,
                      "' file");
  }
  if (found != kind) throw input_error("'", path, "' is a vox2clip '", found, "' file; expected a '", kind, "' file");
  const double version = attr_double("/", "vox2clip_format_version");
  if (!(version >= 1 && version <= 1e6) || version != std::floor(version))
    throw input_error("'", path, "' attribute 'vox2clip_format_version': expected a whole number >= 1, found ",
                      version);
  version_ = int(version);
  if (version_ > max_version)
    throw input_error("'", path, "' has ", kind, " format version ", version_, "; this vox2clip reads up to ",
                      max_version, " (upgrade vox2clip)");
}

bool ArtifactReader::has(const std::string& name) const {
  // Walk the path so a missing intermediate group is a plain "no".
  if (name.empty()) return false;
  size_t start = name[0] == '/' ? 1 : 0;
  while (true) {
    const size_t slash = name.find('/', start);
    const std::string prefix = name.substr(0, slash);
    if (!prefix.empty() && H5Lexists(file_->getId(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

H5::DataSet ArtifactReader::open(const std::string& name) const {
  if (!has(name)) throw input_error("'", path_, "' has no dataset '", name, "'");
  return reading(path_, name, [&] { return file_->openDataSet(name); });
}

std::vector<int64_t> ArtifactReader::shape(const std::string& name) const {
  const H5::DataSet ds = open(name);
  return reading(path_, name, [&] {
    H5::DataSpace space = ds.getSpace();
    const int rank = space.getSimpleExtentNdims();
    if (rank < 0 || rank > 32) throw input_error("'", path_, "' dataset '", name, "': rank ", rank);
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    space.getSimpleExtentDims(dims.data());
    std::vector<int64_t> out;
    for (hsize_t d : dims) {
      if (d > hsize_t(INT64_MAX)) throw input_error("'", path_, "' dataset '", name, "': dimension ", d);
      out.push_back(int64_t(d));
    }
    return out;
  });
}

int64_t ArtifactReader::element_count(const std::string& name, const std::vector<int64_t>& dims,
                                      size_t element_bytes) const {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d != 0 && n > INT64_MAX / d) throw input_error("'", path_, "' dataset '", name, "': its size overflows");
    n *= d;
  }
  require_memory(double(n) * double(element_bytes), cat("dataset '", name, "' of '", path_, "'"));
  return n;
}

namespace {
// Refuses a dataset whose stored type is not one of `classes` (strings where numbers belong).
void expect_class(const std::string& path, const std::string& name, const H5::DataSet& ds,
                  std::initializer_list<H5T_class_t> classes, const char* expected) {
  const H5T_class_t c = reading(path, name, [&] { return ds.getTypeClass(); });
  for (H5T_class_t ok : classes)
    if (c == ok) return;
  const char* found = c == H5T_STRING    ? "strings"
                      : c == H5T_FLOAT   ? "floating-point numbers"
                      : c == H5T_INTEGER ? "integers"
                                         : "values of another HDF5 type";
  throw input_error("'", path, "' dataset '", name, "' holds ", found, "; expected ", expected);
}

template <class M>
M read_matrix(const std::string& path, const H5::DataSet& ds, const std::string& name, const H5::PredType& mem,
              const std::vector<int64_t>& dims) {
  if (dims.size() > 2)
    throw input_error("'", path, "' dataset '", name, "': expected 1 or 2 dims, found ", dims.size());
  M m(dims.empty() ? 1 : dims[0], dims.size() == 2 ? dims[1] : 1);
  if (m.size() > 0) reading(path, name, [&] { ds.read(m.data(), mem); });
  return m;
}
}  // namespace

MatrixF ArtifactReader::read_matrix_f(const std::string& name) const {
  const H5::DataSet ds = open(name);
  expect_class(path_, name, ds, {H5T_FLOAT, H5T_INTEGER}, "numbers");
  const auto dims = shape(name);
  element_count(name, dims, sizeof(float));
  return read_matrix<MatrixF>(path_, ds, name, H5::PredType::NATIVE_FLOAT, dims);
}
MatrixD ArtifactReader::read_matrix_d(const std::string& name) const {
  const H5::DataSet ds = open(name);
  expect_class(path_, name, ds, {H5T_FLOAT, H5T_INTEGER}, "numbers");
  const auto dims = shape(name);
  element_count(name, dims, sizeof(double));
  return read_matrix<MatrixD>(path_, ds, name, H5::PredType::NATIVE_DOUBLE, dims);
}
MatrixF ArtifactReader::read_rows_f(const std::string& name, int64_t row0, int64_t n_rows) const {
  const auto dims = shape(name);
  MatrixF m(std::max<int64_t>(n_rows, 0), dims.size() == 2 ? dims[1] : 0);
  read_rows_f(name, row0, n_rows, m.data());
  return m;
}

void ArtifactReader::read_rows_f(const std::string& name, int64_t row0, int64_t n_rows, float* out) const {
  row_reader(name).read(row0, n_rows, out);
}

RowReader ArtifactReader::row_reader(const std::string& name) const {
  H5::DataSet ds = open(name);
  const auto dims = shape(name);
  if (dims.size() != 2) throw input_error("'", path_, "' dataset '", name, "': expected 2 dims, found ", dims.size());
  return RowReader(path_, name, std::move(ds), dims[0], dims[1]);
}

RowReader::RowReader(std::string path, std::string name, H5::DataSet ds, int64_t rows, int64_t cols)
    : path_(std::move(path)), name_(std::move(name)), ds_(std::move(ds)), rows_(rows), cols_(cols) {}

void RowReader::read(int64_t row0, int64_t n_rows, float* out) const {
  if (row0 < 0 || n_rows < 0 || row0 + n_rows > rows_)
    throw input_error("'", path_, "' dataset '", name_, "': rows [", row0, ", ", row0 + n_rows, ") requested; it has ",
                      rows_, " rows");
  if (n_rows == 0 || cols_ == 0) return;
  try {
    H5::DataSpace file_space = ds_.getSpace();
    const hsize_t start[2] = {hsize_t(row0), 0}, count[2] = {hsize_t(n_rows), hsize_t(cols_)};
    file_space.selectHyperslab(H5S_SELECT_SET, count, start);
    H5::DataSpace mem_space(2, count);
    ds_.read(out, H5::PredType::NATIVE_FLOAT, mem_space, file_space);
  } catch (const H5::Exception& e) {
    throw io_error("'", path_, "' dataset '", name_, "': cannot read rows [", row0, ", ", row0 + n_rows,
                   "): ", e.getDetailMsg());
  }
}

std::vector<int64_t> ArtifactReader::chunk_shape(const std::string& name) const {
  H5::DSetCreatPropList dcpl = open(name).getCreatePlist();
  if (dcpl.getLayout() != H5D_CHUNKED) return {};
  std::vector<hsize_t> dims(size_t(H5Pget_chunk(dcpl.getId(), 0, nullptr)));
  dcpl.getChunk(int(dims.size()), dims.data());
  return std::vector<int64_t>(dims.begin(), dims.end());
}

std::vector<double> ArtifactReader::read_doubles(const std::string& name) const {
  const MatrixD m = read_matrix_d(name);
  return std::vector<double>(m.data(), m.data() + m.size());
}
std::vector<int64_t> ArtifactReader::read_ints(const std::string& name) const {
  const H5::DataSet ds = open(name);
  expect_class(path_, name, ds, {H5T_INTEGER}, "integers");
  const int64_t n = element_count(name, shape(name), sizeof(int64_t));
  std::vector<int64_t> v(static_cast<size_t>(n));
  if (n > 0) reading(path_, name, [&] { ds.read(v.data(), H5::PredType::NATIVE_INT64); });
  return v;
}
std::vector<int32_t> ArtifactReader::read_int32s(const std::string& name) const {
  std::vector<int32_t> out;
  for (const int64_t v : read_ints(name)) {
    if (v < INT32_MIN || v > INT32_MAX)
      throw input_error("'", path_, "' dataset '", name, "': value ", v, " does not fit 32 bits");
    out.push_back(int32_t(v));
  }
  return out;
}

std::vector<std::string> ArtifactReader::read_strings(const std::string& name) const {
  const auto it = strings_.datasets.find(object_key(name));
  if (it != strings_.datasets.end()) return it->second;
  const H5::DataSet ds = open(name);
  expect_class(path_, name, ds, {H5T_STRING}, "strings");
  throw input_error("'", path_, "' dataset '", name, "': expected a scalar or 1-D list of strings");
}

bool ArtifactReader::has_attr(const std::string& object, const std::string& name) const {
  if (object != "/" && !has(object)) return false;
  return H5Aexists_by_name(file_->getId(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

std::string ArtifactReader::attr_string(const std::string& object, const std::string& name) const {
  const auto it = strings_.attributes.find(object_key(object) + "@" + name);
  if (it != strings_.attributes.end()) {
    if (it->second.size() != 1)
      throw input_error("'", path_, "' attribute '", object, "@", name, "': expected one string, found ",
                        it->second.size());
    return it->second.front();
  }
  const htri_t exists = H5Aexists_by_name(file_->getId(), object.c_str(), name.c_str(), H5P_DEFAULT);
  if (exists <= 0) throw input_error("'", path_, "' has no attribute '", name, "' on '", object, "'");
  throw input_error("'", path_, "' attribute '", object, "@", name, "': expected a string");
}

double ArtifactReader::attr_double(const std::string& object, const std::string& name) const {
  return reading(path_, object + "@" + name, [&] {
    if (H5Aexists_by_name(file_->getId(), object.c_str(), name.c_str(), H5P_DEFAULT) <= 0)
      throw input_error("'", path_, "' has no attribute '", name, "' on '", object, "'");
    // The C API with handles closed here: H5::Attribute(hid_t) takes a second reference that
    // is never released, which kept the file open after the reader was gone.
    const Handle a(H5Aopen_by_name(file_->getId(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
    const Handle type(a.ok() ? H5Aget_type(a.get()) : H5I_INVALID_HID, H5Tclose);
    const Handle space(a.ok() ? H5Aget_space(a.get()) : H5I_INVALID_HID, H5Sclose);
    if (!a.ok() || !type.ok() || !space.ok())
      throw input_error("'", path_, "' attribute '", object, "@", name, "' cannot be read: ", hdf5_reason());
    const H5T_class_t c = H5Tget_class(type.get());
    if (c != H5T_INTEGER && c != H5T_FLOAT)
      throw input_error("'", path_, "' attribute '", object, "@", name, "': expected a number");
    if (H5Sget_simple_extent_npoints(space.get()) != 1)
      throw input_error("'", path_, "' attribute '", object, "@", name, "': expected one value");
    double v = 0;
    if (H5Aread(a.get(), H5T_NATIVE_DOUBLE, &v) < 0)
      throw input_error("'", path_, "' attribute '", object, "@", name, "' cannot be read: ", hdf5_reason());
    return v;
  });
}

}  // namespace v2c::h5
