#include "pipeline/core/json.h"

namespace v2c::json {

std::string dump(const Value& v, int indent) {
  return v.dump(indent, ' ', /*ensure_ascii=*/false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string quote(std::string_view s) { return dump(Value(std::string(s))); }

}  // namespace v2c::json
