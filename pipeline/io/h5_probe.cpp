#include "pipeline/io/h5_probe.h"

#include <fcntl.h>
#include <hdf5.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "pipeline/core/error.h"

// Under AddressSanitizer (gcc or clang) the probe child keeps its address space (see limit_memory).
#if defined(__SANITIZE_ADDRESS__)
#define V2C_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define V2C_ASAN 1
#endif
#endif
#ifdef V2C_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace v2c::h5 {
namespace {

constexpr hssize_t kMaxStrings = hssize_t(1) << 26;  // per dataset or attribute

// ---- the child: walk the file, send the strings ----
//
// Stream: records of  kind ('D' dataset | 'A' attribute), u32 key length, key, u64 count,
// then count x (u32 length, bytes).

class Sender {
 public:
  explicit Sender(int fd) : fd_(fd) {}
  ~Sender() { flush(); }
  void put(const void* p, size_t n) {
    buf_.append(static_cast<const char*>(p), n);
    if (buf_.size() >= (1u << 16)) flush();
  }
  void u32(uint32_t v) { put(&v, 4); }
  void u64(uint64_t v) { put(&v, 8); }
  void text(const std::string& s) {
    u32(uint32_t(s.size()));
    put(s.data(), s.size());
  }
  void flush() {
    const char* p = buf_.data();
    size_t n = buf_.size();
    while (n > 0) {
      const ssize_t w = write(fd_, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) _exit(0);  // the parent is gone
      p += w, n -= size_t(w);
    }
    buf_.clear();
  }

 private:
  int fd_;
  std::string buf_;
};

// Reads the strings of a scalar or 1-D attribute (is_dataset false) or dataset; false when the
// object holds no strings or cannot be read.
bool read_strings(hid_t obj, bool is_dataset, std::vector<std::string>& out) {
  const hid_t type = is_dataset ? H5Dget_type(obj) : H5Aget_type(obj);
  const hid_t space = is_dataset ? H5Dget_space(obj) : H5Aget_space(obj);
  bool ok = false;
  const int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  const hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  if (type >= 0 && H5Tget_class(type) == H5T_STRING && (rank == 0 || rank == 1) && n >= 0 && n <= kMaxStrings) {
    const hsize_t count = hsize_t(n);
    const hid_t mem_space = H5Screate_simple(1, &count, nullptr);
    if (H5Tis_variable_str(type) > 0) {
      const hid_t mem = H5Tcopy(H5T_C_S1);
      H5Tset_size(mem, H5T_VARIABLE);
      H5Tset_cset(mem, H5Tget_cset(type));  // HDF5 converts no string between character sets
      std::vector<char*> ptrs(count, nullptr);
      const herr_t st = count == 0   ? 0
                        : is_dataset ? H5Dread(obj, mem, mem_space, H5S_ALL, H5P_DEFAULT, ptrs.data())
                                     : H5Aread(obj, mem, ptrs.data());
      if (st >= 0) {
        ok = true;
        for (char* p : ptrs) out.emplace_back(p ? p : "");
        if (count > 0) H5Dvlen_reclaim(mem, mem_space, H5P_DEFAULT, ptrs.data());
      }
      H5Tclose(mem);
    } else {
      const size_t size = H5Tget_size(type);
      if (size > 0 && double(size) * double(count) < double(1u << 31)) {
        const hid_t mem = H5Tcopy(type);
        std::vector<char> buf(size * count + 1, '\0');
        const herr_t st = count == 0   ? 0
                          : is_dataset ? H5Dread(obj, mem, mem_space, H5S_ALL, H5P_DEFAULT, buf.data())
                                       : H5Aread(obj, mem, buf.data());
        if (st >= 0) {
          ok = true;
          const bool space_padded = H5Tget_strpad(type) == H5T_STR_SPACEPAD;
          for (hsize_t i = 0; i < count; ++i) {
            const char* s = buf.data() + i * size;
            std::string v(s, strnlen(s, size));
            if (space_padded) v.erase(v.find_last_not_of(' ') + 1);
            out.push_back(std::move(v));
          }
        }
        H5Tclose(mem);
      }
    }
    H5Sclose(mem_space);
  }
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  return ok;
}

void send(Sender& tx, char kind, const std::string& key, const std::vector<std::string>& values) {
  tx.put(&kind, 1);
  tx.text(key);
  tx.u64(values.size());
  for (const auto& v : values) tx.text(v);
}

struct Walk {
  Sender* tx;
  std::string object;  // key of the object whose attributes are visited
};

herr_t visit_attribute(hid_t obj, const char* name, const H5A_info_t*, void* data) {
  Walk& w = *static_cast<Walk*>(data);
  const hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0) return 0;
  std::vector<std::string> values;
  if (read_strings(attr, false, values)) send(*w.tx, 'A', w.object + "@" + name, values);
  H5Aclose(attr);
  return 0;
}

