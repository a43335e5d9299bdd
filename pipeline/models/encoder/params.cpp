#include "pipeline/models/encoder/params.h"

#include "pipeline/core/error.h"

namespace v2c::encoder {

template <class S>
Param<S>* ParamSet<S>::add(const std::string& name, int64_t rows, int64_t cols, bool decay) {
  V2C_ASSERT(!by_name_.count(name), "duplicate parameter ", name);
  auto p = std::make_unique<Param<S>>();
  p->name = name;
  p->value.setZero(rows, cols);
  p->decay = decay;
  Param<S>* raw = p.get();
  params_.push_back(std::move(p));
  by_name_[name] = raw;
  return raw;
}

template <class S>
Param<S>& ParamSet<S>::get(const std::string& name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) throw input_error(owner_, ": no parameter named '", name, "'");
  return *it->second;
}

template <class S>
const Param<S>& ParamSet<S>::get(const std::string& name) const {
  return const_cast<ParamSet<S>*>(this)->get(name);
}

template <class S>
std::vector<Param<S>*> ParamSet<S>::all() {
  std::vector<Param<S>*> out;
  for (auto& p : params_) out.push_back(p.get());
  return out;
}

template <class S>
std::vector<const Param<S>*> ParamSet<S>::all() const {
  std::vector<const Param<S>*> out;
  for (auto& p : params_) out.push_back(p.get());
  return out;
}

template <class S>
void ParamSet<S>::zero_grad() {
  for (auto& p : params_) p->grad.resize(0, 0);
}

template <class S>
int ParamSet<S>::set_trainable(const std::string& prefix, bool trainable) {
  int n = 0;
  for (auto& p : params_) {
    if (p->name.compare(0, prefix.size(), prefix) != 0) continue;
    p->trainable = trainable;
    if (!trainable) {
      p->grad.resize(0, 0);
      p->m.resize(0, 0);
      p->v.resize(0, 0);
    }
    ++n;
  }
  return n;
}

template <class S>
void accumulate_grad(Param<S>& p, const Mat<S>& G) {
  if (!p.trainable) return;
  V2C_ASSERT(G.rows() == p.value.rows() && G.cols() == p.value.cols(), "gradient of ", p.name, " is ", G.rows(), " x ",
             G.cols(), "; the parameter is ", p.value.rows(), " x ", p.value.cols());
  if (p.grad.size() == 0)
    p.grad = G;
  else
    p.grad += G;
}

template <class S>
void fill_uniform(Mat<S>& m, double bound, Rng& rng) {
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = S((2.0 * rng.uniform() - 1.0) * bound);
}

template <class S>
void fill_normal(Mat<S>& m, double std, Rng& rng) {
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = S(std * rng.normal());
}

#define V2C_PARAMS_INSTANTIATE(S)                             \
  template class ParamSet<S>;                                 \
  template void accumulate_grad<S>(Param<S>&, const Mat<S>&); \
  template void fill_uniform<S>(Mat<S>&, double, Rng&);       \
  template void fill_normal<S>(Mat<S>&, double, Rng&);

V2C_PARAMS_INSTANTIATE(float)
V2C_PARAMS_INSTANTIATE(double)

}  // namespace v2c::encoder
