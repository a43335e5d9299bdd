// The version recorded in every artifact and printed by --version: `git describe` of the build.
// Only this file is compiled with V2C_VERSION (the Makefile rebuilds it when the version
// changes), so a new commit does not change the flags, or the objects, of any other file.
#include <string>

namespace v2c {

#ifndef V2C_VERSION
#define V2C_VERSION "unknown"
#endif

std::string version_string() { return V2C_VERSION; }

}  // namespace v2c
