// Tests of the BData reader (pipeline/io/bdata): files written with h5py laid out as bdpy's
// BData.save() writes them (byte-string keys: fixed-length as h5py 2 stored them in the published
// files, variable-length as h5py 3 does; NaN-padded metadata; /vmap/<key>/<value> label datasets;
// /header), plus the legacy /dataSet and /metaData names. bdpy itself is not needed.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <string>
#include <vector>

#include "pipeline/core/error.h"
#include "pipeline/io/bdata.h"
#include "pipeline/io/samples.h"
#include "tests/test_util.h"

namespace utf = boost::unit_test;
namespace bd = v2c::bdata;
using v2c::ExitCode;
using v2c::test::check_error;
using v2c::test::needs_python;
using v2c::test::run_python_ok;
using v2c::test::TempDir;

namespace {

// Writes the test files into the current directory. The builder mirrors bdpy's BData.add /
// add_metadata / add_vmap / save: each add() appends columns and a flag key (1 on the new
// columns, NaN elsewhere); add_metadata(where=...) sets values on the flagged columns, NaN elsewhere.
//
// Planted study (good.h5; current.h5 the same with variable-length strings): 5 samples x 9 columns
//   columns 0-5  VoxelData, value 10 * row + voxel + 0.25
//   column  6    Run   = 3 3 1 1 3
//   column  7    Label = 1 2 1 3 2        vmap Label: 1 -> n01440764_10026, 2 -> cat, 3 -> dog
//   column  8    Block = 1 2 3 4 5
//   ROI_A on voxels 0 1 2, ROI_B on voxels 2 3, voxel 5 in no ROI
//   voxel_x = -10 -5 0 2.5 5 7.5, voxel_y = 2 * voxel, voxel_z = 1; voxel_i = voxel, voxel_j = 2, voxel_k = 3
const char* const kWriter = R"PY(
import h5py
import numpy as np

class BData:
    def __init__(self):
        self.dataset = np.zeros((0, 0))
        self.keys, self.descs, self.values = [], [], np.zeros((0, 0))
        self.vmap = {}

    def _set(self, key, value, desc):
        n = self.dataset.shape[1]
        if self.values.shape[1] < n:
            pad = np.full((self.values.shape[0], n - self.values.shape[1]), np.nan)
            self.values = np.hstack([self.values, pad])
        if key in self.keys:
            self.values[self.keys.index(key), :] = value
        else:
            self.keys.append(key)
            self.descs.append(desc)
            self.values = np.vstack([self.values, np.asarray(value, dtype=float)[np.newaxis, :]])

    def add(self, x, name):
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[:, np.newaxis]
        has = self.dataset.shape[1]
        self.dataset = x if not self.dataset.size else np.hstack([self.dataset, x])
        self._set(name, [np.nan] * has + [1] * x.shape[1], '1 = %s' % name)

    def add_metadata(self, key, value, description='', where=None):
        full = np.full(self.dataset.shape[1], np.nan)
        full[self.values[self.keys.index(where)] == 1] = value
        self._set(key, full, description)

    def add_vmap(self, key, vmap):
        values = np.unique(self.dataset[:, self.values[self.keys.index(key)] == 1])
        self.vmap[key] = {v: vmap[v] for v in values if not np.isnan(v)}

