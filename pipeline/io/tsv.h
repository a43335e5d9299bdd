// Delimited text (TSV/CSV) and plain line-list reading, with messages that name file, line
// and column. Used by the events, labels, aliases and feature-table readers.
//
// Accepted: UTF-8 byte-order mark, CRLF or LF line ends, a missing final newline, blank lines
// (skipped; line numbers still count them). Every cell is trimmed of surrounding spaces.
// CSV (',') cells may be double-quoted ("a, b" and "say ""hi""") on one line; TSV has no quoting.
// Errors: a missing or unreadable file is an io_error (exit 4); anything malformed in it
// (ragged row, duplicate header column, non-numeric value) is an input_error (exit 3).
// Numbers in cells are read by core/parse.h's strict parsers (parse_double, parse_int).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "pipeline/core/parse.h"

namespace v2c {

struct Table {
  std::string path;                            // as given to read_table
  std::vector<std::string> columns;            // header names; empty when read without header
  std::vector<std::vector<std::string>> rows;  // rows[i].size() == number of columns
  std::vector<int> line_of_row;                // 1-based line in the file of rows[i]

  size_t column_count() const;
  // Index of the column named `name`; input_error naming the file, `name` and the columns found.
  int column(const std::string& name) const;
  // Index of `name`, or -1 when absent.
  int find_column(const std::string& name) const;
  const std::string& cell(size_t row, int col) const;
  // "events.tsv line 7, column 'onset'" (or "column 3" without a header), for messages.
  std::string where(size_t row, int col) const;
  // Strict: the whole cell must be a finite number, else input_error
  //   "<path> line 7, column 'onset': expected a number, found 'abc'".
  // With allow_na, the cell "n/a" (BIDS) gives NaN.
  double number(size_t row, int col, bool allow_na = false) const;
};

// delimiter: '\t', ',' or 0 = by extension (".csv" -> ',', anything else -> '\t').
// has_header: the first non-blank line names the columns (names must be unique and non-empty).
Table read_table(const std::string& path, char delimiter = 0, bool has_header = true);

struct TextLine {
  int number;        // 1-based line number in the file
  std::string text;  // without line end; surrounding whitespace trimmed
};
// The lines of a text file (BOM and CR removed, trimmed). skip_blank drops empty lines;
// otherwise only trailing empty lines (after the last non-empty one) are dropped.
std::vector<TextLine> read_lines(const std::string& path, bool skip_blank = true);

}  // namespace v2c
