// genforge eval text | image | table: the metrics of gf::eval on files, a readable table on stdout or JSON with --json.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/data/images.h"
#include "genforge/eval/classifier.h"
#include "genforge/eval/features.h"
#include "genforge/eval/image.h"
#include "genforge/eval/ppl.h"
#include "genforge/eval/table.h"
#include "genforge/eval/table_report.h"
#include "genforge/eval/text.h"
#include "genforge/registry.h"

namespace gf::cli {

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GF_CHECK_AS(DataError, in.good(), "check the path", "cannot open '", path, "'");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

std::set<std::string> checked_metrics(const std::string& list, const std::set<std::string>& known) {
  std::set<std::string> out;
  for (const auto& m : split_list(list)) {
    if (!known.count(m)) {
      std::string names;
      for (const auto& k : known) names += (names.empty() ? "" : ", ") + k;
      throw InvalidArgument(msg("unknown metric '", m, "'"), "choose from " + names);
    }
    out.insert(m);
  }
  GF_CHECK_AS(InvalidArgument, !out.empty(), "e.g. --metrics bleu,chrf", "no metrics asked for");
  return out;
}

void print_table(const nlohmann::json& results) {
  for (const auto& [name, value] : results.items()) {
    if (value.is_number_integer()) {
      std::printf("%-22s %14lld\n", name.c_str(), static_cast<long long>(value.get<int64_t>()));
    } else if (value.is_number()) {
      std::printf("%-22s %14.6f\n", name.c_str(), value.get<double>());
    } else if (value.is_string()) {
      std::printf("%-22s %s\n", name.c_str(), value.get<std::string>().c_str());
    }
  }
}

int run_eval_text(int argc, char** argv) {
  CLI::App app("text metrics of hypotheses against one or more reference files (one segment per line)",
               "eval text");
  std::string hyp_path, metrics = "bleu,chrf", tokenize = "13a", smooth = "exp", convention = "sacrebleu";
  std::string rouge_types = "rouge1,rouge2,rougeL,rougeLsum";
  std::vector<std::string> ref_paths;
  bool json = false, lowercase = false, rouge_stemmer = false;
  CommonFlags common;
  app.add_option("--hyp", hyp_path, "hypotheses, one segment per line")->required();
  app.add_option("--ref", ref_paths, "reference file (repeat for several references)")->required();
  app.add_option("--metrics", metrics, "comma-separated: bleu, chrf, chrf++, rouge, meteor");
  app.add_option("--tokenize", tokenize, "BLEU tokenizer: 13a, intl, char, none");
  app.add_option("--smooth", smooth, "BLEU smoothing: exp, floor, add-k, none");
  app.add_option("--bleu-convention", convention,
                 "sacrebleu (a short segment adds 0 to the n-gram denominator) or nltk (corpus_bleu: adds 1)");
  app.add_flag("--lowercase", lowercase, "case-insensitive BLEU and chrF");
  app.add_option("--rouge-types", rouge_types, "ROUGE types: rouge1..rouge9, rougeL, rougeLsum");
  app.add_flag("--rouge-stemmer", rouge_stemmer, "Porter-stem ROUGE tokens (rouge-score's use_stemmer)");
  app.add_flag("--json", json, "print the results as JSON");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  const auto wanted = checked_metrics(metrics, {"bleu", "chrf", "chrf++", "rouge", "meteor"});
  eval::BleuOptions bo;
  bo.tokenize = eval::parse_bleu_tokenizer(tokenize);
  bo.smooth = eval::parse_bleu_smoothing(smooth);
  bo.lowercase = lowercase;
  bo.convention = eval::parse_bleu_convention(convention);
  const auto hyps = read_lines(hyp_path);
  GF_CHECK_AS(DataError, !hyps.empty(), "give a file with one hypothesis per line", "'", hyp_path,
              "' has no lines");
  std::vector<std::vector<std::optional<std::string>>> refs;
  for (const auto& path : ref_paths) {
    const auto lines = read_lines(path);
    GF_CHECK_AS(DataError, lines.size() == hyps.size(), "hypothesis and reference files need one line per segment",
                "'", path, "' has ", lines.size(), " lines but '", hyp_path, "' has ", hyps.size());
    refs.emplace_back(lines.begin(), lines.end());
  }
  nlohmann::json out = {{"segments", hyps.size()}, {"references", ref_paths.size()}};
  if (wanted.count("bleu")) {
    auto b = eval::corpus_bleu(hyps, refs, bo);
    out["bleu"] = b.score;
    out["bleu_bp"] = b.bp;
    out["bleu_sys_len"] = b.sys_len;
    out["bleu_ref_len"] = b.ref_len;
    out["bleu_precisions"] = b.precisions;
    out["bleu_signature"] = b.signature;
  }
  for (const std::string name : {"chrf", "chrf++"}) {
    if (!wanted.count(name)) continue;
    eval::ChrfOptions co;
    co.word_order = name == "chrf++" ? 2 : 0;
    co.lowercase = lowercase;
    auto c = eval::corpus_chrf(hyps, refs, co);
    out[name] = c.score;
    out[name + "_signature"] = c.signature;
  }
  if (wanted.count("rouge") || wanted.count("meteor")) {
    // Every reference of each segment, for the metrics that take the best reference per segment.
    std::vector<std::vector<std::string>> per_segment(hyps.size());
    for (const auto& stream : refs)
      for (size_t i = 0; i < hyps.size(); ++i) per_segment[i].push_back(*stream[i]);
    if (wanted.count("rouge")) {
      eval::RougeOptions ro;
      ro.types = split_list(rouge_types);
      ro.use_stemmer = rouge_stemmer;
      for (const auto& [type, s] : eval::corpus_rouge(hyps, per_segment, ro)) {
        out[type] = s.fmeasure;
        out[type + "_precision"] = s.precision;
        out[type + "_recall"] = s.recall;
      }
    }
    if (wanted.count("meteor")) {
      // nltk's METEOR takes pre-tokenized text: words split on whitespace, as str.split().
      std::vector<eval::Tokens> hyp_words;
      std::vector<std::vector<eval::Tokens>> ref_words(hyps.size());
      for (size_t i = 0; i < hyps.size(); ++i) {
        hyp_words.push_back(eval::split_words(hyps[i]));
        for (const auto& r : per_segment[i]) ref_words[i].push_back(eval::split_words(r));
      }
      out["meteor"] = eval::corpus_meteor(ref_words, hyp_words);
    }
  }
  if (json) {
    std::cout << out.dump() << "\n";
  } else {
    print_table(out);
  }
  return 0;
}

// Images [N, C, H, W] in [0, 1]: a data spec as `train` reads it, or `model.gf` sampled n times.
// A PNG grid split into tiles of tile x tile pixels (tile > 0), else any image spec.
torch::Tensor load_images_for_eval(const std::string& spec, int64_t n, uint64_t seed, const TableFlags& flags,
                                   int64_t tile, int64_t padding) {
  const bool png = spec.size() > 4 && spec.compare(spec.size() - 4, 4, ".png") == 0;
  if (tile > 0 && png) {
    return data::scale_images(read_png_grid(spec, tile, tile, padding, n > 0 ? n : -1).images);
  }
  if (spec.size() > 3 && spec.compare(spec.size() - 3, 3, ".gf") == 0) {
    GF_CHECK_AS(InvalidArgument, n >= 2, "sample a model with -n N (N >= 2)", "'", spec,
                "' is a model: say how many samples to draw with -n");
    auto model = load_model(spec);
    auto gen = make_generator(seed);
    auto x = model->sample(n, gen);
    GF_CHECK_AS(InvalidArgument, x.dim() == 4, "evaluate tabular models with `genforge eval table`", "model '",
                spec, "' does not generate images");
    return x.clamp(0, 1);
  }
  const auto source = data::load_source(spec, DataKind::images, source_options(flags, n));
  GF_CHECK_AS(DataError, source.form == DataKind::images, "give images: fashion-mnist[:test], a folder of image files or an IDX file",
              "'", spec, "' holds rows, not images");
  return data::scale_images(source.images.images);
}

int run_eval_image(int argc, char** argv) {
  CLI::App app("image metrics between real and generated images, on features of a network", "eval image");
  std::string real, fake, features = "pixels", metrics = "fid,kid,prdc", statistics = "auto";
  int64_t n = 0, kid_subsets = 100, kid_subset_size = 1000, k = 5, splits = 10, batch = 256;
  double mmd_bandwidth = 0;
  int64_t tile = 0, padding = 2;
  uint64_t seed = 0;
  bool json = false;
  CommonFlags common;
  TableFlags flags;
  app.add_option("--real", real, "real images: fashion-mnist[:test], image folder, IDX file")->required();
  app.add_option("--fake", fake, "generated images: as --real, or a model file (.gf) sampled -n times")->required();
  app.add_option("-n,--n", n, "images to use from each side (samples to draw from a .gf model)");
  app.add_option("--features", features,
                 "feature extractor: pixels, fmnist (genforge's classifier), a model with an encoder (.gf: its latent "
                 "space), or a TorchScript file (.pt)");
  app.add_option("--metrics", metrics, "comma-separated: fid, kid, is, prdc, mmd (Gaussian kernel)");
  app.add_option("--statistics", statistics,
                 "FID statistics: auto (float32 cross products where their estimated effect on FID stays below 1e-6 "
                 "relative, else float64), float64 (as pytorch-fid) or mixed (always float32 cross products)");
  app.add_option("--mmd-bandwidth", mmd_bandwidth, "Gaussian MMD bandwidth (0: median heuristic)");
  app.add_option("--kid-subsets", kid_subsets, "KID subsets");
  app.add_option("--kid-subset-size", kid_subset_size, "KID subset size (capped at the smaller set)");
  app.add_option("--k", k, "neighbourhood size for precision/recall/density/coverage");
  app.add_option("--splits", splits, "Inception Score splits");
  app.add_option("--batch", batch, "images per feature batch");
  app.add_option("--tile", tile, "read .png inputs as grids of tile x tile images (as `genforge sample` writes; -n: how many)");
  app.add_option("--padding", padding, "padding between grid tiles, in pixels");
  app.add_option("--seed", seed, "seed for sampling models and KID subsets");
  app.add_flag("--json", json, "print the results as JSON");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  const auto wanted = checked_metrics(metrics, {"fid", "kid", "is", "prdc", "mmd"});
  GF_CHECK(statistics == "auto" || statistics == "float64" || statistics == "mixed",
           "--statistics must be auto, float64 or mixed, got '", statistics, "'");
  eval::FidOptions fid_options;
  fid_options.precision = statistics == "auto"      ? eval::FidPrecision::automatic
                          : statistics == "float64" ? eval::FidPrecision::float64
                                                    : eval::FidPrecision::mixed;
  eval::FeatureOptions fo;
  fo.batch_size = batch;
  fo.load_model = [](const std::string& path) { return std::shared_ptr<const Model>(load_model(path)); };
  auto extractor = eval::make_feature_extractor(features, fo);
  auto real_images = load_images_for_eval(real, n, seed, flags, tile, padding);
  auto fake_images = load_images_for_eval(fake, n, seed + 1, flags, tile, padding);
  const bool untiled_png = tile == 0 && ((real.size() > 4 && real.compare(real.size() - 4, 4, ".png") == 0) ||
                                         (fake.size() > 4 && fake.compare(fake.size() - 4, 4, ".png") == 0));
  GF_CHECK_AS(DataError, real_images.size(0) >= 2 && fake_images.size(0) >= 2,
              untiled_png ? "a .png is read as one image; split a grid from `genforge sample` with --tile 28 (its tile "
                            "size in pixels)"
                          : "give at least 2 images per side",
              "too few images: ", real_images.size(0), " real, ", fake_images.size(0), " generated");
  GF_CHECK_AS(DataError, real_images.sizes().slice(1) == fake_images.sizes().slice(1),
              "evaluate images of one size and channel count", "real images are ", real_images.sizes().slice(1),
              " but generated ones are ", fake_images.sizes().slice(1));
  auto fr = extractor->features(real_images), ff = extractor->features(fake_images);  // [N, D], [M, D]
  nlohmann::json out = {{"real", real_images.size(0)}, {"fake", fake_images.size(0)},
                        {"features", extractor->name()}, {"feature_dim", fr.size(1)}};
  if (wanted.count("fid")) {
    auto r = eval::fid(fr, ff, fid_options);
    out["fid"] = r.distance;
    out["fid_statistics"] = r.mixed_precision ? "mixed" : "float64";
  }
  if (wanted.count("kid")) {
    eval::KidOptions ko;
    ko.subsets = kid_subsets;
    ko.subset_size = std::min({kid_subset_size, fr.size(0), ff.size(0)});
    auto gen = make_generator(seed);
    auto r = eval::kernel_inception_distance(fr, ff, ko, gen);
    out["kid"] = r.mean;
    out["kid_std"] = r.std;
  }
  if (wanted.count("is")) {
    auto r = eval::inception_score(extractor->logits(fake_images), std::min(splits, ff.size(0)));
    out["is"] = r.mean;
    out["is_std"] = r.std;
    if (!extractor->has_class_logits()) {
      out["is_warning"] = "the Inception Score needs class logits; " + extractor->name() +
                          " features give a meaningless value (use --features fmnist)";
      std::cerr << "warning: " << out["is_warning"].get<std::string>() << "\n";
    }
  }
  if (wanted.count("mmd")) {
    auto r = eval::gaussian_mmd2(fr, ff, mmd_bandwidth);
    out["mmd2"] = r.mmd2;
    out["mmd_bandwidth"] = r.bandwidth;
  }
  if (wanted.count("prdc")) {
    eval::PrdcOptions po;
    po.k = k;
    auto r = eval::precision_recall_density_coverage(fr, ff, po);
    out["precision"] = r.precision;
    out["recall"] = r.recall;
    out["density"] = r.density;
    out["coverage"] = r.coverage;
  }
  if (json) {
    std::cout << out.dump() << "\n";
  } else {
    print_table(out);
  }
  return 0;
}

}  // namespace

