// Image data: IDX reading (raw and gzip, every element type, corrupt and truncated files), Fashion-MNIST from
// the Debian package, image folders with classes (PNG, JPEG, BMP, TGA; grey and colour; resizing), PNG and grid
// writing.
#include <gtest/gtest.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "genforge/core/error.h"
#include "genforge/data/images.h"
#include "genforge/data/npy.h"
#include "support/support.h"

namespace gf {
namespace {

// An IDX file: magic (0, 0, type, ndim), big-endian dimensions, then the big-endian payload given as bytes.
std::string idx_bytes(unsigned char type, const std::vector<uint32_t>& dims, const std::string& payload) {
  std::string out{'\0', '\0', static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((d >> shift) & 0xff));
  }
  return out + payload;
}

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

std::string image_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  return "(no DataError)";
}

TEST(Idx, ReadsBytesRawAndGzipped) {
  test::TempDir dir;
  std::string payload;
  for (int i = 0; i < 24; ++i) payload.push_back(static_cast<char>(i * 10));
  auto bytes = idx_bytes(0x08, {2, 3, 4}, payload);
  test::write_text(dir.file("a.idx"), bytes);
  write_gzip(dir.file("a.idx.gz"), bytes);
  for (const char* name : {"a.idx", "a.idx.gz"}) {
    auto t = read_idx(dir.file(name));
    ASSERT_EQ(t.sizes(), (std::vector<int64_t>{2, 3, 4})) << name;
    EXPECT_EQ(t.scalar_type(), torch::kByte);
    EXPECT_EQ(t[1][2][3].item<int64_t>(), 230) << name;
  }
}

TEST(Idx, ReadsBigEndianWideTypes) {
  test::TempDir dir;
  // int32 values 1 and -2, float32 1.5, float64 -0.25, int16 258.
  test::write_text(dir.file("i.idx"), idx_bytes(0x0C, {2}, std::string("\x00\x00\x00\x01\xff\xff\xff\xfe", 8)));
  test::write_text(dir.file("f.idx"), idx_bytes(0x0D, {1}, std::string("\x3f\xc0\x00\x00", 4)));
  test::write_text(dir.file("d.idx"), idx_bytes(0x0E, {1}, std::string("\xbf\xd0\x00\x00\x00\x00\x00\x00", 8)));
  test::write_text(dir.file("s.idx"), idx_bytes(0x0B, {1}, std::string("\x01\x02", 2)));
  auto i = read_idx(dir.file("i.idx"));
  EXPECT_EQ(i.scalar_type(), torch::kInt);
  EXPECT_EQ(i[0].item<int64_t>(), 1);
  EXPECT_EQ(i[1].item<int64_t>(), -2);
  EXPECT_EQ(read_idx(dir.file("f.idx"))[0].item<double>(), 1.5);
  EXPECT_EQ(read_idx(dir.file("d.idx"))[0].item<double>(), -0.25);
  EXPECT_EQ(read_idx(dir.file("s.idx"))[0].item<int64_t>(), 258);
}

