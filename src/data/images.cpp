#include "genforge/data/images.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <torch/nn/functional/upsampling.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "genforge/core/atomic_file.h"
#include "genforge/io/provenance.h"
#include "genforge/core/error.h"
#include "genforge/io/bytes.h"
#include "data/class_folder.h"

namespace gf {
namespace fs = std::filesystem;

namespace {


uint32_t big_endian_u32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// IDX type code -> (ATen type, bytes per element).
std::pair<at::ScalarType, int> idx_type(const std::string& path, unsigned code) {
  switch (code) {
    case 0x08: return {at::kByte, 1};
    case 0x09: return {at::kChar, 1};
    case 0x0B: return {at::kShort, 2};
    case 0x0C: return {at::kInt, 4};
    case 0x0D: return {at::kFloat, 4};
    case 0x0E: return {at::kDouble, 8};
  }
  throw DataError(msg("'", path, "': unknown IDX element type code 0x", std::hex, code),
                  "this is not an IDX file (MNIST format), or it is damaged");
}

const char* kIdxHint = "this is not an IDX file (MNIST format), or it is damaged or truncated";

// [.., C, H, W] float in [0, 1] or uint8 -> uint8 on the CPU.
at::Tensor to_bytes(const at::Tensor& images) {
  auto t = images.detach().to(at::kCPU);
  if (t.scalar_type() == at::kByte) return t;
  GF_CHECK(at::isFloatingType(t.scalar_type()), "images must be uint8 or floating point, got ", t.scalar_type());
  return t.to(at::kFloat).clamp(0.0, 1.0).mul(255.0).round().to(at::kByte);
}

}  // namespace

torch::Tensor read_idx(const std::string& path) {
  const std::string bytes = read_file_bytes(path, true);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  GF_CHECK_AS(DataError, bytes.size() >= 4 && p[0] == 0 && p[1] == 0, kIdxHint, "'", path,
              "': bad IDX magic number (the first two bytes must be zero)");
  auto [type, width] = idx_type(path, p[2]);
  const int ndim = p[3];
  GF_CHECK_AS(DataError, ndim >= 1 && ndim <= 4, kIdxHint, "'", path, "': IDX header says ", ndim,
              " dimensions (1 to 4 expected)");
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  GF_CHECK_AS(DataError, bytes.size() >= header, kIdxHint, "'", path, "': file ends inside the IDX header");
  std::vector<int64_t> dims;
  size_t count = 1;
  for (int i = 0; i < ndim; ++i) {
    dims.push_back(big_endian_u32(p + 4 + 4 * i));
    // Checked before multiplying: a header announcing more elements than the file holds is refused before any
    // allocation (and before the count can overflow).
    const auto d = static_cast<size_t>(dims.back());
    GF_CHECK_AS(DataError, d == 0 || count <= (bytes.size() - header) / static_cast<size_t>(width) / d, kIdxHint, "'",
                path, "': truncated: the header announces ", at::IntArrayRef(dims), "... but the file holds ",
                bytes.size(), " bytes");
    count *= d;
  }
  const size_t want = header + count * static_cast<size_t>(width);
  GF_CHECK_AS(DataError, bytes.size() >= want, kIdxHint, "'", path, "': truncated: the header announces ",
              at::IntArrayRef(dims), " (", want, " bytes) but the file holds ", bytes.size(), " bytes");
  GF_CHECK_AS(DataError, bytes.size() == want, kIdxHint, "'", path, "': ", bytes.size() - want,
              " bytes after the data the header announces");
  auto out = at::empty(dims, at::TensorOptions().dtype(type));
  auto* dst = static_cast<unsigned char*>(out.data_ptr());
  std::copy(p + header, p + want, dst);
  if (width > 1) {  // IDX is big-endian
    for (size_t i = 0; i < count; ++i) std::reverse(dst + i * width, dst + (i + 1) * width);
  }
  return out;
}

ImageSet read_idx_images(const std::string& images_path, const std::string& labels_path) {
  ImageSet set;
  auto images = read_idx(images_path);
  GF_CHECK_AS(DataError, images.scalar_type() == at::kByte && images.dim() == 3, "give an IDX file of [N, H, W] bytes",
              "'", images_path, "' holds ", images.scalar_type(), " ", images.sizes(), ", not [N, H, W] unsigned bytes");
  set.images = images.unsqueeze(1);  // [N, 1, H, W]
  if (!labels_path.empty()) {
    auto labels = read_idx(labels_path);
    GF_CHECK_AS(DataError, labels.scalar_type() == at::kByte && labels.dim() == 1, "give an IDX file of [N] bytes",
                "'", labels_path, "' holds ", labels.scalar_type(), " ", labels.sizes(), ", not [N] unsigned bytes");
    GF_CHECK_AS(DataError, labels.size(0) == images.size(0), "give the labels file that belongs to the images", "'",
                labels_path, "' has ", labels.size(0), " labels for ", images.size(0), " images");
    set.labels = labels.to(at::kLong);
    const int64_t n_classes = set.labels.numel() ? set.labels.max().item<int64_t>() + 1 : 0;
    for (int64_t c = 0; c < n_classes; ++c) set.class_names.push_back(std::to_string(c));
  }
  return set;
}

namespace {

// The largest image read (2^26 pixels, 8192 x 8192): checked in the PNG header before decoding.
constexpr int64_t kMaxPngPixels = int64_t{1} << 26;

// The size a PNG's IHDR claims (0 x 0 when the file does not start like a PNG): stb refuses a huge image without
// saying why ("unknown image type"), so the error can name the size instead.
std::pair<int64_t, int64_t> claimed_png_size(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char head[24] = {};
  if (!in.read(reinterpret_cast<char*>(head), sizeof head) || std::memcmp(head + 1, "PNG", 3) != 0 ||
      std::memcmp(head + 12, "IHDR", 4) != 0) {
    return {0, 0};
  }
  auto be32 = [&](int at) {
    return (int64_t{head[at]} << 24) | (int64_t{head[at + 1]} << 16) | (int64_t{head[at + 2]} << 8) | head[at + 3];
  };
  return {be32(16), be32(20)};
}

// Every chunk's declared length must fit in the bytes present: stb_image allocates what an IDAT chunk claims
// (a 2 GB claim in a 100-byte file) before reading it.
void check_png_chunks(const std::string& bytes, const std::string& what) {
  for (size_t at = 8; at + 8 <= bytes.size();) {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
    const uint64_t length = (uint64_t{p[0]} << 24) | (uint64_t{p[1]} << 16) | (uint64_t{p[2]} << 8) | p[3];
    GF_CHECK_AS(DataError, length + 12 <= bytes.size() - at, "send an undamaged PNG", what,
                " is damaged: a chunk claims ", length, " bytes but ", bytes.size() - at - 8, " follow");
    if (std::memcmp(p + 4, "IEND", 4) == 0) break;
    at += 12 + static_cast<size_t>(length);
  }
}

constexpr char kImageFormats[] = "PNG, JPEG, BMP, GIF, TGA or PNM";

// The size in a file's header, and whether it is in colour; a file stb cannot read is a DataError (naming the size a
// PNG header claims when that is why: stb refuses huge images without saying so).
struct ImageHeader {
  int64_t width = 0, height = 0;
  bool colour = false;
};
ImageHeader read_image_header(const std::string& path) {
  int w = 0, h = 0, c = 0;
  if (stbi_info(path.c_str(), &w, &h, &c) == 0) {
    const auto [claimed_w, claimed_h] = claimed_png_size(path);
    // Each side is below 2^32 (four header bytes), so the product is taken in floating point: in int64 it overflows.
    GF_CHECK_AS(DataError, double(claimed_w) * double(claimed_h) <= double(kMaxPngPixels), "resize the image", "'",
                path, "' claims ", claimed_w, "x", claimed_h, " pixels, more than the ", kMaxPngPixels,
                " genforge reads");
    throw DataError(msg("'", path, "': cannot read image (", stbi_failure_reason(), ")"),
                    std::string("the file is not a readable image (") + kImageFormats + ")");
  }
  GF_CHECK_AS(DataError, static_cast<int64_t>(w) * h <= kMaxPngPixels, "resize the image", "'", path, "' is ", w,
              "x", h, " pixels, more than the ", kMaxPngPixels, " genforge reads");
  return {w, h, c >= 3};
}

// Decodes image files with their labels (-1: none): grey when all are grey, else RGB; one size, or each resized.
ImageSet read_image_list(const std::vector<std::pair<std::string, int64_t>>& files,
                         const std::vector<std::string>& classes, ImageSize resize) {
  std::vector<ImageHeader> headers;
  bool colour = false;
  for (const auto& file : files) {
    headers.push_back(read_image_header(file.first));
    colour = colour || headers.back().colour;
    GF_CHECK_AS(DataError,
                !resize.empty() || (headers.back().width == headers[0].width &&
                                    headers.back().height == headers[0].height),
                "resize them to one size with --image-size HxW (e.g. --image-size " +
                    std::to_string(headers[0].height) + "x" + std::to_string(headers[0].width) + ")",
                "'", file.first, "' is ", headers.back().width, "x", headers.back().height, " but '", files[0].first,
                "' is ", headers[0].width, "x", headers[0].height);
  }
  const int channels = colour ? 3 : 1;
  std::vector<at::Tensor> images;
  std::vector<int64_t> labels;
  for (size_t i = 0; i < files.size(); ++i) {
    const auto& [path, label] = files[i];
    const std::string bytes = read_file_bytes(path);
    if (bytes.size() >= 8 && bytes.compare(1, 3, "PNG") == 0) check_png_chunks(bytes, "'" + path + "'");
    int w = 0, h = 0, got = 0;
    std::unique_ptr<unsigned char, void (*)(void*)> pixels(
        stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()), static_cast<int>(bytes.size()), &w, &h,
                              &got, channels),
        stbi_image_free);
    GF_CHECK_AS(DataError, pixels != nullptr && w == headers[i].width && h == headers[i].height,
                std::string("the file is not a readable image (") + kImageFormats + ")", "'", path,
                "': cannot decode (", pixels ? "the file changed while read" : stbi_failure_reason(), ")");
    auto hwc = at::from_blob(pixels.get(), {h, w, channels}, at::TensorOptions().dtype(at::kByte));
    auto chw = hwc.permute({2, 0, 1}).clone();  // [C, H, W]
    images.push_back(resize.empty() ? chw : resize_images(chw.unsqueeze(0), resize)[0]);
    labels.push_back(label);
  }
  ImageSet set;
  set.images = at::stack(images);  // [N, C, H, W]
  if (!classes.empty()) {
    set.labels = at::tensor(labels, at::TensorOptions().dtype(at::kLong));
    set.class_names = classes;
  }
  return set;
}

}  // namespace

