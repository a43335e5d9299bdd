// Every input a fuzz target once failed on (tests/regress/fuzz/<target>/), and the seed corpus
// of each target (fuzz/corpus/<target>/), replayed through the same target (fuzz/harness.h):
// each must end in a return or a v2c::Error. Under the sanitizer build of `make test` this also
// catches the memory errors the fuzzers found.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "fuzz/harness.h"
#include "tests/test_util.h"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> inputs_of(const std::string& target) {
  std::vector<fs::path> files;
  const auto root = v2c::test::repo_root();
  if (!root) return files;
  for (const fs::path& dir : {*root / "tests" / "regress" / "fuzz" / target, *root / "fuzz" / "corpus" / target}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fuzz_regress)

BOOST_AUTO_TEST_CASE(every_saved_input_ends_in_a_return_or_a_v2c_error) {
  int replayed = 0;
  for (const auto& target : v2c::fuzz::targets()) {
    for (const auto& file : inputs_of(target.name)) {
      std::ifstream in(file, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      BOOST_TEST_CONTEXT(target.name << ": " << file.filename().string()) {
        try {
          target.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
        } catch (const std::exception& e) {
          BOOST_ERROR("not a v2c::Error: " << e.what());
        }
      }
      ++replayed;
    }
  }
  BOOST_TEST_MESSAGE(replayed << " saved fuzz inputs replayed");
  BOOST_CHECK_GT(replayed, 0);
}

BOOST_AUTO_TEST_SUITE_END()
