// v2c-ridge's settings (config section `ridge:`), which are also what the ridge solver takes
// (cv.h): one struct, its defaults, and one set of rules. describe() states every field's rule
// (for the YAML loader, --set and --help); validate() applies those same rules to a struct built
// in code (usage_error naming the field, the value and the rule).
#pragma once

#include <string>
#include <vector>

namespace v2c::config {
class Schema;
}

namespace v2c::ridge {

struct RidgeConfig {
  std::string mode = "decode";                    // decode: voxels -> features; encode: features -> voxels
  std::vector<double> alphas = default_alphas();  // the α grid, strictly ascending, > 0
  bool alpha_per_target = true;                   // else one α shared by all targets
  std::string alpha_score = "correlation";        // inner-CV score: correlation | r2
  std::string outer = "loro";                     // outer folds: loro | groups | explicit | event_groups
  int outer_folds = 6;                            // outer "groups" / "event_groups": number of folds
  std::vector<std::string> explicit_folds = {};   // outer "explicit": run indices tested per fold ("8 9")
  int inner_folds = 5;                // inner CV: k folds of consecutive runs (event groups) of the training set
  double gap_s = 0.0;                 // drop training samples this close (s) to a test sample of their run
  bool exclusive = false;             // drop training samples whose stimulus is in the test fold
  double train_fraction = 1.0;        // share of each outer fold's training runs used (first runs)
  int select_voxels = 0;              // top-k inputs per target by |corr| in the training rows; 0 = all
  bool standardize_x = false;         // z-score the inputs with training-fold statistics
  std::string precision = "float32";  // arithmetic of the solver: float32 | float64
  int target_batch = 1024;            // targets predicted at once (bounds memory)
  bool fit_final = true;              // refit on all samples and save the weights

  static std::vector<double> default_alphas();  // 20 values, log-spaced 1e-2 .. 1e6

  void describe(config::Schema& s);
  void validate() const;
};

}  // namespace v2c::ridge