ImageSize parse_image_size(const std::string& text) {
  const char* hint = "write --image-size 28 (28 x 28) or --image-size 32x48 (height x width)";
  auto side = [&](const std::string& part) {
    const bool digits = std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
    GF_CHECK_AS(InvalidArgument, !part.empty() && part.size() <= 5 && digits, hint, "image size '", text,
                "' is not a number of pixels or HxW");
    const int64_t v = std::stoll(part);
    GF_CHECK_AS(InvalidArgument, v >= 1 && v <= 8192, hint, "image size '", text, "': sides must be 1 to 8192, got ",
                v);
    return v;
  };
  const auto x = text.find_first_of("xX");
  if (x == std::string::npos) {
    const int64_t s = side(text);
    return {s, s};
  }
  return {side(text.substr(0, x)), side(text.substr(x + 1))};
}

torch::Tensor resize_images(const torch::Tensor& images, ImageSize size) {
  GF_CHECK(images.dim() == 4 && images.scalar_type() == at::kByte, "resize_images takes [N, C, H, W] uint8, got ",
           images.scalar_type(), " ", images.sizes());
  if (size.empty() || (images.size(2) == size.height && images.size(3) == size.width)) return images;
  namespace F = torch::nn::functional;
  const auto options = F::InterpolateFuncOptions()
                           .size(std::vector<int64_t>{size.height, size.width})
                           .mode(torch::kBilinear)
                           .align_corners(false)
                           .antialias(true);
  std::vector<at::Tensor> parts;  // a chunk at a time: 60000 images need not be float at once
  for (int64_t start = 0; start < images.size(0); start += 1024) {
    const auto chunk = images.slice(0, start, std::min<int64_t>(start + 1024, images.size(0))).to(at::kFloat);
    parts.push_back(F::interpolate(chunk, options).round().clamp(0, 255).to(at::kByte));
  }
  return parts.empty() ? images.new_empty({0, images.size(1), size.height, size.width}) : at::cat(parts);
}

