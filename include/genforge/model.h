// The model contract every genforge model follows (scikit-learn's, in C++):
//   options struct -> constructor stores it; fit(data, ctx) validates and learns; sample(n, gen) draws with an
//   explicit seeded generator; score_samples(x) gives per-example log-likelihood in nats (or its bound);
//   state() / load_state() carry the learned parameters through the .gf model file.
#pragma once
#include <ATen/core/Generator.h>
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "genforge/data/dataset.h"
#include "genforge/data/kinds.h"
#include "genforge/data/pipeline.h"
#include "genforge/io/model_file.h"

namespace gf {

// What score_samples returns: an exact log-likelihood, a lower bound on it, a stochastic estimate of it (an RBM's
// log-likelihood through an AIS estimate of log Z: the model says which estimator, see EstimatedLikelihood), a
// score that is not a likelihood (higher = more typical, e.g. an autoencoder's negative reconstruction error), or
// nothing (NotSupported).
enum class Likelihood { exact, lower_bound, estimated, score, none };
const char* to_string(Likelihood l);

struct Capabilities {
  DataKind data_kind = DataKind::table;  // what the model's input pipeline turns into tensors
  Likelihood likelihood = Likelihood::exact;
  bool conditional_sampling = false;  // can fill in missing columns given the others
  bool latent_space = false;          // decode (and, with an encoder, transform)
  bool encoder = false;               // transform maps examples to codes (`genforge transform`)
  bool standard_normal_prior = true;  // latent codes are drawn from N(0, I) (else from a fitted code distribution)
  bool bijective_latent = false;      // transform is invertible and decode undoes it exactly (a flow): no compression
  bool missing_values = false;        // fit and score rows with missing cells
  bool sample_weights = false;
  bool generates = true;              // sample() draws examples (false: a classifier built on a generative model)
  // Non-empty when score_samples is the log-probability (or a bound on it) of discrete data such as 8-bit pixels,
  // so that bits per dimension, -score / (D ln 2), compare across models: the convention, in words.
  std::string bits_per_dim;
  // Likelihood::score: what score_samples gives, in words ("minus the reconstruction error"), for messages.
  std::string score_meaning;
  nlohmann::json to_json() const;
};

struct FitReport {
  bool converged = false;
  int64_t n_iter = 0;
  double objective = std::nan("");      // final value of the training objective
  std::string objective_name;           // e.g. "mean log-likelihood (nats)"
  std::vector<double> history;          // objective per iteration
  double seconds = 0;
  nlohmann::json extra = nlohmann::json::object();  // family-specific facts (best init, n_init results, ...)
  nlohmann::json to_json() const;
  static FitReport from_json(const nlohmann::json& j);
};

struct FitContext {
  torch::Device device = torch::kCPU;
  bool progress = true;                 // show a progress bar
  const Dataset* validation = nullptr;  // optional held-out data
  // Fine-tuning (gradient-trained models): start from these tensors (a saved model's state, matched by name and
  // shape) instead of a fresh initialisation; hold the parameters whose names match a `freeze` glob, or -- when
  // `train_only` is given -- every parameter matching none of its globs, fixed (bit for bit).
  const TensorMap* initial_state = nullptr;
  std::vector<std::string> freeze, train_only;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual std::string kind() const = 0;
  virtual Capabilities capabilities() const = 0;
  virtual nlohmann::json options_json() const = 0;

  virtual FitReport fit(const Dataset& train, const FitContext& ctx = {}) = 0;
  virtual bool fitted() const = 0;
  virtual torch::Tensor sample(int64_t n, at::Generator& gen) const = 0;  // [n, D]
  virtual torch::Tensor score_samples(const torch::Tensor& x) const = 0;  // [N] nats
  double score(const torch::Tensor& x) const { return score_samples(x).mean().item<double>(); }

  // Initial values or priors given as tensors, by name (a GMM's means, weights, precisions); the CLI passes them
  // with `--init name=FILE.npy`. set_init checks the name; shapes are checked by fit.
  virtual std::vector<std::string> init_names() const { return {}; }
  virtual void set_init(const std::string& name, const torch::Tensor& value);

  // Latent-variable models (latent_dim() > 0, Gaussian prior N(0, I)): decode codes [N, latent] to examples, and
  // (where there is an encoder) encode examples to codes. `labels` [N] int64 are the classes of a
  // class-conditional model (n_classes() > 0) and are ignored otherwise. Defaults: NotSupported.
  virtual int64_t latent_dim() const { return 0; }
  virtual int64_t n_classes() const { return 0; }
  virtual torch::Tensor decode(const torch::Tensor& z, const torch::Tensor& labels = {}) const;
  // Codes from the model's latent distribution. [n, latent]. Default: N(0, I).
  virtual torch::Tensor sample_latent(int64_t n, at::Generator& gen) const;
  virtual torch::Tensor transform(const torch::Tensor& x, const torch::Tensor& labels = {}) const;
  // One sample per label [N] of a class-conditional model. Default: NotSupported.
  virtual torch::Tensor sample_labelled(const torch::Tensor& labels, at::Generator& gen) const;

  virtual TensorMap state() const = 0;
  virtual void load_state(const TensorMap& tensors) = 0;

  // Learned state that is not tensors (strings such as a lexicon), saved beside the tensors. Default: none.
  virtual nlohmann::json state_json() const { return nlohmann::json::object(); }
  virtual void load_state_json(const nlohmann::json& state) {}

  // The input pipeline (data/pipeline.h): its options are set with the model's (the registry routes each key),
  // it is fitted by gf::fit (workflow.h) and saved in the .gf file. A model fitted on tensors directly has none.
  const data::PipelineOptions& pipeline_options() const { return pipeline_options_; }
  void set_pipeline_options(data::PipelineOptions options) { pipeline_options_ = std::move(options); }
  const data::InputPipeline* pipeline() const { return pipeline_.get(); }
  void set_pipeline(std::shared_ptr<const data::InputPipeline> pipeline) { pipeline_ = std::move(pipeline); }

  // What the model was fitted on (column names, dimension); saved with the model.
  const nlohmann::json& schema() const { return schema_; }
  void set_schema(nlohmann::json schema) { schema_ = std::move(schema); }
  const FitReport& fit_report() const { return report_; }
  void set_fit_report(FitReport report) { report_ = std::move(report); }

 protected:
  nlohmann::json schema_ = nlohmann::json::object();
  FitReport report_;
  data::PipelineOptions pipeline_options_;
  std::shared_ptr<const data::InputPipeline> pipeline_;
};

// Spherical interpolation between two codes (the path that stays at the typical radius of a Gaussian prior;
// White 2016). t in [0, 1]. [L] each.
torch::Tensor slerp(const torch::Tensor& z0, const torch::Tensor& z1, double t);

// `rows` strips of `steps` examples each: two codes drawn from the latent distribution, slerped (N(0, I) priors) or
// joined by a straight line (fitted code distributions), decoded. For a class-conditional
// model every example has class `label` (-1: a random class per row). [rows * steps, ...]
torch::Tensor interpolate_latent(const Model& model, int64_t steps, int64_t rows, at::Generator& gen,
                                 int64_t label = -1);

// Checks class indices [N] of a model with n_classes classes; an index outside [0, n_classes) is InvalidArgument.
void check_class_labels(const torch::Tensor& labels, int64_t n_classes);
// One class per row for a model with `n_classes` (> 0: else NotSupported): labels of any shape holding `rows`
// integers in range, as a CPU int64 vector [rows] (InvalidArgument otherwise).
torch::Tensor row_classes(const torch::Tensor& labels, int64_t rows, int64_t n_classes);

}  // namespace gf
