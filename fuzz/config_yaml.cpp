// libFuzzer entry for the 'config_yaml' target (fuzz/harness.h); built and run by `make fuzz`.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return v2c::fuzz::config_yaml(data, size); }
