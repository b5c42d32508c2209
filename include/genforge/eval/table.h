// Tabular synthetic-data metrics as SDMetrics (0.29) defines them, on genforge tables. Column kinds map to
// SDMetrics sdtypes: continuous and integer -> numerical, datetime -> datetime (seconds), categorical ->
// categorical (booleans are categorical columns here; SDMetrics scores boolean like categorical everywhere but in
// its detection metric, which drops them). Categories are compared by label, so two tables read separately agree.
//  - Column shapes: KSComplement (numerical, datetime), TVComplement (categorical); column pair trends:
//    CorrelationSimilarity (two continuous columns, Pearson by default) and ContingencySimilarity (otherwise, the
//    continuous side of a mixed pair cut into 10 equal-width bins of its own table); the quality report averages
//    each property over the columns / pairs that have a score, then the two properties. As SDMetrics 0.29's
//    QualityReport, a pair counts only when the real data has a trend to keep: |Pearson r| > 0.5, or Cramér's V
//    > 0.3 for contingency pairs (0 turns a threshold off).
//  - Detection: a classifier two-sample test (one-hot categories, mean imputation from the real table, robust
//    scaling, L2 logistic regression with C = 1, stratified 3-fold cross-validation); score = 1 - mean over folds
//    of (2 max(AUC, 0.5) - 1). SDMetrics shuffles the folds without a seed; ours are seeded.
//  - Privacy: distance to closest record (per-column distances averaged over columns, numeric ones scaled by the
//    reference range and capped at 1), DCR overfitting protection (needs a holdout), DCR baseline protection
//    (against uniform random data), new-row synthesis rate.
#pragma once
#include <ATen/core/Generator.h>

#include <cstdint>
#include <string>
#include <vector>

#include "genforge/data/table.h"

