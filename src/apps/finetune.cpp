#include "genforge/apps/finetune.h"

#include <filesystem>
#include <map>

#include "genforge/apps/drift.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/tokenizers.h"
#include "genforge/io/bytes.h"
#include "genforge/model_interfaces.h"
#include "genforge/train/trainer.h"
#include "genforge/workflow.h"

namespace gf::apps {
namespace fs = std::filesystem;

void FinetuneOptions::validate() const {
  GF_CHECK(unfreeze_after >= 0, "unfreeze_after must be >= 0, got ", unfreeze_after);
  GF_CHECK(profile_items >= 0, "profile_items must be >= 0 (0: none), got ", profile_items);
  GF_CHECK(unfreeze_lr_scale > 0 && unfreeze_lr_scale <= 10, "unfreeze_lr_scale must be in (0, 10], got ",
           unfreeze_lr_scale);
  GF_CHECK(unfreeze_after == 0 || !train_only.empty() || !freeze.empty(),
           "--unfreeze-after needs a first phase that freezes something (--train-only or --freeze)");
}

std::vector<ParameterInfo> parameter_list(const Model& model) {
  std::vector<ParameterInfo> out;
  for (const auto& [name, t] : model.state()) {
    if (!t.is_floating_point() || name.rfind("meta/", 0) == 0) continue;  // counts and settings, not weights
    out.push_back({name, t.sizes().vec(), t.numel()});
  }
  return out;
}

namespace {

double option_number(const nlohmann::json& options, const char* key) {
  GF_CHECK_AS(InternalError, options.contains(key) && options[key].is_number(), "", "the model has no option ", key);
  return options[key].get<double>();
}

nlohmann::json names_with_counts(const std::vector<ParameterInfo>& params, const std::vector<bool>& pick, bool want) {
  nlohmann::json names = nlohmann::json::array();
  int64_t count = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    if (pick[i] != want) continue;
    names.push_back(params[i].name);
    count += params[i].count;
  }
  return {{"names", names}, {"parameters", count}};
}

// "rank=8,alpha=16,targets=a,b" -> lora_rank, lora_alpha, lora_targets settings (a part without '=' continues the
// previous value, so a target list keeps its commas).
OptionOverrides lora_settings(const std::string& spec) {
  OptionOverrides out;
  size_t start = 0;
  while (start <= spec.size()) {
    const size_t comma = spec.find(',', start);
    const std::string part = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const size_t eq = part.find('=');
    if (eq == std::string::npos) {
      GF_CHECK(!out.empty() && !part.empty(), "--lora takes rank=R,alpha=A,targets=GLOB, got '", spec, "'");
      out.back().second += "," + part;
    } else {
      const std::string key = part.substr(0, eq);
      GF_CHECK(key == "rank" || key == "alpha" || key == "targets", "--lora keys are rank, alpha and targets, got '",
               key, "' in '", spec, "'");
      out.emplace_back("lora_" + key, part.substr(eq + 1));
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  bool rank = false;
  for (const auto& kv : out) rank = rank || kv.first == "lora_rank";
  GF_CHECK(rank, "--lora needs a rank, e.g. --lora rank=8,alpha=16");
  return out;
}

// "classes=K" -> K.
int64_t head_classes(const std::string& spec) {
  const std::string key = "classes=";
  GF_CHECK(spec.rfind(key, 0) == 0 && spec.size() > key.size(), "--new-head takes classes=K or vocab, got '", spec,
           "'");
  const std::string number = spec.substr(key.size());
  size_t used = 0;
  int64_t k = 0;
  try {
    k = std::stoll(number, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  GF_CHECK(used == number.size() && k >= 2 && k <= (1 << 20), "--new-head classes=K needs K >= 2, got '", number,
           "'");
  return k;
}

// --new-head vocab: the base's state for a network on `fresh`'s vocabulary. Token rows whose text is a token of
// the base's tokenizer too start from the base's row; the others from N(0, 0.02^2) (GPT-2's initialisation).
// Returns the state and a record of the mapping.
std::pair<TensorMap, nlohmann::json> state_for_vocabulary(const TokenModel& model, const TensorMap& base_state,
                                                          const Tokenizer& old_tokens, const Tokenizer& fresh,
                                                          uint64_t seed) {
  std::map<std::string, int64_t> old_ids;
  for (int64_t id = 0; id < old_tokens.size(); ++id) old_ids.emplace(old_tokens.decode({id}), id);
  std::vector<int64_t> source(static_cast<size_t>(fresh.size()), -1);  // the base's row of each new token
  int64_t shared = 0;
  for (int64_t id = 0; id < fresh.size(); ++id) {
    auto it = old_ids.find(fresh.decode({id}));
    if (it != old_ids.end()) source[static_cast<size_t>(id)] = it->second, ++shared;
  }
  TensorMap state = base_state;
  for (const auto& name : model.vocabulary_records()) state.erase(name);
  auto gen = make_generator(seed);
  for (const auto& name : model.token_tensors()) {
    auto it = base_state.find(name);
    GF_CHECK(it != base_state.end() && it->second.dim() >= 1 && it->second.size(0) == old_tokens.size(),
             "the base model's '", name, "' is not indexed by its ", old_tokens.size(), " tokens");
    const auto& old = it->second;  // [V, ...]
    std::vector<int64_t> shape = old.sizes().vec();
    shape[0] = fresh.size();
    auto rows = 0.02 * at::randn(shape, gen, old.options().device(torch::kCPU));
    for (int64_t id = 0; id < fresh.size(); ++id) {
      if (source[static_cast<size_t>(id)] >= 0) rows[id].copy_(old[source[static_cast<size_t>(id)]]);
    }
    state[name] = rows;
  }
  nlohmann::json record = {{"base_tokens", old_tokens.size()}, {"tokens", fresh.size()}, {"shared_tokens", shared},
                           {"tokenizer", fresh.kind()}};
  return {state, record};
}

// Fine-tuning data must be of the kind the base's pipeline reads.
void check_data_kind(const data::Source& train, const data::InputPipeline& pipeline, const std::string& kind) {
  GF_CHECK_AS(DataError, train.form == pipeline.form() || pipeline.model_kind() == train.form,
              "fine-tune on data of the kind the base model was trained on", "'", train.spec, "' is ",
              to_string(train.form), " data; the base ", kind, " model was trained on ", to_string(pipeline.form()));
}

// The score profile of the result on the validation (else training) data, kept in its fit report for drift checks.
void attach_profile(FinetuneResult& out, const FinetuneOptions& options, const data::Source& train,
                    const data::Source* validation) {
  if (options.profile_items <= 0) return;
  attach_score_profile(*out.model, validation ? *validation : train, validation ? "validation data" : "training data",
                       options.profile_items);
  out.report = out.model->fit_report();
}

// The parent model's file, for the record of what was fine-tuned.
nlohmann::json parent_record(const std::string& base_path, const Model& base) {
  return {{"path", fs::path(base_path).filename().string()}, {"sha256", sha256_file_hex(base_path)},
          {"kind", base.kind()}};
}

// Models trained by their own estimator (Updatable): the base file with the run's options, trained further on the
// new data through its own input pipeline.
FinetuneResult update_by_estimator(const std::string& base_path, const Model& base, const data::Source& train,
                                   const FinetuneOptions& options, const FitContext& ctx,
                                   const data::Source* validation) {
  const bool gradient_only = !options.freeze.empty() || !options.train_only.empty() || options.unfreeze_after > 0 ||
                             !options.lora.empty() || !options.new_head.empty() || options.reinitialise;
  GF_CHECK_AS(InvalidArgument, !gradient_only,
              "leave out --freeze, --train-only, --unfreeze-after, --lora, --new-head and --reinit",
              "those flags choose which weights gradient steps train; a ", base.kind(), " model is trained further by ",
              dynamic_cast<const Updatable&>(base).update_method());
  for (const auto& kv : options.settings) {
    GF_CHECK_AS(InvalidArgument, kv.first != "run_dir", "give --out M.gf",
                "a ", base.kind(), " model trains without a run directory (no checkpoints or loss curves): --run-dir "
                "is for gradient-trained models");
  }
  auto model = load_model(base_path, "", options.settings);
  auto& updatable = dynamic_cast<Updatable&>(*model);
  const data::InputPipeline& pipeline = pipeline_of(*model);
  check_data_kind(train, pipeline, base.kind());
  const Dataset data = pipeline.transform(train);  // the base's columns, scaling, vocabulary
  Dataset held_out;
  FitContext c = ctx;
  if (validation) {
    held_out = pipeline.transform(*validation);
    c.validation = &held_out;
  }
  FinetuneResult out;
  out.report = updatable.update(data, c);
  out.record = {{"parent", parent_record(base_path, base)}, {"method", updatable.update_method()}};
  out.report.extra["finetune"] = out.record;
  out.model = std::move(model);
  out.model->set_fit_report(out.report);
  attach_profile(out, options, train, validation);
  return out;
}

}  // namespace

std::string finetune_method(const ModelInfo& info) {
  if (info.trains_with_trainer()) return "gradient steps";
  const auto model = info.create();
  const auto* updatable = dynamic_cast<const Updatable*>(model.get());
  return updatable ? updatable->update_method() : "";
}

FinetuneResult finetune(const std::string& base_path, const data::Source& train, const FinetuneOptions& options,
                        const FitContext& ctx, const data::Source* validation) {
  options.validate();
  auto base = load_model(base_path);
  const nlohmann::json base_options = base->options_json();
  if (!model_info(base->kind()).trains_with_trainer() && dynamic_cast<const Updatable*>(base.get()) != nullptr) {
    return update_by_estimator(base_path, *base, train, options, ctx, validation);
  }
  std::vector<std::string> can_finetune;
  for (const auto& info : registered_models()) {
    if (!finetune_method(info).empty()) can_finetune.push_back(info.name);
  }
  GF_CHECK_AS(NotSupported, model_info(base->kind()).trains_with_trainer(),
              "fine-tune a gradient-trained model, or one that continues its own fit: " + join_names(can_finetune),
              "a ", base->kind(), " model is not trained by gradient steps and cannot continue its fit");
  const TensorMap base_state = base->state();
  auto pipeline_holder = std::make_shared<data::InputPipeline>(pipeline_of(*base));
  const data::InputPipeline& base_pipeline = pipeline_of(*base);
  check_data_kind(train, base_pipeline, base->kind());
  // The same architecture (or the base's trunk under a new head), the new training settings (and adapters).
  std::string kind = base->kind();
  nlohmann::json arch_options = base_options;
  TensorMap start_state = base_state;
  nlohmann::json head_record;
  if (options.new_head == "vocab") {
    // The base's network on a tokenizer learned from the new text (same kind and settings).
    const auto* tokens = dynamic_cast<const TokenModel*>(base.get());
    GF_CHECK_AS(NotSupported, tokens != nullptr && base_pipeline.tokenizer() != nullptr,
                "give a new vocabulary to a language model (gpt)", "a ", base->kind(),
                " model does not read tokens, so it has no vocabulary to replace");
    pipeline_holder = std::make_shared<data::InputPipeline>(base_pipeline.model_kind(), base_pipeline.options());
    pipeline_holder->fit(train);
    auto [state, vocab_record] = state_for_vocabulary(*tokens, base_state, *base_pipeline.tokenizer(),
                                                      *pipeline_holder->tokenizer(),
                                                      static_cast<uint64_t>(option_number(base_options, "seed")) + 1);
    start_state = std::move(state);
    arch_options["vocab_size"] = 0;  // from the new tokenizer
    head_record = vocab_record;
  } else if (!options.new_head.empty()) {
    const int64_t classes = head_classes(options.new_head);
    const auto* trunk = dynamic_cast<const FeatureTrunk*>(base.get());
    GF_CHECK_AS(NotSupported, trunk != nullptr,
                "put a head on a model with an encoder or a discriminator (vae, autoencoder, gan)", "a ",
                base->kind(), " model has no encoder or discriminator to put a classification head on");
    const TrunkExport cut = trunk->feature_trunk();
    kind = "classifier";
    arch_options = {{"trunk", cut.spec.dump()}, {"classes", classes}};
    start_state.clear();
    for (const auto& [name, t] : cut.weights) start_state["trunk." + name] = t;
    head_record = {{"classes", classes}, {"trunk", cut.part}, {"layers", cut.spec["layers"].size()}};
  }
  if (options.reinitialise) start_state.clear();
  OptionOverrides settings = options.settings;
  std::vector<std::string> train_only = options.train_only;
  if (!options.lora.empty()) {
    GF_CHECK_AS(NotSupported, model_info(kind).has_option("lora_rank"),
                "LoRA adapters: gpt, vae, autoencoder, gan (architecture=mlp)", "a ", kind,
                " model has no LoRA adapters");
    GF_CHECK(!options.reinitialise, "--lora adapts the base's weights: leave out --reinit");
    GF_CHECK(options.train_only.empty() && options.unfreeze_after == 0,
             "--lora trains the adapters alone: leave out --train-only and --unfreeze-after");
    for (const auto& kv : lora_settings(options.lora)) settings.push_back(kv);
    train_only = {"*lora_*"};  // a GPT's h0_attn_c_attn_lora_A, a VAE's codec.fc1.lora_A
  }
  const data::InputPipeline& pipeline = *pipeline_holder;
  auto model = create_model(kind, arch_options, settings);
  model->set_pipeline_options(pipeline.options());
  const nlohmann::json run_options = model->options_json();  // lora_* included
  const int64_t total_steps = static_cast<int64_t>(option_number(run_options, "max_steps"));
  GF_CHECK(options.unfreeze_after == 0 || (total_steps > 0 && options.unfreeze_after < total_steps),
           "--unfreeze-after (", options.unfreeze_after, ") must be below max_steps (", total_steps,
           "): set max_steps to the steps of both phases");
  const Dataset data = pipeline.transform(train);
  Dataset held_out;
  FitContext c = ctx;
  if (validation) {
    held_out = pipeline.transform(*validation);
    c.validation = &held_out;
  }
  nlohmann::json record;
  record["parent"] = parent_record(base_path, *base);
  if (!head_record.is_null()) record["new_head"] = head_record;
  if (options.reinitialise) record["reinitialised"] = true;
  record["phases"] = nlohmann::json::array();
  const std::string run_dir = run_options.value("run_dir", "");
  auto run_phase = [&](const std::vector<std::string>& train_only, int64_t steps, double lr_scale,
                       const TensorMap& start, const std::string& dir) {
    FitContext phase = c;
    phase.initial_state = start.empty() ? nullptr : &start;
    phase.freeze = options.freeze;
    phase.train_only = train_only;
    OptionOverrides sets = {{"max_steps", std::to_string(steps)}};
    const double lr = option_number(run_options, "lr") * lr_scale;
    sets.emplace_back("lr", msg(lr));
    if (!dir.empty()) sets.emplace_back("run_dir", dir);
    auto trained = create_model(kind, run_options, sets);
    const FitReport report = trained->fit(data, phase);
    const auto params = parameter_list(*trained);
    std::vector<std::string> names;
    for (const auto& p : params) names.push_back(p.name);
    const auto frozen = train::frozen_names(names, options.freeze, train_only);
    record["phases"].push_back({{"steps", steps},
                                {"lr", lr},
                                {"trained", names_with_counts(params, frozen, false)},
                                {"frozen", names_with_counts(params, frozen, true)}});
    return std::make_pair(std::move(trained), report);
  };
  std::pair<std::unique_ptr<Model>, FitReport> result;
  if (options.unfreeze_after > 0) {
    auto first = run_phase(train_only, options.unfreeze_after, 1.0,
                           start_state, run_dir.empty() ? "" : run_dir + "/phase1");
    const TensorMap after_first = first.first->state();
    result = run_phase({}, total_steps - options.unfreeze_after, options.unfreeze_lr_scale, after_first, run_dir);
  } else {
    result = run_phase(train_only, total_steps, 1.0, start_state, run_dir);
  }
  FinetuneResult out;
  out.model = std::move(result.first);
  out.model->set_pipeline(pipeline_holder);
  out.report = result.second;
  out.report.extra["finetune"] = record;
  out.model->set_fit_report(out.report);
  attach_profile(out, options, train, validation);
  out.record = record;
  return out;
}

}  // namespace gf::apps
