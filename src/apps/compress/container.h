// The compressed file's container (internal to src/apps/compress/): magic "\x89GFZ", format version, header length,
// header CRC-32 (all u32 little-endian), the JSON header, then the coded streams back to back.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace gf::coding {

constexpr uint32_t kContainerVersion = 1;

std::string write_container(const nlohmann::json& header, const std::string& payload);
// The header and where the payload starts; a file that is not a genforge stream, of a newer version, truncated
// before its payload or with a damaged header is a DataError.
nlohmann::json read_container(const std::string& bytes, size_t* payload_offset);

}  // namespace gf::coding
