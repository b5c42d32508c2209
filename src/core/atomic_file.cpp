#include "genforge/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "genforge/core/error.h"

namespace gf {
namespace {
std::string parent_folder(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

void check_writable(const std::string& path) {
  GF_CHECK_AS(InvalidArgument, !path.empty(), "give an output file name", "output path is empty");
  std::string folder = parent_folder(path);
  struct stat st {};
  GF_CHECK_AS(InvalidArgument, stat(folder.c_str(), &st) == 0 && S_ISDIR(st.st_mode),
              "create the folder first (mkdir -p " + folder + ") or choose another output path",
              "cannot write '", path, "': folder '", folder, "' does not exist");
  GF_CHECK_AS(InvalidArgument, access(folder.c_str(), W_OK) == 0,
              "choose an output path in a folder you can write to",
              "cannot write '", path, "': folder '", folder, "' is not writable");
  if (stat(path.c_str(), &st) == 0) {
    GF_CHECK_AS(InvalidArgument, !S_ISDIR(st.st_mode), "give a file name, not a folder", "cannot write '", path,
                "': it is a folder");
  }
}

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write) {
  check_writable(path);
  std::string tmp_template = path + ".tmp.XXXXXX";
  std::vector<char> name(tmp_template.begin(), tmp_template.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  GF_CHECK_AS(InvalidArgument, fd >= 0, "check the folder's permissions and free space",
              "cannot create a temporary file beside '", path, "': ", std::strerror(errno));
  close(fd);
  std::string tmp(name.data());
  try {
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      GF_CHECK_AS(InvalidArgument, out.good(), "check the folder's permissions", "cannot open '", tmp, "'");
      errno = 0;
      write(out);
      out.flush();
      const int write_error = errno;
      GF_CHECK_AS(DataError, out.good(), "free some disk space (or write elsewhere); the previous file is untouched",
                  "writing '", path, "' failed", write_error ? std::string(": ") + std::strerror(write_error) : "");
    }
    // The data must be on the disk before the rename makes it the file: a full disk can surface only here.
    int sync_fd = open(tmp.c_str(), O_RDONLY);
    if (sync_fd >= 0) {
      const int synced = fsync(sync_fd);
      const int sync_error = errno;
      close(sync_fd);
      GF_CHECK_AS(DataError, synced == 0, "free some disk space (or write elsewhere); the previous file is untouched",
                  "writing '", path, "' failed: ", std::strerror(sync_error));
    }
    // mkstemp creates 0600; give the result the usual permissions.
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp.c_str(), 0666 & ~mask);
    GF_CHECK_AS(InvalidArgument, std::rename(tmp.c_str(), path.c_str()) == 0, "check the folder's permissions",
                "cannot rename '", tmp, "' to '", path, "': ", std::strerror(errno));
  } catch (...) {
    std::remove(tmp.c_str());
    throw;
  }
}

int remove_stale_temporaries(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const auto at = name.rfind(".tmp.");
    if (e.is_regular_file(ec) && at != std::string::npos && at > 0 && name.size() == at + 11) {
      removed += fs::remove(e.path(), ec) ? 1 : 0;
    }
  }
  return removed;
}

}  // namespace gf
