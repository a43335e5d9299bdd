#include "pipeline/core/config.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include "pipeline/core/format.h"
#include "pipeline/core/parse.h"

namespace v2c::config {

const std::vector<std::string>& known_sections() {
  // One per stage, plus `study` (what the Makefile pipeline reads: subjects, paths).
  static const std::vector<std::string> sections = {"study",    "info",     "simulate", "prepare",  "ridge",
                                                    "pretrain", "finetune", "align",    "retrieve", "report"};
  return sections;
}

template <>
const char* type_name<bool>() {
  return "bool";
}
template <>
const char* type_name<int>() {
  return "int";
}
template <>
const char* type_name<int64_t>() {
  return "int";
}
template <>
const char* type_name<double>() {
  return "number";
}
template <>
const char* type_name<std::string>() {
  return "string";
}
template <>
const char* type_name<std::vector<double>>() {
  return "list of numbers";
}
template <>
const char* type_name<std::vector<int>>() {
  return "list of ints";
}
template <>
const char* type_name<std::vector<std::string>>() {
  return "list of strings";
}

namespace {

// Short form for messages and --help (the YAML recorded in artifacts keeps full precision).
std::string node_text(const YAML::Node& node) {
  YAML::Emitter out;
  out.SetDoublePrecision(10);
  out << YAML::Flow << node;
  return out.c_str();
}

// The same, cut for messages (a value can be megabytes long).
std::string node_excerpt(const YAML::Node& node) { return excerpt(node_text(node)); }

// A key of a YAML mapping as text; a key that is not a plain scalar (`? [a, b]`) is a usage error.
std::string key_text(const YAML::Node& key, const std::string& where) {
  if (!key.IsScalar()) throw usage_error(where, ": a key must be a plain name, found '", node_excerpt(key), "'");
  return key.Scalar();
}

[[noreturn]] void type_mismatch(const YAML::Node& node, const std::string& what, const char* expected) {
  throw usage_error("config field '", what, "': expected ", expected, ", found '", node_excerpt(node), "'");
}

template <class T>
T scalar_as(const YAML::Node& node, const std::string& what) {
  if (!node.IsScalar()) type_mismatch(node, what, type_name<T>());
  const std::string text = node.Scalar();
  if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "True" || text == "yes") return true;
    if (text == "false" || text == "False" || text == "no") return false;
    type_mismatch(node, what, "bool (true or false)");
  } else if constexpr (std::is_same_v<T, std::string>) {
    return text;
  } else if constexpr (std::is_same_v<T, double>) {
    // YAML spellings such as 1e-2 and .5 are numbers; 1_000 and 0x10 are not.
    double value = 0;
    if (!parse_double(text, value)) type_mismatch(node, what, "a finite number");
    return value;
  } else {
    int64_t v = 0;
    if (!parse_int(text, v)) type_mismatch(node, what, "an integer");
    if constexpr (std::is_same_v<T, int>) {
      if (v < INT32_MIN || v > INT32_MAX) type_mismatch(node, what, "an integer in the 32-bit range");
    }
    return static_cast<T>(v);
  }
}

}  // namespace

template <class T>
T convert_node(const YAML::Node& node, const std::string& what) {
  if constexpr (std::is_same_v<T, std::vector<double>> || std::is_same_v<T, std::vector<int>> ||
                std::is_same_v<T, std::vector<std::string>>) {
    using E = typename T::value_type;
    T out;
    if (node.IsScalar() && node.Scalar().empty()) return out;
    if (!node.IsSequence()) type_mismatch(node, what, type_name<T>());
    for (size_t i = 0; i < node.size(); ++i) out.push_back(scalar_as<E>(node[i], cat(what, "[", i, "]")));
    return out;
  } else {
    return scalar_as<T>(node, what);
  }
}

template <class T>
YAML::Node to_node(const T& value) {
  if constexpr (std::is_same_v<T, double>) {
    return YAML::Node(shortest_decimal(value));
  } else if constexpr (std::is_same_v<T, std::vector<double>>) {
    YAML::Node n(YAML::NodeType::Sequence);
    for (double x : value) n.push_back(YAML::Node(shortest_decimal(x)));
    return n;
  } else {
    return YAML::Node(value);
  }
}

template <class T>
std::string to_text(const T& value) {
  if constexpr (std::is_same_v<T, double>) {
    return shortest_decimal(value);
  } else {
    return node_text(to_node<T>(value));
  }
}

#define V2C_CONFIG_TYPE(T)                                           \
  template T convert_node<T>(const YAML::Node&, const std::string&); \
  template YAML::Node to_node<T>(const T&);                          \
  template std::string to_text<T>(const T&);
