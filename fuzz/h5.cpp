// libFuzzer entry for the 'h5' target (fuzz/harness.h); built and run by `make fuzz`.
#include "fuzz/harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return v2c::fuzz::h5(data, size); }
