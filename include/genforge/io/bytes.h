// Whole files as bytes, and their digests: SHA-256 (OpenSSL's libcrypto) to name a model file, CRC-32 (zlib) to
// check what a decoder rebuilt; base64 for bytes inside JSON.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace gf {

// The whole file; with `gunzip`, a gzip-compressed file is decompressed (zlib passes plain files through
// unchanged). A missing, unreadable or damaged file is a DataError naming it.
std::string read_file_bytes(const std::string& path, bool gunzip = false);
// SHA-256 as 64 lowercase hex digits.
std::string sha256_hex(const std::string& bytes);
std::string sha256_file_hex(const std::string& path);
uint32_t crc32_of(const void* data, size_t size);
inline uint32_t crc32_of(const std::string& bytes) { return crc32_of(bytes.data(), bytes.size()); }
// Base64 (RFC 4648, with padding). Decoding is strict: false for anything else (wrong length, bad characters,
// padding before the end), leaving `out` unspecified.
std::string base64_encode(const std::string& bytes);
bool base64_decode(const std::string& text, std::string& out);

}  // namespace gf
