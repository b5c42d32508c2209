// Fine-tuning: training starts from the base model's weights, frozen parameters stay bit for bit, two phases,
// the parent record, a GPT keeping its vocabulary on text with fewer tokens, and bad input.
#include <gtest/gtest.h>

#include "genforge/apps/finetune.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/models/gmm.h"
#include "genforge/models/gpt.h"
#include "genforge/model_interfaces.h"
#include "genforge/registry.h"
#include "genforge/train/trainer.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

data::Source image_source(int64_t n, unsigned seed, int64_t side = 8) {
  torch::manual_seed(seed);
  data::Source s;
  s.form = DataKind::images;
  s.spec = "random images";
  // Blobs: a bright square at a random place, so there is something to learn.
  auto images = torch::zeros({n, 1, side, side}, torch::kUInt8);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = (i * 3 + seed) % (side - 3), c = (i * 7 + seed) % (side - 3);
    images[i][0].slice(0, r, r + 3).slice(1, c, c + 3).fill_(255);
  }
  s.images.images = images;
  return s;
}

// A one-column table `x`.
data::Source table_source(const std::vector<double>& values) {
  data::Source s;
  s.form = DataKind::table;
  s.spec = "table";
  Column x;
  x.name = "x";
  x.values = values;
  x.missing.assign(values.size(), 0);
  s.table.add_column(x);
  return s;
}

std::string trained_vae(const test::TempDir& dir) {
  auto model = create_model("vae", {}, {{"max_steps", "30"}, {"batch_size", "16"}, {"latent", "4"},
                                        {"hidden", "32"}, {"checkpoint_every", "0"}});
  fit_source(*model, image_source(64, 1), test::quiet());
  const std::string path = dir.file("base.gf");
  save_model(*model, path);
  return path;
}