    # strings: 'fixed'  fixed-length bytes, what h5py 2 made of bdpy's lists of bytes (the
    #                   published Horikawa files);
    #          'bytes'  bdpy's code as is under h5py 3 (lists of bytes become variable-length);
    #          'utf8'   variable-length UTF-8.
    def save(self, name, legacy=False, strings='fixed'):
        ds, md = ('dataSet', 'metaData') if legacy else ('dataset', 'metadata')
        def text(values):
            if strings == 'fixed':
                return np.array([v.encode('utf-8') for v in values], dtype='S')
            if strings == 'bytes':
                return [v.encode('utf-8') for v in values]
            return np.array(values, dtype=h5py.string_dtype())
        def label(v):
            return np.bytes_(v.encode('utf-8')) if strings == 'fixed' else v.encode('utf-8')
        with h5py.File(name, 'w') as f:
            f.create_dataset('/' + ds, data=self.dataset)
            f.create_group('/' + md)
            f.create_dataset('/%s/key' % md, data=text(self.keys))
            f.create_dataset('/%s/description' % md, data=text(self.descs))
            f.create_dataset('/%s/value' % md, data=self.values)
            if legacy:
                return
            f.create_group('/header')
            f.create_dataset('/header/ctime', data=b'2024-01-01 00:00:00')
            f.create_group('/vmap')
            for mk, vm in self.vmap.items():
                f.create_group('/vmap/' + mk)
                for k, v in vm.items():
                    f.create_dataset('/vmap/' + mk + '/' + str(k), data=label(v))

def study(label=(1, 2, 1, 3, 2), run=(3, 3, 1, 1, 3), session=None, ijk=True):
    b = BData()
    rows, vox = np.meshgrid(np.arange(5), np.arange(6), indexing='ij')
    b.add(10.0 * rows + vox + 0.25, 'VoxelData')
    b.add_metadata('ROI_A', [1, 1, 1, np.nan, np.nan, np.nan], 'Region A', where='VoxelData')
    b.add_metadata('ROI_B', [np.nan, np.nan, 1, 1, np.nan, np.nan], 'Region B', where='VoxelData')
    b.add_metadata('voxel_x', [-10, -5, 0, 2.5, 5, 7.5], 'Voxel x coordinate', where='VoxelData')
    b.add_metadata('voxel_y', 2.0 * np.arange(6), 'Voxel y coordinate', where='VoxelData')
    b.add_metadata('voxel_z', np.ones(6), 'Voxel z coordinate', where='VoxelData')
    if ijk:
        b.add_metadata('voxel_i', np.arange(6), 'Voxel index i', where='VoxelData')
        b.add_metadata('voxel_j', np.full(6, 2), 'Voxel index j', where='VoxelData')
        b.add_metadata('voxel_k', np.full(6, 3), 'Voxel index k', where='VoxelData')
    if session is not None:
        b.add(np.array(session), 'Session')
    b.add(np.array(run), 'Run')
    b.add(np.array(label), 'Label')
    b.add(np.arange(1, 6), 'Block')
    return b

good = study()
good.add_vmap('Label', {1.0: 'n01440764_10026', 2.0: 'cat', 3.0: 'dog'})
good.save('good.h5')
good.save('current.h5', strings='bytes')

study(ijk=False).save('legacy.h5', legacy=True, strings='utf8')
study(label=(1.000001, 3, 1518878.008432, 3, 1.000001)).save('novmap.h5')
study(session=(1, 1, 2, 2, 2), run=(1, 2, 1, 2, 2)).save('sessions.h5')
study(run=(3, 3, np.nan, 1, 3)).save('nanrun.h5')

gap = study()
gap.vmap = {'Label': {1.0: 'a', 2.0: 'b'}}
gap.save('gap.h5')

cols = study()
cols.values = np.hstack([cols.values, np.full((cols.values.shape[0], 1), np.nan)])
cols.save('bad_cols.h5')

keys = study()
keys.keys, keys.descs = keys.keys[:-1], keys.descs[:-1]
keys.save('bad_keys.h5')

with h5py.File('other.h5', 'w') as f:
    f.create_dataset('/data', data=np.zeros((2, 2)))
    f.create_dataset('/metadata/key', data=[b'a', b'b'])
)PY";

// Writes the files once per test into a fresh directory.
struct Files {
  TempDir dir{"v2c-bdata"};
  Files() { run_python_ok(kWriter, dir.path().string()); }
  std::string operator()(const std::string& name) const { return dir.file(name); }
};

std::vector<int64_t> ids(std::initializer_list<int64_t> v) { return v; }

}  // namespace

BOOST_AUTO_TEST_SUITE(bdata)

