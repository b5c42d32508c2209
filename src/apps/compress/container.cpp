#include "container.h"

#include <cstring>

#include "genforge/core/error.h"
#include "genforge/io/bytes.h"

namespace gf::coding {
namespace {

const char kMagic[4] = {'\x89', 'G', 'F', 'Z'};
constexpr size_t kFixed = 16;  // magic, version, header length, header CRC-32

void put_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
uint32_t get_u32(const std::string& in, size_t at) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  return v;
}

}  // namespace

std::string write_container(const nlohmann::json& header, const std::string& payload) {
  const std::string text = header.dump();
  std::string out(kMagic, 4);
  put_u32(out, kContainerVersion);
  put_u32(out, static_cast<uint32_t>(text.size()));
  put_u32(out, crc32_of(text));
  out += text;
  out += payload;
  return out;
}

nlohmann::json read_container(const std::string& bytes, size_t* payload_offset) {
  const char* hint = "give a file written by `genforge compress`";
  GF_CHECK_AS(DataError, bytes.size() >= 4 && std::memcmp(bytes.data(), kMagic, 4) == 0, hint,
              "not a genforge compressed stream (no \\x89GFZ magic)");
  GF_CHECK_AS(DataError, bytes.size() >= kFixed, "the file is truncated; compress the original again",
              "the compressed stream is truncated (", bytes.size(), " bytes, shorter than its fixed header)");
  const uint32_t version = get_u32(bytes, 4);
  GF_CHECK_AS(DataError, version >= 1 && version <= kContainerVersion, "decompress it with a newer genforge",
              "compressed stream format version ", version, " (this genforge reads version 1 to ",
              kContainerVersion, ")");
  const uint64_t length = get_u32(bytes, 8);
  GF_CHECK_AS(DataError, kFixed + length <= bytes.size(), "the file is truncated; compress the original again",
              "the compressed stream is truncated inside its header (", bytes.size(), " bytes, the header ends at ",
              kFixed + length, ")");
  const std::string text = bytes.substr(kFixed, length);
  GF_CHECK_AS(DataError, crc32_of(text) == get_u32(bytes, 12), "the file is damaged; compress the original again",
              "the compressed stream's header is damaged (CRC-32 mismatch)");
  nlohmann::json header = nlohmann::json::parse(text, nullptr, false);
  GF_CHECK_AS(DataError, header.is_object(), "the file is damaged; compress the original again",
              "the compressed stream's header is not a JSON object");
  *payload_offset = kFixed + length;
  return header;
}

}  // namespace gf::coding
