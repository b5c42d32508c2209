#include "genforge/registry.h"

#include "genforge/core/error.h"
#include "genforge/models/autoencoder.h"
#include "genforge/models/bgmm.h"
#include "genforge/models/gan.h"
#include "genforge/models/gmm.h"
#include "genforge/models/gpt.h"
#include "genforge/models/hmm.h"
#include "genforge/models/lda.h"
#include "genforge/models/vae.h"

namespace gf {

const std::vector<ModelInfo>& registered_models() {
  static const std::vector<ModelInfo> models = {
      make_model_info<GaussianMixture>("gmm", "Gaussian mixture model fitted by EM (full/diag/tied/spherical)"),
      make_model_info<BayesianGaussianMixture>("bgmm", "variational Bayesian Gaussian mixture (Dirichlet process or "
                                                       "Dirichlet weight prior)"),
      make_model_info<VariationalAutoencoder>("vae", "variational autoencoder (MLP or conv; Bernoulli or Gaussian "
                                                     "decoder; class-conditional; importance-weighted score)"),
      make_model_info<Autoencoder>("autoencoder", "autoencoder (MLP or conv); score = minus reconstruction error"),
      make_model_info<Gan>("gan", "GAN: DCGAN 28/32 or MLP; non-saturating or WGAN-GP loss; class-conditional"),
      make_model_info<HiddenMarkovModel>("hmm", "hidden Markov model (categorical, Gaussian or GMM emissions; "
                                                "Baum-Welch, supervised and semi-supervised; Viterbi)"),
      make_model_info<LatentDirichletAllocation>("lda", "latent Dirichlet allocation topic model (variational "
                                                        "Bayes; learned asymmetric alpha; held-out perplexity)"),
      make_model_info<Gpt>("gpt", "GPT-style decoder-only Transformer language model (KV-cache sampling)"),
  };
  return models;
}

const ModelInfo& model_info(const std::string& name) {
  for (const auto& m : registered_models()) {
    if (m.name == name) return m;
  }
  std::string names;
  for (const auto& m : registered_models()) names += (names.empty() ? "" : ", ") + m.name;
  throw InvalidArgument(msg("unknown model '", name, "'"), "registered models: " + names + " (`genforge models`)");
}

std::unique_ptr<Model> create_model(const std::string& name, const nlohmann::json& options,
                                    const std::vector<std::pair<std::string, std::string>>& overrides) {
  return model_info(name).create(options, overrides);
}

void save_model(const Model& model, const std::string& path) {
  GF_CHECK_AS(NotFitted, model.fitted(), "fit the model before saving it", "cannot save an unfitted ", model.kind(),
              " model");
  ModelFileContents c;
  c.kind = model.kind();
  c.options = model.options_json();
  c.schema = model.schema();
  c.fit_report = model.fit_report().to_json();
  c.tensors = model.state();
  write_model_file(path, c);
}

std::unique_ptr<Model> load_model(const std::string& path, const std::string& expected_kind) {
  return model_from_contents(read_model_file(path), path, expected_kind);
}

std::unique_ptr<Model> model_from_contents(const ModelFileContents& c, const std::string& path,
                                           const std::string& expected_kind) {
  bool known = false;
  for (const auto& m : registered_models()) known = known || m.name == c.kind;
  GF_CHECK_AS(ModelFileError, known, "the file was written by a newer genforge or is damaged", "'", path,
              "' holds an unknown model kind '", c.kind, "'");
  GF_CHECK_AS(ModelFileError, expected_kind.empty() || expected_kind == c.kind,
              "pass a " + expected_kind + " model file", "'", path, "' is a '", c.kind, "' model, expected '",
              expected_kind, "'");
  std::unique_ptr<Model> model;
  try {
    model = create_model(c.kind, c.options);
    model->load_state(c.tensors);
  } catch (const ModelFileError&) {
    throw;
  } catch (const Error& e) {
    throw ModelFileError(msg("'", path, "': stored model is inconsistent: ", e.what()),
                         "the file is damaged; re-create it with `genforge train`");
  }
  model->set_schema(c.schema);
  model->set_fit_report(FitReport::from_json(c.fit_report));
  return model;
}

}  // namespace gf
