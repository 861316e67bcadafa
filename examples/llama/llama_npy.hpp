#pragma once
// Writes a [rows x cols] float32 matrix as a NumPy .npy file (format 1.0):
// what --logits writes, readable with numpy.load or with a few lines of
// Python (tests/reference/make_llama.py reads it without NumPy).
#include <bit>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <offload/errors.hpp>

namespace llama {

inline void write_npy(std::filesystem::path const& path, std::vector<float> const& values, std::size_t rows,
                      std::size_t cols) {
    static_assert(std::endian::native == std::endian::little, "the header says '<f4': little-endian floats");
    if (values.size() != rows * cols)
        throw offload::configuration_error("llama::write_npy: " + std::to_string(values.size()) + " values are not " +
                                           std::to_string(rows) + " x " + std::to_string(cols));
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                         std::to_string(cols) + "), }";
    // Magic (6) + version (2) + length (2) + header, padded with spaces to a multiple of 64, ending in '\n'.
    std::size_t const total = (10 + header.size() + 1 + 63) / 64 * 64;
    header.append(total - 10 - header.size() - 1, ' ');
    header += '\n';
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) throw offload::error("cannot write " + path.string());
    out.write("\x93NUMPY\x01\x00", 8);
    char const length[2] = {static_cast<char>(header.size() & 0xff), static_cast<char>(header.size() >> 8)};
    out.write(length, 2);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<char const*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(float)));
    if (!out) throw offload::error("cannot write " + path.string());
}

}  // namespace llama
