// What every artifact records about how it was made (docs/formats.md, "/provenance"). Filled by
// the stage framework (core/stage.h); readers and writers in io/ take it without the CLI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace v2c {

struct Provenance {
  std::string stage;         // "prepare" (the executable is v2c-prepare)
  std::string command_line;  // shell-quoted
  std::string version;       // git describe of the build
  std::string config_yaml;   // the stage's whole config section, defaults included
  std::string created_utc;   // 2024-01-31T12:00:00Z
  uint64_t seed = 0;
  int threads = 0;
  std::vector<std::string> inputs;  // the files read (made absolute when written)
};

}  // namespace v2c