// Numeric datasets: the first and the last value, and for a chunked dataset the first value of
// every chunk (up to a million chunks), through the storage's index (contiguous extent or chunk
// tree), which is where damaged layouts show: a damaged entry of a chunk tree crashes HDF5 only
// when that chunk is read.
void touch_numbers(hid_t ds) {
  const hid_t type = H5Dget_type(ds), space = H5Dget_space(ds), dcpl = H5Dget_create_plist(ds);
  const int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
  const H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && rank >= 1 && rank <= H5S_MAX_RANK &&
      H5Sget_simple_extent_npoints(space) > 0) {
    const size_t r = size_t(rank);
    std::vector<hsize_t> dims(r), chunk(r, 0), points;
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    const auto add = [&](const std::vector<hsize_t>& at) { points.insert(points.end(), at.begin(), at.end()); };
    add(std::vector<hsize_t>(r, 0));
    std::vector<hsize_t> last(r);
    for (size_t k = 0; k < r; ++k) last[k] = dims[k] - 1;
    add(last);
    if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, rank, chunk.data()) == rank) {
      std::vector<hsize_t> at(r, 0);
      bool done = false;
      for (size_t n = 0; !done && n < (size_t{1} << 20); ++n) {
        add(at);
        for (size_t k = r;;) {  // the next chunk's origin, last axis fastest
          if (k == 0) {
            done = true;
            break;
          }
          --k;
          at[k] += std::max<hsize_t>(chunk[k], 1);
          if (at[k] < dims[k]) break;
          at[k] = 0;
        }
      }
    }
    const hsize_t count = points.size() / r;
    const hid_t mem_space = H5Screate_simple(1, &count, nullptr);
    std::vector<double> values(count);
    if (H5Sselect_elements(space, H5S_SELECT_SET, count, points.data()) >= 0)
      H5Dread(ds, H5T_NATIVE_DOUBLE, mem_space, space, H5P_DEFAULT, values.data());
    H5Sclose(mem_space);
  }
  if (dcpl >= 0) H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
}

herr_t visit_object(hid_t root, const char* name, const H5O_info_t* info, void* data) {
  Walk& w = *static_cast<Walk*>(data);
  const hid_t obj = H5Oopen(root, name, H5P_DEFAULT);
  if (obj < 0) return 0;
  w.object = object_key(name);
  H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr, visit_attribute, &w);
  if (info->type == H5O_TYPE_DATASET) {
    std::vector<std::string> values;
    if (read_strings(obj, true, values))
      send(*w.tx, 'D', w.object, values);
    else
      touch_numbers(obj);
  }
  H5Oclose(obj);
  return 0;
}

// A damaged variable-length string can give HDF5 a wild length, which it allocates before
// reading (a fuzzed 24 KB samples.h5 made the child take 3 GB). The child's address space is
// capped at what it has plus twice the file and 1 GiB: a file's strings are stored in it, so
// no intact file needs more, and a wild length fails HDF5's allocation instead. Not under
// AddressSanitizer, which reserves terabytes of address space for its shadow memory.

void limit_memory(const std::string& path) {
#ifndef V2C_ASAN
  struct stat st {};
  long pages = 0;
  if (stat(path.c_str(), &st) != 0) return;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  if (pages <= 0) return;
  const double cap = double(pages) * double(sysconf(_SC_PAGESIZE)) + 2.0 * double(st.st_size) + double(1u << 30);
  rlimit lim{};
  if (getrlimit(RLIMIT_AS, &lim) != 0) return;
  if (lim.rlim_max != RLIM_INFINITY && double(lim.rlim_max) < cap) return;
  lim.rlim_cur = rlim_t(cap);
  setrlimit(RLIMIT_AS, &lim);
#else
  (void)path;
#endif
}