TEST(Idx, CorruptAndTruncatedFilesAreClearErrors) {
  test::TempDir dir;
  auto good = idx_bytes(0x08, {2, 2, 2}, std::string(8, '\x01'));
  test::write_text(dir.file("magic.idx"), "\x01" + good.substr(1));
  EXPECT_NE(image_error_of([&] { read_idx(dir.file("magic.idx")); }).find("bad IDX magic number"), std::string::npos);
  test::write_text(dir.file("type.idx"), idx_bytes(0x07, {2}, "ab"));
  EXPECT_NE(image_error_of([&] { read_idx(dir.file("type.idx")); }).find("unknown IDX element type code 0x7"),
            std::string::npos);
  test::write_text(dir.file("short.idx"), good.substr(0, good.size() - 3));
  EXPECT_NE(image_error_of([&] { read_idx(dir.file("short.idx")); }).find("truncated"), std::string::npos);
  write_gzip(dir.file("short.idx.gz"), good.substr(0, good.size() - 3));
  EXPECT_NE(image_error_of([&] { read_idx(dir.file("short.idx.gz")); }).find("truncated"), std::string::npos);
  test::write_text(dir.file("long.idx"), good + "xyz");
  EXPECT_NE(image_error_of([&] { read_idx(dir.file("long.idx")); }).find("3 bytes after the data"), std::string::npos);
  test::write_text(dir.file("head.idx"), good.substr(0, 9));
  EXPECT_NE(image_error_of([&] { read_idx(dir.file("head.idx")); }).find("ends inside the IDX header"), std::string::npos);
  // A gzip stream cut in the middle.
  write_gzip(dir.file("cut.gz"), std::string(100000, 'a'));
  auto whole = [&] {
    std::ifstream in(dir.file("cut.gz"), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  test::write_text(dir.file("cut.gz"), whole.substr(0, whole.size() / 2));
  EXPECT_NE(image_error_of([&] { read_idx(dir.file("cut.gz")); }).find("cut.gz"), std::string::npos);
  EXPECT_NE(image_error_of([&] { read_idx(dir.file("none.idx")); }).find("no such file"), std::string::npos);
  // Labels that do not match the images.
  test::write_text(dir.file("img.idx"), good);
  test::write_text(dir.file("lab.idx"), idx_bytes(0x08, {3}, "\x01\x02\x03"));
  EXPECT_NE(image_error_of([&] { read_idx_images(dir.file("img.idx"), dir.file("lab.idx")); })
                .find("has 3 labels for 2 images"),
            std::string::npos);
}

// Headers that claim far more data than the file holds are refused before anything is allocated: an IDX of
// 2^32-1 cubed bytes (its count overflows 64 bits), a .npy of 2^62 rows, a PNG of 20000 x 20000 pixels (stb itself
// refuses PNGs over 2^30 bytes, such as 65535 x 65535).
TEST(ResourceBounds, HugeClaimsAreRefusedBeforeAllocating) {
  test::TempDir dir;
  test::write_text(dir.file("huge.idx"), idx_bytes(0x08, {0xffffffffu, 0xffffffffu, 0xffffffffu}, std::string(64, 'x')));
  EXPECT_NE(image_error_of([&] { read_idx(dir.file("huge.idx")); }).find("truncated"), std::string::npos);
  auto npy = [&](const std::string& shape, size_t data) {
    std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
    header += std::string(63 - (10 + header.size()) % 64, ' ') + "\n";
    std::string out = "\x93NUMPY\x01";
    out += '\0';
    out += static_cast<char>(header.size() & 0xff);
    out += static_cast<char>(header.size() >> 8);
    return out + header + std::string(data, '\0');
  };
  test::write_text(dir.file("rows.npy"), npy("(4611686018427387904, 2)", 16));
  const std::string rows_error = image_error_of([&] { read_npy(dir.file("rows.npy")); });
  EXPECT_NE(rows_error.find("more data than its 16 bytes"), std::string::npos) << rows_error;
  test::write_text(dir.file("wrap.npy"), npy("(4294967296, 4294967296)", 0));
  EXPECT_NE(image_error_of([&] { read_npy(dir.file("wrap.npy")); }).find("more data than"), std::string::npos);
  test::write_text(dir.file("neg.npy"), npy("(-1, 2)", 16));
  EXPECT_NE(image_error_of([&] { read_npy(dir.file("neg.npy")); }).find("bad shape"), std::string::npos);
  test::write_text(dir.file("word.npy"), npy("(x, 2)", 16));
  EXPECT_NE(image_error_of([&] { read_npy(dir.file("word.npy")); }).find("bad shape"), std::string::npos);
  EXPECT_EQ(read_npy([&] {
              test::write_text(dir.file("ok.npy"), npy("(2, 1)", 16));
              return dir.file("ok.npy");
            }()).sizes(),
            (std::vector<int64_t>{2, 1}));
  // A PNG whose header claims 20000 x 20000 grey pixels (400 MB): refused from the header, from a file or bytes.
  std::string ihdr = "IHDR";
  for (uint32_t v : {20000u, 20000u}) {
    for (int shift = 24; shift >= 0; shift -= 8) ihdr.push_back(static_cast<char>((v >> shift) & 0xff));
  }
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);
  const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(ihdr.data()), static_cast<uInt>(ihdr.size()));
  std::string png = "\x89PNG\r\n\x1a\n";
  png += std::string("\x00\x00\x00\x0d", 4) + ihdr;
  for (int shift = 24; shift >= 0; shift -= 8) png.push_back(static_cast<char>((crc >> shift) & 0xff));
  png += std::string("\x00\x00\x00\x00IEND\xae\x42\x60\x82", 12);
  test::write_text(dir.file("huge.png"), png);
  const std::string file_error = image_error_of([&] { read_image_file(dir.file("huge.png")); });
  EXPECT_NE(file_error.find("20000x20000 pixels, more than the 67108864"), std::string::npos) << file_error;
  const std::string bytes_error = image_error_of([&] { decode_png(png, "the upload"); });
  EXPECT_NE(bytes_error.find("the upload is 20000x20000 pixels"), std::string::npos) << bytes_error;
  EXPECT_NE(image_error_of([&] { decode_png("GIF89a....", "the upload"); }).find("not a readable PNG"), std::string::npos);
  // Sides near 2^32 (the image_file fuzzer's finding): their area overflows 64-bit integers; refused by its size.
  std::string vast = png;
  vast.replace(16, 8, std::string("\xc0\x69\x18\xd9\xb8\x92\x41\xc8", 8));
  test::write_text(dir.file("vast.png"), vast);
  const std::string vast_error = image_error_of([&] { read_image_file(dir.file("vast.png")); });
  EXPECT_NE(vast_error.find("claims 3228113113x3096592840 pixels"), std::string::npos) << vast_error;
  // A small image whose IDAT chunk claims 2 GB (stb_image would allocate the claim): refused from a file or bytes.
  std::string small = png;
  small.replace(16, 8, std::string("\x00\x00\x00\x02\x00\x00\x00\x02", 8));  // 2 x 2 (the CRC is not checked first)
  small.insert(small.size() - 12, std::string("\x7f\xff\xff\xffIDAT\x78\x9c", 10));
  test::write_text(dir.file("claim.png"), small);
  for (const auto& error : {image_error_of([&] { read_image_file(dir.file("claim.png")); }),
                            image_error_of([&] { decode_png(small, "the upload"); })}) {
    EXPECT_NE(error.find("is damaged: a chunk claims 2147483647 bytes"), std::string::npos) << error;
  }
}

