// v2c-info --json against nibabel (Debian python3-nibabel as the oracle) on every NIfTI file in
// nibabel's own test data directory: dims exactly, affine within 1e-4, min/max/mean after
// scaling within 1e-5 of the value range; files nibabel cannot load must fail here too.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <sstream>

#include "tests/test_util.h"

namespace fs = std::filesystem;
using namespace v2c;
namespace utf = boost::unit_test;

namespace {

const fs::path kNibabelData = "/usr/lib/python3/dist-packages/nibabel/tests/data";

struct needs_nibabel_data {
  boost::test_tools::assertion_result operator()(utf::test_unit_id) const {
    if (fs::is_directory(kNibabelData)) return true;
    boost::test_tools::assertion_result r(false);
    r.message() << kNibabelData.string() << " not found (make setup-test installs python3-nibabel)";
    return r;
  }
};

bool is_nifti_name(const std::string& name) {
  for (const char* ext : {".nii", ".nii.gz", ".hdr", ".img", ".img.gz"})
    if (name.size() > std::string(ext).size() && name.ends_with(ext))
      return !name.ends_with(".img") && !name.ends_with(".img.gz");
  return false;
}

std::string info_binary() {
  const auto root = test::repo_root();
  BOOST_REQUIRE(root);
  const char* bin_dir = std::getenv("V2C_BIN_DIR");
  return bin_dir ? std::string(bin_dir) + "/v2c-info" : (*root / "build/bin/v2c-info").string();
}

// Runs v2c-info --json and the nibabel oracle on `files` and compares them in Python, file by
// file: dims exactly, CIFTI-2 or not, affine within 1e-4, min/max/mean within 1e-5 of the range.
// Returns the comparison's report ("MISMATCH ..." lines, then "compared N refused N mismatches N").
std::string compare_with_nibabel(const std::vector<std::string>& files) {
  const auto root = test::repo_root();
  BOOST_REQUIRE(root);
  const std::string info = info_binary();
  const std::string oracle = (*root / "tests/oracle/nifti_info_nibabel.py").string();
  std::ostringstream py;
  py << "import json, subprocess, sys\n"
     << "files = "
     << "[";
  for (const auto& f : files) py << "'" << f << "',";
  py << "]\n"
     << "ours = {}; codes = {}\n"
     << "for f in files:\n"
     << "    p = subprocess.run(['" << info << "', '--json', '--quiet', f], capture_output=True, text=True)\n"
     << "    codes[f] = (p.returncode, p.stderr.strip())\n"
     << "    if p.returncode == 0: ours[f] = json.loads(p.stdout.strip().splitlines()[-1])\n"
     << "ref = [json.loads(l) for l in subprocess.run(['/usr/bin/python3', '" << oracle << "'] + files,\n"
     << "       capture_output=True, text=True, check=True).stdout.splitlines() if l.strip()]\n"
     << "bad = 0; compared = 0; refused = 0\n"
     << "for r in ref:\n"
     << "    f = r['path']\n"
     << "    if 'error' in r:\n"
     << "        if codes[f][0] == 0: print('MISMATCH', f, 'nibabel fails but we exit 0'); bad += 1\n"
     << "        elif not codes[f][1]: print('MISMATCH', f, 'no message'); bad += 1\n"
     << "        else: refused += 1\n"
     << "        continue\n"
     << "    if codes[f][0] != 0: print('MISMATCH', f, 'we fail:', codes[f]); bad += 1; continue\n"
     << "    o = ours[f]; compared += 1\n"
     << "    if o['dims'] != r['dims']: print('MISMATCH', f, 'dims', o['dims'], r['dims']); bad += 1\n"
     << "    if o['cifti'] != r['cifti']: print('MISMATCH', f, 'cifti', o['cifti'], r['cifti']); bad += 1\n"
     << "    if o['datatype'] != r['datatype']: print('MISMATCH', f, 'datatype'); bad += 1\n"
     << "    da = max(abs(a - b) for ra, rb in zip(o['affine'], r['affine']) for a, b in zip(ra, rb))\n"
     << "    if da > 1e-4: print('MISMATCH', f, 'affine off by', da); bad += 1\n"
     << "    span = max(r['max'] - r['min'], 1e-300) if r['max'] is not None else 1\n"
     << "    for k in ('min', 'max', 'mean'):\n"
     << "        if (o[k] is None) != (r[k] is None) or (r[k] is not None and abs(o[k] - r[k]) > 1e-5 * span):\n"
     << "            print('MISMATCH', f, k, o[k], r[k]); bad += 1\n"
     << "print('compared', compared, 'refused', refused, 'mismatches', bad)\n";
  return test::run_python_ok(py.str());
}

int compared_count(const std::string& report) {
  const auto pos = report.find("compared ");
  BOOST_REQUIRE(pos != std::string::npos);
  return std::stoi(report.substr(pos + 9));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(info)

BOOST_AUTO_TEST_CASE(agrees_with_nibabel_on_its_test_data,
                     *utf::precondition(needs_nibabel_data()) * utf::precondition(test::needs_python{{"nibabel"}})) {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(kNibabelData))
    if (is_nifti_name(e.path().filename().string())) files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  BOOST_REQUIRE_GE(files.size(), 8u);
  const std::string out = compare_with_nibabel(files);
  BOOST_TEST_MESSAGE(out);
  BOOST_CHECK_MESSAGE(out.find("MISMATCH") == std::string::npos, out);
  BOOST_CHECK_MESSAGE(out.find("mismatches 0") != std::string::npos, out);
  // At least the eight loadable NIfTI files of nibabel 5 were compared, not skipped.
  BOOST_CHECK_GE(compared_count(out), 8);
}

// FreeSurfer's ico7 surface in NIfTI-1 (163842 vertices stored as 27307x1x6) has nibabel's shape;
// a CIFTI-2 dense series is named CIFTI-2 and read as its NIfTI-2 array, and refused where a
// volume is needed; FreeSurfer's other large-vector convention (dim[1] = -1) is refused by name.
BOOST_AUTO_TEST_CASE(freesurfer_surfaces_and_cifti_as_nibabel_reads_them,
                     *utf::precondition(test::needs_python{{"nibabel"}})) {
  test::TempDir dir("v2c-info-surf");
  const std::string ico7 = dir.file("lh.ico7.nii"), ico7_4d = dir.file("lh.ico7.4d.nii.gz"),
                    cifti = dir.file("x.dtseries.nii"), vec = dir.file("vec.nii");
  test::run_python_ok(
      "import numpy as np, nibabel as nib, warnings\n"
      "warnings.simplefilter('ignore')\n"
      "v = (np.arange(163842) % 251).astype(np.int16)\n"
      "nib.save(nib.Nifti1Image(v.reshape(163842, 1, 1), np.diag([2., 2., 2., 1.])), '" +
      ico7 +
      "')\n"
      "nib.save(nib.Nifti1Image(np.stack([v, -v], -1).reshape(163842, 1, 1, 2).astype(np.float32), None), '" +
      ico7_4d +
      "')\n"
      "nib.save(nib.Nifti1Image(np.ones((40000, 1, 1), np.float32), np.eye(4)), '" +
      vec +
      "')\n"
      "from nibabel import cifti2 as ci\n"
      "bm = ci.BrainModelAxis.from_mask(np.ones(5, bool), name='CortexLeft')\n"
      "img = ci.Cifti2Image(np.arange(15, dtype=np.float32).reshape(3, 5), header=(ci.SeriesAxis(0, 2.0, 3), bm))\n"
      "img.nifti_header.set_intent('ConnDenseSeries')\n"
      "nib.save(img, '" +
      cifti + "')\n");
  const std::string out = compare_with_nibabel({ico7, ico7_4d, cifti});
  BOOST_CHECK_MESSAGE(out.find("MISMATCH") == std::string::npos, out);
  BOOST_CHECK_EQUAL(compared_count(out), 3);
  const std::string info = info_binary();
  auto r = test::run_stage("info", {"--json", ico7});
  BOOST_CHECK_EQUAL(r.exit_code, 0);
  BOOST_CHECK_MESSAGE(r.output.find("\"dims\":[163842,1,1],\"stored_dims\":[27307,1,6]") != std::string::npos,
                      r.output);
  r = test::run_stage("info", {ico7});
  BOOST_CHECK_MESSAGE(r.output.find("FreeSurfer ico7 surface") != std::string::npos, r.output);
  r = test::run_stage("info", {cifti});
  BOOST_CHECK_EQUAL(r.exit_code, 0);
  BOOST_CHECK_MESSAGE(r.output.find("CIFTI-2     intent_code 3002") != std::string::npos, r.output);
  BOOST_CHECK_MESSAGE(r.output.find("plain NIfTI-2 array") != std::string::npos, r.output);
  r = test::run_stage("info", {vec});
  test::check_refused(r, 3, dir.file("none"), {"vec.nii", "FreeSurfer's large-vector convention", "40000"});
  // A stage that needs volumes refuses both, naming the file.
  dir.write("labels.txt", "a 0\na 0\nb 0\n");
  for (const std::string& bold : {cifti, ico7_4d}) {
    const std::string samples = dir.file("samples.h5");
    r = test::run_stage("prepare",
                        {"--bold", bold, "--labels", dir.file("labels.txt"), "--mask", "auto", "--out", samples});
    BOOST_TEST_CONTEXT(bold) {
      test::check_refused(r, 3, samples, {fs::path(bold).filename().string(), "not a volume"});
    }
  }
}

BOOST_AUTO_TEST_CASE(text_output_and_failure_codes) {
  test::TempDir dir("v2c-info");
  const auto root = test::repo_root();
  BOOST_REQUIRE(root);
  const char* bin_dir = std::getenv("V2C_BIN_DIR");
  const std::string info = bin_dir ? std::string(bin_dir) + "/v2c-info" : (*root / "build/bin/v2c-info").string();
  const std::string log = dir.file("log");
  auto run = [&](const std::string& args) {
    const int status = std::system((info + " " + args + " > " + log + " 2>&1").c_str());
    return std::pair<int, std::string>(WEXITSTATUS(status), test::read_text_file(log));
  };
  auto [code, text] = run(test::shell_quote(dir.file("missing.nii.gz")));
  BOOST_CHECK_EQUAL(code, 4);
  BOOST_CHECK(text.find("missing.nii.gz") != std::string::npos);
  dir.write("junk.nii", std::string(400, 'x'));
  std::tie(code, text) = run(test::shell_quote(dir.file("junk.nii")));
  BOOST_CHECK_EQUAL(code, 3);
  BOOST_CHECK(text.find("junk.nii") != std::string::npos);
  std::tie(code, text) = run("");
  BOOST_CHECK_EQUAL(code, 2);
}

BOOST_AUTO_TEST_SUITE_END()
