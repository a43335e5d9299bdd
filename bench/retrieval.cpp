// bench-retrieval DIR N_QUERIES N_CANDIDATES DIM K [SCAN]
// Exact cosine top-k of N_QUERIES random unit vectors among N_CANDIDATES (float32, fixed seed),
// the peer being FAISS IndexFlatIP on the same data (bench/peers/retrieval_faiss.py). Writes
// DIR/queries.npy and DIR/candidates.npy (once; regenerated when the shape differs) and
// DIR/ours_topk.npy (int64 [N_QUERIES x K]) for the peer to compare with. Checks its own top-k
// against a direct double-precision search on a subset of queries (exit 1 on a mismatch).
// stdout: "ours_s peak_mib"; details on stderr. SCAN: automatic (default), float32, bfloat16.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>

#include "pipeline/core/log.h"
#include "pipeline/eval/retrieval.h"
#include "pipeline/math/linalg.h"

using namespace v2c;
namespace rt = v2c::retrieval;

namespace {

// Unit rows from N(0,1) draws; rows in chunks of 4096, chunk c seeded seed + c (thread-independent).
MatrixF unit_rows(int64_t rows, int64_t d, uint64_t seed) {
  MatrixF m(rows, d);
  const int64_t chunk = 4096, n_chunks = (rows + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < n_chunks; ++c) {
    std::mt19937_64 rng(seed + uint64_t(c));
    std::normal_distribution<float> g(0.0f, 1.0f);
    for (int64_t r = c * chunk; r < std::min(rows, (c + 1) * chunk); ++r) {
      for (int64_t j = 0; j < d; ++j) m(r, j) = g(rng);
      m.row(r) /= m.row(r).norm();
    }
  }
  return m;
}

std::string npy_header(const char* descr, int64_t rows, int64_t cols) {
  std::string h = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + std::to_string(rows) +
                  ", " + std::to_string(cols) + "), }";
  while ((10 + h.size() + 1) % 64) h += ' ';
  return h + '\n';
}

void write_npy(const std::string& path, const char* descr, const void* data, size_t bytes, int64_t rows, int64_t cols) {
  const std::string h = npy_header(descr, rows, cols);
  std::ofstream out(path + ".tmp", std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = uint16_t(h.size());
  out.write(reinterpret_cast<const char*>(&len), 2);
  out << h;
  out.write(static_cast<const char*>(data), std::streamsize(bytes));
  out.close();
  if (!out) {
    std::cerr << "bench-retrieval: cannot write " << path << "\n";
    std::exit(2);
  }
  std::filesystem::rename(path + ".tmp", path);
}

// Whether `path` is a .npy of this header (same generator, same shape).
bool npy_matches(const std::string& path, const char* descr, int64_t rows, int64_t cols) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  const std::string h = npy_header(descr, rows, cols);
  std::string got(10 + h.size(), '\0');
  in.read(got.data(), std::streamsize(got.size()));
  return in && got.substr(10) == h;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: bench-retrieval DIR N_QUERIES N_CANDIDATES DIM K [automatic|float32|bfloat16]\n";
    return 2;
  }
  const std::string dir = argv[1];
  const int64_t nq = std::atoll(argv[2]), nc = std::atoll(argv[3]), d = std::atoll(argv[4]), k = std::atoll(argv[5]);
  const std::string scan = argc > 6 ? argv[6] : "automatic";
  if (nq < 1 || nc < 1 || d < 1 || k < 1 || (scan != "automatic" && scan != "float32" && scan != "bfloat16")) {
    std::cerr << "bench-retrieval: bad arguments\n";
    return 2;
  }
  std::filesystem::create_directories(dir);
  const MatrixF queries = unit_rows(nq, d, 1000003), candidates = unit_rows(nc, d, 2000003);
  for (const auto& [name, m] : {std::pair{"queries", &queries}, std::pair{"candidates", &candidates}}) {
    const std::string path = dir + "/" + name + ".npy";
    if (!npy_matches(path, "<f4", m->rows(), m->cols()))
      write_npy(path, "<f4", m->data(), size_t(m->size()) * 4, m->rows(), m->cols());
  }

  rt::SearchOptions opt;
  opt.k = k;
  opt.scan = scan == "float32" ? rt::Scan::float32 : scan == "bfloat16" ? rt::Scan::bfloat16 : rt::Scan::automatic;
  const auto t0 = std::chrono::steady_clock::now();
  const rt::SearchResult r = rt::search(queries, candidates, {}, opt);
  const double ours_s = seconds_since(t0);
  write_npy(dir + "/ours_topk.npy", "<i8", r.index.data(), r.index.size() * 8, nq, r.k);

  // The SGEMM bound: one 4096 x 4096 x d product, scaled to nq x nc.
  {
    const int64_t m = std::min<int64_t>(nq, 4096), n = std::min<int64_t>(nc, 4096);
    linalg::Mat<float> A = queries.topRows(m), B = candidates.topRows(n), C;
    linalg::gemm(A, false, B, true, C);
    const auto t1 = std::chrono::steady_clock::now();
    linalg::gemm(A, false, B, true, C);
    const double s = seconds_since(t1) * double(nq) * double(nc) / (double(m) * double(n));
    std::cerr << "bench-retrieval: " << nq << " x " << nc << " x " << d << " top-" << k << ", scan "
              << rt::scan_name(r.scan_used) << ", " << omp_get_max_threads() << " threads: " << ours_s << " s ("
              << double(nq) / ours_s << " queries/s); SGEMM bound " << s << " s; exact rescores "
              << double(r.exact_rescored) / double(nq) << " per query\n";
  }

  // Exactness: a direct double-precision search for a subset of queries.
  const int64_t n_check = std::min<int64_t>(nq, 8);
  int64_t mismatches = 0;
  for (int64_t i = 0; i < n_check; ++i) {
    const int64_t q = i * (nq / n_check);
    std::vector<double> s(static_cast<size_t>(nc));
#pragma omp parallel for schedule(static)
    for (int64_t c = 0; c < nc; ++c) {
      double dot = 0, nn = 0, qq = 0;
      for (int64_t j = 0; j < d; ++j) {
        dot += double(queries(q, j)) * double(candidates(c, j));
        nn += double(candidates(c, j)) * double(candidates(c, j));
        qq += double(queries(q, j)) * double(queries(q, j));
      }
      s[size_t(c)] = dot / (std::sqrt(qq) * std::sqrt(nn));
    }
    std::vector<int64_t> order(static_cast<size_t>(nc));
    for (int64_t c = 0; c < nc; ++c) order[size_t(c)] = c;
    std::partial_sort(order.begin(), order.begin() + r.k, order.end(), [&](int64_t a, int64_t b) {
      return s[size_t(a)] > s[size_t(b)] || (s[size_t(a)] == s[size_t(b)] && a < b);
    });
    for (int64_t j = 0; j < r.k; ++j) mismatches += r.index[size_t(q * r.k + j)] != order[size_t(j)];
  }
  std::cerr << "bench-retrieval: top-" << r.k << " of " << n_check << " queries vs direct search: " << mismatches
            << " mismatches\n";
  std::cout << ours_s << " " << int(log::peak_memory_mib()) << "\n";
  return mismatches == 0 ? 0 : 1;
}
