// BIDS JSON sidecars of a run (`sub-01_task-x_run-1_bold.json` beside `..._bold.nii.gz`, or a
// top-level `task-x_bold.json` by BIDS inheritance): the acquisition metadata v2c-prepare uses.
#pragma once

#include <optional>
#include <string>

namespace v2c::sidecar {

// The sidecar of a NIfTI run: the same name with .json instead of .nii[.gz]; "" when absent.
std::string beside(const std::string& nifti_path);

// RepetitionTime (s) of a sidecar; nullopt when the file has no such key. Errors: io_error for an
// unreadable file; input_error (naming the file) for malformed JSON or a RepetitionTime that is
// not a positive number.
std::optional<double> repetition_time(const std::string& json_path);

}  // namespace v2c::sidecar
