#include "pipeline/io/npy.h"

#include <bit>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "pipeline/core/error.h"
#include "pipeline/core/output.h"
#include "pipeline/core/parse.h"

namespace v2c::npy {
namespace {

void require_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw io_error(path, ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw io_error(path, ": is a directory, expected a file");
}

// ---- .npy ----------------------------------------------------------------------------------
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
// magic "\x93NUMPY", major, minor, header length (uint16 LE in 1.0, uint32 LE in 2.0/3.0),
// then a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}.

// At most the first 200 characters of a header, for messages (headers can be 4 GiB long).
std::string excerpt(const std::string& header) {
  if (header.size() <= 200) return header;
  return cat(header.substr(0, 200), "... (", header.size(), " characters)");
}

// The part of Python literal syntax that .npy headers use.
struct PyValue {
  enum Kind { string, boolean, integer, none, tuple, list, dict } kind = none;
  std::string text;
  bool flag = false;
  int64_t number = 0;
  // tuple, list: the items; dict: the values, keys[i] the key of items[i] (a pair holding an
  // incomplete PyValue is not allowed, a vector of one is).
  std::vector<PyValue> items;
  std::vector<std::string> keys;
};

class PyLiteralParser {
 public:
  PyLiteralParser(const std::string& path, const std::string& text) : path_(path), s_(text) {}

  PyValue parse_all() {
    PyValue v = value();
    skip_space();
    if (i_ != s_.size()) fail("unexpected text after the header dict");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw input_error(path_, ": malformed .npy header (", what, " at character ", i_, "): ", excerpt(s_));
  }
  void skip_space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool eat(char c) {
    skip_space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  // Containers nest at most kMaxDepth deep (a header of 60 KB of '[' overflowed the stack).
  static constexpr int kMaxDepth = 16;
  PyValue value(int depth = 0) {
    skip_space();
    if (i_ >= s_.size()) fail("unexpected end");
    if (depth > kMaxDepth) fail(cat("containers nested deeper than ", kMaxDepth));
    const char c = s_[i_];
    PyValue v;
    if (c == '\'' || c == '"') {
      v.kind = PyValue::string;
      ++i_;
      while (i_ < s_.size() && s_[i_] != c) {
        if (s_[i_] == '\\' && i_ + 1 < s_.size()) ++i_;
        v.text += s_[i_++];
      }
      if (i_ >= s_.size()) fail("unterminated string");
      ++i_;
    } else if (c == '{') {
      v.kind = PyValue::dict;
      ++i_;
      while (!eat('}')) {
        PyValue key = value(depth + 1);
        if (key.kind != PyValue::string) fail("dict key is not a string");
        if (!eat(':')) fail("expected ':'");
        v.keys.push_back(key.text);
        v.items.push_back(value(depth + 1));
        if (!eat(',')) {
          if (!eat('}')) fail("expected ',' or '}'");
          break;
        }
      }
    } else if (c == '(' || c == '[') {
      const char close = c == '(' ? ')' : ']';
      v.kind = c == '(' ? PyValue::tuple : PyValue::list;
      ++i_;
      while (!eat(close)) {
        v.items.push_back(value(depth + 1));
        if (!eat(',')) {
          if (!eat(close)) fail(cat("expected ',' or '", close, "'"));
          break;
        }
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      v.kind = PyValue::integer;
      size_t start = i_++;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (!parse_int(std::string_view(s_).substr(start, i_ - start), v.number)) fail("bad integer");
      if (i_ < s_.size() && (s_[i_] == 'L' || s_[i_] == 'l')) ++i_;  // Python 2 long
    } else if (s_.compare(i_, 4, "True") == 0) {
      v.kind = PyValue::boolean, v.flag = true, i_ += 4;
    } else if (s_.compare(i_, 5, "False") == 0) {
      v.kind = PyValue::boolean, v.flag = false, i_ += 5;
    } else if (s_.compare(i_, 4, "None") == 0) {
      v.kind = PyValue::none, i_ += 4;
    } else {
      fail("unexpected character");
    }
    return v;
  }

  const std::string& path_;
  const std::string& s_;
  size_t i_ = 0;
};

float element_to_float(const unsigned char* p, size_t size, bool swap) {
  unsigned char b[8];
  for (size_t k = 0; k < size; ++k) b[k] = swap ? p[size - 1 - k] : p[k];
  if (size == 2) {
    uint16_t h;
    std::memcpy(&h, b, 2);
    return half_to_float(h);
  }
  if (size == 4) {
    float f;
    std::memcpy(&f, b, 4);
    return f;
  }
  double d;
  std::memcpy(&d, b, 8);
  return static_cast<float>(d);
}

}  // namespace

MatrixF read_npy(const std::string& path) {
  require_file(path);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(path, ": cannot open for reading: ", std::strerror(errno));
  const auto file_size = static_cast<unsigned long long>(std::filesystem::file_size(path));

  unsigned char prefix[12] = {};
  in.read(reinterpret_cast<char*>(prefix), 10);
  if (in.gcount() < 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0)
    throw input_error(path, ": not a NumPy .npy file (magic string \\x93NUMPY missing)");
  const int major = prefix[6], minor = prefix[7];
  unsigned long long header_len = 0;
  size_t prefix_len = 10;
  if (major == 1) {
    header_len = prefix[8] | (prefix[9] << 8);
  } else if (major == 2 || major == 3) {
    in.read(reinterpret_cast<char*>(prefix + 10), 2);
    if (in.gcount() < 2) throw input_error(path, ": truncated .npy header");
    header_len = static_cast<unsigned long long>(prefix[8]) | (static_cast<unsigned long long>(prefix[9]) << 8) |
                 (static_cast<unsigned long long>(prefix[10]) << 16) |
                 (static_cast<unsigned long long>(prefix[11]) << 24);
    prefix_len = 12;
  } else {
    throw input_error(path, ": unsupported .npy format version ", major, ".", minor, " (supported: 1.0, 2.0, 3.0)");
  }
  if (prefix_len + header_len > file_size)
    throw input_error(path, ": truncated .npy header (header length ", header_len, ", file size ", file_size, ")");
  std::string header(header_len, '\0');
  in.read(header.data(), static_cast<std::streamsize>(header_len));
  while (!header.empty() && (header.back() == '\n' || header.back() == ' ' || header.back() == '\0')) header.pop_back();

  const PyValue dict = PyLiteralParser(path, header).parse_all();
  if (dict.kind != PyValue::dict) throw input_error(path, ": .npy header is not a dict: ", excerpt(header));
  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shape = nullptr;
  for (size_t i = 0; i < dict.keys.size(); ++i) {
    const std::string& key = dict.keys[i];
    const PyValue& val = dict.items[i];
    if (key == "descr")
      descr = &val;
    else if (key == "fortran_order")
      fortran = &val;
    else if (key == "shape")
      shape = &val;
  }
  if (!descr || !fortran || !shape)
    throw input_error(path, ": .npy header lacks one of 'descr', 'fortran_order', 'shape': ", excerpt(header));
  if (descr->kind != PyValue::string)
    throw input_error(path,
                      ": structured .npy dtypes are not supported; expected a float array, header: ", excerpt(header));
  if (fortran->kind != PyValue::boolean)
    throw input_error(path, ": .npy 'fortran_order' is not True/False: ", excerpt(header));
  if (shape->kind != PyValue::tuple) throw input_error(path, ": .npy 'shape' is not a tuple: ", excerpt(header));

  const std::string& dtype = descr->text;
  if (dtype.size() != 3 || (dtype[0] != '<' && dtype[0] != '>' && dtype[0] != '=') || dtype[1] != 'f' ||
      (dtype[2] != '2' && dtype[2] != '4' && dtype[2] != '8'))
    throw input_error(path, ": unsupported .npy dtype '", dtype,
                      "'; expected float16/32/64 ('<f2', '<f4', '<f8' or big-endian '>f4', '>f8')");
  const size_t item_size = static_cast<size_t>(dtype[2] - '0');
  const bool file_big_endian = dtype[0] == '>' || (dtype[0] == '=' && std::endian::native == std::endian::big);
  const bool swap = file_big_endian != (std::endian::native == std::endian::big);

  std::string shape_text = "(";
  for (size_t k = 0; k < shape->items.size(); ++k) {
    if (shape->items[k].kind != PyValue::integer || shape->items[k].number < 0)
      throw input_error(path, ": .npy 'shape' has a non-integer entry: ", excerpt(header));
    shape_text += cat(k ? ", " : "", shape->items[k].number);
  }
  shape_text += shape->items.size() == 1 ? ",)" : ")";
  if (shape->items.size() != 2)
    throw input_error(path, ": expected a 2-D array (stimuli x features), found shape ", shape_text);
  const long long rows = shape->items[0].number, cols = shape->items[1].number;
  if (rows == 0 || cols == 0) throw input_error(path, ": empty feature array, shape ", shape_text);
  if (rows > INT_MAX || cols > INT_MAX) throw input_error(path, ": array too large, shape ", shape_text);

  const unsigned long long count = static_cast<unsigned long long>(rows) * static_cast<unsigned long long>(cols);
  const unsigned long long data_bytes = file_size - prefix_len - header_len;
  if (data_bytes != count * item_size)
    throw input_error(path, ": data size does not match the header: shape ", shape_text, " of ", dtype, " needs ",
                      count * item_size, " bytes, file holds ", data_bytes);
  std::vector<unsigned char> raw(count * item_size);
  in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(raw.size()));
  if (static_cast<unsigned long long>(in.gcount()) != raw.size()) throw io_error(path, ": read failed");