namespace gf::eval {

// ---- single columns and pairs (SDMetrics single_column / column_pairs) ------------------------------------------

// 1 - the two-sample Kolmogorov-Smirnov statistic over the non-missing values (rounded to 14 decimals as
// SDMetrics does); NaN when either side has none.
double ks_complement(const Column& real, const Column& synthetic);
// 1 - total variation distance between the category frequencies; values only the synthetic column has get a real
// count of 1e-6 (SDMetrics' regularisation). Throws DataError when either side has no non-missing value.
double tv_complement(const Column& real, const Column& synthetic);

enum class Correlation { pearson, spearman };
struct CorrelationSimilarity {
  double score = 0;  // 1 - |r_real - r_synthetic| / 2; NaN when either correlation is undefined
  double real = 0, synthetic = 0;
};
// Rows where both columns are present; NaN score when a column is constant in either table (ConstantInputError)
// or when |r_real| <= real_threshold (> 0).
CorrelationSimilarity correlation_similarity(const Column& real_a, const Column& real_b, const Column& synthetic_a,
                                             const Column& synthetic_b, Correlation coefficient = Correlation::pearson,
                                             double real_threshold = 0);
// 1 - total variation distance between the joint frequencies of two columns; missing is a category of its own.
// Continuous columns are cut into `bins` equal-width bins of their own table first (numpy histogram edges and
// digitize: the maximum and missing values share the last bin, as in SDMetrics' report).
struct ContingencySimilarity {
  double score = 0;             // NaN when the real association is at or below the threshold
  double real_association = 0;  // Cramér's V of the real table (NaN when no threshold was asked for)
};
// With real_association_threshold > 0, pairs whose real Cramér's V (scipy.stats.contingency.association, no
// continuity correction) is at or below it get a NaN score, as do real tables with a single row or column value.
ContingencySimilarity contingency_similarity(const Column& real_a, const Column& real_b, const Column& synthetic_a,
                                             const Column& synthetic_b, int bins = 10,
                                             double real_association_threshold = 0);

// sklearn.metrics.roc_auc_score for binary labels (1 = positive): ties count one half.
double roc_auc(const std::vector<int>& labels, const std::vector<double>& scores);

// ---- the quality report -----------------------------------------------------------------------------------------

struct ColumnShape {
  std::string column, metric;  // "KSComplement" | "TVComplement"
  double score = 0;            // NaN when incomputable (see `error`)
  std::string error;
};
struct PairTrend {
  std::string column_1, column_2, metric;  // "CorrelationSimilarity" | "ContingencySimilarity"
  double score = 0;
  double real_correlation = 0, synthetic_correlation = 0;  // NaN for contingency pairs
  double real_association = 0;                             // NaN for correlation pairs
  bool meets_threshold = true;                             // counts towards the property score
};
struct QualityOptions {
  double real_correlation_threshold = 0.5;  // SDMetrics 0.29 defaults
  double real_association_threshold = 0.3;
};
struct QualityReport {
  double score = 0;  // mean of the two property scores
  double column_shapes = 0, column_pair_trends = 0;
  std::vector<ColumnShape> shapes;
  std::vector<PairTrend> pairs;
};
// Columns are matched by name; the synthetic table needs every real column with the same kind.
QualityReport quality_report(const Table& real, const Table& synthetic, const QualityOptions& options = {});

// ---- detection ------------------------------------------------------------------------------------------------

struct DetectionOptions {
  int folds = 3;
  double c = 1.0;  // inverse L2 strength of the logistic regression
  // A categorical column with more labels one-hots its `max_levels` most frequent ones and pools the rest in one
  // "other" column (SDMetrics one-hots every label: a city or title column of thousands would make the logistic
  // regression's Newton steps take hours and gigabytes).
  int64_t max_levels = 250;
};
struct DetectionResult {
  double score = 0;         // 1 = indistinguishable (AUC 0.5), 0 = perfectly separable
  std::vector<double> auc;  // per fold
  std::vector<std::string> pooled_columns;  // columns whose rarer labels were pooled (max_levels), for the report
};
DetectionResult logistic_detection(const Table& real, const Table& synthetic, at::Generator& gen,
                                   const DetectionOptions& options = {});

// ---- privacy ----------------------------------------------------------------------------------------------------

// SDMetrics calculate_dcr: for each row of `dataset`, the smallest distance to a row of `reference`.
std::vector<double> distance_to_closest_record(const Table& dataset, const Table& reference);

struct DcrOverfitting {
  double score = 0;                // min(2 (1 - closer_to_training), 1)
  double closer_to_training = 0;   // synthetic rows strictly closer to the training data than to the holdout
  double closer_to_holdout = 0;
};
DcrOverfitting dcr_overfitting_protection(const Table& training, const Table& synthetic, const Table& holdout);

struct DcrBaseline {
  double score = 0;  // min(median DCR of synthetic / median DCR of random data, 1); NaN if the latter is 0
  double median_synthetic = 0, median_random = 0;
};
// Random rows drawn per column from the real data's range (integers, reals, datetimes) or categories, with the
// real missing rate.
DcrBaseline dcr_baseline_protection(const Table& real, const Table& synthetic, at::Generator& gen);

struct NewRowSynthesis {
  double score = 0;  // fraction of synthetic rows that match no real row
  int64_t new_rows = 0, matched_rows = 0;
};
// A real row matches when every numeric column is within |tolerance * synthetic value| and every categorical one
// is equal; missing matches missing.
NewRowSynthesis new_row_synthesis(const Table& real, const Table& synthetic, double numerical_match_tolerance = 0.01);

// ---- utility ----------------------------------------------------------------------------------------------------
// Both use the same features, learnt from the real training table: numeric and datetime columns standardised
// (missing cells at the mean), categories one-hot over their 50 most frequent labels plus "other".

struct MlEfficacy {
  std::string target, task;    // task: "classification" (accuracy) | "regression" (R²)
  double real_score = 0;       // the model trained on the real training rows, scored on the test rows
  double synthetic_score = 0;  // the same model trained on the synthetic rows
  double real_macro_f1 = 0, synthetic_macro_f1 = 0;  // classification only
  double ratio() const { return real_score != 0 ? synthetic_score / real_score : NAN; }
};
// Train on synthetic, test on real (TSTR) against train on real: multinomial logistic regression (L2, LBFGS) for a
// categorical target, ridge regression for a numeric one. Test rows with a missing target are skipped; training
// rows too.
MlEfficacy ml_efficacy(const Table& real_train, const Table& synthetic, const Table& real_test,
                       const std::string& target);

struct PropensityMse {
  double pmse = 0;      // mean of (p_i - c)² over all rows, c = synthetic share (Woo et al. 2009; synthpop)
  double expected = 0;  // its expectation when the tables come from one distribution: (k - 1)(1 - c)² c / N
  double ratio = 0;     // pmse / expected (synthpop's S_pMSE: about 1 for a good synthesizer)
  int64_t parameters = 0;  // k, the logistic model's coefficients with the intercept
};
// synthpop's utility.gen with a main-effects logistic propensity model.
PropensityMse propensity_mse(const Table& real, const Table& synthetic);

}  // namespace gf::eval
