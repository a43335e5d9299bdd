// Learnable tensors and the ordered, named set that owns them: the encoder's parameters and the
// self-supervised model's (ssl/), so that AdamW and checkpoints handle both alike.
//
// Gradient conventions: Encoder::backward overwrites the grad of every parameter on its path; the
// self-supervised layers (ssl/) ADD into grad through accumulate_grad(), allocating it on first
// use, so that several objectives can be summed into one update; there an empty grad means "not
// reached since the last zero_grad()". Frozen parameters (trainable = false) never get a grad.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/rng.h"
#include "pipeline/math/linalg.h"

namespace v2c::encoder {

template <class S>
using Mat = linalg::Mat<S>;

// The trainer's generator (xoshiro256**): its whole state, 4 words, goes into checkpoints.
using Rng = rng::TrainingRng;

// One learnable tensor. Vectors are stored as [1 x n].
template <class S>
struct Param {
  std::string name;  // "adapter/<subject>/W", "block0/ln/g", "head/W", "loss/logit_scale", ...
  Mat<S> value;
  Mat<S> grad;         // same shape after backward(); left empty while frozen
  Mat<S> m, v;         // AdamW moments; empty until the first update (never for frozen ones)
  int64_t steps = 0;   // AdamW updates applied to this parameter (bias correction)
  bool decay = false;  // weight decay applies (weight matrices only)
  bool trainable = true;
};

template <class S>
class ParamSet {
 public:
  explicit ParamSet(std::string owner) : owner_(std::move(owner)) {}  // owner: "encoder", in messages
  ParamSet(const ParamSet&) = delete;
  ParamSet& operator=(const ParamSet&) = delete;

  // A new parameter [rows x cols] of zeros; `decay`: AdamW weight decay applies (weight matrices).
  Param<S>* add(const std::string& name, int64_t rows, int64_t cols, bool decay);
  bool has(const std::string& name) const { return by_name_.count(name) > 0; }
  Param<S>& get(const std::string& name);  // input_error naming it when absent
  const Param<S>& get(const std::string& name) const;
  std::vector<Param<S>*> all();  // creation order
  std::vector<const Param<S>*> all() const;
  void zero_grad();  // empties every grad
  // Sets trainable for every parameter whose name starts with `prefix` ("" = all); freezing drops
  // the grad and AdamW moments. Returns how many matched.
  int set_trainable(const std::string& prefix, bool trainable);

 private:
  std::string owner_;
  std::vector<std::unique_ptr<Param<S>>> params_;
  std::map<std::string, Param<S>*> by_name_;
};

// p.grad += G (p.grad = G when empty); nothing when p is frozen. G has p's shape.
template <class S>
void accumulate_grad(Param<S>& p, const Mat<S>& G);

// Fills m element by element from rng: U(-bound, bound) (PyTorch's Linear init) or N(0, std²).
template <class S>
void fill_uniform(Mat<S>& m, double bound, Rng& rng);
template <class S>
void fill_normal(Mat<S>& m, double std, Rng& rng);

}  // namespace v2c::encoder
