#include "pipeline/core/text_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "pipeline/core/error.h"

namespace fs = std::filesystem;

namespace v2c {

void write_text(const std::string& path, const std::string& text) {
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (ec) throw io_error("cannot create directory '", parent.string(), "': ", ec.message());
  }
  std::ofstream out(path, std::ios::binary);
  if (!out) throw io_error("cannot open '", path, "' for writing: ", std::strerror(errno));
  errno = 0;
  out << text;
  out.close();
  // The stream keeps no reason; errno holds the system's (e.g. "No space left on device").
  if (!out) throw io_error("cannot write '", path, "': ", std::strerror(errno ? errno : EIO));
}

}  // namespace v2c
