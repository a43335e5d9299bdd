#include "pipeline/models/encoder/ssl/snapshot.h"

namespace v2c::encoder::ssl {

namespace {

bool is_subject_param(const std::string& name) {
  return name.rfind("adapter/", 0) == 0 || name.rfind("readout/", 0) == 0;
}

}  // namespace

TemporalSnapshot snapshot_shared(const SslModel<float>& model, const SslTrainConfig& cfg) {
  TemporalSnapshot s;
  s.present = true;
  s.latent = model.latent();
  s.objectives = cfg;
  s.objectives.model = model.config();
  for (const Param<float>* p : model.params().all()) {
    if (is_subject_param(p->name)) continue;
    s.names.push_back(p->name);
    s.values.push_back(p->value);
  }
  return s;
}

std::unique_ptr<SslModel<float>> restore_shared(const TemporalSnapshot& s) {
  if (!s.present)
    throw input_error("no self-supervised temporal model (the encoder was pretrained without --timeseries)");
  auto model = std::make_unique<SslModel<float>>(s.latent, s.objectives.model, 0);
  size_t shared = 0;
  for (const Param<float>* p : model->params().all()) shared += is_subject_param(p->name) ? 0 : 1;
  if (s.names.size() != shared || s.values.size() != shared)
    throw input_error("the self-supervised temporal model holds ", s.names.size(), " parameters; its architecture has ",
                      shared);
  for (size_t k = 0; k < s.names.size(); ++k) {
    if (!model->params().has(s.names[k]) || is_subject_param(s.names[k]))
      throw input_error("the self-supervised temporal model has parameter '", s.names[k],
                        "' that its architecture lacks");
    Param<float>& p = model->params().get(s.names[k]);
    if (s.values[k].rows() != p.value.rows() || s.values[k].cols() != p.value.cols())
      throw input_error("self-supervised parameter '", s.names[k], "' is ", s.values[k].rows(), " x ",
                        s.values[k].cols(), "; its architecture has ", p.value.rows(), " x ", p.value.cols());
    p.value = s.values[k];
  }
  return model;
}

}  // namespace v2c::encoder::ssl