[[noreturn]] void child(const std::string& path, int fd) {
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGPIPE, SIG_IGN);
  // A crash must end the child: a handler inherited from the parent (a test framework's, a
  // sanitizer's) could otherwise catch it and go on running the parent's code in the child.
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP}) signal(sig, SIG_DFL);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
#ifdef V2C_ASAN
  // A sanitizer report here is the damage this child exists to meet, answered by the parent: it
  // must not run a death callback inherited from the parent (libFuzzer's records a crash).
  __sanitizer_set_death_callback(nullptr);
#endif
  limit_memory(path);
  {
    Sender tx(fd);
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file >= 0) {
      Walk w{&tx, "/"};
      H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_NATIVE, visit_object, &w, H5O_INFO_BASIC);
      H5Fclose(file);
    }
  }
  _exit(0);  // no exit handlers: they belong to the parent
}

// ---- the parent: receive ----

class Receiver {
 public:
  explicit Receiver(const std::string& data) : d_(data) {}
  bool done() const { return at_ == d_.size(); }
  bool get(void* p, size_t n) {
    if (d_.size() - at_ < n) return false;
    std::memcpy(p, d_.data() + at_, n);
    at_ += n;
    return true;
  }
  bool text(std::string& s) {
    uint32_t n = 0;
    if (!get(&n, 4) || d_.size() - at_ < n) return false;
    s.assign(d_, at_, n);
    at_ += n;
    return true;
  }

 private:
  const std::string& d_;
  size_t at_ = 0;
};

}  // namespace

std::string object_key(const std::string& name) {
  std::string key = name;
  while (key.rfind("./", 0) == 0) key.erase(0, 2);
  if (key == ".") key.clear();
  while (!key.empty() && key.back() == '/') key.pop_back();
  if (key.empty() || key[0] != '/') key = "/" + key;
  return key;
}

const std::vector<std::string>& dataset_strings(const FileStrings& strings, const std::string& file,
                                                const std::string& name) {
  const auto it = strings.datasets.find(object_key(name));
  if (it == strings.datasets.end())
    throw input_error("'", file, "' dataset '", name, "': expected a scalar or 1-D dataset of strings");
  return it->second;
}

FileStrings probe_file(const std::string& path, double timeout_s) {
  if (timeout_s < 0) {
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(path, ec);
    timeout_s = 10.0 + (ec ? 0.0 : double(bytes) / 1e8);
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw io_error("cannot check '", path, "': pipe: ", std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    throw io_error("cannot check '", path, "': fork: ", std::strerror(errno));
  }
  if (pid == 0) {
    close(fds[0]);
    child(path, fds[1]);
  }
  close(fds[1]);
  std::string data;
  const auto start = std::chrono::steady_clock::now();
  bool timed_out = false;
  char buf[1 << 16];
  while (true) {
    const double left = timeout_s - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int r = poll(&p, 1, int(std::min(left, 1.0) * 1000) + 1);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    data.append(buf, size_t(n));
  }
  close(fds[0]);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (timed_out)
    throw input_error("'", path, "' is damaged: reading its HDF5 structure did not finish in ", timeout_s, " s");
  if (WIFSIGNALED(status))
    throw input_error("'", path, "' is damaged: reading its HDF5 structure crashed the HDF5 library (",
                      strsignal(WTERMSIG(status)), ")");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)  // e.g. a sanitizer's report
    throw input_error("'", path, "' is damaged: reading its HDF5 structure failed (exit ", WEXITSTATUS(status), ")");

  FileStrings out;
  Receiver rx(data);
  while (!rx.done()) {
    char kind = 0;
    std::string key;
    uint64_t count = 0;
    if (!rx.get(&kind, 1) || !rx.text(key) || !rx.get(&count, 8) || count > uint64_t(kMaxStrings))
      throw Error(ExitCode::internal, cat("reading '", path, "': the HDF5 probe sent a malformed record"));
    std::vector<std::string> values(static_cast<size_t>(count));
    for (auto& v : values)
      if (!rx.text(v)) throw Error(ExitCode::internal, cat("reading '", path, "': the HDF5 probe's record was cut"));
    (kind == 'D' ? out.datasets : out.attributes)[key] = std::move(values);
  }
  return out;
}

}  // namespace v2c::h5
