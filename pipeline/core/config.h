// Stage settings: a plain struct per stage, with defaults, a doc line per field and rules.
//
//   struct PrepareConfig {
//     double shift_s = 4.0;
//     std::string standardize = "zscore";
//     void describe(config::Schema& s) {
//       s.field("shift_s", shift_s, "haemodynamic shift applied to event times (s)").min(0.0);
//       s.field("standardize", standardize, "per-run voxel scaling").one_of({"zscore", "psc", "none"});
//     }
//   };
//
// describe() is the only place a field is named: YAML loading, `--set key=value`, validation,
// `--help` (with defaults), the README reference and the YAML recorded in every artifact all come
// from it. Load order: defaults -> config file section -> --set overrides -> validate.
// Unknown keys are errors (a typo must never change an experiment silently).
//
// A config FILE holds one section per stage, named after it (`prepare:`, `simulate:`, ...),
// plus any sections listed in known_sections(); a stage reads its own section only.
#pragma once

#include <yaml-cpp/yaml.h>

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "pipeline/core/error.h"

namespace v2c::config {

// Type names shown in --help and errors.
template <class T>
const char* type_name();

struct Field {
  std::string name, doc, type, rule;           // rule: human text, e.g. "in [0, 10]"
  std::function<void(const YAML::Node&)> set;  // throws usage_error on a type mismatch
  std::function<YAML::Node()> get;
  std::vector<std::function<void(const std::string& qualified)>> checks;  // throw usage_error
};

// Fluent rules attached to one field: s.field(...).range(0, 1).
template <class T>
class FieldRef {
 public:
  FieldRef(Field& f, T& value) : f_(f), value_(value) {}
  FieldRef& min(T lo);
  FieldRef& range(T lo, T hi);
  FieldRef& one_of(std::initializer_list<const char*> allowed);
  // A custom rule: pred(value) must hold; `rule` says what it requires ("a multiple of 2").
  FieldRef& check(std::function<bool(const T&)> pred, std::string rule);

 private:
  void add_rule(const std::string& text);
  Field& f_;
  T& value_;
};

class Schema {
 public:
  explicit Schema(std::string section) : section_(std::move(section)) {}

  template <class T>
  FieldRef<T> field(const std::string& name, T& value, const std::string& doc);

  const std::string& section() const { return section_; }
  const std::vector<std::unique_ptr<Field>>& fields() const { return fields_; }

  // Applies a mapping of key -> value; unknown keys and type mismatches are usage errors
  // naming `origin` (file name or "--set").
  void apply(const YAML::Node& mapping, const std::string& origin);
  // Applies one "key=value" (key may carry the section prefix: prepare.shift_s=3).
  void apply_override(const std::string& assignment);
  void validate() const;
  std::string to_yaml() const;         // the section as YAML (values as they are now)
  std::string help(int indent) const;  // one block per field: name, type, default, rule, doc

 private:
  Field* find(const std::string& key);
  std::string section_;
  std::vector<std::unique_ptr<Field>> fields_;
};

// Loads `path` (YAML mapping of sections), checks every top-level key is a known section and
// applies the `schema.section()` one, if present.
void apply_file(Schema& schema, const std::string& path);

// Every section name a config file may contain.
const std::vector<std::string>& known_sections();

// ---- implementation of the templates ----

template <class T>
T convert_node(const YAML::Node& node, const std::string& what);
template <class T>
YAML::Node to_node(const T& value);
template <class T>
std::string to_text(const T& value);

template <class T>
FieldRef<T> Schema::field(const std::string& name, T& value, const std::string& doc) {
  auto f = std::make_unique<Field>();
  f->name = name;
  f->doc = doc;
  f->type = type_name<T>();
  T* ptr = &value;
  const std::string qualified = section_ + "." + name;
  f->set = [ptr, qualified](const YAML::Node& node) { *ptr = convert_node<T>(node, qualified); };
  f->get = [ptr]() { return to_node<T>(*ptr); };
  fields_.push_back(std::move(f));
  return FieldRef<T>(*fields_.back(), value);
}

template <class T>
void FieldRef<T>::add_rule(const std::string& text) {
  f_.rule = f_.rule.empty() ? text : f_.rule + "; " + text;
}

template <class T>
FieldRef<T>& FieldRef<T>::check(std::function<bool(const T&)> pred, std::string rule) {
  add_rule(rule);
  T* ptr = &value_;
  f_.checks.push_back([ptr, pred, rule](const std::string& qualified) {
    if (!pred(*ptr))
      throw usage_error("config field '", qualified, "' = ", excerpt(to_text<T>(*ptr)), ": must be ", rule);
  });
  return *this;
}

template <class T>
FieldRef<T>& FieldRef<T>::min(T lo) {
  static_assert(std::is_arithmetic_v<T>, "min() applies to numbers");
  return check([lo](const T& v) { return v >= lo; }, ">= " + to_text<T>(lo));
}

template <class T>
FieldRef<T>& FieldRef<T>::range(T lo, T hi) {
  return check([lo, hi](const T& v) { return v >= lo && v <= hi; },
               "in [" + to_text<T>(lo) + ", " + to_text<T>(hi) + "]");
}

template <class T>
FieldRef<T>& FieldRef<T>::one_of(std::initializer_list<const char*> allowed) {
  std::vector<std::string> options(allowed.begin(), allowed.end());
  std::string text = "one of";
  for (const auto& o : options) text += " '" + o + "'";
  if constexpr (std::is_same_v<T, std::string>) {
    return check(
        [options](const T& v) {
          for (const auto& o : options)
            if (v == o) return true;
          return false;
        },
        text);
  } else {
    return check(
        [options](const T& v) {
          for (const auto& x : v) {
            bool ok = false;
            for (const auto& o : options) ok = ok || x == o;
            if (!ok) return false;
          }
          return true;
        },
        "each " + text);
  }
}

}  // namespace v2c::config
