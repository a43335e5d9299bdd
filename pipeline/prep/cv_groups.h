// Cross-validation groups of one run's events (kernel: no I/O).
//
// A CV group is a stretch of consecutive events (in onset order, within one run) that share the
// value of one column: a block of a block design, or a block id column. Samples of one group are
// never split between a training and a test set (v2c-ridge `ridge.outer: event_groups`), so the
// slow BOLD response of a block cannot leak from training into test; detrending and scaling
// stay per run whatever the groups.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/io/events.h"

namespace v2c::prep {

// Sets Event::group of every event of one run: events sorted by onset; a new group starts where
// the key changes, the key being the extra field `field` (events::Event::fields) or, with
// field -1, the stimulus. Groups are numbered first_group, first_group + 1, ... in onset order;
// returns the number of groups. Every event counts, rest events included, so a rest between two
// blocks of the same condition separates them.
int32_t assign_cv_groups(std::vector<events::Event>& events_of_run, int field, int32_t first_group);

// Dense group ids 0..k-1 in order of first appearance (groups of samples that were dropped
// leave no hole). In place.
void renumber_groups(std::vector<int32_t>& group);

}  // namespace v2c::prep
