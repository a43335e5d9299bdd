#include "pipeline/prep/cv_groups.h"

#include <map>

#include "pipeline/core/error.h"

namespace v2c::prep {

int32_t assign_cv_groups(std::vector<events::Event>& events, int field, int32_t first_group) {
  int32_t group = first_group - 1;
  const std::string* previous = nullptr;
  for (size_t i = 0; i < events.size(); ++i) {
    V2C_ASSERT(i == 0 || events[i - 1].onset_s <= events[i].onset_s, "events must be sorted by onset");
    const std::string& key = field < 0 ? events[i].stimulus : events[i].fields[size_t(field)];
    if (!previous || key != *previous) ++group;
    events[i].group = group;
    previous = &key;
  }
  return group - first_group + 1;
}

void renumber_groups(std::vector<int32_t>& group) {
  std::map<int32_t, int32_t> dense;
  for (int32_t& g : group) g = dense.emplace(g, int32_t(dense.size())).first->second;
}

}  // namespace v2c::prep
