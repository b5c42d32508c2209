// The .gf container: round trip, the strict reader's errors, and a plain Python reader (numpy + json + struct).
#include <gtest/gtest.h>

#include <sys/mount.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>

#include "genforge/core/error.h"
#include "genforge/io/bytes.h"
#include "genforge/io/model_file.h"
#include "genforge/registry.h"
#include "support/support.h"

namespace gf {
namespace {

ModelFileContents sample_contents() {
  ModelFileContents c;
  c.kind = "gmm";
  c.options = {{"n_components", 2}};
  c.schema = {{"columns", {"a", "b"}}};
  c.fit_report = {{"converged", true}};
  c.tensors["means"] = torch::tensor({{1.5, -2.0}, {3.25, 4.0}}, torch::kFloat64);
  c.tensors["weights"] = torch::tensor({0.25f, 0.75f});
  c.tensors["counts"] = torch::tensor({int64_t{7}, int64_t{9}});
  return c;
}

std::string model_file_error_of(const std::string& path) {
  try {
    read_model_file(path);
  } catch (const ModelFileError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(ModelFile, RoundTripsTensorsAndMetadata) {
  test::TempDir dir;
  write_model_file(dir.file("m.gf"), sample_contents());
  auto c = read_model_file(dir.file("m.gf"));
  EXPECT_EQ(c.kind, "gmm");
  EXPECT_EQ(c.options["n_components"], 2);
  EXPECT_EQ(c.schema["columns"][1], "b");
  EXPECT_EQ(c.genforge_version, GF_VERSION);
  EXPECT_TRUE(torch::equal(c.tensors["means"], sample_contents().tensors["means"]));
  EXPECT_TRUE(torch::equal(c.tensors["weights"], sample_contents().tensors["weights"]));
  EXPECT_TRUE(torch::equal(c.tensors["counts"], sample_contents().tensors["counts"]));
  EXPECT_EQ(test::list_dir(dir.path()).size(), 1u);  // no temporary file left behind
}

TEST(ModelFile, PlainPythonReadsTheTensorsAndMetadata) {
  if (std::system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0) GTEST_SKIP() << "no numpy";
  test::TempDir dir;
  write_model_file(dir.file("m.gf"), sample_contents());
  std::string cmd = "/usr/bin/python3 " + test::source_path("tests/reference/read_gf.py") + " " + dir.file("m.gf") +
                    " > " + dir.file("out.txt");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(test::read_text(dir.file("out.txt")),
            "kind gmm\n"
            "options {\"n_components\": 2}\n"
            "counts int64 [2] [7, 9]\n"
            "means float64 [2, 2] [1.5, -2.0, 3.25, 4.0]\n"
            "weights float32 [2] [0.25, 0.75]\n");
}

TEST(ModelFile, StrictReaderNamesWhatIsWrong) {
  test::TempDir dir;
  auto good = dir.file("m.gf");
  write_model_file(good, sample_contents());
  std::string bytes = test::read_text(good);
  auto variant = [&](const std::string& name, const std::string& content) {
    test::write_text(dir.file(name), content);
    return model_file_error_of(dir.file(name));
  };
  EXPECT_EQ(model_file_error_of(dir.file("missing.gf")),
            "cannot open model file '" + dir.file("missing.gf") + "': no such file or not readable");
  EXPECT_EQ(variant("short.gf", "abc"), "'" + dir.file("short.gf") + "': file is too short to be a model (3 bytes)");
  EXPECT_NE(variant("magic.gf", "PK\x03\x04 this is a zip file, not a model").find("bad magic"), std::string::npos);
  EXPECT_NE(variant("trunc.gf", bytes.substr(0, bytes.size() - 5)).find("truncated file"), std::string::npos);
  EXPECT_NE(variant("tail.gf", bytes + "xyz").find("trailing bytes"), std::string::npos);
  std::string versioned = bytes;
  auto pos = versioned.find("\"format_version\":\"2\"");
  ASSERT_NE(pos, std::string::npos);
  versioned.replace(pos, 20, "\"format_version\":\"9\"");
  EXPECT_EQ(variant("v9.gf", versioned),
            "'" + dir.file("v9.gf") + "': unsupported format version 9 (this genforge reads 1 to 2)");
  std::string overlapped = bytes;
  pos = overlapped.find("\"data_offsets\":[0,16]");
  ASSERT_NE(pos, std::string::npos) << bytes.substr(8, 300);
  overlapped.replace(pos, 21, "\"data_offsets\":[8,24]");
  EXPECT_NE(variant("overlap.gf", overlapped).find("must be contiguous"), std::string::npos);
}

TEST(ModelFile, WriteIntoMissingFolderFailsWithoutLeavingFiles) {
  test::TempDir dir;
  try {
    write_model_file(dir.file("no/such/m.gf"), sample_contents());
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot write '" + dir.file("no/such/m.gf") + "': folder '" + dir.file("no/such") + "' does not exist");
  }
  EXPECT_TRUE(test::list_dir(dir.path()).empty());
}

// A model file whose parameters hold NaN (damage that would otherwise sample and score silently) is refused on
// load, naming the tensor; infinities stay legal.
TEST(ModelFile, NaNInAStoredTensorIsRefusedOnLoad) {
  test::TempDir dir;
  auto gmm = create_model("gmm", {}, {{"n_components", "1"}});
  gmm->fit({torch::randn({50, 2}, torch::kFloat64)});
  save_model(*gmm, dir.file("m.gf"));
  auto c = read_model_file(dir.file("m.gf"));
  ASSERT_TRUE(c.tensors.count("means"));
  c.tensors["means"] = c.tensors["means"].clone();
  c.tensors["means"].view(-1)[1] = std::nan("");
  write_model_file(dir.file("nan.gf"), c);
  try {
    load_model(dir.file("nan.gf"));
    FAIL() << "a NaN loaded";
  } catch (const ModelFileError& e) {
    EXPECT_EQ(std::string(e.what()), "'" + dir.file("nan.gf") + "': tensor 'means' holds NaN values");
  }
}

// A damaged but finite model is refused on load, naming the tensor: GMM weights that do not sum to 1 (they used to
// score silently wrong), a negative Cholesky diagonal of a precision (it used to score NaN), HMM transition rows
// off the simplex.
TEST(ModelFile, DamagedButFiniteStateIsRefusedOnLoad) {
  test::TempDir dir;
  auto gmm = create_model("gmm", {}, {{"n_components", "2"}});
  gmm->fit({torch::randn({50, 2}, torch::kFloat64)});
  save_model(*gmm, dir.file("m.gf"));
  auto damaged = [&](const std::string& tensor, const std::function<void(torch::Tensor&)>& edit) {
    auto c = read_model_file(dir.file("m.gf"));
    c.tensors[tensor] = c.tensors[tensor].clone();
    edit(c.tensors[tensor]);
    write_model_file(dir.file("bad.gf"), c);
    try {
      load_model(dir.file("bad.gf"));
      return std::string("(loaded)");
    } catch (const ModelFileError& e) {
      return std::string(e.what());
    }
  };
  const std::string at = "'" + dir.file("bad.gf") + "': ";
  EXPECT_EQ(damaged("weights", [](torch::Tensor& w) { w.mul_(5); }), at + "stored model is inconsistent: tensor 'weights' does not sum to 1 (it sums to 5)");
  EXPECT_EQ(damaged("weights", [](torch::Tensor& w) { w[0] = -0.5; w[1] = 1.5; }),
            at + "stored model is inconsistent: tensor 'weights' holds a negative probability (-0.5)");
  EXPECT_EQ(damaged("precisions_cholesky", [](torch::Tensor& p) { p.view(-1)[0] = -1.0; }),
            at + "stored model is inconsistent: tensor 'precisions_cholesky' (its diagonal) must be positive, but holds -1");
  EXPECT_EQ(damaged("covariances", [](torch::Tensor& c) { c.view(-1)[3] = 0.0; }),
            at + "stored model is inconsistent: tensor 'covariances' (its diagonal) must be positive, but holds 0");
  // An HMM whose transition row sums to 1.5.
  auto hmm = create_model("hmm", {}, {{"n_components", "2"}});
  hmm->fit({torch::randn({60, 2}, torch::kFloat64)});
  save_model(*hmm, dir.file("m.gf"));
  EXPECT_EQ(damaged("transmat", [](torch::Tensor& t) { t[1][0] += 0.5; }),
            at + "stored model is inconsistent: tensor 'transmat' does not sum to 1 (a row sums to 1.5)");
  // A flow whose stored example shape disagrees with its schema (the fuzzer's: 43265 channels of 8 x 8 pixels,
  // whose 2.8 million-wide network took seconds to build before its tensors refuted it) is refused first.
  auto flow = create_model("flow", {}, {{"architecture", "realnvp_mlp"}, {"hidden", "4"}, {"layers", "2"},
                                         {"max_steps", "1"}});
  flow->fit({torch::rand({16, 1, 8, 8})});
  save_model(*flow, dir.file("m.gf"));
  EXPECT_EQ(damaged("meta/shape", [](torch::Tensor& t) { t[0] = 43265; }),
            at + "stored model is inconsistent: tensor 'meta/shape' holds [43265,8,8] but the schema states examples "
                 "of shape [1,8,8]");
  // The same with the schema's shape lost too (the fuzzer's "example\x7fshape"): the network for 4096 x 4096 examples
  // (512 MB for its first coupling) is refused at the first allocation past what the file can fill, in any family.
  auto c = read_model_file(dir.file("m.gf"));
  c.schema.erase("example_shape");
  c.tensors["meta/shape"] = torch::tensor({int64_t{1}, int64_t{4096}, int64_t{4096}});
  write_model_file(dir.file("bad.gf"), c);
  try {
    load_model(dir.file("bad.gf"));
    FAIL() << "a flow for 4096 x 4096 images loaded from a file of 8 x 8 weights";
  } catch (const ModelFileError& e) {
    EXPECT_EQ(std::string(e.what()).substr(0, at.size() + 89),
              at + "stored model is inconsistent: building the stored flow model allocates more than 256 MB (");
    EXPECT_EQ(e.hint(), "the file is damaged: its sizes describe a model far larger than its weights; re-create it "
                        "with `genforge train`");
  }
}

// A full disk: writing a model into a 256 KiB tmpfs that cannot hold it fails with a clear error and leaves the
// previous model file intact and no temporary file behind. Needs root (mount); skipped otherwise.
TEST(ModelFile, AFullDiskLeavesThePreviousFileIntact) {
  test::TempDir dir;
  const std::string disk = dir.file("disk");
  std::filesystem::create_directories(disk);
  if (geteuid() != 0 || mount("tmpfs", disk.c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "mounting a small tmpfs needs root";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { umount(path.c_str()); }
  } unmount{disk};
  auto small = create_model("gmm", {}, {{"n_components", "1"}});
  small->fit({torch::randn({50, 2}, torch::kFloat64)});
  save_model(*small, disk + "/m.gf");
  const std::string before = read_file_bytes(disk + "/m.gf");
  auto big = create_model("gmm", {}, {{"n_components", "8"}});  // 8 full 60 x 60 covariances and factors: ~460 KB
  big->fit({torch::randn({400, 60}, torch::kFloat64)});
  try {
    save_model(*big, disk + "/m.gf");
    FAIL() << "a 460 KB model fitted in 256 KiB";
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()), "writing '" + disk + "/m.gf' failed: No space left on device");
    EXPECT_EQ(e.hint(), "free some disk space (or write elsewhere); the previous file is untouched");
  }
  EXPECT_EQ(read_file_bytes(disk + "/m.gf"), before);
  EXPECT_EQ(test::list_dir(disk), std::vector<std::string>{"m.gf"});
  EXPECT_NO_THROW(load_model(disk + "/m.gf"));
}

}  // namespace
}  // namespace gf
