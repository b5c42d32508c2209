// Image data: IDX files (the MNIST / Fashion-MNIST format, raw or gzip), folders of image files (PNG, JPEG, BMP,
// GIF, TGA, PNM) with one sub-folder per class, resizing, and PNG writers for single images and grids. Fashion-MNIST from Debian's
// dataset-fashion-mnist is the default data set.
//
//   auto train = gf::load_images("fashion-mnist");        // [60000, 1, 28, 28] uint8 + labels
//   auto test = gf::load_images("fashion-mnist:test");
//   gf::write_png_grid("grid.png", train.images.slice(0, 0, 64), 8);
#pragma once
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace gf {

struct ImageSet {
  torch::Tensor images;                  // [N, C, H, W] uint8
  torch::Tensor labels;                  // [N] int64, or undefined
  std::vector<std::string> class_names;  // label -> name (empty when unknown)
  std::vector<std::string> files;        // each image's file under the folder read ("Coat/017.png"), or empty
  int64_t n_classes() const { return static_cast<int64_t>(class_names.size()); }
};

// Any IDX file (unsigned/signed byte, short, int, float, double; 1 to 4 dimensions) as a tensor of that type.
// A bad magic number, unknown type code, truncated data or trailing bytes is a gf::DataError naming the file.
torch::Tensor read_idx(const std::string& path);
// IDX images ([N, H, W] unsigned bytes) and optional labels ([N]); counts must agree.
ImageSet read_idx_images(const std::string& images_path, const std::string& labels_path = "");
// A size to resize images to (torchvision's Resize((height, width))); 0 x 0: keep the images' own size.
struct ImageSize {
  int64_t height = 0, width = 0;
  bool empty() const { return height == 0 && width == 0; }
};
// "28" (28 x 28) or "32x48" (height x width); anything else, or a side outside 1..8192, is InvalidArgument.
ImageSize parse_image_size(const std::string& text);
// Every image resized to `size` (antialiased bilinear, as torchvision's Resize): [N, C, H, W] uint8 -> uint8.
torch::Tensor resize_images(const torch::Tensor& images, ImageSize size);
// True for the image file extensions read (.png .jpg .jpeg .bmp .gif .tga .pnm .ppm .pgm, any case).
bool is_image_file_name(const std::string& path);
// Image files in class sub-folders (class = folder name, sorted; a class's files may sit in folders below it) or
// directly in the folder (no labels), in path order; hidden files and folders skipped; `files` names each. Grey when every image is grey, else RGB (grey images repeated over 3 channels; alpha dropped; a GIF's first
// frame). Every image must have one size unless `resize` is given, which brings each to that size.
ImageSet read_image_folder(const std::string& dir, ImageSize resize = {});
// One image file as a set of one image.
ImageSet read_image_file(const std::string& path, ImageSize resize = {});
// The tiles of a grid as write_png_grid lays them out (tile_height x tile_width images separated and framed by
// `padding` pixels), row by row. count >= 0 keeps the first `count` tiles; count < 0 drops trailing tiles that are
// pure padding colour (the unfilled end of the last row -- and so also a last image that happens to be all that
// colour: pass the count when it matters). A size that is not a whole number of tiles is a DataError.
ImageSet read_png_grid(const std::string& path, int64_t tile_height, int64_t tile_width, int64_t padding = 2,
                       int64_t count = -1);
// "fashion-mnist" (= ":train") or "fashion-mnist:test", an image folder, one image file, or an IDX images file (labels
// taken from the matching "-labels-idx1-ubyte[.gz]" file when present); every image resized to `resize` if given.
ImageSet load_images(const std::string& spec, ImageSize resize = {});
// Where Fashion-MNIST is: $GF_FASHION_MNIST_DIR or /usr/share/datasets/fashion-mnist.
std::string fashion_mnist_dir();
const std::vector<std::string>& fashion_mnist_classes();

// The PNG bytes of interleaved pixels (row-major [H, W, channels], channels 1 or 3), and of one image ([C, H, W]
// or [H, W]; uint8, or floating point in [0, 1], clamped), compressed as stb does (deflate level 8, filtered rows).
std::string encode_png_pixels(int width, int height, int channels, const uint8_t* pixels);
std::string encode_png(const torch::Tensor& image);
// One image from PNG bytes: [C, H, W] uint8 (C = 1 for grey, 3 for colour; alpha dropped). The size is read from
// the header first: an image over `max_pixels` pixels is refused before decoding. Not a PNG (or damaged): DataError
// naming `what`.
torch::Tensor decode_png(const std::string& bytes, const std::string& what, int64_t max_pixels = 1 << 24);
// Writes interleaved pixels (row-major [H, W, channels], channels 1 or 3) as a PNG file, atomically.
void write_png_pixels(const std::string& path, int width, int height, int channels, const uint8_t* pixels);
// Writes one image ([C, H, W] or [H, W]; uint8, or floating point in [0, 1], clamped) atomically.
void write_png(const std::string& path, const torch::Tensor& image);
// The same with tEXt chunks (keyword, text; Latin-1), e.g. {"Comment", "flipped"}. Every PNG file written while a
// ProvenanceScope is open also carries its record in a tEXt chunk (genforge/io/provenance.h).
void write_png(const std::string& path, const torch::Tensor& image,
               const std::vector<std::pair<std::string, std::string>>& text);
// The grid of images [N, C, H, W] (uint8 or floating point in [0, 1]) in rows of `columns`, `padding` (white)
// pixels apart: [C, H', W'] uint8, and the same written as a PNG file.
torch::Tensor image_grid(const torch::Tensor& images, int64_t columns, int64_t padding = 2);
void write_png_grid(const std::string& path, const torch::Tensor& images, int64_t columns, int64_t padding = 2);

}  // namespace gf
