// v2c-info: a look at NIfTI files (like nib-ls or fslinfo), as text or one JSON object per line.
#include <cstdio>
#include <iostream>

#include "pipeline/core/log.h"
#include "pipeline/core/stage.h"
#include "pipeline/io/nifti/header_json.h"
#include "pipeline/io/nifti/image.h"

using namespace v2c;

namespace {

const StageSpec spec{
    .name = "info",
    .summary = "describe NIfTI files: dims, datatype, voxel sizes, TR, scaling, affine, value range",
    .description =
        "For each file: NIfTI version and storage, dims, datatype, voxel sizes, TR, scl_slope/scl_inter, the "
        "voxel-to-world affine and where it came from (sform, qform or pixdim, as nibabel takes it), and the "
        "minimum, maximum and mean of the values after scaling (computed in double). A file that cannot be read "
        "is reported on stderr and the exit code is that of the first failure; the other files are still shown. "
        "FreeSurfer's ico7 surfaces (NIfTI-1 27307x1x6) are shown with nibabel's shape 163842x1x1; CIFTI-2 files "
        "are named as such, and read as the plain NIfTI-2 array they store.",
    .options = {{"json", "", "one JSON object per file per line on stdout", false, false, ""},
                {"no-stats", "", "header only: skip reading the voxel data", false, false, ""}},
    .positional = "FILE...",
    .positional_help = "NIfTI-1/NIfTI-2 files: .nii, .nii.gz, .hdr/.img pairs",
    .has_output = false,
};

std::string matrix_rows(const Eigen::Matrix4d& a) {
  std::string s;
  for (int r = 0; r < 4; ++r) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "  [%12.6g %12.6g %12.6g %12.6g]\n", a(r, 0), a(r, 1), a(r, 2), a(r, 3));
    s += buf;
  }
  return s;
}

void print_text(const nifti::Header& h, const nifti::ValueStats* st) {
  std::string dims, vox;
  for (size_t k = 0; k < h.dims.size(); ++k) dims += (k ? " x " : "") + std::to_string(h.dims[k]);
  std::cout << h.path << "\n"
            << "  format      " << (h.version == 0 ? std::string("ANALYZE 7.5") : cat("NIfTI-", h.version)) << " ("
            << h.storage << ", " << (h.big_endian ? "big" : "little") << "-endian)\n"
            << "  dims        " << dims
            << (h.stored_dims.empty() ? std::string()
                                      : cat(" (FreeSurfer ico7 surface: ", h.dims[0], " vertices stored as ",
                                            nifti::format_dims(h.stored_dims), ", read as nibabel does)"))
            << "\n"
            << "  datatype    " << h.datatype_name << " (code " << h.datatype << ")\n"
            << "  voxel size  " << h.voxel_size[0] << " x " << h.voxel_size[1] << " x " << h.voxel_size[2] << " mm\n"
            << "  TR          " << (h.tr_seconds > 0 ? cat(h.tr_seconds, " s") : std::string("(none)")) << "\n"
            << "  scaling     slope " << h.scl_slope << ", inter " << h.scl_inter
            << (h.has_scaling() ? "" : " (not applied)") << "\n"
            << "  affine      from " << h.affine_source << " (qform_code " << h.qform_code << ", sform_code "
            << h.sform_code << ")\n"
            << matrix_rows(h.affine);
  if (h.cifti)
    std::cout << "  CIFTI-2     intent_code " << h.intent_code
              << ": vox2clip reads it as the plain NIfTI-2 array above (no brain models, parcels or series "
                 "from its XML); stages that need a volume refuse it\n";
  if (st)
    std::cout << "  values      min " << st->min << ", max " << st->max << ", mean " << st->mean
              << (st->n_nonfinite ? cat(", ", st->n_nonfinite, " non-finite") : std::string()) << "\n";
}

void run(StageContext& ctx, NoConfig&) {
  const bool json = ctx.args.has("json"), stats = !ctx.args.has("no-stats");
  const Error* first_failure = nullptr;
  std::vector<Error> failures;
  failures.reserve(ctx.args.positionals().size());
  for (const auto& path : ctx.args.positionals()) {
    try {
      nifti::ValueStats st{};
      nifti::Header h;
      if (stats) {
        const nifti::Image img = nifti::Image::load(path);
        h = img.header();
        st = img.stats();
      } else {
        h = nifti::read_header(path);
      }
      if (json)
        std::cout << nifti::header_json(h, stats ? &st : nullptr) << "\n";
      else
        print_text(h, stats ? &st : nullptr);
      std::cout.flush();
    } catch (const Error& e) {
      log::write_line("error: ", e.what());
      failures.push_back(e);
      if (!first_failure) first_failure = &failures.back();
    }
  }
  if (first_failure)
    throw Error(first_failure->code(),
                cat(failures.size(), " of ", ctx.args.positionals().size(), " file(s) could not be read"));
}

}  // namespace

int main(int argc, char** argv) { return stage_main<NoConfig>(argc, argv, spec, run); }
