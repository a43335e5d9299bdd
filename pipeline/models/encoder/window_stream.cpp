#include "pipeline/models/encoder/window_stream.h"

#include <algorithm>
#include <map>

#include "pipeline/core/error.h"
#include "pipeline/core/rng.h"
#include "pipeline/models/encoder/stream_order.h"

namespace v2c::encoder {

namespace {

// Consecutive starts of one run within a chunk: volumes [t_first, t_last + length) are read.
struct Segment {
  int64_t run, t_first, t_last;
};

// A chunk of chunk_windows consecutive starts (enumeration order) of one subject.
struct WindowChunk {
  size_t subject;
  int64_t g0, g1;  // starts [g0, g1) of the subject's enumeration
  std::vector<Segment> segments;
  int64_t volumes = 0;  // what holding it costs
};

struct Order {
  std::vector<size_t> chunks;          // chunk ids in reading order
  std::vector<Batch> batches;          // rows = start indices of the subject's enumeration
  std::vector<int64_t> chunks_before;  // [batches] chunks read before batch b
};

}  // namespace

struct WindowStream::Impl {
  WindowSource& source;
  WindowStreamConfig cfg;
  uint64_t seed;
  std::vector<std::vector<WindowBatch::Window>> starts;  // [subject] its windows, run by run
  std::vector<WindowChunk> chunks;                       // in enumeration order
  std::vector<std::vector<size_t>> chunk_of;             // [subject][start] -> chunk id
  int64_t buffer_volumes = 0, total_volumes = 0, total_windows = 0;

  int64_t epoch = -1;
  Order order;
  // The stream's state within the epoch.
  int64_t next = 0, chunks_read = 0, held = 0, peak = 0;
  std::map<size_t, std::vector<MF>> data;  // chunk id -> its segments' volumes
  std::vector<int64_t> left;               // [chunk id] windows not yet handed out
  WindowBatch batch;

  Impl(WindowSource& src, const WindowStreamConfig& c, uint64_t s) : source(src), cfg(c), seed(s) {}

  Order make_order(int64_t e) const {
    std::vector<std::vector<int64_t>> rows(starts.size());
    for (size_t s = 0; s < starts.size(); ++s)
      for (int64_t g = 0; g < int64_t(starts[s].size()); ++g) rows[s].push_back(g);
    Order o;
    if (total_volumes <= buffer_volumes) {  // everything fits: a global shuffle, every chunk read first
      for (size_t c = 0; c < chunks.size(); ++c) o.chunks.push_back(c);
      o.batches = epoch_batches(rows, cfg.batch_windows, seed, e);
      o.chunks_before.assign(o.batches.size(), int64_t(o.chunks.size()));
      return o;
    }
    Rng rng(seed * 1000003ULL + uint64_t(e) * 7919ULL + 31);
    for (size_t c = 0; c < chunks.size(); ++c) o.chunks.push_back(c);
    rng.shuffle(o.chunks);
    std::vector<std::vector<int64_t>> pool(starts.size());
    std::vector<int64_t> unused(chunks.size());
    for (size_t c = 0; c < chunks.size(); ++c) unused[c] = chunks[c].g1 - chunks[c].g0;
    int64_t held_volumes = 0;
    size_t next_chunk = 0;
    const auto bs = size_t(cfg.batch_windows);
    const auto use = [&](size_t s, int64_t g) {
      const size_t c = chunk_of[s][size_t(g)];
      if (--unused[c] == 0) held_volumes -= chunks[c].volumes;
    };
    while (true) {
      while (next_chunk < o.chunks.size() &&
             (held_volumes == 0 || held_volumes + chunks[o.chunks[next_chunk]].volumes <= buffer_volumes)) {
        const WindowChunk& c = chunks[o.chunks[next_chunk++]];
        for (int64_t g = c.g0; g < c.g1; ++g) pool[c.subject].push_back(g);
        held_volumes += c.volumes;
      }
      uint64_t buffered = 0;
      for (const auto& p : pool) buffered += p.size();
      if (buffered == 0) break;
      const size_t subject = next_batch_subject(pool, bs, rng);
      std::vector<int64_t>& p = pool[subject];
      const size_t take = std::min(bs, p.size());
      if (take < 2) {  // one window alone is not a batch: it leaves the buffer unused
        for (int64_t g : p) use(subject, g);
        p.clear();
        continue;
      }
      Batch b{subject, {}};
      for (size_t k = 0; k < take; ++k) {
        std::swap(p[size_t(rng.next() % p.size())], p.back());
        b.rows.push_back(p.back());
        use(subject, p.back());
        p.pop_back();
      }
      o.batches.push_back(std::move(b));
      o.chunks_before.push_back(int64_t(next_chunk));
    }
    return o;
  }

