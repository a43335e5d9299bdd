// The README's command reference is generated from the stage declarations; it must be current.
#include <boost/test/unit_test.hpp>

#include "tests/test_util.h"

BOOST_AUTO_TEST_SUITE(docs)

BOOST_AUTO_TEST_CASE(readme_command_reference_is_current) {
  const auto root = v2c::test::repo_root();
  BOOST_REQUIRE(root);
  const std::string cmd = v2c::test::shell_quote((*root / "scripts/gen-cli-reference.sh").string()) + " --check 2>&1";
  const int status = std::system(cmd.c_str());
  BOOST_CHECK_MESSAGE(status == 0, "README.md's command reference is out of date: run `make docs`");
}

BOOST_AUTO_TEST_SUITE_END()
