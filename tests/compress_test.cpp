// Lossless compression: the arithmetic coder on random and extreme distributions, round trips of every coder path
// (built-in order-k model, GPT on text, PixelCNN on IDX and .npy images) on random, empty, one-byte and adversarial
// inputs, independence from the thread count, the coding overhead against the model's own cross-entropy, and the
// container's checks (damaged, truncated, wrong model).
#include <gtest/gtest.h>

#include <random>

#include "apps/compress/arithmetic_coder.h"
#include "apps/compress/container.h"
#include "genforge/apps/compress.h"
#include "genforge/core/error.h"
#include "genforge/core/random.h"
#include "genforge/core/runtime.h"
#include "genforge/registry.h"
#include "genforge/workflow.h"
#include "support/support.h"

namespace gf {
namespace {

using apps::CompressOptions;
using apps::CompressReport;

CompressOptions quiet_options() {
  CompressOptions o;
  o.progress = false;
  return o;
}

std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

const std::string& sample_text() {
  static const std::string text = [] {
    std::string t;
    const char* words[] = {"the ", "cat ", "sat ", "on ", "a ", "mat ", "and ", "dog ", "ran ", "far.\n"};
    std::mt19937 rng(5);
    for (int i = 0; i < 1500; ++i) t += words[rng() % 10];
    return t;
  }();
  return text;
}

TEST(ArithmeticCoder, RoundTripsRandomAndExtremeDistributions) {
  std::mt19937 rng(1);
  for (int64_t v : {2, 3, 17, 256, 5000}) {
    // Per position a random distribution: some peaked (one symbol near 1), some flat; symbols drawn from it, and
    // now and then a symbol the model gave (almost) no probability.
    const int n = 2000;
    std::vector<coding::Frequencies> tables(n);
    std::vector<int64_t> symbols(n);
    for (int i = 0; i < n; ++i) {
      std::vector<double> p(static_cast<size_t>(v));
      for (auto& x : p) x = std::exp(std::uniform_real_distribution<double>(-30, 0)(rng));
      if (i % 3 == 0) p[static_cast<size_t>(rng() % v)] = 1e9;
      coding::quantise_probabilities(p.data(), v, tables[static_cast<size_t>(i)]);
      ASSERT_LE(tables[static_cast<size_t>(i)].total(), coding::kMaxTotal);
      symbols[static_cast<size_t>(i)] = static_cast<int64_t>(rng() % v);
    }
    std::string out;
    coding::Encoder enc(out);
    for (int i = 0; i < n; ++i) enc.encode(tables[static_cast<size_t>(i)], symbols[static_cast<size_t>(i)]);
    enc.finish();
    coding::Decoder dec(reinterpret_cast<const uint8_t*>(out.data()), out.size());
    for (int i = 0; i < n; ++i) ASSERT_EQ(dec.decode(tables[static_cast<size_t>(i)]), symbols[static_cast<size_t>(i)]) << v << " " << i;
  }
}

TEST(ArithmeticCoder, EverySymbolKeepsAFrequencyAndTheSizeMatchesTheEntropy) {
  // Scores of -inf and NaN still leave every symbol codable.
  std::vector<float> scores = {0.f, -INFINITY, NAN, 3.f};
  coding::Frequencies f;
  coding::quantise_scores(scores.data(), 4, f);
  for (int s = 0; s < 4; ++s) EXPECT_GE(f.cum[static_cast<size_t>(s + 1)] - f.cum[static_cast<size_t>(s)], 1u);
  // 100000 draws from a fixed distribution cost their entropy within 0.1 %.
  std::vector<double> p = {0.5, 0.25, 0.125, 0.0625, 0.0625};
  coding::quantise_probabilities(p.data(), 5, f);
  std::mt19937 rng(2);
  std::discrete_distribution<int> draw(p.begin(), p.end());
  std::string out;
  coding::Encoder enc(out);
  double bits = 0;
  for (int i = 0; i < 100000; ++i) {
    const int s = draw(rng);
    bits -= std::log2(p[static_cast<size_t>(s)]);
    enc.encode(f, s);
  }
  enc.finish();
  EXPECT_NEAR(8.0 * static_cast<double>(out.size()) / bits, 1.0, 1e-3);
}

TEST(Compress, BuiltInModelRoundTripsAnyBytes) {
  const std::vector<std::string> inputs = {"", "x", std::string(1, '\0'), std::string(100000, '\0'),
                                           std::string(5000, '\xff'), random_bytes(70000, 3), sample_text(),
                                           std::string("ab").append(std::string(3000, 'a')).append(random_bytes(9, 4))};
  for (int order : {0, 2, 4, 7}) {
    for (const auto& in : inputs) {
      CompressOptions o = quiet_options();
      o.order = order;
      CompressReport r;
      const std::string packed = apps::compress_bytes(nullptr, "", in, o, &r);
      ASSERT_EQ(apps::decompress_bytes(nullptr, "", packed, o), in) << "order " << order << ", " << in.size() << " bytes";
      EXPECT_EQ(r.original_bytes, static_cast<int64_t>(in.size()));
      EXPECT_EQ(r.compressed_bytes, static_cast<int64_t>(packed.size()));
    }
  }
  // Random bytes do not grow by more than the header and a fraction of a percent; text shrinks well below 3 bits
  // per byte with order 4.
  CompressReport r;
  apps::compress_bytes(nullptr, "", random_bytes(70000, 3), quiet_options(), &r);
  EXPECT_EQ(r.coder, "stored");
  EXPECT_LT(r.compressed_bytes, 70000 + 400);
  apps::compress_bytes(nullptr, "", sample_text(), quiet_options(), &r);
  EXPECT_LT(8.0 * static_cast<double>(r.compressed_bytes) / static_cast<double>(r.original_bytes), 1.5);
}

TEST(Compress, DamagedTruncatedAndForeignStreamsGetClearErrors) {
  const std::string in = sample_text();
  const std::string packed = apps::compress_bytes(nullptr, "", in, quiet_options());
  auto expect_error = [&](const std::string& bytes, const std::string& words) {
    try {
      apps::decompress_bytes(nullptr, "", bytes, quiet_options());
      ADD_FAILURE() << "no error for " << words;
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
      EXPECT_FALSE(e.hint().empty());
    }
  };
  expect_error("hello", "not a genforge compressed stream");
  expect_error(packed.substr(0, 10), "truncated");
  expect_error(packed.substr(0, 40), "truncated");
  expect_error(packed.substr(0, packed.size() - 20), "truncated");
  expect_error(packed + "x", "after its coded groups");
  std::string header_flip = packed;
  header_flip[20] = static_cast<char>(header_flip[20] ^ 0x10);
  expect_error(header_flip, "header is damaged");
  std::string version = packed;
  version[4] = 9;
  expect_error(version, "format version 9");
  // A header (with a valid CRC) that claims more symbols than the payload can hold is refused before allocating.
  size_t offset = 0;
  auto header = coding::read_container(packed, &offset);
  header["symbols"] = int64_t{1} << 34;
  header["original_bytes"] = int64_t{1} << 35;
  expect_error(coding::write_container(header, packed.substr(offset)), "payload bytes can hold");
  // Every damaged payload byte is caught by the CRC-32 (or decodes to the same data), never a crash.
  for (size_t at = packed.size() - 200; at < packed.size(); at += 7) {
    std::string damaged = packed;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5A);
    expect_error(damaged, "fails its check");
  }
}

// A small character GPT with its pipeline, trained briefly on the sample text.
std::unique_ptr<Model> text_model(const std::string& tokenizer) {
  auto model = create_model("gpt", {}, {{"n_layer", "2"}, {"n_head", "2"}, {"n_embd", "32"}, {"block_size", "32"},
                                        {"max_steps", "120"}, {"batch_size", "16"}, {"lr", "3e-3"},
                                        {"checkpoint_every", "0"}, {"tokenizer", tokenizer}, {"vocab_size", "300"}});
  data::Source source;
  source.form = DataKind::text;
  source.spec = "sample text";
  source.text = sample_text();
  fit_source(*model, source, test::quiet());
  return model;
}

TEST(Compress, GptRoundTripsTextWhateverTheThreadCount) {
  auto model = text_model("char");
  const int before = threads();
  for (int64_t segment : {0, 100}) {
    CompressOptions o = quiet_options();
    o.segment_length = segment;
    o.batch = 3;
    for (const std::string& in : {sample_text().substr(0, 3000), std::string("a"), std::string()}) {
      set_threads(2);
      CompressReport r;
      const std::string packed = apps::compress_bytes(model.get(), "sha", in, o, &r);
      set_threads(1);
      EXPECT_EQ(apps::decompress_bytes(model.get(), "sha", packed, o), in);
      if (in.size() == 3000) {
        // The model learned the text (far below 8 bits per character) and the coder spends what the model says.
        EXPECT_LT(r.model_bits / 3000, 3.0);
        EXPECT_LT(r.payload_bits, 1.005 * r.model_bits + 32.0 * ((2999 / std::max<int64_t>(segment, 4096) + o.batch) / o.batch));
      }
    }
  }
  set_threads(before);
  // The coder's probabilities are the model's: its cross-entropy equals minus the log-likelihood of the same
  // windows (one segment shorter than the block, so both see the same contexts).
  const std::string in = sample_text().substr(0, 30);
  CompressReport r;
  apps::compress_bytes(model.get(), "sha", in, quiet_options(), &r);
  const Dataset ids = prepare(*model, [&] {
    data::Source s;
    s.form = DataKind::text;
    s.text = in;
    return s;
  }());
  EXPECT_NEAR(r.model_bits, -model->score_samples(ids.x).sum().item<double>() / std::log(2.0), 1e-2);
}

TEST(Compress, GptStreamsErrorsOnTextTheTokenizerCannotGiveBackAndOnTheWrongModel) {
  auto model = text_model("char");
  try {
    apps::compress_bytes(model.get(), "sha", "text with a Z and a \x01", quiet_options());
    FAIL() << "no error";
  } catch (const DataError& e) {
    EXPECT_NE(e.hint().find("byte-level"), std::string::npos) << e.hint();
  }
  const std::string packed = apps::compress_bytes(model.get(), "sha", "the cat", quiet_options());
  EXPECT_THROW(apps::decompress_bytes(model.get(), "other", packed, quiet_options()), DataError);
  EXPECT_THROW(apps::decompress_bytes(nullptr, "", packed, quiet_options()), DataError);
  // A built-in stream given a model, and a model that does not predict symbols.
  const std::string builtin = apps::compress_bytes(nullptr, "", "the cat", quiet_options());
  EXPECT_THROW(apps::decompress_bytes(model.get(), "sha", builtin, quiet_options()), DataError);
  auto bpe = text_model("bpe");
  const std::string any = "any bytes: \x01\x02 Zürich";
  EXPECT_EQ(apps::decompress_bytes(bpe.get(), "s", apps::compress_bytes(bpe.get(), "s", any, quiet_options()),
                                   quiet_options()),
            any);
}

// IDX bytes of uint8 images [N, H, W].
std::string compress_idx_bytes(const torch::Tensor& images) {
  std::string out = {0, 0, 0x08, 3};
  for (int64_t d : images.sizes()) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((d >> s) & 0xFF));
  }
  auto c = images.contiguous();
  out.append(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), static_cast<size_t>(c.numel()));
  return out;
}

