// ROUGE internals shared with the tests: the longest-common-subsequence pieces of rouge-score, on interned token ids.
#pragma once
#include <cstdint>
#include <vector>

namespace gf::eval::detail {

// Indices into `ref` of the LCS that rouge-score's _backtrack_norec reads out (it breaks ties towards dropping
// reference tokens, and the union LCS depends on that choice).
std::vector<int64_t> lcs_indices(const std::vector<int32_t>& ref, const std::vector<int32_t>& can);
int64_t lcs_length(const std::vector<int32_t>& ref, const std::vector<int32_t>& can);
// Reference tokens in the union of the LCSs of `ref` with each candidate sentence, in reference order.
std::vector<int32_t> union_lcs(const std::vector<int32_t>& ref, const std::vector<std::vector<int32_t>>& candidates);

}  // namespace gf::eval::detail
