// The one Boost.Test module of vox2clip: every tests/test_*.cpp adds its suites to it.
#define BOOST_TEST_MODULE vox2clip
#include <boost/test/unit_test.hpp>
