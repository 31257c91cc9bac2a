#pragma once
// UTF-8 helpers and the byte<->unicode table of byte-level BPE (GPT-2's bytes_to_unicode).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace pt::tok {

// Length of the UTF-8 sequence starting with byte b (1 for invalid lead bytes, so scanning always advances).
inline size_t utf8_len(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b >> 5) == 0x6) return 2;
  if ((b >> 4) == 0xE) return 3;
  if ((b >> 3) == 0x1E) return 4;
  return 1;
}
// Decodes one code point at s[i] (bounds-checked); invalid input gives U+FFFD and advances one byte.
char32_t utf8_decode(std::string_view s, size_t i, size_t* len);
void utf8_append(std::string& out, char32_t cp);
bool is_whitespace(char32_t cp);  // Rust's char::is_whitespace (White_Space property)

// Byte-level BPE maps every byte to a printable code point so merges never see raw control bytes.
const std::array<std::string, 256>& byte_to_unicode();  // UTF-8 of the mapped code point
int unicode_to_byte(char32_t cp);                        // -1 when cp is not in the table

// String validated as UTF-8 with invalid subsequences replaced by U+FFFD (Rust's from_utf8_lossy).
std::string utf8_lossy(std::string_view bytes);
bool utf8_valid(std::string_view bytes);

}  // namespace pt::tok
