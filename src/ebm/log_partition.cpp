#include "genforge/models/log_partition.h"

#include "genforge/core/error.h"

namespace gf {

bool LogPartition::matches(const std::string& m, int64_t r, int64_t b) const {
  return method == m && (m == "exact" || (runs == r && betas == b));
}

std::string LogPartition::description() const {
  if (method == "exact") return msg("log Z = ", value, " exactly (enumerated 2^", enumerated_units, " states)");
  return msg("log Z = ", value, " +- ", standard_error, " (1 s.e.) by annealed importance sampling, ", runs,
             " runs x ", betas, " temperatures, ", effective_runs, " effective runs");
}

nlohmann::json LogPartition::to_json() const {
  return {{"method", method}, {"runs", runs}, {"betas", betas}, {"value", value}, {"standard_error", standard_error},
          {"effective_runs", effective_runs}, {"enumerated_units", enumerated_units}};
}

LogPartition LogPartition::from_json(const nlohmann::json& j) {
  LogPartition z;
  z.method = j.value("method", "");
  z.runs = j.value("runs", int64_t{0});
  z.betas = j.value("betas", int64_t{0});
  z.value = j.value("value", 0.0);
  z.standard_error = j.value("standard_error", 0.0);
  z.effective_runs = j.value("effective_runs", 0.0);
  z.enumerated_units = j.value("enumerated_units", int64_t{0});
  return z;
}

}  // namespace gf
