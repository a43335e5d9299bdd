#include "pipeline/models/encoder/checkpoint.h"

#include <cmath>
#include <vector>

#include "pipeline/core/error.h"
#include "pipeline/core/provenance.h"
#include "pipeline/io/h5.h"
#include "pipeline/models/encoder/ssl/masked.h"

namespace v2c::encoder {

namespace {

constexpr int kCheckpointVersion = 1;
const char* kCheckpointKind = "encoder_checkpoint";
template <class S>
const char* scalar_name() {
  return sizeof(S) == 4 ? "float32" : "float64";
}

// Group /ssl: the temporal model's parameters (ssl/params/<name>, float32), their names in order
// (ssl/param_names) and what it was trained with (attributes of /ssl).
void write_temporal_model(h5::ArtifactWriter& w, const ssl::TemporalSnapshot& t) {
  for (size_t k = 0; k < t.names.size(); ++k) w.write("ssl/params/" + t.names[k], t.values[k]);
  w.write("ssl/param_names", t.names);
  const ssl::SslTrainConfig& o = t.objectives;
  w.attr("ssl", "latent", t.latent);
  w.attr("ssl", "n_layers", int64_t(o.model.temporal.n_layers));
  w.attr("ssl", "n_heads", int64_t(o.model.temporal.n_heads));
  w.attr("ssl", "ff_mult", int64_t(o.model.temporal.ff_mult));
  w.attr("ssl", "max_len", int64_t(o.model.temporal.max_len));
  w.attr("ssl", "window", int64_t(o.window));
  w.attr("ssl", "w_next_step", o.w_next_step);
  w.attr("ssl", "w_masked", o.w_masked);
  w.attr("ssl", "mask_kind", std::string(ssl::mask_kind_name(o.mask.kind)));
  w.attr("ssl", "mask_ratio", o.mask.ratio);
  w.attr("ssl", "next_all_positions", int64_t(o.next.all_positions));
  w.attr("ssl", "next_residual", int64_t(o.next.residual));
  if (t.candidates.empty()) return;
  // How the learning rate and the start were chosen (ssl/select.h): the chosen pair, every candidate.
  w.attr("ssl", "lr", o.optimizer.lr);
  w.attr("ssl", "ar1_start", int64_t(o.ar1_start));
  w.write("ssl/lr_grid", o.search.lr_grid);
  std::vector<double> lr, best_validation;
  std::vector<int32_t> ar1_start;
  std::vector<int64_t> best_step;
  for (const ssl::SslCandidate& c : t.candidates) {
    lr.push_back(c.lr);
    ar1_start.push_back(int32_t(c.ar1_start));
    best_validation.push_back(c.diverged ? std::nan("") : c.fit.best_validation);
    best_step.push_back(c.diverged ? -2 : c.fit.best_step);
  }
  w.write("ssl/candidates/lr", lr);
  w.write("ssl/candidates/ar1_start", ar1_start);
  w.write("ssl/candidates/best_validation", best_validation);
  w.write("ssl/candidates/best_step", best_step);
}

}  // namespace

template <class S>
void save_checkpoint(const std::string& path, const Trainer<S>& tr, const Provenance& prov, bool force,
                     const StimulusRecord& stimuli, const ssl::TemporalSnapshot& temporal,
                     const EarlyStopping& stopping) {
  with_context(cat("writing encoder checkpoint '", path, "'"), [&] {
    h5::ArtifactWriter w(path, kCheckpointKind, kCheckpointVersion, prov, force);
    const Encoder<S>& enc = tr.encoder();
    std::vector<std::string> names;
    std::vector<int32_t> trainable, has_moments;
    std::vector<int64_t> steps;
    for (const Param<S>* p : enc.params()) {
      names.push_back(p->name);
      trainable.push_back(p->trainable ? 1 : 0);
      has_moments.push_back(p->m.size() ? 1 : 0);
      steps.push_back(p->steps);
      w.write("params/" + p->name, p->value);
      if (p->m.size()) {
        w.write("adam_m/" + p->name, p->m);
        w.write("adam_v/" + p->name, p->v);
      }
    }
    w.write("param_names", names);
    w.write("param_trainable", trainable);
    w.write("param_has_moments", has_moments);
    w.write("param_steps", steps);
    std::vector<int64_t> rng_state;
    for (uint64_t s : tr.rng().engine().state()) rng_state.push_back(int64_t(s));
    w.write("trainer/rng_state", rng_state);
    w.write("trainer/step", std::vector<int64_t>{tr.step()});
    if (stopping.recorded)
      w.write("trainer/early_stopping",
              std::vector<double>{stopping.best, double(stopping.best_epoch), double(stopping.bad_epochs)});
    const EncoderConfig& ec = enc.config();
    const AdamWConfig& oc = tr.optimizer().config();
    w.attr("/", "scalar_type", std::string(scalar_name<S>()));
    w.attr("/", "latent", int64_t(ec.latent));
    w.attr("/", "n_blocks", int64_t(ec.n_blocks));
    w.attr("/", "clip_dim", int64_t(ec.clip_dim));
    w.attr("/", "dropout", ec.dropout);
    w.attr("/", "lr", oc.lr);
    w.attr("/", "min_lr", oc.min_lr);
    w.attr("/", "warmup_steps", int64_t(oc.warmup_steps));
    w.attr("/", "total_steps", int64_t(oc.total_steps));
    if (stimuli.recorded) {
      w.write("stimuli/train", stimuli.train);
      w.write("stimuli/validation", stimuli.validation);
    }
    if (temporal.present) write_temporal_model(w, temporal);
    w.commit();
  });
}

template <class S>
void load_checkpoint(const std::string& path, Trainer<S>& tr) {
  with_context(cat("reading encoder checkpoint '", path, "'"), [&] {
    h5::ArtifactReader r(path, kCheckpointKind, kCheckpointVersion);
    if (r.format_version() != kCheckpointVersion)
      throw input_error("format version ", r.format_version(), "; this vox2clip reads version ", kCheckpointVersion);
    const std::string scalar = r.attr_string("/", "scalar_type");
    if (scalar != scalar_name<S>())
      throw input_error("parameters are ", scalar, "; this model uses ", scalar_name<S>());
    Encoder<S>& enc = tr.encoder();
    const EncoderConfig& ec = enc.config();
    const AdamWConfig& oc = tr.optimizer().config();
    auto check = [&](const char* field, double found, double expected) {
      if (found != expected) throw input_error(field, " is ", found, " in the checkpoint; this model has ", expected);
    };
    check("latent", r.attr_double("/", "latent"), ec.latent);
    check("n_blocks", r.attr_double("/", "n_blocks"), ec.n_blocks);
    check("clip_dim", r.attr_double("/", "clip_dim"), ec.clip_dim);
    check("optimizer lr", r.attr_double("/", "lr"), oc.lr);
    check("optimizer min_lr", r.attr_double("/", "min_lr"), oc.min_lr);
    check("optimizer warmup_steps", r.attr_double("/", "warmup_steps"), double(oc.warmup_steps));
    check("optimizer total_steps", r.attr_double("/", "total_steps"), double(oc.total_steps));
    const auto names = r.read_strings("param_names");
    const auto trainable = r.read_ints("param_trainable");
    const auto has_moments = r.read_ints("param_has_moments");
    const auto steps = r.read_ints("param_steps");
    if (trainable.size() != names.size() || has_moments.size() != names.size() || steps.size() != names.size())
      throw input_error("param_names has ", names.size(), " entries but the per-parameter lists differ in length");
    if (names.size() != enc.params().size())
      throw input_error("holds ", names.size(), " parameters; this model has ", enc.params().size(),
                        " (different subjects or architecture)");
    auto read = [&](const std::string& name) -> Mat<S> {
      if constexpr (sizeof(S) == 4)
        return r.read_matrix_f(name);
      else
        return r.read_matrix_d(name);
    };
    for (size_t k = 0; k < names.size(); ++k) {
      if (!enc.has_param(names[k])) throw input_error("has parameter '", names[k], "' that this model lacks");
      Param<S>& p = enc.param(names[k]);
      Mat<S> value = read("params/" + names[k]);
      if (value.rows() != p.value.rows() || value.cols() != p.value.cols())
        throw input_error("parameter '", names[k], "' is ", value.rows(), " x ", value.cols(), "; this model has ",
                          p.value.rows(), " x ", p.value.cols());
      p.value = std::move(value);
      p.trainable = trainable[k] != 0;
      p.steps = steps[k];
      p.grad.resize(0, 0);
      if (has_moments[k]) {
        p.m = read("adam_m/" + names[k]);
        p.v = read("adam_v/" + names[k]);
        if (p.m.size() != p.value.size() || p.v.size() != p.value.size())
          throw input_error("AdamW moments of '", names[k], "' do not match its shape");
        p.m.resize(p.value.rows(), p.value.cols());
        p.v.resize(p.value.rows(), p.value.cols());
      } else {
        p.m.resize(0, 0);
        p.v.resize(0, 0);
      }
    }
    const auto rng_state = r.read_ints("trainer/rng_state");
    const auto step = r.read_ints("trainer/step");
    if (rng_state.size() != 4 || step.size() != 1) throw input_error("trainer state is malformed");
    rng::Xoshiro256ss::State state;
    for (size_t i = 0; i < state.size(); ++i) state[i] = uint64_t(rng_state[i]);
    tr.rng().engine().set_state(state);
    tr.set_step(step[0]);
  });
}

StimulusRecord read_stimulus_record(const std::string& path) {
  return with_context(cat("reading encoder checkpoint '", path, "'"), [&] {
    h5::ArtifactReader r(path, kCheckpointKind, kCheckpointVersion);
    StimulusRecord rec;
    if (!r.has("stimuli/train")) return rec;
    rec.train = r.read_strings("stimuli/train");
    rec.validation = r.read_strings("stimuli/validation");
    rec.recorded = true;
    return rec;
  });
}

ssl::TemporalSnapshot read_temporal_model(const std::string& path) {
  return with_context(cat("reading the self-supervised temporal model of encoder checkpoint '", path, "'"), [&] {
    h5::ArtifactReader r(path, kCheckpointKind, kCheckpointVersion);
    ssl::TemporalSnapshot t;
    if (!r.has("ssl/param_names")) return t;
    auto whole = [&](const char* name, int64_t lo) {
      const double v = r.attr_double("ssl", name);
      if (!(v >= double(lo) && v <= 1e9) || v != std::floor(v))
        throw input_error("attribute ssl@", name, ": expected a whole number >= ", lo, ", found ", v);
      return int64_t(v);
    };
    t.latent = whole("latent", 1);
    ssl::SslTrainConfig& o = t.objectives;
    o.model.temporal.n_layers = int(whole("n_layers", 0));
    o.model.temporal.n_heads = int(whole("n_heads", 1));
    o.model.temporal.ff_mult = int(whole("ff_mult", 1));
    o.model.temporal.max_len = int(whole("max_len", 1));
    o.window = int(whole("window", 2));
    o.w_next_step = r.attr_double("ssl", "w_next_step");
    o.w_masked = r.attr_double("ssl", "w_masked");
    o.mask.kind = ssl::parse_mask_kind(r.attr_string("ssl", "mask_kind"));
    o.mask.ratio = r.attr_double("ssl", "mask_ratio");
    o.next.all_positions = whole("next_all_positions", 0) != 0;
    o.next.residual = whole("next_residual", 0) != 0;
    with_context("attributes of /ssl", [&] {
      o.model.validate(t.latent);
      o.validate();
    });
    t.names = r.read_strings("ssl/param_names");
    for (const std::string& name : t.names) {
      if (!r.has("ssl/params/" + name))
        throw input_error("ssl/param_names lists '", name, "' but ssl/params/", name, " is absent");
      t.values.push_back(r.read_matrix_f("ssl/params/" + name));
    }
    t.present = true;
    return t;
  });
}

EarlyStopping read_early_stopping(const std::string& path) {
  return with_context(cat("reading encoder checkpoint '", path, "'"), [&] {
    h5::ArtifactReader r(path, kCheckpointKind, kCheckpointVersion);
    EarlyStopping st;
    if (!r.has("trainer/early_stopping")) return st;
    const auto v = r.read_doubles("trainer/early_stopping");
    if (v.size() != 3 || !(v[1] >= -1 && v[1] < 1e9 && v[1] == std::floor(v[1])) ||
        !(v[2] >= 0 && v[2] < 1e9 && v[2] == std::floor(v[2])))
      throw input_error("trainer/early_stopping: expected [best, best_epoch, bad_epochs] with whole epochs; found ",
                        v.size(), " value(s)", v.size() == 3 ? cat(": ", v[0], ", ", v[1], ", ", v[2]) : "");
    st.best = v[0], st.best_epoch = int64_t(v[1]), st.bad_epochs = int64_t(v[2]);
    st.recorded = true;
    return st;
  });
}

EncoderConfig read_architecture(const std::string& path) {
  h5::ArtifactReader r(path, kCheckpointKind, kCheckpointVersion);
  EncoderConfig ec;
  ec.latent = int(r.attr_double("/", "latent"));
  ec.n_blocks = int(r.attr_double("/", "n_blocks"));
  ec.dropout = r.attr_double("/", "dropout");
  ec.clip_dim = int(r.attr_double("/", "clip_dim"));
  return ec;
}

void load_backbone(Encoder<float>& enc, const std::string& path) {
  h5::ArtifactReader r(path, kCheckpointKind, kCheckpointVersion);
  for (Param<float>* p : enc.params()) {
    if (p->name.rfind("adapter/", 0) == 0) continue;
    const std::string ds = "params/" + p->name;
    if (!r.has(ds)) throw input_error("pretrained model '", path, "' has no parameter '", p->name, "'");
    const Mat<float> v = r.read_matrix_f(ds);
    if (v.rows() != p->value.rows() || v.cols() != p->value.cols())
      throw input_error("pretrained model '", path, "': parameter '", p->name, "' is ", v.rows(), "x", v.cols(),
                        "; expected ", p->value.rows(), "x", p->value.cols());
    p->value = v;
  }
}

bool read_adapter(const std::string& path, const std::string& subject, Mat<float>& W, Mat<float>& b) {
  h5::ArtifactReader r(path, kCheckpointKind, kCheckpointVersion);
  const std::string w = "params/adapter/" + subject + "/W";
  if (!r.has(w)) return false;
  W = r.read_matrix_f(w);
  b = r.read_matrix_f("params/adapter/" + subject + "/b");
  return true;
}

template void save_checkpoint<float>(const std::string&, const Trainer<float>&, const Provenance&, bool,
                                     const StimulusRecord&, const ssl::TemporalSnapshot&, const EarlyStopping&);
template void save_checkpoint<double>(const std::string&, const Trainer<double>&, const Provenance&, bool,
                                      const StimulusRecord&, const ssl::TemporalSnapshot&, const EarlyStopping&);
template void load_checkpoint<float>(const std::string&, Trainer<float>&);
template void load_checkpoint<double>(const std::string&, Trainer<double>&);

}  // namespace v2c::encoder