  MatrixF values(rows, cols);
  const bool fortran_order = fortran->flag;
  for (unsigned long long k = 0; k < count; ++k) {
    const float v = element_to_float(raw.data() + k * item_size, item_size, swap);
    if (fortran_order)
      values(static_cast<Eigen::Index>(k % rows), static_cast<Eigen::Index>(k / rows)) = v;
    else
      values(static_cast<Eigen::Index>(k / cols), static_cast<Eigen::Index>(k % cols)) = v;
  }
  return values;
}

float half_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu;
  const uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    // Zero or subnormal: mantissa * 2^-24, exact in float32.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf / NaN
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));        // rebias 15 -> 127
}

namespace {
template <class M>
void write_npy_matrix(const std::string& path, const M& m, const char* descr) {
  static_assert(std::endian::native == std::endian::little, "write_npy writes little-endian data");
  std::string header = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" +
                       std::to_string(m.rows()) + ", " + std::to_string(m.cols()) + "), }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  AtomicOutput out(path, true);
  std::ofstream f(out.temp_path(), std::ios::binary);
  f.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = uint16_t(header.size());
  f.write(reinterpret_cast<const char*>(&len), 2);
  f << header;
  f.write(reinterpret_cast<const char*>(m.data()), std::streamsize(m.size() * sizeof(typename M::Scalar)));
  f.close();
  if (!f) throw io_error("cannot write '", path, "'");
  out.commit();
}
}  // namespace

void write_npy(const std::string& path, const MatrixF& m) { write_npy_matrix(path, m, "<f4"); }
void write_npy(const std::string& path, const MatrixD& m) { write_npy_matrix(path, m, "<f8"); }

}  // namespace v2c::npy