V2C_CONFIG_TYPE(bool)
V2C_CONFIG_TYPE(int)
V2C_CONFIG_TYPE(int64_t)
V2C_CONFIG_TYPE(double)
V2C_CONFIG_TYPE(std::string)
V2C_CONFIG_TYPE(std::vector<double>)
V2C_CONFIG_TYPE(std::vector<int>)
V2C_CONFIG_TYPE(std::vector<std::string>)
#undef V2C_CONFIG_TYPE

Field* Schema::find(const std::string& key) {
  for (auto& f : fields_)
    if (f->name == key) return f.get();
  return nullptr;
}

namespace {
std::string field_list(const std::vector<std::unique_ptr<Field>>& fields) {
  std::string out;
  for (const auto& f : fields) out += (out.empty() ? "" : ", ") + f->name;
  return out.empty() ? "(none)" : out;
}
}  // namespace

void Schema::apply(const YAML::Node& mapping, const std::string& origin) {
  if (!mapping || mapping.IsNull()) return;
  if (!mapping.IsMap())
    throw usage_error(origin, ": section '", section_, "' must be a mapping of key: value, found '",
                      node_excerpt(mapping), "'");
  for (const auto& kv : mapping) {
    const std::string key = key_text(kv.first, origin + ", section '" + section_ + "'");
    Field* f = find(key);
    if (!f)
      throw usage_error(origin, ": unknown key '", section_, ".", excerpt(key), "'; the keys of section '", section_,
                        "' are: ", field_list(fields_));
    f->set(kv.second);
  }
}

void Schema::apply_override(const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw usage_error("--set '", excerpt(assignment), "': expected key=value");
  std::string key = assignment.substr(0, eq);
  const std::string value = assignment.substr(eq + 1);
  const std::string prefix = section_ + ".";
  if (key.rfind(prefix, 0) == 0) key = key.substr(prefix.size());
  Field* f = find(key);
  if (!f)
    throw usage_error("--set: unknown key '", excerpt(key), "'; the keys of section '", section_,
                      "' are: ", field_list(fields_));
  YAML::Node node;
  try {
    node = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    throw usage_error("--set ", key, ": cannot parse value '", excerpt(value), "': ", e.msg);
  }
  if (!node.IsDefined() || node.IsNull()) node = YAML::Node(value);
  f->set(node);
}

void Schema::validate() const {
  for (const auto& f : fields_)
    for (const auto& check : f->checks) check(section_ + "." + f->name);
}

std::string Schema::to_yaml() const {
  YAML::Node section;
  for (const auto& f : fields_) section[f->name] = f->get();
  YAML::Node root;
  root[section_] = section;
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

std::string Schema::help(int indent) const {
  std::ostringstream os;
  const std::string pad(indent, ' ');
  for (const auto& f : fields_) {
    os << pad << f->name << " (" << f->type << ", default " << node_text(f->get()) << ")";
    if (!f->rule.empty()) os << " [" << f->rule << "]";
    os << "\n" << pad << "    " << f->doc << "\n";
  }
  return os.str();
}

void apply_file(Schema& schema, const std::string& path) {
  std::ifstream probe(path);
  if (!probe) throw io_error("cannot open config file '", path, "'");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw usage_error("config file '", path, "' is not valid YAML: line ", e.mark.line + 1, ": ", e.msg);
  }
  if (!root || root.IsNull()) return;
  if (!root.IsMap())
    throw usage_error("config file '", path, "': expected a mapping of sections (prepare:, ridge:, ...)");
  // A key given twice is refused: YAML loaders keep one of them silently, and a variant's setting
  // written above the file's own one would never take effect.
  std::set<std::string> sections;
  for (const auto& kv : root) {
    const std::string name = key_text(kv.first, "config file '" + path + "'");
    if (!sections.insert(name).second)
      throw usage_error("config file '", path, "': section '", excerpt(name), "' appears twice");
    if (kv.second.IsMap()) {
      std::set<std::string> keys;
      for (const auto& field : kv.second) {
        const std::string key = key_text(field.first, "config file '" + path + "', section '" + excerpt(name) + "'");
        if (!keys.insert(key).second)
          throw usage_error("config file '", path, "': key '", excerpt(name), ".", excerpt(key),
                            "' appears twice (one value per key)");
      }
    }
    bool known = false;
    for (const auto& s : known_sections()) known = known || s == name;
    if (!known) {
      std::string all;
      for (const auto& s : known_sections()) all += (all.empty() ? "" : ", ") + s;
      throw usage_error("config file '", path, "': unknown section '", excerpt(name), "'; known sections: ", all);
    }
  }
  schema.apply(root[schema.section()], "config file '" + path + "'");
}

}  // namespace v2c::config
