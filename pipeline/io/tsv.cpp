#include "pipeline/io/tsv.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "pipeline/core/error.h"

namespace v2c {
namespace {

std::string read_file_text(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw io_error(path, ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw io_error(path, ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(path, ": cannot open for reading: ", std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw io_error(path, ": read failed");
  return buffer.str();
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) --e;
  return std::string(s.substr(b, e - b));
}

// Splits the text into raw lines (BOM, CR removed), numbered from 1.
std::vector<TextLine> split_lines(const std::string& path, const std::string& text) {
  std::vector<TextLine> lines;
  size_t pos = 0;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) pos = 3;
  int number = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    ++number;
    if (line.find('\0') != std::string::npos)
      throw input_error(path, " line ", number, ": contains a NUL byte; expected a text file");
    lines.push_back({number, std::move(line)});
    pos = end + 1;
  }
  return lines;
}

std::vector<std::string> split_fields(const std::string& path, int line_number, const std::string& line,
                                      char delimiter) {
  std::vector<std::string> fields;
  if (delimiter != ',') {
    size_t start = 0;
    while (true) {
      size_t end = line.find(delimiter, start);
      fields.push_back(
          trim(std::string_view(line).substr(start, end == std::string::npos ? std::string::npos : end - start)));
      if (end == std::string::npos) break;
      start = end + 1;
    }
    return fields;
  }
  // CSV with optional double quotes around a field.
  size_t i = 0;
  const size_t n = line.size();
  while (true) {
    while (i < n && line[i] == ' ') ++i;
    std::string field;
    if (i < n && line[i] == '"') {
      ++i;
      bool closed = false;
      while (i < n) {
        if (line[i] == '"') {
          if (i + 1 < n && line[i + 1] == '"') {
            field += '"';
            i += 2;
          } else {
            closed = true;
            ++i;
            break;
          }
        } else {
          field += line[i++];
        }
      }
      if (!closed)
        throw input_error(path, " line ", line_number,
                          ": unterminated double quote (quoted fields must end on the same line)");
      while (i < n && line[i] == ' ') ++i;
      if (i < n && line[i] != ',')
        throw input_error(path, " line ", line_number, ": unexpected character '", line[i],
                          "' after a quoted field, expected ','");
    } else {
      size_t end = line.find(',', i);
      if (end == std::string::npos) end = n;
      field = trim(std::string_view(line).substr(i, end - i));
      i = end;
    }
    fields.push_back(std::move(field));
    if (i >= n) break;
    ++i;  // the comma
    if (i == n) {
      fields.emplace_back();
      break;
    }
  }
  return fields;
}

bool is_blank(const std::string& s) { return s.find_first_not_of(" \t") == std::string::npos; }

}  // namespace

size_t Table::column_count() const {
  if (!columns.empty()) return columns.size();
  return rows.empty() ? 0 : rows.front().size();
}

int Table::find_column(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return static_cast<int>(i);
  return -1;
}

int Table::column(const std::string& name) const {
  int c = find_column(name);
  if (c >= 0) return c;
  std::string found;
  for (const auto& col : columns) found += (found.empty() ? "'" : ", '") + col + "'";
  if (columns.empty()) throw input_error(path, ": no column named '", name, "' (the file was read without a header)");
  throw input_error(path, ": no column named '", name, "'; columns found: ", found);
}

const std::string& Table::cell(size_t row, int col) const {
  V2C_ASSERT(row < rows.size() && col >= 0 && static_cast<size_t>(col) < rows[row].size(), path, ": cell (", row, ", ",
             col, ") out of range");
  return rows[row][static_cast<size_t>(col)];
}

std::string Table::where(size_t row, int col) const {
  std::string loc = path;
  if (row < line_of_row.size()) loc += cat(" line ", line_of_row[row]);
  if (col >= 0 && static_cast<size_t>(col) < columns.size())
    loc += cat(", column '", columns[static_cast<size_t>(col)], "'");
  else
    loc += cat(", column ", col + 1);
  return loc;
}

double Table::number(size_t row, int col, bool allow_na) const {
  const std::string& text = cell(row, col);
  if (allow_na && text == "n/a") return std::nan("");
  double v = 0;
  if (!parse_double(text, v)) {
    if (text.empty()) throw input_error(where(row, col), ": expected a number, found an empty field");
    throw input_error(where(row, col), ": expected a ", (allow_na ? "number or 'n/a'" : "finite number"), ", found '",
                      text, "'");
  }
  return v;
}

Table read_table(const std::string& path, char delimiter, bool has_header) {
  if (delimiter == 0) {
    std::string ext = std::filesystem::path(path).extension().string();
    for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    delimiter = ext == ".csv" ? ',' : '\t';
  }
  V2C_ASSERT(delimiter == '\t' || delimiter == ',', "unsupported delimiter code ", int(delimiter));
  const std::vector<TextLine> lines = split_lines(path, read_file_text(path));

  Table table;
  table.path = path;
  size_t expected = 0;
  int header_line = 0;
  for (const TextLine& line : lines) {
    if (is_blank(line.text)) continue;
    std::vector<std::string> fields = split_fields(path, line.number, line.text, delimiter);
    if (has_header && header_line == 0) {
      header_line = line.number;
      std::set<std::string> seen;
      for (size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].empty())
          throw input_error(path, " line ", line.number, ": header column ", i + 1, " has no name");
        if (!seen.insert(fields[i]).second)
          throw input_error(path, " line ", line.number, ": header names column '", fields[i], "' twice");
      }
      table.columns = std::move(fields);
      expected = table.columns.size();
      continue;
    }
    if (expected == 0) expected = fields.size();
    if (fields.size() != expected) {
      const char* name = delimiter == ',' ? "comma" : "tab";
      throw input_error(
          path, " line ", line.number, ": found ", fields.size(), " ", name, "-separated fields, expected ", expected,
          has_header ? cat(" (as in the header on line ", header_line, ")") : std::string(" (as on the first line)"));
    }
    table.rows.push_back(std::move(fields));
    table.line_of_row.push_back(line.number);
  }
  if (has_header && header_line == 0) throw input_error(path, ": empty file, expected a header line");
  return table;
}

std::vector<TextLine> read_lines(const std::string& path, bool skip_blank) {
  std::vector<TextLine> lines = split_lines(path, read_file_text(path));
  std::vector<TextLine> out;
  out.reserve(lines.size());
  for (TextLine& line : lines) {
    line.text = trim(line.text);
    if (skip_blank && line.text.empty()) continue;
    out.push_back(std::move(line));
  }
  while (!out.empty() && out.back().text.empty()) out.pop_back();
  return out;
}

}  // namespace v2c