bool is_image_file_name(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  for (const char* known : {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tga", ".pnm", ".ppm", ".pgm"}) {
    if (ext == known) return true;
  }
  return false;
}

ImageSet read_image_folder(const std::string& dir, ImageSize resize) {
  GF_CHECK_AS(DataError, fs::is_directory(dir), "give a folder of image files (or of class sub-folders)", "'", dir,
              "' is not a folder");
  const auto listed = detail::list_class_folder(dir, is_image_file_name);
  GF_CHECK_AS(DataError, !listed.files.empty(),
              std::string("put image files (") + kImageFormats + ") in the folder or in one sub-folder per class", "'",
              dir, "' holds no images");
  ImageSet set = read_image_list(listed.files, listed.classes, resize);
  for (const auto& file : listed.files) set.files.push_back(detail::path_under(dir, file.first));
  return set;
}

torch::Tensor decode_png(const std::string& bytes, const std::string& what, int64_t max_pixels) {
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  GF_CHECK_AS(DataError, bytes.size() < (1u << 31), "send a smaller image", what, " is too large (", bytes.size(),
              " bytes)");
  const int size = static_cast<int>(bytes.size());
  check_png_chunks(bytes, what);
  int w = 0, h = 0, c = 0;
  GF_CHECK_AS(DataError, bytes.size() >= 8 && bytes.compare(1, 3, "PNG") == 0 && stbi_info_from_memory(data, size, &w, &h, &c) != 0,
              "send PNG bytes", what, " is not a readable PNG");
  GF_CHECK_AS(DataError, static_cast<int64_t>(w) * h <= max_pixels, "send a smaller image", what, " is ", w, "x", h,
              " pixels, more than the ", max_pixels, " allowed");
  const int channels = (c == 1 || c == 2) ? 1 : 3;
  int got = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> pixels(stbi_load_from_memory(data, size, &w, &h, &got, channels),
                                                         stbi_image_free);
  GF_CHECK_AS(DataError, pixels != nullptr, "send an undamaged PNG", what, " cannot be decoded (",
              stbi_failure_reason(), ")");
  auto hwc = at::from_blob(pixels.get(), {h, w, channels}, at::TensorOptions().dtype(at::kByte));
  return hwc.permute({2, 0, 1}).clone();  // [C, H, W]
}

ImageSet read_image_file(const std::string& path, ImageSize resize) {
  GF_CHECK_AS(DataError, fs::is_regular_file(path), "check the path", "'", path, "' is not a file");
  ImageSet set = read_image_list({{path, -1}}, {}, resize);
  set.files = {fs::path(path).filename().string()};
  return set;
}

ImageSet read_png_grid(const std::string& path, int64_t tile_height, int64_t tile_width, int64_t padding,
                       int64_t count) {
  GF_CHECK(tile_height >= 1 && tile_width >= 1 && padding >= 0, "tile size must be >= 1 and padding >= 0, got ",
           tile_height, "x", tile_width, " and ", padding);
  auto canvas = read_image_file(path).images[0];  // [C, H, W] uint8
  const int64_t h = canvas.size(1), w = canvas.size(2);
  const bool fits = (h - padding) % (tile_height + padding) == 0 && (w - padding) % (tile_width + padding) == 0 &&
                    h > padding && w > padding;
  GF_CHECK_AS(DataError, fits, "give the tile size and padding the grid was written with (genforge grids: padding 2)",
              "'", path, "' is ", h, "x", w, " pixels, which is not a whole number of ", tile_height, "x", tile_width,
              " tiles with ", padding, "-pixel padding");
  const int64_t rows = (h - padding) / (tile_height + padding), cols = (w - padding) / (tile_width + padding);
  std::vector<torch::Tensor> tiles;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t top = padding + r * (tile_height + padding), left = padding + c * (tile_width + padding);
      tiles.push_back(canvas.slice(1, top, top + tile_height).slice(2, left, left + tile_width));
    }
  if (count >= 0) {
    GF_CHECK_AS(DataError, count >= 1 && count <= int64_t(tiles.size()), "ask for at most as many images as tiles",
                "'", path, "' holds ", tiles.size(), " tiles, not ", count);
    tiles.resize(size_t(count));
  } else if (padding > 0) {
    // The padding colour is the canvas's top-left pixel (white in genforge grids).
    const auto background = canvas.index({0, 0, 0}).item<uint8_t>();
    while (tiles.size() > 1 && (tiles.back() == background).all().item<bool>()) tiles.pop_back();
  }
  ImageSet set;
  set.images = torch::stack(tiles).contiguous();
  return set;
}

