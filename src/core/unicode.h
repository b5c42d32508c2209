// Unicode helpers for the text metrics, with Python 3's semantics where the reference implementations are Python:
// str.split() whitespace, str.lower(), regex's \p{P} / \p{S} / \p{N} (ICU supplies the character database).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace gf::unicode {

// UTF-8 <-> code points; an invalid byte decodes to U+FFFD.
std::u32string decode(std::string_view utf8);
std::string encode(std::u32string_view text);

bool is_space(char32_t c);        // Python's str.isspace / str.split() separators
bool is_punctuation(char32_t c);  // general category P*
bool is_symbol(char32_t c);       // S*
bool is_number(char32_t c);       // N*

std::string lower(std::string_view utf8);  // Python str.lower(): full case mapping, final sigma

// Python str.split() with no argument, on code points and on UTF-8.
std::vector<std::u32string> split(std::u32string_view text);
std::vector<std::string> split(std::string_view utf8);
std::string rstrip(std::string_view utf8);

}  // namespace gf::unicode
