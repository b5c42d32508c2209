#include "genforge/io/bytes.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include "genforge/core/error.h"

namespace gf {
namespace fs = std::filesystem;

std::string read_file_bytes(const std::string& path, bool gunzip) {
  GF_CHECK_AS(DataError, fs::exists(path), "check the path", "'", path, "': no such file");
  GF_CHECK_AS(DataError, !fs::is_directory(path), "name a file", "'", path, "' is a folder, not a file");
  std::string out;
  if (!gunzip) {
    std::ifstream in(path, std::ios::binary);
    GF_CHECK_AS(DataError, in.good(), "check the file's permissions", "'", path, "': cannot open");
    in.seekg(0, std::ios::end);
    out.resize(static_cast<size_t>(in.tellg()));
    in.seekg(0);
    in.read(out.data(), static_cast<std::streamsize>(out.size()));
    GF_CHECK_AS(DataError, in.good() || out.empty(), "check the file", "'", path, "': cannot read");
    return out;
  }
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  GF_CHECK_AS(DataError, f != nullptr, "check the file's permissions", "'", path, "': cannot open");
  char buf[1 << 16];
  for (;;) {
    int got = gzread(f.get(), buf, sizeof(buf));
    if (got < 0) {
      int code = 0;
      const char* why = gzerror(f.get(), &code);
      throw DataError(msg("'", path, "': cannot decompress (", why, ")"),
                      "the file is damaged or truncated; fetch it again");
    }
    if (got == 0) break;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  GF_CHECK_AS(InternalError, EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) == 1,
              "", "SHA-256 failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::string sha256_file_hex(const std::string& path) { return sha256_hex(read_file_bytes(path)); }

uint32_t crc32_of(const void* data, size_t size) {
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* p = static_cast<const Bytef*>(data);
  while (size > 0) {  // zlib takes uInt lengths
    const uInt chunk = static_cast<uInt>(std::min<size_t>(size, 1u << 30));
    crc = crc32(crc, p, chunk);
    p += chunk;
    size -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

namespace {
const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string base64_encode(const std::string& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[i + 1])) << 8;
    if (i + 2 < in.size()) v |= static_cast<uint8_t>(in[i + 2]);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kBase64[v & 63] : '=';
  }
  return out;
}

bool base64_decode(const std::string& in, std::string& out) {
  if (in.size() % 4 != 0) return false;
  int value[256];
  std::fill(value, value + 256, -1);
  for (int i = 0; i < 64; ++i) value[static_cast<uint8_t>(kBase64[i])] = i;
  out.clear();
  out.reserve(in.size() / 4 * 3);
  for (size_t i = 0; i < in.size(); i += 4) {
    uint32_t v = 0;
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      const bool is_pad = c == '=' && i + 4 == in.size() && k >= 2 && (k == 3 || in[i + 3] == '=');
      const int d = is_pad ? 0 : value[static_cast<uint8_t>(c)];
      if (d < 0 || (pad > 0 && !is_pad)) return false;
      pad += is_pad;
      v = (v << 6) | static_cast<uint32_t>(d);
    }
    out += static_cast<char>((v >> 16) & 255);
    if (pad < 2) out += static_cast<char>((v >> 8) & 255);
    if (pad < 1) out += static_cast<char>(v & 255);
  }
  return true;
}

}  // namespace gf
