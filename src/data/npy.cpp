#include "genforge/data/npy.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>

#include "genforge/core/atomic_file.h"
#include "genforge/io/provenance.h"
#include "genforge/core/error.h"
#include "genforge/data/matrix.h"
#include "genforge/data/readers.h"

namespace gf {
namespace {

const char kMagic[] = "\x93NUMPY";

// Value of `key` in the header's Python dict literal, e.g. 'descr': '<f4'.
std::string dict_value(const std::string& header, const std::string& key, const std::string& path) {
  auto k = header.find("'" + key + "'");
  GF_CHECK_AS(DataError, k != std::string::npos, "write the file with numpy.save", "'", path,
              "' is not a valid .npy file: header has no '", key, "'");
  const auto colon = header.find(':', k);
  const size_t b = colon == std::string::npos ? colon : header.find_first_not_of(' ', colon + 1);
  size_t e = std::string::npos;
  if (b != std::string::npos) {
    if (header[b] == '\'') {
      e = header.find('\'', b + 1);
      if (e != std::string::npos) return header.substr(b + 1, e - b - 1);
    } else if (header[b] == '(') {
      e = header.find(')', b);
      if (e != std::string::npos) return header.substr(b, e - b + 1);
    } else {
      e = header.find_first_of(",}", b);
      if (e != std::string::npos) return header.substr(b, e - b);
    }
  }
  throw DataError(msg("'", path, "' is not a valid .npy file: header value of '", key, "' is malformed"),
                  "write the file with numpy.save");
}

}  // namespace

torch::Tensor read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GF_CHECK_AS(DataError, in.good(), "check the path", "cannot open '", path, "': no such file or not readable");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_npy(bytes, path);
}

torch::Tensor parse_npy(const std::string& bytes, const std::string& path) {
  const std::string hint = "write the file with numpy.save (float32/float64/int32/int64, C order)";
  GF_CHECK_AS(DataError, bytes.size() >= 10 && bytes.compare(0, 6, kMagic, 6) == 0, hint, "'", path,
              "' is not a .npy file (bad magic)");
  int major = static_cast<unsigned char>(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    offset = 10;
  } else {
    GF_CHECK_AS(DataError, (major == 2 || major == 3) && bytes.size() >= 12, hint, "'", path,
                "' has unsupported .npy version ", major);
    uint32_t len = 0;
    std::memcpy(&len, bytes.data() + 8, 4);
    header_len = len;
    offset = 12;
  }
  GF_CHECK_AS(DataError, offset + header_len <= bytes.size(), hint, "'", path, "' is truncated (header)");
  std::string header = bytes.substr(offset, header_len);
  std::string descr = dict_value(header, "descr", path);
  std::string fortran = dict_value(header, "fortran_order", path);
  std::string shape_text = dict_value(header, "shape", path);
  GF_CHECK_AS(DataError, fortran.find("False") != std::string::npos, "save a C-ordered array (np.ascontiguousarray)",
              "'", path, "' is in Fortran order, which is not supported");
  torch::ScalarType dtype;
  size_t item = 0;
  if (descr == "<f4") {
    dtype = torch::kFloat32, item = 4;
  } else if (descr == "<f8") {
    dtype = torch::kFloat64, item = 8;
  } else if (descr == "<i4") {
    dtype = torch::kInt32, item = 4;
  } else if (descr == "<i8") {
    dtype = torch::kInt64, item = 8;
  } else {
    throw DataError(msg("'", path, "' has dtype '", descr, "'; supported are <f4, <f8, <i4, <i8"), hint);
  }
  std::vector<int64_t> shape;
  GF_CHECK_AS(DataError, shape_text.size() >= 2 && shape_text.front() == '(' && shape_text.back() == ')', hint, "'",
              path, "' has a bad shape ", shape_text);
  std::stringstream ss(shape_text.substr(1, shape_text.size() - 2));
  std::string part;
  size_t data_offset = offset + header_len;
  // Each dimension a non-negative integer, and the element count checked against the bytes present before any
  // multiplication can overflow: a header claiming 2^62 rows is refused before allocating.
  uint64_t count = 1;
  while (std::getline(ss, part, ',')) {
    const auto first = part.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    const auto last = part.find_last_not_of(' ');
    const std::string digits = part.substr(first, last - first + 1);
    GF_CHECK_AS(DataError,
                !digits.empty() && digits.size() <= 19 && digits.find_first_not_of("0123456789") == std::string::npos &&
                    std::stoull(digits) <= static_cast<uint64_t>(INT64_MAX),
                hint, "'", path, "' has a bad shape ", shape_text);
    shape.push_back(static_cast<int64_t>(std::stoull(digits)));
    const auto d = static_cast<uint64_t>(shape.back());
    GF_CHECK_AS(DataError, d == 0 || count <= (bytes.size() - data_offset) / d, hint, "'", path, "' claims shape ",
                shape_text, ", more data than its ", bytes.size() - data_offset, " bytes");
    count *= d;
  }
  GF_CHECK_AS(DataError, bytes.size() - data_offset == static_cast<size_t>(count) * item, hint, "'", path,
              "' is truncated or has trailing bytes: expected ", count * item,
              " data bytes, found ", bytes.size() - data_offset);
  auto t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
  // An empty tensor has no data pointer (memcpy from or to null is undefined even for 0 bytes).
  if (count > 0) std::memcpy(t.data_ptr(), bytes.data() + data_offset, static_cast<size_t>(count) * item);
  return t;
}

