#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "genforge/core/atomic_file.h"
#include "genforge/core/error.h"
#include "genforge/data/matrix.h"
#include "genforge/data/readers.h"
#include "genforge/eval/text.h"
#include "genforge/models/hmm.h"
#include "genforge/registry.h"

namespace gf::cli {
namespace {

// Language models: each line of the text is a document; its tokens' log-likelihoods (the line break included)
// give its NLL, and over its characters its bits per character.
int score_text(const Model& model, const std::string& model_path, const std::string& data, const std::string& out,
               bool json) {
  const auto tokens = model_tokenizer(model, model_path);
  const std::string text = load_text(data);
  const auto ids = tokens->encode(text, "'" + data + "'");
  auto ll = model.score_samples(torch::tensor(ids, torch::kLong).unsqueeze(1)).contiguous();  // [N]
  const double* l = ll.data_ptr<double>();
  Table per_doc("scores");
  Column doc{"document"}, count{"characters"}, nll{"nll_nats"}, bpc{"bits_per_character"};
  // Lines end at line-break tokens; each line's characters are counted in the text (line break included).
  std::vector<double> line_chars;
  for (size_t start = 0; start < text.size();) {
    const size_t end = text.find('\n', start);
    const size_t stop = end == std::string::npos ? text.size() : end + 1;
    line_chars.push_back(static_cast<double>(stop - start));
    start = stop;
  }
  double sum = 0;
  size_t line = 0;
  for (size_t k = 0; k < ids.size(); ++k) {
    sum += l[k];
    if (ids[k] == tokens->newline_id() || k + 1 == ids.size()) {
      const double n = line < line_chars.size() ? line_chars[line] : 1.0;
      for (Column* c : {&doc, &count, &nll, &bpc}) c->missing.push_back(0);
      doc.values.push_back(static_cast<double>(doc.values.size()));
      count.values.push_back(n);
      nll.values.push_back(-sum);
      bpc.values.push_back(-sum / n / std::log(2.0));
      sum = 0;
      ++line;
    }
  }
  const auto p = eval::perplexity(std::vector<double>(l, l + ll.numel()), static_cast<int64_t>(text.size()));
  if (!out.empty()) {
    for (Column* c : {&doc, &count}) c->type = ColumnType::integer;
    for (Column c : {doc, count, nll, bpc}) per_doc.add_column(std::move(c));
    write_csv(out, per_doc);
  }
  if (json) {
    std::cout << nlohmann::json({{"documents", doc.values.size()}, {"characters", text.size()},
                                 {"tokens", ids.size()}, {"tokenizer", tokens->kind()},
                                 {"nats_per_character", -ll.sum().item<double>() / static_cast<double>(text.size())},
                                 {"bits_per_character", p.bits_per_character}, {"perplexity", p.perplexity}})
                     .dump()
              << "\n";
  } else {
    std::printf("%zu documents (lines), %zu characters: %.4f bits per character (perplexity %.3f per token)\n",
                doc.values.size(), text.size(), p.bits_per_character, p.perplexity);
    if (!out.empty()) std::printf("wrote %s\n", out.c_str());
  }
  return 0;
}

}  // namespace

int run_score(int argc, char** argv) {
  CLI::App app("per-row log-likelihood (nats) of data under a saved model", "score");
  std::string model_path, data, out, columns, sequence_column;
  int64_t limit = 0;
  bool json = false;
  CommonFlags common;
  TableFlags table_flags;
  app.add_option("model", model_path, "model file (.gf)")->required();
  app.add_option("--data", data, "table to score")->required();
  app.add_option("--out,-o", out, "CSV with one log_likelihood per input row");
  app.add_option("--columns", columns, "columns to use (default: the columns the model was fitted on)");
  app.add_option("--limit", limit, "score only the first N examples");
  app.add_flag("--json", json, "print the summary as JSON");
  app.add_option("--sequence-column", sequence_column,
                 "sequence models (hmm): rows with the same consecutive value form one sequence; scores each sequence");
  add_table_flags(app, table_flags);
  add_common_flags(app, common);
  if (!parse_or_help(app, argc, argv)) return 0;
  apply_common_flags(common);
  if (!out.empty()) check_writable(out);
  auto model = load_model(model_path);
  GF_CHECK_AS(NotSupported, model->capabilities().likelihood != Likelihood::none,
              "use a model with a likelihood (vae, gmm, bgmm) or a score (autoencoder)", "model kind '",
              model->kind(), "' has no likelihood to score with");
  if (model->capabilities().data_kind == "text") return score_text(*model, model_path, data, out, json);
  torch::Tensor x;
  if (model->schema().value("data_kind", "") == "images") {
    x = load_image_data(data, limit, table_flags).x;
  } else {
    Table table = load_table(data, table_flags);
    std::vector<std::string> use;
    if (!columns.empty()) {
      use = split_list(columns);
    } else if (model->schema().contains("columns")) {
      use = model->schema()["columns"].get<std::vector<std::string>>();
      for (const auto& c : use) {
        GF_CHECK_AS(DataError, table.has_column(c), "name the columns to use with --columns, in the model's order",
                    "'", data, "' has no column '", c, "', which the model was fitted on");
      }
    } else {
      use = table.names();
    }
    if (!sequence_column.empty()) {
      const auto* hmm = dynamic_cast<const HiddenMarkovModel*>(model.get());
      GF_CHECK_AS(InvalidArgument, hmm != nullptr, "--sequence-column is for sequence models (hmm)", "model kind '",
                  model->kind(), "' does not score sequences");
      use.erase(std::remove(use.begin(), use.end(), sequence_column), use.end());
      auto lengths = sequence_lengths(table.column(sequence_column));
      auto ll = hmm->score_sequences(numeric_matrix(table.select(use)), lengths);  // [S]
      if (!out.empty()) {
        write_csv(out, table_from_matrix(torch::stack({lengths.to(torch::kFloat64), ll}, 1),
                                         {"length", "log_likelihood"}));
      }
      const double total = ll.sum().item<double>();
      if (json) {
        std::cout << nlohmann::json({{"sequences", ll.numel()}, {"total_log_likelihood", total},
                                     {"mean_log_likelihood_per_sequence", total / static_cast<double>(ll.numel())},
                                     {"unit", "nats"}})
                         .dump()
                  << "\n";
      } else {
        std::printf("%lld sequences, total log-likelihood %.6f nats (%.6f per sequence)\n",
                    static_cast<long long>(ll.numel()), total, total / static_cast<double>(ll.numel()));
        if (!out.empty()) std::printf("wrote %s\n", out.c_str());
      }
      return 0;
    }
    x = numeric_matrix(table.select(use));
    if (limit > 0 && limit < x.size(0)) x = x.slice(0, 0, limit);
  }
  auto ll = model->score_samples(x);  // [N]
  double mean = ll.mean().item<double>();
  if (!out.empty()) write_csv(out, table_from_matrix(ll.unsqueeze(1), {"log_likelihood"}));
  if (json) {
    std::cout << nlohmann::json({{"rows", x.size(0)}, {"mean_log_likelihood", mean}, {"unit", "nats"}}).dump() << "\n";
  } else {
    if (model->capabilities().likelihood == Likelihood::score) {
      std::printf("%lld rows, mean score %.6f (not a likelihood: %s)\n", static_cast<long long>(x.size(0)), mean,
                  "minus the reconstruction error");
    } else {
      std::printf("%lld rows, mean log-likelihood %.6f nats per row (%s likelihood)\n",
                  static_cast<long long>(x.size(0)), mean, to_string(model->capabilities().likelihood));
    }
    if (!out.empty()) std::printf("wrote %s\n", out.c_str());
  }
  return 0;
}

}  // namespace gf::cli