TEST(Images, FashionMnistFromTheDebianPackage) {
  if (!std::filesystem::exists(fashion_mnist_dir() + "/t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (make setup)";
  }
  auto test = load_images("fashion-mnist:test");
  ASSERT_EQ(test.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  ASSERT_EQ(test.labels.sizes(), (std::vector<int64_t>{10000}));
  EXPECT_EQ(test.n_classes(), 10);
  EXPECT_EQ(test.class_names[9], "Ankle boot");
  EXPECT_EQ(test.labels[0].item<int64_t>(), 9);  // the first test image is an ankle boot
  // Balanced: 1000 images per class.
  EXPECT_TRUE(torch::bincount(test.labels).eq(1000).all().item<bool>());
}

TEST(Images, PngFolderWithClassesRoundTrips) {
  test::TempDir dir;
  auto gen = torch::make_generator<at::CPUGeneratorImpl>(7);
  auto images = torch::randint(0, 256, {5, 3, 5, 6}, gen, torch::kLong).to(torch::kByte);
  std::filesystem::create_directories(dir.file("set/cat"));
  std::filesystem::create_directories(dir.file("set/dog/puppies"));
  write_png(dir.file("set/dog/b.png"), images[2]);
  write_png(dir.file("set/cat/a.png"), images[0]);
  write_png(dir.file("set/cat/b.png"), images[1]);
  write_png(dir.file("set/dog/a.png"), images[3]);
  write_png(dir.file("set/dog/puppies/c.png"), images[4]);  // below its class folder: still a dog
  // Hidden folders are neither classes nor read (Jupyter's checkpoints, a .git folder), nor are hidden files.
  std::filesystem::create_directories(dir.file("set/.ipynb_checkpoints"));
  std::filesystem::create_directories(dir.file("set/dog/.thumbs"));
  write_png(dir.file("set/.ipynb_checkpoints/a.png"), images[0]);
  write_png(dir.file("set/dog/.thumbs/a.png"), images[0]);
  write_png(dir.file("set/dog/.a.png"), images[0]);
  auto set = read_image_folder(dir.file("set"));
  ASSERT_EQ(set.images.sizes(), (std::vector<int64_t>{5, 3, 5, 6}));
  EXPECT_EQ(set.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_TRUE(set.labels.equal(torch::tensor({0, 0, 1, 1, 1}, torch::kLong)));
  // Files are read in class, then path order: cat/a, cat/b, dog/a, dog/b, dog/puppies/c.
  EXPECT_TRUE(set.images.equal(torch::stack({images[0], images[1], images[3], images[2], images[4]})));
  EXPECT_EQ(set.files, (std::vector<std::string>{"cat/a.png", "cat/b.png", "dog/a.png", "dog/b.png", "dog/puppies/c.png"}));
  EXPECT_EQ(read_image_file(dir.file("set/cat/b.png")).files, (std::vector<std::string>{"b.png"}));
}

TEST(Images, PngFolderErrors) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("empty"));
  EXPECT_NE(image_error_of([&] { read_image_folder(dir.file("empty")); }).find("holds no images"), std::string::npos);
  EXPECT_NE(image_error_of([&] { read_image_folder(dir.file("missing")); }).find("is not a folder"), std::string::npos);
  std::filesystem::create_directories(dir.file("mixed"));
  write_png(dir.file("mixed/a.png"), torch::zeros({1, 4, 4}, torch::kByte));
  write_png(dir.file("mixed/b.png"), torch::zeros({1, 5, 4}, torch::kByte));
  const std::string mixed = image_error_of([&] { read_image_folder(dir.file("mixed")); });
  EXPECT_NE(mixed.find("'" + dir.file("mixed/b.png") + "' is 4x5 but '" + dir.file("mixed/a.png") + "' is 4x4"),
            std::string::npos) << mixed;
  std::filesystem::create_directories(dir.file("bad"));
  test::write_text(dir.file("bad/x.png"), "not a png");
  EXPECT_NE(image_error_of([&] { read_image_folder(dir.file("bad")); }).find("cannot read image"), std::string::npos);
}

// [H, W, C] interleaved bytes of a [C, H, W] image, for stb's writers.
std::vector<uint8_t> interleaved(const torch::Tensor& chw) {
  const auto hwc = chw.permute({1, 2, 0}).contiguous();
  return std::vector<uint8_t>(hwc.data_ptr<uint8_t>(), hwc.data_ptr<uint8_t>() + hwc.numel());
}

TEST(Images, FolderReadsJpegBmpAndTgaBesidePngInColourWhenAnyIsColour) {
  test::TempDir dir;
  auto gen = torch::make_generator<at::CPUGeneratorImpl>(3);
  const auto grey = torch::randint(0, 256, {1, 6, 8}, gen, torch::kLong).to(torch::kByte);
  const auto colour = torch::randint(0, 256, {3, 6, 8}, gen, torch::kLong).to(torch::kByte);
  // A smooth colour image for the lossy JPEG: gradients, which JPEG keeps to a few levels.
  const auto y = torch::arange(6, torch::kFloat).view({1, 6, 1}), x = torch::arange(8, torch::kFloat).view({1, 1, 8});
  std::filesystem::create_directories(dir.file("set"));
  const auto smooth = torch::cat({y * 30 + x * 10, 200 - x * 20 + y * 0, y * 0 + x * 0 + 90}).clamp(0, 255).to(torch::kByte);
  write_png(dir.file("set/a.png"), grey);
  const auto c = interleaved(colour), g = interleaved(grey), s = interleaved(smooth);
  ASSERT_NE(stbi_write_bmp(dir.file("set/b.BMP").c_str(), 8, 6, 3, c.data()), 0);
  ASSERT_NE(stbi_write_tga(dir.file("set/c.tga").c_str(), 8, 6, 1, g.data()), 0);
  ASSERT_NE(stbi_write_jpg(dir.file("set/d.jpg").c_str(), 8, 6, 3, s.data(), 100), 0);
  test::write_text(dir.file("set/notes.txt"), "not an image");
  const auto set = read_image_folder(dir.file("set"));
  ASSERT_EQ(set.images.sizes(), (std::vector<int64_t>{4, 3, 6, 8}));
  EXPECT_FALSE(set.labels.defined());
  EXPECT_TRUE(set.images[0].equal(grey.expand({3, 6, 8})));  // grey images repeated over the 3 channels
  EXPECT_TRUE(set.images[1].equal(colour));
  EXPECT_TRUE(set.images[2].equal(grey.expand({3, 6, 8})));
  const double jpeg_error = (set.images[3].to(torch::kFloat) - smooth.to(torch::kFloat)).abs().mean().item<double>();
  EXPECT_LT(jpeg_error, 3.0);
  // Without a colour image the set stays grey; one image file reads the same way.
  std::filesystem::remove(dir.file("set/b.BMP"));
  std::filesystem::remove(dir.file("set/d.jpg"));
  EXPECT_TRUE(read_image_folder(dir.file("set")).images.equal(torch::stack({grey, grey})));
  EXPECT_TRUE(load_images(dir.file("set/c.tga")).images.equal(grey.unsqueeze(0)));
}

TEST(Images, EveryFormatAFolderMayHoldDecodes) {
  // The image_file fuzz seeds (fuzz/make_seeds.py): BMP, PGM, PPM, TGA, PNG, baseline and progressive JPEG (Pillow),
  // GIF; each named KIND_WxH.EXT.
  int formats = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::source_path("fuzz/corpus/image_file"))) {
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    const auto size = name.substr(name.find('_') + 1, name.find_first_of("_.", name.find('_') + 1) - name.find('_') - 1);
    const int64_t width = std::stoll(size.substr(0, size.find('x'))), height = std::stoll(size.substr(size.find('x') + 1));
    const auto image = load_images(entry.path().string()).images;
    const int64_t channels = name.rfind("gray", 0) == 0 ? 1 : 3;
    EXPECT_EQ(image.sizes(), (std::vector<int64_t>{1, channels, height, width}));
    ++formats;
  }
  EXPECT_GE(formats, 6);
}

