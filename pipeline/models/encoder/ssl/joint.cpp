#include "pipeline/models/encoder/ssl/joint.h"

#include <algorithm>
#include <cmath>

namespace v2c::encoder::ssl {

namespace {

// The encoder parameters one supervised batch of `subject` reaches (Trainer::train_step's set).
template <class S>
std::vector<Param<S>*> encoder_path(Trainer<S>& tr, const std::string& subject) {
  Encoder<S>& enc = tr.encoder();
  std::vector<Param<S>*> path = enc.path_params(subject);
  if (tr.loss_config().w_clip > 0) path.push_back(&enc.param("loss/logit_scale"));
  if (tr.loss_config().w_siglip > 0) {
    path.push_back(&enc.param("loss/siglip_t"));
    path.push_back(&enc.param("loss/siglip_b"));
  }
  return path;
}

}  // namespace

template <class S>
JointParts joint_loss(Trainer<S>& tr, SslModel<S>& ssl, const std::string& subject, const Mat<S>& X, const Mat<S>& T,
                      const SslBatch<S>& windows, const SslTrainConfig& cfg, bool with_grad) {
  Encoder<S>& enc = tr.encoder();
  Param<S>& W = enc.param("adapter/" + subject + "/W");
  Param<S>& b = enc.param("adapter/" + subject + "/b");
  Linear<S>& shared = ssl.adapter(subject);
  if (shared.W->value.rows() != W.value.rows() || shared.W->value.cols() != W.value.cols())
    throw input_error("joint loss, subject '", subject, "': the encoder's adapter is ", W.value.rows(), " x ",
                      W.value.cols(), ", the self-supervised model's ", shared.W->value.rows(), " x ",
                      shared.W->value.cols());
  shared.W->value = W.value;
  shared.b->value = b.value;
  JointParts out;
  out.supervised = tr.loss(subject, X, T, with_grad);
  if (with_grad) ssl.params().zero_grad();
  out.ssl = ssl_objectives(ssl, subject, windows, cfg, with_grad);
  out.total = out.supervised.total + out.ssl.total;
  if (with_grad) {
    for (auto [mine, theirs] : {std::pair{&W, shared.W}, std::pair{&b, shared.b}}) {
      if (theirs->grad.size() > 0 && mine->trainable) {
        if (mine->grad.size() == 0) mine->grad.setZero(mine->value.rows(), mine->value.cols());
        mine->grad += theirs->grad;
      }
      theirs->grad.resize(0, 0);  // the copy is not a parameter of its own
    }
  }
  return out;
}

template <class S>
JointParts joint_step(Trainer<S>& tr, SslModel<S>& ssl, const std::string& subject, const Mat<S>& X, const Mat<S>& T,
                      const SslBatch<S>& windows, const SslTrainConfig& cfg) {
  const JointParts parts = joint_loss(tr, ssl, subject, X, T, windows, cfg, true);
  if (!std::isfinite(parts.total))
    throw numerical_error("joint training: the loss is ", parts.total, " at step ", tr.step(), " (subject '", subject,
                          "')");
  std::vector<Param<S>*> params;
  for (Param<S>* p : encoder_path(tr, subject))
    if (p->trainable && p->grad.size() > 0) params.push_back(p);
  for (Param<S>* p : ssl.params().all())
    if (p->grad.size() > 0) params.push_back(p);
  double sq = 0;
  for (const Param<S>* p : params) sq += p->grad.template cast<double>().squaredNorm();
  const double norm = std::sqrt(sq), clip = tr.optimizer().config().clip_norm;
  const double scale = clip > 0 ? std::min(1.0, clip / (norm + 1e-6)) : 1.0;
  const double lr = tr.optimizer().lr_at(tr.step());
  for (Param<S>* p : params) tr.optimizer().update(*p, lr, scale);
  Param<S>& ls = tr.encoder().param("loss/logit_scale");
  ls.value(0, 0) = std::clamp(ls.value(0, 0), S(0), S(tr.loss_config().max_logit_scale));
  tr.set_step(tr.step() + 1);
  return parts;
}

template JointParts joint_loss<float>(Trainer<float>&, SslModel<float>&, const std::string&, const Mat<float>&,
                                      const Mat<float>&, const SslBatch<float>&, const SslTrainConfig&, bool);
template JointParts joint_loss<double>(Trainer<double>&, SslModel<double>&, const std::string&, const Mat<double>&,
                                       const Mat<double>&, const SslBatch<double>&, const SslTrainConfig&, bool);
template JointParts joint_step<float>(Trainer<float>&, SslModel<float>&, const std::string&, const Mat<float>&,
                                      const Mat<float>&, const SslBatch<float>&, const SslTrainConfig&);
template JointParts joint_step<double>(Trainer<double>&, SslModel<double>&, const std::string&, const Mat<double>&,
                                       const Mat<double>&, const SslBatch<double>&, const SslTrainConfig&);

}  // namespace v2c::encoder::ssl