BOOST_AUTO_TEST_CASE(reads_bdpy_layout, *utf::precondition(needs_python{{"h5py", "numpy"}})) {
  Files f;
  const bd::BData b = bd::read_bdata(f("good.h5"));
  BOOST_CHECK_EQUAL(b.path, f("good.h5"));
  BOOST_REQUIRE_EQUAL(b.n_samples(), 5);
  BOOST_REQUIRE_EQUAL(b.n_columns(), 9);
  const std::vector<std::string> keys = {"VoxelData", "ROI_A",   "ROI_B",   "voxel_x", "voxel_y", "voxel_z",
                                         "voxel_i",   "voxel_j", "voxel_k", "Run",     "Label",   "Block"};
  BOOST_CHECK_EQUAL_COLLECTIONS(b.keys.begin(), b.keys.end(), keys.begin(), keys.end());
  BOOST_REQUIRE_EQUAL(b.descriptions.size(), keys.size());
  BOOST_CHECK_EQUAL(b.descriptions[0], "1 = VoxelData");
  BOOST_CHECK_EQUAL(b.descriptions[1], "Region A");
  BOOST_REQUIRE_EQUAL(b.metadata.rows(), int64_t(keys.size()));
  BOOST_REQUIRE_EQUAL(b.metadata.cols(), 9);
  for (int r = 0; r < 5; ++r)
    for (int v = 0; v < 6; ++v) BOOST_CHECK_EQUAL(b.dataset(r, v), 10.0 * r + v + 0.25);
  const double run[] = {3, 3, 1, 1, 3};
  for (int r = 0; r < 5; ++r) BOOST_CHECK_EQUAL(b.dataset(r, 6), run[r]);
  // Flags are 1 on their columns and NaN elsewhere; numeric keys carry their values.
  const int64_t voxel_data = b.key_index("VoxelData"), run_key = b.key_index("Run");
  for (int c = 0; c < 9; ++c) {
    BOOST_CHECK(c < 6 ? b.metadata(voxel_data, c) == 1 : std::isnan(b.metadata(voxel_data, c)));
    BOOST_CHECK(c == 6 ? b.metadata(run_key, c) == 1 : std::isnan(b.metadata(run_key, c)));
  }
  BOOST_CHECK_EQUAL(b.metadata(b.key_index("voxel_x"), 3), 2.5);
  BOOST_CHECK(std::isnan(b.metadata(b.key_index("voxel_x"), 7)));
  BOOST_CHECK_EQUAL(b.key_index("nope"), -1);
  // vmap, keys written by bdpy as str(float): "1.0"...
  BOOST_REQUIRE_EQUAL(b.vmap.size(), 1u);
  const auto& labels = b.vmap.at("Label");
  BOOST_REQUIRE_EQUAL(labels.size(), 3u);
  BOOST_CHECK_EQUAL(labels.at(1.0), "n01440764_10026");
  BOOST_CHECK_EQUAL(labels.at(3.0), "dog");
  // column(): bdpy's get(key) for a design column.
  const auto blocks = bd::column(b, "Block");
  const std::vector<double> want_blocks = {1, 2, 3, 4, 5};
  BOOST_CHECK_EQUAL_COLLECTIONS(blocks.begin(), blocks.end(), want_blocks.begin(), want_blocks.end());

  // bdpy's writer under h5py 3: the same content with variable-length strings.
  const bd::BData c = bd::read_bdata(f("current.h5"));
  BOOST_CHECK_EQUAL_COLLECTIONS(c.keys.begin(), c.keys.end(), b.keys.begin(), b.keys.end());
  BOOST_CHECK_EQUAL_COLLECTIONS(c.descriptions.begin(), c.descriptions.end(), b.descriptions.begin(),
                                b.descriptions.end());
  BOOST_CHECK(c.vmap == b.vmap);
  BOOST_CHECK(c.dataset == b.dataset);
}

