#include "pipeline/io/nifti/header_json.h"

#include <cmath>
#include <cstdio>

#include "pipeline/core/json.h"

namespace v2c::nifti {
namespace {

std::string number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

std::string header_json(const Header& h, const ValueStats* stats) {
  std::string s = "{\"path\":" + json::quote(h.path);
  s += ",\"version\":" + std::to_string(h.version);
  s += ",\"storage\":" + json::quote(h.storage);
  s += ",\"dims\":[";
  for (size_t i = 0; i < h.dims.size(); ++i) s += (i ? "," : "") + std::to_string(h.dims[i]);
  s += "]";
  if (!h.stored_dims.empty()) {
    s += ",\"stored_dims\":[";
    for (size_t i = 0; i < h.stored_dims.size(); ++i) s += (i ? "," : "") + std::to_string(h.stored_dims[i]);
    s += "]";
  }
  s += ",\"intent_code\":" + std::to_string(h.intent_code);
  s += std::string(",\"cifti\":") + (h.cifti ? "true" : "false");
  s += ",\"datatype\":" + std::to_string(h.datatype);
  s += ",\"datatype_name\":" + json::quote(h.datatype_name);
  s += ",\"voxel_size\":[" + number(h.voxel_size[0]) + "," + number(h.voxel_size[1]) + "," + number(h.voxel_size[2]) +
       "]";
  s += ",\"tr\":" + number(h.tr_seconds);
  s += ",\"scl_slope\":" + number(h.scl_slope);
  s += ",\"scl_inter\":" + number(h.scl_inter);
  s += ",\"affine\":[";
  for (int r = 0; r < 4; ++r) {
    s += r ? ",[" : "[";
    for (int c = 0; c < 4; ++c) s += (c ? "," : "") + number(h.affine(r, c));
    s += "]";
  }
  s += "],\"affine_source\":" + json::quote(h.affine_source);
  s += ",\"qform_code\":" + std::to_string(h.qform_code);
  s += ",\"sform_code\":" + std::to_string(h.sform_code);
  if (stats) {
    s += ",\"min\":" + number(stats->min);
    s += ",\"max\":" + number(stats->max);
    s += ",\"mean\":" + number(stats->mean);
    s += ",\"n_nonfinite\":" + std::to_string(stats->n_nonfinite);
  }
  return s + "}";
}

}  // namespace v2c::nifti
