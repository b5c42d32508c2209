#include "genforge/data/dataset.h"

#include "genforge/core/error.h"

namespace gf {

Dataset id_sequences(const std::vector<std::vector<int64_t>>& sequences, bool keep_empty) {
  std::vector<double> ids;
  std::vector<int64_t> lengths;
  for (const auto& s : sequences) {
    if (s.empty() && !keep_empty) continue;
    ids.insert(ids.end(), s.begin(), s.end());
    lengths.push_back(static_cast<int64_t>(s.size()));
  }
  Dataset ds;
  ds.x = torch::tensor(ids, torch::kFloat64).unsqueeze(1);  // [N, 1]
  ds.lengths = torch::tensor(lengths, torch::kLong);
  return ds;
}

std::vector<int64_t> sequence_offsets(const torch::Tensor& lengths, int64_t n) {
  std::vector<int64_t> offsets{0};
  if (!lengths.defined()) {
    GF_CHECK_AS(DataError, n >= 1, "give at least one observation", "the data holds no observations");
    offsets.push_back(n);
    return offsets;
  }
  GF_CHECK(lengths.dim() == 1, "sequence lengths must be a 1-D list, got ", lengths.dim(), " dimensions");
  GF_CHECK_AS(DataError, lengths.numel() >= 1, "give at least one sequence", "the data holds no sequences");
  auto l = lengths.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* p = l.data_ptr<int64_t>();
  for (int64_t s = 0; s < l.numel(); ++s) {
    GF_CHECK_AS(DataError, p[s] >= 1, "remove empty sequences from the data", "sequence ", s, " has length ", p[s],
                "; every sequence needs at least one observation");
    offsets.push_back(offsets.back() + p[s]);
  }
  GF_CHECK_AS(DataError, offsets.back() == n, "the lengths must add up to the number of rows",
              "the sequence lengths sum to ", offsets.back(), " but the data has ", n, " rows");
  return offsets;
}

}  // namespace gf
