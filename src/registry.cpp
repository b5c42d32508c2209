#include "genforge/registry.h"

#include <algorithm>
#include <filesystem>
#include <functional>

#include <c10/util/Exception.h>

#include "core/allocation_limit.h"
#include "genforge/core/error.h"
#include "genforge/io/bytes.h"
#include "genforge/models/autoencoder.h"
#include "genforge/models/bayesnet.h"
#include "genforge/models/bgmm.h"
#include "genforge/models/classifier.h"
#include "genforge/models/copula.h"
#include "genforge/models/ctgan.h"
#include "genforge/models/dbm.h"
#include "genforge/models/dbn.h"
#include "genforge/models/flow.h"
#include "genforge/models/gan.h"
#include "genforge/models/gmm.h"
#include "genforge/models/gpt.h"
#include "genforge/models/hmm.h"
#include "genforge/models/lda.h"
#include "genforge/models/pixelcnn.h"
#include "genforge/models/pos_tagger.h"
#include "genforge/models/rbm.h"
#include "genforge/models/tvae.h"
#include "genforge/models/vae.h"

namespace gf {
namespace {

std::vector<ModelInfo>& registry() {
  // The synthesizers' tables: categories as ordinal codes, rare labels pooled (data/pipeline.h).
  const nlohmann::json kSynthesizerPipeline = {{"categorical", "ordinal"}, {"rare_labels", data::kSynthesizerRareLabels}};
  static std::vector<ModelInfo> models = {
      make_model_info<GaussianMixture>("gmm", "Gaussian mixture model fitted by EM (full/diag/tied/spherical)"),
      make_model_info<BayesianGaussianMixture>("bgmm", "variational Bayesian Gaussian mixture (Dirichlet process or "
                                                       "Dirichlet weight prior)"),
      make_model_info<VariationalAutoencoder>("vae", "variational autoencoder (MLP or conv; Bernoulli or Gaussian "
                                                     "decoder; class-conditional; importance-weighted score)"),
      make_model_info<Autoencoder>("autoencoder", "autoencoder (MLP or conv); score = minus reconstruction error"),
      make_model_info<Gan>("gan", "GAN: DCGAN 28/32 or MLP; non-saturating or WGAN-GP loss; class-conditional"),
      make_model_info<HiddenMarkovModel>("hmm", "hidden Markov model (categorical, Gaussian or GMM emissions; "
                                                "Baum-Welch, supervised and semi-supervised; Viterbi)"),
      make_model_info<PosTagger>("pos-tagger", "part-of-speech tagger: supervised HMM over words with a suffix model "
                                               "for unknown words (TnT); exact Viterbi"),
      make_model_info<LatentDirichletAllocation>("lda", "latent Dirichlet allocation topic model (variational "
                                                        "Bayes; learned asymmetric alpha; held-out perplexity)"),
      make_model_info<RestrictedBoltzmannMachine>("rbm", "restricted Boltzmann machine (Bernoulli or Gaussian visible "
                                                         "units; CD-k / PCD; log-likelihood by AIS)"),
      make_model_info<DeepBeliefNet>("dbn", "deep belief net: greedily stacked RBMs; lower bound with AIS; "
                                           "pre-training for a fine-tuned classifier"),
      make_model_info<DeepBoltzmannMachine>("dbm", "deep Boltzmann machine, 2 or 3 hidden layers: doubled-input "
                                                  "pre-training, mean-field + persistent chains; bound with AIS"),
      make_model_info<NormalizingFlow>("flow", "normalizing flow: RealNVP, Glow, MLP RealNVP, MAF, neural spline; exact "
                                               "likelihood, bits/dim with dequantisation; class-conditional"),
      make_model_info<PixelCnn>("pixelcnn", "gated PixelCNN (no blind spot): Bernoulli, 256-way softmax or discretised "
                                            "logistic mixture; exact likelihood; cached sampling; completion"),
      make_model_info<GaussianCopula>("copula", "Gaussian copula synthesizer for mixed tables: marginals chosen per "
                                                "column, exact conditioning on values and ranges, optional DP",
                                      kSynthesizerPipeline),
      make_model_info<BayesianNetwork>("bayesnet", "Bayesian network synthesizer for mixed tables: hill climbing (BIC/K2) "
                                                   "or Chow-Liu; conditioning by likelihood weighting; PrivBayes DP",
                                       kSynthesizerPipeline),
      make_model_info<Tvae>("tvae", "TVAE synthesizer for mixed tables: VAE on mode-specific normalisation (SDV's "
                                    "defaults); trains through the Trainer", kSynthesizerPipeline),
      make_model_info<Ctgan>("ctgan", "CTGAN synthesizer for mixed tables: conditional WGAN-GP with training by "
                                      "sampling and PacGAN (SDV's defaults); trains through the Trainer",
                             kSynthesizerPipeline),
      make_model_info<NeuralClassifier>("classifier", "image classifier: a network cut from a generative model "
                                                      "(finetune --new-head) or an MLP, and a softmax head"),
      make_model_info<Gpt>("gpt", "GPT-style decoder-only Transformer language model (KV-cache sampling)"),
  };
  return models;
}

bool is_pipeline_key(DataKind kind, const std::string& key) {
  const auto names = data::PipelineOptions::names_for(kind);
  return std::find(names.begin(), names.end(), key) != names.end();
}

}  // namespace

const std::vector<ModelInfo>& registered_models() { return registry(); }

std::vector<std::string> registered_models_with(const std::function<bool(const Model&)>& has) {
  std::vector<std::string> out;
  for (const auto& info : registry()) {
    if (has(*info.create())) out.push_back(info.name);
  }
  return out;
}

std::vector<std::string> semi_supervised_models() {
  std::vector<std::string> out;
  for (const auto& info : registry()) {
    if (info.has_option("semi_supervised")) out.push_back(info.name);
  }
  return out;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void register_model(ModelInfo info) {
  GF_CHECK_AS(InvalidArgument, !info.name.empty() && info.construct && info.option_specs,
              "give a name, a construct function and option_specs (make_model_info does)", "incomplete ModelInfo '",
              info.name, "'");
  for (const auto& m : registry()) {
    GF_CHECK_AS(InvalidArgument, m.name != info.name, "choose another name", "model '", info.name,
                "' is registered already");
  }
  registry().push_back(std::move(info));
}

std::vector<OptionSpec> ModelInfo::pipeline_option_specs() const {
  std::vector<OptionSpec> out;
  for (auto& s : data::PipelineOptions::option_table().specs()) {
    if (!is_pipeline_key(data_kind, s.name)) continue;
    if (pipeline_defaults.contains(s.name)) {
      const auto& v = pipeline_defaults[s.name];
      s.default_value = v.is_string() ? v.get<std::string>() : v.dump();
    }
    out.push_back(std::move(s));
  }
  return out;
}

bool ModelInfo::is_pipeline_option(const std::string& key) const { return is_pipeline_key(data_kind, key); }

bool ModelInfo::has_option(const std::string& key) const {
  if (is_pipeline_key(data_kind, key)) return true;
  for (const auto& s : option_specs()) {
    if (s.name == key) return true;
  }
  return false;
}

std::unique_ptr<Model> ModelInfo::create(const nlohmann::json& options_in, const OptionOverrides& overrides) const {
  // `{}` in a C++ call is JSON null: no options.
  const nlohmann::json options = options_in.is_null() ? nlohmann::json::object() : options_in;
  GF_CHECK(options.is_object(), name, " options must be a JSON object, got ", options.dump());
  nlohmann::json own = nlohmann::json::object(), pipeline = nlohmann::json::object();
  for (auto it = options.begin(); it != options.end(); ++it) {
    (is_pipeline_key(data_kind, it.key()) ? pipeline : own)[it.key()] = it.value();
  }
  std::vector<std::string> known;
  for (const auto& s : option_specs()) {
    if (!is_pipeline_key(data_kind, s.name)) known.push_back(s.name);  // else set through the pipeline
  }
  for (const auto& s : pipeline_option_specs()) known.push_back(s.name);
  auto check_known = [&](const std::string& key) {
    for (DataKind other : all_data_kinds()) {
      GF_CHECK_AS(InvalidArgument, !is_pipeline_key(other, key), "see `genforge train " + name + " --help`",
                  "model '", name, "' takes ", to_string(data_kind), " data, so '", key,
                  "' (an option of ", to_string(other), " data) does not apply: it does not take ", to_string(other));
    }
    if (std::find(known.begin(), known.end(), key) == known.end()) detail::unknown_option(name, key, known);
  };
  for (auto it = own.begin(); it != own.end(); ++it) check_known(it.key());
  data::PipelineOptions p;
  data::PipelineOptions::option_table().apply_json(p, pipeline_defaults);
  data::PipelineOptions::option_table().apply_json(p, pipeline);
  OptionOverrides model_sets;
  for (const auto& [key, value] : overrides) {
    if (is_pipeline_key(data_kind, key)) {
      data::PipelineOptions::option_table().set(p, key, value);
    } else {
      check_known(key);
      model_sets.emplace_back(key, value);
    }
  }
  std::unique_ptr<Model> model = construct(own, model_sets);
  model->set_pipeline_options(p);
  return model;
}

std::unique_ptr<Model> create_model(const std::string& name, const nlohmann::json& options,
                                    const OptionOverrides& overrides) {
  return model_info(name).create(options, overrides);
}

const ModelInfo& model_info(const std::string& name) {
  for (const auto& m : registered_models()) {
    if (m.name == name) return m;
  }
  std::string names;
  for (const auto& m : registered_models()) names += (names.empty() ? "" : ", ") + m.name;
  throw InvalidArgument(msg("unknown model '", name, "'"), "registered models: " + names + " (`genforge models`)");
}

namespace {
// Everything a model file holds of `model` (tensors: those whose names pass `keep`).
ModelFileContents contents_of(const Model& model, const std::function<bool(const std::string&)>& keep) {
  GF_CHECK_AS(NotFitted, model.fitted(), "fit the model before saving it", "cannot save an unfitted ", model.kind(),
              " model");
  ModelFileContents c;
  c.kind = model.kind();
  c.options = model.options_json();
  c.schema = model.schema();
  c.fit_report = model.fit_report().to_json();
  for (auto& [name, t] : model.state()) {
    if (keep(name)) c.tensors[name] = t;
  }
  const auto extra = model.state_json();
  if (!extra.empty()) c.extra = extra;
  if (model.pipeline()) c.pipeline = model.pipeline()->to_json();
  return c;
}
}  // namespace

void save_model(const Model& model, const std::string& path) {
  write_model_file(path, contents_of(model, [](const std::string&) { return true; }));
}

void save_adapters(const Model& model, const std::string& path, const std::string& base_path) {
  ModelFileContents c =
      contents_of(model, [](const std::string& name) { return name.find("lora_") != std::string::npos; });
  GF_CHECK_AS(InvalidArgument, !c.tensors.empty(), "train adapters with `genforge finetune BASE.gf --lora rank=8 ...`",
              "the ", model.kind(), " model has no adapters to save alone");
  namespace fs = std::filesystem;
  const fs::path folder = fs::absolute(fs::path(path)).parent_path();
  c.base = {{"file", fs::absolute(base_path).lexically_relative(folder).string()},
            {"sha256", sha256_file_hex(base_path)}};
  write_model_file(path, c);
}

std::unique_ptr<Model> load_model(const std::string& path, const std::string& expected_kind,
                                  const OptionOverrides& sets) {
  return model_from_contents(read_model_file(path), path, expected_kind, sets);
}

namespace {
// The networks' example shape ('meta/shape', stored by every neural family) against the shape the file's schema
// states, before a network is built from it: a damaged shape would otherwise build a network of its size first
// (seconds for a wide one) only for its tensors to refute it.
void check_shape_against_schema(const ModelFileContents& c) {
  const auto stored = c.tensors.find("meta/shape");
  if (stored == c.tensors.end() || !c.schema.is_object() || !c.schema.contains("example_shape")) return;
  const auto& t = stored->second;
  if (t.dim() != 1 || t.numel() > 3 || t.is_floating_point() || t.is_complex()) return;  // Geometry::load says why
  const auto values = t.to(torch::kLong).contiguous();
  const std::vector<int64_t> shape(values.data_ptr<int64_t>(), values.data_ptr<int64_t>() + values.numel());
  const auto& stated = c.schema["example_shape"];
  GF_CHECK(stated.is_array() && stated == nlohmann::json(shape), "tensor 'meta/shape' holds ",
           nlohmann::json(shape).dump(), " but the schema states examples of shape ", stated.dump());
}

// What building the model of `c` may allocate: its networks are filled from the file's tensors (and its tables from
// its state record), so a few times what those hold -- float32 weights widened to float64, the initial weights drawn
// before they are overwritten, masks rebuilt -- plus room for the small buffers every model has. A damaged or hostile
// size (an example shape, a width) that would build more is refused at the first allocation past it, in any family
// (the fuzzers found a flow whose damaged shape built a 45 GB network).
double allocation_limit_for(const ModelFileContents& c) {
  double stored = c.extra.is_null() ? 0.0 : static_cast<double>(c.extra.dump().size());
  for (const auto& [name, t] : c.tensors) stored += static_cast<double>(t.nbytes());
  return 8 * stored + 256e6;
}

// The model of `c`: constructed from its options (then `sets`), its state and pipeline loaded. Errors pass through.
std::unique_ptr<Model> restore(const ModelFileContents& c, const ModelInfo& info, const OptionOverrides& sets) {
  check_shape_against_schema(c);
  std::unique_ptr<Model> model;
  {
    const AllocationLimit limit(allocation_limit_for(c), "building the stored " + c.kind + " model",
                                "the file is damaged: its sizes describe a model far larger than its weights; "
                                "re-create it with `genforge train`");
    model = info.construct(c.options, sets);  // the model's own options as saved, then this use's settings
    model->set_schema(c.schema);              // before the state: some families read names from it
    model->load_state_json(c.extra.is_null() ? nlohmann::json::object() : c.extra);
    model->load_state(c.tensors);
  }
  model->set_pipeline(std::make_shared<data::InputPipeline>(
      c.pipeline.is_null() ? data::InputPipeline::from_legacy_schema(info.data_kind, c.schema)
                           : data::InputPipeline::from_json(c.pipeline)));
  model->set_fit_report(FitReport::from_json(c.fit_report));
  return model;
}
}  // namespace

std::unique_ptr<Model> model_from_contents(const ModelFileContents& c, const std::string& path,
                                           const std::string& expected_kind, const OptionOverrides& sets) {
  const ModelInfo* info = nullptr;
  std::string names;
  for (const auto& m : registered_models()) {
    if (m.name == c.kind) info = &m;
    names += (names.empty() ? "" : ", ") + m.name;
  }
  GF_CHECK_AS(ModelFileError, info != nullptr,
              "this genforge knows " + names + "; a newer genforge may know '" + c.kind + "', or the file is damaged",
              "'", path, "' holds an unknown model kind '", c.kind, "'");
  GF_CHECK_AS(ModelFileError, expected_kind.empty() || expected_kind == c.kind,
              "pass a " + expected_kind + " model file", "'", path, "' is a '", c.kind, "' model, expected '",
              expected_kind, "'");
  // Settings given for this use: bad keys and values are the caller's error, named as such.
  std::string given;
  for (const auto& [key, value] : sets) {
    GF_CHECK_AS(InvalidArgument, !info->is_pipeline_option(key), "pass input options where data is read",
                "'", key, "' is an input option, not a setting of the saved ", c.kind, " model");
    given += (given.empty() ? "" : ", ") + key + "=" + value;
  }
  if (!sets.empty()) info->construct(c.options, sets);  // unknown keys and bad values, with their own messages
  // No family stores NaN (infinities are legitimate: masks, log-probabilities of impossible events): a NaN is damage
  // that would otherwise sample and score silently.
  for (const auto& [name, t] : c.tensors) {
    GF_CHECK_AS(ModelFileError, !t.is_floating_point() || !t.isnan().any().item<bool>(),
                "the file is damaged; re-create it with `genforge train`", "'", path, "': tensor '", name,
                "' holds NaN values");
  }
  // The file's own fault, named with the file: what restoring it ran into (a family's own refusal -- "tensor 'x'
  // is missing" -- keeps its hint).
  const auto inconsistent = [&](const std::string& what,
                                const std::string& hint = "the file is damaged; re-create it with `genforge train`") {
    return ModelFileError(msg("'", path, "': stored model is inconsistent: ", what), hint);
  };
  try {
    return restore(c, *info, sets);
  } catch (const ModelFileError& e) {
    throw inconsistent(e.what(), e.hint());
  } catch (const nlohmann::json::exception& e) {
    // A metadata record of the wrong shape (a key missing, a string where a number belongs).
    throw inconsistent(e.what());
  } catch (const c10::Error& e) {
    // LibTorch refused what the file describes (shapes that overflow, a tensor that cannot be allocated): the file's
    // fault, named as such; its first line is enough.
    const std::string what = e.what_without_backtrace();
    throw inconsistent(what.substr(0, what.find('\n')));
  } catch (const Error& e) {
    if (sets.empty()) throw inconsistent(e.what());
    // The file alone loads: the settings contradict its state (another size), which is the caller's error.
    try {
      restore(c, *info, {});
    } catch (const ModelFileError& plain) {
      throw inconsistent(plain.what(), plain.hint());
    } catch (const Error& plain) {
      throw inconsistent(plain.what());
    }
    throw InvalidArgument(msg("the setting ", given, " does not fit the saved ", c.kind, " model: ", e.what()),
                          "only settings of how a model samples or scores can change after training; retrain to "
                          "change its size or structure");
  }
}

}  // namespace gf
