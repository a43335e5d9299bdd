// Tests of v2c::nifti: round trips through our writers, files written by nibabel (the oracle:
// other byte order, .hdr/.img pairs, every datatype, ANALYZE), scaling rules, failure paths
// (exit codes, messages) and mask reorientation.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "pipeline/core/error.h"
#include "pipeline/io/nifti.h"

namespace fs = std::filesystem;
using namespace v2c;
using namespace v2c::nifti;

namespace {

struct TempDir {
  fs::path dir;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "v2c-nifti-XXXXXX").string();
    BOOST_REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    dir = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string operator()(const std::string& name) const { return (dir / name).string(); }
};

// Runs a Python script with Debian's python3 (which has nibabel); argv[1] is the temp dir.
void run_python(const TempDir& tmp, const std::string& script) {
  const std::string file = tmp("script.py");
  std::ofstream(file) << "import sys, numpy as np, nibabel as nib\nout = sys.argv[1]\n" << script;
  const std::string cmd = "/usr/bin/python3 '" + file + "' '" + tmp.dir.string() + "'";
  BOOST_REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "python failed: " << cmd);
}

Eigen::Matrix4d oblique_affine() {
  Eigen::Matrix4d a = Eigen::Matrix4d::Identity();
  const double c = std::cos(0.3), s = std::sin(0.3);
  Eigen::Matrix3d r;
  r << c, -s, 0, s, c, 0, 0, 0, 1;
  a.topLeftCorner<3, 3>() = r * Eigen::Vector3d(2.5, 3.0, 3.5).asDiagonal();
  a.topRightCorner<3, 1>() << -80, 12.5, 40;
  return a;
}

void check_affine(const Eigen::Matrix4d& got, const Eigen::Matrix4d& want, double tol) {
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 4; ++c)
      BOOST_CHECK_MESSAGE(std::fabs(got(r, c) - want(r, c)) <= tol,
                          "affine(" << r << "," << c << ") = " << got(r, c) << ", expected " << want(r, c));
}

