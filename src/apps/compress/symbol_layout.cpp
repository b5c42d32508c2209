#include "symbol_layout.h"

#include <algorithm>
#include <cstring>

#include "context_model.h"
#include "genforge/core/error.h"
#include "genforge/data/pipeline.h"
#include "genforge/model_interfaces.h"
#include "genforge/workflow.h"

namespace gf::coding {
namespace {

constexpr int64_t kMaxOriginal = int64_t{1} << 36;  // 64 GiB: a header claiming more is refused before allocating
const char* kDamaged = "the file is damaged; compress the original again";

const SymbolPredictor& predictor_of(const Model& model) { return dynamic_cast<const SymbolPredictor&>(model); }

// Streams of `length` symbols each (the last shorter) over n symbols.
void split_streams(SymbolLayout& l, int64_t n, int64_t length) {
  l.offsets.assign(1, 0);
  for (int64_t at = 0; at < n; at += length) l.offsets.push_back(std::min(n, at + length));
}

uint32_t big_endian_u32(const std::string& b, size_t at) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(b[at])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(b[at + 2])) << 8) | static_cast<uint32_t>(static_cast<uint8_t>(b[at + 3]));
}

// The header length and shape of an IDX (unsigned bytes) or .npy (uint8, C order) file; else a DataError.
std::vector<int64_t> image_file_shape(const std::string& b, std::string* format, size_t* header_length) {
  const char* hint = "give Fashion-MNIST-style IDX images (unsigned bytes, [N, H, W]) or a .npy array of uint8";
  if (b.size() >= 6 && std::memcmp(b.data(), "\x93NUMPY", 6) == 0) {
    *format = "npy";
    GF_CHECK_AS(DataError, b.size() >= 10, hint, "the .npy file is truncated");
    const int major = static_cast<uint8_t>(b[6]);
    const size_t length_bytes = major == 1 ? 2 : 4, start = 8 + length_bytes;
    GF_CHECK_AS(DataError, b.size() >= start, hint, "the .npy file is truncated");
    size_t text_length = 0;
    for (size_t i = 0; i < length_bytes; ++i) text_length |= static_cast<size_t>(static_cast<uint8_t>(b[8 + i])) << (8 * i);
    GF_CHECK_AS(DataError, b.size() >= start + text_length, hint, "the .npy file is truncated in its header");
    const std::string text = b.substr(start, text_length);
    GF_CHECK_AS(DataError, text.find("'descr': '|u1'") != std::string::npos || text.find("'descr': '<u1'") != std::string::npos,
                hint, "the .npy array is not of uint8 (", text, ")");
    GF_CHECK_AS(DataError, text.find("'fortran_order': False") != std::string::npos, hint,
                "the .npy array is in Fortran order");
    const size_t open = text.find('(', text.find("'shape'")), close = text.find(')', open);
    GF_CHECK_AS(DataError, open != std::string::npos && close != std::string::npos, hint, "the .npy header has no shape");
    std::vector<int64_t> shape;
    std::string digits;
    for (size_t i = open + 1; i <= close; ++i) {
      if (std::isdigit(static_cast<unsigned char>(text[i]))) {
        digits += text[i];
      } else if (!digits.empty()) {
        GF_CHECK_AS(DataError, digits.size() < 12, hint, "the .npy shape is too large");
        shape.push_back(std::stoll(digits));
        digits.clear();
      }
    }
    *header_length = start + text_length;
    return shape;
  }
  GF_CHECK_AS(DataError, b.size() >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0x08, hint,
              "not an IDX file of unsigned bytes nor a .npy file");
  *format = "idx";
  const int dims = static_cast<uint8_t>(b[3]);
  GF_CHECK_AS(DataError, dims >= 1 && b.size() >= 4 + 4 * static_cast<size_t>(dims), hint, "the IDX header is truncated");
  std::vector<int64_t> shape;
  for (int d = 0; d < dims; ++d) shape.push_back(big_endian_u32(b, 4 + 4 * static_cast<size_t>(d)));
  *header_length = 4 + 4 * static_cast<size_t>(dims);
  return shape;
}

