// The unit of independence of each retrieval query (kernel: no I/O), for the bootstrap
// (stats/bootstrap.h) and the permutation test (label_permutation.h).
//
// Queries from one run share its noise, drift and, under block designs, its class: they are not
// independent, runs are (Davison & Hinkley 1997, §3.8, the cluster bootstrap). A query that
// averages presentations from several runs ties those runs together. The units are therefore the
// connected components of the runs, two runs being connected when one query holds samples of
// both: one run per unit when every query comes from one run (leave-one-run-out), the tested
// runs of a fold when queries average repeats across the runs of a fold. Unit ids are 0, 1, ...
// in order of each unit's smallest run.
#pragma once

#include <cstdint>
#include <vector>

namespace v2c::eval {

// runs_of_query[q]: the runs (any non-negative ids) of the samples query q holds (non-empty,
// asserted). Returns [n_queries] unit ids.
std::vector<int64_t> independent_units(const std::vector<std::vector<int32_t>>& runs_of_query);

}  // namespace v2c::eval
