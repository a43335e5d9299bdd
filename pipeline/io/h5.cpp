#include "pipeline/io/h5.h"

#include <algorithm>
#include <climits>
#include <filesystem>

#include "pipeline/core/error.h"

namespace v2c::h5 {
namespace {

struct SilenceHdf5 {
  SilenceHdf5() { H5::Exception::dontPrint(); }
};
const SilenceHdf5 silence_hdf5;

H5::LinkCreatPropList intermediate_groups() {
  H5::LinkCreatPropList lcpl;
  lcpl.setCreateIntermediateGroup(true);
  return lcpl;
}

H5::StrType utf8_string_type() {
  H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
  t.setCset(H5T_CSET_UTF8);
  return t;
}

template <class Fn>
void guarded(const std::string& file, const std::string& what, Fn&& fn) {
  try {
    fn();
  } catch (const H5::Exception& e) {
    throw io_error("HDF5 error writing '", what, "' in '", file, "': ", e.getDetailMsg());
  }
}

// Writes a scalar attribute on a group or dataset through the C API (works for both kinds).
void write_scalar_attr(H5::H5File& file, const std::string& object, const std::string& name, hid_t file_type,
                       hid_t mem_type, const void* value) {
  const hid_t obj = H5Oopen(file.getId(), object.empty() ? "/" : object.c_str(), H5P_DEFAULT);
  if (obj < 0) throw H5::Exception("H5Oopen", "no object " + object);
  const hid_t space = H5Screate(H5S_SCALAR);
  const hid_t attr = H5Acreate2(obj, name.c_str(), file_type, space, H5P_DEFAULT, H5P_DEFAULT);
  const herr_t status = attr < 0 ? -1 : H5Awrite(attr, mem_type, value);
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  H5Oclose(obj);
  if (status < 0) throw H5::Exception("H5Awrite", "cannot write attribute " + name);
}

}  // namespace

ArtifactWriter::ArtifactWriter(const std::string& path, const std::string& kind, int format_version,
                               const Provenance& prov, bool force)
    : out_(path, force) {
  guarded(path, "/", [&] {
    file_ = std::make_unique<H5::H5File>(out_.temp_path(), H5F_ACC_TRUNC);
  });
  attr("/", "vox2clip_format", kind);
  attr("/", "vox2clip_format_version", int64_t(format_version));
  guarded(path, "/provenance", [&] { file_->createGroup("provenance"); });
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

ArtifactWriter::~ArtifactWriter() {
  try {
    if (file_) file_->close();
  } catch (...) {
  }
}

namespace {
template <class T>
void write_dataset(H5::H5File& file, const std::string& file_name, const std::string& name,
                   const H5::PredType& mem_type, const H5::PredType& file_type, const T* data,
                   std::vector<hsize_t> dims) {
  guarded(file_name, name, [&] {
    H5::DataSpace space(int(dims.size()), dims.data());
    H5::DataSet ds = file.createDataSet(name, file_type, space, H5::DSetCreatPropList::DEFAULT, H5::DSetAccPropList::DEFAULT,
                                        intermediate_groups());
    bool empty = false;
    for (auto d : dims) empty = empty || d == 0;
    if (!empty) ds.write(data, mem_type);
  });
}
}  // namespace

void ArtifactWriter::write(const std::string& name, const MatrixF& m) {
  write_dataset(*file_, path(), name, H5::PredType::NATIVE_FLOAT, H5::PredType::IEEE_F32LE, m.data(),
                {hsize_t(m.rows()), hsize_t(m.cols())});
}
void ArtifactWriter::write(const std::string& name, const MatrixD& m) {
  write_dataset(*file_, path(), name, H5::PredType::NATIVE_DOUBLE, H5::PredType::IEEE_F64LE, m.data(),
                {hsize_t(m.rows()), hsize_t(m.cols())});
}
void ArtifactWriter::write(const std::string& name, const std::vector<float>& v) {
  write_dataset(*file_, path(), name, H5::PredType::NATIVE_FLOAT, H5::PredType::IEEE_F32LE, v.data(), {v.size()});
}
void ArtifactWriter::write(const std::string& name, const std::vector<double>& v) {
  write_dataset(*file_, path(), name, H5::PredType::NATIVE_DOUBLE, H5::PredType::IEEE_F64LE, v.data(), {v.size()});
}
void ArtifactWriter::write(const std::string& name, const std::vector<int32_t>& v) {
  write_dataset(*file_, path(), name, H5::PredType::NATIVE_INT32, H5::PredType::STD_I32LE, v.data(), {v.size()});
}
void ArtifactWriter::write(const std::string& name, const std::vector<int32_t>& v, int64_t cols) {
  V2C_ASSERT(cols > 0 && v.size() % size_t(cols) == 0);
  write_dataset(*file_, path(), name, H5::PredType::NATIVE_INT32, H5::PredType::STD_I32LE, v.data(),
                {hsize_t(v.size() / size_t(cols)), hsize_t(cols)});
}
void ArtifactWriter::write(const std::string& name, const std::vector<int64_t>& v) {
  write_dataset(*file_, path(), name, H5::PredType::NATIVE_INT64, H5::PredType::STD_I64LE, v.data(), {v.size()});
}
void ArtifactWriter::write(const std::string& name, const std::vector<std::string>& v) {
  guarded(path(), name, [&] {
    std::vector<const char*> ptrs;
    for (const auto& s : v) ptrs.push_back(s.c_str());
    hsize_t dims[1] = {v.size()};
    H5::DataSpace space(1, dims);
    H5::DataSet ds = file_->createDataSet(name, utf8_string_type(), space, H5::DSetCreatPropList::DEFAULT,
                                          H5::DSetAccPropList::DEFAULT, intermediate_groups());
    if (!v.empty()) ds.write(ptrs.data(), utf8_string_type());
  });
}

void ArtifactWriter::write_chunked(const std::string& name, const MatrixF& m, int64_t chunk_rows) {
  V2C_ASSERT(m.rows() >= 1 && m.cols() >= 1, "chunked dataset ", name, " must not be empty");
  guarded(path(), name, [&] {
    const hsize_t dims[2] = {hsize_t(m.rows()), hsize_t(m.cols())};
    const hsize_t chunk[2] = {hsize_t(std::clamp<int64_t>(chunk_rows, 1, m.rows())), dims[1]};
    H5::DataSpace space(2, dims);
    H5::DSetCreatPropList dcpl;
    dcpl.setChunk(2, chunk);
    H5::DataSet ds = file_->createDataSet(name, H5::PredType::IEEE_F32LE, space, dcpl, H5::DSetAccPropList::DEFAULT,
                                          intermediate_groups());
    ds.write(m.data(), H5::PredType::NATIVE_FLOAT);
  });
}

void ArtifactWriter::attr(const std::string& object, const std::string& name, const std::string& value) {
  guarded(path(), object + "@" + name, [&] {
    const char* p = value.c_str();
    const H5::StrType t = utf8_string_type();
    write_scalar_attr(*file_, object, name, t.getId(), t.getId(), &p);
  });
}
void ArtifactWriter::attr(const std::string& object, const std::string& name, double value) {
  guarded(path(), object + "@" + name,
          [&] { write_scalar_attr(*file_, object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value); });
}
void ArtifactWriter::attr(const std::string& object, const std::string& name, int64_t value) {
  guarded(path(), object + "@" + name,
          [&] { write_scalar_attr(*file_, object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value); });
}

void ArtifactWriter::commit() {
  guarded(path(), "/", [&] {
    file_->flush(H5F_SCOPE_GLOBAL);
    file_->close();
  });
  file_.reset();
  out_.commit();
}

// ---- reader ----

ArtifactReader::ArtifactReader(const std::string& path, const std::string& kind, int max_version) : path_(path) {
  if (!std::filesystem::exists(path)) throw io_error("cannot open '", path, "': no such file");
  try {
    if (!H5::H5File::isHdf5(path)) throw input_error("'", path, "' is not an HDF5 file");
    file_ = std::make_unique<H5::H5File>(path, H5F_ACC_RDONLY);
  } catch (const H5::Exception& e) {
    throw io_error("cannot open HDF5 file '", path, "': ", e.getDetailMsg());
  }
  std::string found;
  try {
    found = attr_string("/", "vox2clip_format");
    version_ = int(attr_double("/", "vox2clip_format_version"));
  } catch (const Error&) {
    throw input_error("'", path, "' is not a vox2clip artifact (no vox2clip_format attribute); expected a '", kind,
                      "' file");
  }
  if (found != kind) throw input_error("'", path, "' is a vox2clip '", found, "' file; expected a '", kind, "' file");
  if (version_ > max_version)
    throw input_error("'", path, "' has ", kind, " format version ", version_, "; this vox2clip reads up to ",
                      max_version, " (upgrade vox2clip)");
}

bool ArtifactReader::has(const std::string& name) const {
  // Walk the path so a missing intermediate group is a plain "no".
  std::string prefix;
  size_t start = name[0] == '/' ? 1 : 0;
  while (true) {
    const size_t slash = name.find('/', start);
    prefix = name.substr(0, slash);
    if (!prefix.empty() && H5Lexists(file_->getId(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

H5::DataSet ArtifactReader::open(const std::string& name) const {
  if (!has(name)) throw input_error("'", path_, "' has no dataset '", name, "'");
  return file_->openDataSet(name);
}

std::vector<int64_t> ArtifactReader::shape(const std::string& name) const {
  H5::DataSpace space = open(name).getSpace();
  std::vector<hsize_t> dims(space.getSimpleExtentNdims());
  space.getSimpleExtentDims(dims.data());
  return std::vector<int64_t>(dims.begin(), dims.end());
}

namespace {
template <class M>
M read_matrix(const ArtifactReader& r, const H5::DataSet& ds, const std::string& name, const H5::PredType& mem) {
  const auto dims = r.shape(name);
  if (dims.size() > 2) throw input_error("'", r.path(), "' dataset '", name, "': expected 1 or 2 dims, found ", dims.size());
  M m(dims.empty() ? 1 : dims[0], dims.size() == 2 ? dims[1] : 1);
  if (m.size() > 0) ds.read(m.data(), mem);
  return m;
}
}  // namespace

MatrixF ArtifactReader::read_matrix_f(const std::string& name) const {
  return read_matrix<MatrixF>(*this, open(name), name, H5::PredType::NATIVE_FLOAT);
}
MatrixD ArtifactReader::read_matrix_d(const std::string& name) const {
  return read_matrix<MatrixD>(*this, open(name), name, H5::PredType::NATIVE_DOUBLE);
}
MatrixF ArtifactReader::read_rows_f(const std::string& name, int64_t row0, int64_t n_rows) const {
  H5::DataSet ds = open(name);
  const auto dims = shape(name);
  if (dims.size() != 2) throw input_error("'", path_, "' dataset '", name, "': expected 2 dims, found ", dims.size());
  if (row0 < 0 || n_rows < 0 || row0 + n_rows > dims[0])
    throw input_error("'", path_, "' dataset '", name, "': rows [", row0, ", ", row0 + n_rows, ") requested; it has ",
                      dims[0], " rows");
  MatrixF m(n_rows, dims[1]);
  if (m.size() == 0) return m;
  try {
    H5::DataSpace file_space = ds.getSpace();
    const hsize_t start[2] = {hsize_t(row0), 0}, count[2] = {hsize_t(n_rows), hsize_t(dims[1])};
    file_space.selectHyperslab(H5S_SELECT_SET, count, start);
    H5::DataSpace mem_space(2, count);
    ds.read(m.data(), H5::PredType::NATIVE_FLOAT, mem_space, file_space);
  } catch (const H5::Exception& e) {
    throw io_error("'", path_, "' dataset '", name, "': cannot read rows [", row0, ", ", row0 + n_rows,
                   "): ", e.getDetailMsg());
  }
  return m;
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
  H5::DataSet ds = open(name);
  const auto dims = shape(name);
  int64_t n = 1;
  for (auto d : dims) n *= d;
  std::vector<int64_t> v(n);
  if (n > 0) ds.read(v.data(), H5::PredType::NATIVE_INT64);
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
  H5::DataSet ds = open(name);
  H5::DataType type = ds.getDataType();
  if (type.getClass() != H5T_STRING) throw input_error("'", path_, "' dataset '", name, "': expected strings");
  const auto dims = shape(name);
  const size_t n = dims.empty() ? 1 : size_t(dims[0]);
  std::vector<std::string> out(n);
  H5::StrType st = ds.getStrType();
  if (st.isVariableStr()) {
    std::vector<char*> ptrs(n, nullptr);
    if (n > 0) ds.read(ptrs.data(), st);
    for (size_t i = 0; i < n; ++i) out[i] = ptrs[i] ? ptrs[i] : "";
    H5::DataSpace space = ds.getSpace();
    if (n > 0) H5Dvlen_reclaim(st.getId(), space.getId(), H5P_DEFAULT, ptrs.data());
  } else {
    const size_t len = st.getSize();
    std::vector<char> buf(n * len);
    if (n > 0) ds.read(buf.data(), st);
    for (size_t i = 0; i < n; ++i) {
      std::string s(buf.data() + i * len, len);
      out[i] = s.substr(0, s.find('\0'));
    }
  }
  return out;
}

bool ArtifactReader::has_attr(const std::string& object, const std::string& name) const {
  if (object != "/" && !has(object)) return false;
  return H5Aexists_by_name(file_->getId(), object.c_str(), name.c_str(), H5P_DEFAULT) > 0;
}

std::string ArtifactReader::attr_string(const std::string& object, const std::string& name) const {
  try {
    if (!H5Aexists_by_name(file_->getId(), object.c_str(), name.c_str(), H5P_DEFAULT))
      throw input_error("'", path_, "' has no attribute '", name, "' on '", object, "'");
    H5::Attribute a(H5Aopen_by_name(file_->getId(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
    H5::StrType st = a.getStrType();
    std::string value;
    a.read(st, value);
    return value;
  } catch (const H5::Exception& e) {
    throw input_error("'", path_, "' attribute '", object, "@", name, "': ", e.getDetailMsg());
  }
}

double ArtifactReader::attr_double(const std::string& object, const std::string& name) const {
  try {
    if (!H5Aexists_by_name(file_->getId(), object.c_str(), name.c_str(), H5P_DEFAULT))
      throw input_error("'", path_, "' has no attribute '", name, "' on '", object, "'");
    H5::Attribute a(H5Aopen_by_name(file_->getId(), object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT));
    double v = 0;
    a.read(H5::PredType::NATIVE_DOUBLE, &v);
    return v;
  } catch (const H5::Exception& e) {
    throw input_error("'", path_, "' attribute '", object, "@", name, "': ", e.getDetailMsg());
  }
}

}  // namespace v2c::h5