BOOST_AUTO_TEST_CASE(selection_expressions, *utf::precondition(needs_python{{"h5py", "numpy"}})) {
  Files f;
  const bd::BData b = bd::read_bdata(f("good.h5"));
  auto check = [&](const std::string& expr, const std::vector<int64_t>& want) {
    const auto got = bd::select_columns(b, expr);
    BOOST_TEST_CONTEXT("expression '" << expr << "'") {
      BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());
    }
  };
  check("VoxelData = 1", ids({0, 1, 2, 3, 4, 5}));
  check("ROI_A = 1 | ROI_B = 1", ids({0, 1, 2, 3}));
  check("VoxelData = 1 & ROI_A = 1", ids({0, 1, 2}));
  check("ROI_A=1&ROI_B=1", ids({2}));
  check("ROI_A + ROI_B", ids({0, 1, 2, 3}));   // bare key = "KEY = 1"; '+' is '|'
  check("VoxelData - ROI_A", ids({3, 4, 5}));  // and-not
  check("ROI_* = 1", ids({0, 1, 2, 3}));       // wildcard over ROI_A, ROI_B
  check("VoxelData = 1 - (ROI_A = 1 | ROI_B = 1)", ids({4, 5}));
  // One precedence, left to right (bdpy): (A | B) & B, not A | (B & B).
  check("ROI_A = 1 | ROI_B = 1 & ROI_B = 1", ids({2, 3}));
  check("ROI_A = 1 | (ROI_B = 1 & ROI_B = 1)", ids({0, 1, 2, 3}));
  // Numeric metadata, negative numbers.
  check("voxel_x = -10", ids({0}));
  check("voxel_x = 2.5 | voxel_y = 10", ids({3, 5}));
  check("Run", ids({6}));

  for (const char* bad : {"ROI_A =", "(ROI_A = 1", "ROI_A ROI_B", "= 1", "ROI_A = x", "ROI_A | ", ""}) {
    BOOST_TEST_CONTEXT("expression '" << bad << "'") {
      check_error([&] { bd::select_columns(b, bad); }, ExitCode::usage, {"column selection", "syntax"});
    }
  }
  check_error([&] { bd::select_columns(b, "ROI_V1 = 1 | ROI_A = 1"); }, ExitCode::input,
              {"good.h5", "no metadata key 'ROI_V1'", "available keys", "'VoxelData'", "'ROI_A'", "'Block'"});
  check_error([&] { bd::select_columns(b, "ROI_Z* = 1"); }, ExitCode::input, {"no metadata key matching 'ROI_Z*'"});
  check_error([&] { bd::select_columns(b, "ROI_A = 1 & Run = 1"); }, ExitCode::input, {"selects no column"});
  check_error([&] { bd::column(b, "Stimulus"); }, ExitCode::input, {"no metadata key 'Stimulus'", "'Label'"});
  check_error([&] { bd::column(b, "VoxelData"); }, ExitCode::input, {"'VoxelData' flags 6 columns", "exactly one"});
}

