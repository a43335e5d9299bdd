// NIfTI datatype codes: names, sizes, which ones vox2clip reads, and a dispatch from a code to
// its C++ type (for loops over voxel data).
#pragma once

#include <cstdint>

#include "pipeline/core/error.h"

namespace v2c::nifti {

struct TypeInfo {
  int code;
  const char* name;
  int bytes;
  bool supported;  // real-valued scalar types; complex, RGB, float128 and binary are refused
};

inline constexpr TypeInfo kTypes[] = {
    {2, "uint8", 1, true},           {4, "int16", 2, true},         {8, "int32", 4, true},
    {16, "float32", 4, true},        {64, "float64", 8, true},      {256, "int8", 1, true},
    {512, "uint16", 2, true},        {768, "uint32", 4, true},      {1024, "int64", 8, true},
    {1280, "uint64", 8, true},       {1, "binary", 0, false},       {32, "complex64", 8, false},
    {128, "rgb24", 3, false},        {1536, "float128", 16, false}, {1792, "complex128", 16, false},
    {2048, "complex256", 32, false}, {2304, "rgba32", 4, false},
};

// nullptr for an unknown code.
inline const TypeInfo* find_type(int code) {
  for (const auto& t : kTypes)
    if (t.code == code) return &t;
  return nullptr;
}

// Calls fn(T{}) with the C++ type of a supported datatype code.
template <class Fn>
decltype(auto) dispatch(int code, Fn&& fn) {
  switch (code) {
    case 2:
      return fn(uint8_t{});
    case 4:
      return fn(int16_t{});
    case 8:
      return fn(int32_t{});
    case 16:
      return fn(float{});
    case 64:
      return fn(double{});
    case 256:
      return fn(int8_t{});
    case 512:
      return fn(uint16_t{});
    case 768:
      return fn(uint32_t{});
    case 1024:
      return fn(int64_t{});
    case 1280:
      return fn(uint64_t{});
  }
  V2C_ASSERT(false, "dispatch on unsupported datatype ", code);
  return fn(uint8_t{});
}

}  // namespace v2c::nifti
