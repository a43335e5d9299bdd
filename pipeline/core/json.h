// JSON: every JSON vox2clip writes goes through nlohmann-json (Debian nlohmann-json3-dev), so
// escaping and number formatting are done in one place, by a tested library.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace v2c::json {

// A JSON value whose object keys keep their insertion order (files read the way they are built).
using Value = nlohmann::ordered_json;

// The text of `v`: compact on one line (indent < 0) or pretty with `indent` spaces. Bytes that are
// not valid UTF-8 (e.g. a Latin-1 file name) become U+FFFD instead of failing.
std::string dump(const Value& v, int indent = -1);

// `s` as a JSON string literal, quotes included (the same escaping as dump).
std::string quote(std::string_view s);

}  // namespace v2c::json