std::unique_ptr<Model> image_model(const std::string& output, const torch::Tensor& images) {
  auto model = create_model("pixelcnn", {}, {{"layers", "1"}, {"hidden", "8"}, {"max_steps", "3"},
                                             {"batch_size", "8"}, {"output", output}, {"checkpoint_every", "0"}});
  data::Source source;
  source.form = DataKind::images;
  source.spec = "images";
  source.images.images = images;
  fit_source(*model, source, test::quiet());
  return model;
}

TEST(Compress, PixelCnnRoundTripsIdxAndNpyImages) {
  auto gen = make_generator(4);
  auto grey = torch::randint(0, 256, {5, 1, 6, 7}, gen).to(torch::kUInt8);
  for (const std::string output : {"softmax", "logistic_mixture"}) {
    auto model = image_model(output, grey);
    CompressOptions o = quiet_options();
    o.batch = 2;
    const std::string in = compress_idx_bytes(grey.squeeze(1));
    set_threads(2);
    CompressReport r;
    const std::string packed = apps::compress_bytes(model.get(), "sha", in, o, &r);
    set_threads(1);
    EXPECT_EQ(apps::decompress_bytes(model.get(), "sha", packed, o), in) << output;
    EXPECT_EQ(r.symbols, 5 * 42);
    // The coder's bits are the model's exact log-likelihood of the images.
    EXPECT_NEAR(r.model_bits,
                -model->score_samples(grey.to(torch::kFloat32) / 255.0).sum().item<double>() / std::log(2.0),
                1e-3 * r.model_bits);
  }
  set_threads(default_threads());
  {  // no images at all, and one image
    auto model = image_model("softmax", grey);
    for (int64_t n : {0, 1}) {
      const std::string in = compress_idx_bytes(grey.squeeze(1).slice(0, 0, n));
      EXPECT_EQ(apps::decompress_bytes(model.get(), "s", apps::compress_bytes(model.get(), "s", in, quiet_options()),
                                       quiet_options()),
                in) << n << " images";
    }
  }
  // Colour images as .npy uint8, channels first [N, 3, H, W] and channels last [N, H, W, 3].
  auto colour = torch::randint(0, 256, {3, 3, 4, 5}, gen).to(torch::kUInt8);
  auto rgb = image_model("softmax", colour);
  for (bool last : {false, true}) {
    auto array = last ? colour.permute({0, 2, 3, 1}).contiguous() : colour;
    std::string dims;
    for (int64_t d : array.sizes()) dims += std::to_string(d) + ", ";
    std::string text = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + dims.substr(0, dims.size() - 2) + "), }";
    text.resize(118, ' ');
    text += '\n';
    std::string in = std::string("\x93NUMPY\x01\x00", 8) + std::string(1, static_cast<char>(text.size())) + '\0' + text;
    in.append(reinterpret_cast<const char*>(array.data_ptr<uint8_t>()), static_cast<size_t>(array.numel()));
    EXPECT_EQ(apps::decompress_bytes(rgb.get(), "s", apps::compress_bytes(rgb.get(), "s", in, quiet_options()),
                                     quiet_options()),
              in) << "channels last " << last;
  }
  // A binary model codes 0/255 images and refuses grey levels; a wrong shape is refused.
  auto binary = (torch::randint(0, 2, {4, 1, 5, 5}, gen) * 255).to(torch::kUInt8);
  auto model = image_model("bernoulli", binary);
  const std::string in = compress_idx_bytes(binary.squeeze(1));
  EXPECT_EQ(apps::decompress_bytes(model.get(), "s", apps::compress_bytes(model.get(), "s", in, quiet_options()),
                                   quiet_options()),
            in);
  EXPECT_THROW(apps::compress_bytes(model.get(), "s", compress_idx_bytes(grey.squeeze(1).slice(1, 0, 5).slice(2, 0, 5)),
                                    quiet_options()),
               DataError);
  EXPECT_THROW(apps::compress_bytes(model.get(), "s", compress_idx_bytes(binary.squeeze(1).slice(1, 0, 4)), quiet_options()),
               DataError);
  EXPECT_THROW(apps::compress_bytes(model.get(), "s", "plain text", quiet_options()), DataError);
  auto grey_binary = binary.clone();
  grey_binary[0][0][0][0] = 128;
  EXPECT_THROW(apps::compress_bytes(model.get(), "s", compress_idx_bytes(grey_binary.squeeze(1)), quiet_options()), DataError);
}