void image_geometry(const Model& model, SymbolLayout& l) {
  const auto& shape = pipeline_of(model).image_shape();
  GF_CHECK_AS(NotSupported, shape.size() == 3, "train the model with `genforge train` on images",
              "the model records no image shape, so it cannot code image files");
  l.channels = shape[0], l.height = shape[1], l.width = shape[2];
  l.alphabet = predictor_of(model).alphabet_size();
  l.per_step = l.channels;
  GF_CHECK_AS(NotSupported, l.alphabet >= 2 && 255 % (l.alphabet - 1) == 0,
              "train the PixelCNN with n_bins = 256 (8-bit pixels)",
              "the model has ", l.alphabet, " levels per pixel, which do not map onto bytes 0 .. 255");
  l.level_step = 255 / (l.alphabet - 1);
}

// Byte offset (after the prefix) of image n's step t, channel c.
int64_t pixel_offset(const SymbolLayout& l, int64_t n, int64_t t, int64_t c) {
  const int64_t hw = l.height * l.width;
  return l.channels_last ? (n * hw + t) * l.channels + c : (n * l.channels + c) * hw + t;
}

void image_streams(SymbolLayout& l, int64_t n_images) {
  const int64_t per_image = l.height * l.width * l.channels;
  split_streams(l, n_images * per_image, per_image);
}

// Line lengths as LEB128 varints, coded by the built-in order-2 model.
std::string pack_lengths(const std::vector<int64_t>& offsets) {
  std::string varints;
  for (size_t s = 1; s < offsets.size(); ++s) {
    uint64_t n = static_cast<uint64_t>(offsets[s] - offsets[s - 1]);
    do {
      varints.push_back(static_cast<char>((n & 0x7F) | (n > 0x7F ? 0x80 : 0)));
      n >>= 7;
    } while (n > 0);
  }
  std::string out;
  Encoder enc(out);
  ContextModel model(2);
  Frequencies f;
  for (char c : varints) {
    model.predict(f);
    enc.encode(f, static_cast<uint8_t>(c));
    model.update(static_cast<uint8_t>(c));
  }
  enc.finish();
  return out;
}

std::vector<int64_t> unpack_offsets(const std::string& side, int64_t lines, int64_t symbols) {
  Decoder dec(reinterpret_cast<const uint8_t*>(side.data()), side.size());
  ContextModel model(2);
  Frequencies f;
  std::vector<int64_t> offsets{0};
  for (int64_t s = 0; s < lines; ++s) {
    uint64_t n = 0;
    for (int shift = 0;; shift += 7) {
      model.predict(f);
      const auto byte = static_cast<uint8_t>(dec.decode(f));
      model.update(byte);
      GF_CHECK_AS(DataError, shift < 63, kDamaged, "the compressed stream's line lengths are damaged");
      n |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) break;
    }
    GF_CHECK_AS(DataError, n <= static_cast<uint64_t>(symbols - offsets.back()), kDamaged,
                "the compressed stream's line lengths are damaged");
    offsets.push_back(offsets.back() + static_cast<int64_t>(n));
  }
  GF_CHECK_AS(DataError, offsets.back() == symbols, kDamaged, "the compressed stream's line lengths are damaged");
  return offsets;
}

// The single-character symbols of a sequence model (one categorical column, ordinal codes).
void line_symbols(const Model& model, SymbolLayout& l) {
  const auto& encoders = pipeline_of(model).encoders();
  const char* hint = "train the HMM on the text's characters (genforge train hmm --data FILE.txt --emission "
                     "categorical) to code text lines";
  GF_CHECK_AS(NotSupported, encoders.size() == 1 && encoders[0].encoding == "ordinal", hint,
              "lossless coding of lines needs a model of one categorical column");
  l.alphabet = predictor_of(model).alphabet_size();
  l.symbol_bytes.clear();
  for (const auto& c : encoders[0].categories) {
    GF_CHECK_AS(NotSupported, c.size() == 1 && c != "\n", hint, "the category '", c, "' is not a single character");
    l.symbol_bytes += c;
  }
  GF_CHECK_AS(NotSupported, static_cast<int64_t>(l.symbol_bytes.size()) <= l.alphabet, hint,
              "the model has fewer symbols than its column has categories");
}

}  // namespace

