#include "pipeline/io/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "pipeline/core/error.h"

namespace v2c {

ReadFile::ReadFile(const std::string& path, const std::string& role) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    const int err = errno;
    const std::string why = err == ENOENT ? "no such file" : std::strerror(err);
    throw io_error("cannot open '", path, "': ", why, role);
  }
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    throw io_error("cannot open '", path, "': is a directory", role);
  }
}

ReadFile::~ReadFile() {
  if (fd_ >= 0) ::close(fd_);
}

int64_t ReadFile::size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return -1;
  return static_cast<int64_t>(st.st_size);
}

int64_t ReadFile::read_at(uint8_t* dst, int64_t n, int64_t offset) const {
  int64_t done = 0;
  while (done < n) {
    const size_t chunk = static_cast<size_t>(std::min<int64_t>(n - done, int64_t{1} << 30));
    const ssize_t r = ::pread(fd_, dst + done, chunk, offset + done);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw io_error("cannot read '", path_, "': ", std::strerror(errno));
    }
    if (r == 0) break;
    done += r;
  }
  return done;
}

bool ReadFile::is_gzip() const {
  uint8_t magic[2] = {0, 0};
  return ::pread(fd_, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
}

}  // namespace v2c