template <class Fn>
ExitCode code_of(Fn&& fn, std::string* message = nullptr) {
  try {
    fn();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return ExitCode::ok;
}

// Overwrites bytes of a file in place (header patching).
template <class T>
void patch(const std::string& path, long offset, T value) {
  std::FILE* f = std::fopen(path.c_str(), "r+b");
  BOOST_REQUIRE(f);
  std::fseek(f, offset, SEEK_SET);
  std::fwrite(&value, sizeof value, 1, f);
  std::fclose(f);
}

std::vector<float> all_values(const Image& img) {
  std::vector<int64_t> idx(img.header().volume_size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>(i);
  const MatrixF g = img.gather(idx);
  return std::vector<float>(g.data(), g.data() + g.size());  // volume-major = file order
}

// The value nibabel wrote at voxel (i,j,k,t) in the datatype tests (see the script below).
double planted(int64_t i, int64_t j, int64_t k, int64_t t, bool is_signed) {
  return static_cast<double>((i + 10 * j + 100 * k + 1000 * t) % 97) - (is_signed ? 40 : 0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(nifti)

BOOST_AUTO_TEST_CASE(series_round_trip) {
  TempDir tmp;
  const std::array<int64_t, 4> dims{7, 6, 5, 4};
  const int64_t n = 7 * 6 * 5 * 4;
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(100.f, 20.f);
  std::vector<float> values(n), integers(n);
  for (int64_t i = 0; i < n; ++i) {
    values[i] = normal(rng);
    integers[i] = std::round(values[i] * 10);
  }
  const Eigen::Matrix4d affine = oblique_affine();
  for (const std::string ext : {".nii", ".nii.gz"}) {
    for (const std::string dt : {"float32", "int16"}) {
      const std::string path = tmp("series_" + dt + ext);
      write_series(path, dims, affine, 1.5, values, dt);
      const Image img = Image::load(path);
      const Header& h = img.header();
      BOOST_TEST_CONTEXT(path) {
        BOOST_CHECK((h.dims == std::vector<int64_t>{7, 6, 5, 4}));
        BOOST_CHECK_EQUAL(h.datatype_name, dt);
        BOOST_CHECK_EQUAL(h.version, 1);
        BOOST_CHECK_EQUAL(h.storage, "single");
        BOOST_CHECK_EQUAL(h.affine_source, "sform");
        BOOST_CHECK_EQUAL(h.sform_code, 1);
        BOOST_CHECK_EQUAL(h.qform_code, 1);
        BOOST_CHECK_CLOSE_FRACTION(h.tr_seconds, 1.5, 1e-7);
        check_affine(h.affine, affine, 1e-5);
        const std::vector<float> got = all_values(img);
        BOOST_REQUIRE_EQUAL(got.size(), values.size());
        // int16: scaled to the full range, so the error is at most half a step.
        const double step = dt == "int16" ? h.scl_slope : 0.0;
        if (dt == "int16") BOOST_CHECK(h.has_scaling());
        double worst = 0;
        for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(double(got[i]) - values[i]));
        BOOST_CHECK_LE(worst, step * 0.5 + 1e-4);
        const ValueStats st = img.stats();
        BOOST_CHECK_EQUAL(st.n_nonfinite, 0);
        const double mean = std::accumulate(values.begin(), values.end(), 0.0) / n;
        BOOST_CHECK_SMALL(st.mean - mean, step + 1e-4);
      }
    }
  }
  // Integer values in range are stored exactly, unscaled.
  const std::string ipath = tmp("integers.nii.gz");
  write_series(ipath, dims, affine, 2.0, integers, "int16");
  const Image img = Image::load(ipath);
  BOOST_CHECK(!img.header().has_scaling());
  BOOST_CHECK(all_values(img) == integers);
}

BOOST_AUTO_TEST_CASE(gather_layout) {
  TempDir tmp;
  const std::array<int64_t, 4> dims{4, 3, 2, 5};
  std::vector<float> values(4 * 3 * 2 * 5);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  write_series(tmp("g.nii"), dims, Eigen::Matrix4d::Identity(), 1.0, values, "float32");
  const Image img = Image::load(tmp("g.nii"));
  const std::vector<int64_t> idx{23, 0, 5};
  const MatrixF g = img.gather(idx);
  BOOST_REQUIRE_EQUAL(g.rows(), 5);
  BOOST_REQUIRE_EQUAL(g.cols(), 3);
  for (int t = 0; t < 5; ++t)
    for (int m = 0; m < 3; ++m) BOOST_CHECK_EQUAL(g(t, m), static_cast<float>(idx[m] + 24 * t));
  BOOST_CHECK(code_of([&] { img.gather({24}); }) == ExitCode::input);
}

BOOST_AUTO_TEST_CASE(map_round_trip) {
  TempDir tmp;
  Header grid;
  grid.path = "grid";
  grid.dims = {5, 4, 3, 10};
  grid.affine = oblique_affine();
  std::vector<float> values(60);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (auto& v : values) v = u(rng);
  values[3] = std::numeric_limits<float>::quiet_NaN();
  write_map(tmp("map.nii.gz"), grid, values);
  const Image img = Image::load(tmp("map.nii.gz"));
  BOOST_CHECK((img.header().dims == std::vector<int64_t>{5, 4, 3}));
  BOOST_CHECK_EQUAL(img.header().qform_code, 1);
  check_affine(img.header().affine, grid.affine, 1e-5);
  const std::vector<float> got = all_values(img);
  for (size_t i = 0; i < values.size(); ++i)
    if (i != 3) BOOST_CHECK_EQUAL(got[i], values[i]);
  BOOST_CHECK(std::isnan(got[3]));
  BOOST_CHECK_EQUAL(img.stats().n_nonfinite, 1);

  // A sheared affine cannot be a qform: sform only.
  grid.affine(0, 1) = 0.7;
  write_map(tmp("shear.nii"), grid, values);
  const Header h = read_header(tmp("shear.nii"));
  BOOST_CHECK_EQUAL(h.qform_code, 0);
  BOOST_CHECK_EQUAL(h.sform_code, 1);
  check_affine(h.affine, grid.affine, 1e-5);
  // No temporary left behind.
  int files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.dir)) ++files;
  BOOST_CHECK_EQUAL(files, 2);
}

BOOST_AUTO_TEST_CASE(datatypes_byte_orders_and_pairs_from_nibabel) {
  TempDir tmp;
  run_python(tmp, R"(
shape = (5, 4, 3, 2)
i, j, k, t = np.indices(shape)
base = (i + 10*j + 100*k + 1000*t) % 97
A = np.array([[-2., 0, 0, 10], [0, 2.5, 0, -20], [0, 0, 3, 5], [0, 0, 0, 1]])
for dt in ['uint8', 'int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float32', 'float64']:
    d = base - (40 if dt[0] != 'u' else 0)
    for order, ext in (('<', '.nii'), ('>', '.nii.gz')):
        typ = np.dtype(dt).newbyteorder(order)
        img = nib.Nifti1Image(d.astype(typ), A, header=nib.Nifti1Header(endianness=order), dtype=typ)
        nib.save(img, f'{out}/{dt}{order == ">" and "_be" or ""}{ext}')
d = (base - 40).astype(np.int16)
nib.save(nib.Nifti1Pair(d, A), f'{out}/pair.hdr')
def be(klass, dtype):
    h = klass(endianness='>')
    h.set_data_dtype(dtype)
    return h
nib.save(nib.Nifti1Pair(d, A, header=be(nib.nifti1.Nifti1PairHeader, 'i2')), f'{out}/pairgz.img.gz')
nib.save(nib.Nifti2Image(d.astype('f8'), A, header=be(nib.Nifti2Header, 'f8')), f'{out}/n2_be.nii.gz')
nib.save(nib.Nifti2Pair(d, A), f'{out}/n2pair.hdr')
nib.save(nib.AnalyzeImage(d, A, header=be(nib.AnalyzeHeader, 'i2')), f'{out}/analyze_be.hdr')
)");
  struct Case {
    std::string file, type;
    int version;
    std::string storage;
    bool big_endian;
  };
  std::vector<Case> cases;
  for (const std::string dt : {"uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "float32", "float64"}) {
    cases.push_back({dt + ".nii", dt, 1, "single", false});
    cases.push_back({dt + "_be.nii.gz", dt, 1, "single", true});
  }
  cases.push_back({"pair.hdr", "int16", 1, "pair", false});
  cases.push_back({"pair.img", "int16", 1, "pair", false});
  cases.push_back({"pairgz.hdr.gz", "int16", 1, "pair", true});
  cases.push_back({"n2_be.nii.gz", "float64", 2, "single", true});
  cases.push_back({"n2pair.hdr", "int16", 2, "pair", false});
  cases.push_back({"analyze_be.hdr", "int16", 0, "pair", true});
  Eigen::Matrix4d want = Eigen::Matrix4d::Identity();
  want.diagonal() << -2, 2.5, 3, 1;
  want.topRightCorner<3, 1>() << 10, -20, 5;
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.file) {
      const Image img = Image::load(tmp(c.file));
      const Header& h = img.header();
      BOOST_CHECK_EQUAL(h.datatype_name, c.type);
      BOOST_CHECK_EQUAL(h.version, c.version);
      BOOST_CHECK_EQUAL(h.storage, c.storage);
      BOOST_CHECK_EQUAL(h.big_endian, c.big_endian);
      BOOST_CHECK((h.dims == std::vector<int64_t>{5, 4, 3, 2}));
      // ANALYZE has no sform: nibabel (SPM) takes the origin field, which it set from A.
      if (c.version > 0) check_affine(h.affine, want, 1e-6);
      const bool is_signed = c.type[0] != 'u';
      const std::vector<float> got = all_values(img);
      int bad = 0;
      for (int t = 0; t < 2; ++t)
        for (int k = 0; k < 3; ++k)
          for (int j = 0; j < 4; ++j)
            for (int i = 0; i < 5; ++i) bad += got[i + 5 * (j + 4 * (k + 3 * t))] != planted(i, j, k, t, is_signed);
      BOOST_CHECK_EQUAL(bad, 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(scaling_rules) {
  TempDir tmp;
  const std::string path = tmp("s.nii");
  std::vector<float> values{1, 2, 3, 4, 5, 6, 7, 8};
  write_series(path, {2, 2, 2, 1}, Eigen::Matrix4d::Identity(), 1.0, values, "float32");
  patch<float>(path, 112, 0.0f);  // scl_slope 0: no scaling, whatever scl_inter says
  patch<float>(path, 116, 5.0f);
  {
    const Image img = Image::load(path);
    BOOST_CHECK(!img.header().has_scaling());
    BOOST_CHECK(all_values(img) == values);
  }
  patch<float>(path, 112, 2.0f);  // slope 2, inter 5, applied to float data too
  {
    const Image img = Image::load(path);
    BOOST_CHECK(img.header().has_scaling());
    const std::vector<float> got = all_values(img);
    for (size_t i = 0; i < values.size(); ++i) BOOST_CHECK_EQUAL(got[i], 2 * values[i] + 5);
    const ValueStats st = img.stats();
    BOOST_CHECK_CLOSE_FRACTION(st.min, 7.0, 1e-12);
    BOOST_CHECK_CLOSE_FRACTION(st.max, 21.0, 1e-12);
    BOOST_CHECK_CLOSE_FRACTION(st.mean, 14.0, 1e-12);
  }
  patch<float>(path, 112, std::numeric_limits<float>::quiet_NaN());  // NaN slope: none
  BOOST_CHECK(all_values(Image::load(path)) == values);
}

BOOST_AUTO_TEST_CASE(unsupported_datatypes) {
  TempDir tmp;
  const std::string path = tmp("c.nii");
  write_series(path, {2, 2, 2, 1}, Eigen::Matrix4d::Identity(), 1.0, std::vector<float>(8, 1.f), "float32");
  patch<int16_t>(path, 70, 32);  // complex64
  patch<int16_t>(path, 72, 64);
  std::string msg;
  BOOST_CHECK(code_of([&] { Image::load(path); }, &msg) == ExitCode::input);
  BOOST_CHECK(msg.find("complex64") != std::string::npos);
  BOOST_CHECK(msg.find(path) != std::string::npos);
  patch<int16_t>(path, 70, 128);  // rgb24
  BOOST_CHECK(code_of([&] { read_header(path); }, &msg) == ExitCode::input);
  BOOST_CHECK(msg.find("rgb24") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(missing_truncated_and_corrupt_files) {
  TempDir tmp;
  std::string msg;
  BOOST_CHECK(code_of([&] { Image::load(tmp("nope.nii.gz")); }, &msg) == ExitCode::io);
  BOOST_CHECK(msg.find("nope.nii.gz") != std::string::npos && msg.find("no such file") != std::string::npos);

  std::vector<float> values(8 * 8 * 8 * 6);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.f, 1000.f);
  for (auto& v : values) v = u(rng);
  write_series(tmp("full.nii.gz"), {8, 8, 8, 6}, Eigen::Matrix4d::Identity(), 1.0, values, "int16");
  write_series(tmp("full.nii"), {8, 8, 8, 6}, Eigen::Matrix4d::Identity(), 1.0, values, "int16");
  const auto gz_size = fs::file_size(tmp("full.nii.gz"));
  fs::copy_file(tmp("full.nii.gz"), tmp("trunc.nii.gz"));
  fs::resize_file(tmp("trunc.nii.gz"), gz_size / 2);
  BOOST_CHECK(code_of([&] { Image::load(tmp("trunc.nii.gz")); }, &msg) == ExitCode::input);
  BOOST_CHECK(msg.find("trunc.nii.gz") != std::string::npos);
  BOOST_CHECK(msg.find("expected 6144 bytes of voxel data") != std::string::npos);

  fs::copy_file(tmp("full.nii"), tmp("short.nii"));
  fs::resize_file(tmp("short.nii"), 352 + 1000);
  BOOST_CHECK(code_of([&] { Image::load(tmp("short.nii")); }, &msg) == ExitCode::input);
  BOOST_CHECK(msg.find("expected 6144 bytes of voxel data") != std::string::npos);
  BOOST_CHECK(msg.find("found 1000") != std::string::npos);

  fs::copy_file(tmp("full.nii.gz"), tmp("corrupt.nii.gz"));
  for (long off = 100; off < 400; off += 7) patch<uint8_t>(tmp("corrupt.nii.gz"), off, 0xA5);
  BOOST_CHECK(code_of([&] { Image::load(tmp("corrupt.nii.gz")); }, &msg) == ExitCode::input);
  BOOST_CHECK(msg.find("corrupt.nii.gz") != std::string::npos);

  std::ofstream(tmp("text.nii")) << std::string(400, 'x');
  BOOST_CHECK(code_of([&] { read_header(tmp("text.nii")); }, &msg) == ExitCode::input);
  BOOST_CHECK(msg.find("text.nii") != std::string::npos);

  // Concatenated gzip members are one stream (as gzip -dc reads them).
  {
    const std::string cmd = "cd '" + tmp.dir.string() +
                            "' && gzip -dc full.nii.gz > plain && head -c 3000 plain | gzip -1 > multi.nii.gz"
                            " && tail -c +3001 plain | gzip -9 >> multi.nii.gz";
    BOOST_REQUIRE(std::system(cmd.c_str()) == 0);
    BOOST_CHECK(all_values(Image::load(tmp("multi.nii.gz"))) == all_values(Image::load(tmp("full.nii"))));
  }
}

BOOST_AUTO_TEST_CASE(masks) {
  TempDir tmp;
  // Run grid: LAS-like 6x5x4 with an offset origin.
  Eigen::Matrix4d affine = Eigen::Matrix4d::Identity();
  affine.diagonal() << -3, 3, 3.5, 1;
  affine.topRightCorner<3, 1>() << 90, -100, -50;
  std::vector<float> run(6 * 5 * 4 * 2, 1.f);
  write_series(tmp("run.nii.gz"), {6, 5, 4, 2}, affine, 2.0, run, "float32");
  const Header grid = read_header(tmp("run.nii.gz"));

  // The mask: distinct labels so that each voxel's place can be traced.
  std::vector<float> labels(6 * 5 * 4, 0.f);
  std::mt19937 rng(11);
  std::bernoulli_distribution keep(0.4);
  for (size_t f = 0; f < labels.size(); ++f)
    if (keep(rng)) labels[f] = static_cast<float>(f + 1);
  write_map(tmp("mask.nii"), grid, labels);
  std::vector<int64_t> want;
  for (size_t f = 0; f < labels.size(); ++f)
    if (labels[f] != 0) want.push_back(static_cast<int64_t>(f));

  const Mask same = load_mask(tmp("mask.nii"), grid);
  BOOST_CHECK(same.flat == want);
  BOOST_REQUIRE_EQUAL(same.ijk.size(), want.size());
  for (size_t m = 0; m < want.size(); ++m)
    BOOST_CHECK_EQUAL(same.ijk[m][0] + 6 * (same.ijk[m][1] + 5 * same.ijk[m][2]), want[m]);

  // The same world grid stored flipped in x (as RAS), and with permuted + flipped axes,
  // written by nibabel; the label values say where each voxel came from.
  run_python(tmp, R"(
img = nib.load(f'{out}/mask.nii')
nib.save(nib.as_closest_canonical(img), f'{out}/mask_ras.nii.gz')
d = np.asarray(img.dataobj)
A = img.affine
perm = (2, 0, 1)
d2 = np.transpose(d, perm)[:, ::-1, :]
# mask voxel (k, i', j) is run voxel (nx-1-i', j, k)
B = A[:, [2, 0, 1, 3]]
A2 = B.copy(); A2[:, 1] = -B[:, 1]; A2[:3, 3] = B[:3, 3] + B[:3, 1] * (d2.shape[1] - 1)
nib.save(nib.Nifti1Image(d2, A2), f'{out}/mask_perm.nii')
shifted = A.copy(); shifted[0, 3] += 3.0
nib.save(nib.Nifti1Image(d, shifted), f'{out}/mask_shift.nii')
nib.save(nib.Nifti1Image(d[:, :, :3], A), f'{out}/mask_small.nii')
)");
  for (const std::string name : {"mask_ras.nii.gz", "mask_perm.nii"}) {
    BOOST_TEST_CONTEXT(name) {
      const Mask m = load_mask(tmp(name), grid);
      BOOST_CHECK(m.flat == want);
      BOOST_CHECK(read_header(tmp(name)).affine != grid.affine);  // really another orientation
    }
  }
  // Voxel by voxel: a mask whose only nonzero voxel is labelled f lands at f.
  for (const int64_t f : {int64_t{0}, int64_t{37}, int64_t{119}}) {
    std::vector<float> one(labels.size(), 0.f);
    one[f] = 1;
    write_map(tmp("one.nii"), grid, one);
    run_python(tmp, R"(
img = nib.load(f'{out}/one.nii')
d = np.asarray(img.dataobj); A = img.affine
B = A[:, [2, 0, 1, 3]]
A2 = B.copy(); A2[:, 1] = -B[:, 1]; A2[:3, 3] = B[:3, 3] + B[:3, 1] * (d.shape[0] - 1)
nib.save(nib.Nifti1Image(np.transpose(d, (2, 0, 1))[:, ::-1, :], A2), f'{out}/one_perm.nii')
)");
    const Mask m = load_mask(tmp("one_perm.nii"), grid);
    BOOST_CHECK((m.flat == std::vector<int64_t>{f}));
  }
  for (const std::string name : {"mask_shift.nii", "mask_small.nii"}) {
    std::string msg;
    BOOST_CHECK(code_of([&] { load_mask(tmp(name), grid); }, &msg) == ExitCode::input);
    BOOST_CHECK_MESSAGE(msg.find(tmp(name)) != std::string::npos && msg.find(tmp("run.nii.gz")) != std::string::npos,
                        msg);
    BOOST_CHECK(msg.find("6x5x4x2") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(header_json_format) {
  Header h;
  h.path = "a\"b.nii";
  h.dims = {2, 3};
  h.datatype = 16;
  h.datatype_name = "float32";
  h.affine_source = "pixdim";
  h.scl_slope = std::numeric_limits<double>::quiet_NaN();
  const ValueStats st{0.1, 2, 1, 3};
  const std::string j = header_json(h, &st);
  BOOST_CHECK(j.find("\"path\":\"a\\\"b.nii\"") != std::string::npos);
  BOOST_CHECK(j.find("\"dims\":[2,3]") != std::string::npos);
  BOOST_CHECK(j.find("\"scl_slope\":null") != std::string::npos);
  BOOST_CHECK(j.find("\"min\":0.10000000000000001") != std::string::npos);
  BOOST_CHECK(j.find("\"n_nonfinite\":3}") != std::string::npos);
  BOOST_CHECK(j.find('\n') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(int16_scaling_keeps_zero_exact_and_3d_when_one_volume) {
  const fs::path dir = fs::temp_directory_path() / ("v2c-nifti-zero-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // Non-integral values force scaling; the zeros (outside a brain) must read back as exactly 0.
  std::vector<float> v = {0.0f, 0.0f, 812.37f, 1033.9f, 0.0f, 999.5f, 0.0f, 1201.25f};
  const std::string path = (dir / "zero.nii.gz").string();
  write_series(path, {2, 2, 2, 1}, Eigen::Matrix4d::Identity(), 0.0, v, "int16");
  const Image img = Image::load(path);
  BOOST_CHECK_EQUAL(img.header().dims.size(), 3u);
  BOOST_CHECK_EQUAL(img.header().scl_inter, 0.0);
  for (int64_t i = 0; i < 8; ++i) {
    if (v[i] == 0.0f)
      BOOST_CHECK_EQUAL(img.value(i), 0.0);
    else
      BOOST_CHECK_CLOSE_FRACTION(img.value(i), double(v[i]), 1e-4);
  }
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
