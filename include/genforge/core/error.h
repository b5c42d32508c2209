// Errors: every failure the user can cause is a gf::Error with a message naming the bad value and a hint saying
// what to do next. Library code throws; only the CLI's main() catches and prints `error: …` / `hint: …`.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace gf {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, std::string hint = "")
      : std::runtime_error(message), hint_(std::move(hint)) {}
  const std::string& hint() const { return hint_; }
  // Process exit code the CLI uses: 2 for usage and data errors, 1 for internal ones.
  virtual int exit_code() const { return 2; }

 private:
  std::string hint_;
};

// A bad option value, an impossible combination of options, or a bad argument to a library call.
class InvalidArgument : public Error {
  using Error::Error;
};
// The data cannot be read or does not fit the model (names file, line and column where it can).
class DataError : public Error {
  using Error::Error;
};
// A model or checkpoint file is missing, truncated, corrupt, of another kind or of an unknown version.
class ModelFileError : public Error {
  using Error::Error;
};
// A model was used before fit() (or load) gave it parameters.
class NotFitted : public Error {
  using Error::Error;
};
// The model family has no such operation (e.g. a likelihood for a GAN).
class NotSupported : public Error {
  using Error::Error;
};
// Numerical failure during fitting (e.g. a singular covariance): the data or options need changing.
class NumericalError : public Error {
  using Error::Error;
};
// Training was stopped by SIGINT/SIGTERM after saving a checkpoint; exit code 130 as shells use for Ctrl-C.
class Interrupted : public Error {
  using Error::Error;

 public:
  int exit_code() const override { return 130; }
};
// Another process of a distributed job failed, stopped answering within the timeout, or runs a different job.
class DistributedError : public Error {
  using Error::Error;

 public:
  int exit_code() const override { return 1; }
};
// A bug in genforge rather than in the input.
class InternalError : public Error {
  using Error::Error;

 public:
  int exit_code() const override { return 1; }
};

namespace detail {
template <class... Parts>
std::string cat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

// Formats a message from any streamable parts: gf::msg("got ", n, " rows").
template <class... Parts>
std::string msg(const Parts&... parts) {
  return detail::cat(parts...);
}

}  // namespace gf

// GF_CHECK(cond, parts...): throws gf::InvalidArgument with the concatenated parts when cond is false.
#define GF_CHECK(cond, ...)                                        \
  do {                                                             \
    if (!(cond)) throw ::gf::InvalidArgument(::gf::msg(__VA_ARGS__)); \
  } while (0)

// GF_CHECK_AS(ErrorType, cond, hint, parts...): the same with an explicit error type and hint.
#define GF_CHECK_AS(ErrorType, cond, hint, ...)                        \
  do {                                                                 \
    if (!(cond)) throw ::gf::ErrorType(::gf::msg(__VA_ARGS__), (hint)); \
  } while (0)
