#include "pipeline/io/bids_name.h"

#include <filesystem>

namespace v2c::bids {

std::string run_stem(const std::string& path) {
  std::string name = std::filesystem::path(path).filename().string();
  for (const char* ext : {".nii.gz", ".nii", ".tsv", ".json"})
    if (name.size() > std::string(ext).size() && name.ends_with(ext)) {
      name.resize(name.size() - std::string(ext).size());
      break;
    }
  const size_t suffix = name.rfind('_');
  if (suffix != std::string::npos && name.find('-', suffix) == std::string::npos) name.resize(suffix);
  std::string stem;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('_', start);
    if (end == std::string::npos) end = name.size();
    const std::string entity = name.substr(start, end - start);
    const bool derivative = entity.rfind("space-", 0) == 0 || entity.rfind("res-", 0) == 0 ||
                            entity.rfind("den-", 0) == 0 || entity.rfind("desc-", 0) == 0;
    if (!entity.empty() && !derivative) stem += (stem.empty() ? "" : "_") + entity;
    start = end + 1;
  }
  return stem;
}

}  // namespace v2c::bids
