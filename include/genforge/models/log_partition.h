// The log partition function of an energy-based model (rbm, dbn's top RBM, dbm) with how it was found: exact
// enumeration, or annealed importance sampling with its settings and uncertainty. Saved with the model.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace gf {

struct LogPartition {
  std::string method;          // "" until known; "exact" | "ais"
  int64_t runs = 0, betas = 0;  // AIS settings
  double value = 0;            // log Z, nats
  double standard_error = 0;   // AIS: of value (delta method); exact: 0
  double effective_runs = 0;   // AIS: (sum w)^2 / sum w^2
  int64_t enumerated_units = 0;  // exact: 2^enumerated_units states summed

  bool known() const { return !method.empty(); }
  // Whether this was found by `method` with these AIS settings (the settings do not matter for "exact").
  bool matches(const std::string& method, int64_t runs, int64_t betas) const;
  std::string description() const;  // "log Z = 973.15 +- 0.36 (1 s.e.) by annealed importance sampling, ..."
  nlohmann::json to_json() const;
  static LogPartition from_json(const nlohmann::json& j);
};

}  // namespace gf