BOOST_AUTO_TEST_CASE(samples_with_vmap_labels, *utf::precondition(needs_python{{"h5py", "numpy"}})) {
  Files f;
  const v2c::Samples s = bd::samples_from_bdata(f("good.h5"), bd::BDataSelection{"ROI_A = 1 | ROI_B = 1"}, "sub-01");
  BOOST_CHECK_EQUAL(s.subject, "sub-01");
  BOOST_REQUIRE_EQUAL(s.n_samples(), 5);
  BOOST_REQUIRE_EQUAL(s.n_voxels(), 4);
  for (int r = 0; r < 5; ++r)
    for (int v = 0; v < 4; ++v) BOOST_CHECK_EQUAL(s.data(r, v), float(10 * r + v) + 0.25f);
  // Runs 3 3 1 1 3 -> indices in order of first appearance.
  const std::vector<int32_t> run = {0, 0, 1, 1, 0};
  BOOST_CHECK_EQUAL_COLLECTIONS(s.run.begin(), s.run.end(), run.begin(), run.end());
  const std::vector<std::string> sources = {"run 3", "run 1"};
  BOOST_CHECK_EQUAL_COLLECTIONS(s.run_source.begin(), s.run_source.end(), sources.begin(), sources.end());
  BOOST_CHECK_EQUAL(s.run_events.size(), 2u);
  BOOST_CHECK_EQUAL(s.run_tr_s.size(), 2u);
  BOOST_CHECK_EQUAL(s.run_volumes.size(), 2u);
  const std::vector<std::string> stim = {"n01440764_10026", "cat", "n01440764_10026", "dog", "cat"};
  BOOST_CHECK_EQUAL_COLLECTIONS(s.stimulus.begin(), s.stimulus.end(), stim.begin(), stim.end());
  for (int r = 0; r < 5; ++r) {
    BOOST_CHECK_EQUAL(s.onset_s[size_t(r)], 0.0);
    BOOST_CHECK_EQUAL(s.duration_s[size_t(r)], 0.0);
  }
  BOOST_CHECK_EQUAL(s.volumes.size(), 5u);
  // Voxel tables from voxel_i/j/k and voxel_x/y/z.
  BOOST_REQUIRE_EQUAL(s.ijk.rows(), 4);
  BOOST_REQUIRE_EQUAL(s.xyz.rows(), 4);
  for (int v = 0; v < 4; ++v) {
    BOOST_CHECK_EQUAL(s.ijk(v, 0), v);
    BOOST_CHECK_EQUAL(s.ijk(v, 1), 2);
    BOOST_CHECK_EQUAL(s.ijk(v, 2), 3);
    BOOST_CHECK_EQUAL(s.xyz(v, 1), 2.0 * v);
    BOOST_CHECK_EQUAL(s.xyz(v, 2), 1.0);
  }
  BOOST_CHECK_EQUAL(s.xyz(3, 0), 2.5);
  BOOST_CHECK_EQUAL(s.grid_dims[0], 0);
  BOOST_CHECK_EQUAL(s.mask_voxels, 4);
  BOOST_CHECK(!s.has_features());

  // A valid samples.h5: it survives write_samples / read_samples.
  v2c::Provenance prov;
  prov.stage = "test";
  prov.inputs = {f("good.h5")};
  v2c::write_samples(f("samples.h5"), s, prov, false);
  const v2c::Samples back = v2c::read_samples(f("samples.h5"));
  BOOST_CHECK(back.data == s.data);
  BOOST_CHECK_EQUAL_COLLECTIONS(back.stimulus.begin(), back.stimulus.end(), stim.begin(), stim.end());
  BOOST_CHECK_EQUAL_COLLECTIONS(back.run_source.begin(), back.run_source.end(), sources.begin(), sources.end());
  BOOST_CHECK(back.ijk == s.ijk);
}

BOOST_AUTO_TEST_CASE(stimulus_numbers_without_vmap, *utf::precondition(needs_python{{"h5py", "numpy"}})) {
  Files f;
  const v2c::Samples s = bd::samples_from_bdata(f("novmap.h5"), {}, "sub-02");
  const std::vector<std::string> stim = {"1.000001", "3", "1518878.008432", "3", "1.000001"};
  BOOST_CHECK_EQUAL_COLLECTIONS(s.stimulus.begin(), s.stimulus.end(), stim.begin(), stim.end());
  BOOST_CHECK_EQUAL(s.n_voxels(), 6);
}

BOOST_AUTO_TEST_CASE(format_value_is_shortest_fixed) {
  BOOST_CHECK_EQUAL(bd::format_value(3), "3");
  BOOST_CHECK_EQUAL(bd::format_value(-0.0), "0");
  BOOST_CHECK_EQUAL(bd::format_value(0.1), "0.1");
  BOOST_CHECK_EQUAL(bd::format_value(-2.5), "-2.5");
  BOOST_CHECK_EQUAL(bd::format_value(1e6), "1000000");
  BOOST_CHECK_EQUAL(bd::format_value(1.000001), "1.000001");
  BOOST_CHECK_EQUAL(bd::format_value(1518878.008432), "1518878.008432");
}

