#include "genforge/eval/ppl.h"

#include <cmath>

#include "genforge/core/error.h"
#include "genforge/core/random.h"

namespace gf::eval {
namespace {

// Spherical interpolation of rows, [B, L] each, at per-row fractions t [B].
torch::Tensor slerp_rows(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& t) {
  auto an = a / a.norm(2, 1, true), bn = b / b.norm(2, 1, true);
  auto omega = (an * bn).sum(1).clamp(-1.0, 1.0).acos().unsqueeze(1);  // [B, 1]
  auto so = omega.sin();
  auto tt = t.unsqueeze(1);
  auto straight = (1 - tt) * a + tt * b;
  auto curved = ((1 - tt) * omega).sin() / so * a + (tt * omega).sin() / so * b;
  return torch::where(so < 1e-8, straight, curved);
}

}  // namespace

PplResult perceptual_path_length(const Model& model, const FeatureExtractor& features, const PplOptions& o) {
  GF_CHECK_AS(NotSupported, model.latent_dim() > 0, "use a model with a latent space: vae, autoencoder, gan",
              "model kind '", model.kind(), "' has no latent space, so it has no perceptual path length");
  GF_CHECK(o.n >= 2, "perceptual path length needs at least 2 paths, got ", o.n);
  GF_CHECK(o.epsilon > 0 && o.epsilon < 0.5, "epsilon must be in (0, 0.5), got ", o.epsilon);
  GF_CHECK(o.sampling == "full" || o.sampling == "end", "sampling must be full or end, got '", o.sampling, "'");
  GF_CHECK(o.batch_size >= 1, "batch size must be at least 1, got ", o.batch_size);
  auto gen = make_generator(o.seed);
  const bool gaussian = model.capabilities().standard_normal_prior;
  const int64_t k = model.n_classes();
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < o.n; s += o.batch_size) {
    const int64_t b = std::min(o.batch_size, o.n - s);
    auto z0 = model.sample_latent(b, gen).to(torch::kFloat64), z1 = model.sample_latent(b, gen).to(torch::kFloat64);
    auto t = o.sampling == "full" ? torch::rand({b}, gen, f64) * (1 - o.epsilon)
                                  : (torch::rand({b}, gen, f64) < 0.5).to(torch::kFloat64) * (1 - o.epsilon);
    auto tt = t.unsqueeze(1), te = (t + o.epsilon).unsqueeze(1);
    auto za = gaussian ? slerp_rows(z0, z1, t) : (1 - tt) * z0 + tt * z1;
    auto zb = gaussian ? slerp_rows(z0, z1, t + o.epsilon) : (1 - te) * z0 + te * z1;
    torch::Tensor labels;  // both ends of a path share one class
    if (k > 0) labels = torch::randint(k, {b}, gen, torch::TensorOptions().dtype(torch::kLong));
    auto images = model.decode(torch::cat({za, zb}).to(torch::kFloat32),
                               labels.defined() ? torch::cat({labels, labels}) : torch::Tensor());
    auto feats = features.features(images).to(torch::kFloat64);  // [2B, D]
    out.push_back((feats.slice(0, 0, b) - feats.slice(0, b, 2 * b)).pow(2).sum(1) / (o.epsilon * o.epsilon));
  }
  PplResult r;
  r.distances = torch::cat(out);
  r.trimmed = trimmed_path_length(r.distances);
  return r;
}

}  // namespace gf::eval