nlohmann::json SymbolLayout::header() const {
  nlohmann::json j;
  j["format"] = format;
  j["symbols"] = total_symbols();
  j["alphabet"] = alphabet;
  if (format == "text") j["segment_length"] = segment_length;
  if (format == "idx" || format == "npy") {
    j["prefix"] = std::vector<uint8_t>(prefix.begin(), prefix.end());
    j["image"] = {channels, height, width};
    j["channels_last"] = channels_last;
  }
  if (format == "bytes") j["order"] = order;
  if (format == "lines") {
    j["symbol_bytes"] = std::vector<uint8_t>(symbol_bytes.begin(), symbol_bytes.end());
    j["lines"] = n_streams();
    j["trailing_newline"] = trailing_newline;
  }
  return j;
}

std::string SymbolLayout::rebuild() const {
  if (format == "text") return tokenizer->decode(data);
  if (format == "lines") {
    std::string out;
    for (int64_t s = 0; s < n_streams(); ++s) {
      if (s > 0) out += '\n';
      for (int64_t i = offsets[static_cast<size_t>(s)]; i < offsets[static_cast<size_t>(s + 1)]; ++i) {
        out += symbol_bytes[static_cast<size_t>(data[static_cast<size_t>(i)])];
      }
    }
    if (trailing_newline) out += '\n';
    return out;
  }
  if (format == "bytes") {
    std::string out(data.size(), '\0');
    for (size_t i = 0; i < data.size(); ++i) out[i] = static_cast<char>(data[i]);
    return out;
  }
  std::string out = prefix;
  out.resize(prefix.size() + data.size());
  const int64_t hw = height * width;
  for (int64_t s = 0; s < n_streams(); ++s) {
    const int64_t* symbols = data.data() + offsets[static_cast<size_t>(s)];
    for (int64_t t = 0; t < hw; ++t) {
      for (int64_t c = 0; c < channels; ++c) {
        out[prefix.size() + static_cast<size_t>(pixel_offset(*this, s, t, c))] =
            static_cast<char>(symbols[t * channels + c] * level_step);
      }
    }
  }
  return out;
}