BOOST_AUTO_TEST_CASE(legacy_names_and_variable_length_strings, *utf::precondition(needs_python{{"h5py", "numpy"}})) {
  Files f;
  const bd::BData b = bd::read_bdata(f("legacy.h5"));
  BOOST_CHECK_EQUAL(b.n_samples(), 5);
  BOOST_CHECK_EQUAL(b.n_columns(), 9);
  BOOST_CHECK_EQUAL(b.keys[0], "VoxelData");
  BOOST_CHECK_EQUAL(b.descriptions[1], "Region A");
  BOOST_CHECK(b.vmap.empty());
  const auto sel = bd::select_columns(b, "VoxelData = 1 & ROI_A = 1");
  BOOST_CHECK_EQUAL(sel.size(), 3u);
  const v2c::Samples s = bd::samples_from_bdata(b, {}, "sub-03");
  BOOST_CHECK_EQUAL(s.stimulus[3], "3");
  // No voxel_i/j/k: ijk -1; voxel_x/y/z present.
  BOOST_CHECK_EQUAL(s.ijk(0, 0), -1);
  BOOST_CHECK_EQUAL(s.ijk(5, 2), -1);
  BOOST_CHECK_EQUAL(s.xyz(0, 0), -10.0);
}

BOOST_AUTO_TEST_CASE(runs_restarting_per_session, *utf::precondition(needs_python{{"h5py", "numpy"}})) {
  Files f;
  bd::BDataSelection sel;
  sel.session = "Session";
  const v2c::Samples s = bd::samples_from_bdata(f("sessions.h5"), sel, "sub-01");
  const std::vector<int32_t> run = {0, 1, 2, 3, 3};
  BOOST_CHECK_EQUAL_COLLECTIONS(s.run.begin(), s.run.end(), run.begin(), run.end());
  BOOST_CHECK_EQUAL(s.run_source[2], "session 2 run 1");
  // Without the session key the run numbers alone are merged.
  const v2c::Samples merged = bd::samples_from_bdata(f("sessions.h5"), {}, "sub-01");
  const std::vector<int32_t> merged_run = {0, 1, 0, 1, 1};
  BOOST_CHECK_EQUAL_COLLECTIONS(merged.run.begin(), merged.run.end(), merged_run.begin(), merged_run.end());
}

BOOST_AUTO_TEST_CASE(error_paths, *utf::precondition(needs_python{{"h5py", "numpy"}})) {
  Files f;
  check_error([&] { bd::read_bdata(f("bad_cols.h5")); }, ExitCode::input,
              {"bad_cols.h5", "/metadata/value has 10 columns", "/dataset has 9", "[12 x 10]", "[5 x 9]"});
  check_error([&] { bd::read_bdata(f("bad_keys.h5")); }, ExitCode::input,
              {"bad_keys.h5", "/metadata/key has 11 keys", "/metadata/value has 12 rows"});
  check_error([&] { bd::read_bdata(f("other.h5")); }, ExitCode::input,
              {"other.h5", "is not a BData file", "expected datasets /dataset", "missing '/dataset', '/metadata/value'",
               "found /data, /metadata/, /metadata/key"});
  check_error([&] { bd::read_bdata(f.dir.write("text.h5", "not hdf5\n")); }, ExitCode::input,
              {"text.h5", "not an HDF5 file"});
  check_error([&] { bd::read_bdata(f("missing.h5")); }, ExitCode::io, {"missing.h5", "no such file"});
  check_error([&] { bd::samples_from_bdata(f("missing.h5"), {}, "sub-01"); }, ExitCode::io, {"missing.h5"});
  check_error([&] { bd::samples_from_bdata(f("gap.h5"), {}, "sub-01"); }, ExitCode::input,
              {"gap.h5", "sample 3", "'Label' value 3 has no label in /vmap/Label"});
  check_error([&] { bd::samples_from_bdata(f("nanrun.h5"), {}, "sub-01"); }, ExitCode::input,
              {"nanrun.h5", "sample 2", "no run", "'Run' is nan"});
  bd::BDataSelection sel;
  sel.stimulus = "stimulus_name";
  check_error([&] { bd::samples_from_bdata(f("good.h5"), sel, "sub-01"); }, ExitCode::input,
              {"no metadata key 'stimulus_name'", "'Label'"});
}

BOOST_AUTO_TEST_SUITE_END()
