#include "genforge/model.h"

#include "genforge/core/error.h"

namespace gf {

void Model::set_init(const std::string& name, const torch::Tensor& value) {
  const auto names = init_names();
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw NotSupported(msg(kind(), " takes no initial value '", name, "'"),
                     names.empty() ? "this model takes no --init values"
                                   : "it takes: " + list + " (--init NAME=FILE.npy)");
}

const char* to_string(Likelihood l) {
  switch (l) {
    case Likelihood::exact: return "exact";
    case Likelihood::lower_bound: return "lower_bound";
    case Likelihood::none: return "none";
  }
  return "?";
}

nlohmann::json Capabilities::to_json() const {
  return {{"data_kind", data_kind},
          {"likelihood", to_string(likelihood)},
          {"conditional_sampling", conditional_sampling},
          {"latent_space", latent_space},
          {"missing_values", missing_values},
          {"sample_weights", sample_weights}};
}

nlohmann::json FitReport::to_json() const {
  nlohmann::json j = {{"converged", converged}, {"n_iter", n_iter},    {"objective_name", objective_name},
                      {"history", history},     {"seconds", seconds}, {"extra", extra}};
  j["objective"] = std::isfinite(objective) ? nlohmann::json(objective) : nlohmann::json(nullptr);
  return j;
}

FitReport FitReport::from_json(const nlohmann::json& j) {
  FitReport r;
  if (!j.is_object()) return r;
  r.converged = j.value("converged", false);
  r.n_iter = j.value("n_iter", int64_t{0});
  r.objective = j.contains("objective") && j["objective"].is_number() ? j["objective"].get<double>() : std::nan("");
  r.objective_name = j.value("objective_name", std::string());
  if (j.contains("history") && j["history"].is_array()) {
    for (const auto& v : j["history"]) r.history.push_back(v.is_number() ? v.get<double>() : std::nan(""));
  }
  r.seconds = j.value("seconds", 0.0);
  if (j.contains("extra")) r.extra = j["extra"];
  return r;
}

}  // namespace gf