SymbolLayout layout_for(const Model* model, const std::string& bytes, const apps::CompressOptions& options) {
  SymbolLayout l;
  const auto n_bytes = static_cast<int64_t>(bytes.size());
  GF_CHECK_AS(DataError, n_bytes <= kMaxOriginal, "split the file", "the input has ", n_bytes,
              " bytes, more than the ", kMaxOriginal, " a stream holds");
  if (!model) {
    l.format = "bytes";
    l.order = options.order;
    l.data.assign(bytes.begin(), bytes.end());
    for (auto& v : l.data) v &= 0xFF;
    split_streams(l, n_bytes, std::max<int64_t>(n_bytes, 1));
    return l;
  }
  const DataKind kind = model->capabilities().data_kind;
  if (kind == DataKind::text) {
    l.format = "text";
    l.tokenizer = pipeline_of(*model).tokenizer();
    GF_CHECK_AS(NotSupported, l.tokenizer != nullptr, "train the model with `genforge train` on text",
                "the model has no tokenizer, so it cannot code text files");
    l.alphabet = predictor_of(*model).alphabet_size();
    const char* byte_level = "compress with a model whose tokenizer is byte-level (train with --tokenizer bpe or "
                             "unigram), or with no model (the built-in order-k model)";
    try {
      l.data = l.tokenizer->encode(bytes, "the input");
    } catch (const DataError& e) {
      throw DataError(e.what(), byte_level);
    }
    GF_CHECK_AS(DataError, l.tokenizer->decode(l.data) == bytes, byte_level, "the model's ", l.tokenizer->kind(),
                " tokenizer does not give the input back exactly");
    for (int64_t id : l.data) {
      GF_CHECK_AS(DataError, id >= 0 && id < l.alphabet, "", "token id ", id, " is outside the model's vocabulary of ",
                  l.alphabet);
    }
    const auto n = static_cast<int64_t>(l.data.size());
    l.segment_length = options.segment_length > 0 ? options.segment_length : std::max<int64_t>(4096, (n + 63) / 64);
    split_streams(l, n, l.segment_length);
    return l;
  }
  if (kind == DataKind::sequences) {
    l.format = "lines";
    line_symbols(*model, l);
    std::vector<int64_t> code(256, -1);
    for (size_t i = 0; i < l.symbol_bytes.size(); ++i) code[static_cast<uint8_t>(l.symbol_bytes[i])] = static_cast<int64_t>(i);
    std::string body = bytes;
    l.trailing_newline = !body.empty() && body.back() == '\n';
    if (l.trailing_newline) body.pop_back();
    l.offsets.assign(1, 0);
    int64_t line = 1;
    for (char ch : body) {
      if (ch == '\n') {
        l.offsets.push_back(static_cast<int64_t>(l.data.size()));
        ++line;
        continue;
      }
      const int64_t c = code[static_cast<uint8_t>(ch)];
      GF_CHECK_AS(DataError, c >= 0, "give lines of the model's symbols only",
                  "line ", line, " has the character '", std::string(1, ch), "', which is not one of the model's symbols");
      l.data.push_back(c);
    }
    if (!bytes.empty()) l.offsets.push_back(static_cast<int64_t>(l.data.size()));
    l.side = pack_lengths(l.offsets);
    return l;
  }
  GF_CHECK_AS(NotSupported, kind == DataKind::images, "compress text with a gpt, images with a pixelcnn",
              "lossless coding of ", to_string(kind), " data is not supported");
  image_geometry(*model, l);
  size_t header_length = 0;
  const auto shape = image_file_shape(bytes, &l.format, &header_length);
  const int64_t c = l.channels, h = l.height, w = l.width;
  const bool grey = shape.size() == 3 && c == 1 && shape[1] == h && shape[2] == w;
  const bool first = shape.size() == 4 && shape[1] == c && shape[2] == h && shape[3] == w;
  const bool last = shape.size() == 4 && shape[1] == h && shape[2] == w && shape[3] == c;
  std::string shape_text;
  for (int64_t d : shape) shape_text += (shape_text.empty() ? "" : " x ") + std::to_string(d);
  GF_CHECK_AS(DataError, grey || first || last, "give images of the shape the model was trained on",
              "the file holds images of shape ", shape_text, "; the model codes ", c, " x ", h, " x ", w);
  l.channels_last = last && !first;
  const int64_t n_images = shape[0], per_image = c * h * w;
  GF_CHECK_AS(DataError, static_cast<int64_t>(bytes.size() - header_length) == n_images * per_image,
              "the file is truncated or has trailing bytes", "the file has ", bytes.size() - header_length,
              " bytes of pixels for ", n_images, " images of ", per_image);
  l.prefix = bytes.substr(0, header_length);
  l.data.assign(static_cast<size_t>(n_images * per_image), 0);
  image_streams(l, n_images);
  for (int64_t n = 0; n < n_images; ++n) {
    int64_t* symbols = l.stream(n);
    for (int64_t t = 0; t < h * w; ++t) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t value = static_cast<uint8_t>(bytes[header_length + static_cast<size_t>(pixel_offset(l, n, t, ch))]);
        GF_CHECK_AS(DataError, value % l.level_step == 0, "compress 8-bit images with a model of 256 levels",
                    "image ", n, " has the pixel value ", value, ", which the model's ", l.alphabet,
                    " levels do not include");
        symbols[t * c + ch] = value / l.level_step;
      }
    }
  }
  return l;
}