TEST(Finetune, FrozenParametersStayBitForBitAndTheRestStartsFromTheBase) {
  test::TempDir dir;
  const std::string base_path = trained_vae(dir);
  const auto base = load_model(base_path);
  const auto names = apps::parameter_list(*base);
  ASSERT_GE(names.size(), 4u);
  apps::FinetuneOptions o;
  o.train_only = {"*fc4*"};  // the decoder's output layer
  o.settings = {{"max_steps", "20"}, {"lr", "1e-2"}};
  auto r = apps::finetune(base_path, image_source(32, 2), o, test::quiet());
  const TensorMap before = base->state(), after = r.model->state();
  int64_t frozen = 0, trained = 0;
  for (const auto& p : names) {
    const bool is_head = p.name.find("fc4") != std::string::npos;
    if (is_head) {
      EXPECT_FALSE(torch::equal(before.at(p.name), after.at(p.name))) << p.name << " did not train";
      ++trained;
    } else {
      EXPECT_TRUE(torch::equal(before.at(p.name), after.at(p.name))) << p.name << " changed while frozen";
      ++frozen;
    }
  }
  EXPECT_EQ(trained, 2);
  // The record names the parent and what was frozen; the model saves, loads and scores.
  const auto& record = r.report.extra.at("finetune");
  EXPECT_EQ(record["parent"]["kind"], "vae");
  EXPECT_EQ(record["parent"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(record["phases"].size(), 1u);
  EXPECT_EQ(record["phases"][0]["frozen"]["names"].size(), static_cast<size_t>(frozen));
  const std::string out = dir.file("tuned.gf");
  save_model(*r.model, out);
  auto loaded = load_model(out);
  EXPECT_EQ(loaded->fit_report().extra.at("finetune")["parent"]["sha256"], record["parent"]["sha256"]);
  const Dataset d = prepare(*loaded, image_source(8, 3));
  EXPECT_TRUE(loaded->score_samples(d.x).isfinite().all().item<bool>());
}

TEST(Finetune, TwoPhasesAndEmaKeepFrozenValues) {
  test::TempDir dir;
  const std::string base_path = trained_vae(dir);
  const auto base = load_model(base_path);
  apps::FinetuneOptions o;
  o.freeze = {"*fc1.*"};         // held fixed in both phases
  o.train_only = {"*fc4*"};      // phase 1
  o.unfreeze_after = 10;
  o.settings = {{"max_steps", "25"}, {"ema_decay", "0.9"}};
  auto r = apps::finetune(base_path, image_source(32, 2), o, test::quiet());
  const auto& phases = r.record["phases"];
  ASSERT_EQ(phases.size(), 2u);
  EXPECT_EQ(phases[0]["steps"], 10);
  EXPECT_EQ(phases[1]["steps"], 15);
  EXPECT_NEAR(phases[1]["lr"].get<double>(), 0.1 * phases[0]["lr"].get<double>(), 1e-12);
  EXPECT_EQ(phases[1]["frozen"]["names"].size(), 2u);  // fc1 weight and bias only
  const TensorMap before = base->state(), after = r.model->state();
  for (const auto& [name, t] : before) {
    if (name.find("fc1.") != std::string::npos) { EXPECT_TRUE(torch::equal(t, after.at(name))) << name; }
    if (name.find("fc3.weight") != std::string::npos) { EXPECT_FALSE(torch::equal(t, after.at(name))) << name; }
  }
}

data::Source text_source(const std::string& text) {
  data::Source s;
  s.form = DataKind::text;
  s.spec = "text";
  s.text = text;
  return s;
}

// A tiny GPT on two alternating sentences, saved as gpt.gf.
std::unique_ptr<Model> base_gpt(const test::TempDir& dir) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += i % 2 ? "abc abd. " : "the cat sat. ";
  auto base = create_model("gpt", {}, {{"n_layer", "1"}, {"n_head", "2"}, {"n_embd", "16"}, {"block_size", "16"},
                                       {"max_steps", "40"}, {"batch_size", "8"}, {"checkpoint_every", "0"}});
  fit_source(*base, text_source(text), test::quiet());
  save_model(*base, dir.file("gpt.gf"));
  return base;
}

TEST(Finetune, GptKeepsItsVocabularyAndLearnsTheNewText) {
  test::TempDir dir;
  auto base = base_gpt(dir);
  data::Source new_text = text_source("");
  new_text.text = std::string(400, 'a');  // one token of the vocabulary only
  apps::FinetuneOptions o;
  o.settings = {{"max_steps", "30"}, {"lr", "1e-2"}};
  auto r = apps::finetune(dir.file("gpt.gf"), new_text, o, test::quiet());
  const Dataset ids = prepare(*r.model, new_text), base_ids = prepare(*base, new_text);
  EXPECT_EQ(r.model->state().at("meta/vocab_size").item<int64_t>(), base->state().at("meta/vocab_size").item<int64_t>());
  EXPECT_GT(r.model->score_samples(ids.x).mean().item<double>(), base->score_samples(base_ids.x).mean().item<double>());
}

TEST(Finetune, GptGetsANewVocabularyAndKeepsTheRowsOfSharedTokens) {
  test::TempDir dir;
  auto base = base_gpt(dir);  // characters of "abc abd. the cat sat. "
  data::Source new_text = text_source("");
  for (int i = 0; i < 100; ++i) new_text.text += i % 2 ? "XYZ xyz! " : "a cab, a bat. ";
  apps::FinetuneOptions o;
  o.new_head = "vocab";
  o.train_only = {"h0_*"};  // the embedding stays as it starts, so its rows can be checked
  o.settings = {{"max_steps", "20"}, {"lr", "1e-2"}};
  auto r = apps::finetune(dir.file("gpt.gf"), new_text, o, test::quiet());
  const auto* old_tokens = pipeline_of(*base).tokenizer();
  const auto* new_tokens = pipeline_of(*r.model).tokenizer();
  ASSERT_NE(new_tokens, nullptr);
  const TensorMap before = base->state(), after = r.model->state();
  EXPECT_EQ(after.at("meta/vocab_size").item<int64_t>(), new_tokens->size());
  EXPECT_EQ(after.at("wte").size(0), new_tokens->size());
  int64_t shared = 0;
  for (int64_t id = 0; id < new_tokens->size(); ++id) {
    const std::string token = new_tokens->decode({id});
    int64_t old_id = -1;
    for (int64_t j = 0; j < old_tokens->size(); ++j) {
      if (old_tokens->decode({j}) == token) old_id = j;
    }
    if (old_id < 0) continue;
    ++shared;
    EXPECT_TRUE(torch::equal(after.at("wte")[id], before.at("wte")[old_id])) << "token '" << token << "'";
  }
  EXPECT_EQ(shared, 6);  // a b c t . and the space
  EXPECT_EQ(r.record["new_head"]["shared_tokens"].get<int64_t>(), shared);
  EXPECT_EQ(r.record["new_head"]["tokens"].get<int64_t>(), new_tokens->size());
  EXPECT_TRUE(torch::equal(after.at("wpe"), before.at("wpe")));  // frozen by --train-only, from the base
  // The new characters are tokens now: the new text scores, where the base cannot read it.
  const Dataset ids = prepare(*r.model, new_text);
  EXPECT_TRUE(r.model->score_samples(ids.x).isfinite().all().item<bool>());
  EXPECT_THROW(prepare(*base, new_text), DataError);  // the base cannot even read it
}

TEST(Finetune, BadInputGetsClearErrors) {
  test::TempDir dir;
  const std::string base_path = trained_vae(dir);
  auto expect = [&](const apps::FinetuneOptions& o, const data::Source& s, const std::string& words) {
    test::expect_error_message([&] { apps::finetune(base_path, s, o, test::quiet()); }, words);
  };
  apps::FinetuneOptions o;
  o.freeze = {"decoder.*"};
  o.settings = {{"max_steps", "2"}};
  expect(o, image_source(8, 1), "--freeze 'decoder.*' matches no parameter (they are named like codec.");
  o.freeze.clear();
  o.unfreeze_after = 5;
  o.train_only = {"*fc4*"};
  expect(o, image_source(8, 1), "--unfreeze-after (5) must be below max_steps (2)");
  data::Source text;
  text.form = DataKind::text;
  text.spec = "notes.txt";
  text.text = "hello";
  expect(apps::FinetuneOptions{}, text, "'notes.txt' is text data; the base vae model was trained on images");
  // A model that neither takes gradient steps nor continues its own fit.
  auto copula = create_model("copula", {}, {});
  data::Source table = table_source({0.0, 1.0, 2.0, 3.0, 5.0, 4.0, 2.5, 1.5});
  fit_source(*copula, table, test::quiet());
  save_model(*copula, dir.file("copula.gf"));
  try {
    apps::finetune(dir.file("copula.gf"), table, {}, test::quiet());
    ADD_FAILURE() << "no error";
  } catch (const NotSupported& e) {
    EXPECT_NE(std::string(e.what()).find("a copula model is not trained by gradient steps and cannot continue its fit"),
              std::string::npos);
    EXPECT_NE(e.hint().find("gmm, bgmm"), std::string::npos) << e.hint();  // the hint names who can
  }
}

TEST(Finetune, EstimatorModelsContinueTheirOwnFit) {
  // gmm (and bgmm, hmm, lda) are Updatable: finetune runs their update through the base's own input pipeline --
  // the same parameters as loading the base and calling update on the encoded rows.
  test::TempDir dir;
  std::vector<double> first, second;
  auto gen = make_generator(3);
  auto a = torch::randn({200}, gen, torch::kFloat64), b = torch::randn({150}, gen, torch::kFloat64) * 2 + 1;
  first.assign(a.data_ptr<double>(), a.data_ptr<double>() + 200);
  second.assign(b.data_ptr<double>(), b.data_ptr<double>() + 150);
  auto gmm = create_model("gmm", {}, {{"n_components", "2"}, {"standardize", "true"}});
  fit_source(*gmm, table_source(first), test::quiet());
  save_model(*gmm, dir.file("gmm.gf"));
  apps::FinetuneOptions o;
  o.settings = {{"max_iter", "50"}};
  auto result = apps::finetune(dir.file("gmm.gf"), table_source(second), o, test::quiet());
  EXPECT_EQ(result.record["method"], "EM from the current parameters (warm start)");
  EXPECT_EQ(result.record["parent"]["kind"], "gmm");
  EXPECT_TRUE(result.report.extra.contains("finetune"));
  auto direct = load_model(dir.file("gmm.gf"), "", {{"max_iter", "50"}});
  const auto encoded = pipeline_of(*direct).transform(table_source(second));  // the base's standardisation
  dynamic_cast<Updatable&>(*direct).update(encoded, test::quiet());
  EXPECT_TRUE(torch::equal(dynamic_cast<const GaussianMixture&>(*result.model).means(),
                           dynamic_cast<const GaussianMixture&>(*direct).means()));
  EXPECT_FALSE(torch::equal(dynamic_cast<const GaussianMixture&>(*result.model).means(),
                            dynamic_cast<const GaussianMixture&>(*gmm).means()));
  // Flags that pick weights for gradient steps, and run directories, are refused.
  apps::FinetuneOptions frozen;
  frozen.freeze = {"means"};
  test::expect_error_message([&] { apps::finetune(dir.file("gmm.gf"), table_source(second), frozen, test::quiet()); },
                             "a gmm model is trained further by EM from the current parameters (warm start)");
  apps::FinetuneOptions with_run_dir;
  with_run_dir.settings = {{"run_dir", dir.file("run")}};
  test::expect_error_message(
      [&] { apps::finetune(dir.file("gmm.gf"), table_source(second), with_run_dir, test::quiet()); },
      "a gmm model trains without a run directory");
}


TEST(Finetune, GptLoraTrainsTheAdaptersAloneAndMergesIntoTheSameFunction) {
  test::TempDir dir;
  auto base = base_gpt(dir);
  const data::Source new_text = text_source(std::string(300, 'b') + " the cat sat. ");
  apps::FinetuneOptions o;
  o.lora = "rank=2,alpha=4,targets=attn_c_attn,attn_c_proj";
  o.settings = {{"max_steps", "40"}, {"lr", "1e-2"}};
  auto r = apps::finetune(dir.file("gpt.gf"), new_text, o, test::quiet());
  auto& gpt = dynamic_cast<Gpt&>(*r.model);
  // One layer of width 16: c_attn A [2, 16] + B [48, 2], attn_proj A [2, 16] + B [16, 2].
  EXPECT_EQ(gpt.adapter_parameters(), 32 + 96 + 32 + 32);
  EXPECT_EQ(r.record["phases"][0]["trained"]["parameters"], 192);
  const TensorMap before = base->state(), after = gpt.state();
  for (const auto& [name, t] : before) {
    if (t.is_floating_point()) { EXPECT_TRUE(torch::equal(t, after.at(name))) << name << " changed"; }
  }
  const Dataset ids = prepare(gpt, new_text), base_ids = prepare(*base, new_text);
  EXPECT_GT(gpt.score_samples(ids.x).mean().item<double>(), base->score_samples(base_ids.x).mean().item<double>());
  // Merging keeps the function: logits to float rounding, generation (through the merged CPU kernels) exactly.
  auto idx = ids.x.reshape({1, -1}).slice(1, 0, 16);
  const auto logits = gpt.logits(idx);
  GenerateOptions g;
  g.max_tokens = 20;
  auto gen = make_generator(5);
  const auto text = gpt.generate({}, g, gen);
  save_model(gpt, dir.file("lora.gf"));
  auto merged = load_model(dir.file("lora.gf"));
  auto& m = dynamic_cast<Gpt&>(*merged);
  m.merge_adapters();
  EXPECT_EQ(m.adapter_parameters(), 0);
  EXPECT_TRUE(test::all_close(m.logits(idx), logits, 1e-5, 1e-5));
  auto gen2 = make_generator(5);
  EXPECT_TRUE(torch::equal(m.generate({}, g, gen2), text));
  // --lora on a model without adapters, with --train-only, or badly written.
  auto vae_path = trained_vae(dir);
  apps::FinetuneOptions bad;
  bad.lora = "rank=2";
  bad.new_head = "classes=2";  // a classifier has no adapters
  EXPECT_THROW(apps::finetune(vae_path, image_source(8, 1), bad, test::quiet()), NotSupported);
  bad.new_head.clear();
  bad.train_only = {"h0_*"};
  EXPECT_THROW(apps::finetune(dir.file("gpt.gf"), new_text, bad, test::quiet()), InvalidArgument);
  bad.train_only.clear();
  bad.lora = "alpha=2";
  EXPECT_THROW(apps::finetune(dir.file("gpt.gf"), new_text, bad, test::quiet()), InvalidArgument);
}


TEST(Finetune, GanWithBatchNormTrainsOnlyTheNamedLayerAndLeavesBothGroupsUsable) {
  // Two optimizer groups, one left without trainable parameters, and integer / running-statistics buffers.
  auto model = create_model("gan", {}, {{"max_steps", "3"}, {"batch_size", "8"}, {"width", "8"}, {"latent", "4"},
                                        {"checkpoint_every", "0"}});
  fit_source(*model, image_source(16, 1, 28), test::quiet());
  test::TempDir dir;
  save_model(*model, dir.file("gan.gf"));
  apps::FinetuneOptions o;
  o.train_only = {"generator.9.*"};
  o.settings = {{"max_steps", "3"}};
  auto r = apps::finetune(dir.file("gan.gf"), image_source(16, 2, 28), o, test::quiet());
  const TensorMap before = model->state(), after = r.model->state();
  EXPECT_FALSE(torch::equal(before.at("generator.9.weight"), after.at("generator.9.weight")));
  for (const char* name : {"generator.0.weight", "generator.1.weight", "discriminator.0.weight", "discriminator.8.weight"}) {
    EXPECT_TRUE(torch::equal(before.at(name), after.at(name))) << name;
  }
  // The fine-tuned model trains again as a whole (no parameter left without gradients).
  apps::FinetuneOptions all;
  all.settings = {{"max_steps", "2"}};
  auto again = apps::finetune(dir.file("gan.gf"), image_source(16, 2, 28), all, test::quiet());
  EXPECT_FALSE(torch::equal(before.at("discriminator.0.weight"), again.model->state().at("discriminator.0.weight")));
}

// LoRA on the linear layers of a VAE and an MLP GAN: the base weights stay bit for bit, the adapters train, and
// merging them gives the same function (VAE codes and decodings, GAN samples).
TEST(Finetune, VaeAndMlpGanLoraTrainTheAdaptersAloneAndMergeIntoTheSameFunction) {
  test::TempDir dir;
  const std::string vae_path = trained_vae(dir);
  auto gan = create_model("gan", {}, {{"architecture", "mlp"}, {"hidden", "16"}, {"latent", "4"}, {"max_steps", "10"},
                                      {"batch_size", "16"}, {"checkpoint_every", "0"}});
  fit_source(*gan, image_source(48, 1), test::quiet());
  save_model(*gan, dir.file("gan.gf"));
  for (const std::string& base_path : {vae_path, dir.file("gan.gf")}) {
    SCOPED_TRACE(base_path);
    const auto base = load_model(base_path);
    apps::FinetuneOptions o;
    o.lora = base->kind() == "vae" ? "rank=2,alpha=4,targets=codec.fc1,codec.fc4" : "rank=2,alpha=4";
    o.settings = {{"max_steps", "15"}, {"lr", "1e-2"}};
    auto r = apps::finetune(base_path, image_source(32, 2), o, test::quiet());
    auto& adapted = dynamic_cast<AdaptedModel&>(*r.model);
    // VAE: fc1 [32, 64] and fc4 [64, 32] with rank 2: (2*64 + 32*2) + (2*32 + 64*2). GAN: the six linear layers.
    // Generator 4-16-16-64: (8 + 32) + (32 + 32) + (32 + 128); discriminator 64-16-16-1: (128 + 32) + 64 + (32 + 2).
    const int64_t want = base->kind() == "vae" ? 384 : 264 + 258;
    EXPECT_EQ(adapted.adapter_parameters(), want);
    const TensorMap before = base->state(), after = r.model->state();
    int64_t adapters_trained = 0;
    for (const auto& [name, t] : after) {
      if (name.find("lora_") != std::string::npos) {
        adapters_trained += name.find("lora_B") != std::string::npos && t.abs().sum().item<double>() > 0;
      } else if (t.is_floating_point() && name.rfind("meta/", 0) != 0) {
        EXPECT_TRUE(torch::equal(t, before.at(name))) << name << " changed";
      }
    }
    EXPECT_GT(adapters_trained, 0);
    save_model(*r.model, dir.file("lora.gf"));
    auto merged = load_model(dir.file("lora.gf"));
    dynamic_cast<AdaptedModel&>(*merged).merge_adapters();
    EXPECT_EQ(dynamic_cast<AdaptedModel&>(*merged).adapter_parameters(), 0);
    for (const auto& [name, t] : merged->state()) EXPECT_EQ(name.find("lora_"), std::string::npos) << name;
    auto g1 = make_generator(3), g2 = make_generator(3);
    EXPECT_TRUE(test::all_close(merged->sample(6, g1), r.model->sample(6, g2), 1e-5, 1e-5));
    if (base->kind() == "vae") {
      const Dataset d = prepare(*merged, image_source(6, 3));
      EXPECT_TRUE(test::all_close(merged->transform(d.x), r.model->transform(d.x), 1e-5, 1e-5));
    }
  }
  // A DCGAN has no linear layers to adapt.
  auto dcgan = create_model("gan", {}, {{"lora_rank", "2"}});
  EXPECT_THROW(fit_source(*dcgan, image_source(8, 1), test::quiet()), InvalidArgument);
}

}  // namespace
}  // namespace gf