  void read_chunk(size_t c) {
    if (left[c] == 0) return;  // every window of it was used before a resumed start
    const WindowChunk& ch = chunks[c];
    std::vector<MF>& segs = data[c];
    segs.resize(ch.segments.size());
    for (size_t k = 0; k < ch.segments.size(); ++k) {
      const Segment& sg = ch.segments[k];
      source.read_volumes(ch.subject, sg.run, sg.t_first, sg.t_last - sg.t_first + cfg.length, segs[k]);
    }
    held += ch.volumes;
    peak = std::max(peak, held);
  }

  void release(size_t c) {
    data.erase(c);
    held -= chunks[c].volumes;
  }
};

WindowStream::WindowStream(WindowSource& source, std::vector<std::vector<int64_t>> runs, const WindowStreamConfig& cfg,
                           uint64_t seed)
    : impl_(std::make_unique<Impl>(source, cfg, seed)) {
  if (cfg.length < 1) throw usage_error("window stream: window length ", cfg.length, "; must be >= 1");
  if (cfg.batch_windows < 2)
    throw usage_error("window stream: ", cfg.batch_windows, " windows per batch; must be >= 2");
  if (cfg.chunk_windows < 1) throw usage_error("pretrain.chunk_rows = ", cfg.chunk_windows, ": must be >= 1");
  if (!(cfg.buffer_mib > 0)) throw usage_error("pretrain.buffer_mib = ", cfg.buffer_mib, ": must be > 0");
  if (int64_t(runs.size()) != source.n_subjects())
    throw usage_error("window stream: run lists for ", runs.size(), " subjects; the source has ", source.n_subjects());
  Impl& m = *impl_;
  int64_t p_max = 1;
  for (size_t s = 0; s < runs.size(); ++s) {
    const TimeSeries& t = source.table(s);
    p_max = std::max(p_max, t.n_voxels());
    std::vector<WindowBatch::Window> w;
    for (size_t k = 0; k < runs[s].size(); ++k) {
      const int64_t r = runs[s][k];
      if (r < 0 || r >= t.n_runs() || (k > 0 && r <= runs[s][k - 1]))
        throw usage_error("window stream: run ", r, " of subject '", t.subject, "' (", t.n_runs(),
                          " runs; indices ascending)");
      for (int64_t t0 = 0; t0 + cfg.length <= t.runs[size_t(r)].n_volumes; ++t0) w.push_back({r, t0});
    }
    if (w.empty())
      throw input_error("time series of '", t.subject, "': no training run has ", cfg.length, " volumes (",
                        runs[s].size(), " runs)");
    m.total_windows += int64_t(w.size());
    m.chunk_of.emplace_back(w.size());
    for (int64_t g0 = 0; g0 < int64_t(w.size()); g0 += cfg.chunk_windows) {
      WindowChunk c{s, g0, std::min<int64_t>(int64_t(w.size()), g0 + cfg.chunk_windows), {}, 0};
      for (int64_t g = c.g0; g < c.g1; ++g) {
        if (c.segments.empty() || c.segments.back().run != w[size_t(g)].run)
          c.segments.push_back({w[size_t(g)].run, w[size_t(g)].t0, w[size_t(g)].t0});
        c.segments.back().t_last = w[size_t(g)].t0;
        m.chunk_of[s][size_t(g)] = m.chunks.size();
      }
      for (const Segment& sg : c.segments) c.volumes += sg.t_last - sg.t_first + cfg.length;
      m.total_volumes += c.volumes;
      m.chunks.push_back(std::move(c));
    }
    m.starts.push_back(std::move(w));
  }
  m.buffer_volumes = int64_t(cfg.buffer_mib * double(1 << 20) / double(sizeof(float) * size_t(p_max)));
  int64_t largest = 0;
  for (const WindowChunk& c : m.chunks) largest = std::max(largest, c.volumes);
  if (m.buffer_volumes < largest)
    throw usage_error("pretrain.buffer_mib = ", cfg.buffer_mib, " holds ", m.buffer_volumes, " volumes of ", p_max,
                      " voxels; a chunk of pretrain.chunk_rows = ", cfg.chunk_windows, " windows of ", cfg.length,
                      " volumes needs up to ", largest);
}

WindowStream::~WindowStream() = default;

int64_t WindowStream::windows_per_epoch() const { return impl_->total_windows; }

int64_t WindowStream::batches_in_epoch(int64_t epoch) const {
  if (epoch == impl_->epoch) return int64_t(impl_->order.batches.size());
  return int64_t(impl_->make_order(epoch).batches.size());
}

void WindowStream::start_epoch(int64_t epoch, int64_t first_batch) {
  Impl& m = *impl_;
  if (epoch != m.epoch) m.order = m.make_order(epoch), m.epoch = epoch;
  V2C_ASSERT(first_batch >= 0 && first_batch <= int64_t(m.order.batches.size()), "WindowStream: batch ", first_batch,
             " of ", m.order.batches.size());
  m.data.clear();
  m.held = 0;
  m.next = first_batch;
  m.chunks_read = 0;
  m.left.assign(m.chunks.size(), 0);
  for (const WindowChunk& c : m.chunks) m.left[size_t(&c - m.chunks.data())] = c.g1 - c.g0;
  // Windows a batch before first_batch used (or that a dropped remainder left unused) do not keep
  // their chunk in the buffer.
  std::vector<std::vector<bool>> used(m.starts.size());
  for (size_t s = 0; s < used.size(); ++s) used[s].assign(m.starts[s].size(), false);
  for (int64_t b = 0; b < int64_t(m.order.batches.size()); ++b)
    for (int64_t g : m.order.batches[size_t(b)].rows) used[m.order.batches[size_t(b)].subject][size_t(g)] = true;
  for (size_t s = 0; s < used.size(); ++s)
    for (size_t g = 0; g < used[s].size(); ++g)
      if (!used[s][g]) --m.left[m.chunk_of[s][g]];
  for (int64_t b = 0; b < first_batch; ++b)
    for (int64_t g : m.order.batches[size_t(b)].rows)
      --m.left[m.chunk_of[m.order.batches[size_t(b)].subject][size_t(g)]];
  if (done()) return;
  while (m.chunks_read < m.order.chunks_before[size_t(first_batch)])
    m.read_chunk(m.order.chunks[size_t(m.chunks_read++)]);
}

bool WindowStream::done() const { return impl_->epoch < 0 || impl_->next == int64_t(impl_->order.batches.size()); }

int64_t WindowStream::batch_index() const { return impl_->next; }

int64_t WindowStream::peak_volumes() const { return impl_->peak; }

const WindowBatch& WindowStream::next(MF& X) {
  Impl& m = *impl_;
  V2C_ASSERT(!done(), "WindowStream::next past the epoch's ", m.order.batches.size(), " batches");
  while (m.chunks_read < m.order.chunks_before[size_t(m.next)]) m.read_chunk(m.order.chunks[size_t(m.chunks_read++)]);
  const Batch& b = m.order.batches[size_t(m.next++)];
  const int64_t L = m.cfg.length, p = m.source.table(b.subject).n_voxels();
  m.batch.subject = b.subject;
  m.batch.windows.clear();
  X.resize(int64_t(b.rows.size()) * L, p);
  for (size_t k = 0; k < b.rows.size(); ++k) {
    const WindowBatch::Window w = m.starts[b.subject][size_t(b.rows[k])];
    const size_t c = m.chunk_of[b.subject][size_t(b.rows[k])];
    const WindowChunk& ch = m.chunks[c];
    const auto seg =
        std::find_if(ch.segments.begin(), ch.segments.end(), [&](const Segment& s) { return s.run == w.run; });
    const auto it = m.data.find(c);
    V2C_ASSERT(seg != ch.segments.end() && it != m.data.end(), "WindowStream: window (run ", w.run, ", volume ", w.t0,
               ") of subject ", b.subject, " is not in the buffer");
    X.middleRows(int64_t(k) * L, L) = it->second[size_t(seg - ch.segments.begin())].middleRows(w.t0 - seg->t_first, L);
    m.batch.windows.push_back(w);
    if (--m.left[c] == 0) m.release(c);
  }
  return m.batch;
}

}  // namespace v2c::encoder
