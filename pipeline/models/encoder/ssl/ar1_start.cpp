#include "pipeline/models/encoder/ssl/ar1_start.h"

namespace v2c::encoder::ssl {

template <class S>
void start_at_ar1(SslModel<S>& model, const std::string& subject, const Ar1& fit) {
  const int64_t p = model.n_voxels(subject);
  if (fit.a.size() != p || fit.c.size() != p)
    throw input_error("AR(1) start of '", subject, "': the fit has ", fit.a.size(), " voxels; the subject has ", p);
  model.skip(subject).value = fit.a.transpose().cast<S>();
  Linear<S>& readout = model.readout(subject);
  readout.b->value = fit.c.transpose().cast<S>();
  readout.W->value.setZero();
}

template void start_at_ar1<float>(SslModel<float>&, const std::string&, const Ar1&);
template void start_at_ar1<double>(SslModel<double>&, const std::string&, const Ar1&);

}  // namespace v2c::encoder::ssl