void write_npy(const std::string& path, const torch::Tensor& tensor) {
  auto t = tensor.to(torch::kCPU).contiguous();
  std::string descr;
  switch (t.scalar_type()) {
    case torch::kFloat32: descr = "<f4"; break;
    case torch::kFloat64: descr = "<f8"; break;
    case torch::kInt32: descr = "<i4"; break;
    case torch::kInt64: descr = "<i8"; break;
    default: throw InvalidArgument(msg("cannot write dtype ", t.scalar_type(), " to .npy"));
  }
  std::string shape = "(";
  for (int64_t d = 0; d < t.dim(); ++d) shape += std::to_string(t.size(d)) + (t.dim() == 1 ? "," : (d + 1 < t.dim() ? ", " : ""));
  shape += ")";
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  size_t total = 10 + header.size() + 1;
  header += std::string((64 - total % 64) % 64, ' ') + "\n";
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(kMagic, 6);
    out.put(1);
    out.put(0);
    uint16_t len = static_cast<uint16_t>(header.size());
    out.put(static_cast<char>(len & 0xff));
    out.put(static_cast<char>(len >> 8));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  });
  write_provenance_sidecar(path);
}

Table read_npy_table(const std::string& path) {
  auto t = read_npy(path);
  GF_CHECK_AS(DataError, t.dim() == 1 || t.dim() == 2, "save a 1-D or 2-D array (rows x columns)", "'", path,
              "' has ", t.dim(), " dimensions; a table needs 1 or 2");
  if (t.dim() == 1) t = t.unsqueeze(1);
  bool integer = t.scalar_type() == torch::kInt32 || t.scalar_type() == torch::kInt64;
  std::vector<std::string> names;
  for (int64_t j = 0; j < t.size(1); ++j) names.push_back("x" + std::to_string(j));
  auto x = t.to(torch::kFloat64);
  GF_CHECK_AS(DataError, !x.isinf().any().item<bool>(), "replace infinities with finite values or NaN (missing)",
              "'", path, "' holds infinite values");
  Table table = table_from_matrix(x, names);
  Table out(path);
  for (auto col : table.columns()) {
    if (integer) col.type = ColumnType::integer;
    out.add_column(std::move(col));
  }
  return out;
}

}  // namespace gf
