#pragma once
// What a JSONL line is, in one place: split at '\n', a trailing '\r' dropped, and a line of only
// spaces and tabs is blank (not a record). Shards (mapped) and compressed shards (streamed) use it.
#include <algorithm>
#include <string_view>

namespace pt::data {

// f(offset, length, end, blank) for every line of `text`; `end` is the offset of its '\n' (or the
// size of `text` for a last line without one). Returns the number of lines.
template <class F>
size_t for_each_line(std::string_view text, F&& f) {
  size_t pos = 0, lines = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    size_t len = end - pos;
    if (len && text[pos + len - 1] == '\r') --len;
    const bool blank =
        std::all_of(text.begin() + pos, text.begin() + pos + len, [](char c) { return c == ' ' || c == '\t'; });
    f(pos, len, end, blank);
    ++lines;
    pos = end + 1;
  }
  return lines;
}

}  // namespace pt::data
