#include "genforge/model.h"
#include "genforge/model_interfaces.h"

#include <algorithm>
#include <cmath>

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

torch::Tensor Model::decode(const torch::Tensor&, const torch::Tensor&) const {
  throw NotSupported(msg(kind(), " has no latent space to decode from"),
                     "latent models: vae, autoencoder, gan (`genforge models`)");
}

torch::Tensor Model::sample_latent(int64_t n, at::Generator& gen) const {
  GF_CHECK_AS(NotSupported, latent_dim() > 0, "latent models: vae, autoencoder, gan", kind(), " has no latent space");
  return at::randn({n, latent_dim()}, gen, torch::TensorOptions().dtype(torch::kFloat32));
}

torch::Tensor Model::transform(const torch::Tensor&, const torch::Tensor&) const {
  throw NotSupported(msg(kind(), " has no encoder"), "models with an encoder: vae, autoencoder");
}

torch::Tensor Model::sample_labelled(const torch::Tensor&, at::Generator&) const {
  throw NotSupported(msg(kind(), " is not class-conditional, so it cannot sample a given class"),
                     "train a class-conditional model (e.g. --set conditional=true for vae or gan)");
}

void check_class_labels(const torch::Tensor& labels, int64_t n_classes) {
  GF_CHECK(labels.defined() && labels.dim() == 1, "class labels must be a vector [N]");
  GF_CHECK(!at::isFloatingType(labels.scalar_type()), "class labels must be integers, got ", labels.scalar_type());
  if (labels.numel() == 0) return;
  const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
  GF_CHECK(lo >= 0 && hi < n_classes, "class index ", lo < 0 ? lo : hi, " is out of range: the model has ", n_classes,
           " classes (0 to ", n_classes - 1, ")");
}

torch::Tensor row_classes(const torch::Tensor& labels, int64_t rows, int64_t n_classes) {
  GF_CHECK_AS(NotSupported, n_classes > 0, "fill in without the class", "the model is not class-conditional");
  GF_CHECK_AS(InvalidArgument, labels.defined() && labels.numel() == rows, "give one class per row",
              "got ", labels.defined() ? labels.numel() : 0, " classes for ", rows, " rows");
  auto out = labels.reshape({rows}).to(torch::kCPU);
  check_class_labels(out, n_classes);
  return out.to(torch::kLong);
}

torch::Tensor slerp(const torch::Tensor& z0, const torch::Tensor& z1, double t) {
  auto a = z0.to(torch::kFloat64), b = z1.to(torch::kFloat64);
  const double cos_omega = std::clamp((a.dot(b) / (a.norm() * b.norm())).item<double>(), -1.0, 1.0);
  const double omega = std::acos(cos_omega);
  if (std::sin(omega) < 1e-8) return ((1 - t) * a + t * b).to(z0.scalar_type());  // (anti)parallel: straight line
  const double s = std::sin(omega);
  return (std::sin((1 - t) * omega) / s * a + std::sin(t * omega) / s * b).to(z0.scalar_type());
}

torch::Tensor interpolate_latent(const Model& model, int64_t steps, int64_t rows, at::Generator& gen, int64_t label) {
  const int64_t dim = model.latent_dim();
  GF_CHECK_AS(NotSupported, dim > 0, "latent models: vae, autoencoder, gan", model.kind(),
              " has no latent space to interpolate in");
  GF_CHECK(steps >= 2 && rows >= 1, "interpolation needs at least 2 steps and 1 row, got ", steps, " steps and ", rows,
           " rows");
  const int64_t k = model.n_classes();
  const bool gaussian_prior = model.capabilities().standard_normal_prior;
  if (k > 0 && label >= 0) check_class_labels(torch::tensor({label}), k);
  std::vector<torch::Tensor> codes;
  std::vector<int64_t> labels;
  for (int64_t r = 0; r < rows; ++r) {
    auto ends = model.sample_latent(2, gen);  // [2, L]
    int64_t row_label = label;
    if (k > 0 && label < 0) row_label = at::randint(k, {1}, gen, torch::TensorOptions().dtype(torch::kLong)).item<int64_t>();
    for (int64_t i = 0; i < steps; ++i) {
      const double t = static_cast<double>(i) / static_cast<double>(steps - 1);
      codes.push_back(gaussian_prior ? slerp(ends[0], ends[1], t) : (1 - t) * ends[0] + t * ends[1]);
      labels.push_back(std::max<int64_t>(row_label, 0));
    }
  }
  auto z = torch::stack(codes);  // [rows * steps, L]
  return model.decode(z, k > 0 ? torch::tensor(labels, torch::kLong) : torch::Tensor());
}

const char* to_string(Likelihood l) {
  switch (l) {
    case Likelihood::exact: return "exact";
    case Likelihood::lower_bound: return "lower_bound";
    case Likelihood::estimated: return "estimated";
    case Likelihood::score: return "score";
    case Likelihood::none: return "none";
  }
  return "?";
}

const char* to_string(Criterion c) { return c == Criterion::bic ? "bic" : "aic"; }

Criterion criterion_from_string(const std::string& text) {
  if (text == "bic") return Criterion::bic;
  if (text == "aic") return Criterion::aic;
  throw InvalidArgument(msg("unknown criterion '", text, "'"), "use bic or aic");
}

nlohmann::json Capabilities::to_json() const {
  return {{"data_kind", to_string(data_kind)},
          {"likelihood", to_string(likelihood)},
          {"conditional_sampling", conditional_sampling},
          {"latent_space", latent_space},
          {"encoder", encoder},
          {"standard_normal_prior", standard_normal_prior},
          {"bijective_latent", bijective_latent},
          {"missing_values", missing_values},
          {"sample_weights", sample_weights},
          {"generates", generates},
          {"bits_per_dim", bits_per_dim},
          {"score_meaning", score_meaning}};
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

torch::Tensor ConditionalSampler::conditional_samples(const torch::Tensor& x, int64_t m, at::Generator& gen) const {
  GF_CHECK(m >= 1, "the number of draws must be at least 1, got ", m);
  std::vector<torch::Tensor> draws;
  for (int64_t i = 0; i < m; ++i) draws.push_back(conditional_sample(x, gen));
  return torch::stack(draws);
}

torch::Tensor ConditionalSampler::conditional_samples_given_class(const torch::Tensor&, const torch::Tensor&, int64_t,
                                                                 at::Generator&) const {
  throw NotSupported("this model does not fill in values given a class",
                     "use a class-conditional vae, flow or pixelcnn, or fill in without the class");
}

std::string GraphicalModel::graphviz() const {
  auto quoted = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += c == '"' || c == '\\' ? std::string("\\") + c : std::string(1, c);
    return q + "\"";
  };
  const auto names = node_names();
  std::string out = "digraph model {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n";
  for (const auto& n : names) out += "  " + quoted(n) + ";\n";
  for (const auto& [from, to] : edges()) {
    out += "  " + quoted(names[static_cast<size_t>(from)]) + " -> " + quoted(names[static_cast<size_t>(to)]) + ";\n";
  }
  return out + "}\n";
}

}  // namespace gf