TEST(Images, MixedSizesAreRefusedNamingImageSizeOrResized) {
  test::TempDir dir;
  std::filesystem::create_directories(dir.file("set"));
  write_png(dir.file("set/a.png"), torch::full({1, 4, 4}, 77, torch::kByte));
  write_png(dir.file("set/b.png"), torch::full({1, 9, 6}, 200, torch::kByte));
  try {
    read_image_folder(dir.file("set"));
    ADD_FAILURE() << "mixed sizes were read";
  } catch (const DataError& e) {
    EXPECT_EQ(e.hint(), "resize them to one size with --image-size HxW (e.g. --image-size 4x4)");
  }
  const auto set = load_images(dir.file("set"), parse_image_size("5x7"));
  ASSERT_EQ(set.images.sizes(), (std::vector<int64_t>{2, 1, 5, 7}));
  EXPECT_TRUE(set.images[0].eq(77).all().item<bool>());  // a flat image stays flat at any size
  EXPECT_TRUE(set.images[1].eq(200).all().item<bool>());
  // The same size is no change; a whole set (IDX, Fashion-MNIST) is resized too.
  const auto ramp = torch::arange(48, torch::kLong).view({1, 1, 6, 8}).mul(5).to(torch::kByte);
  EXPECT_TRUE(resize_images(ramp, {6, 8}).equal(ramp));
  EXPECT_TRUE(resize_images(ramp, {}).equal(ramp));
  EXPECT_EQ(resize_images(ramp.expand({3, 2, 6, 8}).contiguous(), {3, 4}).sizes(), (std::vector<int64_t>{3, 2, 3, 4}));
}

