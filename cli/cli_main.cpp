#include <c10/util/Exception.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <string>

#include "commands.h"
#include "genforge/core/error.h"
#include "genforge/core/log.h"
#include "genforge/io/provenance.h"

namespace gf::cli {
namespace {

struct Verb {
  const char* name;
  const char* summary;
  int (*run)(int, char**);
};

const Verb kVerbs[] = {
    {"models", "list the registered models and what each can do", run_models},
    {"train", "fit a model to data and save it (.gf)", run_train},
    {"sample", "draw samples from a saved model", run_sample},
    {"score", "per-row log-likelihood of data under a model", run_score},
    {"transform", "each item's mixture component, hidden state or topic with probabilities, or its latent code", run_transform},
    {"info", "describe a model file (or the build with --build)", run_info},
    {"plot", "scatter plot of two columns of one or more tables (PNG)", run_plot},
    {"tag", "label words with a sequence tagger (genforge train pos-tagger)", run_tag},
    {"generate", "continue a prompt with a language model (gpt): temperature, top-k/p, min-p, stop text", run_generate},
    {"topics", "top words of each topic of an lda model, with UMass / NPMI coherence", run_topics},
    {"anomaly", "anomaly scores and flags with any model that scores data; ROC-AUC with known outliers", run_anomaly},
    {"impute", "fill in missing table cells: conditional mean or multiple imputation draws", run_impute},
    {"inpaint", "fill masked pixels of images (a box or a mask PNG) from an image model, K completions each", run_inpaint},
    {"enhance", "enlarge low-resolution images with an image model as the prior (vs bicubic; PSNR with --downscale)", run_enhance},
    {"augment", "a labelled synthetic data set (per class) from a model trained on labelled images or a table", run_augment},
    {"synth", "synthetic table with conditions, constraints and optional DP; utility and privacy report", run_synth},
    {"compress", "lossless compression of text, images or any file by a model's predictions (arithmetic coding)", run_compress},
    {"decompress", "restore a file from `compress`, bit for bit (same model file)", run_decompress},
    {"finetune", "train a saved neural model further on new data, parameters frozen by name, in one or two phases", run_finetune},
    {"export", "a model file in another form (--merge: LoRA adapters folded into the weights)", run_export},
    {"drift", "new data's scores against the score distribution kept at training time (KS test, histogram)", run_drift},
    {"serve", "an HTTP server for saved models: sample, score, anomaly, impute, completions; /metrics with drift", run_serve},
    {"report", "an HTML page about a model: card, curves, samples, metrics, memorisation and bias checks", run_report},
    {"watermark", "detect the green-list watermark of `generate --watermark-key` in text (z-score, p-value)", run_watermark},
    {"provenance", "where a generated file came from: genforge version, model SHA-256, seed, time", run_provenance},
    {"eval", "metrics: text (BLEU, chrF) and image (FID, KID, IS, precision/recall) evaluation", run_eval},
    {"launch", "run a command as N processes of one distributed job (data-parallel training, distributed EM)", run_launch},
    {"rate", "human evaluation: make a blind study page, summarise raters' answers", run_rate},
};

void print_usage(std::ostream& out) {
  out << "genforge " << GF_VERSION << " — train, sample, score and evaluate generative models\n\n"
      << "usage: genforge <verb> [options]   (genforge <verb> --help for each verb's options)\n"
      << "  every verb: --no-provenance writes files without the provenance record (genforge provenance FILE)\n"
      << "\nverbs:\n";
  for (const auto& v : kVerbs) out << "  " << v.name << std::string(12 - std::strlen(v.name), ' ') << v.summary << "\n";
}

// An error is one line: control characters in it (a column name ending in \r from a CRLF file, a tab in a cell)
// are shown escaped, not acted on by the terminal.
std::string one_line(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void print_phase_times() {
  if (log::verbosity() < 2) return;
  for (const auto& p : log::phase_times()) {
    std::fprintf(stderr, "time %-14s %9.3f s  (%ld calls)\n", p.name.c_str(), p.seconds, p.calls);
  }
}

}  // namespace

int main_entry(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    print_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::cout << "genforge " << GF_VERSION << "\n";
    return 0;
  }
  const Verb* verb = nullptr;
  for (const auto& v : kVerbs) {
    if (std::strcmp(v.name, argv[1]) == 0) verb = &v;
  }
  try {
    if (!verb) {
      std::string names;
      for (const auto& v : kVerbs) names += (names.empty() ? "" : ", ") + std::string(v.name);
      throw InvalidArgument(msg("unknown verb '", argv[1], "'"), "verbs are: " + names + " (genforge --help)");
    }
    // Files written by the verb carry its provenance unless --no-provenance (any position) says otherwise.
    std::vector<char*> args(argv + 1, argv + argc);
    const auto no_provenance = std::find_if(args.begin(), args.end(),
                                            [](const char* a) { return std::strcmp(a, "--no-provenance") == 0; });
    // (launch passes its command on untouched; the launched verb applies the flag itself)
    const bool with_provenance = no_provenance == args.end() || std::strcmp(verb->name, "launch") == 0;
    if (no_provenance != args.end() && !with_provenance) args.erase(no_provenance);
    ProvenanceScope provenance(with_provenance ? std::optional<Provenance>(new_provenance(verb->name)) : std::nullopt);
    args.push_back(nullptr);  // argv[argc] is a null pointer, as the C runtime's
    int rc = verb->run(static_cast<int>(args.size() - 1), args.data());
    print_phase_times();
    return rc;
  } catch (const Error& e) {
    std::cerr << "error: " << one_line(e.what()) << "\n";
    std::cerr << "hint: "
              << one_line(e.hint().empty() ? msg("see `genforge ", verb ? verb->name : "", " --help`") : e.hint())
              << "\n";
    return e.exit_code();
  } catch (const c10::Error& e) {
    std::cerr << "error: internal tensor error: " << e.what_without_backtrace() << "\n"
              << "hint: this is a genforge bug; please report it with the command line\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: internal: " << e.what() << "\nhint: this is a genforge bug; please report it\n";
    return 1;
  }
}

}  // namespace gf::cli