std::string fashion_mnist_dir() {
  const char* env = std::getenv("GF_FASHION_MNIST_DIR");
  return env && *env ? env : "/usr/share/datasets/fashion-mnist";
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

ImageSet load_images(const std::string& spec, ImageSize resize) {
  if (spec == "fashion-mnist" || spec == "fashion-mnist:train" || spec == "fashion-mnist:test") {
    const std::string split = spec == "fashion-mnist:test" ? "t10k" : "train";
    const std::string dir = fashion_mnist_dir();
    GF_CHECK_AS(DataError, fs::is_directory(dir), "run `make setup` (apt install dataset-fashion-mnist)",
                "Fashion-MNIST is not installed in '", dir, "'");
    auto set = read_idx_images(dir + "/" + split + "-images-idx3-ubyte.gz", dir + "/" + split + "-labels-idx1-ubyte.gz");
    set.class_names = fashion_mnist_classes();
    set.images = resize_images(set.images, resize);
    return set;
  }
  if (fs::is_directory(spec)) return read_image_folder(spec, resize);
  if (is_image_file_name(spec)) return read_image_file(spec, resize);
  // An IDX images file: look for its labels next to it.
  std::string labels;
  const auto pos = spec.find("-images-idx3-ubyte");
  if (pos != std::string::npos) {
    for (const char* suffix : {"-labels-idx1-ubyte", "-labels-idx1-ubyte.gz"}) {
      std::string candidate = spec.substr(0, pos) + suffix;
      if (fs::exists(candidate)) labels = candidate;
    }
  }
  auto set = read_idx_images(spec, labels);
  set.images = resize_images(set.images, resize);
  return set;
}

std::string encode_png_pixels(int width, int height, int channels, const uint8_t* pixels) {
  std::string png;
  int ok = stbi_write_png_to_func(
      [](void* ctx, void* data, int size) {
        static_cast<std::string*>(ctx)->append(static_cast<char*>(data), static_cast<size_t>(size));
      },
      &png, width, height, channels, pixels, width * channels);
  GF_CHECK_AS(InternalError, ok != 0, "report this as a bug", "PNG encoding of a ", width, "x", height,
              " image failed");
  return png;
}

void write_png_pixels(const std::string& path, int width, int height, int channels, const uint8_t* pixels) {
  const std::string png = png_with_provenance(encode_png_pixels(width, height, channels, pixels));
  write_file_atomic(path, [&](std::ostream& out) { out.write(png.data(), static_cast<std::streamsize>(png.size())); });
}

namespace {
torch::Tensor hwc_bytes(const torch::Tensor& image) {  // [C, H, W] or [H, W] in [0, 1] -> [H, W, C] uint8
  auto img = image.dim() == 2 ? image.unsqueeze(0) : image;
  GF_CHECK(img.dim() == 3 && (img.size(0) == 1 || img.size(0) == 3), "an image is [C, H, W] with C = 1 or 3, got ",
           image.sizes());
  return to_bytes(img).permute({1, 2, 0}).contiguous();
}
}  // namespace

std::string encode_png(const torch::Tensor& image) {
  auto hwc = hwc_bytes(image);
  return encode_png_pixels(static_cast<int>(hwc.size(1)), static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(2)),
                           hwc.data_ptr<uint8_t>());
}

