// The command table of the `genforge` binary. Each verb is `int run_<verb>(int argc, char** argv)` where argv[0]
// is the verb; main_entry dispatches and is the one place that catches errors.
#pragma once

namespace gf::cli {

int run_models(int argc, char** argv);
int run_train(int argc, char** argv);
int run_sample(int argc, char** argv);
int run_score(int argc, char** argv);
int run_transform(int argc, char** argv);
int run_info(int argc, char** argv);
int run_plot(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_tag(int argc, char** argv);
int run_topics(int argc, char** argv);
int run_generate(int argc, char** argv);
int run_anomaly(int argc, char** argv);
int run_impute(int argc, char** argv);
int run_inpaint(int argc, char** argv);
int run_augment(int argc, char** argv);
int run_synth(int argc, char** argv);
int run_compress(int argc, char** argv);
int run_decompress(int argc, char** argv);
int run_finetune(int argc, char** argv);
int run_export(int argc, char** argv);
int run_drift(int argc, char** argv);
int run_serve(int argc, char** argv);
int run_rate(int argc, char** argv);
int run_provenance(int argc, char** argv);
int run_watermark(int argc, char** argv);
int run_report(int argc, char** argv);
int run_launch(int argc, char** argv);
int run_enhance(int argc, char** argv);

// Full program: dispatch, error reporting (`error: …` / `hint: …`), exit code.
int main_entry(int argc, char** argv);

}  // namespace gf::cli
