#pragma once
// Writing a result file (--stats-json, a logits dump) once the run is done.
#include <fstream>
#include <stdexcept>
#include <string>

namespace offload_examples {

// Replaces the file at path with text; throws std::runtime_error naming the path.
inline void write_text_file(std::string const& path, std::string const& text) {
    std::ofstream out(path, std::ios::out | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw std::runtime_error("writing '" + path + "' failed");
}

}  // namespace offload_examples
