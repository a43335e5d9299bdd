// The one Boost.Test module of vox2clip: every tests/test_*.cpp adds its suites to it.
#define BOOST_TEST_MODULE vox2clip
#include <boost/test/unit_test.hpp>

#include "pipeline/core/log.h"

// Library code logs progress to stderr; in the test log only warnings and errors are wanted.
struct QuietLibraryLogs {
  QuietLibraryLogs() { v2c::log::set_level(v2c::log::Level::quiet); }
};
BOOST_TEST_GLOBAL_FIXTURE(QuietLibraryLogs);