TEST(Compress, CategoricalHmmRoundTripsLinesOfSymbols) {
  // Two regimes: runs of 'a'/'b' and runs of 'c'/'d'; sequences are lines.
  std::mt19937 rng(7);
  std::string csv = "id,symbol\n", lines;
  for (int seq = 0; seq < 40; ++seq) {
    std::string line;
    int regime = 0;
    for (int t = 0; t < 30; ++t) {
      if (rng() % 8 == 0) regime ^= 1;
      const char c = static_cast<char>('a' + 2 * regime + static_cast<int>(rng() % 2));
      csv += std::to_string(seq) + "," + std::string(1, c) + "\n";
      line += c;
    }
    lines += line + "\n";
  }
  test::TempDir dir;
  test::write_text(dir.file("seq.csv"), csv);
  auto model = create_model("hmm", {}, {{"emission", "categorical"}, {"n_components", "2"}, {"categorical", "ordinal"},
                                        {"sequence_column", "id"}});
  fit_source(*model, data::load_source(dir.file("seq.csv"), DataKind::sequences), test::quiet());
  for (const std::string& in : {lines, lines.substr(0, lines.size() - 1), std::string("\n\nab\n"), std::string()}) {
    CompressReport r;
    const std::string packed = apps::compress_bytes(model.get(), "h", in, quiet_options(), &r);
    EXPECT_EQ(apps::decompress_bytes(model.get(), "h", packed, quiet_options()), in);
  }
  // The coder's bits are the HMM's exact log-likelihood of the sequences.
  CompressReport r;
  apps::compress_bytes(model.get(), "h", lines, quiet_options(), &r);
  const Dataset d = prepare(*model, data::load_source(dir.file("seq.csv"), DataKind::sequences));
  const auto& hmm = dynamic_cast<const SequenceScorer&>(*model);
  EXPECT_NEAR(r.model_bits, -hmm.score_sequences(d.x, d.lengths).sum().item<double>() / std::log(2.0), 1e-6 * r.model_bits);
  EXPECT_LT(r.model_bits / 1200, 1.6);  // the regimes make it well below log2(4) = 2 bits per symbol
  EXPECT_THROW(apps::compress_bytes(model.get(), "h", "abx\n", quiet_options()), DataError);
}

}  // namespace
}  // namespace gf