SymbolLayout layout_from_header(const Model* model, const nlohmann::json& header, int64_t original_bytes,
                                const std::string& side) {
  SymbolLayout l;
  try {
    l.format = header.at("format").get<std::string>();
    const int64_t symbols = header.at("symbols").get<int64_t>();
    GF_CHECK_AS(DataError, original_bytes <= kMaxOriginal && symbols >= 0 && symbols <= original_bytes, kDamaged,
                "the compressed stream's header claims ", symbols, " symbols for ", original_bytes, " bytes");
    l.alphabet = header.at("alphabet").get<int64_t>();
    if (l.format == "bytes") {
      GF_CHECK_AS(DataError, !model && symbols == original_bytes && l.alphabet == 256, kDamaged,
                  "the compressed stream's header does not describe bytes");
      l.order = header.at("order").get<int64_t>();
      l.data.assign(static_cast<size_t>(symbols), 0);
      split_streams(l, symbols, std::max<int64_t>(symbols, 1));
      return l;
    }
    GF_CHECK_AS(DataError, model != nullptr, kDamaged, "the compressed stream needs a model");
    GF_CHECK_AS(DataError, l.alphabet == predictor_of(*model).alphabet_size(), "give the model it was compressed with",
                "the stream was coded over ", l.alphabet, " symbols; the model predicts ",
                predictor_of(*model).alphabet_size());
    if (l.format == "text") {
      l.tokenizer = pipeline_of(*model).tokenizer();
      GF_CHECK_AS(DataError, l.tokenizer != nullptr, "give the model it was compressed with", "the model has no tokenizer");
      l.segment_length = header.at("segment_length").get<int64_t>();
      GF_CHECK_AS(DataError, l.segment_length >= 1, kDamaged, "segment length ", l.segment_length);
      l.data.assign(static_cast<size_t>(symbols), 0);
      split_streams(l, symbols, l.segment_length);
      return l;
    }
    if (l.format == "lines") {
      line_symbols(*model, l);
      const auto stored = header.at("symbol_bytes").get<std::vector<uint8_t>>();
      GF_CHECK_AS(DataError, std::string(stored.begin(), stored.end()) == l.symbol_bytes,
                  "give the model it was compressed with", "the stream's symbols differ from the model's");
      l.trailing_newline = header.at("trailing_newline").get<bool>();
      const int64_t lines = header.at("lines").get<int64_t>();
      GF_CHECK_AS(DataError, lines >= 0 && lines <= original_bytes + 1, kDamaged, "the header claims ", lines, " lines");
      l.data.assign(static_cast<size_t>(symbols), 0);
      l.offsets = unpack_offsets(side, lines, symbols);
      return l;
    }
    GF_CHECK_AS(DataError, l.format == "idx" || l.format == "npy", kDamaged, "unknown format '", l.format, "'");
    image_geometry(*model, l);
    const auto image = header.at("image").get<std::vector<int64_t>>();
    GF_CHECK_AS(DataError, image == std::vector<int64_t>({l.channels, l.height, l.width}),
                "give the model it was compressed with", "the stream holds images of another shape than the model's");
    l.channels_last = header.at("channels_last").get<bool>();
    const auto prefix = header.at("prefix").get<std::vector<uint8_t>>();
    l.prefix.assign(prefix.begin(), prefix.end());
    const int64_t per_image = l.channels * l.height * l.width;
    GF_CHECK_AS(DataError, symbols % per_image == 0 && static_cast<int64_t>(l.prefix.size()) + symbols == original_bytes,
                kDamaged, "the compressed stream's header has inconsistent sizes");
    l.data.assign(static_cast<size_t>(symbols), 0);
    image_streams(l, symbols / per_image);
    return l;
  } catch (const nlohmann::json::exception& e) {
    throw DataError(msg("the compressed stream's header is incomplete (", e.what(), ")"), kDamaged);
  }
}

}  // namespace gf::coding
