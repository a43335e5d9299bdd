#include "pipeline/prep/bids.h"

#include <algorithm>
#include <filesystem>

#include "pipeline/core/error.h"
#include "pipeline/io/bids_name.h"
#include "pipeline/io/sidecar.h"

namespace fs = std::filesystem;

namespace v2c::prep {

namespace {

// The func/ folders of a subject: sub-S/func, and sub-S/ses-*/func in session order.
std::vector<fs::path> func_dirs(const fs::path& root, const std::string& sub) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  if (fs::is_directory(root / sub / "func", ec)) dirs.push_back(root / sub / "func");
  if (fs::is_directory(root / sub, ec)) {
    std::vector<fs::path> sessions;
    for (const auto& e : fs::directory_iterator(root / sub))
      if (e.is_directory() && e.path().filename().string().rfind("ses-", 0) == 0 && fs::is_directory(e.path() / "func"))
        sessions.push_back(e.path() / "func");
    std::sort(sessions.begin(), sessions.end());
    dirs.insert(dirs.end(), sessions.begin(), sessions.end());
  }
  return dirs;
}

// Files in `dirs` whose name starts with `prefix` and ends with one of `suffixes`, sorted by name.
std::vector<std::string> matching(const std::vector<fs::path>& dirs, const std::string& prefix,
                                  std::initializer_list<const char*> suffixes, const std::string& must_contain = "") {
  std::vector<std::string> out;
  for (const auto& d : dirs)
    for (const auto& e : fs::directory_iterator(d)) {
      const std::string name = e.path().filename().string();
      if (name.rfind(prefix, 0) != 0) continue;
      if (!must_contain.empty() && name.find(must_contain) == std::string::npos) continue;
      for (const char* s : suffixes)
        if (name.size() > std::string(s).size() && name.ends_with(s)) {
          out.push_back(e.path().string());
          break;
        }
    }
  std::sort(out.begin(), out.end(),
            [](const std::string& a, const std::string& b) { return fs::path(a).filename() < fs::path(b).filename(); });
  return out;
}

std::string first_existing(std::initializer_list<fs::path> candidates) {
  std::error_code ec;
  for (const auto& c : candidates)
    if (fs::is_regular_file(c, ec)) return c.string();
  return "";
}

}  // namespace

void discover_bids(const BidsQuery& q, PrepareInputs& inputs) {
  const std::string sub = q.subject.rfind("sub-", 0) == 0 ? q.subject : "sub-" + q.subject;
  const fs::path root(q.root);
  const std::vector<fs::path> raw_dirs = func_dirs(root, sub);
  const std::string prefix = sub + "_";
  const std::string task = "_task-" + q.task + "_";
  const std::string inherited = first_existing({root / ("task-" + q.task + "_bold.json")});

  if (q.derivatives.empty()) {
    if (raw_dirs.empty()) throw io_error("BIDS: no directory '", (root / sub / "func").string(), "'");
    const auto runs = matching(raw_dirs, prefix, {"_bold.nii.gz", "_bold.nii"}, task);
    if (runs.empty())
      throw io_error("BIDS: no runs '", sub, "[_ses-*]_task-", q.task, "_*bold.nii[.gz]' in '",
                     raw_dirs.front().string(), "'");
    for (const auto& r : runs) {
      const std::string stem = r.substr(0, r.rfind("_bold.nii"));
      inputs.bold.push_back(r);
      inputs.events.push_back(stem + "_events.tsv");
      const std::string own = sidecar::beside(r);
      inputs.sidecars.push_back(own.empty() ? inherited : own);
    }
    if (inputs.mask.empty()) {
      inputs.mask = first_existing({root / sub / "anat" / (sub + "_desc-brain_mask.nii.gz"),
                                    root / sub / "anat" / (sub + "_desc-brain_mask.nii")});
      if (inputs.mask.empty())
        throw io_error("BIDS: no mask '", sub, "/anat/", sub, "_desc-brain_mask.nii[.gz]' in '", q.root,
                       "'; give one with --mask FILE, or --mask auto");
    }
  } else {
    if (q.space.empty()) throw usage_error("--derivatives needs --space (the space label of the preprocessed runs)");
    const std::vector<fs::path> deriv_dirs = func_dirs(fs::path(q.derivatives), sub);
    if (deriv_dirs.empty())
      throw io_error("fMRIPrep derivatives: no directory '", (fs::path(q.derivatives) / sub / "func").string(), "'");
    const std::string space = "_space-" + q.space + "_";
    std::vector<std::string> runs;
    for (const auto& r : matching(deriv_dirs, prefix, {"_desc-preproc_bold.nii.gz", "_desc-preproc_bold.nii"}, task))
      if (fs::path(r).filename().string().find(space) != std::string::npos) runs.push_back(r);
    if (runs.empty())
      throw io_error("fMRIPrep derivatives: no runs '", sub, "_task-", q.task, "_*space-", q.space,
                     "_*desc-preproc_bold.nii[.gz]' in '", deriv_dirs.front().string(), "'");
    for (const auto& r : runs) {
      const std::string stem = bids::run_stem(r);  // sub-01[_ses-1]_task-x[_run-1]
      std::string events;
      for (const auto& d : raw_dirs)
        if (events.empty()) events = first_existing({d / (stem + "_events.tsv")});
      if (events.empty())
        throw io_error("BIDS: no events '", stem, "_events.tsv' for the preprocessed run '", r, "' in '",
                       (root / sub).string(), "/[ses-*/]func'");
      std::string json;
      for (const auto& d : raw_dirs)
        if (json.empty()) json = first_existing({d / (stem + "_bold.json")});
      if (json.empty()) json = sidecar::beside(r);
      inputs.bold.push_back(r);
      inputs.events.push_back(events);
      inputs.sidecars.push_back(json.empty() ? inherited : json);
    }
    if (inputs.mask.empty()) {
      const std::string first = runs.front();
      const std::string base = first.substr(0, first.rfind("_desc-preproc_bold.nii"));
      inputs.mask = first_existing({base + "_desc-brain_mask.nii.gz", base + "_desc-brain_mask.nii"});
      if (inputs.mask.empty())
        throw io_error("fMRIPrep derivatives: no mask '", base,
                       "_desc-brain_mask.nii[.gz]'; give one with --mask FILE, "
                       "or --mask auto");
    }
  }
  if (inputs.subject.empty()) inputs.subject = sub;
}

}  // namespace v2c::prep