// The columns of `table` that `other` also has, in `table`'s order.
Table shared_columns(const Table& table, const Table& other, const std::string& other_path) {
  std::vector<std::string> names;
  for (const auto& c : table.columns())
    if (other.has_column(c.name)) names.push_back(c.name);
  GF_CHECK_AS(DataError, !names.empty(), "compare tables with the same column names", "'", other_path,
              "' shares no column with the real table");
  return table.select(names);
}

int run_eval_table(int argc, char** argv) {
  CLI::App app("SDMetrics quality, detection and privacy metrics of a synthetic table against the real one",
               "eval table");
  std::string real_path, synthetic_path, holdout_path, target, metrics = "quality,detection,dcr,newrows";
  uint64_t seed = 0;
  double tolerance = 0.01;
  bool json = false;
  CommonFlags common;
  TableFlags flags;
  app.add_option("--real", real_path, "real (training) table: .csv .tsv .json .npy")->required();
  app.add_option("--synthetic", synthetic_path, "synthetic table with the real table's columns")->required();
  app.add_option("--holdout", holdout_path, "real rows the generator never saw (enables DCR overfitting protection)");
  app.add_option("--metrics", metrics, "comma-separated: quality, detection, dcr, newrows, efficacy, pmse");
  app.add_option("--target", target, "machine-learning efficacy: the column to predict (default: the last)");
  app.add_option("--tolerance", tolerance, "new-row synthesis: relative numeric match tolerance");
  app.add_option("--seed", seed, "seed for the detection folds and the random DCR baseline");
  app.add_flag("--json", json, "print the results (with per-column details) as JSON");
  add_table_flags(app, flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  const auto wanted = checked_metrics(metrics, {"quality", "detection", "dcr", "newrows", "efficacy", "pmse"});
  // Columns are compared where both tables have them (a model may generate only some of the real columns).
  const Table synthetic_all = load_table(synthetic_path, flags);
  const Table real = shared_columns(load_table(real_path, flags), synthetic_all, synthetic_path);
  const Table synthetic = synthetic_all.select(real.names());
  eval::TableReportOptions options;
  options.metrics = wanted;
  options.tolerance = tolerance;
  options.seed = seed;
  options.target = target;
  std::optional<Table> holdout;
  if (!holdout_path.empty()) holdout = shared_columns(load_table(holdout_path, flags), real, real_path);
  nlohmann::json out = eval::table_report(real, synthetic, holdout ? &*holdout : nullptr, options);
  if (json) {
    std::cout << out.dump() << "\n";
  } else {
    out.erase("details");
    print_table(out);
  }
  return 0;
}

int run_eval_classifier(int argc, char** argv) {
  CLI::App app("train genforge's Fashion-MNIST classifier, the `--features fmnist` extractor", "eval classifier");
  eval::FmnistClassifierOptions o;
  std::string out = eval::default_fmnist_classifier_path();
  CommonFlags common;
  app.add_option("--out", out, "where to write the classifier (.gf)");
  app.add_option("--epochs", o.epochs, "passes over the 60,000 training images");
  app.add_option("--batch", o.batch_size, "batch size");
  app.add_option("--lr", o.learning_rate, "Adam learning rate");
  app.add_option("--seed", o.seed, "seed for initialisation and shuffling");
  app.add_option("--train-limit", o.train_limit, "train on the first N images only (quick checks)");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  const auto r = eval::train_fmnist_classifier(out, o);
  std::printf("wrote %s: test accuracy %.4f on 10000 images (%lld training images, %.1f s)\n", out.c_str(),
              r.test_accuracy, static_cast<long long>(r.train_images), r.seconds);
  return 0;
}

int run_eval_ppl(int argc, char** argv) {
  CLI::App app("perceptual path length of a latent-variable model, on features of a network", "eval ppl");
  std::string model_path, features = "fmnist";
  eval::PplOptions o;
  bool json = false;
  CommonFlags common;
  app.add_option("--model", model_path, "model with a latent space (.gf: vae, autoencoder, gan)")->required();
  app.add_option("--features", features, "feature extractor (as eval image): fmnist, pixels, .gf encoder, .pt");
  app.add_option("-n,--n", o.n, "interpolation paths");
  app.add_option("--epsilon", o.epsilon, "step along a path");
  app.add_option("--sampling", o.sampling, "full (t uniform) or end (t at the ends)");
  app.add_option("--batch", o.batch_size, "paths per batch");
  app.add_option("--seed", o.seed, "seed of the paths");
  app.add_flag("--json", json, "print the result as JSON");
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  auto model = load_model(model_path);
  eval::FeatureOptions fo;
  fo.load_model = [](const std::string& path) { return std::shared_ptr<const Model>(load_model(path)); };
  auto extractor = eval::make_feature_extractor(features, fo);
  const auto r = eval::perceptual_path_length(*model, *extractor, o);
  nlohmann::json j = {{"ppl", r.trimmed.mean}, {"std", r.trimmed.std}, {"paths", o.n}, {"kept", r.trimmed.kept},
                      {"epsilon", o.epsilon}, {"sampling", o.sampling}, {"features", extractor->name()}};
  if (json) {
    std::cout << j.dump() << "\n";
  } else {
    std::printf("perceptual path length %.4f (std %.4f; %lld of %lld paths kept; %s features, epsilon %g, %s)\n",
                r.trimmed.mean, r.trimmed.std, static_cast<long long>(r.trimmed.kept), static_cast<long long>(o.n),
                extractor->name().c_str(), o.epsilon, o.sampling.c_str());
  }
  return 0;
}

int run_eval(int argc, char** argv) {
  const std::string usage =
      "usage: genforge eval text  --hyp H --ref R [--ref R2 ...] [--metrics bleu,chrf] [--tokenize 13a]\n"
      "       genforge eval image --real R --fake F [--features pixels|file.pt] [--metrics fid,kid,is,prdc]\n"
      "       genforge eval ppl   --model M.gf [--features fmnist|pixels|file.pt] [-n 1000] [--sampling full|end]\n"
      "       genforge eval classifier [--out data/fmnist-classifier.gf] [--epochs 2]\n"
      "       genforge eval table --real A.csv --synthetic B.csv [--holdout C.csv] [--metrics quality,detection,dcr,newrows]\n";
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cout << usage;
    return argc < 2 ? 2 : 0;
  }
  const std::string what = argv[1];
  if (what == "text") return run_eval_text(argc - 1, argv + 1);
  if (what == "image") return run_eval_image(argc - 1, argv + 1);
  if (what == "table") return run_eval_table(argc - 1, argv + 1);
  if (what == "classifier") return run_eval_classifier(argc - 1, argv + 1);
  if (what == "ppl") return run_eval_ppl(argc - 1, argv + 1);
  throw InvalidArgument(msg("unknown evaluation '", what, "'"),
                        "use `genforge eval text`, `genforge eval image` or `genforge eval table`");
}

}  // namespace gf::cli