void write_png(const std::string& path, const torch::Tensor& image) {
  auto hwc = hwc_bytes(image);
  write_png_pixels(path, static_cast<int>(hwc.size(1)), static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(2)),
                   hwc.data_ptr<uint8_t>());
}

void write_png(const std::string& path, const torch::Tensor& image,
               const std::vector<std::pair<std::string, std::string>>& text) {
  std::string png = encode_png(image);
  for (const auto& [keyword, value] : text) png = png_with_text_chunk(png, keyword, value);
  png = png_with_provenance(std::move(png));
  write_file_atomic(path, [&](std::ostream& out) { out.write(png.data(), static_cast<std::streamsize>(png.size())); });
}

torch::Tensor image_grid(const torch::Tensor& images, int64_t columns, int64_t padding) {
  GF_CHECK(images.dim() == 4 && images.size(0) >= 1 && (images.size(1) == 1 || images.size(1) == 3),
           "a grid takes images [N, C, H, W] with N >= 1 and C = 1 or 3, got ", images.sizes());
  GF_CHECK(columns >= 1 && padding >= 0, "columns must be >= 1 and padding >= 0, got ", columns, " and ", padding);
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  auto bytes = to_bytes(images);
  // Padding is white so dark garments on black stand apart.
  auto canvas = at::full({c, rows * (h + padding) + padding, cols * (w + padding) + padding}, 255,
                         at::TensorOptions().dtype(at::kByte));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t top = padding + (i / cols) * (h + padding), left = padding + (i % cols) * (w + padding);
    canvas.slice(1, top, top + h).slice(2, left, left + w).copy_(bytes[i]);
  }
  return canvas;
}

void write_png_grid(const std::string& path, const torch::Tensor& images, int64_t columns, int64_t padding) {
  write_png(path, image_grid(images, columns, padding));
}

}  // namespace gf