TEST(Images, ResizeMatchesPillowsBilinear) {
  // tests/reference/make_resize_golden.py: Pillow's BILINEAR, antialiased when shrinking.
  const auto golden = test::read_json(test::source_path("tests/reference/resize_golden.json"));
  const int64_t height = golden["height"], width = golden["width"];
  const auto image =
      torch::tensor(golden["pixels"].get<std::vector<int64_t>>()).view({1, 1, height, width}).to(torch::kByte);
  for (const auto& r : golden["resized"]) {
    const int64_t h = r["height"], w = r["width"];
    const auto want = torch::tensor(r["pixels"].get<std::vector<int64_t>>()).view({1, 1, h, w});
    const auto got = resize_images(image, {h, w}).to(torch::kLong);
    EXPECT_LE((got - want).abs().max().item<int64_t>(), 1) << h << "x" << w << "\n" << got << "\n" << want;
  }
}

TEST(Images, ImageSizeParsesSquareAndHeightByWidth) {
  EXPECT_EQ(parse_image_size("28").height, 28);
  EXPECT_EQ(parse_image_size("28").width, 28);
  EXPECT_EQ(parse_image_size("32x48").height, 32);
  EXPECT_EQ(parse_image_size("32x48").width, 48);
  for (const char* bad : {"", "0", "abc", "28x", "x28", "9000", "28x-3", "2.5"}) {
    EXPECT_THROW(parse_image_size(bad), InvalidArgument) << bad;
  }
}

