// Atomic file output: content is written to a temporary file in the destination folder, flushed, and renamed
// over the destination only when complete, so an interrupted or failed write never leaves a partial file.
#pragma once
#include <functional>
#include <ostream>
#include <string>

namespace gf {

// Checks that `path` can be created (its folder exists and is writable); throws gf::InvalidArgument naming the
// folder otherwise. Call it before long work so a bad --out fails fast.
void check_writable(const std::string& path);

// Calls write(stream) on a temporary file beside `path`, then renames it to `path`. If write throws, the
// temporary file is removed and the exception propagates; `path` is untouched.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);

// Removes the temporary files a killed process left in `dir` mid-write (NAME.tmp.XXXXXX; not recursive): for a
// folder one process owns, such as a training run's, before it writes there again. Returns how many.
int remove_stale_temporaries(const std::string& dir);

}  // namespace gf
