// `genforge report`: one self-contained HTML page about a model that people read -- a model card, the training
// curves, samples, the metrics that apply, and two checks of the risks the founding documents name:
//   - memorisation: every sample's distance to its nearest training item (in the feature space of the metrics)
//     against the same distance for held-out real items; the 16 closest samples are shown beside their nearest
//     training item, and a sample far closer to training than real new data ever is gets flagged;
//   - bias / coverage: the frequencies of classes (images, labelled by genforge's Fashion-MNIST classifier),
//     categories (each categorical column of a table) or frequent words (text) in the samples against the
//     training data, with a chi-square test; the classes the model under- or over-produces are named.
// Both checks are library functions on plain tensors and counts, usable without a model.
//
//   gf::apps::ReportOptions o;  o.data = "penguins.json";
//   auto figures = gf::apps::write_report("runs/gmm", "report.html", o);   // a run directory or a .gf file
#pragma once
#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gf::apps {

// ---- memorisation --------------------------------------------------------------------------------------------

struct MemorisationOptions {
  int64_t shown = 16;             // sample / nearest-training pairs shown, the closest first
  double flag_quantile = 0.01;    // a sample is flagged below flag_ratio x this quantile of the reference
  double flag_ratio = 0.5;        // distances ("far closer than new real data ever is")
};

struct MemorisationCheck {
  struct Pair {
    int64_t sample = 0, train = 0;  // row indices into the samples and the training features
    double distance = 0;
    bool flagged = false;
  };
  std::vector<Pair> shown;                   // closest first
  std::vector<double> sample_distances;      // each sample's distance to its nearest training item
  std::vector<double> reference_distances;   // held-out items' distances (or training items', leave-one-out)
  std::string reference;                     // "held-out data" or "training data (leave-one-out)"
  double threshold = 0;                      // flag_ratio x the flag_quantile of the reference distances
  int64_t flagged = 0;                       // samples below the threshold
  std::vector<int64_t> flagged_samples;      // their indices
  double share_below_reference_p05 = 0;      // samples closer than the reference's 5th percentile (0.05 expected)
  double median_ratio = 0;                   // median sample distance / median reference distance (1 expected)
  nlohmann::json to_json() const;
};

// samples [N, D], train [M, D], holdout [H, D] or undefined (then training items against the rest of the training
// data stand in for new data, which understates their distance a little). Euclidean distances in float64.
MemorisationCheck memorisation_check(const torch::Tensor& samples, const torch::Tensor& train,
                                     const torch::Tensor& holdout, const MemorisationOptions& options = {});

// ---- bias / coverage -----------------------------------------------------------------------------------------

struct CoverageOptions {
  double ratio = 2.0;          // under-produced below 1/ratio of the training share, over-produced above ratio x
  double min_residual = 2.0;   // ... and with a standardised residual |(observed - expected) / sqrt(expected)| above
  double min_share = 0.005;    // categories rarer than this in training are not named
};

struct CoverageCheck {
  std::string what;  // "class (Fashion-MNIST classifier)", "column Species", "words"
  std::vector<std::string> categories;
  std::vector<double> real_share, sample_share;
  std::vector<int64_t> sample_counts;
  double chi_square = 0, p_value = 1;
  int64_t degrees_of_freedom = 0;
  std::vector<std::string> under, over;  // named categories the model produces too rarely / too often
  std::vector<std::string> unseen;       // produced by the model but absent from training
  nlohmann::json to_json() const;
};

// Pearson's chi-square goodness of fit of the samples' counts against the training shares (categories with no
// training items are left out of the test and listed as unseen). InvalidArgument for mismatched sizes or no counts.
CoverageCheck coverage_check(const std::string& what, const std::vector<std::string>& categories,
                             const std::vector<double>& real_counts, const std::vector<int64_t>& sample_counts,
                             const CoverageOptions& options = {});

// Chi-square upper tail P(X >= x) with k degrees of freedom.
double chi_square_tail(double x, int64_t degrees_of_freedom);

// Hashed character n-gram counts of texts (n = 3, 4, 5; `dimensions` buckets; each row scaled to unit length): a
// feature space where near-copies of a line are close whatever the tokenizer. [N, dimensions]
torch::Tensor text_features(const std::vector<std::string>& texts, int64_t dimensions = 2048);

// ---- the page ------------------------------------------------------------------------------------------------

struct ReportOptions {
  std::string data;          // the training data (a data spec as `train` reads it); empty: model card, curves and
                             // samples only
  std::string holdout;       // held-out real data for the memorisation check and the likelihood
  std::string features;      // images: "fmnist" (genforge's classifier; FID, precision/recall, class coverage) or
                             // "pixels" (default)
  std::string samples;       // use these samples (a file as `train` reads it) instead of drawing them
  int64_t n = 0;             // samples to draw (0: 64 images, 500 rows, 16 texts)
  int64_t max_real = 5000;   // real items compared (the first ones)
  uint64_t seed = 0;
  std::string title;
};

// Writes the page (atomically) and returns its figures as JSON (also written beside it as .json by the CLI).
// `target` is a model file or a run directory (its model.gf, config.json and metrics.jsonl).
nlohmann::json write_report(const std::string& target, const std::string& out_html, const ReportOptions& options);

}  // namespace gf::apps
