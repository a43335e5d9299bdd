#include "pipeline/io/sidecar.h"

#include <filesystem>
#include <fstream>

#include "pipeline/core/error.h"
#include "pipeline/core/json.h"

namespace fs = std::filesystem;

namespace v2c::sidecar {

std::string beside(const std::string& nifti_path) {
  std::string stem = nifti_path;
  for (const char* ext : {".nii.gz", ".nii"})
    if (stem.size() > std::string(ext).size() && stem.ends_with(ext)) {
      stem.resize(stem.size() - std::string(ext).size());
      break;
    }
  const std::string path = stem + ".json";
  std::error_code ec;
  return fs::is_regular_file(path, ec) ? path : "";
}

std::optional<double> repetition_time(const std::string& json_path) {
  std::ifstream in(json_path);
  if (!in) throw io_error("cannot open BIDS sidecar '", json_path, "'");
  json::Value doc;
  try {
    doc = json::Value::parse(in);
  } catch (const json::Value::exception& e) {
    throw input_error("BIDS sidecar '", json_path, "' is not valid JSON: ", e.what());
  }
  if (!doc.is_object() || !doc.contains("RepetitionTime")) return std::nullopt;
  const auto& tr = doc["RepetitionTime"];
  if (!tr.is_number() || !(tr.get<double>() > 0))
    throw input_error("BIDS sidecar '", json_path, "': RepetitionTime must be a positive number of seconds, found ",
                      tr.dump());
  return tr.get<double>();
}

}  // namespace v2c::sidecar
