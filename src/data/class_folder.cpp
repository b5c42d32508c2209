#include "data/class_folder.h"

#include <algorithm>
#include <filesystem>

namespace gf::detail {
namespace fs = std::filesystem;

namespace {

bool hidden(const fs::path& p) { return !p.filename().empty() && p.filename().string()[0] == '.'; }

}  // namespace

ClassFolderFiles list_class_folder(const std::string& dir, const std::function<bool(const std::string&)>& keep) {
  ClassFolderFiles out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_directory() && !hidden(e.path())) out.classes.push_back(e.path().filename().string());
  }
  std::sort(out.classes.begin(), out.classes.end());
  auto collect = [&](const fs::path& folder, int64_t label) {
    std::vector<std::string> found;
    auto take = [&](const fs::directory_entry& e) {
      if (e.is_regular_file() && !hidden(e.path()) && keep(e.path().string())) found.push_back(e.path().string());
    };
    if (label >= 0) {
      const auto options = fs::directory_options::follow_directory_symlink;
      for (auto it = fs::recursive_directory_iterator(folder, options); it != fs::recursive_directory_iterator();
           ++it) {
        if (it->is_directory() && hidden(it->path())) {
          it.disable_recursion_pending();
        } else {
          take(*it);
        }
      }
    } else {
      for (const auto& e : fs::directory_iterator(folder)) take(e);
    }
    std::sort(found.begin(), found.end());
    for (auto& f : found) out.files.emplace_back(std::move(f), label);
  };
  if (out.classes.empty()) {
    collect(dir, -1);
  } else {
    for (size_t c = 0; c < out.classes.size(); ++c) collect(fs::path(dir) / out.classes[c], static_cast<int64_t>(c));
  }
  return out;
}

bool folder_holds(const std::string& dir, const std::function<bool(const std::string&)>& keep) {
  std::error_code ec;
  const auto options = fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied;
  for (auto it = fs::recursive_directory_iterator(dir, options, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (hidden(it->path())) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
    } else if (it->is_regular_file(ec) && keep(it->path().string())) {
      return true;
    }
  }
  return false;
}

std::string path_under(const std::string& dir, const std::string& path) {
  return fs::path(path).lexically_relative(dir).generic_string();
}

}  // namespace gf::detail