TEST(Images, GridPlacesTilesWithPadding) {
  test::TempDir dir;
  // Five 2x3 gray tiles with values 0, 0.25, 0.5, 0.75, 1 in a grid of 3 columns, padding 1.
  auto tiles = torch::arange(5, torch::kFloat64).div(4).view({5, 1, 1, 1}).expand({5, 1, 2, 3}).contiguous();
  write_png_grid(dir.file("g.png"), tiles, 3, 1);
  int w = 0, h = 0, c = 0;
  unsigned char* px = stbi_load(dir.file("g.png").c_str(), &w, &h, &c, 1);
  ASSERT_NE(px, nullptr);
  EXPECT_EQ(w, 3 * 3 + 4);
  EXPECT_EQ(h, 2 * 2 + 3);
  auto at = [&](int x, int y) { return static_cast<int>(px[y * w + x]); };
  EXPECT_EQ(at(0, 0), 255);          // padding
  EXPECT_EQ(at(1, 1), 0);            // tile 0
  EXPECT_EQ(at(5, 2), 64);           // tile 1: round(0.25 * 255)
  EXPECT_EQ(at(9, 1), 128);          // tile 2
  EXPECT_EQ(at(1, 4), 191);          // tile 3, second row
  EXPECT_EQ(at(5, 5), 255);          // tile 4
  EXPECT_EQ(at(9, 4), 255);          // empty slot stays white
  stbi_image_free(px);
  EXPECT_THROW(write_png_grid(dir.file("x.png"), torch::zeros({2, 2, 4, 4}), 2), InvalidArgument);

  // Read back: with a count, exactly the written tiles; without, trailing white tiles go (here the white tile 4 too).
  auto back = read_png_grid(dir.file("g.png"), 2, 3, 1, 5).images;
  ASSERT_EQ(back.sizes(), (std::vector<int64_t>{5, 1, 2, 3}));
  EXPECT_TRUE(torch::equal(back.to(torch::kFloat64), (tiles * 255).round()));
  EXPECT_EQ(read_png_grid(dir.file("g.png"), 2, 3, 1).images.size(0), 4);
  EXPECT_NE(image_error_of([&] { read_png_grid(dir.file("g.png"), 3, 3, 1); }).find("not a whole number of 3x3 tiles"),
            std::string::npos);
  EXPECT_NE(image_error_of([&] { read_png_grid(dir.file("g.png"), 2, 3, 1, 7); }).find("holds 6 tiles"), std::string::npos);
}

}  // namespace
}  // namespace gf
