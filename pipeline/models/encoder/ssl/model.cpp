#include "pipeline/models/encoder/ssl/model.h"

#include <cmath>

namespace v2c::encoder::ssl {

void SslConfig::validate(int64_t latent) const {
  if (latent < 1) throw usage_error("ssl: latent width ", latent, " must be >= 1");
  temporal.validate(latent);
  if (!(mask_token_std >= 0 && std::isfinite(mask_token_std)))
    throw usage_error("ssl.mask_token_std = ", mask_token_std, ": must be finite and >= 0");
}

template <class S>
SslModel<S>::SslModel(int64_t latent, const SslConfig& cfg, uint64_t seed) : latent_(latent), cfg_(cfg) {
  cfg.validate(latent);
  Rng rng(seed);
  temporal_ = std::make_unique<TemporalModel<S>>(params_, "temporal", latent, cfg.temporal, rng);
  mask_token_ = params_.add("ssl/mask_token", 1, latent, false);
  fill_normal(mask_token_->value, cfg.mask_token_std, rng);
}

template <class S>
void SslModel<S>::add_subject(const std::string& id, int64_t n_voxels, uint64_t seed) {
  if (id.empty() || id.find('/') != std::string::npos)
    throw usage_error("ssl model: subject id '", id, "' must be non-empty and contain no '/'");
  if (subjects_.count(id)) throw usage_error("ssl model: subject '", id, "' added twice");
  if (n_voxels < 1) throw input_error("ssl model: subject '", id, "' has ", n_voxels, " voxels; need >= 1");
  Rng rng(seed);
  auto s = std::make_unique<Subject>();
  s->adapter.create(params_, "adapter/" + id, n_voxels, latent_, rng);
  s->readout.create(params_, "readout/" + id, latent_, n_voxels, rng);
  s->skip = params_.add("readout/" + id + "/skip", 1, n_voxels, false);
  s->skip->value.setOnes();
  subjects_[id] = std::move(s);
}

template <class S>
typename SslModel<S>::Subject& SslModel<S>::subject(const std::string& id) {
  auto it = subjects_.find(id);
  if (it == subjects_.end()) throw input_error("ssl model: no subject '", id, "'");
  return *it->second;
}

template <class S>
std::vector<std::string> SslModel<S>::subjects() const {
  std::vector<std::string> out;
  for (const auto& [id, s] : subjects_) out.push_back(id);
  return out;
}

template <class S>
int64_t SslModel<S>::n_voxels(const std::string& id) const {
  return const_cast<SslModel<S>*>(this)->subject(id).adapter.in();
}

template <class S>
Linear<S>& SslModel<S>::adapter(const std::string& id) {
  return subject(id).adapter;
}

template <class S>
Linear<S>& SslModel<S>::readout(const std::string& id) {
  return subject(id).readout;
}

template <class S>
Param<S>& SslModel<S>::skip(const std::string& id) {
  return *subject(id).skip;
}

template <class S>
std::vector<Param<S>*> SslModel<S>::path_params(const std::string& id) {
  Subject& s = subject(id);
  std::vector<Param<S>*> out;
  for (Param<S>* p : params_.all()) {
    const bool own = p == s.adapter.W || p == s.adapter.b || p == s.readout.W || p == s.readout.b || p == s.skip;
    const bool other = p->name.rfind("adapter/", 0) == 0 || p->name.rfind("readout/", 0) == 0;
    if (own || !other) out.push_back(p);
  }
  return out;
}

template class SslModel<float>;
template class SslModel<double>;

}  // namespace v2c::encoder::ssl
