// Files of a folder laid out as torchvision's ImageFolder and scikit-learn's load_files expect: one sub-folder per
// class, or none. Shared by the image and the text folder readers.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace gf::detail {

struct ClassFolderFiles {
  std::vector<std::pair<std::string, int64_t>> files;  // path, class index (-1: the folder has no class sub-folders)
  std::vector<std::string> classes;                    // sub-folder names, sorted
};

// With sub-folders, each is a class (sorted by name) and its files are taken at any depth below it; without, the
// folder's own files. Files in path order within a class. Hidden files and folders (".git", ".ipynb_checkpoints")
// are skipped, and so is every file `keep` refuses.
ClassFolderFiles list_class_folder(const std::string& dir, const std::function<bool(const std::string&)>& keep);

// True when the folder holds a file `keep` accepts, in it or at any depth below it (hidden ones skipped as above);
// stops at the first. What tells a folder of images from one of text files.
bool folder_holds(const std::string& dir, const std::function<bool(const std::string&)>& keep);

// "sport/d1.txt" for dir/sport/d1.txt: a file's path under the folder, for per-example outputs.
std::string path_under(const std::string& dir, const std::string& path);

}  // namespace gf::detail
